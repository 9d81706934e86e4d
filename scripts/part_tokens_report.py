"""How many tokens the part of each note costs, three ways, on the bundled corpus in parts.

    python scripts/part_tokens_report.py [--corpus data/music21] [--composer "Johann Sebastian Bach"] [--limit N]

For each piece (its tracks: the parts from the top down, scripts/convert_music21_corpus.py):
- merged: today's tokens (the parts merged, tokens/parts.py; no part in the stream);
- program per note: MidiTok's program tokens as part numbers (the top part 0, the next 1, ...), one before
  every note (``use_programs``, one token stream);
- program changes: the same, but a program token only where the part changes (``program_changes``).
It prints tokens per note of each, and the notes the merge strikes once (unisons between parts).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from miditok import TokenizerConfig
from symusic import Score

from styletransfer.tokens.parts import merge_parts, pitched_tracks
from styletransfer.tokens.tokenizer import TSD_PARAMS, MstTSD, SPECIAL_TOKENS, build_tokenizer, normalize_score


def part_tokenizer(program_changes: bool) -> MstTSD:
    """The project's TSD with MidiTok's program tokens as part numbers, in one token stream."""
    params = {**TSD_PARAMS, "use_programs": True, "one_token_stream_for_programs": True,
              "program_changes": program_changes, "programs": list(range(16))}
    return MstTSD(TokenizerConfig(special_tokens=SPECIAL_TOKENS, **params))


def in_parts(score: Score) -> Score:
    """The score's pitched tracks, each with its part number (from the top) as its program."""
    out = Score(score.ticks_per_quarter)
    for number, track in enumerate(pitched_tracks(score)[:16]):
        track = track.copy()
        track.program = number
        out.tracks.append(track)
    out.tempos, out.time_signatures = score.tempos.copy(), score.time_signatures.copy()
    return out


def n_tokens(tokenizer: MstTSD, score: Score) -> int:
    """Base tokens of a score (one stream: a one-track score, or programs in one stream)."""
    sequence = tokenizer.encode(score)
    return len((sequence[0] if isinstance(sequence, list) else sequence).ids)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="data/music21")
    parser.add_argument("--composer", default="Johann Sebastian Bach")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args(argv)
    corpus = Path(args.corpus)
    table = pd.read_csv(corpus / "music21-corpus.csv")
    if args.composer:
        table = table[table["canonical_composer"] == args.composer]
    if args.limit:
        table = table.head(args.limit)
    merged_tok, per_note, changes = build_tokenizer(), part_tokenizer(False), part_tokenizer(True)
    rows = []
    for midi in table["midi_filename"]:
        score = Score(str(corpus / midi))
        parts = pitched_tracks(score)
        notes = sum(len(t.notes) for t in parts)
        merged = merge_parts(score)
        counts = [n_tokens(merged_tok, normalize_score(score, merged_tok))]
        counts += [n_tokens(tokenizer, in_parts(score)) for tokenizer in (per_note, changes)]
        rows.append((len(parts), notes, len(merged.notes), *counts))
    a = np.array(rows, float)
    parts, notes, struck, merged, per_note_n, changes_n = a.T
    print(f"{len(a)} pieces of {args.composer or 'every composer'}; parts per piece: median {np.median(parts):.0f}")
    print(f"notes in the parts: {notes.sum():.0f}; struck once when merged: {struck.sum():.0f} "
          f"({100 * (1 - struck.sum() / notes.sum()):.1f}% are unisons between parts)")
    for label, n in (("merged (today)", merged), ("program per note", per_note_n), ("program changes", changes_n)):
        print(f"{label:>18}: {n.sum():9.0f} base tokens, {n.sum() / notes.sum():.2f} per note, "
              f"{n.sum() / merged.sum():.2f}x today's")


if __name__ == "__main__":
    main()
