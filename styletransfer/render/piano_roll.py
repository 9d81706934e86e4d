"""A piano-roll PNG (matplotlib, Agg) with the melody highlighted."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..io import atomic_write_bytes
from ..tokens.bars import score_bar_ticks

MELODY_COLOR, ACCOMPANIMENT_COLOR = "#d62728", "#1f77b4"


def _bar_ticks(score) -> list[int]:
    try:
        return score_bar_ticks(score)
    except Exception:  # noqa: BLE001 - bar lines are decoration
        return []


def piano_roll(score, path: str | os.PathLike, melody_track: int | None = 0, title: str | None = None,
               dpi: int = 120) -> Path:
    """Write a piano roll of ``score`` to ``path`` (PNG): time in quarter notes, bar lines, the melody track
    (``melody_track``, None for none) in red over the other tracks in blue."""
    tpq = score.ticks_per_quarter
    end = max((n.time + n.duration for t in score.tracks for n in t.notes), default=tpq * 4) / tpq
    pitches = [n.pitch for t in score.tracks for n in t.notes] or [60]
    fig = Figure(figsize=(min(40.0, max(8.0, end / 4)), 5.0), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for tick in _bar_ticks(score):
        if tick / tpq <= end:
            ax.axvline(tick / tpq, color="#dddddd", linewidth=0.8, zorder=0)
    for i, track in enumerate(score.tracks):
        if not len(track.notes):
            continue
        soa = track.notes.numpy()
        melody = i == melody_track
        ax.barh(soa["pitch"], soa["duration"] / tpq, left=soa["time"] / tpq, height=0.8, align="center",
                color=MELODY_COLOR if melody else ACCOMPANIMENT_COLOR, alpha=1.0 if melody else 0.6,
                edgecolor="black" if melody else "none", linewidth=0.3, zorder=3 if melody else 2)
    ax.set_xlim(0, end)
    ax.set_ylim(min(pitches) - 2, max(pitches) + 2)
    ax.set_xlabel("quarter notes")
    ax.set_ylabel("MIDI pitch")
    handles = [Patch(color=MELODY_COLOR, label="melody")] if melody_track is not None else []
    if any(len(t.notes) for i, t in enumerate(score.tracks) if i != melody_track):
        handles.append(Patch(color=ACCOMPANIMENT_COLOR, alpha=0.6, label="accompaniment"))
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "roll.png"
        fig.savefig(png, format="png")
        atomic_write_bytes(path, png.read_bytes())
    return path
