"""How much of each composer's music survives tokenization: encode, decode, compare notes.

    python scripts/roundtrip_report.py [--data data/music21] [--per-composer 60]

Compared with the piece as written (in quarter notes): a note's onset and pitch survive when a
decoded note starts at exactly the same time with the same pitch; the whole note survives when its
duration is also exact. Velocity is binned by design (16 bins) and is not counted. What is lost is
what the vocabulary cannot write: onsets off the 1/8-beat grid (triplets) and notes longer than 12
beats.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from styletransfer.tokens import tokenizer as tk  # noqa: E402
from styletransfer.data.catalog import load_catalog  # noqa: E402


def quarter_notes(score) -> set[tuple[float, int, float]]:
    """(onset, pitch, duration) of every note, in quarter notes, rounded to 1e-6."""
    out = set()
    for track in score.tracks:
        notes = track.notes.numpy()
        tpq = score.ticks_per_quarter
        out |= set(zip(np.round(notes["time"] / tpq, 6).tolist(), notes["pitch"].tolist(),
                       np.round(notes["duration"] / tpq, 6).tolist()))
    return out


def survival(tok, path) -> tuple[int, int, int]:
    """(notes in, notes whose onset+pitch survive, notes that survive whole)."""
    score = tk.normalize_score(tk.load_score(path), tok)
    bars = tk.base_ids_per_bar(tok, score)
    decoded = tok.decode([[i for bar in bars for i in bar]])
    before = {n for n in quarter_notes(score) if 21 <= n[1] <= 108}
    after = quarter_notes(decoded)
    onset_pitch_after = {(t, p) for t, p, _ in after}
    return len(before), sum((t, p) in onset_pitch_after for t, p, _ in before), len(before & after)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="data/music21")
    parser.add_argument("--per-composer", type=int, default=60, help="pieces per composer (0 = all)")
    args = parser.parse_args()
    tok = tk.build_tokenizer()
    catalog = load_catalog(args.data)
    totals = defaultdict(lambda: np.zeros(3, np.int64))
    for composer, rows in catalog.groupby("composer"):
        paths = rows["midi"].tolist()
        if args.per_composer:
            paths = paths[: args.per_composer]
        for path in paths:
            try:
                totals[composer] += survival(tok, path)
            except Exception as exc:  # noqa: BLE001 - report and go on
                print(f"skip {path}: {exc}", file=sys.stderr)
    overall = sum(totals.values())
    print(f"{'composer':40s} {'notes':>9s} {'onset+pitch':>12s} {'whole note':>11s}")
    for composer, (n, op, whole) in sorted(totals.items(), key=lambda kv: -kv[1][0]):
        print(f"{composer[:40]:40s} {n:9d} {op / n:12.1%} {whole / n:11.1%}")
    n, op, whole = overall
    print(f"{'all':40s} {n:9d} {op / n:12.1%} {whole / n:11.1%}")


if __name__ == "__main__":
    main()
