"""`mst quickstart`: data, a small base, a Bach adapter and Happy Birthday, in one command."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import RecipeOpt, SetOpt, app, console, print_warnings
from .transfer import report_transfer

STEPS = 150


@app.command()
def quickstart(
    workdir: Annotated[Path, typer.Option(help="everything goes here: data/, runs/base/ (+ adapters/), the transfer")] = Path("quickstart"),
    steps: Annotated[int, typer.Option(help="pretraining steps at batch 16; the finetune takes a third of them")] = STEPS,
    melody: Annotated[Optional[Path], typer.Option(help="melody to transfer (default: the bundled data/melodies/happy_birthday.mid)")] = None,
    composer: Annotated[str, typer.Option(help="the composer to finetune on and transfer to")] = "Johann Sebastian Bach",
    data: Annotated[Optional[Path], typer.Option(help="prepared data folder (default: WORKDIR/data; an up-to-date one is reused)")] = None,
    recipe: RecipeOpt = None,
    set_: SetOpt = None,
    force: Annotated[bool, typer.Option(help="replace a run and outputs already in WORKDIR")] = False,
):
    """From a fresh install to a harmonized melody, with the bundled corpus only: prepare the data, pretrain a
    small base, finetune one composer, transfer Happy Birthday.

    The default recipe with 150 pretraining steps (50 finetuning) instead of 400 (300), so that the whole
    quickstart takes about 10 minutes on an idle 2-core CPU (~3 to prepare the data, ~1.5 s per training
    step), several times longer on busy cores. The trade-off: such a short run writes a rough
    accompaniment (the melody is kept whatever the model: the sampler guarantees it); the shipped model
    (`mst transfer ... --style bach` outside the quickstart) trained 2000 steps at batch 64 on a GPU.
    More --steps, better accompaniment, longer wait.
    """
    from ..quickstart import plan_quickstart, train_quickstart

    started = time.perf_counter()
    plan = plan_quickstart(workdir, steps, melody, composer, data, recipe, list(set_ or []), force)
    print_warnings(plan.melody_warnings)

    def step(k: int, title: str) -> None:
        console.rule(f"[bold]{k}/4 {title}[/bold]  ({time.perf_counter() - started:.0f}s)")

    train_quickstart(plan, step, lambda message: console.print(message, soft_wrap=True), force)
    step(4, f"transfer {plan.transfer.melody.name} to {plan.composer}")
    report_transfer(plan.transfer)
    console.rule(f"[bold]quickstart done in {time.perf_counter() - started:.0f}s[/bold]")
    console.print(f"try: mst transfer YOUR_MELODY.mid --base {plan.run_dir} --style {plan.transfer.style}", soft_wrap=True)
