"""The `mst` command: thin wrappers that parse, load the recipe, call one function and print."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..errors import UserError
from ..io import refuse_to_overwrite

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


@data_app.command("composers")
def data_composers(
    data: Annotated[Optional[Path], typer.Option(help="a Maestro folder, the bundled corpus folder or a prepared folder")] = None,
    recipe: RecipeOpt = None,
    set_: SetOpt = None,
):
    """A table of composers: pieces and hours, overall and per split."""
    from ..config import load_recipe, resolve_data_path
    from ..data.catalog import composer_table, load_catalog

    folder = data if data is not None else resolve_data_path(load_recipe(recipe, set_).data.path)
    table = composer_table(load_catalog(folder))
    out = Table(title=f"{folder}: {len(table)} composers")
    for column in table.columns:
        out.add_column(column.replace("_", " "), justify="left" if column == "composer" else "right",
                       no_wrap=column == "composer")
    for row in table.itertuples(index=False):
        out.add_row(*(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row))
    console.print(out)


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
    from ..config import load_recipe
    from ..train import pretrain as run

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
    from ..config import load_recipe
    from ..model.runs import resolve_base
    from ..train import finetune as run

    if not composer and not all_composers:
        raise UserError("give --composer NAME or --all-composers")
    base_dir = resolve_base(base)
    overrides = list(set_ or []) + ([f"finetune.min_pieces={min_pieces}"] if min_pieces else [])
    cfg = load_recipe(base_dir / "recipe.yaml", overrides)
    if all_composers:
        from ..data.prepare import TokenCache

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
    from ..generate import generate_files

    for path in generate_files(base, style, bars, out, n, set_ or [], force):
        console.print(f"wrote {path}")


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
def import_nanogpt_cmd(
    ckpt: Annotated[Path, typer.Argument(help="nanoGPT ckpt.pt (the original project's format)")],
    tokenizer: Annotated[Path, typer.Option(help="the miditok tokenizer.json it was trained with")],
    out: Annotated[Path, typer.Option(help="run folder to write")] = Path("runs/imported"),
    force: Annotated[bool, typer.Option(help="replace an existing run")] = False,
):
    """Convert a nanoGPT checkpoint into a GPT-2 run folder (loaded with weights_only=True)."""
    from ..model.nanogpt import import_nanogpt_run

    console.print(f"wrote {import_nanogpt_run(ckpt, tokenizer, out, force)}")


StyleOpt = Annotated[Optional[str], typer.Option(
    help="an adapter of the base (slug or composer name: bach, \"J. S. Bach\"), a blend "
         "(\"bach=0.7,chopin=0.3\"), or none for the base model alone")]


def _transfer_outputs(melody: Path, style_slug: str, out: Optional[Path], wav: bool, keep_all: bool,
                      candidates: int) -> dict[str, list[Path]]:
    """Every file a transfer writes: {'midi': [..], 'png': [..], 'wav': [..], 'candidates': [..]}."""
    out = Path(out) if out is not None else Path(f"{melody.stem}.{style_slug}.mid")
    suffix = out.suffix if out.suffix.lower() in (".mid", ".midi") else ".mid"
    stem = out.name[: -len(out.suffix)] if out.suffix.lower() in (".mid", ".midi") else out.name
    files = {"midi": [out], "png": [out.with_name(f"{stem}.png")], "wav": [out.with_name(f"{stem}.wav")] if wav else []}
    files["candidates"] = [out.with_name(f"{stem}.cand-{k}{suffix}") for k in range(1, candidates + 1)] if keep_all else []
    return files


def _check_wav_tools() -> None:
    import shutil

    from ..render import INSTALL_HINT, SOUNDFONT

    if shutil.which("fluidsynth") is None:
        raise UserError(f"--wav needs the fluidsynth program: {INSTALL_HINT}")
    if not SOUNDFONT.exists():
        raise UserError(f"--wav needs a General MIDI soundfont ({SOUNDFONT} is missing): {INSTALL_HINT}")


def _read_melody_reporting(path: Path, track: Optional[int], out: Optional[Console] = None):
    """read_melody, each MelodyWarning printed as one yellow line (on ``out``, default the console)."""
    import warnings

    from rich.markup import escape

    from ..data.melody_file import MelodyWarning, read_melody

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MelodyWarning)
        score = read_melody(path, track=track)
    for w in caught:
        if issubclass(w.category, MelodyWarning):
            (out or console).print(f"[yellow]warning: {escape(' '.join(str(w.message).split()))}[/yellow]", soft_wrap=True,
                          highlight=False)
    return score


def _run_transfer(melody: Path, style: str, base: Optional[str], candidates: int, seed: Optional[int],
                  out: Optional[Path], track: Optional[int], wav: bool, keep_all: bool, force: bool,
                  overrides: list[str]) -> dict[str, list[Path]]:
    """`mst transfer`'s work (also the last step of quickstart): every check, then the model, then the files."""
    import time

    started = time.perf_counter()
    from ..model.adapters import file_slug, parse_style, resolve_style, style_label
    from ..model.runs import base_recipe, resolve_base

    if candidates < 1:
        raise UserError(f"--candidates must be at least 1, got {candidates}")
    if style is None:
        raise UserError("give --style NAME (an adapter of the base, e.g. bach), a blend "
                        "(bach=0.7,chopin=0.3) or --style none")
    parsed = parse_style(style)
    files = _transfer_outputs(melody, file_slug(parsed), out, wav, keep_all, candidates)
    every = [p for paths in files.values() for p in paths]
    if melody.exists() and any(p.exists() and p.samefile(melody) for p in every):
        raise UserError(f"the output would overwrite the melody {melody}: choose another --out")
    refuse_to_overwrite(every, force)
    if wav:
        _check_wav_tools()
    melody_score = _read_melody_reporting(melody, track)
    base_dir = resolve_base(base)
    adapters = resolve_style(base_dir, parsed)  # an unknown style fails before the model loads
    saved = base_recipe(base_dir, overrides)
    sample_cfg = saved.transfer
    seed = saved.sample.seed if seed is None else seed

    import torch
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )
    from transformers.utils import logging as hf_logging

    from ..io import atomic_write_bytes
    from ..model.adapters import load_styled
    from ..render import piano_roll, render_wav
    from ..transfer.accompany import transfer as run

    hf_logging.disable_progress_bar()  # the weight-loading bar of a 20 MB model is noise
    loading = time.perf_counter()
    model, tokenizer, _ = load_styled(base_dir, style)
    load_seconds = time.perf_counter() - loading
    sampling = time.perf_counter()
    # One token at a time for a batch of 8 is a string of tiny matmuls: on CPU one thread is as fast, and
    # far faster when the other cores are busy (the shipped model on Happy Birthday, 2 busy cores: 8.6 s
    # with one thread, 50 s with two, whose OpenMP barriers wait on descheduled threads).
    threads = torch.get_num_threads()
    if next(model.parameters()).device.type == "cpu":
        torch.set_num_threads(1)
    try:
        with Progress(TextColumn("sampling {task.fields[n]} candidates"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("bars"), TimeElapsedColumn(), console=console, transient=True) as progress:
            task = progress.add_task("sampling", total=None, n=candidates)
            results = run(melody_score, model, tokenizer, candidates=candidates, seed=seed,
                          temperature=sample_cfg.temperature, top_k=sample_cfg.top_k, top_p=sample_cfg.top_p,
                          harmony_weight=sample_cfg.harmony_weight, progress=lambda done, total: progress.update(task, completed=done, total=total))
    finally:
        torch.set_num_threads(threads)
    sample_seconds = time.perf_counter() - sampling

    label = style_label(parsed, adapters)
    best = results[0]
    atomic_write_bytes(files["midi"][0], best.score.dumps_midi())
    piano_roll(best.score, files["png"][0], melody_track=0, title=f"{melody.name}: {label}")
    if wav:
        render_wav(best.score, files["wav"][0])
    for path, candidate in zip(files["candidates"], results):
        atomic_write_bytes(path, candidate.score.dumps_midi())

    table = Table(title=f"{len(results)} candidates, {label} (seed {seed})")
    for column in ("rank", "score", "log-likelihood", "consonance", "penalty", "accompaniment notes"):
        table.add_column(column, justify="right")
    if files["candidates"]:
        table.add_column("file")
    for k, candidate in enumerate(results):
        row = [str(k + 1), f"{candidate.rank_score:.3f}", f"{candidate.log_likelihood:.3f}",
               f"{candidate.consonance:.3f}", f"{candidate.penalty:g}",
               str(candidate.accompaniment_notes)]
        if files["candidates"]:
            row.append(str(files["candidates"][k]))
        table.add_row(*row)
    console.print(table)
    melody_notes = len(best.score.tracks[0].notes)
    console.print(f"wrote {files['midi'][0]}  (best candidate: Melody track, {melody_notes} notes; "
                  f"Accompaniment track, {best.accompaniment_notes} notes)", soft_wrap=True)
    console.print(f"wrote {files['png'][0]}  (piano roll, melody in red)", soft_wrap=True)
    for path in files["wav"]:
        console.print(f"wrote {path}  (audio)", soft_wrap=True)
    if files["candidates"]:
        console.print(f"wrote {len(files['candidates'])} candidates: {files['candidates'][0]} ... "
                      f"{files['candidates'][-1]}", soft_wrap=True)
    console.print(f"done in {time.perf_counter() - started:.1f}s (model {load_seconds:.1f}s, "
                  f"sampling {sample_seconds:.1f}s)")
    return files


@app.command()
def transfer(
    melody: Annotated[Path, typer.Argument(help="melody file: MIDI, MusicXML, ABC or Humdrum kern")],
    style: StyleOpt = None,
    base: BaseOpt = None,
    candidates: Annotated[int, typer.Option(help="accompaniments sampled in one batch; the best is kept")] = 8,
    seed: Annotated[Optional[int], typer.Option(help="random seed (default: the recipe's sample.seed)")] = None,
    out: Annotated[Optional[Path], typer.Option(help="output MIDI (default: <melody stem>.<style>.mid here)")] = None,
    track: Annotated[Optional[int], typer.Option(help="take the melody from this track/part (0-based; default: the highest line)")] = None,
    wav: Annotated[bool, typer.Option("--wav", help="also render a WAV (needs fluidsynth and a GM soundfont)")] = False,
    keep_all: Annotated[bool, typer.Option("--keep-all", help="also write every candidate as <out>.cand-K.mid (best first)")] = False,
    force: Annotated[bool, typer.Option(help="overwrite existing output files")] = False,
    set_: SetOpt = None,
):
    """Play a melody in a composer's style: the melody kept note for note, an accompaniment written under it.

    Writes <melody>.<style>.mid (tracks Melody and Accompaniment, the input's tempo and time signature) and a
    piano roll <melody>.<style>.png; --wav adds audio. Sampling settings come from the base's recipe
    (--set sample.temperature=0.9, sample.top_p=..., sample.top_k=...).
    """
    _run_transfer(melody, style, base, candidates, seed, out, track, wav, keep_all, force, list(set_ or []))


QUICKSTART_STEPS = 150
QUICKSTART_MELODY = "data/melodies/happy_birthday.mid"


@app.command()
def quickstart(
    workdir: Annotated[Path, typer.Option(help="everything goes here: data/, runs/base/ (+ adapters/), the transfer")] = Path("quickstart"),
    steps: Annotated[int, typer.Option(help="pretraining steps at batch 16; the finetune takes a third of them")] = QUICKSTART_STEPS,
    melody: Annotated[Optional[Path], typer.Option(help=f"melody to transfer (default: the bundled {QUICKSTART_MELODY})")] = None,
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
    import time

    from ..config import load_recipe, resolve_data_path
    from ..data.catalog import find_composer
    from ..data.prepare import prepare, source_catalog
    from ..model.runs import CHECKPOINTS, complete_checkpoints, slug

    started = time.perf_counter()
    if steps < 1:
        raise UserError(f"--steps must be at least 1, got {steps}")
    finetune_steps = max(10, steps // 3)
    run_dir = workdir / "runs" / "base"
    data_dir = data if data is not None else workdir / "data"
    melody_path = melody if melody is not None else resolve_data_path(QUICKSTART_MELODY)
    if not melody_path.exists():
        raise UserError(f"melody not found: {melody_path}" + ("" if melody else " (pass --melody FILE)"))
    if not force and ((run_dir / "config.json").exists() or complete_checkpoints(run_dir / CHECKPOINTS)):
        raise UserError(f"{run_dir} already holds a run: use --force to replace it, or another --workdir")
    # No evaluation inside the loops (pretrain and finetune each report a final validation loss anyway),
    # fewer validation batches: on 2 busy cores each evaluation pass costs ~25 s.
    overrides = [f"data.out={data_dir}", f"train.max_steps={steps}", f"train.eval_interval={steps + 1}",
                 f"train.save_interval={max(1, steps // 2)}", "train.eval_batches=8",
                 f"train.warmup_steps={min(40, max(1, steps // 10))}", f"finetune.max_steps={finetune_steps}",
                 *(set_ or [])]
    cfg = load_recipe(recipe, overrides)
    # Everything a user can get wrong, before minutes of work: the melody, the composer, the outputs.
    _read_melody_reporting(melody_path, None)
    name = find_composer(source_catalog(cfg.data), composer)
    style = slug(name)
    out = workdir / f"{melody_path.stem}.{style.split('-')[-1]}.mid"
    refuse_to_overwrite([p for paths in _transfer_outputs(melody_path, style, out, False, False, 0).values()
                         for p in paths], force)

    def step(k: int, title: str) -> None:
        console.rule(f"[bold]{k}/4 {title}[/bold]  ({time.perf_counter() - started:.0f}s)")

    step(1, f"prepare the data ({cfg.data.path} -> {data_dir})")
    report = prepare(cfg.data)
    console.print(f"data: {report.out}  ({'up to date' if report.cached else 'built'} in {report.seconds:.0f}s, "
                  f"vocabulary {report.vocab_size}, {report.tokens.get('train', 0):,} training tokens)", soft_wrap=True)

    from ..train import finetune as finetune_run
    from ..train import pretrain as pretrain_run

    step(2, f"pretrain a small base ({steps} steps at batch {cfg.train.batch_size})")
    summary = pretrain_run(cfg, run_dir, force=force)
    console.print(f"base model: {run_dir}  (validation loss {summary.get('eval_loss', float('nan')):.3f} "
                  f"in {summary.get('seconds', 0):.0f}s)", soft_wrap=True)

    step(3, f"finetune a LoRA adapter on {name} ({finetune_steps} steps)")
    saved = load_recipe(run_dir / "recipe.yaml")
    summary = finetune_run(saved, run_dir, name, force=force)
    console.print(f"adapter: {summary.get('adapter', run_dir / 'adapters' / style)}  (validation loss on {name}: "
                  f"{summary.get('validation_loss_base', float('nan')):.3f} -> "
                  f"{summary.get('validation_loss_adapter', float('nan')):.3f})", soft_wrap=True)

    step(4, f"transfer {melody_path.name} to {name}")
    _run_transfer(melody_path, style, str(run_dir), 8, None, out, None, False, False, force, [])
    console.rule(f"[bold]quickstart done in {time.perf_counter() - started:.0f}s[/bold]")
    console.print(f"try: mst transfer YOUR_MELODY.mid --base {run_dir} --style {style}", soft_wrap=True)


from .eval import eval_app  # noqa: E402  (after app and console: it prints through cli.console)

app.add_typer(eval_app, name="eval")


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
        code = 0
    except UserError as exc:
        print(f"mst: error: {exc}", file=sys.stderr)
        code = 2
    except SystemExit as exc:  # typer ends every command this way
        code = exc.code
    if argv is None and int(os.environ.get("WORLD_SIZE", "1")) == 1 and isinstance(code, int):
        _exit_now(code)
    sys.exit(code)


def _exit_now(code: int) -> None:
    """Exit without Python's module teardown: once torch and transformers are loaded it costs ~1.5 s,
    15% of a transfer. Every output is written and closed by now (atomic writes); exit handlers still run
    and the streams are flushed. Only for the console script, single process (tests call main(argv))."""
    import atexit

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
