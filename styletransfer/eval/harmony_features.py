"""The real-or-generated judge's features of a harmonization (a ``Pair``): ``pair_features`` and its
``FEATURE_NAMES`` (the style judge's features, prefix ``style_``; the teacher's numbers, ``vl_``; Yeh et
al.'s harmony metrics, ``yeh_``; and ``harmony_features``, ``hv_``: the harmony and voice-leading
histograms named by ``HV_NAMES``).

Kept apart from the fakes and the model: a saved judge records these names in this order and refuses to
load under other ones, so the feature vector is one place to read and to change (with FORMAT_VERSION).
"""
from __future__ import annotations

import itertools
import math
import warnings

import numpy as np

from ..analysis.beats import sample_beats
from ..analysis.harmony import harmony_metrics
from ..analysis.theory import theory_rates
from ..errors import UserError
from ..keys import estimate_key
from .harmonized_pair import Pair, score_of_notes
from .judge import FEATURE_NAMES as STYLE_FEATURE_NAMES
from .judge import features as style_features

MISSING = -1.0  # a rate with nothing to count (nan), for both models alike

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
    style = style_features(score_of_notes(pair, both))
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

