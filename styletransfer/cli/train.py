"""`mst pretrain | finetune`: the base model and its LoRA adapters."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import UserError
from .app import BaseOpt, RecipeOpt, SetOpt, app, print_summary


@app.command()
def pretrain(
    recipe: RecipeOpt = None,
    set_: SetOpt = None,
    out: Annotated[Path, typer.Option(help="run folder")] = Path("runs/base"),
    data: Annotated[Optional[Path], typer.Option(help="prepared data folder (default: the recipe's data.out)")] = None,
    resume: Annotated[bool, typer.Option(help="continue an interrupted run from its last complete checkpoint")] = False,
    force: Annotated[bool, typer.Option(help="replace an existing run")] = False,
):
    """Pretrain the base model on every composer (plain windows + melody/texture pairs)."""
    from ..train import pretrain as run
    from ..train import pretrain_recipe

    overrides = list(set_ or []) + ([f"data.out={data}"] if data else [])
    summary = run(pretrain_recipe(recipe, out, overrides, resume), out, resume=resume, force=force)
    if summary:
        print_summary(f"pretrained {out}", summary)


@app.command()
def finetune(
    composer: Annotated[Optional[str], typer.Option(help='e.g. "Johann Sebastian Bach", "bach"')] = None,
    all_composers: Annotated[bool, typer.Option("--all-composers", help="one adapter per composer with enough pieces")] = False,
    min_pieces: Annotated[Optional[int], typer.Option(help="with --all-composers: fewest training pieces")] = None,
    base: BaseOpt = None,
    set_: SetOpt = None,
    force: Annotated[bool, typer.Option(help="replace an existing adapter")] = False,
):
    """LoRA-finetune the base model on one composer (or each); the adapter goes to BASE/adapters/<composer>/."""
    from ..model.runs import base_recipe, resolve_base
    from ..train import composers_to_finetune
    from ..train import finetune as run

    if not composer and not all_composers:
        raise UserError("give --composer NAME or --all-composers")
    base_dir = resolve_base(base)
    overrides = list(set_ or []) + ([f"finetune.min_pieces={min_pieces}"] if min_pieces else [])
    cfg = base_recipe(base_dir, overrides)
    for name in composers_to_finetune(cfg) if all_composers else [composer]:
        summary = run(cfg, base_dir, name, force=force)
        print_summary(f"adapter for {summary['composer']}", summary)
