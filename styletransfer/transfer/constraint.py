"""The melody guarantee: a state machine over base tokens that constrains texture sampling.

While the model writes the texture after ``[BOS][MELODY] melody [TEXTURE]``, every sampled id (a BPE id
expands to several base tokens) must keep these promises, checked base token by base token with
miditok's own decoding rules (TimeShift adds; Rest starts at max(now, end of the notes so far); a Pitch
makes a note only when a Velocity and a Duration follow):

- time never moves past the next melody event (a melody note, or a TimeSig/Tempo token of the melody,
  which the texture repeats at the same tick so that both decode on the same beat grid);
- at a melody onset the melody note comes first (an optional Chord token may precede it): exactly its
  Pitch token, any Velocity, exactly its Duration token;
- notes at one onset are written highest first (the canonical order), so everything after the melody
  note at its onset lies below it, and no pitch repeats at one onset;
- an accompaniment note sounds only below every melody note sounding during it: its Pitch must be below
  the melody notes sounding at its onset and its Duration ends before any melody note as low or lower
  starts;
- Velocity and Duration tokens come only after a Pitch (and Velocity before Duration), so every Pitch
  decodes to a note; other TimeSig/Tempo tokens, other specials and empty BPE ids are never sampled;
- EOS only once every melody note is placed; after the last melody note the texture may go on until the
  melody's end, then only EOS remains. A non-final window (see transfer.py) instead ends with EOS as a stop
  signal once time reaches the window's end tick.
- a token budget per row: a candidate is taken only if the cheapest way to finish (one base token per id,
  time moved by the largest TimeShifts, ``hurry_cost``) still fits, so a row never runs out of tokens
  before the melody is placed, whatever the model wants.

Time is kept in the decoder's ticks (16 per quarter note whatever the time signature), so 6/8 (whose
token beats are eighths) and time-signature changes need no special case beyond reading the TimeSig
tokens.

Speed: ``select`` builds one coarse mask per step with a few vectorized numpy ops — each id is classified
by its first base token (pitch / time shift / rest / chord / velocity / duration / other) with a value
(pitch, or ticks per time signature denominator) compared against a per-row threshold for its class, and
the ids starting with a forced token are let through — which is exact for the first base token. It then
applies temperature/top-k/top-p, adds Gumbel noise and walks the best candidates in order, running the
exact base-token check on each until one passes (about two checks per id with a random-weight model).
Without top-k/top-p that is an exact sample from the model's distribution renormalized over the allowed
ids (Gumbel-max over the allowed set); with them the filter is applied to the coarse set, and only if
every filtered candidate breaks a rule is the rest of the coarse set sampled (then, at worst, the hurry
token is taken).
"""
from __future__ import annotations

from bisect import bisect_left

import numpy as np
import torch

from ..tokens.grammar import (
    K_CHORD,
    K_DUR,
    K_PITCH,
    K_REST,
    K_SHIFT,
    K_TIMESIG,
    K_VEL,
    N_CLASSES,
    T_CHORD,
    T_DUR,
    T_PITCH,
    T_REST,
    T_SHIFT,
    T_VEL,
)
from .plan import NO_PITCH, MelodyPlan

TOP_CANDIDATES = 8  # candidates walked per row before the slow path


