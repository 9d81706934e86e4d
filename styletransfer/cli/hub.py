"""`mst push | import-nanogpt`: the Hugging Face Hub, and the original project's checkpoints."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app, console


@app.command()
def push(
    run: Annotated[Path, typer.Argument(help="run folder to upload (weights, tokenizer, recipe, adapters)")],
    repo: Annotated[str, typer.Option(help="Hub repo id, user/name")],
    private: Annotated[bool, typer.Option(help="create the repo private")] = False,
):
    """Upload a run folder to the Hugging Face Hub (checkpoints stay local)."""
    from ..model.hub import push_run

    console.print(push_run(run, repo, private))


@app.command("import-nanogpt")
def import_nanogpt(
    ckpt: Annotated[Path, typer.Argument(help="nanoGPT ckpt.pt (the original project's format)")],
    tokenizer: Annotated[Path, typer.Option(help="the miditok tokenizer.json it was trained with")],
    out: Annotated[Path, typer.Option(help="run folder to write")] = Path("runs/imported"),
    force: Annotated[bool, typer.Option(help="replace an existing run")] = False,
):
    """Convert a nanoGPT checkpoint into a GPT-2 run folder (loaded with weights_only=True)."""
    from ..model.nanogpt import import_nanogpt_run

    console.print(f"wrote {import_nanogpt_run(ckpt, tokenizer, out, force)}")
