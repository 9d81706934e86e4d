"""Evaluation metrics for a harmonized melody: is the melody kept, and how good is the harmony under it.

Everything works on numpy arrays of notes, one row per note: ``(onset, end, pitch)``, times in quarter
notes (float), as ``analysis.notes.notes_of`` makes them from a symusic ``Score`` or ``Track``; every
metric also takes a ``Score`` directly.

- Melody kept (ours): ``melody_kept`` — recall of the input melody in the output, precision of the
  output's top line, and how often something sounds above the melody.
- Harmony (Yeh et al. 2021): ``analysis.harmony.harmony_metrics`` — CHE, CC, CTD, CTnCTR, PCS, MCTD, with
  the chords read from the accompaniment, one per beat (the search's ranking uses its PCS at run time).
- Texture and pitch (MusPy, Dong et al. 2020, "MusPy: a toolkit for symbolic music generation", ISMIR):
  ``polyphony``, ``in_scale_rate`` (MusPy's ``scale_consistency``); and ``pitch_class_histogram`` with a
  transposition-invariant ``pitch_class_histogram_distance``.

A ratio with nothing to count (no melody notes, no chord beats...) is ``nan``, not 0.
"""
from __future__ import annotations

import math

import numpy as np
from symusic import Score

from ..analysis.harmony import harmony_metrics
from ..analysis.notes import EPS, as_notes, chunks, match_melody


# -------------------------------------------------------------------------------------- melody kept


def _sounds_above(notes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """For each of ``notes``: does some note of ``others`` sound strictly higher, overlapping it in time
    for a positive length?"""
    above = np.zeros(len(notes), dtype=bool)
    if not len(notes) or not len(others):
        return above
    for s in chunks(len(notes)):
        n = notes[s]
        overlap = np.minimum(n[:, None, 1], others[None, :, 1]) - np.maximum(n[:, None, 0], others[None, :, 0])
        above[s] = ((overlap > EPS) & (others[None, :, 2] > n[:, None, 2])).any(axis=1)
    return above


def _top_line(notes: np.ndarray, is_melody: np.ndarray) -> np.ndarray:
    """Melody flags of the output's top line (skyline).

    The top line has at most one note per distinct onset: the highest note starting there, unless a note
    that started earlier and still sounds is strictly higher (then nothing at that onset is on top — e.g.
    accompaniment moving under a held melody note). The (onset, pitch) is melody if a melody note has it.
    """
    if not len(notes):
        return np.zeros(0, dtype=bool)
    order = np.lexsort((~is_melody, -notes[:, 2], notes[:, 0]))  # per onset: highest first, melody first
    notes, is_melody = notes[order], is_melody[order]
    _, first = np.unique(notes[:, 0], return_index=True)
    cand, flag = notes[first], is_melody[first]
    covered = np.zeros(len(cand), dtype=bool)
    for s in chunks(len(cand)):
        c = cand[s]
        covered[s] = ((notes[None, :, 0] < c[:, None, 0] - EPS) & (notes[None, :, 1] > c[:, None, 0] + EPS)
                      & (notes[None, :, 2] > c[:, None, 2])).any(axis=1)
    return flag[~covered]


def melody_kept(output: Score, melody: Score, tolerance: float = 1 / 16) -> dict:
    """Is the input melody kept in the output, and on top? (Our metric; matching as in ``split_melody``.)

    - ``recall``: share of the input melody's distinct (onset, pitch) pairs found in the output.
    - ``precision``: share of the output's top line (``_top_line``: highest note at each distinct onset,
      unless an earlier, still-sounding note is higher) that are input melody notes.
    - ``above_rate``: share of the output's melody notes during which some non-melody note sounds strictly
      higher (overlapping it in time for a positive length).
    - ``all_kept``: recall == 1 and above_rate == 0.
    - ``melody_notes`` / ``melody_found``: the counts behind ``recall``.
    """
    out = as_notes(output)
    return _kept(out, *match_melody(out, as_notes(melody), tolerance))


def _kept(out: np.ndarray, mask: np.ndarray, found: int, total: int) -> dict:
    top = _top_line(out, mask)
    above = _sounds_above(out[mask], out[~mask])
    recall = found / total if total else math.nan
    above_rate = float(above.mean()) if len(above) else math.nan
    return {
        "recall": recall,
        "precision": float(top.mean()) if len(top) else math.nan,
        "above_rate": above_rate,
        "all_kept": bool(recall == 1 and above_rate == 0),
        "melody_notes": total,
        "melody_found": found,
    }


# ------------------------------------------------------------------------------- pitch and texture


def pitch_class_histogram(notes) -> np.ndarray:
    """12 bins, each pitch class's total sounding time (quarters), normalized to sum to 1 (all zeros when
    there are no notes)."""
    n = as_notes(notes)
    hist = np.bincount(n[:, 2].astype(int) % 12, weights=n[:, 1] - n[:, 0], minlength=12).astype(float)
    return hist / hist.sum() if hist.sum() > 0 else hist


def pitch_class_histogram_distance(a_notes, b_notes) -> float:
    """L1 distance (in [0, 2]) between the duration-weighted pitch-class histograms of ``a`` and ``b``,
    transposition-invariant: the minimum over the 12 rotations (transpositions) of ``b``'s histogram, so a
    piece in another key than its reference is not penalized for the key. ``nan`` if either has no notes."""
    ha, hb = pitch_class_histogram(a_notes), pitch_class_histogram(b_notes)
    if ha.sum() == 0 or hb.sum() == 0:
        return math.nan
    return float(histogram_distances(ha, hb[None])[0])


def histogram_distances(histogram: np.ndarray, references: np.ndarray) -> np.ndarray:
    """[n]: the transposition-invariant L1 distance (``pitch_class_histogram_distance``) of one 12-bin
    histogram to each of ``references`` ([n, 12]): the minimum over the 12 rotations of each reference."""
    rotations = np.stack([np.roll(references, k, axis=1) for k in range(12)], axis=1)  # [n, 12, 12]
    return np.abs(rotations - histogram).sum(axis=2).min(axis=1)


def polyphony(notes, step: float = 0.25) -> float:
    """MusPy's polyphony: the mean number of distinct pitches sounding at a time step, over the steps where
    at least one sounds. Steps are the grid points k * step (16th notes by default); a note sounds at t when
    onset <= t < end."""
    n = as_notes(notes)
    if not len(n):
        return math.nan
    first = np.ceil(n[:, 0] / step - EPS).astype(int)
    stop = np.ceil(n[:, 1] / step - EPS).astype(int)
    keep = stop > first
    if not keep.any():
        return math.nan
    first, stop, pitch = first[keep], stop[keep], n[keep, 2].astype(int)
    diff = np.zeros((stop.max() + 1, 128), dtype=np.int32)
    np.add.at(diff, (first, pitch), 1)
    np.add.at(diff, (stop, pitch), -1)
    sounding = (np.cumsum(diff, axis=0) > 0).sum(axis=1)
    active = sounding > 0
    return float(sounding[active].mean())


_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])  # natural minor
_SCALES = np.stack([np.isin(np.arange(12), (root + s) % 12) for s in (_MAJOR, _MINOR) for root in range(12)])


