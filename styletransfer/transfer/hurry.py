"""The constraint's cost model: the cheapest way to finish a window, and the token budget it guards.

Each row has a token budget (its ids in this call, the stop/EOS included): a candidate is taken only if
the cheapest way to finish from the state after it (``HurryPath.cost``: one base token per id, time moved
by the largest TimeShifts) still fits, so a row never runs out of tokens before the melody is placed,
whatever the model wants. ``HurryPath.token`` is that path's first id: the last resort of token choice.
"""
from __future__ import annotations

from bisect import bisect_left

from .plan import MelodyPlan
from .rules import MelodyRules
from .state import ConstraintState

IDS_LEFT_IN_NOTE = (0, 2, 1, 3)  # by ConstraintState.note_part: ids a half-written note still needs

SPARE_IDS = 4096  # a row's default budget beyond the cheapest finish: in effect no limit


class HurryPath:
    """Cheapest finish of one window (``window_end``: where a non-final window stops, None for the final one)."""

    def __init__(self, plan: MelodyPlan, window_end: int | None = None, rules: MelodyRules | None = None):
        grammar = plan.grammar
        if grammar.unwritable:  # the path writes one base token per id
            raise ValueError(f"BPE vocabulary lacks base tokens {grammar.unwritable[:5]}: cannot guarantee the melody")
        self.plan, self.grammar, self.window_end = plan, grammar, window_end
        self.rules = rules or MelodyRules(plan, window_end)
        self.note_ids = 4 if grammar.parts else 3  # a melody note's ids: (Program,) Pitch, Velocity, Duration
        self.end_ev = plan.n_ev if window_end is None else bisect_left(plan.ev_tick, window_end)
        self.suffix = self._suffix_costs()

    def _suffix_costs(self) -> list[int]:
        """suffix[k]: hurry cost of events k..end_ev-1 of this window (plus the final stop/EOS)."""
        p, g = self.plan, self.grammar
        end = self.end_ev
        suffix = [0] * (end + 1)
        if self.window_end is not None and end > 0:
            tail = g.gap(self.window_end - p.ev_tick[end - 1], p.ev_den[end - 1]) + 1
        else:
            tail = 1
        suffix[end] = tail
        for k in range(end - 1, -1, -1):
            cost = 1 if p.ev_kind[k] == 0 else self.note_ids
            if k + 1 < end:
                cost += g.gap(p.ev_tick[k + 1] - p.ev_tick[k], p.ev_den[k]) + suffix[k + 1]
            else:
                cost += tail
            suffix[k] = cost
        return suffix

    def default_budget(self, s: ConstraintState) -> int:
        return self.cost(s) + SPARE_IDS

    def cost(self, s: ConstraintState) -> int:
        """Ids needed to finish this window from state ``s`` the cheapest way (INF if it cannot)."""
        now, _, den, ev, part, melody_note = s[:6]
        c = 0
        if part:
            c = IDS_LEFT_IN_NOTE[part]
            if melody_note:
                ev += 1
        w = self.window_end
        if w is not None and now >= w:
            return c + 1
        if ev < self.end_ev:
            return c + self.grammar.gap(self.plan.ev_tick[ev] - now, den) + self.suffix[ev]
        if w is not None:
            return c + self.grammar.gap(w - now, den) + 1
        return c + 1

    def token(self, s: ConstraintState) -> int:
        """The first id of ``cost``'s path (a single base token, or EOS)."""
        g, p = self.grammar, self.plan
        now, _, den, ev, part, melody_note = s[:6]
        if part == 3:  # after a Program token: the melody's Pitch, or the lowest the rules take
            if melody_note:
                return g.single[p.ev_tok[ev]]
            return g.single[next(b for b in g.pitch_ascending if self.rules.step(s, (b,)) is not None)]
        if part == 1:
            return g.single[p.ev_vel[ev] if melody_note else g.default_velocity]
        if part == 2:
            return g.single[p.ev_dur[ev] if melody_note else g.min_dur_token[den]]
        w = self.window_end
        if w is not None and now >= w:
            return g.eos
        if ev < self.end_ev:
            if p.ev_tick[ev] == now:
                if g.parts and p.ev_kind[ev] == 1:
                    return g.single[g.program_token[0]]
                return g.single[p.ev_tok[ev]]
            return g.single[g.gap_token(p.ev_tick[ev] - now, den)]
        if w is not None:
            return g.single[g.gap_token(w - now, den)]
        return g.eos
