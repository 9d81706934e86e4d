"""`mst generate`: unconditional samples in a composer's style."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import BaseOpt, SetOpt, app, console


@app.command()
def generate(
    style: Annotated[str, typer.Option(help="composer adapter (name or slug), or 'none' for the base model")] = "none",
    base: BaseOpt = None,
    bars: Annotated[int, typer.Option(min=1, help="bars to write")] = 16,
    out: Annotated[Optional[Path], typer.Option(help="output MIDI (default: <style>.sample.mid)")] = None,
    n: Annotated[int, typer.Option(min=1, help="samples, written as out-1.mid, out-2.mid...")] = 1,
    set_: SetOpt = None,
    force: Annotated[bool, typer.Option(help="overwrite existing output files")] = False,
):
    """Unconditional samples in a composer's style, as the original project shipped (settings: the base's
    recipe, --set sample.temperature=..., sample.top_p=..., sample.seed=...)."""
    from ..generate import generate_files

    for path in generate_files(base, style, bars, out, n, set_ or [], force):
        console.print(f"wrote {path}")
