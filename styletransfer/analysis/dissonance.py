"""The accompaniment against the melody and the key: strong-beat dissonance and unexplained chromatic notes.

numpy only (the transfer's search may call these). The key is given (``theory`` passes
``cadences.piece_key``, music21's key analysis); when it is not, ``keys.estimate_key`` (numpy).

- **Strong-beat dissonance**: at a strong beat (``beats.strong_beats``: the downbeat, and the middle of a
  four-beat bar) where the melody sounds, an accompaniment note *attacked on the beat* forming a second,
  seventh or ninth with the melody note (interval class |a - m| mod 12 in {1, 2, 10, 11}), unless every
  pitch class sounding at the beat (melody and accompaniment) belongs to one seventh chord (dominant,
  minor, half-diminished, diminished or major seventh; three pitch classes or more) — the root and
  seventh of V7, ii7, vii°7... The tritone (6) is not counted: it is consonant enough inside a V7 or a
  vii°, and a V7 is the commonest chord to hold one. A held note (attacked before the beat) is a prepared
  suspension and is not counted either; neither is a dissonance of the melody against a held note.
- **Unexplained chromatic note**: an accompaniment note whose pitch class is outside the key's scale
  (major: the major scale; minor: natural minor plus the raised sixth and seventh, nine pitch classes),
  explained when
  1. every pitch class sounding at its onset (melody and accompaniment) belongs to one *chromatic chord
     of the key* holding the note: a secondary dominant V, V7, vii° or vii°7 of a diatonic major or
     minor triad (not the tonic's own, which is diatonic), a chord borrowed from the parallel mode
     (major: iv, ii°, ii°7, bIII, bVI, bVII, vii°7, i; minor: I, IV), the Neapolitan bII, or an
     augmented sixth (It+6, Fr+6, Ger+6); or
  2. it is a chromatic passing or neighbour note: some note ends where it starts a step (1 or 2
     semitones) away, and some note starts where it ends a semitone away.
  Resolution of a secondary dominant to its target is not checked.
"""
from __future__ import annotations

import math

import numpy as np

from .beats import EPS, BeatSample, sample_beats, strong_beats
from ..keys import estimate_key

DISSONANT = (1, 2, 10, 11)
SEVENTHS = ((0, 4, 7, 10), (0, 3, 7, 10), (0, 3, 6, 10), (0, 3, 6, 9), (0, 4, 7, 11))
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 9, 10, 11)  # natural minor + raised 6th and 7th


def _mask(pcs) -> int:
    m = 0
    for p in pcs:
        m |= 1 << (int(p) % 12)
    return m


_SEVENTH_MASKS = np.array([_mask((r + i) % 12 for i in iv) for r in range(12) for iv in SEVENTHS])


def _pc_masks(pitches: np.ndarray) -> np.ndarray:
    """[B]: bit mask of the pitch classes of each row of a nan-padded pitch matrix."""
    ok = ~np.isnan(pitches)
    bits = np.where(ok, np.left_shift(1, np.where(ok, pitches, 0).astype(np.int64) % 12), 0)
    return np.bitwise_or.reduce(bits, axis=1) if pitches.shape[1] else np.zeros(len(pitches), np.int64)


def _popcount(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.int64)
    return sum(((m >> i) & 1) for i in range(12))


def strong_dissonance(sample: BeatSample, time_signatures=((0.0, 4, 4),)) -> tuple[np.ndarray, np.ndarray]:
    """(counted, fault) masks over the beats of ``sample`` (a beat sample, not every onset). Counted: a
    strong beat where the melody and the accompaniment sound. Fault: see the module's docstring."""
    strong = strong_beats(sample.times, sample.beat, time_signatures)
    has_acc = (~np.isnan(sample.acc)).any(axis=1) if sample.acc.shape[1] else np.zeros(len(strong), bool)
    counted = strong & ~np.isnan(sample.melody) & has_acc
    if not sample.acc.shape[1]:
        return counted, np.zeros(len(counted), bool)
    with np.errstate(invalid="ignore"):
        ic = np.abs(sample.acc - sample.melody[:, None]) % 12
    clash = (np.isin(ic, DISSONANT) & sample.acc_attacked).any(axis=1)
    pcs = _pc_masks(np.concatenate([sample.melody[:, None], sample.acc], axis=1))
    seventh = ((pcs[:, None] & ~_SEVENTH_MASKS[None, :]) == 0).any(axis=1) & (_popcount(pcs) >= 3)
    return counted, counted & clash & ~seventh


# ------------------------------------------------------------------------------------- chromatic


def scale_mask(tonic: int, mode: str) -> int:
    return _mask((tonic + i) % 12 for i in (MAJOR_SCALE if mode == "major" else MINOR_SCALE))


