"""The real-or-generated judge: P(real) that a harmonization is Bach's own, in the spirit of "Bach or Mock".

The style judge (``eval/judge.py``) asks *whose* music a piece sounds like. This one asks a harder
question of a harmonized melody: is the accompaniment under this soprano the composer's own, or a fake?
It is a binary classifier trained on the composer's training chorales only (the catalog's training
split; validated on the validation split; the test split, the benchmark's melodies, is never read), each
chorale against fakes made from it, so that the melodies of the real and the fake pieces are the same:

- ``rule_based``: the rule-based triad harmonization of its soprano (``baselines.harmonize``);
- ``transposed``: the accompaniment (everything but the soprano, ``notes.split_melody``) of a passage
  (a random run of bars, 30% to all of the piece, as in the kinds below that say "a passage")
  transposed by ±1..±5 semitones under the untouched melody;
- ``shifted``: the accompaniment a beat early or late (cut to the melody's span);
- ``bass_walk``: the bass line of a passage (the lowest accompaniment note at each of its onsets)
  replaced by a random walk on the key's scale, in the bass's own range and rhythm;
- ``inner_moves``: 10% to 35% of the inner-voice notes (accompaniment notes above the bass) moved by ±1
  or ±2 semitones;
- ``bar_swap``: the accompaniment's bars shuffled under the melody's bars (each bar's own voice leading
  kept, its harmony no longer under its melody);
- ``octaves``: 15% to 40% of a passage's accompaniment notes an octave up or down (under the melody):
  wide leaps, a lost register;
- ``block_chords``: the figuration removed (what sounds at each beat held for the beat: no passing or
  neighbour notes);
- ``density``: an uneven texture: 10% to 30% of a passage's accompaniment notes dropped and as many
  octave doublings added.

A fake identical to its real piece (a chorale without figuration has no ``block_chords`` fake) is left
out. The judge has to tell harmony and voice leading, not one artefact. Real and fake rows are balanced by
sample weights (each real counts as many times as the fakes made from it).

It shares nothing with the generator (no tokenizer, no model): a piece is a pair (melody, accompaniment)
of note arrays, and its features (``FEATURE_NAMES``) are the style judge's ``features`` of the whole
texture (82, prefix ``style_``), the teacher's numbers (``theory.theory_rates``, prefix ``vl_``), Yeh et
al.'s harmony metrics (``harmony.harmony_metrics``, prefix ``yeh_``) and this module's harmony and voice
leading histograms (prefix ``hv_``: melody–accompaniment and melody–bass interval classes on the beats,
chord qualities and inversions of the full texture per beat, root motion, bass motion and bass degrees,
outer-voice motion types, inner-voice smoothness, key agreement of melody and accompaniment, rhythmic
alignment). Every feature but the style judge's mean pitch is invariant to transposition.

The model is scikit-learn's (gradient boosting or a random forest, the better by validation AUC). It is
saved without a pickle: the training features, labels and weights as ``features.npz`` (read with
``allow_pickle=False``) and the model's name and parameters in ``real_judge.json``; ``load`` refits the
same model on the same rows (deterministic, a few seconds). A saved folder is data, never code.

    judge = RealJudge.train("data/music21")      # about two minutes on two cores
    judge.report                                 # validation accuracy, AUC, per fake kind, P(real)
    judge.p_real(output)                         # a two-track output (melody, accompaniment)
    judge.p_real(bach_score)                     # a one-track original: its top line is the melody
    judge.p_real(output, melody=melody)          # split by the input melody, as every metric does
    judge.save("runs/real-judge"); RealJudge.load("runs/real-judge")
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import shutil
import tempfile
import time
import warnings
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn import __version__ as sklearn_version
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import log_loss, roc_auc_score
from symusic import Note, Score, TimeSignature, Track

from ..analysis.beats import beat_of, sample_beats, time_signatures_of
from ..analysis.harmony import harmony_metrics
from ..analysis.notes import notes_of, split_melody
from ..analysis.theory import theory_rates
from ..data.catalog import find_composer, load_catalog, select
from ..data.melody_file import quiet_read_melody
from ..errors import UserError
from ..io import atomic_write_bytes, atomic_write_text, replace_dir
from ..tokens.tokenizer import load_score
from .baselines import harmonize as rule_based_harmonize
from .judge import FEATURE_NAMES as STYLE_FEATURE_NAMES
from .judge import features as style_features
from .judge import one_openmp_thread, warn_if_refit_moved
from ..keys import estimate_key

COMPOSER = "Johann Sebastian Bach"
FEATURES_FILE = "features.npz"
META_FILE = "real_judge.json"
FORMAT_VERSION = 1
REAL = "real"
FAKE_KINDS = ("rule_based", "transposed", "shifted", "bass_walk", "inner_moves", "bar_swap", "octaves",
              "block_chords", "density")
KINDS = (REAL, *FAKE_KINDS)
MISSING = -1.0  # a rate with nothing to count (nan), for both models alike
EPS = 1e-6
VELOCITY = 80
HINT = "(train one with RealJudge.train or load_or_train_real_judge)"

# ------------------------------------------------------------------------------------- feature names

THEORY_KEYS = (
    "parallels_melody_bass", "parallel_melody_bass", "contrary_melody_bass", "hidden_outer",
    "parallels_any_voices", "voice_crossing", "spacing", "no_bass_rate", "strong_beat_dissonance",
    "unexplained_chromatic", "chromatic_rate", "authentic_cadence_rate", "cadence_rate", "pac_rate",
    "half_cadence_rate", "plagal_cadence_rate", "deceptive_cadence_rate", "none_cadence_rate",
    "final_authentic", "final_authentic_any_key", "key_minor",
)
YEH_KEYS = ("chord_histogram_entropy", "chord_tonal_distance", "ctnctr", "mctd", "pcs")

# Chord qualities of a beat's pitch-class set (melody included), as intervals above the root; the
# inversion is where the lowest note stands among them.
TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8)}
SEVENTHS = {"dom7": (0, 4, 7, 10), "min7": (0, 3, 7, 10), "hdim7": (0, 3, 6, 10), "dim7": (0, 3, 6, 9),
            "maj7": (0, 4, 7, 11)}
QUALITIES = (*TRIADS, *SEVENTHS, "dyad_3rd6th", "dyad_5th4th", "dyad_other", "unison", "other3", "other4",
             "five_plus")
INVERSIONS = ("root", "first", "second", "third")
ROOT_MOTIONS = (("up4th", (5,)), ("up5th", (7,)), ("step_up", (1, 2)), ("step_down", (10, 11)),
                ("third_up", (3, 4)), ("third_down", (8, 9)), ("tritone", (6,)))
BASS_MOTIONS = (("repeat", (0,)), ("step_up", (1, 2)), ("step_down", (-1, -2)), ("third_up", (3, 4)),
                ("third_down", (-3, -4)), ("fourth_up", (5,)), ("fourth_down", (-5,)), ("fifth_up", (7,)),
                ("fifth_down", (-7,)), ("tritone", (6, -6)), ("sixth_seventh_up", (8, 9, 10, 11)),
                ("sixth_seventh_down", (-8, -9, -10, -11)), ("octave", (12, -12)), ("wider", None))
MOTION_TYPES = ("contrary", "similar", "parallel", "oblique", "static")
DISSONANT_IC = (1, 2, 6, 10, 11)

HV_NAMES: tuple[str, ...] = tuple(
    [f"mel_acc_ic_{i}" for i in range(12)]
    + [f"mel_bass_ic_{i}" for i in range(12)]
    + ["offbeat_dissonance", "beat_dissonance"]
    + [f"quality_{q}" for q in QUALITIES]
    + [f"inversion_{q}" for q in INVERSIONS]
    + [f"root_motion_{name}" for name, _ in ROOT_MOTIONS] + ["chord_change_share"]
    + [f"bass_motion_{name}" for name, _ in BASS_MOTIONS]
    + [f"bass_degree_{i}" for i in range(12)]
    + [f"outer_{m}" for m in MOTION_TYPES]
    + ["inner_mean_move", "inner_step_share", "inner_leap_share", "acc_voices_mean", "acc_voices_std"]
    + ["key_cosine", "key_same", "acc_out_of_key", "mel_out_of_key"]
    + ["acc_onsets_with_melody", "melody_onsets_with_acc", "acc_onsets_on_beat", "start_offset", "end_offset",
       "beats_melody_only", "beats_acc_only"]
    + ["mel_minus_bass", "mel_minus_acc_top", "bass_range", "bass_std", "acc_above_melody"]
)

FEATURE_NAMES: tuple[str, ...] = tuple(
    [f"style_{n}" for n in STYLE_FEATURE_NAMES] + [f"vl_{k}" for k in THEORY_KEYS]
    + [f"yeh_{k}" for k in YEH_KEYS] + [f"hv_{n}" for n in HV_NAMES]
)


# ------------------------------------------------------------------------------------- the pair


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
    two or more non-drum tracks have notes (a transfer's output); else (a one-track original) the melody
    is its top line. UserError when it has no notes."""
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


