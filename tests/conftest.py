"""Shared fixtures: a small Maestro-format folder written by the tests, and a recipe pointing at it.

Everything is synthetic and tiny (a few bars per piece), so no test downloads anything and the
whole suite runs in a few minutes on two busy cores.
"""
from __future__ import annotations

import json
import random
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml
from symusic import Note, Score, Tempo, TimeSignature, Track

warnings.filterwarnings("ignore")

TPQ = 480
QPM = 124.0  # one of the tokenizer's 16 tempo bins, so tempo survives a round trip too
VELOCITIES = (63, 79, 95, 111)  # on the tokenizer's 16-bin velocity grid

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


def beats(b: float) -> int:
    return int(round(b * TPQ))


def chord_piece(seed: int, bars: int = 4, ts=(4, 4), root: int = 48) -> Score:
    """A few bars of block chords (one per bar) under a top melody of quarter and eighth notes."""
    rng = random.Random(seed)
    score = Score(TPQ)
    track = Track("Piano", program=0, is_drum=False)
    bar_len = ts[0] * 4 / ts[1]
    for bar in range(bars):
        start = bar * bar_len
        base = root + rng.choice((0, 5, 7, -3))
        for pitch in (base, base + 4, base + 7):
            track.notes.append(Note(beats(start), beats(bar_len), pitch, rng.choice(VELOCITIES)))
        t, top = 0.0, base + 19
        while t < bar_len:
            dur = rng.choice((0.5, 1.0, 1.0))
            dur = min(dur, bar_len - t)
            track.notes.append(Note(beats(start + t), beats(dur), top + rng.choice((0, 2, 4, 5, 7)), rng.choice(VELOCITIES)))
            t += dur
    score.tracks.append(track)
    score.tempos.append(Tempo(0, QPM))
    score.time_signatures.append(TimeSignature(0, *ts))
    return score


def empty_score() -> Score:
    score = Score(TPQ)
    score.tracks.append(Track("Piano", program=0, is_drum=False))
    score.tempos.append(Tempo(0, QPM))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    return score


def drums_score() -> Score:
    score = Score(TPQ)
    drums = Track("Drums", program=0, is_drum=True)
    for i in range(16):
        drums.notes.append(Note(beats(i * 0.5), beats(0.25), 36 + (i % 3) * 2, 100))
    score.tracks.append(drums)
    score.tempos.append(Tempo(0, QPM))
    return score


def write_maestro(folder: Path, fmt: str = "csv", bad: bool = True) -> Path:
    """Write a Maestro-format folder (year folders of .midi files + maestro-v3.0.0.csv or .json)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (composer, title, split, year, ts, root) in enumerate(PIECES):
        rel = f"{year}/MIDI-Unprocessed_{i:02d}_R1_{year}_wav--{i % 3 + 1}.midi"
        score = chord_piece(i, bars=4, ts=ts, root=root)
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


@pytest.fixture(scope="session")
def maestro_dir(tmp_path_factory) -> Path:
    """Maestro-format folder: 12 synthetic pieces + a corrupt, an empty and a drums-only file."""
    return write_maestro(tmp_path_factory.mktemp("maestro") / "maestro-v3.0.0")


@pytest.fixture(scope="session")
def maestro_json_dir(tmp_path_factory) -> Path:
    return write_maestro(tmp_path_factory.mktemp("maestro_json") / "maestro-v3.0.0", fmt="json", bad=False)


def recipe_dict(data_path: Path, out: Path, bpe: int = 400) -> dict:
    return {
        "name": "tiny",
        "data": {"source": "maestro", "path": str(data_path), "out": str(out), "bpe_vocab_size": bpe,
                 "augment": {"pitch_offsets": [-2, 2], "velocity_offsets": [], "duration_offsets": []},
                 "workers": 2},
        "model": {"n_layer": 1, "n_head": 2, "n_embd": 32, "context": 64},
        "train": {"max_steps": 2, "batch_size": 2},
    }


@pytest.fixture(scope="session")
def tiny_recipe(maestro_dir, tmp_path_factory) -> Path:
    """A tiny recipe with data.path pointing at the Maestro fixture (BPE 400, pitch offsets -2/+2)."""
    folder = tmp_path_factory.mktemp("recipe")
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe_dict(maestro_dir, folder / "prepared")), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def prepared(tiny_recipe, tmp_path_factory):
    """(report, out folder, recipe) of one `prepare` run on the fixture, shared by the dataset tests."""
    from styletransfer.data.prepare import prepare
    from styletransfer.config import load_recipe

    recipe = load_recipe(tiny_recipe)
    out = tmp_path_factory.mktemp("prepared") / "out"
    report = prepare(recipe.data, out=out)
    return report, out, recipe


@pytest.fixture(scope="session")
def tokenizer():
    from styletransfer.tokens.tokenizer import build_tokenizer

    return build_tokenizer()


def use_console(monkeypatch, **options) -> None:
    """Give the one console every `mst` command prints through the settings of ``Console(**options)``
    (e.g. wide and plain, so that tables do not wrap), undone after the test."""
    from rich.console import Console

    from styletransfer.cli.app import console

    for key, value in vars(Console(**options)).items():
        monkeypatch.setattr(console, key, value, raising=False)
