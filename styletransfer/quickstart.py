"""`mst quickstart`: from a fresh install to a harmonized melody with the bundled corpus only.

Four steps, each the package's own: prepare the data (data/prepare.py), pretrain a small base and finetune
one composer (train.py), transfer a melody (transfer/pipeline.py). ``plan_quickstart`` checks everything a
user can get wrong before minutes of work; ``train_quickstart`` runs steps 1-3; step 4 is the plan's
``transfer`` request, run like `mst transfer`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .config import Recipe, load_recipe, resolve_data_path
from .data.catalog import find_composer
from .data.melody_file import read_melody_noting
from .data.prepare import prepare, source_catalog
from .errors import UserError
from .io import refuse_to_overwrite
from .model.runs import (
    ADAPTERS,
    CHECKPOINTS,
    MODEL_CONFIG,
    RECIPE_FILE,
    complete_checkpoints,
    slug,
)
from .train import finetune, pretrain
from .transfer.pipeline import TransferRequest, output_files

MELODY = "data/melodies/happy_birthday.mid"  # the default, bundled with the repository


@dataclass
class QuickstartPlan:
    recipe: Recipe
    steps: int
    finetune_steps: int
    run_dir: Path
    data_dir: Path
    composer: str
    transfer: TransferRequest  # step 4
    melody_warnings: list[str]


def plan_quickstart(workdir: Path, steps: int, melody: Path | None = None,
                    composer: str = "Johann Sebastian Bach", data: Path | None = None, recipe: str | None = None,
                    overrides: list[str] | None = None, force: bool = False) -> QuickstartPlan:
    """The default recipe shortened to ``steps`` pretraining steps (a third of them finetuning), every input
    and output checked: a mistake is a UserError before any work."""
    if steps < 1:
        raise UserError(f"--steps must be at least 1, got {steps}")
    finetune_steps = max(10, steps // 3)
    run_dir = workdir / "runs" / "base"
    data_dir = data if data is not None else workdir / "data"
    melody_path = melody if melody is not None else resolve_data_path(MELODY)
    if not melody_path.exists():
        raise UserError(f"melody not found: {melody_path}" + ("" if melody else " (pass --melody FILE)"))
    if not force and ((run_dir / MODEL_CONFIG).exists() or complete_checkpoints(run_dir / CHECKPOINTS)):
        raise UserError(f"{run_dir} already holds a run: use --force to replace it, or another --workdir")
    # No evaluation inside the loops (pretrain and finetune each report a final validation loss anyway),
    # fewer validation batches: on 2 busy cores each evaluation pass costs ~25 s.
    shortened = [f"data.out={data_dir}", f"train.max_steps={steps}", f"train.eval_interval={steps + 1}",
                 f"train.save_interval={max(1, steps // 2)}", "train.eval_batches=8",
                 f"train.warmup_steps={min(40, max(1, steps // 10))}", f"finetune.max_steps={finetune_steps}",
                 *(overrides or [])]
    cfg = load_recipe(recipe, shortened)
    _, warnings = read_melody_noting(melody_path)
    name = find_composer(source_catalog(cfg.data), composer)
    style = slug(name)
    out = workdir / f"{melody_path.stem}.{style.split('-')[-1]}.mid"
    refuse_to_overwrite(output_files(melody_path, style, out).all, force)
    request = TransferRequest(melody_path, style, str(run_dir), out=out, force=force)
    return QuickstartPlan(cfg, steps, finetune_steps, run_dir, data_dir, name, request, warnings)


def train_quickstart(plan: QuickstartPlan, step: Callable[[int, str], None], say: Callable[[str], None],
                     force: bool = False) -> None:
    """Steps 1-3: the data, the base, the adapter; ``step(k, title)`` announces each, ``say`` reports it."""
    cfg = plan.recipe
    step(1, f"prepare the data ({cfg.data.path} -> {plan.data_dir})")
    report = prepare(cfg.data)
    say(f"data: {report.out}  ({'up to date' if report.cached else 'built'} in {report.seconds:.0f}s, "
        f"vocabulary {report.vocab_size}, {report.tokens.get('train', 0):,} training tokens)")

    step(2, f"pretrain a small base ({plan.steps} steps at batch {cfg.train.batch_size})")
    summary = pretrain(cfg, plan.run_dir, force=force)
    say(f"base model: {plan.run_dir}  (validation loss {summary.get('eval_loss', float('nan')):.3f} "
        f"in {summary.get('seconds', 0):.0f}s)")

    step(3, f"finetune a LoRA adapter on {plan.composer} ({plan.finetune_steps} steps)")
    summary = finetune(load_recipe(plan.run_dir / RECIPE_FILE), plan.run_dir, plan.composer, force=force)
    say(f"adapter: {summary.get('adapter', plan.run_dir / ADAPTERS / slug(plan.composer))}  (validation loss on "
        f"{plan.composer}: {summary.get('validation_loss_base', float('nan')):.3f} -> "
        f"{summary.get('validation_loss_adapter', float('nan')):.3f})")