def _score_of(pair: Pair, notes: np.ndarray) -> Score:
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


# ------------------------------------------------------------------------------------- features


def _norm(counts) -> np.ndarray:
    counts = np.asarray(counts, np.float64)
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts)


def _bins(values: np.ndarray, bins) -> np.ndarray:
    out = np.zeros(len(bins))
    covered = np.zeros(len(values), bool)
    for i, (_, members) in enumerate(bins):
        if members is not None:
            hit = np.isin(values, members)
            out[i] = hit.sum()
            covered |= hit
    out[[i for i, (_, m) in enumerate(bins) if m is None]] = (~covered).sum()
    return _norm(out)


def _pc_mask(pcs) -> int:
    m = 0
    for pc in pcs:
        m |= 1 << (int(pc) % 12)
    return m


def _chord_table() -> dict[int, tuple[str, int]]:
    """Pitch-class mask -> (quality, root pitch class) of every triad and seventh chord."""
    table = {}
    for name, iv in (*SEVENTHS.items(), *TRIADS.items()):
        for root in range(12):
            mask = _pc_mask((root + i) % 12 for i in iv)
            table.setdefault(mask, (name, root))  # augmented triads: the first root seen
    return table


CHORDS = _chord_table()
CHORD_INTERVALS = {**TRIADS, **SEVENTHS}


def _quality(pcs: set[int]) -> tuple[str, int | None]:
    """(quality, root or None) of a beat's pitch-class set."""
    n = len(pcs)
    if n == 0:
        return "", None
    if n == 1:
        return "unison", None
    if n == 2:
        a, b = sorted(pcs)
        ic = min((b - a) % 12, (a - b) % 12)
        return ("dyad_3rd6th" if ic in (3, 4) else "dyad_5th4th" if ic == 5 else "dyad_other"), None
    found = CHORDS.get(_pc_mask(pcs))
    if found is not None:
        return found
    return ("other3" if n == 3 else "other4" if n == 4 else "five_plus"), None


def _scale(tonic: int, mode: str) -> set[int]:
    steps = (0, 2, 4, 5, 7, 9, 11) if mode == "major" else (0, 2, 3, 5, 7, 8, 9, 10, 11)  # minor: + raised 6, 7
    return {(tonic + s) % 12 for s in steps}


