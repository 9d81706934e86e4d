"""What a theory teacher marks in a partial or finished accompaniment, as one number the search can weigh.

``Teacher`` reads one melody once (its key, its phrase ends: at its fermatas when it has them, as a chorale
does, else found by analysis/phrases.py) and then scores the search's rows: the weighted count of the
faults in what a row has written (``analysis.theory.fault_counts``: parallels, dissonance, spacing, the
bass...), plus what each inner phrase end whose cadence is written costs by its kind (authentic, half,
plagal, deceptive, none: analysis/cadences.py), and, for a finished row, whether it ends with an authentic
cadence onto the tonic. The weights are the recipe's (``transfer.search``); a weight that names no fault
the analysis counts is refused here, so a misspelt key cannot silently weigh nothing.
"""
from __future__ import annotations

import numpy as np

from ..analysis.beats import EPS
from ..analysis.cadences import cadence_rates, phrase_cadences
from ..analysis.phrases import monophonic, phrase_ends, phrase_starts
from ..analysis.theory import FAULT_KINDS, fault_counts
from ..config import SearchConfig
from ..keys import estimate_key, final_pitch
from ..tokens.grammar import Grammar, decode_base
from .plan import MelodyPlan


class Teacher:
    """One melody's analysis for the search: faults of a row, cadences due, the end of a finished row."""

    def __init__(self, settings: SearchConfig, plan: MelodyPlan, grammar: Grammar, beat: float,
                 time_signatures: tuple, fermatas: list[float] | None, parts: int):
        self.weights = settings.fault_weights.model_dump()
        unknown = set(self.weights) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"fault weights name faults the analysis does not count: {sorted(unknown)}")
        self.cadence_costs = settings.cadence_faults.model_dump()
        self.settings, self.grammar, self.parts = settings, grammar, parts
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
        self._authentic: dict[tuple[int, ...], bool] = {}  # finished rows' ends: the retry check and the ranking

    def notes(self, texture: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(melody, accompaniment) as (onset_q, end_q, pitch) rows, from the base ids written so far, and
        each accompaniment note's part (with parts; else None)."""
        tpq = self.grammar.tpq
        mel, acc, parts = [], [], []
        decoded = decode_base(self.grammar, texture)
        for (on, p, _, _, d), part in zip(decoded.notes, decoded.note_part):
            if (on, p) in self.melody_keys and part == 0:
                mel.append((on / tpq, (on + d) / tpq, p))
            else:
                acc.append((on / tpq, (on + d) / tpq, p))
                parts.append(part)
        return (np.asarray(mel, float).reshape(-1, 3), np.asarray(acc, float).reshape(-1, 3),
                np.asarray(parts, int) if self.grammar.parts else None)

    def faults(self, texture: list[int], written_to: float | None = None) -> float:
        """The weighted count of the faults in what is written (partial or whole); ``written_to``: the
        quarter where every row's texture is finished (a window's end), so that a cadence counts as soon
        as its phrase's last note is accompanied."""
        return self._faults(*self.notes(texture), written_to)

    def _faults(self, mel: np.ndarray, acc: np.ndarray, parts: np.ndarray | None = None,
                written_to: float | None = None) -> float:
        if not len(mel):
            return 0.0  # an accompaniment with nothing to accompany yet (or nothing written): nothing to mark
        # (a row that wrote no accompaniment is marked too: a beat without a bass, a beat not in the parts)
        seams = phrase_starts(mel, phrase_ends(mel, self.beat, self.time_signatures, self.fermatas))
        counts = fault_counts(mel, acc, self.beat, self.time_signatures, self.key, breaks=seams,
                              parts=self.parts, accompaniment_parts=parts)
        faults = sum(w * counts[kind] for kind, w in self.weights.items())
        return float(faults + self._cadence_faults(mel, acc, written_to))

    def _cadence_faults(self, mel: np.ndarray, acc: np.ndarray, written_to: float | None = None) -> float:
        """What the melody's inner phrase ends whose cadence is written cost (``cadence_weight`` times the
        recipe's ``cadence_faults`` of each one's kind): the phrase's last note accompanied to its end (by
        ``written_to``), or, without it, the next phrase begun. Read in the melody's key, or a closely
        related one (analysis/cadences.py)."""
        if written_to is not None:
            done = self.phrase_ends[self.phrase_end_notes_end <= written_to + EPS]
        else:
            done = self.phrase_ends[self.phrase_ends < mel[:, 0].max() - EPS]
        if not len(done):
            return 0.0
        _, cadences = phrase_cadences(mel, acc, self.beat, self.time_signatures, done, self.key, figures=False)
        return self.settings.cadence_weight * sum(self.cadence_costs[c.kind] for c in cadences
                                                  if np.abs(done - c.end).min() < EPS)

    def ends_authentic(self, texture: list[int], notes: tuple | None = None) -> bool:
        """Whether a finished row ends with an authentic cadence onto the tonic of the key it is in; read
        once per texture (``notes``: its notes, when they are at hand)."""
        key = tuple(texture)
        if key not in self._authentic:
            self._authentic[key] = self._ends_authentic(*(notes or self.notes(texture))[:2])
        return self._authentic[key]

    def _ends_authentic(self, mel: np.ndarray, acc: np.ndarray) -> bool:
        """Read as the teacher reads the whole piece (analysis/theory.py): in the key of all its notes, which
        the accompaniment helps decide, not only the melody's (a chorale tune ending on the fifth of its
        tonic names the dominant)."""
        if not len(acc) or not len(mel):
            return False
        key, cadences = phrase_cadences(mel, acc, self.beat, self.time_signatures, self.fermatas, None, figures=False)
        return cadence_rates(cadences, home=key).get("final_authentic", 0.0) > 0

    def final_score(self, texture: list[int]) -> float:
        """Added to a finished row's rank score: ``-rank_strength * faults``, and the cadence bonus."""
        notes = self.notes(texture)
        score = -self.settings.rank_strength * self._faults(*notes)
        return score + (self.settings.cadence_bonus if self.ends_authentic(texture, notes) else 0.0)
