"""A harmonization as the real-or-generated judge reads it: a ``Pair`` of note arrays (the melody and the
accompaniment) with its beat, time signatures and resolution; ``pair_of`` takes one from a Score and
``score_of_pair`` writes one back.

A module of its own because the features (``harmony_features``), the fakes (``fakes``) and the judge
(``real_judge``) all read and make pairs. It shares nothing with the generator (no tokenizer, no model).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
from symusic import Note, Score, TimeSignature, Track

from ..analysis.beats import beat_of, time_signatures_of
from ..analysis.notes import notes_of, split_melody
from ..data.melody_file import quiet_read_melody
from ..errors import UserError

VELOCITY = 80


class Pair(NamedTuple):
    """A harmonized melody: ``(onset_q, end_q, pitch)`` arrays of the melody and of the accompaniment,
    the beat (quarters), the time signatures ``(time_q, numerator, denominator)`` and the resolution."""

    melody: np.ndarray
    accompaniment: np.ndarray
    beat: float
    time_signatures: tuple
    tpq: int


def _tracks_with_notes(score: Score) -> list:
    return [t for t in score.tracks if not t.is_drum and len(t.notes)]


def _top_line_melody(score: Score) -> Score:
    """The melody ``quiet_read_melody`` reads from this score's MIDI file (its top line): the one way a
    melody is taken from a one-track original, in training and judging alike."""
    with tempfile.TemporaryDirectory(prefix="mst-real-judge-") as tmp:
        path = Path(tmp) / "piece.mid"
        score.dump_midi(str(path))
        return quiet_read_melody(path)


def pair_of(score: Score, melody: Score | None = None) -> Pair:
    """The (melody, accompaniment) pair of a score: split by ``melody`` when given
    (``notes.split_melody``); else track 0 is the melody and the other tracks the accompaniment when
    two or more non-drum tracks have notes (a transfer's output; a corpus piece in parts: its top part);
    else (a one-track original) the melody is its top line. UserError when it has no notes."""
    if "tick" not in str(score.ttype).lower():
        score = score.to("tick")
    tracks = _tracks_with_notes(score)
    if not tracks:
        raise UserError("no notes outside drum tracks")
    tpq = int(score.ticks_per_quarter) or 480
    if melody is None and len(tracks) >= 2:
        mel = notes_of(tracks[0], tpq)
        acc = np.concatenate([notes_of(t, tpq) for t in tracks[1:]])
        acc = notes_of(acc)
    else:
        if melody is None:
            melody = _top_line_melody(score)
        mel, acc = split_melody(score, melody)
    return Pair(mel, acc, beat_of(score), time_signatures_of(score), tpq)


def _track(name: str, notes: np.ndarray, tpq: int) -> Track:
    track = Track(name, program=0, is_drum=False)
    for on, end, pitch in notes:
        start = round(on * tpq)
        track.notes.append(Note(start, max(round(end * tpq) - start, 1), int(pitch), VELOCITY))
    return track


def _with_signatures(score: Score, pair: Pair) -> Score:
    for t, num, den in pair.time_signatures:
        score.time_signatures.append(TimeSignature(round(t * pair.tpq), int(num), int(den)))
    return score


def score_of_notes(pair: Pair, notes: np.ndarray) -> Score:
    """One track of ``notes`` with the pair's resolution and time signatures (for the style judge's
    features, which merge every track anyway)."""
    score = Score(pair.tpq)
    score.tracks.append(_track("Piano", notes, pair.tpq))
    return _with_signatures(score, pair)


def score_of_pair(pair: Pair) -> Score:
    """A pair as a transfer's output: track 0 "Melody", track 1 "Accompaniment" (``pair_of`` reads it back)."""
    score = Score(pair.tpq)
    score.tracks.append(_track("Melody", pair.melody, pair.tpq))
    score.tracks.append(_track("Accompaniment", pair.accompaniment, pair.tpq))
    return _with_signatures(score, pair)