def harmony_features(pair: Pair) -> np.ndarray:
    """This module's harmony and voice-leading numbers (``HV_NAMES``) of a pair."""
    mel, acc, beat = pair.melody, pair.accompaniment, pair.beat
    bt = sample_beats(mel, acc, beat)
    on = sample_beats(mel, acc, beat, every_onset=True)
    m, a = bt.melody, bt.acc
    has_m = ~np.isnan(m)
    has_a = ~np.isnan(a).all(axis=1) if a.shape[1] else np.zeros(len(m), bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan rows
        bass = bt.bass

    # Melody against the accompaniment and the bass, on the beats.
    both = has_m & has_a
    if both.any():
        diff = (m[both, None] - a[both])
        ok = ~np.isnan(diff)
        ic = np.mod(diff[ok], 12).astype(int)
        mel_acc = _norm(np.bincount(ic, minlength=12))
        ic_bass = np.mod(m[both] - bass[both], 12).astype(int)
        mel_bass = _norm(np.bincount(ic_bass, minlength=12))
        beat_diss = float(np.isin(np.mod(diff, 12), DISSONANT_IC).any(axis=1).mean())
    else:
        mel_acc, mel_bass, beat_diss = np.zeros(12), np.zeros(12), MISSING
    off = ~on.is_beat & ~np.isnan(on.melody)
    if off.any() and on.acc.shape[1]:
        d = np.mod(on.melody[off, None] - on.acc[off], 12)
        rows = ~np.isnan(on.acc[off]).all(axis=1)
        off_diss = float(np.isin(d[rows], DISSONANT_IC).any(axis=1).mean()) if rows.any() else MISSING
    else:
        off_diss = MISSING

    # Chords of the full texture per beat: quality, inversion, root motion, changes.
    full = bt.all_pitches
    qualities = np.zeros(len(QUALITIES))
    inversions = np.zeros(len(INVERSIONS))
    roots, sets = [], []
    for k in range(len(full)):
        row = full[k][~np.isnan(full[k])].astype(int)
        pcs = set((row % 12).tolist())
        sets.append(frozenset(pcs))
        q, root = _quality(pcs)
        if q:
            qualities[QUALITIES.index(q)] += 1
        roots.append(root)
        if root is not None:
            lowest = int(row.min()) % 12
            iv = CHORD_INTERVALS[q]
            pos = iv.index((lowest - root) % 12) if (lowest - root) % 12 in iv else 0
            inversions[min(pos, 3)] += 1
    motions = [(r1 - r0) % 12 for r0, r1 in itertools.pairwise(roots) if r0 is not None and r1 is not None and r0 != r1]
    root_motion = _bins(np.array(motions, int), ROOT_MOTIONS) if motions else np.zeros(len(ROOT_MOTIONS))
    filled = [s for s in sets if s]
    change = float(np.mean([s0 != s1 for s0, s1 in itertools.pairwise(filled)])) if len(filled) > 1 else MISSING

    # The bass line on the beats: motion, degree in the key, register.
    all_notes = np.concatenate([mel, acc])
    tonic, mode = estimate_key(all_notes[:, 2].astype(int), all_notes[:, 1] - all_notes[:, 0])
    b = bass[has_a]
    bass_iv = np.diff(b).astype(int) if len(b) > 1 else np.zeros(0, int)
    bass_motion = _bins(bass_iv, BASS_MOTIONS) if len(bass_iv) else np.zeros(len(BASS_MOTIONS))
    bass_degree = _norm(np.bincount((b.astype(int) - tonic) % 12, minlength=12)) if len(b) else np.zeros(12)

    # Outer voices, beat to beat.
    types = np.zeros(len(MOTION_TYPES))
    ok = both[:-1] & both[1:]
    if ok.any():
        dm = np.sign(np.diff(m))[ok]
        db = np.sign(np.diff(bass))[ok]
        ic0 = np.mod(m[:-1] - bass[:-1], 12)[ok]
        ic1 = np.mod(m[1:] - bass[1:], 12)[ok]
        static = (dm == 0) & (db == 0)
        oblique = (dm == 0) ^ (db == 0)
        contrary = dm * db < 0
        similar = (dm * db > 0)
        parallel = similar & (ic0 == ic1)
        for i, mask in enumerate((contrary, similar & ~parallel, parallel, oblique, static)):
            types[i] = mask.sum()
        types = _norm(types)

    # Inner voices (accompaniment above the bass), beat to beat, when their number stays the same.
    moves = []
    counts = np.array([int((~np.isnan(r)).sum()) for r in a]) if a.shape[1] else np.zeros(len(m), int)
    for k in range(len(a) - 1):
        if counts[k] >= 2 and counts[k] == counts[k + 1]:
            r0 = np.sort(a[k][~np.isnan(a[k])])[1:]
            r1 = np.sort(a[k + 1][~np.isnan(a[k + 1])])[1:]
            moves.extend(np.abs(r1 - r0).tolist())
    moves = np.array(moves)
    inner = ([float(moves.mean()), float((moves <= 2).mean()), float((moves > 4).mean())] if len(moves)
             else [MISSING] * 3)
    sounding = counts[has_a]
    voices = [float(sounding.mean()), float(sounding.std())] if len(sounding) else [0.0, 0.0]

    # Keys of the melody and the accompaniment.
    def pc_hist(notes):
        return np.bincount(notes[:, 2].astype(int) % 12, weights=notes[:, 1] - notes[:, 0], minlength=12) \
            if len(notes) else np.zeros(12)

    hm, ha = pc_hist(mel), pc_hist(acc)
    cosine = float(hm @ ha / (np.linalg.norm(hm) * np.linalg.norm(ha))) if hm.any() and ha.any() else MISSING
    same = float(estimate_key(mel[:, 2].astype(int), mel[:, 1] - mel[:, 0])
                 == estimate_key(acc[:, 2].astype(int), acc[:, 1] - acc[:, 0])) if len(mel) and len(acc) else MISSING
    scale = _scale(tonic, mode)
    acc_out = float(np.mean([int(p) % 12 not in scale for p in acc[:, 2]])) if len(acc) else MISSING
    mel_out = float(np.mean([int(p) % 12 not in scale for p in mel[:, 2]])) if len(mel) else MISSING

    # Rhythm: do the accompaniment's onsets fall with the melody's and on the beats; spans.
    mo, ao = np.unique(np.round(mel[:, 0], 4)), np.unique(np.round(acc[:, 0], 4))
    if len(mo) and len(ao):
        acc_with = float(np.isin(ao, mo).mean())
        mel_with = float(np.isin(mo, ao).mean())
        on_beat = float((np.abs(ao / beat - np.rint(ao / beat)) * beat < 1e-3).mean())
        start_off = float(np.clip((acc[:, 0].min() - mel[:, 0].min()) / beat, -4, 4))
        end_off = float(np.clip((acc[:, 1].max() - mel[:, 1].max()) / beat, -4, 4))
    else:
        acc_with = mel_with = on_beat = start_off = end_off = MISSING
    n_beats = max(len(m), 1)
    mel_only = float((has_m & ~has_a).sum() / n_beats)
    acc_only = float((~has_m & has_a).sum() / n_beats)

    # Register of the outer voices.
    if both.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            top = np.nanmax(a[both], axis=1)
        register = [float((m[both] - bass[both]).mean()), float((m[both] - top).mean()),
                    float(b.max() - b.min()), float(b.std()), float((top > m[both]).mean())]
    else:
        register = [MISSING] * 5

    out = np.concatenate([
        mel_acc, mel_bass, [off_diss, beat_diss],
        _norm(qualities), _norm(inversions), root_motion, [change],
        bass_motion, bass_degree, types, inner, voices,
        [cosine, same, acc_out, mel_out],
        [acc_with, mel_with, on_beat, start_off, end_off, mel_only, acc_only],
        register,
    ]).astype(np.float64)
    assert len(out) == len(HV_NAMES)
    return out


def _finite(values) -> np.ndarray:
    return np.nan_to_num(np.asarray(values, np.float64), nan=MISSING, posinf=MISSING, neginf=MISSING)


def pair_features(pair: Pair) -> np.ndarray:
    """The feature vector (``FEATURE_NAMES``) of a pair; UserError when the melody or the accompaniment
    has no notes."""
    if not len(pair.melody) or not len(pair.accompaniment):
        raise UserError("a harmonization needs a melody and an accompaniment")
    both = np.concatenate([pair.melody, pair.accompaniment])
    style = style_features(_score_of(pair, both))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rates = theory_rates(pair.melody, pair.accompaniment, pair.beat, pair.time_signatures)
        theory = [rates.get(k, math.nan) for k in THEORY_KEYS]
    except Exception:  # noqa: BLE001 - music21's analysis of an odd fake: the same "missing" in every use
        theory = [math.nan] * len(THEORY_KEYS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yeh = harmony_metrics(pair.melody, pair.accompaniment, pair.beat)
        hv = harmony_features(pair)
    out = _finite(np.concatenate([style, theory, [yeh[k] for k in YEH_KEYS], hv]))
    assert len(out) == len(FEATURE_NAMES)
    return out


# ------------------------------------------------------------------------------------- fakes


def _with_acc(pair: Pair, acc: np.ndarray) -> Pair:
    return pair._replace(accompaniment=notes_of(acc))


def _bass_mask(acc: np.ndarray) -> np.ndarray:
    """Accompaniment notes that are the lowest accompaniment note sounding at their onset."""
    out = np.zeros(len(acc), bool)
    for i, (on, _, pitch) in enumerate(acc):
        sounding = acc[(acc[:, 0] <= on + EPS) & (acc[:, 1] > on + EPS), 2]
        out[i] = pitch <= sounding.min()
    return out


def _bar_length(pair: Pair) -> float:
    _, num, den = pair.time_signatures[0]
    return num * 4 / den


def _span(pair: Pair, rng: np.random.Generator, notes: np.ndarray) -> np.ndarray:
    """Mask over ``notes``: those starting in a random run of bars covering 30% to all of the piece (a
    fake is wrong in a passage, not always everywhere)."""
    bar = _bar_length(pair)
    bars = np.floor(notes[:, 0] / bar + EPS).astype(int)
    lo, hi = int(bars.min()), int(bars.max())
    n = hi - lo + 1
    length = max(1, round(n * rng.uniform(0.3, 1.0)))
    first = lo + int(rng.integers(0, n - length + 1))
    return (bars >= first) & (bars < first + length)


def _ceiling(pair: Pair, on: float) -> float:
    """The lowest melody pitch sounding at ``on`` (an accompaniment note must stay under it), or 108."""
    mel = pair.melody
    sounding = mel[(mel[:, 0] <= on + EPS) & (mel[:, 1] > on + EPS), 2]
    return float(sounding.min()) if len(sounding) else 108.0


def fake_transposed(pair: Pair, rng: np.random.Generator) -> Pair:
    """The accompaniment of a passage (or all of it) transposed by ±1..±5 semitones."""
    shift = int(rng.choice([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5]))
    acc = pair.accompaniment.copy()
    span = _span(pair, rng, acc)
    acc[span, 2] = np.clip(acc[span, 2] + shift, 21, 108)
    return _with_acc(pair, acc)


def fake_shifted(pair: Pair, rng: np.random.Generator) -> Pair:
    """The accompaniment a beat early or late, cut to the melody's span."""
    shift = pair.beat * float(rng.choice([-1, 1]))
    lo, hi = pair.melody[:, 0].min(), pair.melody[:, 1].max()
    acc = pair.accompaniment.copy()
    acc[:, :2] += shift
    acc[:, 0] = np.maximum(acc[:, 0], lo)
    acc[:, 1] = np.minimum(acc[:, 1], hi)
    return _with_acc(pair, acc[acc[:, 1] - acc[:, 0] > EPS])


def fake_bass_walk(pair: Pair, rng: np.random.Generator) -> Pair:
    """The bass of a passage replaced by a random walk on the key's scale, in the bass's range and rhythm."""
    acc = pair.accompaniment.copy()
    idx = np.flatnonzero(_bass_mask(acc) & _span(pair, rng, acc))
    if not len(idx):
        idx = np.flatnonzero(_bass_mask(acc))
    idx = idx[np.argsort(acc[idx, 0], kind="stable")]
    both = np.concatenate([pair.melody, acc])
    tonic, mode = estimate_key(both[:, 2].astype(int), both[:, 1] - both[:, 0])
    steps = (0, 2, 4, 5, 7, 9, 11) if mode == "major" else (0, 2, 3, 5, 7, 8, 11)
    bass = acc[_bass_mask(acc), 2]
    lo, hi = int(bass.min()), int(bass.max())
    ladder = np.array([p for p in range(lo, hi + 1) if (p - tonic) % 12 in steps] or [lo])
    pos = int(np.argmin(np.abs(ladder - acc[idx[0], 2])))
    for i in idx:
        acc[i, 2] = ladder[pos]
        step = int(rng.choice([-3, -2, -1, -1, 0, 1, 1, 2, 3]))
        pos = pos + step
        if not 0 <= pos < len(ladder):  # reflect at the range's ends
            pos = min(max(pos - 2 * step, 0), len(ladder) - 1)
    return _with_acc(pair, acc)


def fake_inner_moves(pair: Pair, rng: np.random.Generator) -> Pair:
    """10% to 35% of the inner-voice notes (above the bass) moved by ±1 or ±2 semitones."""
    acc = pair.accompaniment.copy()
    inner = np.flatnonzero(~_bass_mask(acc))
    if not len(inner):
        inner = np.arange(len(acc))
    chosen = inner[rng.random(len(inner)) < rng.uniform(0.1, 0.35)]
    if not len(chosen):
        chosen = inner[[int(rng.integers(len(inner)))]]
    acc[chosen, 2] = np.clip(acc[chosen, 2] + rng.choice([-2, -1, 1, 2], size=len(chosen)), 21, 108)
    return _with_acc(pair, acc)


def fake_bar_swap(pair: Pair, rng: np.random.Generator) -> Pair:
    """The accompaniment's bars shuffled (a derangement) under the melody's."""
    bar = _bar_length(pair)
    acc = pair.accompaniment.copy()
    bars = np.floor(acc[:, 0] / bar + EPS).astype(int)
    used = np.unique(bars)
    if len(used) < 2:
        return fake_transposed(pair, rng)
    perm = used[::-1].copy()
    if len(used) > 2:
        perm = rng.permutation(used)
        while (perm == used).any():  # no bar keeps its own accompaniment
            perm = rng.permutation(used)
    target = dict(zip(used.tolist(), perm.tolist()))
    moved = np.array([(target[b] - b) * bar for b in bars])
    acc[:, :2] += moved[:, None]
    return _with_acc(pair, acc)


def fake_octaves(pair: Pair, rng: np.random.Generator) -> Pair:
    """15% to 40% of the accompaniment notes of a passage an octave up or down (under the melody, in
    28..100): the wide leaps and the lost register of a careless texture."""
    acc = pair.accompaniment.copy()
    idx = np.flatnonzero(_span(pair, rng, acc))
    chosen = idx[rng.random(len(idx)) < rng.uniform(0.15, 0.4)]
    if not len(chosen):
        chosen = idx[[int(rng.integers(len(idx)))]]
    for i in chosen:
        for sign in rng.permutation([-1, 1]):
            p = acc[i, 2] + 12 * sign
            if 28 <= p <= 100 and p < _ceiling(pair, acc[i, 0]):
                acc[i, 2] = p
                break
    return _with_acc(pair, acc)


def fake_block_chords(pair: Pair, rng: np.random.Generator) -> Pair:
    """The figuration removed: what sounds at each beat onset held for the beat (a note held over the
    beat stays one note), so passing and neighbour notes between beats are gone."""
    bt = sample_beats(np.zeros((0, 3)), pair.accompaniment, pair.beat)
    notes: list[list[float]] = []
    open_rows: dict[int, int] = {}  # original note row -> index in notes of the note it continues
    for k, t in enumerate(bt.times):
        now = {}
        for p, row in zip(bt.acc[k], bt.acc_note[k]):
            if row < 0 or np.isnan(p):
                continue
            if row in open_rows:
                notes[open_rows[row]][1] = t + pair.beat
                now[row] = open_rows[row]
            else:
                notes.append([t, t + pair.beat, p])
                now[row] = len(notes) - 1
        open_rows = now
    acc = np.array(notes, float).reshape(-1, 3)
    end = pair.accompaniment[:, 1].max()
    acc[:, 1] = np.minimum(acc[:, 1], end)
    return _with_acc(pair, acc[acc[:, 1] - acc[:, 0] > EPS])


def fake_density(pair: Pair, rng: np.random.Generator) -> Pair:
    """The texture made uneven in a passage: 10% to 30% of its accompaniment notes dropped and as many
    octave doublings added (under the melody)."""
    acc = pair.accompaniment.copy()
    idx = np.flatnonzero(_span(pair, rng, acc))
    rate = rng.uniform(0.1, 0.3)
    drop = idx[rng.random(len(idx)) < rate]
    double = idx[rng.random(len(idx)) < rate]
    added = []
    for i in double:
        for sign in rng.permutation([-1, 1]):
            p = acc[i, 2] + 12 * sign
            if 28 <= p <= 100 and p < _ceiling(pair, acc[i, 0]):
                added.append([acc[i, 0], acc[i, 1], p])
                break
    keep = np.ones(len(acc), bool)
    keep[drop] = False
    if keep.all() and not added:
        keep[idx[int(rng.integers(len(idx)))]] = False
    out = np.concatenate([acc[keep], np.array(added, float).reshape(-1, 3)])
    if not len(out):
        out = acc[:1]
    return _with_acc(pair, out)


PERTURBATIONS: dict[str, Callable[[Pair, np.random.Generator], Pair]] = {
    "transposed": fake_transposed, "shifted": fake_shifted, "bass_walk": fake_bass_walk,
    "inner_moves": fake_inner_moves, "bar_swap": fake_bar_swap, "octaves": fake_octaves,
    "block_chords": fake_block_chords, "density": fake_density,
}


def piece_rng(path: str, seed: int) -> np.random.Generator:
    """One generator per piece, from its file name: the same fakes in any process, any order."""
    return np.random.default_rng([seed, zlib.crc32(Path(path).name.encode("utf-8"))])


def piece_pairs(path: str, seed: int = 0) -> list[tuple[str, Pair]]:
    """(kind, pair) of a chorale file: the real one first, then a fake of each kind (``FAKE_KINDS``)."""
    full = load_score(path)
    melody = quiet_read_melody(path)
    real = pair_of(full, melody)
    if not len(real.melody) or not len(real.accompaniment):
        raise UserError(f"{path}: no accompaniment under the top line")
    out = [(REAL, real)]
    rng = piece_rng(path, seed)
    for kind in FAKE_KINDS:
        if kind == "rule_based":
            fake = pair_of(rule_based_harmonize(melody))
        else:
            fake = PERTURBATIONS[kind](real, rng)
        if not np.array_equal(fake.accompaniment, real.accompaniment):
            out.append((kind, fake))
    return out


def _piece_task(args: tuple[str, int]) -> tuple[list[tuple[int, np.ndarray]], str | None]:
    """([(kind index, features)] of a piece and its fakes, or [] and why it was skipped)."""
    path, seed = args
    try:
        rows = []
        for kind, pair in piece_pairs(path, seed):
            try:
                rows.append((KINDS.index(kind), pair_features(pair)))
            except UserError:
                if kind == REAL:
                    raise
        return rows, None
    except UserError as exc:
        return [], str(exc)
    except Exception as exc:  # noqa: BLE001 - a bad file never stops the whole run
        return [], f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:80]}"


