"""One training loop for pretraining and LoRA finetuning, on transformers' Trainer.

The Trainer gives us what a hand-rolled loop would get wrong: DDP under torchrun (gloo on CPU, nccl
on GPU), bf16 autocast, gradient accumulation, cosine schedule with warmup, checkpoints that hold
optimizer/scheduler/RNG state for an exact resume, and a progress bar. We add the run-folder layout,
a JSONL metrics log, perplexity, and resume that ignores half-written checkpoints. What a run folder
holds is listed in model/runs.py.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from peft import LoraConfig, get_peft_model
from transformers import Trainer, TrainerCallback, TrainingArguments

from .config import Recipe, load_recipe, save_recipe
from .data.catalog import find_composer
from .data.examples import ExampleSet, Specials, unigram_loss
from .data.prepare import TokenCache
from .data.texture import measure_texture
from .errors import UserError
from .io import atomic_write_text, replace_dir
from .model.build import build_model, load_model, save_model
from .model.runs import (
    ADAPTERS,
    CHECKPOINTS,
    FINETUNE_FILE,
    METRICS_FILE,
    MODEL_CONFIG,
    RECIPE_FILE,
    check_vocabulary,
    complete_checkpoints,
    drop_incomplete_checkpoints,
    save_texture,
    slug,
)
from .tokens.parts import Texture
from .tokens.tokenizer import TOKENIZER_FILE, load_tokenizer, special_id


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


class MetricsLog(TrainerCallback):
    """Appends every log and evaluation to metrics.jsonl, with tokens/s and perplexity."""

    def __init__(self, path: Path, tokens_per_step: int):
        self.path, self.tokens_per_step = path, tokens_per_step
        self.last_time, self.last_step = None, 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.last_time, self.last_step = time.time(), state.global_step

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        record = {"step": state.global_step, **{k: v for k, v in logs.items() if isinstance(v, (int, float))}}
        if "loss" in logs and self.last_time is not None:
            now = time.time()
            steps = state.global_step - self.last_step
            if steps > 0:
                record["tokens_per_s"] = round(steps * self.tokens_per_step / (now - self.last_time), 1)
            self.last_time, self.last_step = now, state.global_step
        if "eval_loss" in logs:
            record["eval_perplexity"] = math.exp(min(logs["eval_loss"], 50))
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


def training_arguments(recipe: Recipe, out: Path, max_steps: int, lr: float, **extra) -> TrainingArguments:
    t = recipe.train
    cuda = torch.cuda.is_available()
    return TrainingArguments(
        output_dir=str(out / CHECKPOINTS),
        max_steps=max_steps,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        learning_rate=lr,
        lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr": min(t.min_lr, lr)},
        warmup_steps=min(t.warmup_steps, max_steps // 5),
        weight_decay=t.weight_decay,
        adam_beta2=0.99,
        max_grad_norm=1.0,
        eval_strategy="steps",
        eval_steps=t.eval_interval,
        save_strategy="steps",
        save_steps=t.save_interval,
        save_total_limit=2,
        logging_steps=max(1, min(50, t.eval_interval // 5)),
        report_to=[],
        bf16=cuda and torch.cuda.is_bf16_supported(),
        use_cpu=not cuda,
        ddp_backend=("nccl" if cuda else "gloo") if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
        ddp_find_unused_parameters=False,  # every trainable parameter is used: skip DDP's extra graph walk
        dataloader_num_workers=0,
        seed=t.seed,
        data_seed=t.seed,
        disable_tqdm=not is_main_process(),
        remove_unused_columns=False,
        **extra,
    )


def set_threads(recipe: Recipe) -> None:
    if not torch.cuda.is_available():
        world = int(os.environ.get("WORLD_SIZE", "1"))
        torch.set_num_threads(recipe.train.threads or max(1, (os.cpu_count() or 1) // world))


def truncate_metrics(path: Path, step: int) -> None:
    """Drop the records an interrupted run logged after ``step``: the resumed run logs them again."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by the kill
        if record.get("step", record.get("final", {}).get("steps", 0)) <= step:
            kept.append(line + "\n")
    atomic_write_text(path, "".join(kept))


def run_trainer(model, args: TrainingArguments, train_set, eval_set, out: Path, resume: bool, tokens_per_step: int):
    """Train, resuming from the last complete checkpoint when asked. Returns the Trainer."""
    checkpoints = out / CHECKPOINTS
    resume_from = None
    if resume:
        drop_incomplete_checkpoints(checkpoints)
        complete = complete_checkpoints(checkpoints)
        if not complete:
            raise UserError(f"{out}: nothing to resume (no complete checkpoint in {checkpoints})")
        resume_from = str(complete[-1])
        if is_main_process():
            truncate_metrics(out / METRICS_FILE, int(complete[-1].name.split("-")[1]))
    trainer = Trainer(model=model, args=args, train_dataset=train_set, eval_dataset=eval_set,
                      callbacks=[MetricsLog(out / METRICS_FILE, tokens_per_step)])
    trainer.train(resume_from_checkpoint=resume_from)
    return trainer


