"""Unconstrained sampling that still writes whole notes: `mst generate`'s constraint.

Without a melody to keep, the model may write anything, but a token that breaks TSD's note grammar decodes
to nothing (a Program or a Pitch with no Velocity and Duration after it; a Velocity out of place). With
parts, a small model writes such runs often enough that two bars can hold no note. ``NoteGrammar`` lets
through only the ids whose whole expansion keeps the grammar: (Program,) Pitch, Velocity, Duration for each
note, time, tempo and time signature tokens between notes, EOS only between notes. The table of what each
id does from each state is built once per tokenizer; a step is one lookup per row.
"""
from __future__ import annotations

import numpy as np
import torch

from ..tokens.grammar import K_DUR, K_EOS, K_OTHER, K_PITCH, K_PROGRAM, K_VEL, Grammar
from .sampler import MaskConstraint

BETWEEN, AFTER_PITCH, AFTER_VELOCITY, AFTER_PROGRAM = 0, 1, 2, 3  # as transfer/state.py's note_part
INVALID = -1


def note_steps(grammar: Grammar) -> np.ndarray:
    """[4, V]: the state after each model id from each state (``INVALID`` where it breaks the grammar)."""
    g = grammar
    table = np.full((4, g.size), INVALID, np.int64)
    for state in range(4):
        for i, expansion in enumerate(g.expansions):
            s = state
            for b in expansion:
                k = g.kind[b]
                if s == AFTER_PROGRAM:
                    s = AFTER_PITCH if k == K_PITCH else INVALID
                elif s == AFTER_PITCH:
                    s = AFTER_VELOCITY if k == K_VEL else INVALID
                elif s == AFTER_VELOCITY:
                    s = BETWEEN if k == K_DUR else INVALID
                elif k == K_PROGRAM:
                    s = AFTER_PROGRAM
                elif k == K_PITCH:
                    s = INVALID if g.parts else AFTER_PITCH
                elif k in (K_VEL, K_DUR, K_OTHER, K_EOS):
                    s = INVALID  # EOS alone is handled by the mask; the other specials are never sampled
                if s == INVALID:
                    break
            table[state, i] = s if expansion else INVALID
    return table


class NoteGrammar(MaskConstraint):
    """The sampler's constraint for rows that continue ``prompts`` (their special tokens skipped)."""

    def __init__(self, grammar: Grammar, prompts: list[list[int]]):
        table = note_steps(grammar)
        self.steps = torch.from_numpy(table)
        self.eos = grammar.eos
        specials = {i for i, exp in enumerate(grammar.expansions) if any(grammar.kind[b] in (K_OTHER, K_EOS) for b in exp)}
        states = []
        for prompt in prompts:
            state = BETWEEN
            for i in prompt:
                if i not in specials and 0 <= i < grammar.size:
                    state = max(BETWEEN, int(table[state, i]))
            states.append(state)
        self.states = torch.tensor(states, dtype=torch.long)

    def allowed(self, step: int) -> torch.Tensor:
        mask = self.steps[self.states] != INVALID
        mask[:, self.eos] = self.states == BETWEEN
        return mask

    def advance(self, tokens: torch.Tensor) -> None:
        tokens = tokens.to("cpu")
        ended = tokens == self.eos
        moved = self.steps[self.states, tokens.clamp(max=self.steps.shape[1] - 1)]
        self.states = torch.where(ended, self.states, moved.clamp(min=0))
