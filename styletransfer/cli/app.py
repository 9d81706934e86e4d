"""The `mst` typer app, its shared options and the console every command prints through.

Command modules (cli/data.py, cli/train.py, ...) add their commands to ``app``; they import the package's
heavy modules (torch, transformers, pandas) inside each command, so that `mst --help` and the start of
every command stay fast.
"""
from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(help="mst: music style transfer with language models.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
data_app = typer.Typer(help="Build and inspect the training data.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()

RecipeOpt = Annotated[Optional[str], typer.Option("--recipe", "-r", help="YAML recipe: a path or a shipped name (default, maestro)")]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", "-s", help="override a recipe key: section.key=value (repeatable)")]
BaseOpt = Annotated[Optional[str], typer.Option(help="base run: a folder or a Hub repo id (default: runs/base, else the shipped model)")]
StyleOpt = Annotated[Optional[str], typer.Option(
    help="an adapter of the base (slug or composer name: bach, \"J. S. Bach\"), a blend "
         "(\"bach=0.7,chopin=0.3\"), or none for the base model alone")]


def print_summary(title: str, summary: dict) -> None:
    table = Table(title=title, show_header=False)
    for key, value in summary.items():
        table.add_row(key.replace("_", " "), f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


def print_warnings(messages: list[str], out: Console | None = None) -> None:
    """What the melody reader changed in a melody: one yellow line each (on ``out``, default the console)."""
    for message in messages:
        (out or console).print(f"[yellow]warning: {escape(message)}[/yellow]", soft_wrap=True, highlight=False)
