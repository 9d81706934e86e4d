"""Search over partial accompaniments: sequential Monte Carlo with the teacher's analysis as the potential.

Best-of-N samples N accompaniments independently and keeps the best; a mistake in bar 2 stays in every
candidate that made it. Here the batch of K candidates ("particles") is stopped every ``bars_per_step``
bars; each is scored by what a theory teacher would mark in what it has written so far (parallel fifths and
octaves against the melody and between voices, strong-beat dissonance, beats without a bass or not in the
style's number of parts, chromatic notes no chord explains: analysis/voice_leading.py, analysis/dissonance.py;
and, once a phrase of the melody has ended, how its cadence closes: analysis/cadences.py), and the batch is
resampled in proportion to ``exp(-strength * new faults)``: candidates that just made a mistake tend to be
replaced by copies of ones that did not, which the model then continues differently (each row draws its
own tokens).

The model writes every note: the analysis only decides which of the model's own continuations survive,
and at the end which candidate is kept (the usual ranking plus ``-strength * faults`` and a bonus for an
authentic cadence at the end, ``analysis/cadences.py``). When no candidate of the batch ends with one, the
last window is sampled again (``final_tries``) from the same rows, and every try's candidates are ranked
together: the model gets more chances to close, nothing writes the cadence for it. This is SMC with the
tempered, top-p model as the proposal and the potential ``exp(-strength * faults)``: the target is the model's distribution reweighted
towards correct voice leading, not a set of rules.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..analysis.beats import EPS
from ..analysis.cadences import cadence_rates, phrase_cadences
from ..analysis.dissonance import dissonance_rates
from ..analysis.phrases import monophonic, phrase_ends, phrase_starts
from ..analysis.voice_leading import voice_leading_rates
from ..keys import estimate_key, final_pitch
from ..tokens.grammar import Grammar, decode_base
from .plan import MelodyPlan

# what a fault costs, per kind (the analysis' counts); the recipe's transfer.search.fault_weights by default
FAULT_WEIGHTS = {"parallels_melody_bass": 1.0, "parallels_any_voices": 0.5, "hidden_outer": 0.25,
                 "voice_crossing": 0.25, "spacing": 0.25, "no_bass": 0.5, "strong_beat_dissonance": 0.5,
                 "unexplained_chromatic": 0.5, "voice_count": 0.0, "voice_count_time": 0.0,
                 "bass_repeat": 0.0, "bass_leap": 0.0}
# what a phrase end costs, by its cadence: the search knows where cadences are due (the melody's phrase ends,
# analysis/phrases.py) and prefers the model's continuations that close them; the final one is the ranking's bonus
CADENCE_FAULTS = {"authentic": 0.0, "half": 0.5, "plagal": 0.5, "deceptive": 0.5, "none": 1.0}
# a window starting this close to the end runs to it: a final cadence's dominant and tonic in one window
FINAL_BARS = 2


@dataclass(frozen=True)
class Search:
    """How to search: ``bars_per_step`` bars between resamplings; ``strength``: the log-weight of one fault
    when resampling; ``rank_strength``: what one fault costs in the final ranking (whose other terms are a
    mean log-likelihood per token and a consonance in [-1, 1]); ``cadence_bonus``: added to the final
    score for an authentic cadence onto the tonic at the end; ``cadence_weight``: what an inner phrase end
    costs, times ``CADENCE_FAULTS`` of its cadence; ``fault_weights``: what one of each kind of fault costs
    (``FAULT_WEIGHTS``' kinds); ``final_tries``: how many times the last window is sampled while no
    candidate ends with an authentic cadence (every try's candidates are ranked together); ``parts``: how
    many parts the style's texture has (the ``voice_count`` fault: a beat in more or fewer)."""

    bars_per_step: int = 1
    strength: float = 1.0
    rank_strength: float = 0.1
    cadence_bonus: float = 0.5
    cadence_weight: float = 1.0
    fault_weights: dict[str, float] = field(default_factory=lambda: dict(FAULT_WEIGHTS))
    final_tries: int = 1
    parts: int = 4

    def stop(self, i: int, e: int, n_bars: int) -> int:
        """Where the window starting at bar ``i`` stops sampling (``e``: where its prompt's melody ends;
        ``n_bars``: the melody's). A window that starts within ``FINAL_BARS`` bars of the end runs to it, so
        that with one-bar steps the last window holds the last two bars and a try of it again
        (``final_tries``) can write the dominant before the final tonic, not only the tonic. (With two-bar
        steps an odd number of bars still leaves a last window of one bar, as before.)"""
        if e >= n_bars and e - i <= FINAL_BARS:
            return e
        return min(e, i + self.bars_per_step)

    def begin(self, plan: MelodyPlan, grammar: Grammar, beat: float, time_signatures,
              fermatas: list[float] | None = None) -> SearchRun:
        return SearchRun(self, plan, grammar, beat, tuple(time_signatures), fermatas)


class SearchRun:
    """One melody's search: its key (from the melody), its phrase ends (at its fermatas when it has them,
    as a chorale does, else found by analysis/phrases.py), and the faults of the rows so far."""

    def __init__(self, search: Search, plan: MelodyPlan, grammar: Grammar, beat: float, time_signatures: tuple,
                 fermatas: list[float] | None = None):
        self.search, self.plan, self.grammar = search, plan, grammar
        self.beat, self.time_signatures, self.fermatas = beat, time_signatures, fermatas
        pitches = [p for _, p, _, _, _ in plan.notes]
        self.key = estimate_key(pitches, [d for _, _, _, _, d in plan.notes],
                                last=final_pitch([on for on, _, _, _, _ in plan.notes], pitches))
        self.melody_keys = {(on, p) for on, p, _, _, _ in plan.notes}
        tpq = grammar.tpq
        melody = np.asarray([(on / tpq, (on + d) / tpq, p) for on, p, _, _, d in plan.notes], float).reshape(-1, 3)
        ends = phrase_ends(melody, beat, time_signatures, fermatas)
        line = monophonic(melody)
        self.phrase_ends = line[ends[:-1], 0] if len(ends) else np.zeros(0)  # the last: final_score
        self.phrase_end_notes_end = line[ends[:-1], 1] if len(ends) else np.zeros(0)  # when its cadence is written
        self.row_faults: np.ndarray | None = None
        self._authentic: dict[tuple[int, ...], bool] = {}  # finished textures' ends: the retry check and the ranking

    def notes(self, texture: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(melody, accompaniment) as (onset_q, end_q, pitch) rows, from the base ids written so far."""
        tpq = self.grammar.tpq
        mel, acc = [], []
        for on, p, _, _, d in decode_base(self.grammar, texture).notes:
            (mel if (on, p) in self.melody_keys else acc).append((on / tpq, (on + d) / tpq, p))
        return np.asarray(mel, float).reshape(-1, 3), np.asarray(acc, float).reshape(-1, 3)

    def faults(self, texture: list[int], written_to: float | None = None) -> float:
        """The weighted count of the faults in what is written (partial or whole); ``written_to``: the
        quarter where every row's texture is finished (a window's end), so that a cadence counts as soon
        as its phrase's last note is accompanied."""
        return self._faults(*self.notes(texture), written_to)

    def _faults(self, mel: np.ndarray, acc: np.ndarray, written_to: float | None = None) -> float:
        if not len(acc) or not len(mel):
            return 0.0
        seams = phrase_starts(mel, phrase_ends(mel, self.beat, self.time_signatures, self.fermatas))
        counts = {**voice_leading_rates(mel, acc, self.beat, breaks=seams, parts=self.search.parts),
                  **dissonance_rates(mel, acc, self.beat, self.time_signatures, self.key)}
        faults = sum(w * counts.get(f"{kind}_count", 0.0) for kind, w in self.search.fault_weights.items())
        return float(faults + self._cadence_faults(mel, acc, written_to))

    def _cadence_faults(self, mel: np.ndarray, acc: np.ndarray, written_to: float | None = None) -> float:
        """``CADENCE_FAULTS`` summed over the melody's inner phrase ends whose cadence is written: the
        phrase's last note accompanied to its end (by ``written_to``), or, without it, the next phrase
        begun. Read in the melody's key, or a closely related one (analysis/cadences.py)."""
        if written_to is not None:
            done = self.phrase_ends[self.phrase_end_notes_end <= written_to + EPS]
        else:
            done = self.phrase_ends[self.phrase_ends < mel[:, 0].max() - EPS]
        if not len(done):
            return 0.0
        _, cadences = phrase_cadences(mel, acc, self.beat, self.time_signatures, done, self.key, figures=False)
        return self.search.cadence_weight * sum(CADENCE_FAULTS[c.kind] for c in cadences
                                                if np.abs(done - c.end).min() < EPS)

    def select(self, textures: list[list[int]], seed: int, written_to: float | None = None) -> list[int]:
        """Which rows continue (systematic resampling by ``exp(-strength * new faults)``), in row order;
        ``written_to``: the quarter where the window just sampled ends (``faults``)."""
        faults = np.array([self.faults(t, written_to) for t in textures])
        new = faults - (self.row_faults if self.row_faults is not None else 0.0)
        log_w = -self.search.strength * new
        w = np.exp(log_w - log_w.max())
        k = len(textures)
        positions = (np.random.default_rng(seed).random() + np.arange(k)) / k
        keep = np.minimum(np.searchsorted(np.cumsum(w / w.sum()), positions), k - 1).tolist()
        self.row_faults = faults[keep]
        return keep

    def ends_authentic(self, texture: list[int]) -> bool:
        """Whether a finished candidate ends with an authentic cadence onto the tonic of the key it is in."""
        return self._end_is_authentic(texture)

    def _end_is_authentic(self, texture: list[int], notes: tuple[np.ndarray, np.ndarray] | None = None) -> bool:
        """``ends_authentic``, read once per texture (``notes``: its notes, when they are at hand)."""
        key = tuple(texture)
        if key not in self._authentic:
            self._authentic[key] = self._ends_authentic(*(notes or self.notes(texture)))
        return self._authentic[key]

    def _ends_authentic(self, mel: np.ndarray, acc: np.ndarray) -> bool:
        """Read as the teacher reads the whole piece (analysis/theory.py): in the key of all its notes, which the
        accompaniment helps decide, not only the melody's (a chorale tune ending on the fifth of its tonic
        names the dominant)."""
        if not len(acc) or not len(mel):
            return False
        key, cadences = phrase_cadences(mel, acc, self.beat, self.time_signatures, self.fermatas, None, figures=False)
        return cadence_rates(cadences, home=key).get("final_authentic", 0.0) > 0

    def final_score(self, texture: list[int]) -> float:
        """Added to a finished candidate's rank score: ``-rank_strength * faults``, and the cadence bonus."""
        mel, acc = self.notes(texture)
        score = -self.search.rank_strength * self._faults(mel, acc)
        return score + (self.search.cadence_bonus if self._end_is_authentic(texture, (mel, acc)) else 0.0)