class MelodyConstraint:
    """Constrains a batch of texture rows to a melody (see the module docstring).

    ``states`` carry over between windows; ``window_end`` is the tick where a non-final window stops (the
    row then samples EOS, to be dropped), None for the final window (EOS ends the piece). ``budgets[r]`` is
    how many ids row r may sample in this call, its stop/EOS included.
    """

    def __init__(self, plan: MelodyPlan, states: list[tuple] | None = None, batch: int | None = None,
                 window_end: int | None = None, budgets: list[int] | None = None):
        self.plan, self.table = plan, plan.table
        if states is None:
            states = [plan.initial_state()] * (batch or 1)
        self.states = list(states)
        self.batch = len(self.states)
        self.window_end = window_end
        self.end_ev = plan.n_ev if window_end is None else bisect_left(plan.ev_tick, window_end)
        self._suffix_costs()
        if budgets is None:
            budgets = [self.hurry_cost(s) + 4096 for s in self.states]
        self.budgets = list(budgets)
        self.used = [0] * self.batch
        self.finished = [False] * self.batch
        self.tokens: list[list[int]] = [[] for _ in range(self.batch)]
        self._ll: list[torch.Tensor] = []  # per step: [B] log-likelihood of the chosen ids
        self._scored: list[list[bool]] = []
        self.stats = {"steps": 0, "checks": 0, "slow": 0, "hurry": 0}
        self._next: list[tuple | None] = [None] * self.batch
        self._chosen: list[int] = [-1] * self.batch

    # ---- costs

    def _suffix_costs(self):
        """suffix[k]: hurry cost of events k..end_ev-1 of this window (plus the final stop/EOS)."""
        p, t = self.plan, self.table
        end = self.end_ev
        suffix = [0] * (end + 1)
        if self.window_end is not None and end > 0:
            tail = t.gap(self.window_end - p.ev_tick[end - 1], p.ev_den[end - 1]) + 1
        else:
            tail = 1
        suffix[end] = tail
        for k in range(end - 1, -1, -1):
            cost = 1 if p.ev_kind[k] == 0 else 3
            if k + 1 < end:
                cost += t.gap(p.ev_tick[k + 1] - p.ev_tick[k], p.ev_den[k]) + suffix[k + 1]
            else:
                cost += tail
            suffix[k] = cost
        self.suffix = suffix

    def hurry_cost(self, s: tuple) -> int:
        """Ids needed to finish this window from state ``s`` the cheapest way (INF if it cannot)."""
        now, _, den, ev, gpos, mel, _, _, _ = s
        c = 0
        if gpos:
            c = 3 - gpos
            if mel:
                ev += 1
        w = self.window_end
        if w is not None and now >= w:
            return c + 1
        if ev < self.end_ev:
            return c + self.table.gap(self.plan.ev_tick[ev] - now, den) + self.suffix[ev]
        if w is not None:
            return c + self.table.gap(w - now, den) + 1
        return c + 1

    def hurry_token(self, s: tuple) -> int:
        """The first id of ``hurry_cost``'s path (a single base token, or EOS)."""
        t, p = self.table, self.plan
        now, _, den, ev, gpos, mel, _, _, _ = s
        if gpos == 1:
            return t.single[p.ev_vel[ev] if mel else t.default_velocity]
        if gpos == 2:
            return t.single[p.ev_dur[ev] if mel else t.min_dur_token[den]]
        w = self.window_end
        if w is not None and now >= w:
            return t.eos
        if ev < self.end_ev:
            if p.ev_tick[ev] == now:
                return t.single[p.ev_tok[ev]]
            return t.single[t.gap_token(p.ev_tick[ev] - now, den)]
        if w is not None:
            return t.single[t.gap_token(w - now, den)]
        return t.eos

    # ---- the exact check

    def eos_ok(self, s: tuple) -> bool:
        now, _, _, ev, gpos, _, _, _, _ = s
        if gpos:
            return False
        if self.window_end is not None:
            return now >= self.window_end
        return ev >= self.plan.n_ev

    def step(self, s: tuple, ids) -> tuple | None:
        """The state after base tokens ``ids`` (no EOS among them), or None if one breaks a rule."""
        t, p = self.table, self.plan
        kind = t.kind
        now, prev_end, den, ev, gpos, mel, lim, top, chord_ok = s
        w = self.window_end
        n_ev = p.n_ev
        for b in ids:
            k = kind[b]
            if gpos == 1:
                if k != K_VEL:
                    return None
                gpos = 2
                continue
            if gpos == 2:
                if k != K_DUR:
                    return None
                if mel:
                    if b != p.ev_dur[ev]:
                        return None
                    d = t.ticks[den][b]
                    ev += 1
                    mel = False
                else:
                    d = t.ticks[den][b]
                    if d > lim:
                        return None
                if now + d > prev_end:
                    prev_end = now + d
                gpos = 0
                continue
            # a new event
            if w is not None and now >= w:
                return None  # the window is over: only the stop token
            due = ev < n_ev and p.ev_tick[ev] == now  # a melody event is due now
            if due and p.ev_kind[ev] == 0:  # a TimeSig/Tempo of the melody: exactly that token
                if b != p.ev_tok[ev]:
                    return None
                if k == K_TIMESIG:
                    den = t.ts_den[b]
                if now > prev_end:
                    prev_end = now
                ev += 1
                continue
            if ev >= n_ev and now >= p.end:
                return None  # the melody is over: only EOS
            if k == K_CHORD and chord_ok:  # an optional Chord token before an onset's notes
                chord_ok = False
                if now > prev_end:
                    prev_end = now
                continue
            if due:  # a melody note: exactly its Pitch first
                if b != p.ev_tok[ev]:
                    return None
                gpos, mel, top, chord_ok = 1, True, t.pitch[b], False
                continue
            if k == K_PITCH:
                pitch = t.pitch[b]
                if pitch >= top:
                    return None
                lim = p.limit(pitch, now)
                if lim < t.min_dur[den]:
                    return None
                gpos, mel, top, chord_ok = 1, False, pitch, False
                continue
            if k == K_SHIFT or k == K_REST:
                if k == K_SHIFT:
                    new = now + t.ticks[den][b]
                else:
                    new = (prev_end if prev_end > now else now) + t.rest_ticks[den][b]
                barrier = p.ev_tick[ev] if ev < n_ev else p.end
                if new > barrier:
                    return None
                now, top, chord_ok = new, NO_PITCH, True
                continue
            return None
        return (now, prev_end, den, ev, gpos, mel, lim, top, chord_ok)

    def check(self, row: int, token: int) -> tuple | None:
        """The row's state after model id ``token`` if it keeps every rule and the budget, else None."""
        s = self.states[row]
        rem = self.budgets[row] - self.used[row]
        if token == self.table.eos:
            return s if self.eos_ok(s) and rem >= 1 else None
        exp = self.table.expansions[token] if 0 <= token < self.table.size else ()
        if not exp:
            return None
        new = self.step(s, exp)
        if new is None or 1 + self.hurry_cost(new) > rem:
            return None
        return new

    # ---- the coarse mask

    def _row_thresholds(self, row: int) -> tuple[list[int], int, bool, int]:
        """(per-class threshold, forced first base id, EOS allowed, denominator index) for one row."""
        off = [-1] * N_CLASSES
        if self.finished[row]:
            return off, -1, True, 0
        s = self.states[row]
        now, prev_end, den, ev, gpos, mel, lim, top, chord_ok = s
        p, t = self.plan, self.table
        eos = self.eos_ok(s) and self.budgets[row] - self.used[row] >= 1
        if gpos == 1:
            off[T_VEL] = 0
            return off, -1, False, den
        if gpos == 2:
            if mel:
                return off, p.ev_dur[ev], False, den
            off[T_DUR] = lim
            return off, -1, False, den
        w = self.window_end
        if w is not None and now >= w:
            return off, -1, eos, den
        if ev < p.n_ev and p.ev_tick[ev] == now:
            if p.ev_kind[ev] == 0:
                return off, p.ev_tok[ev], False, den
            if chord_ok:
                off[T_CHORD] = 0
            return off, p.ev_tok[ev], False, den
        if ev >= p.n_ev and now >= p.end:
            return off, -1, eos, den
        ceiling = top
        for tick in range(now, now + t.min_dur[den]):
            ceiling = min(ceiling, p.sounding_min(tick))
        off[T_PITCH] = ceiling - 1
        barrier = p.ev_tick[ev] if ev < p.n_ev else p.end
        off[T_SHIFT] = barrier - now
        off[T_REST] = barrier - max(prev_end, now)
        off[T_CHORD] = 0 if chord_ok else -1
        return off, -1, eos, den

    def coarse_mask(self, device, vocab: int | None = None) -> torch.Tensor:
        """[B, V] bool: ids whose first base token is allowed (a superset of the allowed ids).

        ``vocab`` > the tokenizer's size (a model with a padded vocabulary): the extra ids are never allowed.
        """
        # numpy: for [B, V] with B ~ 8 its ops cost a third of torch's on CPU
        t = self.table
        rows = [self._row_thresholds(r) for r in range(self.batch)]
        thr = np.array([r[0] for r in rows], np.int32)
        forced = np.array([r[1] for r in rows], np.int32)
        den = np.array([r[3] for r in rows], np.intp)
        mask = t.value_np[den] <= thr[:, t.cls_np]
        mask |= t.first_np[None] == forced[:, None]
        mask[:, t.eos] = [r[2] for r in rows]
        if vocab is not None and vocab != mask.shape[1]:
            if vocab < mask.shape[1]:
                raise ValueError(f"the model's vocabulary ({vocab}) is smaller than the tokenizer's ({mask.shape[1]})")
            mask = np.concatenate([mask, np.zeros((self.batch, vocab - mask.shape[1]), bool)], 1)
        return torch.from_numpy(mask).to(device, non_blocking=True)

    # ---- the sampler hooks

    def allowed(self, step: int) -> torch.Tensor:
        """Exact [B, V] mask (slow: every coarse candidate is checked). For samplers without ``select``."""
        mask = self.coarse_mask("cpu")
        for r in range(self.batch):
            mask[r, self.table.eos] = mask[r, self.table.eos] or self.finished[r]
            if self.finished[r]:
                continue
            for i in mask[r].nonzero().flatten().tolist():
                if self.check(r, i) is None:
                    mask[r, i] = False
        return mask

    def select(self, logits: torch.Tensor, step: int, temperature: float = 1.0, top_k: int = 0,
               top_p: float = 1.0, generator=None) -> torch.Tensor:
        """Pick one allowed id per row: Gumbel-max over the (filtered) coarse-masked logits, walked in order."""
        from .sampler import filter_logits

        device = logits.device
        self.stats["steps"] += 1
        coarse = self.coarse_mask(device, logits.shape[-1])
        masked = logits.masked_fill(~coarse, float("-inf"))
        noise = None
        if top_k == 1:
            perturbed = masked
        else:
            filtered = filter_logits(masked, temperature, top_k, top_p)
            # Gumbel-max: argmax(logit + Gumbel) = argmax(logit - log E), E ~ Exp(1)
            noise = torch.empty_like(filtered).exponential_(generator=generator).clamp_(min=1e-30).log_()
            perturbed = filtered - noise
        k = min(TOP_CANDIDATES, perturbed.shape[-1])
        values, order = perturbed.topk(k, dim=-1)
        values, order = values.tolist(), order.tolist()
        chosen = []
        for r in range(self.batch):
            if self.finished[r]:
                chosen.append(self.table.eos)
                self._next[r] = self.states[r]
                continue
            pick = None
            for v, i in zip(values[r], order[r]):
                if v == float("-inf"):
                    break
                self.stats["checks"] += 1
                new = self.check(r, i)
                if new is not None:
                    pick = (i, new)
                    break
            if pick is None:
                rest = masked[r] if noise is None else masked[r] / temperature - noise[r]
                pick = self._slow_pick(r, perturbed[r], rest)
            chosen.append(pick[0])
            self._next[r] = pick[1]
        tokens = torch.tensor(chosen, device=device)
        # the model's log-likelihood of the choice, kept on the device (summed once, in ll_sum)
        self._ll.append(logits.gather(1, tokens[:, None]).squeeze(1) - torch.logsumexp(logits, -1))
        # scored: rows still writing, except a non-final window's stop token (not the model's choice)
        stop = self.window_end is not None
        self._scored.append([not f and not (stop and c == self.table.eos) for f, c in zip(self.finished, chosen)])
        self._chosen = chosen
        return tokens

    @property
    def ll_sum(self) -> torch.Tensor | None:
        """[B] model log-likelihood of the ids chosen so far (a non-final window's stop token excluded)."""
        if not self._ll:
            return None
        ll = torch.stack(self._ll, 1)
        return (ll * torch.tensor(self._scored, device=ll.device, dtype=ll.dtype).T).sum(1)

    def _slow_pick(self, r: int, perturbed: torch.Tensor, unfiltered: torch.Tensor):
        """Every candidate in order (filtered, then the whole coarse set); the hurry token as a last resort."""
        self.stats["slow"] += 1
        for scores in (perturbed, unfiltered):
            finite = torch.isfinite(scores)
            ids = finite.nonzero().flatten()
            if len(ids) == 0:
                continue
            ids = ids[scores[ids].argsort(descending=True)].tolist()
            for i in ids:
                new = self.check(r, i)
                if new is not None:
                    return i, new
        self.stats["hurry"] += 1
        token = self.hurry_token(self.states[r])
        new = self.check(r, token)
        if new is None:  # cannot happen while hurry_cost <= budget (checked when the state was reached)
            raise RuntimeError(f"melody constraint stuck at state {self.states[r]} (budget {self.budgets[r]}, "
                               f"used {self.used[r]})")
        return token, new

    def advance(self, tokens: torch.Tensor) -> None:
        for r, token in enumerate(tokens.tolist()):
            if self.finished[r]:
                continue
            if token == self._chosen[r] and self._next[r] is not None:
                new = self._next[r]
            else:  # a sampler without select (allowed() masks): check it now
                new = self.check(r, token)
                if new is None:
                    raise ValueError(f"token {token} breaks the melody constraint in row {r}")
            self.states[r] = new
            self.used[r] += 1
            self.tokens[r].append(token)
            if token == self.table.eos:
                self.finished[r] = True
            self._next[r] = None
        self._chosen = [-1] * self.batch
