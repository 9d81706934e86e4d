"""The `mst` command: thin wrappers that parse, load the recipe, call one function and print."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import UserError

app = typer.Typer(help="mst: music style transfer with language models.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
data_app = typer.Typer(help="Build and inspect the training data.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()

RecipeOpt = Annotated[Optional[str], typer.Option("--recipe", "-r", help="YAML recipe: a path or a shipped name (default, maestro)")]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", "-s", help="override a recipe key: section.key=value (repeatable)")]


@data_app.command("prepare")
def data_prepare(
    recipe: RecipeOpt = None,
    set_: SetOpt = None,
    maestro: Annotated[Optional[Path], typer.Option(help="a Maestro v3 folder (maestro-v3.0.0.csv + MIDI) instead of the bundled corpus")] = None,
    out: Annotated[Optional[Path], typer.Option(help="output folder (default: the recipe's data.out)")] = None,
    force: Annotated[bool, typer.Option(help="rebuild even if the cache is up to date")] = False,
):
    """Catalog -> augmented training split -> BPE tokenizer -> token cache (melody/texture pairs included)."""
    from .dataset import prepare
    from .recipe import load_recipe, save_recipe

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


@data_app.command("composers")
def data_composers(
    data: Annotated[Optional[Path], typer.Option(help="a Maestro folder, the bundled corpus folder or a prepared folder")] = None,
    recipe: RecipeOpt = None,
    set_: SetOpt = None,
):
    """A table of composers: pieces and hours, overall and per split."""
    from .catalog import composer_table, load_catalog
    from .recipe import load_recipe, resolve_data_path

    folder = data if data is not None else resolve_data_path(load_recipe(recipe, set_).data.path)
    table = composer_table(load_catalog(folder))
    out = Table(title=f"{folder}: {len(table)} composers")
    for column in table.columns:
        out.add_column(column.replace("_", " "), justify="left" if column == "composer" else "right",
                       no_wrap=column == "composer")
    for row in table.itertuples(index=False):
        out.add_row(*(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row))
    console.print(out)


def _not_yet(issue: int):
    raise UserError(f"this command is not available yet: it arrives with issue #{issue}")


BaseOpt = Annotated[Optional[str], typer.Option(help="base run: a folder or a Hub repo id (default: runs/base, else the shipped model)")]


def _print_summary(title: str, summary: dict) -> None:
    table = Table(title=title, show_header=False)
    for key, value in summary.items():
        table.add_row(key.replace("_", " "), f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


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
    from .recipe import load_recipe
    from .train import pretrain as run

    # A resumed run continues its own saved recipe (--set overrides apply on top of it), unless
    # --recipe names another one.
    overrides = list(set_ or []) + ([f"data.out={data}"] if data else [])  # saved with the run
    if resume and recipe is None and (out / "recipe.yaml").exists():
        cfg = load_recipe(out / "recipe.yaml", overrides)
    else:
        cfg = load_recipe(recipe, overrides)
    summary = run(cfg, out, resume=resume, force=force)
    if summary:
        _print_summary(f"pretrained {out}", summary)


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
    from .recipe import load_recipe
    from .runs import resolve_base
    from .train import finetune as run

    if not composer and not all_composers:
        raise UserError("give --composer NAME or --all-composers")
    base_dir = resolve_base(base)
    overrides = list(set_ or []) + ([f"finetune.min_pieces={min_pieces}"] if min_pieces else [])
    cfg = load_recipe(base_dir / "recipe.yaml", overrides)
    if all_composers:
        from .dataset import TokenCache

        cache = TokenCache(cfg.data.out, "train")
        counts = cache.catalog.iloc[cache.pieces.loc[cache.pieces.augmented == 0, "row"]].explode("composers")["composers"].value_counts()
        names = [name for name, n in counts.items() if n >= cfg.finetune.min_pieces]
        if not names:
            raise UserError(f"no composer has {cfg.finetune.min_pieces} training pieces")
    else:
        names = [composer]
    for name in names:
        summary = run(cfg, base_dir, name, force=force)
        _print_summary(f"adapter for {summary['composer']}", summary)


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
    """Unconditional samples in a composer's style, as the original project shipped."""
    from .generate import generate_files

    for path in generate_files(base, style, bars, out, n, set_ or [], force):
        console.print(f"wrote {path}")


@app.command()
def push(
    run: Annotated[Path, typer.Argument(help="run folder to upload (weights, tokenizer, recipe, adapters)")],
    repo: Annotated[str, typer.Option(help="Hub repo id, user/name")],
    private: Annotated[bool, typer.Option(help="create the repo private")] = False,
):
    """Upload a run folder to the Hugging Face Hub (checkpoints stay local)."""
    from .hub import push_run

    console.print(push_run(run, repo, private))


@app.command("import-nanogpt")
def import_nanogpt_cmd(
    ckpt: Annotated[Path, typer.Argument(help="nanoGPT ckpt.pt (the original project's format)")],
    tokenizer: Annotated[Path, typer.Option(help="the miditok tokenizer.json it was trained with")],
    out: Annotated[Path, typer.Option(help="run folder to write")] = Path("runs/imported"),
    force: Annotated[bool, typer.Option(help="replace an existing run")] = False,
):
    """Convert a nanoGPT checkpoint into a GPT-2 run folder (loaded with weights_only=True)."""
    from .hub import import_nanogpt_run

    console.print(f"wrote {import_nanogpt_run(ckpt, tokenizer, out, force)}")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def transfer():
    """Play a melody in a composer's style."""
    _not_yet(4)


@app.command("eval", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def eval_():
    """Metrics and benchmarks."""
    _not_yet(5)


def _quiet_libraries() -> None:
    """Library deprecation chatter and weight-loading bars are not for our users."""
    import os
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str] | None = None) -> None:
    """Entry point: a mistake the user can make is one line on stderr and exit status 2."""
    _quiet_libraries()
    try:
        app(args=argv)
    except UserError as exc:
        print(f"mst: error: {exc}", file=sys.stderr)
        sys.exit(2)
