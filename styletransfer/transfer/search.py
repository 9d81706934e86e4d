"""The search over partial accompaniments: one object that holds the particles and has named steps.

Best-of-N samples N accompaniments independently and keeps the best; a mistake in bar 2 stays in every
candidate that made it. Here the batch of K candidates ("particles") is stopped every ``bars_per_step``
bars; each is scored by what a theory teacher would mark in what it has written so far (transfer/faults.py:
parallel fifths and octaves, strong-beat dissonance, beats without a bass or not in the style's number of
parts, chromatic notes no chord explains, and, once a phrase of the melody has ended, how its cadence
closes), and the batch is resampled in proportion to ``exp(-strength * new faults)``: candidates that just
made a mistake tend to be replaced by copies of ones that did not, which the model then continues
differently (each row draws its own tokens).

The model writes every note: the analysis only decides which of the model's own continuations survive,
and at the end which candidate is kept (the ranking plus ``-rank_strength * faults`` and a bonus for an
authentic cadence at the end). When no candidate of the batch ends with one, the last window is sampled
again (``final_tries``) from the same rows, and every try's candidates are ranked together: the model gets
more chances to close, nothing writes the cadence for it. This is SMC with the tempered, top-p model as the
proposal and the potential ``exp(-strength * faults)``: the target is the model's distribution reweighted
towards correct voice leading, not a set of rules. With ``transfer.search.enabled: false`` the same steps
run without stops or resampling: best-of-N.

Windows (long melodies, transfer/windows.py): window [s, e) writes bars [i, e) from the prompt
``[BOS][MELODY] melody(s..e) [TEXTURE] texture(s..i)``, so the model continues its own accompaniment; the
constraint's state carries over from window to window, so there is no seam in the melody.

Every setting comes from the validated recipe (``TransferConfig``): nothing here has a default of its own.
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

import numpy as np
from symusic import Score

from ..analysis.beats import beat_of, time_signatures_of
from ..config import SearchConfig, TransferConfig
from ..data.melody_file import fermata_quarters
from ..tokens.bars import score_bar_ticks
from ..tokens.grammar import decode_base
from ..tokens.parts import Texture
from ..tokens.skyline import melody_base_ids
from ..tokens.tokenizer import special_id
from .constraint import MelodyConstraint
from .faults import Teacher
from .plan import MelodyPlan
from .ranking import Candidate, decode_candidate, melody_consonance
from .redo import Redo, kept_texture, merge, plan_bars, replay
from .sampler import Sampling, model_context, sample
from .state import ConstraintState
from .windows import WindowPlanner, bpe_per_bar

BUDGET_SLACK = 8  # ids a row may spend beyond the cheapest way to finish, when its prompt fills the context
SEED_STRIDE = 1_000_003  # a prime above any count of windows: (seed, window) pairs never share a stream
AFTER_THE_END = 2**62  # a tick after any piece's last bar (the redo span's end when it runs to the end)


def window_stop(start: int, end: int, n_bars: int, settings: SearchConfig) -> int:
    """Where a window starting at bar ``start`` stops sampling (``end``: where its prompt's melody ends):
    ``bars_per_step`` bars on, except that a window starting within ``final_bars`` bars of the end runs to
    it, so that another try of it can write the final cadence's dominant, not only its tonic."""
    if not settings.enabled or (end >= n_bars and end - start <= settings.final_bars):
        return end
    return min(end, start + settings.bars_per_step)


def resampled_rows(faults: np.ndarray, previous: np.ndarray | None, strength: float, seed: int) -> list[int]:
    """Which rows go on (systematic resampling in proportion to ``exp(-strength * new faults)``), in row
    order: a row's new faults are its ``faults`` less the ``previous`` ones it carried (none at the first)."""
    new = faults - (previous if previous is not None else 0.0)
    log_w = -strength * new
    w = np.exp(log_w - log_w.max())
    k = len(faults)
    positions = (np.random.default_rng(seed).random() + np.arange(k)) / k
    return np.minimum(np.searchsorted(np.cumsum(w / w.sum()), positions), k - 1).tolist()


def window_seed(seed: int, window: int) -> int:
    """The sampler's seed for one window (each try of the last window is a window of its own)."""
    return seed * SEED_STRIDE + window


@dataclass
class Window:
    """Bars [start, end) are written; the prompt's melody holds bars [prompt_start, prompt_end), its texture
    bars [prompt_start, start); ``index`` counts windows and tries, for the seed."""

    index: int
    prompt_start: int
    start: int
    end: int
    final: bool  # reaches the melody's end: EOS ends the piece
    last: bool  # the last bar to write (the end, or a redo span's)
    melody_ids: list[int]


@dataclass
class Particles:
    """The batch, one row per candidate: constraint state, texture (base ids and their start ticks), the BPE
    length of each finished bar, the model ids sampled, and their summed log-likelihood."""

    states: list[ConstraintState]
    texture: list[list[int]]
    starts: list[list[int]]
    bar_lengths: list[list[int]]
    sampled: list[list[int]]
    ll_sum: list[float]
    n_scored: list[int]

    @classmethod
    def alike(cls, n: int, state: ConstraintState, texture: list[int], starts: list[int],
              bar_lengths: list[int], sampled: list[int]) -> Particles:
        """``n`` rows that all begin from the same texture (none, or a redo's kept bars)."""
        return cls([state] * n, [list(texture) for _ in range(n)], [list(starts) for _ in range(n)],
                   [list(bar_lengths) for _ in range(n)], [list(sampled) for _ in range(n)], [0.0] * n, [0] * n)

    def take(self, rows: list[int]) -> Particles:
        """The rows ``rows`` (a row kept twice goes on as two rows, each extended by its own tokens)."""
        return Particles([self.states[k] for k in rows], [list(self.texture[k]) for k in rows],
                         [list(self.starts[k]) for k in rows], [list(self.bar_lengths[k]) for k in rows],
                         [list(self.sampled[k]) for k in rows], [self.ll_sum[k] for k in rows],
                         [self.n_scored[k] for k in rows])

    def copy(self) -> Particles:
        return self.take(list(range(len(self))))

    def __len__(self) -> int:
        return len(self.states)


class Search:
    """One melody's search: the particles, the window plan, the teacher; ``accompany.transfer`` runs its steps."""

    def __init__(self, melody_score: Score, model, tokenizer, settings: TransferConfig, seed: int,
                 candidates: int, redo: Redo | None = None, context: int | None = None,
                 texture: Texture | None = None):
        self.melody_score, self.model, self.tokenizer, self.settings = melody_score, model, tokenizer, settings
        self.texture = texture or Texture.piano()
        self.seed, self.redo = seed, redo
        self.grammar = grammar = tokenizer.grammar
        self.plan = plan = MelodyPlan(grammar, melody_base_ids(melody_score, tokenizer))
        self.sampling = Sampling(settings.temperature, settings.top_k, settings.top_p)
        self.hard_rules = frozenset(settings.hard_rules)
        self.eos = special_id(tokenizer, "EOS")
        self.prompt_head = [special_id(tokenizer, "BOS"), special_id(tokenizer, "MELODY")]
        self.texture_token = special_id(tokenizer, "TEXTURE")
        self.context = min(context or model_context(model), model_context(model))
        self.n_bars = plan.n_bars
        self.windows = WindowPlanner(tokenizer, plan, self.context)
        # the parts the teacher expects: the style's, with parts; the recipe's, for a model trained before them
        parts = self.texture.count if grammar.parts else settings.search.parts or 4
        self.teacher = Teacher(settings.search, plan, grammar, beat_of(melody_score),
                               tuple(time_signatures_of(melody_score)),
                               fermata_quarters(melody_score), parts) if settings.search.enabled else None
        self.start_bar, self.stop_bar, self.n_windows = 0, self.n_bars, 0
        self.redo_span = (0, self.n_bars)  # the bars a redo writes again
        self.particles = self._first_particles(candidates)
        self.row_faults: np.ndarray | None = None  # each row's faults at the last resampling
        self._written: list[int] = []  # ids each row wrote in the last window
        self.tried: list[Particles] = []  # the earlier tries of the last window
        self.before_last: Particles | None = None  # the rows before the last window, for another try of it

    def _first_particles(self, n: int) -> Particles:
        """``n`` empty rows; with a redo, rows holding the kept texture up to its span."""
        if self.redo is None:
            return Particles.alike(n, self.plan.initial_state(), [], [], [], [])
        plan = self.plan
        self.redo_span = plan_bars(self.melody_score, self.redo.first, self.redo.last, self.n_bars)
        self.start_bar, self.stop_bar = self.redo_span
        kept_ids = kept_texture(self.redo.kept, self.tokenizer)
        kept_starts = decode_base(self.grammar, kept_ids).starts
        cut = bisect_left(kept_starts, plan.bar_ticks[self.start_bar])
        kept_bpe = bpe_per_bar(self.tokenizer, plan.split_bars(kept_ids[:cut], kept_starts[:cut], 0, self.start_bar))
        return Particles.alike(n, replay(plan, kept_ids[:cut], self.hard_rules, self.texture), kept_ids[:cut],
                               kept_starts[:cut],
                               [len(b) for b in kept_bpe], [t for bar in kept_bpe for t in bar])

    # ---- the steps

    def next_window(self) -> Window:
        """The next bars to write: as many as fit the context (the window plan), stopped every few bars
        when searching (``window_stop``); the prompt still holds the melody to the plan's end."""
        i, rows = self.start_bar, self.particles
        carried = [max(lengths[b] for lengths in rows.bar_lengths) for b in range(i)]
        s, e = self.windows.span(i, self.stop_bar, carried)
        melody_ids = self.windows.melody_ids(s, e)
        e = window_stop(i, e, self.n_bars, self.settings.search)
        final = e >= self.n_bars
        return Window(self.n_windows, s, i, e, final, final or e >= self.stop_bar, melody_ids)

    def sample(self, window: Window) -> None:
        """Every row writes the window's bars under the melody constraint, in one batch."""
        plan, rows = self.plan, self.particles
        if window.final and self.teacher is not None:
            self.before_last = rows.copy()
        prompts = [self._prompt(window, r) for r in range(len(rows))]
        window_end = None if window.final else plan.bar_ticks[window.end]
        constraint = MelodyConstraint(plan, rows.states, window_end=window_end, hard_rules=self.hard_rules,
                                      texture=self.texture)
        # the context left after the prompt, but always room to finish (the ring cache rolls past the context)
        constraint.budgets = [max(self.context - len(p), constraint.hurry_cost(st) + BUDGET_SLACK)
                              for p, st in zip(prompts, rows.states)]
        if window.final or not all(constraint.eos_ok(st) for st in rows.states):
            sample(self.model, prompts, max(constraint.budgets), sampling=self.sampling,
                   seed=window_seed(self.seed, window.index), eos_id=self.eos, constraint=constraint)
        ll = constraint.ll_sum.tolist() if constraint.ll_sum is not None else [0.0] * len(rows)
        written = []
        for r, ids in enumerate(constraint.tokens):
            tokens = ids[:-1] if ids and ids[-1] == self.eos else ids
            rows.ll_sum[r] += ll[r]
            rows.n_scored[r] += len(ids) if window.final else len(tokens)  # the piece's EOS is scored
            rows.sampled[r] += tokens
            new = [b for t in tokens for b in self.grammar.expansions[t]]
            rows.texture[r] += new
            rows.starts[r] += decode_base(self.grammar, new, rows.states[r]).starts
            written.append(len(tokens))
        rows.states = constraint.states
        self._written = written
        self.n_windows += 1

    def _prompt(self, window: Window, r: int) -> list[int]:
        """``[BOS][MELODY] melody(s..e) [TEXTURE] texture(s..i)`` for row ``r``."""
        rows, plan, s = self.particles, self.plan, window.prompt_start
        first = bisect_left(rows.starts[r], plan.bar_ticks[s]) if s else 0
        carried = plan.split_bars(rows.texture[r][first:], rows.starts[r][first:], s, window.start)
        return (self.prompt_head + window.melody_ids + [self.texture_token]
                + [t for bar in bpe_per_bar(self.tokenizer, carried) for t in bar])

    def retry_last_window(self) -> bool:
        """After the last window: when no row ends with an authentic cadence and tries are left, keep these
        rows for the ranking and go back to the rows before it (True: sample it again)."""
        if (self.teacher is None or len(self.tried) + 1 >= self.settings.search.final_tries
                or any(self.teacher.ends_authentic(t) for t in self.particles.texture)):
            return False
        self.tried.append(self.particles)
        self.particles = self.before_last.copy()
        return True

    def resample(self, window: Window) -> None:
        """After a window that is not the last: its bars are finished (their BPE lengths, for planning the
        next windows), the model's rate of ids per tick is learnt, and, when searching, the rows are resampled
        by their new faults (``resampled_rows``)."""
        rows, plan, i, e = self.particles, self.plan, window.start, window.end
        for r in range(len(rows)):
            first = bisect_left(rows.starts[r], plan.bar_ticks[i])
            bars = plan.split_bars(rows.texture[r][first:], rows.starts[r][first:], i, e)
            rows.bar_lengths[r] += [len(b) for b in bpe_per_bar(self.tokenizer, bars)]
        self.windows.learn(i, e, self._written)
        self.start_bar = e
        if self.teacher is None:
            return
        written_to = plan.bar_ticks[e] / self.grammar.tpq
        faults = np.array([self.teacher.faults(t, written_to) for t in rows.texture])
        keep = resampled_rows(faults, self.row_faults, self.settings.search.strength,
                              window_seed(self.seed, window.index))
        self.row_faults = faults[keep]
        self.particles = rows.take(keep)

    def candidates(self) -> list[Candidate]:
        """Every try's rows decoded and ranked, best first; the best ``len(particles)`` of them."""
        rows = self.particles
        every = [rows, *self.tried]  # this try's rows first, then the earlier tries'
        texture = [t for p in every for t in p.texture]
        sampled = [t for p in every for t in p.sampled]
        ll_sum = [v for p in every for v in p.ll_sum]
        n_scored = [v for p in every for v in p.n_scored]
        picked = range(len(rows)) if self.teacher is None else _distinct(sampled)  # resampled copies are one
        bar_starts = score_bar_ticks(self.melody_score) + [AFTER_THE_END]
        out = []
        for r in picked:
            score, n_acc, penalty = decode_candidate(self.tokenizer, self.plan, sampled[r], self.melody_score,
                                                     self.texture)
            if self.redo is not None:  # the new bars into the kept result
                first, stop = self.redo_span
                score = merge(self.redo.kept, score, bar_starts[first], bar_starts[min(stop, len(bar_starts) - 1)])
                n_acc = sum(len(t.notes) for t in score.tracks[1:])
            mean_ll = ll_sum[r] / max(1, n_scored[r])
            consonance = melody_consonance(score)
            analysis = self.teacher.final_score(texture[r]) if self.teacher is not None else 0.0
            rank = mean_ll - penalty + self.settings.harmony_weight * consonance + analysis
            out.append(Candidate(score, mean_ll, penalty, rank, n_acc, sampled[r], self.seed, consonance))
        out.sort(key=lambda c: -c.rank_score)
        return out[:len(rows)]  # the best, over every try of the last window


def _distinct(rows: list[list[int]]) -> list[int]:
    """The index of the first of each distinct row."""
    seen: dict[tuple[int, ...], int] = {}
    for r, ids in enumerate(rows):
        seen.setdefault(tuple(ids), r)
    return list(seen.values())