def eval_loss(model, eval_set, batch_size: int) -> float:
    """Mean token loss of ``model`` on ``eval_set`` (label tokens weighted equally)."""
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    loader = torch.utils.data.DataLoader(eval_set, batch_size=batch_size)
    with torch.inference_mode():
        for batch in loader:
            batch = {k: v.to(device) for k, v in batch.items()}
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            labels = batch["labels"][:, 1:]
            loss = torch.nn.functional.cross_entropy(
                logits[:, :-1].float().reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100, reduction="sum")
            total += float(loss)
            count += int((labels != -100).sum())
    return total / max(count, 1)


def example_sets(recipe: Recipe, data_dir: Path, tokenizer, max_steps: int, composer: str | None = None):
    """Training and validation ExampleSets (of one composer, or of everything). A composer with no validation
    pieces (the corpus' trecento set) is measured on its test pieces: nothing is chosen by that loss, it
    is only reported (the returned cache's ``split`` says which)."""
    train_cache, valid_cache = TokenCache(data_dir, "train"), TokenCache(data_dir, "validation")
    if composer is None:
        train_pieces, valid_pieces = np.arange(len(train_cache)), np.arange(len(valid_cache))
    else:
        train_pieces = train_cache.pieces_of(composer)
        valid_pieces = valid_cache.pieces_of(composer)
        if len(valid_pieces) == 0:
            valid_cache = TokenCache(data_dir, "test")
            valid_pieces = valid_cache.pieces_of(composer)
    if len(valid_pieces) == 0:
        raise UserError(f"no validation {'or test pieces by ' + composer if composer else 'pieces'} in {data_dir}")
    t = recipe.train
    world = int(os.environ.get("WORLD_SIZE", "1"))
    specials = Specials(tokenizer)
    n_train = max_steps * t.batch_size * t.grad_accum * world
    train_set = ExampleSet(train_cache, train_pieces, specials, recipe.model.context, t.pair_ratio, n_train, seed=t.seed)
    eval_set = ExampleSet(valid_cache, valid_pieces, specials, recipe.model.context, t.pair_ratio,
                          t.eval_batches * t.batch_size, seed=10_000 + t.seed)
    return train_set, eval_set, train_cache, valid_cache


def pretrain_recipe(recipe: str | os.PathLike | None, out: Path, overrides: list[str], resume: bool) -> Recipe:
    """The recipe `mst pretrain` runs: a resumed run continues its own saved recipe (``--set`` overrides apply
    on top of it) unless ``--recipe`` names another one."""
    saved = out / RECIPE_FILE
    if resume and recipe is None and saved.exists():
        return load_recipe(saved, overrides)
    return load_recipe(recipe, overrides)


def composers_to_finetune(recipe: Recipe) -> list[str]:
    """Every composer with at least ``finetune.min_pieces`` original training pieces (`--all-composers`)."""
    cache = TokenCache(recipe.data.out, "train")
    originals = cache.catalog.iloc[cache.pieces.loc[cache.pieces.augmented == 0, "row"]]
    counts = originals.explode("composers")["composers"].value_counts()
    names = [name for name, n in counts.items() if n >= recipe.finetune.min_pieces]
    if not names:
        raise UserError(f"no composer has {recipe.finetune.min_pieces} training pieces")
    return names


def training_texture(cache: TokenCache, composer: str | None = None) -> Texture:
    """The texture of the training pieces (a composer's, or all), measured on their MIDI files."""
    rows = (cache.pieces_of(composer, originals_only=True) if composer
            else np.flatnonzero(cache.pieces["augmented"].to_numpy() == 0))
    paths = cache.catalog["midi"].iloc[cache.pieces["row"].iloc[rows]].tolist()
    return measure_texture(paths)


