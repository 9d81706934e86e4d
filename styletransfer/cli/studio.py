"""`mst studio`: the transfer in the browser."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import BaseOpt, app, console


@app.command()
def studio(
    host: Annotated[str, typer.Option(help="address to serve on (127.0.0.1: this machine only)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 7860,
    out: Annotated[Path, typer.Option(help="the studio's folder: every request's files, nothing outside it")] = Path("studio-output"),
    base: BaseOpt = None,
    judge: Annotated[Optional[Path], typer.Option(help="a style judge folder, for P(style) beside each candidate")] = None,
):
    """A local web app: pick or upload a melody, choose a style or blend, hear and read the candidates."""
    try:
        import gradio  # noqa: F401 - only to say how to get it
    except ImportError:
        from ..errors import UserError

        raise UserError("mst studio needs gradio: pip install 'mst[studio]'") from None
    from ..studio.app import serve

    console.print(f"mst studio on http://{host}:{port} (files in {out.resolve()}); Ctrl-C stops it")
    serve(host, port, out, base, judge)
