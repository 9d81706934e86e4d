"""The negatives the real-or-generated judge learns from: fakes made from a real chorale under its
untouched melody (``FAKE_KINDS``: the rule-based harmonization and the eight perturbations of the
accompaniment in ``PERTURBATIONS``), and ``piece_pairs``: a chorale file's real pair and its fakes.

Every random draw comes from ``piece_rng`` (one generator per piece, seeded by its file name), taken in
``FAKE_KINDS``' order, so a piece gets the same fakes in any process and any order. What each kind does,
and why, is in ``real_judge``'s docstring.
"""
from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..analysis.beats import sample_beats
from ..analysis.notes import notes_of
from ..data.melody_file import quiet_read_melody
from ..errors import UserError
from ..keys import estimate_key
from ..model.adapters import SAFE_NAME
from ..tokens.tokenizer import load_score
from .baselines import harmonize as rule_based_harmonize
from .harmonized_pair import Pair, pair_of

REAL = "real"
MST = "mst"  # mst's own setting of the tune: the hardest fake there is (only where it was written)
FAKE_KINDS = ("rule_based", "transposed", "shifted", "bass_walk", "inner_moves", "bar_swap", "octaves",
              "block_chords", "density")
EPS = 1e-6


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


def mst_fake_name(title: str) -> str:
    """The file name of mst's own setting of a corpus piece's tune (scripts/harmonize_training_sopranos.py)."""
    return f"{SAFE_NAME.sub('-', title)}.mid"


def piece_pairs(path: str, seed: int = 0, mst_fake: str | None = None) -> list[tuple[str, Pair]]:
    """(kind, pair) of a chorale file: the real one first, then a fake of each kind (``FAKE_KINDS``), then
    ``mst_fake`` (a MIDI file: mst's own harmonization of this chorale's tune) as kind ``MST``."""
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
    if mst_fake is not None:
        out.append((MST, pair_of(load_score(mst_fake), melody)))
    return out

