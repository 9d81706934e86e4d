"""Bach's own voice-leading and cadence numbers, next to the rule-based harmonizer's on the same sopranos.

    python scripts/voice_leading_report.py [--data data/music21] [--split test] [--csv per-piece.csv]

For each Bach chorale of the split, the melody is the MIDI's top line (``quiet_read_melody``), split
from the rest as every system's output is (``notes.split_melody``). Phrase ends come from the fermatas
of the music21 score the MIDI was converted from (``cadences.fermata_onsets``), for Bach and the baseline
alike; without the music21 corpus (or with ``--no-fermatas``) the MIDI heuristics are used. Prints one
Markdown table: mean ± standard deviation over the pieces, per metric and system, plus, as a check on the
voice separation, the soprano–bass parallels counted on the score's own parts (voice identity known).
"""
from __future__ import annotations

import argparse
import itertools
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from symusic import Score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from styletransfer.data.catalog import load_catalog, select
from styletransfer.data.melody_file import quiet_read_melody
from styletransfer.eval.baselines import harmonize
from styletransfer.analysis.beats import beat_of, time_signatures_of
from styletransfer.analysis.cadences import fermata_onsets
from styletransfer.analysis.notes import split_melody
from styletransfer.analysis.theory import theory_rates
from styletransfer.analysis.voice_leading import classify_moves

METRICS = [
    ("parallels_melody_bass", "parallels melody–bass /100 moves"),
    ("parallels_any_voices", "parallels any voices /100 moves"),
    ("hidden_outer", "hidden 5ths/8ves outer /100 moves"),
    ("voice_crossing", "voice crossing /100 moves"),
    ("spacing", "spacing > octave /100 beats"),
    ("no_bass_rate", "no real bass /100 beats"),
    ("voice_count", "not in four parts /100 beats"),
    ("voice_count_time", "time not in four parts, beats /100 beats"),
    ("bass_repeat", "bass repeats its note /100 bass moves"),
    ("bass_leap", "bass leaps > octave /100 bass moves"),
    ("strong_beat_dissonance", "strong-beat dissonance /100 strong beats"),
    ("unexplained_chromatic", "unexplained chromatic /100 acc. notes"),
    ("authentic_cadence_rate", "authentic cadences /100 phrases"),
    ("cadence_rate", "any cadence /100 phrases"),
    ("final_authentic", "final cadence authentic (home key)"),
    ("final_authentic_any_key", "final cadence authentic (any reading)"),
    ("phrases", "phrases"),
]


def _score_parts_parallels(parsed) -> tuple[int, int, int]:
    """(soprano–bass parallels, all-pairs parallels, beats) on the music21 score's own parts, note to
    note (every onset), as written (repeats not expanded), moves into a new phrase (the note after a
    fermata) left out as in ``voice_leading_rates``: the reference for the voice separation. A chord in
    a part counts as its top note."""
    soprano = [n for n in parsed.parts[0].stripTies().flatten().notes if n.quarterLength > 0]
    seams = {float(b.offset) for a, b in itertools.pairwise(soprano)
             if any(type(e).__name__ == "Fermata" for e in a.expressions)}
    parts = []
    for p in parsed.parts:
        rows = [(float(n.offset), float(n.offset + n.quarterLength), n.pitches[-1].midi)
                for n in p.stripTies().flatten().notes if n.quarterLength > 0]
        if rows:
            parts.append(np.array(rows, float))
    if len(parts) < 2:
        return 0, 0, 0
    times = np.unique(np.concatenate([p[:, 0] for p in parts]))

    def line(p):
        i = np.searchsorted(p[:, 0], times + 1e-9, side="right") - 1
        ok = (i >= 0) & (p[np.maximum(i, 0), 1] > times + 1e-9)
        return np.where(ok, p[np.maximum(i, 0), 2], np.nan)

    lines = [line(p) for p in parts]

    judged = ~np.isin(np.round(times[1:], 6), np.round(sorted(seams), 6))

    def count(a, b):
        f = classify_moves(a[:-1], b[:-1], a[1:], b[1:])
        return int(((f["parallel"] | f["contrary"]) & judged).sum())

    sb = count(lines[0], lines[-1])
    anyv = sum(count(a, b) for a, b in itertools.combinations(lines, 2))
    beats = math.ceil(times.max() - times.min())
    return sb, anyv, beats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/music21")
    ap.add_argument("--split", default="test")
    ap.add_argument("--composer", default="Johann Sebastian Bach")
    ap.add_argument("--no-fermatas", action="store_true", help="phrase ends from the MIDI heuristics only")
    ap.add_argument("--csv", help="also write every piece's numbers here")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")

    corpus = None
    if not args.no_fermatas:
        try:
            from music21 import corpus
        except ImportError:
            corpus = None
    rows = select(load_catalog(args.data), args.composer, args.split)
    records = []
    check = [0, 0, 0]
    for title, midi in zip(rows["title"], rows["midi"]):
        path = Path(midi)
        chorale = Score(str(path))
        melody = quiet_read_melody(path)
        beat, ts = beat_of(chorale), time_signatures_of(chorale)
        mel, acc = split_melody(chorale, melody)
        fermatas = None
        if corpus is not None:
            try:
                parsed = corpus.parse(title, forceSource=True)
                fermatas = fermata_onsets(parsed, mel) or None
                sb, anyv, beats = _score_parts_parallels(parsed)
                check = [check[0] + sb, check[1] + anyv, check[2] + beats]
            except Exception as exc:  # noqa: BLE001 — a piece missing from the corpus falls back to MIDI
                print(f"{title}: no music21 score ({type(exc).__name__}); MIDI phrase heuristics", file=sys.stderr)
        for system, (m, a) in (("Bach", (mel, acc)), ("rule-based triads", split_melody(harmonize(melody), melody))):
            r = theory_rates(m, a, beat, ts, fermatas)
            records.append({"system": system, "title": title, "fermatas": fermatas is not None, **r})
        if fermatas is not None:  # Bach again with the MIDI heuristics, to show what they find
            r = theory_rates(mel, acc, beat, ts, None)
            records.append({"system": "Bach, MIDI phrase heuristics", "title": title, "fermatas": False, **r})
    df = pd.DataFrame(records)
    if args.csv:
        df.to_csv(args.csv, index=False)

    systems = list(dict.fromkeys(df["system"]))
    print(f"{args.composer}, {args.split} split: {df['title'].nunique()} pieces "
          f"({int(df[df.system == 'Bach']['fermatas'].sum())} with fermatas from the music21 score)\n")
    print("| metric | " + " | ".join(systems) + " |")
    print("|---|" + "---|" * len(systems))
    for key, label in METRICS:
        cells = []
        for system in systems:
            v = df[df.system == system][key].astype(float)
            cells.append(f"{v.mean():.2f} ± {v.std():.2f}" if v.notna().any() else "–")
        print(f"| {label} | " + " | ".join(cells) + " |")
    bach = df[df.system == "Bach"]
    print(f"\nPooled over all pieces (Bach): melody–bass parallels "
          f"{100 * bach.parallels_melody_bass_count.sum() / bach.outer_moves.sum():.2f} /100 moves, any voices "
          f"{100 * bach.parallels_any_voices_count.sum() / bach.beat_moves.sum():.2f} /100 moves.")
    if check[2]:
        print(f"Check on the scores' own parts (voice identity known, repeats as written): soprano–bass "
              f"parallels {100 * check[0] / check[2]:.2f} /100 beats ({check[0]}), all pairs "
              f"{100 * check[1] / check[2]:.2f} /100 beats ({check[1]}).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
