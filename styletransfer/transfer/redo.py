"""Write some bars again and keep the rest: `mst transfer tune.mid --keep out.mid --redo-bars 5-8`.

The kept file is an earlier result for the same melody. Its texture up to the span is replayed through the
melody constraint (so the constraint's state at the first seam is the one the kept bars left) and given to
the model as the texture it has written so far: the model continues its own earlier accompaniment into the
span. Sampling stops at the span's end, where the constraint requires every melody note of the span to be
written, as at the end of any window. The result is the kept file outside the span, note for note, and the
new candidate inside it (notes are taken by onset: a note started before the span keeps sounding as it did).

Bars are numbered as the score shows them (``render/score.py``): a pickup is bar 0, the first full bar 1.
"""
from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path

from symusic import Score, Track

from ..errors import UserError
from ..tokens.bars import score_bar_ticks
from ..tokens.parts import Texture
from ..tokens.tokenizer import load_score, normalize_score, token_sequence
from .plan import MelodyPlan
from .ranking import cut_same_pitch_overlaps
from .rules import MelodyRules
from .state import ConstraintState

SPAN = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*$")


@dataclass(frozen=True)
class Redo:
    """A kept result (in the key the melody is harmonized in) and the bars to write again, as printed."""

    kept: Score
    first: int
    last: int


def parse_span(text: str) -> tuple[int, int]:
    """'5-8' -> (5, 8), '5' -> (5, 5): bar numbers as printed, inclusive."""
    match = SPAN.match(text or "")
    if not match:
        raise UserError(f"--redo-bars {text!r}: give bars as FIRST-LAST, e.g. 5-8")
    first, last = int(match.group(1)), int(match.group(2) or match.group(1))
    if last < first:
        raise UserError(f"--redo-bars {text}: the last bar comes before the first")
    return first, last


def read_kept(path: Path, melody: Score) -> Score:
    """The kept result, at the melody's resolution; its melody track must be the melody's notes."""
    kept = load_score(path)
    if kept.ticks_per_quarter != melody.ticks_per_quarter:
        kept = kept.resample(melody.ticks_per_quarter)
    if len(kept.tracks) < 2:
        raise UserError(f"{path}: not an mst result (it needs the melody's track and the accompaniment's)")
    want = sorted((n.time, n.pitch) for t in melody.tracks for n in t.notes)
    got = sorted((n.time, n.pitch) for n in kept.tracks[0].notes)
    if got != want:
        raise UserError(f"{path}: its melody is not this melody's ({len(got)} notes against {len(want)}): "
                        "keep a result of the same melody")
    return kept


def plan_bars(melody: Score, first: int, last: int, n_bars: int) -> tuple[int, int]:
    """Printed bar numbers -> plan bars [a, b): bar 0 is a pickup when the melody starts inside its bar."""
    ticks = score_bar_ticks(melody)
    onset = min(n.time for t in melody.tracks for n in t.notes)
    bar_of_first = max(0, bisect_left(ticks, onset + 1) - 1)
    pickup = onset > ticks[bar_of_first]
    lowest = 0 if pickup else 1
    a = bar_of_first + first - lowest
    b = bar_of_first + last - lowest + 1
    if first < lowest or b > n_bars:
        top = n_bars - bar_of_first - 1 + lowest
        raise UserError(f"--redo-bars {first}-{last}: this melody has bars {lowest}-{top}")
    return a, b


def replay(plan: MelodyPlan, ids: list[int], hard_rules: frozenset[str], texture: Texture | None = None) -> ConstraintState:
    """The constraint's state after the kept texture ``ids``; a UserError when they break the constraint
    (the kept file was edited into something the melody does not allow, or another melody's)."""
    state = MelodyRules(plan, None, hard_rules, texture).step(plan.initial_state(), ids)
    if state is None:
        raise UserError("the kept file's accompaniment breaks the melody constraint before the bars to redo "
                        "(something sounds above the melody, or a hard rule is broken): redo from an mst result")
    return state


def kept_texture(kept: Score, tokenizer) -> list[int]:
    """The kept result as one texture (melody and accompaniment merged), in base ids."""
    return list(token_sequence(tokenizer, normalize_score(kept, tokenizer), encode_ids=False).ids)


def merge(kept: Score, new: Score, start: int, end: int) -> Score:
    """``kept`` with its notes starting in [start, end) ticks replaced by ``new``'s, part by part (the melody,
    track 0, is the kept one). A new note struck while a kept note of its pitch still sounds in its part is
    left out, so that the kept note keeps its length (a new note running into a later kept one of its pitch
    ends where that one starts)."""
    out = kept.copy()
    tracks = [kept.tracks[0]]
    for k in range(1, max(len(kept.tracks), len(new.tracks))):
        model = kept.tracks[k] if k < len(kept.tracks) else new.tracks[k]
        part = Track(model.name, program=model.program, is_drum=False)
        held = [n for n in (kept.tracks[k].notes if k < len(kept.tracks) else ()) if not start <= n.time < end]
        part.notes.extend(held)
        for note in new.tracks[k].notes if k < len(new.tracks) else ():
            if start <= note.time < end and not any(h.pitch == note.pitch and h.time < note.time < h.time + h.duration
                                                    for h in held):
                part.notes.append(note)
        part.notes.sort(key=lambda n: (n.time, -n.pitch))
        cut_same_pitch_overlaps(part)
        tracks.append(part)
    out.tracks = tracks
    return out
