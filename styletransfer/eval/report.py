"""The benchmark's and perplexity's tables: per-system summaries, their Markdown and the benchmark's CSV."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..io import atomic_write_text

# (column in the tables, metric key, format, what is better) — the report's columns, in order
COLUMNS = [
    ("melody recall", "melody_recall", ".3f", "higher"),
    ("above melody", "melody_above_rate", ".3f", "0"),
    ("par. mel-bass", "parallels_melody_bass", ".2f", "lower (per 100 beat moves)"),
    ("par. voices", "parallels_any_voices", ".1f", "lower (per 100 beat moves)"),
    ("dissonance", "strong_beat_dissonance", ".1f", "near original (per 100 strong beats)"),
    ("chromatic", "unexplained_chromatic", ".2f", "near original (per 100 notes)"),
    ("no bass", "no_bass_rate", ".1f", "near original (per 100 beats)"),
    ("not 4 parts", "voice_count", ".1f", "near original (per 100 beats)"),
    ("time not 4 parts", "voice_count_time", ".1f", "near original (beats per 100 beats)"),
    ("bass repeats", "bass_repeat", ".1f", "near original (per 100 bass moves)"),
    ("bass leaps", "bass_leap", ".1f", "near original (per 100 bass moves)"),
    ("auth. cad.", "authentic_cadence_rate", ".0f", "higher (per 100 phrases)"),
    ("final auth.", "final_authentic", ".2f", "higher"),
    ("CTnCTR", "ctnctr", ".3f", "higher"),
    ("PCS", "pcs", ".3f", "higher"),
    ("MCTD", "mctd", ".3f", "lower"),
    ("CHE", "chord_histogram_entropy", ".2f", "near original"),
    ("CC", "chord_coverage", ".1f", "near original"),
    ("CTD", "chord_tonal_distance", ".3f", "near original"),
    ("PC dist", "pc_distance", ".3f", "lower"),
    ("polyphony", "polyphony", ".2f", "near original"),
    ("in scale", "in_scale_rate", ".3f", "near original"),
    ("P(style)", "p_style", ".3f", "higher"),
    ("P(real)", "p_real", ".3f", "higher"),
]


def summary(rows: list[dict], order: list[str]) -> pd.DataFrame:
    """Mean and standard deviation of every reported metric per system, systems in ``order``."""
    frame = pd.DataFrame(rows)
    keys = [key for _, key, _, _ in COLUMNS]
    frame[keys] = frame[keys].astype(float)
    grouped = frame.groupby("system")[keys]
    mean, std = grouped.mean(), grouped.std(ddof=0)
    systems = [s for s in order if s in mean.index]
    out = pd.DataFrame(index=pd.Index(systems, name="system"))
    out["pieces"] = frame.groupby("system").size().reindex(systems)
    for title, key, _, _ in COLUMNS:
        out[f"{title}"] = mean.loc[systems, key]
        out[f"{title} sd"] = std.loc[systems, key]
    return out


def markdown_table(table: pd.DataFrame) -> str:
    """The summary as a Markdown table, each cell "mean ± sd"."""
    head = ["system", "n"] + [title for title, _, _, _ in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * len(COLUMNS)]
    for system, row in table.iterrows():
        cells = [str(system), str(int(row["pieces"]))]
        for title, _, fmt, _ in COLUMNS:
            mean, sd = row[title], row[f"{title} sd"]
            cells.append("–" if math.isnan(mean) else f"{mean:{fmt}} ± {sd:{fmt}}")
        lines.append("| " + " | ".join(cells) + " |")
    better = ", ".join(f"{title}: {hint}" for title, _, _, hint in COLUMNS)
    return "\n".join(lines) + f"\n\nBetter: {better}.\n"


def perplexity_markdown(table) -> str:
    models = [c for c in table.columns if c not in ("pieces", "tokens", "best")]
    head = ["composer", "pieces", "tokens", *models, "best"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 2) + "---|"]
    for composer, row in table.iterrows():
        losses = [f"**{row[m]:.3f}**" if m == row["best"] else f"{row[m]:.3f}" for m in models]
        lines.append("| " + " | ".join([composer, str(int(row["pieces"])), str(int(row["tokens"])), *losses,
                                         row["best"]]) + " |")
    return "\n".join(lines) + "\n"


def benchmark_markdown(result: dict) -> str:
    """The report of a benchmark run (``benchmark.bach_chorales``' result): the command that ran it, then
    the per-system summary of the chorales and of the unseen melodies."""
    order, o = result["systems"], result["options"]
    n, skip, style, candidates, seed = o["n"], o["skip"], o["style"], o["candidates"], o["seed"]
    chorales = summary(result["chorales"], order)
    parts = [f"## Chorales: {result['composer']}, test split ({int(chorales['pieces'].max())} chorales)\n",
             f"`mst eval bach-chorales --n {n}{f' --skip {skip}' if skip else ''} --style {style}"
             f"{'' if candidates is None else f' --candidates {candidates}'} "
             f"--seed {seed}{'' if o['compare_styles'] else ' --no-compare-styles'}` "
             f"({result['seconds']:.0f} s). P(style) is the judge's P({result['style_class']}).\n",
             markdown_table(chorales)]
    if result["melodies"]:
        tunes = summary(result["melodies"], order)
        parts += [f"\n## Melodies the model never saw ({int(tunes['pieces'].max())} tunes)\n", markdown_table(tunes)]
    return "\n".join(parts)


def benchmark_csv(result: dict) -> str:
    """Every scored piece of a benchmark run, one row each: the chorales' rows, then the melodies', with a
    "set" column (chorales or melodies) last."""
    rows = [dict(r, set="chorales") for r in result["chorales"]] + [dict(r, set="melodies") for r in result["melodies"]]
    return pd.DataFrame(rows).to_csv(index=False)


def benchmark_csv_path(report: Path) -> Path:
    """Where the benchmark's CSV goes: next to its Markdown report."""
    return report.with_suffix(".csv")


def write_benchmark(result: dict, out: Path) -> tuple[str, Path]:
    """Write a benchmark run's Markdown report to ``out`` and its CSV next to it: (the report, the CSV's path)."""
    report, csv = benchmark_markdown(result), benchmark_csv_path(out)
    atomic_write_text(csv, benchmark_csv(result))
    atomic_write_text(out, report)
    return report, csv
