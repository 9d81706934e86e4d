"""Choose `mst transfer`'s sampling settings on Bach's validation chorales (never the benchmark's test split).

    python scripts/tune_transfer.py [--n 30] [--settings 1.0:0.95 0.8:0.95 0.6:1.0 0.6:0.9 0.45:0.9]

For each temperature:top-p pair, the soprano of each of the first ``n`` validation chorales is harmonized
with the shipped base + Bach adapter (8 independent candidates: the default recipe's transfer settings at
that temperature and top-p, top-k 0, without the search or hard rules; seed = chorale index); every candidate is scored
(``metrics.transfer_metrics`` and the style judge's P(Bach), judge from runs/style-judge, trained if
missing). Then each ranking weight w picks its best candidate per chorale (likelihood - penalty +
w * consonance), and the table of means is printed as Markdown. The recipe's `transfer` section holds the
chosen values; docs/results.md has the table of the run that chose them.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BACH = "Johann Sebastian Bach"


def candidates_table(n: int, temperature: float, top_p: float, judge) -> pd.DataFrame:
    import torch

    from styletransfer.config import load_recipe
    from styletransfer.data.catalog import load_catalog, select
    from styletransfer.data.melody_file import quiet_read_melody
    from styletransfer.model.adapters import load_styled
    from styletransfer.eval.metrics import transfer_metrics
    from styletransfer.transfer.accompany import transfer

    torch.set_num_threads(1)
    catalog = load_catalog(ROOT / "data" / "music21")
    chorales = select(catalog, BACH, "validation").sort_values("title").head(n)
    model, tokenizer, _ = load_styled(None, "bach")
    settings = load_recipe(None, [f"transfer.temperature={temperature!r}", f"transfer.top_p={top_p!r}", "transfer.top_k=0",
                                  "transfer.search.enabled=false", "transfer.hard_rules=[]"]).transfer
    rows = []
    for i, (_, row) in enumerate(chorales.iterrows()):
        melody = quiet_read_melody(Path(row["midi"]))
        for k, c in enumerate(transfer(melody, model, tokenizer, settings, i, 8)):
            metrics = transfer_metrics(c.score, melody)
            metrics.update(piece=row["title"], k=k, ll=c.log_likelihood, penalty=c.penalty,
                           consonance=c.consonance, p_bach=judge.proba(c.score).get(BACH, 0.0))
            rows.append(metrics)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--settings", nargs="+", default=["1.0:0.95", "0.8:0.95", "0.6:1.0", "0.6:0.9", "0.45:0.9"])
    parser.add_argument("--weights", nargs="+", type=float, default=[0.0, 1.0, 2.0])
    args = parser.parse_args()

    from styletransfer.eval.benchmark import load_or_train_judge

    judge = load_or_train_judge(ROOT / "runs" / "style-judge", ROOT / "data" / "music21")
    print("| temperature | top-p | w | CTnCTR | PCS | MCTD | CHE | CC | P(Bach) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for setting in args.settings:
        temperature, top_p = (float(x) for x in setting.split(":"))
        table = candidates_table(args.n, temperature, top_p, judge)
        for w in args.weights:
            score = table.ll - table.penalty + w * table.consonance
            best = table.loc[score.groupby(table.piece).idxmax()]
            print(f"| {temperature} | {top_p} | {w:g} | {best.ctnctr.mean():.3f} | {best.pcs.mean():.3f} | "
                  f"{best.mctd.mean():.3f} | {best.chord_histogram_entropy.mean():.2f} | "
                  f"{best.chord_coverage.mean():.1f} | {best.p_bach.mean():.3f} |", flush=True)


if __name__ == "__main__":
    main()
