"""Shared fixtures: a small Maestro-format folder written by the tests, a recipe pointing at it, the
tokenizer, and the tiny base run and adapters the training, finetuning and generation tests build on.

Everything is synthetic and tiny (a few bars per piece), so no test downloads anything and the
whole suite runs in a few minutes on two busy cores. The plain helpers live in support/.

The shared Maestro fixture's composers all come from one random generator, so none has a style an
adapter could learn (a LoRA adapter trained on one of them barely moves, or raises, that composer's
validation loss). ``style_data`` adds one composer with a style of his own (an Alberti bass under a
slow melody). One tiny base model (Llama, 2 layers, 32 wide, context 64) is pretrained on it once per
session through the `mst` CLI, and two LoRA adapters are trained on it once; tests that change a run
work on a copy.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytest.register_assert_rewrite("support")  # the helpers' asserts explain themselves, as the tests' do

from support.maestro import recipe_dict, write_maestro  # noqa: E402
from support.scores import QPM  # noqa: E402
from support.train import (ADAPTER_SETS, BACH, BASE_STEPS, STYLED, STYLED_STEPS, alberti_piece, call_mst,  # noqa: E402
                           copy_run, sets)

warnings.filterwarnings("ignore")


@pytest.fixture(scope="session")
def maestro_dir(tmp_path_factory) -> Path:
    """Maestro-format folder: 12 synthetic pieces + a corrupt, an empty and a drums-only file."""
    return write_maestro(tmp_path_factory.mktemp("maestro") / "maestro-v3.0.0")


@pytest.fixture(scope="session")
def maestro_json_dir(tmp_path_factory) -> Path:
    return write_maestro(tmp_path_factory.mktemp("maestro_json") / "maestro-v3.0.0", fmt="json", bad=False)


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


@pytest.fixture(scope="session")
def train_data(prepared, tiny_recipe) -> tuple[Path, Path]:
    """(recipe yaml, prepared data folder) of the session's Maestro fixture."""
    _, out, _ = prepared
    return tiny_recipe, out


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