class Rows(NamedTuple):
    X: np.ndarray
    kind: np.ndarray  # index into KINDS
    piece: np.ndarray  # index into the paths
    skipped: list[tuple[str, str]]

    @property
    def y(self) -> np.ndarray:
        return (self.kind == 0).astype(np.int8)

    @property
    def weight(self) -> np.ndarray:
        """Reals weighted by the number of fakes of their piece: real and fake weigh the same."""
        w = np.ones(len(self.kind))
        real = self.kind == 0
        fakes = np.bincount(self.piece[~real], minlength=int(self.piece.max(initial=0)) + 1)
        w[real] = np.maximum(fakes[self.piece[real]], 1)
        return w


def _workers(n_tasks: int, workers: int | None) -> int:
    return max(1, min(workers or os.cpu_count() or 1, n_tasks // 4 or 1))


def piece_rows(paths, seed: int = 0, workers: int | None = None) -> Rows:
    """Features of every piece of ``paths`` and of its fakes, in parallel (a ProcessPoolExecutor)."""
    paths = [str(p) for p in paths]
    tasks = [(p, seed) for p in paths]
    n = _workers(len(tasks), workers)
    if n <= 1:
        results = [_piece_task(t) for t in tasks]
    else:
        with ProcessPoolExecutor(n) as pool:
            results = list(pool.map(_piece_task, tasks, chunksize=4))
    X, kind, piece, skipped = [], [], [], []
    for i, (p, (rows, why)) in enumerate(zip(paths, results)):
        if why is not None:
            skipped.append((p, why))
        for k, x in rows:
            X.append(x), kind.append(k), piece.append(i)
    X = np.stack(X) if X else np.zeros((0, len(FEATURE_NAMES)))
    return Rows(X, np.array(kind, np.int8), np.array(piece, np.int32), skipped)


# ------------------------------------------------------------------------------------- the model

MODELS: dict[str, tuple[type, dict]] = {
    "gradient boosting": (HistGradientBoostingClassifier, {
        "max_iter": 150, "learning_rate": 0.1, "max_leaf_nodes": 15, "min_samples_leaf": 10, "l2_regularization": 1.0,
        "max_bins": 63, "early_stopping": False, "random_state": 0}),
    "random forest": (RandomForestClassifier, {
        "n_estimators": 300, "min_samples_leaf": 2, "max_features": "sqrt", "n_jobs": 1, "random_state": 0}),
}


def fit_model(name: str, X: np.ndarray, y: np.ndarray, w: np.ndarray, params: dict | None = None):
    """The named model fitted on (X, y, w): deterministic, so a refit on the same rows is the same model."""
    cls, defaults = MODELS[name]
    model = cls(**{**defaults, **(params or {})})
    with one_openmp_thread():  # gradient boosting spins on shared cores; one thread is deterministic
        model.fit(X, y, sample_weight=w)
    return model


def _p_real(model, X: np.ndarray) -> np.ndarray:
    with one_openmp_thread():  # gradient boosting spins on shared cores; one thread is deterministic
        P = model.predict_proba(X)
    return P[:, list(model.classes_).index(1)]


def evaluate(p: np.ndarray, rows: Rows) -> dict:
    """Validation numbers of P(real) ``p`` on ``rows``: balanced accuracy at 0.5, weighted AUC and log
    loss, accuracy and mean P(real) per kind."""
    y, w = rows.y, rows.weight
    out: dict = {"n": len(y), "n_real": int(y.sum())}
    if len(set(y.tolist())) == 2:
        out["auc"] = round(float(roc_auc_score(y, p, sample_weight=w)), 4)
        out["log_loss"] = round(float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), sample_weight=w)), 4)
    correct = (p >= 0.5) == (y == 1)
    out["accuracy"] = round(float((correct * w).sum() / w.sum()), 4) if len(y) else math.nan
    per_kind = {}
    for k, kind in enumerate(KINDS):
        m = rows.kind == k
        if m.any():
            per_kind[kind] = {"n": int(m.sum()), "accuracy": round(float(correct[m].mean()), 4),
                              "mean_p_real": round(float(p[m].mean()), 4)}
    out["per_kind"] = per_kind
    return out


