"""What the search costs: `mst transfer`'s default (SMC search over 32 candidates, the hard rules, the reference
key) against the best-of-8 the transfer used before the search, on one melody, measured side by side.

    python bench/search.py [--melody data/melodies/happy_birthday.mid] [--base DIR] [--style bach] [--repeat 3]

One model load; then each variant harmonizes the melody ``--repeat`` times, the variants alternating so
that a busy machine disturbs them alike; each variant's best time counts. The ratio is each variant's time
over best-of-8's. Seeds are fixed: every repeat of a variant writes the same notes.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from styletransfer.data.melody_file import quiet_read_melody  # noqa: E402
from styletransfer.transfer.pipeline import harmonize, load_style  # noqa: E402


def variants(settings):
    """(label, transfer settings): the default first, best-of-8 last (the reference)."""
    search_off = settings.search.model_copy(update={"enabled": False})
    best_of_8 = settings.model_copy(update={"search": search_off, "candidates": 8, "hard_rules": []})
    return [(f"default (search, {settings.candidates} candidates)", settings),
            ("default without key normalization", settings.model_copy(update={"key_normalize": False})),
            ("search off, 32 candidates", settings.model_copy(update={"search": search_off})),
            ("best of 8 (before the search)", best_of_8)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--melody", type=Path, default=ROOT / "data/melodies/happy_birthday.mid")
    ap.add_argument("--base", default=None, help="a run folder (default: runs/base, else the shipped model)")
    ap.add_argument("--style", default="bach")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    melody = quiet_read_melody(args.melody)
    loaded = load_style(args.base, args.style)
    runs = variants(loaded.recipe.transfer)
    best = {label: float("inf") for label, _ in runs}
    for _ in range(args.repeat):
        for label, settings in runs:
            started = time.perf_counter()
            harmonize(melody, loaded, seed=0, settings=settings)
            best[label] = min(best[label], time.perf_counter() - started)
    reference = best[runs[-1][0]]
    print(f"{args.melody.name}, {loaded.label}, best of {args.repeat} (harmonize only; model loaded once)")
    for label, _ in runs:
        print(f"  {label:<36} {best[label]:6.2f} s   {best[label] / reference:5.2f}x best-of-8")


if __name__ == "__main__":
    main()
