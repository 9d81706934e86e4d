"""The melody guarantee for the sampler: a batch of texture rows kept to a melody, id by id.

``MelodyConstraint`` is the sampler's constraint (``mask`` / ``choose`` / ``advance``: transfer/sampler.py's
``Constraint``) and keeps each row's bookkeeping: its state (transfer/state.py), budget, ids so
far. The parts, one concern each:

- transfer/rules.py: the rules, a state machine over base tokens (``step``, ``eos_ok``);
- transfer/hurry.py: the cost model, the cheapest way to finish, which the token budget guards;
- transfer/mask.py: the coarse mask, a vectorized superset of the allowed ids;
- transfer/choice.py: token choice, Gumbel-max over the coarse set walked until the exact check passes;
- transfer/likelihood.py: the model's log-likelihood of the chosen ids, for ranking.
"""
from __future__ import annotations

import torch

from ..tokens.parts import Texture
from .choice import choose
from .hurry import HurryPath
from .likelihood import ChosenLikelihood
from .mask import FINISHED_ROW, coarse_mask, row_thresholds
from .plan import MelodyPlan
from .rules import MelodyRules
from .sampler import Filtered
from .state import ConstraintState


class MelodyConstraint:
    """Constrains a batch of texture rows to a melody (see the module docstring).

    ``states`` carry over between windows; ``window_end`` is the tick where a non-final window stops (the
    row then samples EOS, to be dropped), None for the final window (EOS ends the piece). ``budgets[r]`` is
    how many ids row r may sample in this call, its stop/EOS included. ``texture``: the style's parts
    (transfer/rules.py), for a tokenizer that writes them.
    """

    def __init__(self, plan: MelodyPlan, states: list[ConstraintState] | None = None, batch: int | None = None,
                 window_end: int | None = None, budgets: list[int] | None = None,
                 hard_rules: frozenset[str] = frozenset(), texture: Texture | None = None):
        self.plan, self.grammar = plan, plan.grammar
        if states is None:
            states = [plan.initial_state()] * (batch or 1)
        self.states = list(states)
        self.batch = len(self.states)
        self.window_end = window_end
        self.rules = MelodyRules(plan, window_end, hard_rules, texture)
        self.hurry = HurryPath(plan, window_end, self.rules)
        if budgets is None:
            budgets = [self.hurry.default_budget(s) for s in self.states]
        self.budgets = list(budgets)
        self.used = [0] * self.batch
        self.finished = [False] * self.batch
        self.tokens: list[list[int]] = [[] for _ in range(self.batch)]
        self.likelihood = ChosenLikelihood(self.grammar.eos, final=window_end is None)
        self.stats = {"steps": 0, "checks": 0, "slow": 0, "hurry": 0}
        self._next: list[ConstraintState | None] = [None] * self.batch  # the state after the chosen id
        self._chosen: list[int] = [-1] * self.batch

    # ---- the rules and costs, per state

    def eos_ok(self, s: ConstraintState) -> bool:
        return self.rules.eos_ok(s)

    def hurry_cost(self, s: ConstraintState) -> int:
        """Ids needed to finish this window from state ``s`` the cheapest way (INF if it cannot)."""
        return self.hurry.cost(s)

    def hurry_token(self, s: ConstraintState) -> int:
        """The first id of ``hurry_cost``'s path (a single base token, or EOS)."""
        return self.hurry.token(s)

    # ---- per row

    def check(self, row: int, token: int) -> ConstraintState | None:
        """The row's state after model id ``token`` if it keeps every rule and the budget, else None."""
        s = self.states[row]
        rem = self.budgets[row] - self.used[row]
        g = self.grammar
        if token == g.eos:
            return s if self.rules.eos_ok(s) and rem >= 1 else None
        exp = g.expansions[token] if 0 <= token < g.size else ()
        if not exp:
            return None
        new = self.rules.step(s, exp)
        if new is None or 1 + self.hurry.cost(new) > rem:
            return None
        return new

    def hurry_pick(self, row: int) -> tuple[int, ConstraintState]:
        """The hurry token and the state after it: token choice's last resort."""
        self.stats["hurry"] += 1
        token = self.hurry.token(self.states[row])
        new = self.check(row, token)
        if new is None:  # cannot happen while hurry_cost <= budget (checked when the state was reached)
            raise RuntimeError(f"melody constraint stuck at state {self.states[row]} (budget {self.budgets[row]}, "
                               f"used {self.used[row]})")
        return token, new

    def coarse_mask(self, device, vocab: int | None = None) -> torch.Tensor:
        """[B, V] bool: ids whose first base token is allowed (a superset of the allowed ids; see mask.py)."""
        rows = [FINISHED_ROW if self.finished[r] else
                row_thresholds(self.rules, self.states[r],
                               self.rules.eos_ok(self.states[r]) and self.budgets[r] - self.used[r] >= 1)
                for r in range(self.batch)]
        return coarse_mask(self.grammar, rows, device, vocab)

    @property
    def ll_sum(self) -> torch.Tensor | None:
        """[B] model log-likelihood of the ids chosen so far (a non-final window's stop token excluded)."""
        return self.likelihood.total()

    def allowed(self, step: int) -> torch.Tensor:
        """The exact [B, V] mask (slow: every coarse candidate is checked): what ``choose`` may pick from."""
        eos = self.grammar.eos
        mask = self.coarse_mask("cpu")
        for r in range(self.batch):
            mask[r, eos] = mask[r, eos] or self.finished[r]
            if self.finished[r]:
                continue
            for i in mask[r].nonzero().flatten().tolist():
                if self.check(r, i) is None:
                    mask[r, i] = False
        return mask

    # ---- the sampler's hooks (transfer/sampler.Constraint)

    def mask(self, step: int, logits: torch.Tensor) -> torch.Tensor:
        """The coarse mask, a superset of the allowed ids, for the sampling filter."""
        self.stats["steps"] += 1
        return self.coarse_mask(logits.device, logits.shape[-1])

    def choose(self, logits: torch.Tensor, filtered: Filtered, step: int, generator) -> torch.Tensor:
        """One allowed id per row (transfer/choice.py), remembering the state after it for ``advance``;
        the model's log-likelihood of each id from the unfiltered ``logits``."""
        picks = choose(self, filtered, generator)
        chosen = [token for token, _ in picks]
        self._next = [state for _, state in picks]
        tokens = torch.tensor(chosen, device=logits.device)
        self.likelihood.record(logits, tokens, chosen, self.finished)
        self._chosen = chosen
        return tokens

    def advance(self, tokens: torch.Tensor) -> None:
        for r, token in enumerate(tokens.tolist()):
            if self.finished[r]:
                continue
            if token == self._chosen[r] and self._next[r] is not None:
                new = self._next[r]
            else:  # an id this constraint did not choose (e.g. replayed from a kept texture): check it now
                new = self.check(r, token)
                if new is None:
                    raise ValueError(f"token {token} breaks the melody constraint in row {r}")
            self.states[r] = new
            self.used[r] += 1
            self.tokens[r].append(token)
            if token == self.grammar.eos:
                self.finished[r] = True
            self._next[r] = None
        self._chosen = [-1] * self.batch