class RealJudge:
    """P(real) of a harmonization: the composer's own or a fake; ``report`` says how well it tells."""

    def __init__(self, model=None, model_name: str | None = None, rows: Rows | None = None,
                 report: dict | None = None):
        self.model = model
        self.model_name = model_name
        self.rows = rows  # the training rows: what ``save`` writes and ``load`` refits on
        self.report = report or {}

    # ---- training

    @classmethod
    def train(cls, data, composer: str = COMPOSER, seed: int = 0, workers: int | None = None,
              models=tuple(MODELS)) -> RealJudge:
        """Fit on the composer's training pieces of ``data`` (a catalog folder, or a catalog table) and
        their fakes; pick the model by AUC on the validation pieces' (when there are any); report on them.
        The test split is never read."""
        started = time.time()
        models = tuple(models)
        unknown = [m for m in models if m not in MODELS]
        if unknown or not models:
            raise UserError(f"unknown model {', '.join(unknown) or '(none)'}; choose from {', '.join(MODELS)}")
        catalog = data if isinstance(data, pd.DataFrame) else load_catalog(data)
        if catalog.empty:
            raise UserError("the catalog lists no pieces")
        composer = find_composer(catalog, composer)
        train_paths = list(select(catalog, composer, "train")["midi"])
        valid_paths = list(select(catalog, composer, "validation")["midi"])
        if not train_paths:
            raise UserError(f"no training pieces by {composer}")
        tr = piece_rows(train_paths, seed, workers)
        if int(tr.y.sum()) < 2:
            raise UserError(f"need at least two usable training pieces by {composer}; "
                            f"found {int(tr.y.sum())}")
        va = piece_rows(valid_paths, seed, workers) if valid_paths else None
        has_valid = va is not None and len(set(va.y.tolist())) == 2
        fitted, scores = {}, {}
        for name in models:
            fitted[name] = fit_model(name, tr.X, tr.y, tr.weight)
            if has_valid:
                scores[name] = evaluate(_p_real(fitted[name], va.X), va)
        if has_valid:
            # the best AUC; ties (both perfect on easy fakes): the lower log loss
            winner = max(models, key=lambda n: (scores[n]["auc"], -scores[n]["log_loss"]))
        else:
            winner = models[0]
        model = fitted[winner]
        train_eval = evaluate(_p_real(model, tr.X), tr)
        judge = cls(model, winner, tr)
        judge.report = {
            "composer": composer,
            "model": winner,
            "selection": {"split": "validation" if has_valid else None, "metric": "auc",
                          "scores": {n: {k: s.get(k) for k in ("auc", "accuracy", "log_loss")}
                                     for n, s in scores.items()}},
            "validation": scores.get(winner),
            "validation_all_models": scores,
            "train": {k: train_eval.get(k) for k in ("auc", "accuracy")},
            "p_real": _p_real_summary(scores.get(winner)),
            "n_train_pieces": int(tr.y.sum()), "n_train_rows": len(tr.y),
            "n_validation_pieces": int(va.y.sum()) if va is not None else 0,
            "fake_kinds": list(FAKE_KINDS),
            "skipped": {"count": len(tr.skipped) + (len(va.skipped) if va else 0),
                        "examples": [f"{p}: {why}" for p, why in (tr.skipped + (va.skipped if va else []))[:10]]},
            "n_features": len(FEATURE_NAMES),
            "seed": int(seed),
            "sklearn_version": sklearn_version,
            "seconds": round(time.time() - started, 1),
        }
        return judge

    # ---- judging

    def _check(self):
        if self.model is None:
            raise UserError(f"the real-or-generated judge is not trained {HINT}")

    def p_real(self, score: Score | str | os.PathLike, melody: Score | None = None) -> float:
        """P(real) of a harmonization: a Score (or a MIDI path) with track 0 the melody and track 1 the
        accompaniment, or a one-track original (its top line is the melody); with ``melody``, the notes
        are split by it instead (``notes.split_melody``). UserError for an unusable piece."""
        self._check()
        if not isinstance(score, Score):
            score = load_score(score)
        return float(_p_real(self.model, pair_features(pair_of(score, melody))[None, :])[0])

    def p_real_many(self, scores, melodies=None, workers: int | None = None) -> list[float]:
        """``p_real`` of many Scores (features in parallel); nan where a piece is unusable."""
        self._check()
        scores = list(scores)
        melodies = list(melodies) if melodies is not None else [None] * len(scores)
        pairs = []
        for s, m in zip(scores, melodies):
            try:
                pairs.append(pair_of(s if isinstance(s, Score) else load_score(s), m))
            except UserError:
                pairs.append(None)
        ok = [i for i, p in enumerate(pairs) if p is not None]
        n = _workers(len(ok), workers)
        todo = [pairs[i] for i in ok]
        if n <= 1:
            feats = [_features_or_none(p) for p in todo]
        else:
            with ProcessPoolExecutor(n) as pool:
                feats = list(pool.map(_features_or_none, todo, chunksize=4))
        out = [math.nan] * len(scores)
        good = [(i, f) for i, f in zip(ok, feats) if f is not None]
        if good:
            p = _p_real(self.model, np.stack([f for _, f in good]))
            for (i, _), v in zip(good, p):
                out[i] = float(v)
        return out

    # ---- files

    def save(self, folder: str | os.PathLike) -> Path:
        """Write features.npz (the training rows) and real_judge.json into ``folder`` (created; files
        replaced atomically). No pickle: ``load`` refits the model from them."""
        self._check()
        if self.rows is None:
            raise UserError("this judge has no training rows to save")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{FEATURES_FILE}.tmp{os.getpid()}.npz"
        try:
            np.savez_compressed(tmp, X=self.rows.X.astype(np.float64), kind=self.rows.kind.astype(np.int8),
                                piece=self.rows.piece.astype(np.int32))
            data = tmp.read_bytes()
        finally:
            tmp.unlink(missing_ok=True)
        atomic_write_bytes(folder / FEATURES_FILE, data)
        check_rows = self.rows.X[:8]
        meta = {"format_version": FORMAT_VERSION, "model": self.model_name,
                "params": MODELS[self.model_name][1], "kinds": list(KINDS), "feature_names": list(FEATURE_NAMES),
                "features_sha256": hashlib.sha256(data).hexdigest(),
                "check_p_real": [float(v) for v in _p_real(self.model, check_rows)],
                "sklearn_version": sklearn_version, "report": self.report}
        atomic_write_text(folder / META_FILE, json.dumps(meta, indent=1, ensure_ascii=False))
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> RealJudge:
        """A saved judge: its rows read without pickles (``allow_pickle=False``), the model refitted."""
        folder = Path(os.path.expanduser(str(folder)))
        if not folder.is_dir():
            raise UserError(f"real-or-generated judge not found: {folder} {HINT}")
        for name in (META_FILE, FEATURES_FILE):
            if not (folder / name).is_file():
                raise UserError(f"{folder}: not a real-or-generated judge, {name} is missing {HINT}")
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            names, kinds, model_name = list(meta["feature_names"]), list(meta["kinds"]), str(meta["model"])
            params, digest = dict(meta["params"]), str(meta["features_sha256"])
        except Exception as exc:  # noqa: BLE001
            raise UserError(f"{folder / META_FILE}: corrupt ({type(exc).__name__}) {HINT}") from None
        if meta.get("format_version") != FORMAT_VERSION or names != list(FEATURE_NAMES) or kinds != list(KINDS):
            raise UserError(f"{folder}: this judge was trained with other features; retrain it {HINT}")
        if model_name not in MODELS or params != MODELS[model_name][1]:
            raise UserError(f"{folder / META_FILE}: unknown model {model_name!r} or parameters {HINT}")
        data = (folder / FEATURES_FILE).read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise UserError(f"{folder / FEATURES_FILE}: corrupt (its checksum does not match {META_FILE}) {HINT}")
        try:
            with np.load(folder / FEATURES_FILE, allow_pickle=False) as z:
                X, kind, piece = z["X"], z["kind"], z["piece"]
            X = np.asarray(X, np.float64)
            kind, piece = np.asarray(kind, np.int8), np.asarray(piece, np.int32)
            if X.ndim != 2 or X.shape[1] != len(FEATURE_NAMES) or not (len(X) == len(kind) == len(piece)):
                raise ValueError("shapes do not match")
            if not np.isfinite(X).all() or kind.min() < 0 or kind.max() >= len(KINDS) or len(set(kind.tolist())) < 2:
                raise ValueError("bad values")
        except Exception as exc:  # noqa: BLE001
            raise UserError(f"{folder / FEATURES_FILE}: corrupt ({type(exc).__name__}) {HINT}") from None
        rows = Rows(X, kind, piece, [])
        model = fit_model(model_name, X, rows.y, rows.weight)
        saved = meta.get("check_p_real") or []
        warn_if_refit_moved(folder, meta, saved, _p_real(model, X[:len(saved)]), "P(real)", 1e-6)
        return cls(model, model_name, rows, meta.get("report") or {})


