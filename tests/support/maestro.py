"""A small Maestro-format folder (12 synthetic pieces + a corrupt, an empty and a drums-only file) and a tiny
recipe pointing at one. Bach's own three pieces are written in four parts (a chorale's texture), the
others as piano pieces in one track."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd

from .scores import QPM, chorale_piece, chord_piece, drums_score, empty_score

# (composer, title, split, year, time signature, lowest chord root)
PIECES = [
    ("Johann Sebastian Bach", "Prelude in C Major", "train", 2004, (4, 4), 48),
    ("Johann Sebastian Bach", "Fugue in C Minor", "train", 2006, (4, 4), 50),
    ("Johann Sebastian Bach", "Invention No. 1", "validation", 2008, (4, 4), 52),
    ("Carl Philipp Emanuel Bach", "Solfeggietto", "train", 2009, (4, 4), 47),
    ("Frédéric Chopin", "Nocturne Op. 9 No. 2", "train", 2004, (3, 4), 45),
    ("Frédéric Chopin", "Etude Op. 10 No. 3", "test", 2011, (4, 4), 49),
    ("Ludwig van Beethoven", "Sonata No. 8", "train", 2013, (4, 4), 46),
    ("Ludwig van Beethoven", "Bagatelle in A Minor", "validation", 2014, (3, 4), 45),
    ("Franz Schubert", "Impromptu Op. 90 No. 2", "train", 2015, (4, 4), 51),
    ("Johann Sebastian Bach / Ferruccio Busoni", "Chaconne in D Minor", "train", 2017, (4, 4), 50),
    ("Franz Liszt", "Consolation No. 3", "test", 2018, (4, 4), 44),
    ("Claude Debussy", "Clair de Lune", "train", 2018, (4, 4), 53),
]
GOOD = len(PIECES)
# Files no dataset must choke on: (kind, composer, title, split, year)
BAD = [
    ("corrupt", "Franz Schubert", "Corrupt Sonata", "train", 2004),
    ("empty", "Claude Debussy", "Empty Arabesque", "train", 2006),
    ("drums", "Franz Liszt", "Drum Rhapsody", "validation", 2008),
]
SPLIT_OF = {title: split for _, title, split, *_ in PIECES} | {title: split for _, _, title, split, _ in BAD}


def write_maestro(folder: Path, fmt: str = "csv", bad: bool = True) -> Path:
    """Write a Maestro-format folder (year folders of .midi files + maestro-v3.0.0.csv or .json)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (composer, title, split, year, ts, root) in enumerate(PIECES):
        rel = f"{year}/MIDI-Unprocessed_{i:02d}_R1_{year}_wav--{i % 3 + 1}.midi"
        score = (chorale_piece if composer == "Johann Sebastian Bach" else chord_piece)(i, bars=4, ts=ts, root=root)
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        score.dump_midi(str(folder / rel))
        seconds = 4 * (ts[0] * 4 / ts[1]) * 60 / QPM
        rows.append((composer, title, split, year, rel, rel.replace(".midi", ".wav"), seconds))
    if bad:
        for kind, composer, title, split, year in BAD:
            rel = f"{year}/MIDI-{kind}.midi"
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if kind == "corrupt":
                path.write_bytes(random.Random(7).randbytes(600))
            elif kind == "empty":
                empty_score().dump_midi(str(path))
            else:
                drums_score().dump_midi(str(path))
            rows.append((composer, title, split, year, rel, rel.replace(".midi", ".wav"), 8.0))
    table = pd.DataFrame(rows, columns=["canonical_composer", "canonical_title", "split", "year",
                                        "midi_filename", "audio_filename", "duration"])
    if fmt == "csv":
        table.to_csv(folder / "maestro-v3.0.0.csv", index=False)
    else:  # Maestro's .json: one {"row index": value} mapping per column
        payload = {col: {str(i): v for i, v in enumerate(table[col].tolist())} for col in table.columns}
        (folder / "maestro-v3.0.0.json").write_text(json.dumps(payload), encoding="utf-8")
    return folder


def recipe_dict(data_path: Path, out: Path, bpe: int = 400) -> dict:
    return {
        "name": "tiny",
        "data": {"source": "maestro", "path": str(data_path), "out": str(out), "bpe_vocab_size": bpe,
                 "augment": {"pitch_offsets": [-2, 2], "velocity_offsets": [], "duration_offsets": []},
                 "workers": 2},
        "model": {"n_layer": 1, "n_head": 2, "n_embd": 32, "context": 64},
        "train": {"max_steps": 2, "batch_size": 2},
    }