def in_scale_rate(notes) -> float:
    """MusPy's scale_consistency: the largest share of notes (counted per note, not by duration) whose pitch
    class is in the scale, over the 24 major and natural-minor scales."""
    n = as_notes(notes)
    if not len(n):
        return math.nan
    counts = np.bincount(n[:, 2].astype(int) % 12, minlength=12)
    return float((_SCALES @ counts).max() / len(n))


# ---------------------------------------------------------------------------------------------- all


def transfer_metrics(output: Score, melody: Score, reference_notes: np.ndarray | None = None,
                     tolerance: float = 1 / 16, beat: float = 1.0) -> dict:
    """All metrics of one output in a flat dict.

    ``melody_*``: ``melody_kept`` (``melody_recall``, ``_precision``, ``_above_rate``, ``_all_kept``,
    ``melody_notes``, ``melody_found``); the harmony
    metrics of ``split_melody``'s (melody, accompaniment); ``polyphony`` and ``in_scale_rate`` of the whole
    output; ``accompaniment_notes``; and ``pitch_class_distance``: ``pitch_class_histogram_distance`` of the
    whole output to ``reference_notes`` (e.g. the original piece), ``nan`` when no reference is given.
    """
    out = as_notes(output)
    mel_in = as_notes(melody)
    mask, found, total = match_melody(out, mel_in, tolerance)
    kept = _kept(out, mask, found, total)
    result = {k if k.startswith("melody_") else f"melody_{k}": v for k, v in kept.items()}
    result.update(harmony_metrics(out[mask], out[~mask], beat))
    result["accompaniment_notes"] = int((~mask).sum())
    result["polyphony"] = polyphony(out)
    result["in_scale_rate"] = in_scale_rate(out)
    result["pitch_class_distance"] = (math.nan if reference_notes is None
                                      else pitch_class_histogram_distance(out, reference_notes))
    return result
