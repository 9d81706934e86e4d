"""Notes as arrays, the shape every analysis works on: one row per note, ``(onset, end, pitch)``, times in
quarter notes (float). ``notes_of`` makes them from a symusic ``Score`` or ``Track``; ``split_melody``
tells a harmonized output's melody notes from its accompaniment.
"""
from __future__ import annotations

import numpy as np
from symusic import Score

EPS = 1e-9  # times are ticks / ticks_per_quarter: equal ticks give equal floats, this only absorbs rounding
CHUNK = 1024  # rows per block in the pairwise (note x note) comparisons, to bound memory on long pieces

def notes_of(score_or_track, tpq: int | None = None) -> np.ndarray:
    """Notes as a ``(n, 3)`` float array ``(onset_q, end_q, pitch)``, times in quarter notes.

    A ``Score``: all its non-drum tracks merged, a unison between two parts kept in both (``tpq``
    defaults to its ``ticks_per_quarter``). A ``Track``: its notes, ``tpq`` required (a track does not
    know its resolution). An array-like of ``(onset, end, pitch)`` rows is taken as is. Rows are sorted by onset, then highest pitch first.
    """
    if isinstance(score_or_track, Score):
        tpq = tpq or score_or_track.ticks_per_quarter
        parts = [_track_array(t, tpq) for t in score_or_track.tracks if not t.is_drum]
        notes = np.concatenate(parts) if parts else np.zeros((0, 3))
    elif hasattr(score_or_track, "notes") and hasattr(score_or_track, "is_drum"):
        if tpq is None:
            raise ValueError("notes_of(track) needs tpq: a track does not know its ticks per quarter")
        notes = _track_array(score_or_track, tpq)
    else:
        notes = np.asarray(score_or_track, dtype=float).reshape(-1, 3)
    return _sorted(notes)


def _track_array(track, tpq: int) -> np.ndarray:
    a = track.notes.numpy()
    on = a["time"].astype(float) / tpq
    end = (a["time"].astype(float) + a["duration"].astype(float)) / tpq
    return np.stack([on, end, a["pitch"].astype(np.int64).astype(float)], axis=1) if len(on) else np.zeros((0, 3))


def _sorted(notes: np.ndarray) -> np.ndarray:
    notes = np.asarray(notes, dtype=float).reshape(-1, 3)
    return notes[np.lexsort((-notes[:, 2], notes[:, 0]))]


def as_notes(x) -> np.ndarray:
    return notes_of(x) if isinstance(x, Score) else _sorted(x)


def chunks(n: int):
    for start in range(0, n, CHUNK):
        yield slice(start, min(n, start + CHUNK))


def match_melody(out: np.ndarray, mel: np.ndarray, tolerance: float) -> tuple[np.ndarray, int, int]:
    """(mask over ``out`` of the notes matched to the melody, melody pairs found, melody pairs).

    The input melody is taken as its distinct (onset, pitch) pairs. Matching is one to one: each pair
    claims the output note of the same pitch with the nearest onset within ``tolerance`` quarters that no
    earlier pair claimed, so an accompaniment note doubling the melody at the unison stays accompaniment.
    """
    pairs = np.unique(mel[:, [0, 2]], axis=0) if len(mel) else np.zeros((0, 2))
    taken = np.zeros(len(out), dtype=bool)
    found = 0
    for pitch in np.unique(pairs[:, 1]):
        idx = np.flatnonzero(out[:, 2] == pitch)
        if not len(idx):
            continue
        onsets = out[idx, 0]
        for t in pairs[pairs[:, 1] == pitch, 0]:  # np.unique sorts: onsets ascending
            d = np.abs(onsets - t)
            d[taken[idx]] = np.inf
            j = int(np.argmin(d))
            if d[j] <= tolerance + EPS:
                taken[idx[j]] = True
                found += 1
    return taken, found, len(pairs)


def split_melody(output: Score, melody: Score, tolerance: float = 1 / 16) -> tuple[np.ndarray, np.ndarray]:
    """(melody notes, accompaniment notes) of ``output``, as note arrays.

    An output note is melody when it matches a note of the input ``melody``: same pitch, onsets at most
    ``tolerance`` quarters apart, one output note per input (onset, pitch) pair (see ``match_melody``);
    every other note is accompaniment. Tracks are ignored, so this works the same on an output with one
    merged track (e.g. Bach's own chorale) as on a Melody + Accompaniment output.
    """
    out = as_notes(output)
    mask, _, _ = match_melody(out, as_notes(melody), tolerance)
    return out[mask], out[~mask]


def written_in_parts(output: Score) -> bool:
    """Whether a harmonization's tracks are its parts (a chorale's four, an mst output in parts), not a melody
    over one accompaniment track (named so by mst) or one merged track."""
    return _are_parts(_pitched(output))


def _pitched(output: Score) -> list:
    return [t for t in output.tracks if not t.is_drum and len(t.notes)]


def _are_parts(tracks: list) -> bool:
    return len(tracks) >= 2 and not any(t.name == "Accompaniment" for t in tracks)


def split_melody_in_parts(output: Score, melody: Score, tolerance: float = 1 / 16):
    """``split_melody``, and each accompaniment note's part (the index of its track among the pitched
    tracks) when the output is written in parts (``written_in_parts``), else None."""
    tracks = _pitched(output)
    if not _are_parts(tracks):
        return (*split_melody(output, melody, tolerance), None)
    tpq = output.ticks_per_quarter
    rows = [np.column_stack([notes_of(t, tpq), np.full(len(t.notes), k)]) for k, t in enumerate(tracks)]
    out = np.concatenate(rows)
    out = out[np.lexsort((-out[:, 2], out[:, 0]))]
    mask, _, _ = match_melody(out[:, :3], as_notes(melody), tolerance)
    acc = out[~mask]
    return out[mask, :3], acc[:, :3], np.maximum(acc[:, 3], 1).astype(int)
