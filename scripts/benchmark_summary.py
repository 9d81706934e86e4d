"""The headline table of a benchmark CSV (`mst eval bach-chorales --out X.md` writes X.csv beside it).

    python scripts/benchmark_summary.py docs/results/bach-chorales-keys.csv [--baseline "rule-based triads"]

One Markdown row per set and system: the voice-leading, cadence and judge means (rates per 100 beat moves,
strong beats, notes or phrases), then P(style) and P(real) paired over the pieces against the baseline:
mean difference ± its standard error, and on how many pieces the system is higher.
"""
from __future__ import annotations

import argparse
import math

import pandas as pd

COLUMNS = [("parallels_melody_bass", "par. melody–bass", 2), ("parallels_any_voices", "par. any voices", 1),
           ("strong_beat_dissonance", "strong-beat dissonance", 1), ("unexplained_chromatic", "unexplained chromatic", 2),
           ("no_bass_rate", "no bass", 1), ("voice_count", "not in 4 parts", 1),
           ("voice_count_time", "time not in 4 parts", 1),
           ("bass_repeat", "bass repeats", 1), ("bass_leap", "bass leaps > 8ve", 1),
           ("authentic_cadence_rate", "authentic cadences", 0),
           ("final_authentic", "final authentic", 2), ("p_style", "P(Bach)", 3), ("p_real", "P(real)", 3)]


def paired(table: pd.DataFrame, system: str, baseline: str, column: str) -> str:
    a = table[table.system == system].set_index("piece")[column]
    b = table[table.system == baseline].set_index("piece")[column]
    d = (a - b.reindex(a.index)).dropna()
    if len(d) < 2:
        return "–"
    se = d.std(ddof=1) / math.sqrt(len(d))
    return f"{d.mean():+.3f} ± {se:.3f} ({int((d > 0).sum())}/{len(d)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("--baseline", default="rule-based triads")
    args = ap.parse_args()
    rows = pd.read_csv(args.csv)
    header = ["set", "system", *(label for _, label, _ in COLUMNS), "P(Bach) − baseline", "P(real) − baseline"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * 2 + "---:|" * (len(header) - 2))
    for name, table in rows.groupby("set", sort=False):
        for system in table.system.unique():
            part = table[table.system == system]
            cells = [f"{part[c].mean():.{d}f}" if c in part else "–" for c, _, d in COLUMNS]
            if system == args.baseline or system == "original":
                cells += ["", ""]
            else:
                cells += [paired(table, system, args.baseline, "p_style"), paired(table, system, args.baseline, "p_real")]
            print(f"| {name} | {system} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
