"""What the search costs: `mst transfer`'s default (SMC search over 32 candidates, the hard rules, the reference
key) against the best-of-8 the transfer used before the search, on one melody, measured side by side.

    python bench/search.py [--melody data/melodies/happy_birthday.mid] [--base DIR] [--style bach] [--repeat 3]

One model load; then each variant harmonizes the melody ``--repeat`` times, the variants alternating so
that a busy machine disturbs them alike; each variant's best time counts. The ratio is each variant's time
over best-of-8's. Seeds are fixed: every repeat of a variant writes the same notes.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from styletransfer.data.melody_file import quiet_read_melody  # noqa: E402
from styletransfer.transfer.pipeline import harmonize, load_style  # noqa: E402
from harmonize_timing import best_times, parse_args  # noqa: E402


def variants(settings):
    """(label, transfer settings): the default first, best-of-8 last (the reference)."""
    search_off = settings.search.model_copy(update={"enabled": False})
    best_of_8 = settings.model_copy(update={"search": search_off, "candidates": 8, "hard_rules": []})
    return [(f"default (search, {settings.candidates} candidates)", settings),
            ("default without key normalization", settings.model_copy(update={"key_normalize": False})),
            ("search off, 32 candidates", settings.model_copy(update={"search": search_off})),
            ("best of 8 (before the search)", best_of_8)]


def main() -> None:
    args = parse_args(__doc__)
    warnings.filterwarnings("ignore")
    melody = quiet_read_melody(args.melody)
    loaded = load_style(args.base, args.style)
    runs = variants(loaded.recipe.transfer)
    best, _ = best_times([(label, lambda s=settings: harmonize(melody, loaded, seed=0, settings=s))
                          for label, settings in runs], args.repeat)
    reference = best[runs[-1][0]]
    print(f"{args.melody.name}, {loaded.label}, best of {args.repeat} (harmonize only; model loaded once)")
    for label, _ in runs:
        print(f"  {label:<36} {best[label]:6.2f} s   {best[label] / reference:5.2f}x best-of-8")


if __name__ == "__main__":
    main()