def pretrain(recipe: Recipe, out: str | os.PathLike, data_dir: str | os.PathLike | None = None, resume: bool = False,
             force: bool = False) -> dict:
    """Train the base model on every composer; returns a summary of the run."""
    out, data_dir = Path(out), Path(data_dir or recipe.data.out)
    # The saved recipe names the data this run was trained on (finetune and --resume read data.out).
    recipe = recipe.model_copy(update={"data": recipe.data.model_copy(update={"out": str(data_dir)})})
    if resume and (out / RECIPE_FILE).exists():
        saved = load_recipe(out / RECIPE_FILE)
        if saved.model != recipe.model:
            raise UserError(f"{out} was trained with model {saved.model.model_dump()}: resume it with its own recipe "
                            "(drop --recipe and model.* overrides)")
    if not resume and not force and (out / MODEL_CONFIG).exists():
        raise UserError(f"{out} already holds a trained model: use --resume to continue it or --force to retrain")
    if not resume and not force and complete_checkpoints(out / CHECKPOINTS):
        raise UserError(f"{out} holds checkpoints of an interrupted run: --resume to continue it, --force to start over")
    set_threads(recipe)
    tokenizer = load_tokenizer(data_dir)
    train_set, eval_set, train_cache, valid_cache = example_sets(recipe, data_dir, tokenizer, recipe.train.max_steps)
    if is_main_process():
        if force and not resume:
            shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
            (out / METRICS_FILE).unlink(missing_ok=True)
        out.mkdir(parents=True, exist_ok=True)
        save_recipe(recipe, out)
        shutil.copyfile(data_dir / TOKENIZER_FILE, out / TOKENIZER_FILE)
        save_texture(out, training_texture(TokenCache(data_dir, "train")))
    torch.manual_seed(recipe.train.seed)
    model = build_model(recipe.model, len(tokenizer), special_id(tokenizer, "PAD"), special_id(tokenizer, "BOS"),
                        special_id(tokenizer, "EOS"))
    t = recipe.train
    args = training_arguments(recipe, out, t.max_steps, t.lr)
    tokens_per_step = t.batch_size * t.grad_accum * recipe.model.context * int(os.environ.get("WORLD_SIZE", "1"))
    started = time.time()
    trainer = run_trainer(model, args, train_set, eval_set, out, resume, tokens_per_step)
    seconds = time.time() - started
    summary = {}
    if trainer.is_world_process_zero():
        final = eval_loss(trainer.model, eval_set, t.batch_size)
        summary = {"steps": trainer.state.global_step, "seconds": round(seconds, 1), "eval_loss": final,
                   "eval_perplexity": math.exp(final),
                   "unigram_loss": unigram_loss(train_cache.texture, valid_cache.texture, len(tokenizer)),
                   "parameters": sum(p.numel() for p in trainer.model.parameters())}
        save_model(trainer.model, out)
        with open(out / METRICS_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"final": summary}) + "\n")
    return summary


def finetune(recipe: Recipe, base: Path, composer_name: str, force: bool = False) -> dict:
    """Train one LoRA adapter on a composer's training pieces; report validation loss with and without it."""
    data_dir = Path(recipe.data.out)
    tokenizer = load_tokenizer(base)
    check_vocabulary(base, tokenizer, base)
    data_tokenizer = data_dir / TOKENIZER_FILE
    if not data_tokenizer.exists():
        raise UserError(f"no prepared data at {data_dir} (run `mst data prepare` with the base's recipe)")
    if data_tokenizer.read_bytes() != (base / TOKENIZER_FILE).read_bytes():
        raise UserError(f"{data_dir} was prepared with another tokenizer than {base}'s: `mst data prepare --set data.tokenizer={base / TOKENIZER_FILE}`")
    composer = find_composer(TokenCache(data_dir, "train").catalog, composer_name)
    f = recipe.finetune
    train_cache = TokenCache(data_dir, "train")
    originals = len(train_cache.pieces_of(composer, originals_only=True))
    if originals < f.min_pieces:
        raise UserError(f"{composer} has {originals} training pieces, fewer than finetune.min_pieces={f.min_pieces}")
    target = base / ADAPTERS / slug(composer)
    if target.exists() and not force:
        raise UserError(f"adapter exists: {target} (use --force to replace it)")
    set_threads(recipe)
    train_set, eval_set, _, held_out = example_sets(recipe, data_dir, tokenizer, f.max_steps, composer=composer)
    model = load_model(base)
    check_vocabulary(model, tokenizer, base)
    lora = LoraConfig(task_type="CAUSAL_LM", r=f.lora_r, lora_alpha=f.lora_alpha, lora_dropout=f.lora_dropout,
                      target_modules=list(f.target_modules))
    try:
        model = get_peft_model(model, lora)
    except ValueError as exc:
        raise UserError(f"finetune.target_modules {f.target_modules} do not fit this model ({str(exc).splitlines()[0][:120]})") from None
    with model.disable_adapter():
        before = eval_loss(model, eval_set, recipe.train.batch_size)
    work = base / ADAPTERS / f".{slug(composer)}.work"
    shutil.rmtree(work, ignore_errors=True)
    args = training_arguments(recipe, work, f.max_steps, f.lr)
    tokens_per_step = recipe.train.batch_size * recipe.train.grad_accum * recipe.model.context
    started = time.time()
    trainer = run_trainer(model, args, train_set, eval_set, work, resume=False, tokens_per_step=tokens_per_step)
    after = eval_loss(trainer.model, eval_set, recipe.train.batch_size)
    summary = {"composer": composer, "training_pieces": originals, "steps": trainer.state.global_step,
               "seconds": round(time.time() - started, 1), "validation_loss_base": before,
               "validation_loss_adapter": after, "improvement": before - after, "held_out_split": held_out.split}
    staging = work / "adapter"
    trainer.model.save_pretrained(str(staging), safe_serialization=True)
    save_recipe(recipe, staging)
    save_texture(staging, training_texture(train_cache, composer))
    (staging / FINETUNE_FILE).write_text(json.dumps(summary, indent=1))
    shutil.move(str(work / METRICS_FILE), staging / METRICS_FILE) if (work / METRICS_FILE).exists() else None
    replace_dir(staging, target)
    shutil.rmtree(work, ignore_errors=True)
    summary["adapter"] = str(target)
    summary["adapter_bytes"] = sum(p.stat().st_size for p in target.iterdir())
    return summary
