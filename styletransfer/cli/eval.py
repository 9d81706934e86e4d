"""`mst eval ...`: metrics of one transfer, per-composer perplexity, the Bach chorale benchmark, the style judge."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..errors import UserError
from ..io import refuse_to_overwrite
from .app import BaseOpt, app, console, print_warnings

eval_app = typer.Typer(help="Show that it works: metrics, perplexity, the Bach chorale benchmark.", no_args_is_help=True)
judge_app = typer.Typer(help="The independent style judge (a composer classifier).", no_args_is_help=True)
eval_app.add_typer(judge_app, name="style-judge")
real_app = typer.Typer(help="The real-or-generated judge (Bach's chorales against rule-based and perturbed fakes).",
                       no_args_is_help=True)
eval_app.add_typer(real_app, name="real-judge")
app.add_typer(eval_app, name="eval")

DEFAULT_JUDGE = Path("runs/style-judge")
DEFAULT_REAL_JUDGE = Path("runs/real-judge")
DataOpt = Annotated[Optional[Path], typer.Option(help="the corpus (Maestro format; default: the bundled data/music21)")]
JudgeOpt = Annotated[Path, typer.Option(help="the style judge's folder (trained there when missing)")]


def _data(data: Optional[Path]) -> Path:
    from ..config import load_recipe, resolve_data_path

    return data if data is not None else resolve_data_path(load_recipe(None).data.path)


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def _jsonable(row: dict) -> dict:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v.item() if hasattr(v, "item") else v)
            for k, v in row.items()}


@eval_app.command("transfer")
def eval_transfer(
    output: Annotated[Path, typer.Argument(help="a harmonized MIDI file (e.g. what `mst transfer` wrote)")],
    melody: Annotated[Path, typer.Option(help="the melody it was made from (MIDI, MusicXML, ABC, kern)")],
    style: Annotated[Optional[str], typer.Option(help="the composer it should sound like: adds the pitch-class "
                                                      "distance to their test pieces and the judge's P(composer)")] = None,
    track: Annotated[Optional[int], typer.Option(help="the melody file's track (as in `mst transfer`)")] = None,
    data: DataOpt = None,
    judge: JudgeOpt = DEFAULT_JUDGE,
    as_json: Annotated[bool, typer.Option("--json", help="print the metrics as JSON")] = False,
):
    """Metrics of one result: melody kept, harmony (Yeh et al. 2021), texture, and style."""
    from ..data.melody_file import read_melody_noting
    from ..eval.benchmark import evaluate_transfer

    # a changed melody: one yellow line as in transfer, on stderr so that --json stays clean
    melody_score, warnings = read_melody_noting(melody, track)
    print_warnings(warnings, out=Console(stderr=True))
    row, style_class = evaluate_transfer(output, melody_score, style, _data(data) if style is not None else None,
                                         judge, say=lambda m: console.print(m, soft_wrap=True))
    if as_json:
        print(json.dumps(_jsonable(row), indent=1))
        return
    table = Table(title=f"{output.name} (melody: {melody.name}{', style: ' + style_class if style_class else ''})",
                  show_header=False)
    for key, value in row.items():
        table.add_row(key.replace("_", " "), _fmt(value))
    console.print(table)


@eval_app.command("perplexity")
def eval_perplexity(
    base: BaseOpt = None,
    style: Annotated[Optional[list[str]], typer.Option(help="an adapter to score too (repeatable)")] = None,
    all_adapters: Annotated[bool, typer.Option("--all-adapters", help="score every adapter of the base")] = False,
    data: DataOpt = None,
    min_pieces: Annotated[int, typer.Option(help="composers with at least this many pieces in the split")] = 2,
    split: Annotated[str, typer.Option(help="the catalog split to score: test (default) or validation")] = "test",
    out: Annotated[Optional[Path], typer.Option(help="also write the table as Markdown here")] = None,
    force: Annotated[bool, typer.Option(help="overwrite --out")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the table as JSON")] = False,
):
    """Per-composer test loss (nats per token) of the base and of its adapters: each adapter should be best on its composer."""
    from ..eval.perplexity import adapter_names, perplexity_table
    from ..model.runs import resolve_base

    if out is not None:
        refuse_to_overwrite([out], force)
    base_dir = resolve_base(base)
    names = adapter_names(base_dir, style or [], all_adapters)
    if split not in ("test", "validation"):
        raise UserError(f"--split must be test or validation, got {split!r}")
    table = perplexity_table(base_dir, names, _data(data), min_pieces=min_pieces, split=split,
                             progress=lambda s: console.print(f"scored {s}", soft_wrap=True))
    if as_json:
        print(table.reset_index().to_json(orient="records", indent=1))
    else:
        import numpy as np  # here, not at module level: every `mst` start imports this module

        short = _short_names(names)  # adapter slugs are long: "bach" fits a terminal, "johann-sebastian-bach" not
        shown = Table(title=f"{split} loss per composer (nats/token), {base_dir}")
        shown.add_column("composer", ratio=1)  # the one column that wraps in a narrow terminal
        for column in table.columns:
            header = short.get(column, column)
            shown.add_column(header, justify="right", no_wrap=True, min_width=max(len(header), 6))
        for composer, row in table.iterrows():
            cells = [str(v) if isinstance(v, (int, np.integer)) else short.get(v, v) if isinstance(v, str) else _fmt(v)
                     for v in row]
            shown.add_row(composer, *cells)
        console.print(shown)
    if out is not None:
        from ..eval.report import perplexity_markdown
        from ..io import atomic_write_text

        atomic_write_text(out, perplexity_markdown(table))
        console.print(f"wrote {out}")


def _short_names(slugs: list[str]) -> dict[str, str]:
    """Each adapter slug's last word (its composer's surname) where that is unambiguous."""
    last = [slug.rsplit("-", 1)[-1] for slug in slugs]
    return {slug: word for slug, word in zip(slugs, last) if last.count(word) == 1}


@eval_app.command("bach-chorales")
def eval_bach_chorales(
    base: BaseOpt = None,
    n: Annotated[int, typer.Option(help="how many test chorales (the first n by title)")] = 50,
    skip: Annotated[int, typer.Option(help="leave out the first SKIP test chorales first (with --seed SKIP: "
                                           "that part of a longer run, e.g. to run halves side by side)")] = 0,
    style: Annotated[str, typer.Option(help="the adapter under test")] = "bach",
    other: Annotated[Optional[str], typer.Option(help="another composer's adapter to compare with (default: the "
                                                      "base's first other adapter)")] = None,
    candidates: Annotated[Optional[int], typer.Option(help="candidates sampled per melody, the best kept (default: the recipe's, as mst transfer)")] = None,
    compare_styles: Annotated[bool, typer.Option(help="also the base model and another adapter")] = True,
    outputs: Annotated[Optional[Path], typer.Option(help="also write every output as OUTPUTS/<system>/<piece>.mid")] = None,
    real_judge: Annotated[Path, typer.Option(help="the real-or-generated judge's folder, for P(real) (left out when none is there)")] = DEFAULT_REAL_JUDGE,
    seed: Annotated[int, typer.Option(help="seed of the first melody (melody k uses seed + k)")] = 0,
    melodies: Annotated[Optional[Path], typer.Option(help="also harmonize the melodies in this folder "
                                                          "(default: the bundled data/melodies; 'none' to skip)")] = None,
    data: DataOpt = None,
    judge: JudgeOpt = DEFAULT_JUDGE,
    out: Annotated[Path, typer.Option(help="the Markdown report (a CSV of every piece goes next to it)")] = Path("bach-chorales.md"),
    force: Annotated[bool, typer.Option(help="overwrite the report")] = False,
):
    """The Bach chorale benchmark: held-out chorales' sopranos harmonized by mst and by baselines, every metric."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..eval.benchmark import bach_chorales, benchmark_melodies
    from ..eval.report import benchmark_csv_path, write_benchmark

    if candidates is not None and candidates < 1:
        raise UserError(f"--candidates must be at least 1, got {candidates}")
    refuse_to_overwrite([out, benchmark_csv_path(out)], force)
    if outputs is not None and outputs.is_dir() and any(outputs.iterdir()) and not force:
        raise UserError(f"{outputs} is not empty (use --force to write into it)")
    melodies_dir = benchmark_melodies(melodies)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("harmonizing", total=None)

        def step(label: str) -> None:
            bar.update(task, advance=1, description=f"harmonizing ({label})")

        result = bach_chorales(base, n, style, other, candidates, seed, _data(data), judge, melodies_dir,
                               say=lambda m: console.print(m, soft_wrap=True), progress=step,
                               compare_styles=compare_styles, outputs=outputs, real_judge_dir=real_judge, skip=skip)
    report, csv = write_benchmark(result, out)
    console.print(report, markup=False, highlight=False, soft_wrap=True)
    console.print(f"wrote {out} and {csv} in {result['seconds']:.0f}s")


