"""Fixtures shared by the training, finetuning and generation tests (a plugin: ``pytest_plugins``).

The shared Maestro fixture's composers all come from one random generator, so none has a style an
adapter could learn (a LoRA adapter trained on one of them barely moves, or raises, that composer's
validation loss). ``style_data`` adds one composer with a style of his own (an Alberti bass under a
slow melody). One tiny base model (Llama, 2 layers, 32 wide, context 64) is pretrained on it once per
session through the `mst` CLI, and two LoRA adapters are trained on it once; tests that change a run
work on a copy.
"""
from __future__ import annotations

import random
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from symusic import Note, Score, Tempo, TimeSignature, Track

from conftest import QPM, TPQ, beats, recipe_dict, write_maestro
from styletransfer import cli

# The model and loop settings every training test uses: small enough for two busy cores.
TINY = ["model.arch=llama", "model.n_layer=2", "model.n_head=2", "model.n_embd=32", "model.context=64",
        "train.batch_size=4", "train.grad_accum=1", "train.threads=1", "train.warmup_steps=2", "train.eval_batches=2",
        "train.pair_ratio=0.5", "train.seed=0",
        "sample.top_p=1.0"]  # the sampling the tests were written for (default.yaml: 0.95)
BASE_STEPS = 160
BACH = "Johann Sebastian Bach"  # 3 training pieces (one a joint work), 1 validation piece in the fixture
STYLED = "Domenico Scarlatti"  # style_data's composer with a style: 3 training pieces, 1 validation piece
ADAPTER_SETS = ["finetune.max_steps=40", "finetune.lr=0.01", "finetune.min_pieces=1", "finetune.lora_dropout=0.0"]
STYLED_STEPS = 80  # with lr 0.01: the adapter lowers his validation loss by ~0.2 nats (0.12 with 40 steps)


def sets(*overrides: str) -> list[str]:
    """``--set`` arguments for the tiny recipe plus ``overrides``."""
    out = []
    for item in [*TINY, *overrides]:
        out += ["--set", item]
    return out


def call_mst(args) -> int:
    """cli.main in-process; returns the exit status (typer exits 0 on success)."""
    try:
        cli.main([str(a) for a in args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def run_cli(args, capsys) -> tuple[int, str, str]:
    """cli.main in-process with captured output: (exit status, stdout, stderr)."""
    capsys.readouterr()
    code = call_mst(args)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> str:
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("mst: error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """relative path -> (size, mtime_ns) of every file under ``folder``."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def train_data(prepared, tiny_recipe) -> tuple[Path, Path]:
    """(recipe yaml, prepared data folder) of the session's Maestro fixture."""
    _, out, _ = prepared
    return tiny_recipe, out


def alberti_piece(seed: int, bars: int = 4, root: int = 60) -> Score:
    """Eighth-note Alberti bass (low, high, middle, high) under a half-note melody, fixed velocities."""
    rng = random.Random(seed)
    score = Score(TPQ)
    track = Track("Piano", program=0, is_drum=False)
    for bar in range(bars):
        base = root + rng.choice((0, 5, 7, -5))
        for k, offset in enumerate((0, 7, 4, 7) * 2):
            track.notes.append(Note(beats(bar * 4 + k * 0.5), beats(0.5), base - 12 + offset, 79))
        for k in range(2):
            track.notes.append(Note(beats(bar * 4 + k * 2), beats(2), base + 12 + rng.choice((0, 4, 7)), 95))
    score.tracks.append(track)
    score.tempos.append(Tempo(0, QPM))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    return score


@pytest.fixture(scope="session")
def style_data(tmp_path_factory) -> tuple[Path, Path]:
    """(recipe yaml, prepared folder): the Maestro fixture's pieces + 4 Alberti-bass pieces by STYLED."""
    from styletransfer.data.prepare import prepare
    from styletransfer.config import load_recipe

    root = tmp_path_factory.mktemp("style")
    maestro = write_maestro(root / "maestro-v3.0.0", bad=False)
    rows = []
    for i, split in enumerate(("train", "train", "train", "validation")):
        rel = f"2019/MIDI-Alberti_{i}.midi"
        (maestro / rel).parent.mkdir(parents=True, exist_ok=True)
        alberti_piece(100 + i, root=58 + 2 * i).dump_midi(str(maestro / rel))
        rows.append((STYLED, f"Sonata K. {i + 1}", split, 2019, rel, rel.replace(".midi", ".wav"), 4 * 4 * 60 / QPM))
    csv = maestro / "maestro-v3.0.0.csv"
    table = pd.read_csv(csv)
    pd.concat([table, pd.DataFrame(rows, columns=table.columns)]).to_csv(csv, index=False)
    raw = recipe_dict(maestro, root / "prepared")
    raw["data"]["workers"] = 1
    recipe = root / "style.yaml"
    recipe.write_text(yaml.safe_dump(raw), encoding="utf-8")
    prepare(load_recipe(recipe).data)
    return recipe, root / "prepared"


@pytest.fixture(scope="session")
def base_run(style_data, tmp_path_factory) -> Path:
    """A tiny base model pretrained with `mst pretrain` on style_data (the run the other tests build on).
    Do not modify it: copy it (copy_run)."""
    recipe, _ = style_data
    run = tmp_path_factory.mktemp("base") / "run"
    code = call_mst(["pretrain", "--recipe", recipe, "--out", run,
                     *sets(f"train.max_steps={BASE_STEPS}", "train.lr=0.003", "train.eval_interval=80",
                           "train.save_interval=80")])
    assert code == 0
    return run


@pytest.fixture(scope="session")
def adapted_run(base_run, tmp_path_factory) -> Path:
    """A copy of the base run with LoRA adapters for STYLED and Bach (trained with `mst finetune`)."""
    run = copy_run(base_run, tmp_path_factory.mktemp("adapted") / "run")
    assert call_mst(["finetune", "--composer", STYLED, "--base", run,
                     *sets(*ADAPTER_SETS, f"finetune.max_steps={STYLED_STEPS}")]) == 0
    assert call_mst(["finetune", "--composer", BACH, "--base", run, *sets(*ADAPTER_SETS)]) == 0
    return run


def copy_run(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest, ignore=shutil.ignore_patterns("checkpoints"))
    return dest
