"""Files/s and tokens/s of the token-cache build vs the original project's prepare loop, from one run.

    python bench/prepare.py [--files 400] [--workers 0] [--bpe 2000] [--corpus data/music21/midi]

Ours: ``styletransfer.dataset.encode_files`` (one process per CPU core; load, merge tracks, map time
signatures, base token ids per bar), then BPE (train on those ids, apply per bar), then the melody
stream of every piece (what the cache also stores). No augmentation (it is extra output, not in the
baseline).

Baseline (what the original's prepare script did): one process, ``tokenizer.encode(path)`` per file
with the trained tokenizer (the same BPE model), i.e. parse + preprocess + tokenize + BPE per file.

Both sides see the same files: the first N sorted MIDI paths of the bundled corpus (a background
conversion job may still be adding files; the list is taken once, at start). The headline ratio
compares the work that gives the same output (BPE ids per file): encode + apply BPE vs the baseline.
BPE training and the melody stream are reported too, since ``mst data prepare`` pays for them.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.filterwarnings("ignore")

from styletransfer.data.prepare import MIN_TOKENS, encode_files  # noqa: E402
from styletransfer.tokens import tokenizer as tk  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def corpus_files(folder: Path, n: int) -> list[Path]:
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".mid", ".midi") and p.is_file())
    return paths[:n]


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the encoding workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def ours(paths: list[Path], workers: int, bpe: int):
    """The cache build, phase by phase: (timings, tokenizer, texture ids per file, skipped)."""
    timings = {}
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    tasks = [(i, str(p), "validation", {"pitch": [], "velocity": [], "duration": []}, None, p.stem, False)
             for i, p in enumerate(paths)]
    results = encode_files(tasks, workers, desc="encode_files")
    timings["encode_files"] = time.perf_counter() - t0
    bars = {row: variants[0][1] for row, variants, _ in results if variants}
    melodies = {row: variants[0][2] for row, variants, _ in results if variants}  # made by the workers
    skipped = [(str(paths[row]), reason) for row, _, reason in results if reason]

    t0 = time.perf_counter()
    tokenizer = tk.build_tokenizer()
    tk.train_bpe(tokenizer, list(bars.values()), bpe)
    timings["bpe_train"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    encoded = tk.bpe_encode_pieces(tokenizer, list(bars.values()))
    texture = {row: ids for row, (ids, _) in zip(bars, encoded)}
    timings["bpe_apply"] = time.perf_counter() - t0
    timings["cpu"] = cpu_seconds() - c0  # encode + train + apply, all processes

    t0 = time.perf_counter()
    n_melody = sum(len(ids) for ids, _ in tk.bpe_encode_pieces(tokenizer, list(melodies.values())))
    timings["melody"] = time.perf_counter() - t0
    return timings, tokenizer, texture, skipped, n_melody


def baseline(paths: list[Path], tokenizer) -> tuple[float, dict[int, int], list]:
    """The original's loop: tokenizer.encode(path), one file after another, in one process."""
    counts, failed = {}, []
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    for i, path in enumerate(paths):
        try:
            seqs = tokenizer.encode(path)
        except Exception as exc:  # the original crashed here; we count it and go on
            failed.append((str(path), type(exc).__name__))
            continue
        seqs = seqs if isinstance(seqs, list) else [seqs]
        n = sum(len(s.ids) for s in seqs)
        if n >= MIN_TOKENS:
            counts[i] = n
    return time.perf_counter() - t0, cpu_seconds() - c0, counts, failed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=400, help="the first N sorted MIDI files of the corpus")
    ap.add_argument("--corpus", type=Path, default=ROOT / "data" / "music21" / "midi")
    ap.add_argument("--workers", type=int, default=0, help="encoding processes (0 = CPU count)")
    ap.add_argument("--bpe", type=int, default=2000, help="BPE vocabulary (the default recipe's)")
    args = ap.parse_args()

    paths = corpus_files(args.corpus, args.files)
    if not paths:
        sys.exit(f"no MIDI files under {args.corpus}")
    workers = args.workers or os.cpu_count() or 1
    print(f"{len(paths)} files ({sum(p.stat().st_size for p in paths) / 1e6:.1f} MB) from {args.corpus}, "
          f"{workers} worker(s) of {os.cpu_count()} CPUs, BPE {args.bpe}")

    timings, tokenizer, texture, skipped, n_melody = ours(paths, workers, args.bpe)
    base_s, base_cpu, base_counts, failed = baseline(paths, tokenizer)

    n_files = len(paths)
    n_ours = sum(len(ids) for ids in texture.values())
    n_base = sum(base_counts.values())
    same_output = timings["encode_files"] + timings["bpe_apply"]
    full = sum(timings[k] for k in ("encode_files", "bpe_train", "bpe_apply", "melody"))
    print(f"\nours     encode_files {timings['encode_files']:7.2f}s  bpe train {timings['bpe_train']:6.2f}s  "
          f"bpe apply {timings['bpe_apply']:6.2f}s  melody {timings['melody']:6.2f}s")
    print(f"         {len(texture)} pieces, {n_ours:,} texture tokens (+{n_melody:,} melody), {len(skipped)} skipped")
    print(f"baseline tokenizer.encode(path) loop {base_s:7.2f}s, {len(base_counts)} pieces, {n_base:,} tokens, "
          f"{len(failed)} failed")
    print()
    print(f"{'':34}{'seconds':>9}{'files/s':>10}{'tokens/s':>11}{'ratio':>8}")
    rows = [("baseline (1 process, encode(path))", base_s, n_base),
            ("ours: encode_files + BPE apply", same_output, n_ours),
            ("ours: + BPE train + melody stream", full, n_ours)]
    for name, seconds, tokens in rows:
        print(f"{name:34}{seconds:9.2f}{n_files / seconds:10.1f}{tokens / seconds:11,.0f}{base_s / seconds:7.2f}x")
    print(f"\nspeed-up (same output): {base_s / same_output:.2f}x  (target >= 1.8x on 2 cores)")
    load = os.getloadavg()[0]
    print(f"CPU seconds per file: baseline {base_cpu / n_files * 1e3:.0f} ms, ours (all workers, BPE train included) "
          f"{timings['cpu'] / n_files * 1e3:.0f} ms; load average {load:.1f} on {os.cpu_count()} CPUs"
          + ("  <- other jobs share these cores: the parallel speed-up is not measurable cleanly" if load > 1.5 else ""))
    for path, reason in skipped[:5]:
        print(f"  skipped {path}: {reason}")


if __name__ == "__main__":
    main()
