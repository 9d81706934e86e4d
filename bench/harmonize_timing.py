"""What the harmonize benchmarks share: their options, and variants timed in turn, best of ``--repeat``."""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_args(doc: str) -> argparse.Namespace:
    """--melody, --base, --style, --repeat."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--melody", type=Path, default=ROOT / "data/melodies/happy_birthday.mid")
    ap.add_argument("--base", default=None, help="a run folder (default: runs/base, else the shipped model)")
    ap.add_argument("--style", default="bach")
    ap.add_argument("--repeat", type=int, default=3)
    return ap.parse_args()


def best_times(runs: list[tuple[str, Callable[[], object]]], repeat: int) -> tuple[dict[str, float], dict]:
    """Each run's best wall time over ``repeat`` rounds, the runs alternating so that a busy machine disturbs
    them alike; and each run's last result."""
    best = {label: float("inf") for label, _ in runs}
    last = {}
    for _ in range(repeat):
        for label, run in runs:
            started = time.perf_counter()
            last[label] = run()
            best[label] = min(best[label], time.perf_counter() - started)
    return best, last