def chromatic_chords(tonic: int, mode: str) -> list[int]:
    """Pitch-class masks of the chromatic chords of the key that explain a chromatic note (see the
    module's docstring)."""
    t = tonic
    if mode == "major":
        targets = [(2, "m"), (4, "m"), (5, "M"), (7, "M"), (9, "m")]
        borrowed = [(5, 8, 0), (2, 5, 8), (2, 5, 8, 0), (3, 7, 10), (8, 0, 3), (10, 2, 5), (11, 2, 5, 8), (0, 3, 7)]
    else:
        targets = [(3, "M"), (5, "m"), (7, "M"), (8, "M"), (10, "M")]
        borrowed = [(0, 4, 7), (5, 9, 0)]
    chords = []
    for degree, _ in targets:
        x = (t + degree) % 12
        chords.append(_mask(((x + 7) % 12, (x + 11) % 12, (x + 2) % 12, (x + 5) % 12)))  # V7/x
        chords.append(_mask(((x + 11) % 12, (x + 2) % 12, (x + 5) % 12, (x + 8) % 12)))  # vii°7/x
    chords += [_mask((t + i) % 12 for i in b) for b in borrowed]
    chords.append(_mask(((t + 1) % 12, (t + 5) % 12, (t + 8) % 12)))  # Neapolitan bII
    chords.append(_mask(((t + 8) % 12, t, (t + 6) % 12)))  # It+6
    chords.append(_mask(((t + 8) % 12, t, (t + 2) % 12, (t + 6) % 12)))  # Fr+6
    chords.append(_mask(((t + 8) % 12, t, (t + 3) % 12, (t + 6) % 12)))  # Ger+6
    return chords


def chromatic_notes(melody_notes, accompaniment_notes, key: tuple[int, str] | None = None) -> dict:
    """Per accompaniment note: ``chromatic`` (outside the scale) and ``unexplained`` masks, and the key
    (``(tonic, mode)``; estimated from all the notes, duration-weighted, when not given)."""
    mel = np.asarray(melody_notes, dtype=float).reshape(-1, 3)
    acc = np.asarray(accompaniment_notes, dtype=float).reshape(-1, 3)
    both = np.concatenate([mel, acc])
    if key is None:
        key = estimate_key(both[:, 2].astype(int), both[:, 1] - both[:, 0]) if len(both) else (0, "major")
    if not len(acc):
        e = np.zeros(0, bool)
        return {"chromatic": e, "unexplained": e, "key": key}
    pc = acc[:, 2].astype(np.int64) % 12
    chromatic = ((scale_mask(*key) >> pc) & 1) == 0
    unexplained = chromatic.copy()
    idx = np.flatnonzero(chromatic)
    if len(idx):
        # 1. a chromatic chord: all pitch classes sounding at the note's onset
        onsets = acc[idx, 0]
        sounding = (both[None, :, 0] <= onsets[:, None] + EPS) & (both[None, :, 1] > onsets[:, None] + EPS)
        bits = np.where(sounding, np.left_shift(1, both[None, :, 2].astype(np.int64) % 12), 0)
        pcs = np.bitwise_or.reduce(bits, axis=1)
        chords = np.array(chromatic_chords(*key))
        own = np.left_shift(1, pc[idx])
        in_chord = (((pcs[:, None] & ~chords[None, :]) == 0) & ((chords[None, :] & own[:, None]) != 0)).any(axis=1)
        # 2. a chromatic passing or neighbour note
        d_in = np.abs(both[None, :, 2] - acc[idx, 2][:, None])
        approached = ((np.abs(both[None, :, 1] - onsets[:, None]) < EPS) & (d_in >= 1) & (d_in <= 2)).any(axis=1)
        left = ((np.abs(both[None, :, 0] - acc[idx, 1][:, None]) < EPS) & (d_in == 1)).any(axis=1)
        unexplained[idx] = ~(in_chord | (approached & left))
    return {"chromatic": chromatic, "unexplained": unexplained, "key": key}


def _rate(count, total) -> float:
    return 100.0 * count / total if total else math.nan


def dissonance_rates(melody_notes, accompaniment_notes, beat: float = 1.0, time_signatures=((0.0, 4, 4),),
                     key: tuple[int, str] | None = None) -> dict:
    """``strong_beat_dissonance``: faults per 100 counted strong beats; ``unexplained_chromatic``: per 100
    accompaniment notes; ``chromatic_notes`` (outside the scale, explained or not) per 100 accompaniment
    notes; and the counts."""
    sample = sample_beats(melody_notes, accompaniment_notes, beat)
    counted, fault = strong_dissonance(sample, time_signatures)
    chrom = chromatic_notes(melody_notes, accompaniment_notes, key)
    n_acc = len(chrom["chromatic"])
    return {
        "strong_beat_dissonance": _rate(fault.sum(), counted.sum()),
        "unexplained_chromatic": _rate(chrom["unexplained"].sum(), n_acc),
        "chromatic_rate": _rate(chrom["chromatic"].sum(), n_acc),
        "strong_beats": int(counted.sum()),
        "strong_beat_dissonance_count": int(fault.sum()),
        "unexplained_chromatic_count": int(chrom["unexplained"].sum()),
        "accompaniment_notes": n_acc,
    }
