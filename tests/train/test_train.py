"""`mst pretrain`: the run folder, refusing to overwrite, resume after SIGKILL, DDP under torchrun,
conditioning examples, and `mst import-nanogpt`."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from support.train import TINY, assert_one_line_error, call_mst, run_cli, sets, snapshot
from styletransfer.errors import UserError


RUN_FILES = ("config.json", "model.safetensors", "tokenizer.json", "recipe.yaml", "metrics.jsonl")


def records(run: Path, strict: bool = True) -> list[dict]:
    out = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            if strict:
                raise
    return out


def step_of(checkpoint: Path) -> int:
    return json.loads((checkpoint / "trainer_state.json").read_text())["global_step"]


def complete_checkpoints(run: Path) -> list[Path]:
    """Checkpoints whose trainer_state.json (written last) is there and whole."""
    found = []
    for state in (run / "checkpoints").glob("checkpoint-*/trainer_state.json"):
        try:
            json.loads(state.read_text())
        except ValueError:
            continue
        found.append(state.parent)
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def assert_complete_run(run: Path, max_steps: int, data: Path) -> None:
    for name in RUN_FILES:
        assert (run / name).is_file(), name
    assert (run / "tokenizer.json").read_bytes() == (data / "tokenizer.json").read_bytes()
    config = json.loads((run / "config.json").read_text())
    assert config["model_type"] == "llama" and config["num_hidden_layers"] == 2 and config["hidden_size"] == 32
    saved = yaml.safe_load((run / "recipe.yaml").read_text())
    assert saved["model"]["n_embd"] == 32 and saved["train"]["max_steps"] == max_steps
    assert Path(saved["data"]["out"]) == data  # finetune and --resume find the data the run was trained on
    recs = records(run)
    evals = [r for r in recs if "eval_loss" in r]
    assert evals and all(r["eval_perplexity"] == pytest.approx(np.exp(r["eval_loss"])) for r in evals)
    assert any("loss" in r and "tokens_per_s" in r for r in recs)
    final = recs[-1]["final"]
    assert final["steps"] == max_steps and np.isfinite(final["eval_loss"])
    checkpoints = complete_checkpoints(run)
    assert checkpoints and step_of(checkpoints[-1]) == max_steps
    assert checkpoints[-1].name == f"checkpoint-{max_steps}"


# --- 1. the run folder, and no silent overwrite -------------------------------------------------


def test_pretrain_writes_a_complete_run_and_refuses_to_overwrite(train_data, tmp_path, capsys):
    from styletransfer.model.build import load_model
    from styletransfer.tokens.tokenizer import load_tokenizer

    recipe, data = train_data
    run, steps = tmp_path / "run", 12
    args = ["pretrain", "--recipe", recipe, "--data", data, "--out", run,
            *sets(f"train.max_steps={steps}", "train.eval_interval=6", "train.save_interval=6", "train.lr=0.003")]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    assert "pretrained" in out and "eval perplexity" in out  # the summary table
    assert_complete_run(run, steps, data)
    assert [p.name for p in complete_checkpoints(run)] == ["checkpoint-6", "checkpoint-12"]
    losses = [r["loss"] for r in records(run) if "loss" in r]
    assert losses[-1] < losses[0]  # it learned something
    assert load_model(run).config.vocab_size == len(load_tokenizer(data))

    before = snapshot(run)
    code, _, err = run_cli(args, capsys)
    assert_one_line_error(code, err, "already holds a trained model", "--resume", "--force")
    assert snapshot(run) == before  # nothing overwritten, not even the metrics log


def test_pretrain_force_starts_over(train_data, tmp_path):
    from styletransfer.config import load_recipe
    from styletransfer.train import pretrain

    recipe_path, data = train_data
    recipe = load_recipe(recipe_path, TINY + ["train.max_steps=4", "train.eval_interval=2", "train.save_interval=2"])
    pretrain(recipe, tmp_path / "run", data_dir=data)
    with pytest.raises(UserError, match="already holds a trained model"):
        pretrain(recipe, tmp_path / "run", data_dir=data)
    short = recipe.model_copy(update={"train": recipe.train.model_copy(update={"max_steps": 2})})
    summary = pretrain(short, tmp_path / "run", data_dir=data, force=True)
    assert summary["steps"] == 2
    assert [p.name for p in complete_checkpoints(tmp_path / "run")] == ["checkpoint-2"]  # old checkpoints gone
    assert [r["final"]["steps"] for r in records(tmp_path / "run") if "final" in r] == [2]  # a fresh log


def test_resume_without_a_checkpoint_is_a_user_error(train_data, tmp_path, capsys):
    recipe, data = train_data
    code, _, err = run_cli(["pretrain", "--recipe", recipe, "--data", data, "--out", tmp_path / "run", "--resume",
                            *sets("train.max_steps=2")], capsys)
    assert_one_line_error(code, err, "nothing to resume")


# --- 2. resume after SIGKILL ----------------------------------------------------------------------

RESUME_STEPS = 80  # ~2 s of training after the first checkpoint (step 5): time to kill it
RESUME_SETS = (f"train.max_steps={RESUME_STEPS}", "train.save_interval=5", "train.eval_interval=10",
               "train.eval_batches=1", "train.lr=0.003")


def test_resume_after_sigkill_matches_an_uninterrupted_run(train_data, tmp_path, capsys):
    recipe, data = train_data
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "styletransfer", "pretrain", "--recipe", str(recipe), "--data", str(data),
           "--out", str(run), *sets(*RESUME_SETS)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not complete_checkpoints(run):
            if proc.poll() is not None:
                pytest.fail(f"pretrain ended (status {proc.returncode}) before its first checkpoint: {proc.stderr.read()[-2000:]}")
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.01)
        assert proc.poll() is None, "the run finished before it could be killed: raise RESUME_STEPS"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "model.safetensors").exists()  # killed before the end
    killed_at = step_of(complete_checkpoints(run)[-1])
    assert 0 < killed_at < RESUME_STEPS
    (run / "checkpoints" / "checkpoint-999").mkdir()  # as if killed while writing a checkpoint
    (run / "checkpoints" / "checkpoint-999" / "model.safetensors").write_bytes(b"half")
    (run / "checkpoints" / "checkpoint-998").mkdir()  # ... or while writing its trainer_state.json
    (run / "checkpoints" / "checkpoint-998" / "trainer_state.json").write_text('{"global_step": 9')
    killed_log = records(run, strict=False)  # its last line may be cut short

    # Without --resume or --force an interrupted run is not silently restarted.
    code, _, err = run_cli(["pretrain", "--recipe", recipe, "--data", data, "--out", run, *sets(*RESUME_SETS)], capsys)
    assert_one_line_error(code, err, "interrupted run", "--resume")

    # --resume alone continues with the run's own saved recipe (and data folder).
    assert call_mst(["pretrain", "--out", run, "--resume"]) == 0
    for half in ("checkpoint-999", "checkpoint-998"):
        assert not (run / "checkpoints" / half).exists()  # half-written checkpoints were dropped, not resumed from
    assert_complete_run(run, RESUME_STEPS, data)
    recs = records(run)
    kept = [r for r in killed_log if r["step"] <= killed_at]
    assert recs[:len(kept)] == kept  # the killed run's records up to its checkpoint stay, the later ones go
    new = recs[len(kept):]
    steps = [r["step"] for r in new if "step" in r]
    assert steps and min(steps) > killed_at  # continued from the checkpoint, not from step 0
    assert max(steps) == RESUME_STEPS and new[-1]["final"]["steps"] == RESUME_STEPS
    assert any("eval_loss" in r for r in new)
    loss_steps = [r["step"] for r in recs if "loss" in r]
    assert loss_steps == sorted(set(loss_steps))  # one log, as if never interrupted: no step logged twice

    # The same seed without the interruption gives the same weights: data order, optimizer, scheduler
    # and RNG state all come back from the checkpoint.
    straight = tmp_path / "straight"
    assert call_mst(["pretrain", "--recipe", recipe, "--data", data, "--out", straight, *sets(*RESUME_SETS)]) == 0
    resumed, uninterrupted = load_file(run / "model.safetensors"), load_file(straight / "model.safetensors")
    assert resumed.keys() == uninterrupted.keys()
    for name in resumed:
        assert torch.allclose(resumed[name], uninterrupted[name], atol=1e-5, rtol=0), name
    assert records(run)[-1]["final"]["eval_loss"] == pytest.approx(records(straight)[-1]["final"]["eval_loss"], abs=1e-5)


def test_resume_refuses_another_model_shape(train_data, tmp_path, capsys):
    from styletransfer.config import load_recipe
    from styletransfer.train import pretrain

    recipe_path, data = train_data
    recipe = load_recipe(recipe_path, TINY + ["train.max_steps=2", "train.save_interval=1", "train.eval_interval=1"])
    run = tmp_path / "run"
    pretrain(recipe, run, data_dir=data)
    (run / "config.json").unlink()  # an interrupted run: checkpoints but no final model
    code, _, err = run_cli(["pretrain", "--out", run, "--resume", "--set", "model.n_embd=64"], capsys)
    assert_one_line_error(code, err, "was trained with model")


# --- 3. conditioning examples ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_parts(prepared):
    from styletransfer.data.prepare import TokenCache
    from styletransfer.data.examples import Specials
    from styletransfer.tokens.tokenizer import load_tokenizer

    _, out, _ = prepared
    cache = TokenCache(out, "train")
    return cache, Specials(load_tokenizer(out))


def contains(haystack: np.ndarray, needle: list[int]) -> bool:
    if not needle:
        return True
    hay = np.asarray(haystack, np.int64)
    starts = np.flatnonzero(hay[: len(hay) - len(needle) + 1] == needle[0])
    return any(hay[s:s + len(needle)].tolist() == needle for s in starts)


def test_pair_examples_are_melody_prompt_then_texture(example_parts):
    from styletransfer.data.examples import IGNORE, ExampleSet

    cache, sp = example_parts
    context = 64
    examples = ExampleSet(cache, np.arange(len(cache)), sp, context, pair_ratio=1.0, length=24, seed=3)
    for i in range(len(examples)):
        ex = examples[i]
        ids, labels, mask = ex["input_ids"].tolist(), ex["labels"].tolist(), ex["attention_mask"].tolist()
        assert len(ids) == len(labels) == len(mask) == context
        assert ids[:2] == [sp.bos, sp.melody]
        assert ids.count(sp.texture) == 1 and ids.count(sp.melody) == 1
        t = ids.index(sp.texture)
        n = sum(mask)
        assert mask == [1] * n + [0] * (context - n) and t < n
        assert labels[: t + 1] == [IGNORE] * (t + 1)  # no loss on the prompt
        assert labels[t + 1: n] == ids[t + 1: n]  # loss on the texture
        assert labels[n:] == [IGNORE] * (context - n) and ids[n:] == [sp.pad] * (context - n)
        melody, texture = ids[2:t], [x for x in ids[t + 1: n] if x != sp.eos]
        assert melody and texture
        assert contains(cache.melody, melody) and contains(cache.texture, texture)  # real spans of the cache


def test_plain_examples_are_windows(example_parts):
    from styletransfer.data.examples import IGNORE, ExampleSet

    cache, sp = example_parts
    examples = ExampleSet(cache, np.arange(len(cache)), sp, 64, pair_ratio=0.0, length=24, seed=3)
    for i in range(len(examples)):
        ex = examples[i]
        ids, labels, mask = ex["input_ids"].tolist(), ex["labels"].tolist(), ex["attention_mask"].tolist()
        n = sum(mask)
        assert sp.melody not in ids and sp.texture not in ids
        assert labels[:n] == ids[:n] and labels[n:] == [IGNORE] * (64 - n)
        body = [x for x in ids[:n] if x not in (sp.bos, sp.eos)]
        assert contains(cache.texture, body)
        assert ids[0] == sp.bos or n == 64  # a window from the start of a piece, or a full one from inside


def test_example_i_is_deterministic(example_parts):
    from styletransfer.data.examples import ExampleSet

    cache, sp = example_parts
    pieces = np.arange(len(cache))

    def make(seed):
        return ExampleSet(cache, pieces, sp, 64, pair_ratio=0.5, length=32, seed=seed)

    a, b, other = make(1), make(1), make(2)
    for i in (31, 0, 7, 7, 3):  # any order, any repetition
        for key in ("input_ids", "labels", "attention_mask"):
            assert torch.equal(a[i][key], b[i][key])
    kinds = {bool((a[i]["input_ids"] == sp.melody).any()) for i in range(32)}
    assert kinds == {True, False}  # pair_ratio 0.5 mixes both kinds
    assert any(not torch.equal(a[i]["input_ids"], other[i]["input_ids"]) for i in range(32))


# --- 5. DDP under torchrun ------------------------------------------------------------------------


def test_torchrun_two_processes(train_data, tmp_path):
    recipe, data = train_data
    torchrun = Path(sys.executable).parent / "torchrun"
    assert torchrun.exists()
    run = tmp_path / "ddp"
    steps = 6
    cmd = [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "styletransfer", "pretrain",
           "--recipe", str(recipe), "--data", str(data), "--out", str(run),
           *sets(f"train.max_steps={steps}", "train.eval_interval=3", "train.save_interval=3", "train.batch_size=2")]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_complete_run(run, steps, data)
    recs = records(run)
    loss_steps = [r["step"] for r in recs if "loss" in r]
    assert len(loss_steps) == len(set(loss_steps))  # one writer (rank 0), not one per process
    state = json.loads((run / "checkpoints" / f"checkpoint-{steps}" / "trainer_state.json").read_text())
    assert state["global_step"] == steps
    # Two processes of batch 2: 4 sequences of 64 tokens per optimizer step.
    assert state["train_batch_size"] == 2
    assert any(r.get("tokens_per_s") for r in recs)


# --- 7. import-nanogpt ----------------------------------------------------------------------------


def test_import_nanogpt_cli(prepared, tmp_path, capsys):
    from support.nanogpt import NanoGPT

    from styletransfer.model.build import load_model
    from styletransfer.tokens.tokenizer import load_tokenizer

    _, data, _ = prepared
    tokenizer = load_tokenizer(data)
    vocab = len(tokenizer)
    torch.manual_seed(0)
    args = dict(n_layer=2, n_head=2, n_embd=16, block_size=32, bias=False, vocab_size=vocab + 24, dropout=0.0)
    nano = NanoGPT(**args).eval()  # a padded vocabulary, as nanoGPT checkpoints often have
    torch.save({"model": nano.state_dict(), "model_args": args, "iter_num": 5}, tmp_path / "ckpt.pt")
    out = tmp_path / "imported"

    code, stdout, err = run_cli(["import-nanogpt", tmp_path / "ckpt.pt", "--tokenizer", data / "tokenizer.json",
                                 "--out", out], capsys)
    assert code == 0, err
    model = load_model(out)
    assert model.config.model_type == "gpt2" and model.config.vocab_size == vocab
    assert (out / "tokenizer.json").read_bytes() == (data / "tokenizer.json").read_bytes()
    recipe = yaml.safe_load((out / "recipe.yaml").read_text())
    assert recipe["model"] == {**recipe["model"], "arch": "gpt2", "n_layer": 2, "n_head": 2, "n_embd": 16, "context": 32}
    ids = torch.randint(0, vocab, (2, 32))
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, nano(ids)[..., :vocab], atol=2e-3, rtol=1e-3)  # logits ~10

    before = snapshot(out)
    code, _, err = run_cli(["import-nanogpt", tmp_path / "ckpt.pt", "--tokenizer", data / "tokenizer.json",
                            "--out", out], capsys)
    assert_one_line_error(code, err, "already holds a model", "--force")
    assert snapshot(out) == before
    code, _, err = run_cli(["import-nanogpt", tmp_path / "missing.pt", "--tokenizer", data / "tokenizer.json",
                            "--out", tmp_path / "other"], capsys)
    assert_one_line_error(code, err, "no such checkpoint")
