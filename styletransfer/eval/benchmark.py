"""Evaluation of transfers: one result (`mst eval transfer`) and the Bach chorale benchmark
(`mst eval bach-chorales`).

The benchmark takes held-out chorales of the composer (test split: never trained on, by the base or
the adapter), keeps their Soprano part as the melody (``quiet_read_melody``), and harmonizes it with

- ``mst <style>``: the composer's adapter (``--style bach``), the system under test;
- ``mst base``: the base model without adapter;
- ``mst <other>``: another composer's adapter;
- ``rule-based triads``: ``eval/baselines.harmonize``;
- and, for the chorales, the composer's own harmonization (the original file).

Every output is scored with ``eval/metrics.transfer_metrics`` plus two style measures: the mean
pitch-class-histogram distance to the composer's test pieces (leaving out the piece itself) and the
style judge's P(composer). The same systems run on melodies the model never saw (``data/melodies``:
Happy Birthday, other tunes and Essen folk songs), where there is no original.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import music21
import numpy as np
import pandas as pd
from symusic import Score

from ..analysis.cadences import fermata_onsets
from ..analysis.notes import notes_of
from ..analysis.theory import voice_leading_metrics
from ..config import TransferConfig, resolve_data_path
from ..data.catalog import find_composer, load_catalog, select
from ..data.melody_file import MELODY_SUFFIXES, mark_fermatas, quiet_read_melody
from ..errors import UserError
from ..io import atomic_write_bytes
from ..model.adapters import SAFE_NAME, find_adapter
from ..model.runs import adapter_composer, adapters, base_recipe, resolve_base
from ..tokens.tokenizer import load_score
from ..transfer.pipeline import harmonize, load_style
from .baselines import harmonize as rule_based_triads
from .judge import META_FILE, StyleJudge, train_judge
from .metrics import histogram_distances, pitch_class_histogram, transfer_metrics
from .real_judge import META_FILE as REAL_META_FILE
from .real_judge import RealJudge

RULE_BASED = "rule-based triads"
ORIGINAL = "original"


@dataclass
class Reference:
    """The composer's test pieces, for the pitch-class-histogram distance."""

    titles: list[str]
    histograms: np.ndarray  # [n, 12], each sums to 1

    def mean_distance(self, notes: np.ndarray, exclude: str | None = None) -> float:
        """Mean transposition-invariant L1 distance of ``notes``' histogram to each reference piece
        (``metrics.histogram_distances``), leaving out the title ``exclude``."""
        h = pitch_class_histogram(notes)
        keep = np.array([t != exclude for t in self.titles])
        if h.sum() == 0 or not keep.any():
            return math.nan
        return float(histogram_distances(h, self.histograms[keep]).mean())


def composer_reference(catalog: pd.DataFrame, composer: str, split: str = "test") -> Reference:
    titles, hists = [], []
    for _, row in select(catalog, composer, split).iterrows():
        try:
            hist = pitch_class_histogram(notes_of(load_score(row["midi"])))
        except UserError:
            continue
        if hist.sum() > 0:
            titles.append(row["title"]), hists.append(hist)
    if not hists:
        raise UserError(f"no readable {split} pieces by {composer}")
    return Reference(titles, np.stack(hists))


def score_output(output, melody, reference: Reference | None, judge, style_class: str | None,
                 exclude: str | None = None, fermatas: list[float] | None = None, real_judge=None) -> dict:
    """transfer_metrics + the teacher's voice-leading and cadence numbers (phrase ends at ``fermatas`` when
    known) + the mean pitch-class distance to the reference + the judge's P(style)."""
    row = transfer_metrics(output, melody)
    row.update(voice_leading_metrics(output, melody, fermatas=fermatas))
    row.pop("pitch_class_distance", None)
    row["pc_distance"] = reference.mean_distance(notes_of(output), exclude) if reference is not None else math.nan
    row["p_style"] = judge.proba(output).get(style_class, 0.0) if judge is not None and style_class else math.nan
    row["p_real"] = _p_real(real_judge, output, melody)
    return row


def _p_real(real_judge, output, melody) -> float:
    if real_judge is None:
        return math.nan
    try:
        return real_judge.p_real(output, melody=melody)
    except UserError:  # no accompaniment to judge
        return math.nan


def load_or_train_judge(folder: Path, data: Path, say: Callable[[str], None] = print):
    """The style judge saved at ``folder``; trained there on ``data``'s training split when missing."""
    if not (folder / META_FILE).exists():
        say(f"no style judge at {folder}: training one on {data} (about a minute)")
        train_judge(data, folder)
    return StyleJudge.load(folder)


