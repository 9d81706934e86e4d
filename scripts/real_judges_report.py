"""P(real) of a benchmark's outputs under several real-or-generated judges, side by side.

    python scripts/real_judges_report.py OUTPUTS JUDGE [JUDGE ...] [--data data/music21]

OUTPUTS is what `mst eval bach-chorales --outputs OUTPUTS` wrote (``<system>/<piece>.mid``); each output is
split by its chorale's Soprano part as the benchmark splits it, and judged by every JUDGE folder
(`mst eval real-judge train [--mst-fakes DIR] --out JUDGE`). Prints mean ± sd of P(real) per system.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from styletransfer.config import resolve_data_path
from styletransfer.data.catalog import load_catalog
from styletransfer.data.melody_file import quiet_read_melody
from styletransfer.eval.fakes import mst_fake_name
from styletransfer.eval.real_judge import RealJudge


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outputs", type=Path)
    parser.add_argument("judges", type=Path, nargs="+")
    parser.add_argument("--data", default="data/music21")
    args = parser.parse_args(argv)
    catalog = load_catalog(resolve_data_path(args.data))
    corpus_file = {mst_fake_name(title): path for title, path in zip(catalog["title"], catalog["midi"])}
    judges = [RealJudge.load(folder) for folder in args.judges]
    print("| system | pieces | " + " | ".join(f"P(real), {folder}" for folder in args.judges) + " |")
    print("|---|---:|" + "---:|" * len(judges))
    for system in sorted(p for p in args.outputs.iterdir() if p.is_dir()):
        files = sorted(f for f in system.glob("*.mid") if f.name in corpus_file)
        melodies = [quiet_read_melody(corpus_file[f.name]) for f in files]
        cells = []
        for judge in judges:
            p = np.array(judge.p_real_many(files, melodies), float)
            cells.append(f"{np.nanmean(p):.2f} ± {np.nanstd(p):.2f}")
        print(f"| {system.name} | {len(files)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
