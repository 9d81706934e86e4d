"""Long melodies in windows: which bars each window writes, and which written bars it carries as context.

When the melody and its texture would not fit the model's context, the bars are done in windows: window
[s, e) writes the texture of bars [i, e) from the prompt ``[BOS][MELODY] melody(s..e) [TEXTURE]
texture(s..i)``. How many bars fit is planned from each bar's BPE length: the melody's are known, the
texture's are guessed from the melody's at first and then from what the model actually writes per tick.
"""
from __future__ import annotations

import numpy as np

from ..tokens.tokenizer import bpe_encode_bars
from .plan import MelodyPlan

GENERATE_SHARE = 0.6  # of the context, for a window's new texture when the piece needs several windows
TEXTURE_PER_MELODY_ID = 3.0  # the first guess of a bar's texture length: this many ids per melody id
MIN_BAR_IDS = 4.0  # no bar's texture is planned shorter (a bar of rests still takes a few ids)


def bpe_per_bar(tokenizer, bars: list[list[int]]) -> list[list[int]]:
    """BPE ids of each bar (BPE never merges across bars, as in training)."""
    ids, starts = bpe_encode_bars(tokenizer, bars)
    ids = ids.tolist()
    bounds = list(starts.tolist()) + [len(ids)]
    return [ids[bounds[k]:bounds[k + 1]] for k in range(len(bars))]


class WindowPlanner:
    """One melody's window plan: its bars' BPE ids and lengths, and the texture's guessed lengths."""

    def __init__(self, tokenizer, plan: MelodyPlan, context: int):
        self.plan, self.context = plan, context
        n_bars = plan.n_bars
        self.melody_bars = bpe_per_bar(tokenizer, plan.split_bars(plan.ids, plan.starts, 0, n_bars))
        self.melody_lengths = [len(b) for b in self.melody_bars]
        self.bar_ticks = [plan.bar_ticks[b + 1] - plan.bar_ticks[b] for b in range(n_bars)]
        self.texture_guess = [max(MIN_BAR_IDS, TEXTURE_PER_MELODY_ID * m) for m in self.melody_lengths]

    def span(self, i: int, stop_bar: int, carried_lengths: list[int]) -> tuple[int, int]:
        """(s, e): write bars [i, e) with the texture of bars [s, i) carried forward (``carried_lengths``:
        the BPE length of each written bar, the longest row's)."""
        return plan_window(i, stop_bar, self.melody_lengths, carried_lengths, self.texture_guess, self.context)

    def melody_ids(self, s: int, e: int) -> list[int]:
        """The prompt's melody: the BPE ids of bars [s, e)."""
        return [t for bar in self.melody_bars[s:e] for t in bar]

    def learn(self, i: int, e: int, written: list[int]) -> None:
        """Bars [i, e) were written with ``written`` ids per row: the guesses of the bars after ``e`` follow
        the model's rate of ids per tick."""
        ticks = max(1, self.plan.bar_ticks[e] - self.plan.bar_ticks[i])
        rate = float(np.mean(written)) / ticks
        self.texture_guess = self.texture_guess[:e] + [max(MIN_BAR_IDS, rate * self.bar_ticks[b])
                                                       for b in range(e, len(self.bar_ticks))]


def plan_window(i: int, n_bars: int, mel_len: list[int], carried_len: list[int], est: list[float],
                ctx: int) -> tuple[int, int]:
    """(s, e): generate bars [i, e) with the texture of bars [s, i) carried forward."""
    if i == 0 and 3 + sum(mel_len[:n_bars]) + sum(est[:n_bars]) <= ctx:
        return 0, n_bars  # the whole piece in one window
    e, gen = i + 1, est[i]
    while e < n_bars:
        m, g = sum(mel_len[i:e + 1]), gen + est[e]
        if 3 + m + g > GENERATE_SHARE * ctx or m > ctx // 2:
            break
        gen, e = g, e + 1
    s = i
    while s > 0:
        m, carried = sum(mel_len[s - 1:e]), sum(carried_len[s - 1:i])
        if 3 + m + carried + gen > ctx or m > ctx // 2:
            break
        s -= 1
    return s, e