def melody_files(folder: Path) -> list[Path]:
    """The melody files under a folder (recursively), sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in MELODY_SUFFIXES and p.is_file())


def evaluate_transfer(output: Path, melody, style: str | None, data: Path | None, judge_dir: Path,
                      say: Callable[[str], None] = print) -> tuple[dict, str | None]:
    """`mst eval transfer`: the metrics of ``output`` (a MIDI file harmonizing the Score ``melody``) and,
    with a ``style``, its style measures against that composer's test pieces in ``data`` and the style judge
    at ``judge_dir`` (trained there when missing): (the metrics, the judge's class for the composer or None)."""
    if not output.exists():
        raise UserError(f"file not found: {output}")
    output_score = load_score(output)
    reference = judge = style_class = None
    if style is not None:
        catalog = load_catalog(data)
        composer = find_composer(catalog, style)
        reference = composer_reference(catalog, composer)
        judge = load_or_train_judge(judge_dir, data, say)
        style_class = judge.class_for(composer)
    return score_output(output_score, melody, reference, judge, style_class), style_class


def benchmark_melodies(melodies: Path | None) -> Path | None:
    """The folder of unseen melodies the benchmark harmonizes too (`--melodies`): the bundled data/melodies
    when None (None when it is missing: the tunes are optional), None for "none", else ``melodies``."""
    if melodies is None:
        bundled = resolve_data_path("data/melodies", missing_ok=True)
        return bundled if bundled.is_dir() else None
    if str(melodies).lower() == "none":
        return None
    if not melodies.is_dir():
        raise UserError(f"--melodies: not a folder: {melodies}")
    return melodies


def ablations(settings: TransferConfig, key_normalized: bool = False) -> list[tuple[str, TransferConfig]]:
    """The transfer without each of its parts, for the ablation rows: (label suffix, settings);
    ``key_normalized``: the model was trained in the reference key, so harmonizing there is a part too."""
    no_search = settings.model_copy(update={"search": settings.search.model_copy(update={"enabled": False}),
                                            "candidates": 8})
    keys = [("no key normalization", settings.model_copy(update={"key_normalize": False}))] if key_normalized else []
    return [("no search (best of 8)", no_search),
            ("no hard rules", settings.model_copy(update={"hard_rules": []})),
            *keys,
            ("neither (as before the search)", no_search.model_copy(update={"hard_rules": []}))]


def run_systems(melodies: list[tuple[str, object, object]], systems: list[tuple[str, str | None, bool]], base: str,
                candidates: int | None, seed: int, score_fn: Callable, progress: Callable[[str], None] | None = None,
                keep: Callable[[str, str, object], None] | None = None) -> list[dict]:
    """Rows (piece, system, metrics...) for each melody under each system.

    ``melodies``: (name, melody Score, original Score or None); ``systems``: (label, style, ablate) with style
    None for the rule-based harmonizer. One model load per system; each transfer runs as `mst transfer`
    does (the base recipe's transfer settings; ``candidates`` overrides their batch). A system with
    ``ablate`` also runs without each part of the transfer (``ablations``), and scores its batch's best
    candidate by likelihood alone, as "<label>, likelihood rank". ``keep(piece, system, output)`` sees every
    output scored (e.g. to write it)."""
    base_dir = resolve_base(base)
    rows = []

    def scored(name: str, system: str, output) -> dict:
        if keep is not None:
            keep(name, system, output)
        return {"piece": name, "system": system, **score_fn(name, output)}

    for name, _, original in melodies:
        if original is not None:
            rows.append(scored(name, ORIGINAL, original))
    for label, style, ablate in systems:
        loaded = load_style(base_dir, style) if style is not None else None
        variants = [(label, None)] + ([(f"{label}, {what}", cfg) for what, cfg in
                                       ablations(loaded.recipe.transfer, loaded.recipe.data.key_normalize)]
                                      if ablate and loaded is not None else [])
        for k, (name, melody, _) in enumerate(melodies):
            if loaded is None:
                rows.append(scored(name, label, rule_based_triads(melody)))
            for variant, settings in variants if loaded is not None else []:
                found = harmonize(melody, loaded, seed + k, candidates if settings is None else None,
                                  settings=settings)
                rows.append(scored(name, variant, found[0].score))
                if ablate and settings is None:
                    by_likelihood = max(found, key=lambda c: c.log_likelihood - c.penalty).score
                    rows.append(scored(name, f"{label}, likelihood rank", by_likelihood))
            if progress is not None:
                progress(label)
    return rows


def pick_other_style(base: Path, style: str, other: str | None) -> str | None:
    """The comparison adapter: ``other`` if given, else the base's first adapter that is not ``style``'s."""
    if other is not None:
        return find_adapter(base, other).name
    mine = find_adapter(base, style).name
    rest = [name for name in adapters(base) if name != mine]
    return rest[0] if rest else None


def bach_chorales(base: str | None, n: int, style: str, other: str | None, candidates: int | None, seed: int,
                  data: Path, judge_dir: Path, melodies_dir: Path | None, say: Callable[[str], None] = print,
                  progress: Callable[[str], None] | None = None, compare_styles: bool = True,
                  outputs: Path | None = None, real_judge_dir: Path | None = None, skip: int = 0) -> dict:
    """The benchmark: {"chorales": rows, "melodies": rows, "systems": order, "judge": report, "seconds": its
    run time, "options": the arguments its report names, ...}; every output (and original) is also written to
    ``outputs/<system>/<piece>.mid`` when given. P(real) comes from the real-or-generated judge at
    ``real_judge_dir`` when one is saved there (`mst eval real-judge train`). ``skip``: the first test
    chorales left out (the ``n`` taken after them)."""
    started = time.perf_counter()
    base_dir = resolve_base(base)
    catalog = load_catalog(data)
    adapter = find_adapter(base_dir, style)  # unknown style: one line listing the adapters
    composer = _adapter_composer(adapter, catalog)
    other_slug = pick_other_style(base_dir, style, other)
    test = select(catalog, composer, "test").sort_values("title")
    if test.empty:
        raise UserError(f"no test pieces by {composer} in {data}")
    if n < 1:
        raise UserError(f"--n must be at least 1, got {n}")
    if not 0 <= skip < len(test):
        raise UserError(f"--skip must be from 0 to {len(test) - 1} (there are {len(test)} test chorales), got {skip}")
    test = test.iloc[skip:skip + n]
    judge = load_or_train_judge(judge_dir, data, say)
    style_class = judge.class_for(composer)
    reference = composer_reference(catalog, composer)
    real_judge = None
    if real_judge_dir is not None and (real_judge_dir / REAL_META_FILE).exists():
        real_judge = RealJudge.load(real_judge_dir)
    elif real_judge_dir is not None:
        say(f"no real-or-generated judge at {real_judge_dir}: P(real) left out (`mst eval real-judge train`)")

    melody_of: dict[str, object] = {}
    fermatas_of: dict[str, list[float]] = {}

    def score_fn(name, output):
        return score_output(output, melody_of[name], reference, judge, style_class, exclude=name,
                            fermatas=fermatas_of.get(name), real_judge=real_judge)

    def keep(piece: str, system: str, output) -> None:
        if outputs is not None:
            atomic_write_bytes(outputs / SAFE_NAME.sub("-", system) / f"{SAFE_NAME.sub('-', piece)}.mid", output.dumps_midi())

    chorales = []
    for _, row in test.iterrows():
        try:
            melody, fermatas_of[row["title"]] = corpus_tune(Path(row["midi"]), row["title"])
            original = load_score(row["midi"])
        except UserError as exc:
            say(f"skipped {row['title']}: {exc}")
            continue
        chorales.append((row["title"], melody, original))
        melody_of[row["title"]] = melody
    under_test = f"mst {adapter.name}"
    systems = [(under_test, style, True)]
    if compare_styles:
        systems.append(("mst base", "none", False))
        if other_slug is not None:
            systems.append((f"mst {other_slug}", other_slug, False))
    systems.append((RULE_BASED, None, False))
    trained = base_recipe(base_dir)
    order = ([ORIGINAL, under_test] + [f"{under_test}, {what}" for what, _ in
                                       ablations(trained.transfer, trained.data.key_normalize)]
             + [f"{under_test}, likelihood rank"] + [label for label, _, _ in systems[1:]])
    result = {"composer": composer, "style_class": style_class, "systems": order, "judge": judge.report,
              "chorales": run_systems(chorales, systems, str(base_dir), candidates, seed, score_fn, progress, keep)}
    tunes = []
    for path in melody_files(melodies_dir) if melodies_dir is not None else []:
        try:
            melody = quiet_read_melody(path)
        except UserError as exc:
            say(f"skipped {path}: {exc}")
            continue
        name = str(path.relative_to(melodies_dir))
        tunes.append((name, melody, None))
        melody_of[name] = melody
    result["melodies"] = (run_systems(tunes, systems, str(base_dir), candidates, seed, score_fn, progress, keep)
                          if tunes else [])
    result["options"] = {"n": n, "skip": skip, "style": style, "candidates": candidates, "seed": seed,
                         "compare_styles": compare_styles}
    result["seconds"] = time.perf_counter() - started
    return result


def corpus_tune(path: Path, title: str) -> tuple[Score, list[float] | None]:
    """A corpus piece's tune (its Soprano part: ``quiet_read_melody``) with its fermatas marked, as a
    MusicXML chorale brings them, and their onsets."""
    melody = quiet_read_melody(path)
    fermatas = corpus_fermatas(title, melody)
    return mark_fermatas(melody, fermatas), fermatas


def corpus_fermatas(title: str, melody) -> list[float] | None:
    """The fermata onsets of a bundled-corpus piece (its title is its music21 corpus path), where the phrases
    of a chorale end; None for a piece music21's corpus does not hold (e.g. Maestro's)."""
    try:
        return fermata_onsets(music21.corpus.parse(title, forceSource=True), notes_of(melody))
    except Exception:  # noqa: BLE001 - not in the corpus, or unreadable: the phrases are then found from the melody
        return None


def _adapter_composer(adapter: Path, catalog: pd.DataFrame) -> str:
    """The catalog composer an adapter was trained on (its finetune.json), else its folder name."""
    return find_composer(catalog, adapter_composer(adapter) or adapter.name.replace("-", " "))