def _features_or_none(pair: Pair) -> np.ndarray | None:
    try:
        return pair_features(pair)
    except UserError:
        return None


def _p_real_summary(validation: dict | None) -> dict:
    """Mean P(real) of the validation reals and of the rule-based harmonizer on the validation sopranos."""
    if not validation:
        return {}
    per = validation.get("per_kind", {})
    return {"validation_real": per.get(REAL, {}).get("mean_p_real"),
            "validation_rule_based": per.get("rule_based", {}).get("mean_p_real")}


def train_real_judge(data_folder: str | os.PathLike, out_folder: str | os.PathLike, force: bool = False,
                     workers: int | None = None, composer: str = COMPOSER, models=tuple(MODELS)) -> dict:
    """Train a judge on a catalog folder and save it to ``out_folder``; return its report. Refuses to
    replace an existing judge without ``force``; the folder appears complete or not at all. ``models``:
    the candidates (``MODELS``' names), e.g. ``("random forest",)`` for its less extreme probabilities."""
    out = Path(os.path.expanduser(str(out_folder)))
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise UserError(f"{out} already exists (use --force to replace it)")
    judge = RealJudge.train(data_folder, composer=composer, workers=workers, models=models)
    judge.report["data"] = str(Path(os.path.expanduser(str(data_folder))).resolve())
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        judge.save(tmp)
        replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return judge.report


