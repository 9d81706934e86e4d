"""`mst finetune`: LoRA adapters per composer on a base run, and the mistakes it refuses."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from support.train import (ADAPTER_SETS, BACH, STYLED, STYLED_STEPS, assert_one_line_error, copy_run, run_cli,
                            sets, snapshot)
from styletransfer.model.runs import slug


ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json", "finetune.json", "recipe.yaml")


def test_adapters_are_small_and_lower_the_composers_loss(adapted_run):
    folder = adapted_run / "adapters"
    assert sorted(p.name for p in folder.iterdir()) == sorted([slug(BACH), slug(STYLED)])  # no work folders left
    model_bytes = (adapted_run / "model.safetensors").stat().st_size
    reports = {}
    for composer, steps in ((STYLED, STYLED_STEPS), (BACH, 40)):
        adapter = folder / slug(composer)
        for name in ADAPTER_FILES:
            assert (adapter / name).is_file(), name
        size = (adapter / "adapter_model.safetensors").stat().st_size
        assert size < 64_000 and size < model_bytes / 4  # a few KB of LoRA weights, not a copy of the model
        config = json.loads((adapter / "adapter_config.json").read_text())
        assert config["peft_type"] == "LORA" and config["r"] == 8
        assert set(config["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj"}
        report = reports[composer] = json.loads((adapter / "finetune.json").read_text())
        assert report["composer"] == composer and report["steps"] == steps and report["training_pieces"] == 3
        assert report["improvement"] == pytest.approx(report["validation_loss_base"] - report["validation_loss_adapter"])
        assert any("loss" in json.loads(line) for line in (adapter / "metrics.jsonl").read_text().splitlines())
    # The composer with a style of his own: the adapter clearly lowers his validation loss (by ~0.2 nats).
    styled = reports[STYLED]
    assert styled["validation_loss_adapter"] < styled["validation_loss_base"] - 0.05, styled
    # Bach's pieces are random like everyone else's: no style to learn, only that training did not blow up.
    assert reports[BACH]["validation_loss_adapter"] < reports[BACH]["validation_loss_base"] + 0.1, reports[BACH]


def test_two_adapters_on_one_base(adapted_run):
    """Both adapters load onto one base model and switch by name; the saved adapter is the trained one."""
    from peft import PeftModel

    from styletransfer.model.build import load_model
    from styletransfer.config import load_recipe
    from styletransfer.tokens.tokenizer import load_tokenizer
    from styletransfer.train import eval_loss, example_sets

    base = load_model(adapted_run)
    ids = torch.randint(5, base.config.vocab_size, (2, 48), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        plain = base(ids).logits
    model = PeftModel.from_pretrained(base, str(adapted_run / "adapters" / slug(STYLED)), adapter_name="styled")
    model.load_adapter(str(adapted_run / "adapters" / slug(BACH)), adapter_name="bach")
    model.eval()
    logits = {}
    with torch.no_grad():
        for name in ("styled", "bach"):
            model.set_adapter(name)
            assert model.active_adapter == name
            logits[name] = model(ids).logits
        with model.disable_adapter():
            torch.testing.assert_close(model(ids).logits, plain)
    assert not torch.allclose(logits["styled"], logits["bach"], atol=1e-4)
    assert not torch.allclose(logits["styled"], plain, atol=1e-4)

    # The saved adapter is the trained one: it reproduces the validation losses its finetune reported.
    recipe = load_recipe(adapted_run / "adapters" / slug(STYLED) / "recipe.yaml")
    _, eval_set, _, _ = example_sets(recipe, recipe.data.out, load_tokenizer(adapted_run), 1, composer=STYLED)
    model.set_adapter("styled")
    report = json.loads((adapted_run / "adapters" / slug(STYLED) / "finetune.json").read_text())
    with model.disable_adapter():
        assert eval_loss(model, eval_set, recipe.train.batch_size) == pytest.approx(report["validation_loss_base"], abs=1e-4)
    assert eval_loss(model, eval_set, recipe.train.batch_size) == pytest.approx(report["validation_loss_adapter"], abs=1e-4)


def test_existing_adapter_needs_force(adapted_run, tmp_path, capsys):
    run = copy_run(adapted_run, tmp_path / "run")
    adapter = run / "adapters" / slug(STYLED)
    before = snapshot(adapter)
    code, _, err = run_cli(["finetune", "--composer", STYLED, "--base", run, *sets(*ADAPTER_SETS)], capsys)
    assert_one_line_error(code, err, "adapter exists", "--force")
    assert snapshot(adapter) == before

    code, _, err = run_cli(["finetune", "--composer", "scarlatti", "--base", run, "--force",
                            *sets(*ADAPTER_SETS, "finetune.max_steps=2")], capsys)
    assert code == 0, err
    assert json.loads((adapter / "finetune.json").read_text())["steps"] == 2
    assert sorted(p.name for p in (run / "adapters").iterdir()) == sorted([slug(BACH), slug(STYLED)])


@pytest.mark.parametrize("composer,extra,fragments", [
    ("Wolfgang Amadeus Mozart", [], ("unknown composer",)),
    (BACH, [], ("3 training pieces", "finetune.min_pieces=5")),  # the recipe's default minimum
    ("Franz Schubert", ["finetune.min_pieces=1"], ("no validation or test pieces",)),  # his other one is corrupt
])
def test_finetune_refuses_composers(base_run, composer, extra, fragments, capsys):
    before = snapshot(base_run)
    code, _, err = run_cli(["finetune", "--composer", composer, "--base", base_run, *sets(*extra)], capsys)
    assert_one_line_error(code, err, *fragments)
    assert snapshot(base_run) == before  # nothing written, not even an adapters folder


def test_a_composer_without_validation_pieces_is_measured_on_its_test_pieces(base_run, tmp_path, capsys):
    run = copy_run(base_run, tmp_path / "run")
    code, _, err = run_cli(["finetune", "--composer", "chopin", "--base", run,
                            *sets(*ADAPTER_SETS, "finetune.min_pieces=1")], capsys)
    assert code == 0, err
    report = json.loads((run / "adapters" / slug("Frédéric Chopin") / "finetune.json").read_text())
    assert report["held_out_split"] == "test" and report["validation_loss_base"] > 0


def test_finetune_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a model")
    code, _, err = run_cli(["finetune", "--composer", BACH, "--base", tmp_path], capsys)
    assert_one_line_error(code, err, "is not an mst run", "config.json")
    code, _, err = run_cli(["finetune", "--composer", BACH, "--base", tmp_path / "missing"], capsys)
    assert_one_line_error(code, err, "not found")


def test_finetune_refuses_a_vocabulary_mismatch(base_run, tmp_path, capsys):
    from styletransfer.model.build import build_model, save_model
    from styletransfer.config import load_recipe

    # config.json edited by hand: caught before transformers tries to load mismatched weights.
    edited = copy_run(base_run, tmp_path / "edited")
    config = json.loads((edited / "config.json").read_text())
    config["vocab_size"] += 8
    (edited / "config.json").write_text(json.dumps(config))
    code, _, err = run_cli(["finetune", "--composer", BACH, "--base", edited, *sets(*ADAPTER_SETS)], capsys)
    assert_one_line_error(code, err, "vocabulary", str(config["vocab_size"]))

    # A consistent model of another vocabulary beside this tokenizer.
    other = copy_run(base_run, tmp_path / "other")
    recipe = load_recipe(base_run / "recipe.yaml")
    save_model(build_model(recipe.model, config["vocab_size"] - 1, 0, 1, 2), other)
    code, _, err = run_cli(["finetune", "--composer", BACH, "--base", other, *sets(*ADAPTER_SETS)], capsys)
    assert_one_line_error(code, err, "vocabulary", str(config["vocab_size"] - 1))
    assert not (other / "adapters").exists()


def test_finetune_refuses_data_of_another_tokenizer(base_run, tmp_path, capsys):
    from styletransfer.config import load_recipe

    run = copy_run(base_run, tmp_path / "run")
    other = tmp_path / "data"
    shutil.copytree(load_recipe(run / "recipe.yaml").data.out, other)
    tok = json.loads((other / "tokenizer.json").read_text())
    (other / "tokenizer.json").write_text(json.dumps(tok, indent=2))  # same content, other bytes: another file
    code, _, err = run_cli(["finetune", "--composer", BACH, "--base", run, *sets(*ADAPTER_SETS, f"data.out={other}")], capsys)
    assert_one_line_error(code, err, "another tokenizer")
