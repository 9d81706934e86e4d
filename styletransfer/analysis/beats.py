"""Beat sampling: what sounds at each beat onset, and which beats are strong.

The grid is the beat onsets ``t_k = k * beat`` (quarter notes, from 0: bar lines fall on multiples of the
bar length, as in the bundled corpus and the transfer's output). A note *sounds* at ``t`` when
``onset <= t < end`` (held notes included) and is *attacked* at ``t`` when its onset is ``t``. Notes are
``(onset_q, end_q, pitch)`` arrays as ``notes.notes_of`` makes them. Everything here is numpy: the
transfer's search calls it on partial candidates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from symusic import Score

EPS = 1e-6  # quarters; absorbs tick rounding (ticks / tpq are exact for equal ticks)

DEFAULT_TIME_SIGNATURES = ((0.0, 4, 4),)


def beat_of(score: Score | None) -> float:
    """Quarter notes per beat of the score's first time signature: the dotted quarter (1.5) in compound
    metres (x/8 with x a multiple of 3 above 3: 6/8, 9/8, 12/8), else the quarter (1.0) — the rule of the
    rule-based harmonizer (``baselines._beat_ticks``). No score or no time signature: 1.0."""
    if score is not None and len(score.time_signatures):
        ts = score.time_signatures[0]
        if ts.denominator == 8 and ts.numerator % 3 == 0 and ts.numerator > 3:
            return 1.5
    return 1.0


def time_signatures_of(score: Score | None) -> tuple[tuple[float, int, int], ...]:
    """The score's time signatures as ``(time_q, numerator, denominator)``; 4/4 from 0 when it has none."""
    if score is None or not len(score.time_signatures):
        return DEFAULT_TIME_SIGNATURES
    tpq = score.ticks_per_quarter
    return tuple((ts.time / tpq, int(ts.numerator), int(ts.denominator)) for ts in score.time_signatures)


def strong_beats(times: np.ndarray, beat: float = 1.0, time_signatures=DEFAULT_TIME_SIGNATURES) -> np.ndarray:
    """Mask over beat onsets ``times``: the downbeat of every bar, and the middle of the bar when the bar
    holds an even number of beats, four or more (beat 3 of 4/4 and 2/2 counted in quarters, the third
    dotted quarter of 12/8). Bars are counted from each time signature's start; 3/4, 2/4 and 6/8 have
    only the downbeat."""
    times = np.asarray(times, dtype=float)
    ts = sorted(time_signatures or DEFAULT_TIME_SIGNATURES)
    starts = np.array([t for t, _, _ in ts])
    seg = np.clip(np.searchsorted(starts, times + EPS, side="right") - 1, 0, len(ts) - 1)
    bar = np.array([n * 4.0 / d for _, n, d in ts])[seg]
    pos = np.mod(times - starts[seg], bar)
    pos = np.where(np.abs(pos - bar) < EPS, 0.0, pos)
    per_bar = np.rint(bar / beat)
    middle = (per_bar % 2 == 0) & (per_bar >= 4) & (np.abs(pos - bar / 2) < EPS)
    return (np.abs(pos) < EPS) | middle


@dataclass(frozen=True)
class BeatSample:
    """What sounds at each time ``times[k]``: the beat onsets, and every note onset when sampled with
    ``every_onset`` (``is_beat`` marks the beat onsets).

    ``melody[k]``: the highest melody pitch sounding (nan: none); ``melody_note[k]`` its row in the melody
    notes (-1). ``acc[k]``: the accompaniment pitches sounding, highest first, padded with nan to the
    widest beat; ``acc_note`` their rows in the accompaniment notes (-1 padding), ``acc_attacked`` whether
    each starts at the onset. ``bass[k]``: the lowest accompaniment pitch sounding (nan: none).
    """

    beat: float
    times: np.ndarray
    melody: np.ndarray
    melody_note: np.ndarray
    acc: np.ndarray
    acc_note: np.ndarray
    acc_attacked: np.ndarray
    is_beat: np.ndarray

    @property
    def bass(self) -> np.ndarray:
        out = np.full(len(self.times), np.nan)
        if self.acc.shape[1]:
            has = ~np.isnan(self.acc).all(axis=1)
            if has.any():
                out[has] = np.nanmin(self.acc[has], axis=1)
        return out

    @property
    def all_pitches(self) -> np.ndarray:
        """[B, 1 + W]: melody and accompaniment pitches sounding, highest first, nan-padded (a pitch
        sounding in both is kept once)."""
        both = _nan_sorted_desc(np.concatenate([self.melody[:, None], self.acc], axis=1))
        dup = np.zeros_like(both, dtype=bool)
        dup[:, 1:] = both[:, 1:] == both[:, :-1]
        both[dup] = np.nan
        return _nan_sorted_desc(both)


