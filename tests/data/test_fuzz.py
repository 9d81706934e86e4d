"""A seeded subset of the fuzz harness (bench/fuzz.py): every hand-built case and a few hundred mutated
inputs through the melody reader, the dataset reader and the recipe loader; none may crash or pass the
harness's limits (10 s, 1 GB each)."""
from __future__ import annotations

from bench import fuzz


def test_nothing_a_user_can_feed_the_readers_crashes_them():
    result = fuzz.fuzz(n=len(fuzz.hand_built()) + 160, seed=7)
    tally = result["tally"]
    assert set(tally) == {"melody", "dataset", "recipe"}
    crashed = result["examples"].get("crashed", [])
    over = result["examples"].get("over", [])
    assert not crashed and not over, (crashed + over)[:5]
    assert sum(c["refused"] for c in tally.values()) > 50 and tally["melody"]["read"] > 5  # it fed both kinds


def test_the_harness_can_tell_a_crash():
    outcome, message = fuzz.attempt(lambda: [][1], seconds=5)
    assert outcome == "crashed" and "IndexError" in message
    assert fuzz.attempt(lambda: fuzz.time.sleep(3), seconds=0.2)[0] == "over"
