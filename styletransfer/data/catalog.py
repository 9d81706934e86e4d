"""The music catalog: Maestro's metadata and the bundled music21 corpus as one pandas table.

Columns: composer (as written, may be "A / B"), composers (tuple of names), title, split, midi
(absolute path), duration (seconds). Both sources use Maestro's CSV format, so one reader serves both.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import UserError
from .names import find_name

SPLITS = ("train", "validation", "test")
BUNDLED_CSV = "music21-corpus.csv"
MAESTRO_NAMES = ("maestro-v3.0.0.csv", "maestro-v3.0.0.json", "maestro-v2.0.0.csv", "maestro-v2.0.0.json")
REQUIRED = ("canonical_composer", "canonical_title", "split", "midi_filename", "duration")


def _metadata_file(folder: Path) -> Path:
    for name in (BUNDLED_CSV, *MAESTRO_NAMES):
        if (folder / name).exists():
            return folder / name
    found = sorted(folder.glob("maestro-*.csv")) + sorted(folder.glob("maestro-*.json"))
    if found:
        return found[0]
    raise UserError(f"{folder}: no metadata found (expected maestro-v3.0.0.csv or .json, or {BUNDLED_CSV})")


def load_catalog(folder: str | os.PathLike) -> pd.DataFrame:
    """Read a Maestro-format folder (real Maestro or the bundled corpus) into the catalog table."""
    folder = Path(os.path.expanduser(str(folder)))
    if not folder.is_dir():
        raise UserError(f"data folder not found: {folder} (expected a Maestro folder with maestro-v3.0.0.csv and its MIDI)")
    meta = _metadata_file(folder)
    try:
        table = pd.read_json(meta) if meta.suffix == ".json" else pd.read_csv(meta, keep_default_na=False)
    except Exception as exc:
        raise UserError(f"{meta}: unreadable metadata ({type(exc).__name__})") from None
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise UserError(f"{meta}: missing columns {', '.join(missing)}")
    bad_splits = set(table["split"]) - set(SPLITS)
    if bad_splits:
        raise UserError(f"{meta}: unknown split values {sorted(bad_splits)}")
    catalog = pd.DataFrame({
        "composer": table["canonical_composer"].astype(str).str.strip(),
        "title": table["canonical_title"].astype(str),
        "split": table["split"].astype(str),
        "midi": [str(folder / p) for p in table["midi_filename"]],
        "duration": pd.to_numeric(table["duration"], errors="coerce").fillna(0.0),
    })
    catalog["composers"] = catalog["composer"].map(split_composers)
    return catalog


def split_composers(field: str) -> tuple[str, ...]:
    """Maestro writes joint works as "A / B"."""
    return tuple(name.strip() for name in str(field).split("/") if name.strip())


def composers(catalog: pd.DataFrame) -> list[str]:
    return sorted({name for names in catalog["composers"] for name in names})


def find_composer(catalog: pd.DataFrame, name: str) -> str:
    """The catalog's composer for a name people would use; a one-line UserError otherwise."""
    return find_name(composers(catalog), name)


def select(catalog: pd.DataFrame, composer: str | None = None, split: str | None = None) -> pd.DataFrame:
    rows = catalog
    if composer is not None:
        rows = rows[rows["composers"].map(lambda names: composer in names)]
    if split is not None:
        rows = rows[rows["split"] == split]
    return rows


def composer_table(catalog: pd.DataFrame) -> pd.DataFrame:
    """Pieces and hours per composer, overall and per split; joint works count for each composer."""
    exploded = catalog.explode("composers")
    grouped = exploded.groupby(["composers", "split"]).agg(pieces=("title", "size"), hours=("duration", "sum"))
    table = grouped.unstack("split", fill_value=0)
    out = pd.DataFrame(index=table.index)
    out["pieces"] = table["pieces"].sum(axis=1).astype(int)
    out["hours"] = (table["hours"].sum(axis=1) / 3600).round(2)
    for split in SPLITS:
        out[f"{split}_pieces"] = table["pieces"][split].astype(int) if split in table["pieces"] else 0
        out[f"{split}_hours"] = (table["hours"][split] / 3600).round(2) if split in table["hours"] else 0.0
    out.index.name = "composer"
    return out.sort_values(["pieces", "hours"], ascending=False).reset_index()