def load_or_train_real_judge(folder: str | os.PathLike, data: str | os.PathLike,
                             say: Callable[[str], None] = print) -> RealJudge:
    """The judge saved at ``folder``; trained there on ``data``'s training split when missing."""
    folder = Path(os.path.expanduser(str(folder)))
    if not (folder / META_FILE).exists():
        say(f"no real-or-generated judge at {folder}: training one on {data} (about two minutes)")
        train_real_judge(data, folder, force=True)
    return RealJudge.load(folder)


def format_real_report(report: dict) -> str:
    """The report as Markdown: the model choice, validation AUC and accuracy, and each kind's accuracy
    and mean P(real)."""
    sel = (report.get("selection") or {}).get("scores") or {}
    lines = [f"Real-or-generated judge ({report.get('composer', '?')}): **{report.get('model', '?')}**"
             + (" (validation AUC: " + ", ".join(f"{n} {s['auc']:.4f}" for n, s in sel.items()) + ")" if sel else
                " (no validation split: default model)"), ""]
    lines.append(f"{report.get('n_features', len(FEATURE_NAMES))} features; {report.get('n_train_pieces', 0)} "
                 f"training pieces ({report.get('n_train_rows', 0)} rows with their fakes), "
                 f"{report.get('n_validation_pieces', 0)} validation pieces; "
                 f"{(report.get('skipped') or {}).get('count', 0)} unusable files skipped.")
    val = report.get("validation")
    if not val:
        return "\n".join(lines) + "\n"
    lines += ["", "| validation AUC | validation accuracy (balanced) | log loss |", "|---:|---:|---:|",
              f"| {val.get('auc', math.nan):.3f} | {val['accuracy']:.3f} | {val.get('log_loss', math.nan):.3f} |", "",
              "| kind | validation pieces | accuracy | mean P(real) |", "|---|---:|---:|---:|"]
    for kind, v in val["per_kind"].items():
        lines.append(f"| {kind} | {v['n']} | {v['accuracy']:.3f} | {v['mean_p_real']:.3f} |")
    return "\n".join(lines) + "\n"
