"""Melody in, accompanied candidates out: the search's steps in order (transfer/search.py holds them).

The prompt is the training pair's, ``[BOS][MELODY] melody [TEXTURE]``, and the model writes the texture
under ``constraint.MelodyConstraint``, which keeps every melody note in it, note for note, with nothing
sounding above it. Window by window (a window: the bars that fit the context, stopped every
``bars_per_step`` bars when searching), the batch is sampled, the last window tried again while no
candidate closes with an authentic cadence, and the rest resampled by the teacher's analysis.

Ranking (``Search.candidates``): mean model log-likelihood per texture token (the model's own distribution
at temperature 1, unfiltered: how well the candidate fits the style), minus a penalty for degenerate
accompaniment (none at all, or one repeated pitch), plus ``harmony_weight`` times the candidate's
consonance with the melody (the pitch consistency score of Yeh et al. 2021, analysis/harmony.py, in
[-1, 1]), plus the teacher's final score when searching. The likelihood alone cannot see a clash with the
melody — the melody is in the prompt, but a model this small often writes a plausible chorale texture in
a neighbouring key — and the weight was chosen on Bach's validation chorales (docs/results.md).
"""
from __future__ import annotations

from typing import Callable

from symusic import Score

from ..config import TransferConfig
from ..errors import UserError
from ..tokens.parts import Texture
from .ranking import Candidate
from .redo import Redo
from .search import Search


def transfer(melody_score: Score, model, tokenizer, settings: TransferConfig, seed: int, candidates: int,
             progress: Callable[[int, int], None] | None = None, redo: Redo | None = None,
             context: int | None = None, texture: Texture | None = None) -> list[Candidate]:
    """``candidates`` accompaniments of the melody, sampled in one batch with the recipe's ``settings``,
    best first.

    ``progress(bars_done, bars)`` is called after each window; ``redo`` (transfer/redo.py) writes only its
    bars again and keeps the rest of its kept result; ``context`` may shrink the model's own context to
    force smaller windows; ``texture``: the style's parts (its texture.json; None: the melody and one
    accompaniment part). Every candidate holds every melody note (onset, pitch, duration on the
    tokenizer's grid) with nothing sounding above it; the output keeps the input's tempos, time and key
    signatures. Raises UserError for a melody without notes.
    """
    if candidates < 1:
        raise UserError("candidates must be at least 1")
    search = Search(melody_score, model, tokenizer, settings, seed, candidates, redo, context, texture)
    while True:
        window = search.next_window()
        search.sample(window)
        if window.final and search.retry_last_window():
            continue
        if progress is not None:
            progress(window.end, search.n_bars)
        if window.last:
            return search.candidates()
        search.resample(window)
