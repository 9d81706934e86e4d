"""mst's own settings of training-split chorale sopranos: the fakes of the hardest real-or-generated judge.

    python scripts/harmonize_training_sopranos.py --out runs/mst-fakes [--n 40] [--skip 0] [--style bach]

Each of the first ``n`` training chorales of the style's composer (by title, after ``skip``) has its
Soprano part harmonized as the benchmark harmonizes a test chorale (its fermatas marked, the style's
recipe, seed = its index), and the best candidate is written to ``OUT/<piece>.mid``. Run two halves side
by side (``--skip``) with ``OMP_NUM_THREADS=1`` on a 2-core machine. `mst eval real-judge train
--mst-fakes OUT` then trains a judge that has seen them as fakes.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from styletransfer.config import resolve_data_path
from styletransfer.data.catalog import find_composer, load_catalog, select
from styletransfer.eval.benchmark import corpus_tune
from styletransfer.eval.fakes import mst_fake_name
from styletransfer.io import atomic_write_bytes
from styletransfer.transfer.pipeline import harmonize, load_style


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--skip", type=int, default=0)
    parser.add_argument("--style", default="bach")
    parser.add_argument("--composer", default="Johann Sebastian Bach")
    parser.add_argument("--data", default="data/music21")
    args = parser.parse_args(argv)
    catalog = load_catalog(resolve_data_path(args.data))
    composer = find_composer(catalog, args.composer)
    pieces = select(catalog, composer, "train").sort_values("title").iloc[args.skip:args.skip + args.n]
    loaded = load_style(None, args.style)
    started = time.perf_counter()
    for k, (_, row) in enumerate(pieces.iterrows(), args.skip):
        melody, _ = corpus_tune(Path(row["midi"]), row["title"])
        best = harmonize(melody, loaded, seed=k)[0].score
        atomic_write_bytes(args.out / mst_fake_name(row["title"]), best.dumps_midi())
        print(f"[{k + 1 - args.skip}/{len(pieces)}] {row['title']} ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
