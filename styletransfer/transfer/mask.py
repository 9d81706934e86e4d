"""The coarse mask: a superset of the allowed ids per row, built with a few vectorized numpy ops per step.

Each id is classified by its first base token (pitch / time shift / rest / chord / velocity / duration /
other, ``Grammar.cls_np``) with a value (pitch, or ticks per time signature denominator,
``Grammar.value_np``) compared against a per-row threshold for its class, and the ids starting with a
forced token are let through: exact for the first base token, so only the rest of a BPE id is left to the
exact check (transfer/rules.py).
"""
from __future__ import annotations

import numpy as np
import torch

from ..tokens.grammar import N_CLASSES, T_CHORD, T_DUR, T_PITCH, T_PROGRAM, T_REST, T_SHIFT, T_VEL, Grammar
from .rules import MelodyRules
from .state import ConstraintState

# (per-class threshold: ids of the class pass up to that value, -1 none; forced first base id or -1;
#  EOS allowed; denominator index)
Thresholds = tuple[list[int], int, bool, int]
FINISHED_ROW: Thresholds = ([-1] * N_CLASSES, -1, True, 0)  # a finished row only repeats EOS


def row_thresholds(rules: MelodyRules, s: ConstraintState, eos: bool) -> Thresholds:
    """One row's thresholds in state ``s`` (``eos``: EOS is allowed, rules and budget together)."""
    off = [-1] * N_CLASSES
    now, notes_end, den, ev, part, melody_note, max_dur, ceiling, chord_ok, voice, _ = s
    p, g = rules.plan, rules.grammar
    if part == 1:
        off[T_VEL] = 0
        return off, -1, False, den
    if part == 2:
        if melody_note:
            return off, p.ev_dur[ev], False, den
        off[T_DUR] = max_dur
        return off, -1, False, den
    if part == 3:  # with parts, after a Program token: a Pitch
        if melody_note:
            return off, p.ev_tok[ev], False, den
        off[T_PITCH] = _pitch_ceiling(p, g, now, den, ceiling) - 1
        return off, -1, False, den
    w = rules.window_end
    if w is not None and now >= w:
        return off, -1, eos, den
    if ev < p.n_ev and p.ev_tick[ev] == now:
        if p.ev_kind[ev] == 0:
            return off, p.ev_tok[ev], False, den
        if rules.n_parts:
            return off, g.program_token[0], False, den
        if chord_ok:
            off[T_CHORD] = 0
        return off, p.ev_tok[ev], False, den
    if ev >= p.n_ev and now >= p.end:
        return off, -1, eos, den
    if rules.n_parts:
        off[T_PROGRAM] = rules.n_parts - 1
    else:
        off[T_PITCH] = _pitch_ceiling(p, g, now, den, ceiling) - 1
        off[T_CHORD] = 0 if chord_ok else -1
    barrier = p.ev_tick[ev] if ev < p.n_ev else p.end
    off[T_SHIFT] = barrier - now
    off[T_REST] = barrier - max(notes_end, now)
    return off, -1, eos, den


def _pitch_ceiling(p, g: Grammar, now: int, den: int, ceiling: int) -> int:
    """The lowest of the onset's ceiling and the melody sounding during the shortest note from ``now``."""
    for tick in range(now, now + g.min_dur[den]):
        ceiling = min(ceiling, p.sounding_min(tick))
    return ceiling


def coarse_mask(grammar: Grammar, rows: list[Thresholds], device, vocab: int | None = None) -> torch.Tensor:
    """[B, V] bool: ids whose first base token is allowed (a superset of the allowed ids).

    ``vocab`` > the tokenizer's size (a model with a padded vocabulary): the extra ids are never allowed.
    """
    # numpy: for [B, V] with B ~ 8 its ops cost a third of torch's on CPU
    g = grammar
    thr = np.array([r[0] for r in rows], np.int32)
    forced = np.array([r[1] for r in rows], np.int32)
    den = np.array([r[3] for r in rows], np.intp)
    mask = g.value_np[den] <= thr[:, g.cls_np]
    mask |= g.first_np[None] == forced[:, None]
    mask[:, g.eos] = [r[2] for r in rows]
    if vocab is not None and vocab != mask.shape[1]:
        if vocab < mask.shape[1]:
            raise ValueError(f"the model's vocabulary ({vocab}) is smaller than the tokenizer's ({mask.shape[1]})")
        mask = np.concatenate([mask, np.zeros((len(rows), vocab - mask.shape[1]), bool)], 1)
    return torch.from_numpy(mask).to(device, non_blocking=True)