def _nan_sorted_desc(a: np.ndarray) -> np.ndarray:
    key = np.where(np.isnan(a), -np.inf, a)
    order = np.argsort(-key, axis=1, kind="stable")
    return np.take_along_axis(a, order, axis=1)


def _sounding_pairs(notes: np.ndarray, times: np.ndarray):
    """(note row, time index) for every note and every time of ``times`` (sorted) at which it sounds."""
    if not len(notes) or not len(times):
        return np.zeros(0, int), np.zeros(0, int)
    first = np.searchsorted(times, notes[:, 0] - EPS, side="left")
    stop = np.searchsorted(times, notes[:, 1] - EPS, side="left")
    counts = np.maximum(stop - first, 0)
    idx = np.repeat(np.arange(len(notes)), counts)
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    k = first[idx] + np.arange(counts.sum()) - offsets
    return idx, k


def _per_time(notes: np.ndarray, times: np.ndarray):
    """[n, W] pitch (highest first, nan pad), note row (-1 pad), attacked flags."""
    n = len(times)
    idx, k = _sounding_pairs(notes, times)
    if not len(idx):
        return np.full((n, 0), np.nan), np.full((n, 0), -1), np.zeros((n, 0), bool)
    order = np.lexsort((-notes[idx, 2], k))
    idx, k = idx[order], k[order]
    counts = np.bincount(k, minlength=n)
    width = int(counts.max())
    rank = np.arange(len(k)) - np.repeat(np.cumsum(counts) - counts, counts)
    pitch = np.full((n, width), np.nan)
    rows = np.full((n, width), -1)
    pitch[k, rank] = notes[idx, 2]
    rows[k, rank] = idx
    attacked = np.zeros((n, width), bool)
    attacked[k, rank] = np.abs(notes[idx, 0] - times[k]) < EPS
    return pitch, rows, attacked


def sample_beats(melody: np.ndarray, accompaniment: np.ndarray, beat: float = 1.0,
                 every_onset: bool = False) -> BeatSample:
    """What sounds at every beat onset from the beat of the first note to the last beat any note sounds
    in; with ``every_onset``, also at every note onset in between (``is_beat`` tells the beats): the
    slices between which every voice moves note to note."""
    mel = np.asarray(melody, dtype=float).reshape(-1, 3)
    acc = np.asarray(accompaniment, dtype=float).reshape(-1, 3)
    both = np.concatenate([mel, acc])
    if not len(both):
        empty = np.zeros(0)
        return BeatSample(beat, empty, empty, np.zeros(0, int), np.zeros((0, 0)), np.zeros((0, 0), int),
                          np.zeros((0, 0), bool), np.zeros(0, bool))
    k0 = int(np.floor(both[:, 0].min() / beat + EPS))
    n = max(int(np.ceil(both[:, 1].max() / beat - EPS)) - k0, 0)
    times = (k0 + np.arange(n)) * beat
    is_beat = np.ones(n, bool)
    if every_onset:
        onsets = both[:, 0]
        extra = onsets[np.abs(onsets / beat - np.rint(onsets / beat)) * beat > EPS]
        extra = np.unique(np.round(extra, 6))
        times = np.concatenate([times, extra])
        is_beat = np.concatenate([is_beat, np.zeros(len(extra), bool)])
        order = np.argsort(times, kind="stable")
        times, is_beat = times[order], is_beat[order]
    mp, mrows, _ = _per_time(mel, times)
    ap, arows, attacked = _per_time(acc, times)
    n = len(times)
    melody_pitch = mp[:, 0] if mp.shape[1] else np.full(n, np.nan)
    melody_note = mrows[:, 0] if mrows.shape[1] else np.full(n, -1)
    return BeatSample(beat, times, melody_pitch, melody_note, ap, arows, attacked, is_beat)


def beats_only(sample: BeatSample) -> BeatSample:
    """The beat onsets of a sample taken with ``every_onset``."""
    m = sample.is_beat
    return BeatSample(sample.beat, sample.times[m], sample.melody[m], sample.melody_note[m], sample.acc[m],
                      sample.acc_note[m], sample.acc_attacked[m], np.ones(int(m.sum()), bool))
