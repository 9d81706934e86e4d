"""Token choice: one allowed id per row, from the logits the sampler filtered (transfer/sampler.py's
``filter_logits``: the coarse mask of transfer/mask.py, temperature, top-k, top-p).

Gumbel noise is added to the filtered logits and the best candidates are walked in order, running the
exact check on each until one passes (about two checks per id with a random-weight model). Without
top-k/top-p that is an exact sample from the model's distribution renormalized over the allowed ids
(Gumbel-max over the allowed set); with them the filter is applied to the coarse set, and only if every
filtered candidate breaks a rule is the rest of the coarse set sampled (then, at worst, the hurry token
is taken).
"""
from __future__ import annotations

from typing import Protocol

import torch

from ..tokens.grammar import Grammar
from .sampler import Filtered
from .state import ConstraintState

TOP_CANDIDATES = 8  # candidates walked per row before the slow path


class Rows(Protocol):
    """What token choice asks of the constraint (transfer/constraint.MelodyConstraint), row by row."""

    grammar: Grammar
    states: list[ConstraintState]
    finished: list[bool]
    stats: dict[str, int]

    def check(self, row: int, token: int) -> ConstraintState | None:
        """The row's state after ``token`` if it keeps every rule and the budget, else None."""

    def hurry_pick(self, row: int) -> tuple[int, ConstraintState]:
        """The hurry token and the state after it (the last resort)."""


def choose(rows: Rows, filtered: Filtered, generator=None) -> list[tuple[int, ConstraintState]]:
    """(id, state after it) per row: Gumbel-max over the filtered logits, walked in order.

    A finished row gets EOS again and keeps its state.
    """
    greedy = filtered.greedy
    perturbed = filtered.kept if greedy else gumbel_perturbed(filtered.kept, generator)
    k = min(TOP_CANDIDATES, perturbed.shape[-1])
    values, order = perturbed.topk(k, dim=-1)
    values, order = values.tolist(), order.tolist()
    picks = []
    for r in range(len(rows.states)):
        if rows.finished[r]:
            picks.append((rows.grammar.eos, rows.states[r]))
            continue
        pick = _walk_top(rows, r, values[r], order[r])
        if pick is None:
            # Fresh noise for the whole coarse set: the filtered candidates that had some have all failed, and
            # every other id's noise is independent of theirs, so this is still Gumbel-max over the rest.
            rest = filtered.tempered[r] if greedy else gumbel_perturbed(filtered.tempered[r], generator)
            pick = _slow_pick(rows, r, perturbed[r], rest)
        picks.append(pick)
    return picks


def gumbel_perturbed(scores: torch.Tensor, generator=None) -> torch.Tensor:
    """``scores`` plus Gumbel noise where they are finite (-inf stays): argmax of the result is a sample of
    softmax(scores). Gumbel-max: argmax(s + Gumbel) = argmax(s - log E), E ~ Exp(1). Noise is drawn for the
    finite ids only: after top-p a row keeps a handful of the vocabulary's thousands."""
    finite = torch.isfinite(scores)
    draws = torch.empty(int(finite.sum()), dtype=scores.dtype, device=scores.device).exponential_(generator=generator)
    perturbed = torch.full_like(scores, float("-inf"))
    perturbed[finite] = scores[finite] - draws.clamp_(min=1e-30).log_()
    return perturbed


def _walk_top(rows: Rows, r: int, values: list[float], order: list[int]) -> tuple[int, ConstraintState] | None:
    """The first of the best-scored candidates that passes the exact check."""
    for v, i in zip(values, order):
        if v == float("-inf"):
            break
        rows.stats["checks"] += 1
        new = rows.check(r, i)
        if new is not None:
            return i, new
    return None


def _slow_pick(rows: Rows, r: int, perturbed: torch.Tensor, unfiltered: torch.Tensor) -> tuple[int, ConstraintState]:
    """Every candidate in order (filtered, then the whole coarse set); the hurry token as a last resort."""
    rows.stats["slow"] += 1
    for scores in (perturbed, unfiltered):
        finite = torch.isfinite(scores)
        ids = finite.nonzero().flatten()
        if len(ids) == 0:
            continue
        ids = ids[scores[ids].argsort(descending=True)].tolist()
        for i in ids:
            new = rows.check(r, i)
            if new is not None:
                return i, new
    return rows.hurry_pick(r)
