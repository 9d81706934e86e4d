"""`mst data prepare | composers`: build and inspect the training data."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from .app import RecipeOpt, SetOpt, console, data_app


@data_app.command("prepare")
def data_prepare(
    recipe: RecipeOpt = None,
    set_: SetOpt = None,
    maestro: Annotated[Optional[Path], typer.Option(help="a Maestro v3 folder (maestro-v3.0.0.csv + MIDI) instead of the bundled corpus")] = None,
    out: Annotated[Optional[Path], typer.Option(help="output folder (default: the recipe's data.out)")] = None,
    force: Annotated[bool, typer.Option(help="rebuild even if the cache is up to date")] = False,
):
    """Catalog -> augmented training split -> BPE tokenizer -> token cache (melody/texture pairs included)."""
    from ..config import load_recipe, save_recipe
    from ..data.prepare import prepare

    overrides = list(set_ or [])
    if maestro is not None:
        overrides += ["data.source=maestro", f"data.path={maestro}"]
        if out is None and not any(o.startswith("data.out=") for o in overrides):
            out = Path("data/prepared/maestro")
    if out is not None:
        overrides.append(f"data.out={out}")
    cfg = load_recipe(recipe, overrides)
    report = prepare(cfg.data, force=force)
    save_recipe(cfg, report.out)
    table = Table(title=f"{report.out}  ({'up to date' if report.cached else 'built'} in {report.seconds:.1f}s, vocabulary {report.vocab_size})")
    for column in ("split", "pieces (with augmented copies)", "tokens"):
        table.add_column(column, justify="right" if column != "split" else "left")
    for split, pieces in report.pieces.items():
        table.add_row(split, str(pieces), f"{report.tokens[split]:,}")
    console.print(table)
    if report.skipped:
        console.print(f"[yellow]skipped {len(report.skipped)} file(s)[/yellow] (listed in {report.out}/cache/manifest.json):")
        for path, reason in report.skipped[:10]:
            console.print(f"  {path}: {reason}")
    for warning in report.warnings:
        console.print(f"[yellow]warning: {warning}[/yellow]")


@data_app.command("composers")
def data_composers(
    data: Annotated[Optional[Path], typer.Option(help="a Maestro folder, the bundled corpus folder or a prepared folder (its catalog.csv)")] = None,
    recipe: RecipeOpt = None,
    set_: SetOpt = None,
    hours: Annotated[bool, typer.Option("--hours", help="hours per split in the split columns instead of pieces")] = False,
    csv: Annotated[bool, typer.Option("--csv", help="the full table (pieces and hours, overall and per split) as CSV on stdout")] = False,
):
    """A table of composers: pieces and hours, and pieces (or --hours) per split."""
    import sys

    from ..config import load_recipe, resolve_data_path
    from ..data.catalog import SPLITS, composer_table, load_catalog

    folder = data if data is not None else resolve_data_path(load_recipe(recipe, set_).data.path)
    catalog = load_catalog(folder)
    table = composer_table(catalog)
    if csv:
        sys.stdout.write(table.to_csv(index=False))
        return
    caption = ("split columns: hours (--csv: every column)" if hours else
               "split columns: pieces (--hours: hours; --csv: every column)")
    # the file read and the count on a line of their own: a long path must not wrap in a table title
    console.print(f"{catalog.attrs['read_from']}: {len(table)} composers", soft_wrap=True, markup=False, highlight=False)
    out = Table(caption=caption)
    # Numbers never wrap or shrink; the composer column takes what is left (it wraps at 80 columns).
    out.add_column("composer", ratio=1, overflow="fold")
    for header in ("pieces", "hours", "train", "valid", "test"):
        out.add_column(header, justify="right", no_wrap=True)
    for row in table.itertuples(index=False):
        per_split = [f"{getattr(row, f'{s}_hours'):.2f}" if hours else f"{getattr(row, f'{s}_pieces'):,}" for s in SPLITS]
        out.add_row(row.composer, f"{row.pieces:,}", f"{row.hours:.2f}", *per_split)
    console.print(out)
