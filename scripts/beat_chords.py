"""A harmonization read beat by beat, as docs/transfer.md describes Happy Birthday: per bar, the melody and,
per beat, music21's roman numeral in the piece's key with the bass note.

    python scripts/beat_chords.py happy_birthday.bach.mid --melody data/melodies/happy_birthday.mid

The output's melody and accompaniment are told apart as the evaluation does (``notes.split_melody``);
the key is the analysis' (``cadences.piece_key``), the chord of each beat ``cadences.BeatChords``'.
Prints one Markdown table; bars count from the file's start (bar 0 holds a pickup).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from music21 import pitch as m21pitch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from styletransfer.data.melody_file import quiet_read_melody  # noqa: E402
from styletransfer.analysis.beats import EPS, beat_of, time_signatures_of  # noqa: E402
from styletransfer.analysis.cadences import BeatChords, piece_key, roman_figure  # noqa: E402
from styletransfer.analysis.notes import split_melody  # noqa: E402
from styletransfer.tokens.tokenizer import load_score  # noqa: E402


def name(midi: int) -> str:
    return m21pitch.Pitch(midi=int(midi)).name.replace("-", "♭").replace("#", "♯")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("output", type=Path)
    ap.add_argument("--melody", type=Path, required=True)
    args = ap.parse_args()
    output, melody = load_score(args.output), quiet_read_melody(args.melody)
    mel, acc = split_melody(output, melody)
    both = np.concatenate([mel, acc])
    tonic, mode = piece_key(both)
    beat = beat_of(melody)
    _, num, den = time_signatures_of(melody)[0]
    bar = num * 4 / den
    chords = BeatChords(both, beat, acc)
    per_bar = round(bar / beat)
    rows = {}
    for k in range(len(chords)):
        t = k * beat
        c = chords[k]
        if c.root < 0:
            continue
        b = math.floor(t / bar + EPS)
        rows.setdefault(b, [""] * per_bar)[round((t % bar) / beat) % per_bar] = \
            f"{roman_figure(c, tonic, mode)} ({name(c.bass)})"
    print(f"key: {name(tonic)} {mode}; beat {beat} quarters, {num}/{den}")
    print("| bar (melody) | " + " | ".join(f"beat {i + 1}" for i in range(per_bar)) + " |")
    print("|---|" + "---|" * per_bar)
    for b in sorted(rows):
        notes = [name(p) for on, _, p in mel if b * bar - EPS <= on < (b + 1) * bar - EPS]
        print(f"| {b} ({' '.join(notes)}) | " + " | ".join(rows[b]) + " |")


if __name__ == "__main__":
    main()
