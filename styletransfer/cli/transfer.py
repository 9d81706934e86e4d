"""`mst transfer`: a melody played in a composer's style."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from .app import BaseOpt, SetOpt, StyleOpt, app, console, print_warnings

SHOWN = 8  # candidates listed in the table
LAYOUT_WORDS = {"chorale": "a chorale, soprano and alto over tenor and bass", "open": "one staff per part",
                "piano": "melody staff + piano grand staff"}


@app.command()
def transfer(
    melody: Annotated[Path, typer.Argument(help="melody file: MIDI, MusicXML, ABC or Humdrum kern")],
    style: StyleOpt = None,
    base: BaseOpt = None,
    candidates: Annotated[Optional[int], typer.Option(help="accompaniments sampled in one batch, the search's particles; the best is kept (default: the recipe's transfer.candidates)")] = None,
    seed: Annotated[Optional[int], typer.Option(help="random seed (default: the recipe's sample.seed)")] = None,
    out: Annotated[Optional[Path], typer.Option(help="output MIDI (default: <melody stem>.<style>.mid here)")] = None,
    track: Annotated[Optional[int], typer.Option(help="take the melody from this track/part (0-based; default: the highest line)")] = None,
    wav: Annotated[bool, typer.Option("--wav", help="also render a WAV (tinysoundfont with pretty-midi's General MIDI soundfont)")] = False,
    soundfont: Annotated[Optional[Path], typer.Option(help="with --wav: another General MIDI soundfont (.sf2/.sf3)")] = None,
    synth: Annotated[str, typer.Option(help="with --wav: tinysoundfont (pip) or fluidsynth (the program, e.g. from apt)")] = "tinysoundfont",
    score: Annotated[str, typer.Option(help="the score's layout: auto (a chorale's two staves for four voices, one staff per part for other parts, a piano part for a piano texture), chorale, open or piano (the melody over a piano reduction)")] = "auto",
    keep_all: Annotated[bool, typer.Option("--keep-all", help="also write every candidate as <out>.cand-K.mid (best first)")] = False,
    keep: Annotated[Optional[Path], typer.Option(help="an earlier result of this melody to keep outside --redo-bars")] = None,
    redo_bars: Annotated[Optional[str], typer.Option(help="with --keep: the bars to write again, e.g. 5-8 (a pickup is bar 0)")] = None,
    force: Annotated[bool, typer.Option(help="overwrite existing output files")] = False,
    set_: SetOpt = None,
):
    """Play a melody in a composer's style: the melody kept note for note, an accompaniment written under it.

    Writes <melody>.<style>.mid (one track per part of the style, the melody first: Soprano, Alto, Tenor and
    Bass for Bach; Melody and Accompaniment for a piano style), with the input's tempo and time signature; a
    piano roll <melody>.<style>.png; the score <melody>.<style>.musicxml (--score) and its engraving .svg;
    --wav adds audio, each part on its own channel. Sampling and ranking settings come from the base's
    recipe (--set transfer.temperature=0.9, transfer.top_p=..., transfer.top_k=..., transfer.harmony_weight=...;
    the seed: sample.seed or --seed).
    """
    from ..transfer.pipeline import TransferRequest

    request = TransferRequest(melody, style, base=base, candidates=candidates, seed=seed, out=out, track=track,
                              wav=wav, soundfont=soundfont, synth=synth, keep_all=keep_all, force=force, score=score,
                              keep=keep, redo_bars=redo_bars, overrides=list(set_ or []))
    report_transfer(request)


def report_transfer(request) -> None:
    """Run the transfer pipeline with a progress bar, then print its candidates and files (also quickstart's last step)."""
    from ..transfer.pipeline import run_transfer

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("bars"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("loading the model", total=None)
        result = run_transfer(
            request, progress=lambda done, total: progress.update(task, completed=done, total=total),
            on_loaded=lambda loaded: progress.update(task, description=f"sampling {request.candidates or loaded.recipe.transfer.candidates} candidates"),
            on_melody=print_warnings)
    files = result.files
    shown = result.candidates if files.candidates else result.candidates[:SHOWN]
    more = len(result.candidates) - len(shown)
    table = Table(title=f"{len(result.candidates)} candidates, {result.label} (seed {result.seed})",
                  caption=f"... and {more} more (--keep-all writes them all)" if more else None)
    for column in ("rank", "score", "log-likelihood", "consonance", "penalty", "accompaniment notes"):
        table.add_column(column, justify="right")
    if files.candidates:
        table.add_column("file")
    for k, candidate in enumerate(shown):
        row = [str(k + 1), f"{candidate.rank_score:.3f}", f"{candidate.log_likelihood:.3f}",
               f"{candidate.consonance:.3f}", f"{candidate.penalty:g}", str(candidate.accompaniment_notes)]
        table.add_row(*row, *([str(files.candidates[k])] if files.candidates else []))
    console.print(table)
    best = result.candidates[0]
    tracks = ", ".join(f"{t.name} {len(t.notes)}" for t in best.score.tracks)
    console.print(f"wrote {escape(str(files.midi))}  (best candidate, notes per track: {escape(tracks)})",
                  soft_wrap=True, highlight=False)
    if result.texture.reason:
        console.print(f"one accompaniment part under the melody: {escape(result.texture.reason)}", soft_wrap=True,
                      highlight=False)
    console.print(f"wrote {files.png}  (piano roll, melody in red)", soft_wrap=True)
    console.print(f"wrote {files.musicxml}  (score: {LAYOUT_WORDS[result.layout]}) and {files.svg} (engraved)",
                  soft_wrap=True)
    if files.wav is not None:
        console.print(f"wrote {files.wav}  (audio)", soft_wrap=True)
    if files.candidates:
        console.print(f"wrote {len(files.candidates)} candidates: {files.candidates[0]} ... {files.candidates[-1]}",
                      soft_wrap=True)
    console.print(f"done in {result.seconds:.1f}s (model {result.load_seconds:.1f}s, sampling {result.sample_seconds:.1f}s)")
