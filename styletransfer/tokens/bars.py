"""Bar lines in ticks, from time signatures: the melody plan's bars (transfer/plan.py), the piano roll's bar
lines (render.py) and `mst generate`'s cut (generate.py) are one computation, miditok's
(``miditok.utils.get_bars_ticks``), which is also how miditok splits tokens per bar.
"""
from __future__ import annotations

from math import ceil

DEFAULT_TIME_SIGNATURE = (4, 4)  # miditok's, before the first time signature


def ticks_per_bar(numerator: int, denominator: int, tpq: int) -> int:
    """As miditok.utils.compute_ticks_per_bar (its ticks per beat are truncated before the numerator)."""
    beat = tpq if denominator == 4 else int(tpq * (4 / denominator))
    return int(beat * numerator)


def bar_ticks(time_signatures, tpq: int, end: int, closed: bool = False) -> list[int]:
    """Start ticks of the bars that start before ``end``, from (tick, numerator, denominator) time signatures.

    As miditok reads them: in the given order, 4/4 from tick 0 until the first one, the last of several at
    one tick wins, one with a non-positive numerator or denominator is ignored; always at least bar 0.

    ``closed``: the bars through ``end`` itself and the end of the last of them, so every tick up to and
    including ``end`` lies in a listed bar ``[ticks[k], ticks[k + 1])`` (the melody plan's bars: the
    texture may run on to the melody's end, and a window may end at the bar after it).
    """
    limit = end + 1 if closed else end
    if limit <= 0:
        return [0]
    signatures = [(t, num, den) for t, num, den in time_signatures if num > 0 and den > 0]
    if not signatures or signatures[0][0] != 0:
        signatures.insert(0, (0, *DEFAULT_TIME_SIGNATURE))
    bars: list[int] = []
    bounds = [t for t, _, _ in signatures[1:]] + [limit]
    for (start, num, den), stop in zip(signatures, bounds):
        length = ticks_per_bar(num, den, tpq)
        count = ceil((stop - start) / length)
        bars += [start + length * i for i in range(count)]
    if closed:
        bars.append(start + length * max(0, count))  # the end of the last bar
    return bars


def score_bar_ticks(score) -> list[int]:
    """Bar start ticks of a symusic Score up to its end, exactly as ``miditok.utils.get_bars_ticks``.

    miditok reads 4/4 from tick 0 unless the first time signature is a valid one at tick 0, and then skips
    that first one whatever it is (so a first time signature after tick 0 is ignored): kept as is, since
    these bar lines must be miditok's.
    """
    signatures = [(ts.time, ts.numerator, ts.denominator) for ts in score.time_signatures]
    if signatures and not (signatures[0][0] == 0 and signatures[0][1] > 0 and signatures[0][2] > 0):
        signatures[0] = (0, *DEFAULT_TIME_SIGNATURE)
    return bar_ticks(signatures, score.ticks_per_quarter, score.end())
