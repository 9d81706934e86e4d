"""One studio request, without the web page: a melody file and settings in, the files and numbers of every
candidate out (what the page shows). Everything is written inside the studio's output folder, one fresh
subfolder per request, and only from there is anything served.

The transfer is ``transfer.pipeline.run_transfer`` with the request the CLI would build for
``mst transfer MELODY --style STYLE --candidates N --seed S --set transfer.temperature=T --keep-all --wav``,
so the same settings and seed give the same MIDI as the command line.
"""
from __future__ import annotations

import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..config import resolve_data_path
from ..data.melody_file import MELODY_SUFFIXES
from ..errors import UserError
from ..io import inside
from ..eval.judge import StyleJudge
from ..eval.metrics import transfer_metrics
from ..analysis.theory import voice_leading_metrics
from ..model.adapters import file_slug, parse_style
from ..model.runs import adapters, resolve_base
from ..render.audio import render_wav
from ..transfer.pipeline import TransferRequest, run_transfer

SHOWN = 4  # candidates with a player and their numbers
MAX_UPLOAD_BYTES = 2_000_000  # a melody file is a few KB; anything this big is not one
METRIC_NAMES = {"melody_recall": "melody kept (recall)", "melody_above_rate": "notes above the melody",
                "parallels_melody_bass": "parallel 5ths/8ves, melody–bass (per 100 moves)",
                "parallels_any_voices": "parallel 5ths/8ves, any voices (per 100 moves)",
                "strong_beat_dissonance": "strong-beat dissonance (per 100 beats)",
                "no_bass_rate": "beats without a bass (per 100)", "voice_count": "beats not in four parts (per 100)",
                "voice_count_time": "time not in four parts (beats per 100)",
                "bass_repeat": "bass repeating its note (per 100 bass moves)",
                "authentic_cadence_rate": "authentic cadences (%)",
                "final_authentic": "ends on an authentic cadence"}


@dataclass
class CandidateView:
    rank: int
    midi: Path
    wav: Path
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class StudioResult:
    folder: Path
    melody: Path  # the copy of the melody the transfer read
    midi: Path  # the best candidate, as `mst transfer` writes it
    musicxml: Path
    svg: Path
    png: Path
    wav: Path
    candidates: list[CandidateView]
    label: str
    seconds: float


def bundled_melodies() -> dict[str, Path]:
    """The melodies shipped in data/melodies (a clone), by file name; empty when there are none."""
    folder = resolve_data_path("data/melodies", missing_ok=True)
    if not Path(folder).is_dir():
        return {}
    return {p.name: p for p in sorted(Path(folder).iterdir()) if p.suffix.lower() in MELODY_SUFFIXES}


def style_choices(base: str | None) -> list[str]:
    """The base's adapters by short name, then 'none' (the base model alone)."""
    return [*adapters(resolve_base(base)).keys(), "none"]


def _safe_name(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).stem)[:60].strip("._") or "melody"
    return stem


def harmonize_file(melody: Path, out_root: Path, style: str, candidates: int, seed: int, temperature: float,
                   base: str | None = None, judge: StyleJudge | None = None, style_class: str | None = None,
                   keep: Path | None = None, redo_bars: str | None = None) -> StudioResult:
    """Harmonize ``melody`` into a new folder under ``out_root``; see the module's docstring. ``keep`` (an
    earlier result, inside ``out_root``) with ``redo_bars`` ("5-8"): write only those bars again."""
    started = time.perf_counter()
    melody = Path(melody)
    if melody.suffix.lower() not in MELODY_SUFFIXES:
        raise UserError(f"{melody.name}: not a melody file (give {', '.join(MELODY_SUFFIXES)})")
    if not melody.is_file():
        raise UserError(f"{melody.name}: no such file")
    if melody.stat().st_size > MAX_UPLOAD_BYTES:
        raise UserError(f"{melody.name}: {melody.stat().st_size:,} bytes, more than a melody file "
                        f"({MAX_UPLOAD_BYTES:,} at most)")
    parse_style(style)  # a malformed blend is one line before anything is written
    if keep is not None and not inside(keep, out_root):
        raise UserError("the result to keep is not one of this studio's")
    folder = Path(out_root).resolve() / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    (folder / "input").mkdir()
    local = folder / "input" / f"{_safe_name(melody.name)}{melody.suffix.lower()}"
    shutil.copyfile(melody, local)  # the pipeline reads only inside the folder
    out = folder / f"{local.stem}.{file_slug(parse_style(style))}.mid"  # as `mst transfer` names it
    kept = None
    if keep is not None:
        kept = folder / "input" / "kept.mid"
        shutil.copyfile(keep, kept)
    request = TransferRequest(local, style, base=base, candidates=candidates, seed=seed, out=out, wav=True,
                              keep_all=True, overrides=[f"transfer.temperature={temperature}"], keep=kept,
                              redo_bars=redo_bars if keep is not None else None)
    try:
        result = run_transfer(request)
    except UserError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    files = result.files
    shown = []
    for k, (path, candidate) in enumerate(zip(files.candidates[:SHOWN], result.candidates)):
        wav = render_wav(candidate.score, path.with_suffix(".wav"))
        melody_score = candidate.score.copy()
        melody_score.tracks = melody_score.tracks[:1]
        metrics = {**transfer_metrics(candidate.score, melody_score), **voice_leading_metrics(candidate.score, melody_score)}
        shown_metrics = {label: float(metrics[key]) for key, label in METRIC_NAMES.items() if key in metrics}
        if judge is not None and style_class is not None:
            shown_metrics[f"P({style_class})"] = judge.proba(candidate.score).get(style_class, float("nan"))
        shown.append(CandidateView(k + 1, path, wav, shown_metrics))
    return StudioResult(folder, local, files.midi, files.musicxml, files.svg, files.png, files.wav, shown, result.label,
                        time.perf_counter() - started)
