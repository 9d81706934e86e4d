"""Choose the search's settings on a dev set the benchmark never sees: Bach's validation chorales and tunes.

    python scripts/extract_folk_tunes.py --sources erk20.abc altdeu10.abc --count 12 --out DEV
    python scripts/tune_search.py --tunes DEV --chorales 10 --set transfer.search.fault_weights.parallels_melody_bass=4 --csv out.csv

One setting per run (``--set`` as in `mst transfer`; several runs can share the two cores, each decodes on
one thread): the soprano of each of the first ``--chorales`` validation chorales (phrase ends at their
fermatas, given to the search as a MusicXML chorale gives them) and each tune of ``--tunes`` is harmonized with the shipped base + Bach adapter (seed = the
melody's index), as `mst transfer` does, and the kept output is scored by ``eval/theory``. Besides the
teacher's means per set it prints the fewest melody–bass parallels any candidate of the batch had, and
how often one of them ended authentic: what a better final ranking could still reach, as against what
the search left in every candidate.
docs/results.md ("Choosing the search settings") has the tables of the runs behind the defaults.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from styletransfer.data.catalog import load_catalog, select  # noqa: E402
from styletransfer.data.melody_file import mark_fermatas, quiet_read_melody  # noqa: E402
from styletransfer.eval.baselines import harmonize as rule_based_triads  # noqa: E402
from styletransfer.eval.benchmark import corpus_fermatas, melody_files  # noqa: E402
from styletransfer.eval.judge import StyleJudge  # noqa: E402
from styletransfer.analysis.theory import voice_leading_metrics  # noqa: E402
from styletransfer.model.runs import resolve_base  # noqa: E402
from styletransfer.transfer.pipeline import harmonize, load_style  # noqa: E402

BACH = "Johann Sebastian Bach"
COLUMNS = {"parallels_melody_bass": "par. mel–bass", "parallels_any_voices": "par. any",
           "strong_beat_dissonance": "diss.", "unexplained_chromatic": "chrom.", "no_bass_rate": "no bass",
           "voice_count": "not 4 parts", "voice_count_time": "time not 4",
           "bass_repeat": "bass rep.", "bass_leap": "bass leap",
           "authentic_cadence_rate": "auth. cad.", "final_authentic": "final auth."}


def dev_melodies(chorales: int, tunes: Path | None) -> list[tuple[str, str, object, list[float] | None]]:
    """(set, name, melody, fermatas) for the dev chorales, then the dev tunes."""
    out = []
    catalog = load_catalog(ROOT / "data" / "music21")
    for _, row in select(catalog, BACH, "validation").sort_values("title").head(chorales).iterrows():
        melody = quiet_read_melody(Path(row["midi"]))
        fermatas = corpus_fermatas(row["title"], melody)
        out.append(("val chorales", row["title"], mark_fermatas(melody, fermatas), fermatas))
    for path in melody_files(tunes) if tunes is not None else []:
        out.append(("dev tunes", path.name, quiet_read_melody(path), None))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chorales", type=int, default=10)
    parser.add_argument("--base", default=None, help="the base run (default: runs/base, else the shipped model)")
    parser.add_argument("--tunes", type=Path, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--csv", type=Path, default=None, help="every melody's numbers")
    parser.add_argument("--judge", type=Path, default=ROOT / "runs" / "style-judge",
                        help="the style judge (mst eval style-judge train): P(Bach), paired against the "
                             "rule-based baseline")
    args = parser.parse_args()

    judge = StyleJudge.load(args.judge) if args.judge.is_dir() else None
    loaded = load_style(resolve_base(args.base), "bach", overrides=args.overrides)
    rows = []
    for k, (group, name, melody, fermatas) in enumerate(dev_melodies(args.chorales, args.tunes)):
        found = harmonize(melody, loaded, seed=k)
        row = {"set": group, "piece": name, **voice_leading_metrics(found[0].score, melody, fermatas=fermatas)}
        batch = [voice_leading_metrics(c.score, melody, fermatas=fermatas) for c in found]
        row["fewest_parallels_in_batch"] = min(b["parallels_melody_bass_count"] for b in batch)
        row["any_final_authentic_in_batch"] = max(b["final_authentic"] for b in batch)
        if judge is not None:
            row["p_bach_minus_rule"] = judge.p(found[0].score, BACH) - judge.p(rule_based_triads(melody), BACH)
        rows.append(row)
        print(f"{group}: {name}: {row['parallels_melody_bass_count']:.0f} parallels "
              f"(batch's fewest {row['fewest_parallels_in_batch']:.0f}), final authentic {row['final_authentic']:.0f} "
              f"(any in batch {row['any_final_authentic_in_batch']:.0f})",
              file=sys.stderr, flush=True)
    table = pd.DataFrame(rows)
    if args.csv is not None:
        table.to_csv(args.csv, index=False)
    print(f"settings: {' '.join(args.overrides) or 'the recipe'}")
    paired = "p_bach_minus_rule" in table
    print("| set | " + " | ".join(COLUMNS.values()) + " | parallels left / fewest in batch | final auth. in batch |"
          + (" P(Bach) − rule |" if paired else ""))
    print("|---|" + "---:|" * (len(COLUMNS) + 2 + paired))
    for group, part in table.groupby("set", sort=False):
        means = " | ".join(f"{part[c].mean():.2f}" for c in COLUMNS)
        print(f"| {group} ({len(part)}) | {means} | {part.parallels_melody_bass_count.sum():.0f} / "
              f"{part.fewest_parallels_in_batch.sum():.0f} | {part.any_final_authentic_in_batch.mean():.2f} |"
              + (f" {part.p_bach_minus_rule.mean():+.3f} ± {part.p_bach_minus_rule.sem():.3f} |" if paired else ""))


if __name__ == "__main__":
    main()
