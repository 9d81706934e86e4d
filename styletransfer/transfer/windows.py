"""Long melodies in windows: which bars each window writes, and which written bars it carries as context."""
from __future__ import annotations

from ..tokens.tokenizer import bpe_encode_bars

GENERATE_SHARE = 0.6  # of the context, for a window's new texture when the piece needs several windows


def bpe_per_bar(tokenizer, bars: list[list[int]]) -> list[list[int]]:
    """BPE ids of each bar (BPE never merges across bars, as in training)."""
    ids, starts = bpe_encode_bars(tokenizer, bars)
    ids = ids.tolist()
    bounds = list(starts.tolist()) + [len(ids)]
    return [ids[bounds[k]:bounds[k + 1]] for k in range(len(bars))]


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