@judge_app.command("train")
def judge_train(
    data: DataOpt = None,
    out: Annotated[Path, typer.Option(help="where to save the judge")] = DEFAULT_JUDGE,
    min_pieces: Annotated[int, typer.Option(help="composers with fewer training pieces become 'other'")] = 10,
    force: Annotated[bool, typer.Option(help="replace an existing judge")] = False,
):
    """Train the style judge on the corpus' training split; report its test accuracy and confusion matrix."""
    from ..eval.judge import format_report, train_judge

    folder = _data(data)
    console.print(f"training the style judge on {folder} (training split) ...")
    report = train_judge(folder, out, min_pieces=min_pieces, force=force)
    console.print(format_report(report), markup=False, highlight=False, soft_wrap=True)
    console.print(f"wrote {out}")


@real_app.command("train")
def real_judge_train(
    data: DataOpt = None,
    out: Annotated[Path, typer.Option(help="where to save the judge")] = DEFAULT_REAL_JUDGE,
    force: Annotated[bool, typer.Option(help="replace an existing judge")] = False,
    mst_fakes: Annotated[Optional[Path], typer.Option(
        help="also mst's own settings of the training chorales' sopranos as fakes "
             "(scripts/harmonize_training_sopranos.py)")] = None,
):
    """Train the real-or-generated judge on Bach's training chorales and their fakes; report its validation scores."""
    from ..eval.real_judge import format_real_report, train_real_judge

    folder = _data(data)
    console.print(f"training the real-or-generated judge on {folder} (training split; a few minutes) ...")
    report = train_real_judge(folder, out, force=force, mst_fakes=mst_fakes)
    console.print(format_real_report(report), markup=False, highlight=False, soft_wrap=True)
    console.print(f"wrote {out}")
