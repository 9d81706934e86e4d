"""The music catalog: Maestro's metadata and the bundled music21 corpus as one pandas table.

Columns: composer (canonical spelling, may be "A / B"), composers (tuple of names), title, split, midi
(path into the folder), duration (seconds). Both sources use Maestro's CSV format, so one reader serves
both; a prepared folder (`mst data prepare`) is read from the catalog.csv it was built from.

Composer names are spelled canonically (``canonical_name``), so spelling variants of one name, such as
"Philippe de Vitry (1291 - 1361)" and "Philippe de Vitry (1291-1361)", are one composer.
"""
from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError
from ..io import inside
from .names import find_name

SPLITS = ("train", "validation", "test")
BUNDLED_CSV = "music21-corpus.csv"
MAESTRO_NAMES = ("maestro-v3.0.0.csv", "maestro-v3.0.0.json", "maestro-v2.0.0.csv", "maestro-v2.0.0.json")
REQUIRED = ("canonical_composer", "canonical_title", "split", "midi_filename", "duration")
PREPARED_CSV = "catalog.csv"  # written by `mst data prepare`: the catalog its cache was built from
PREPARED_COLUMNS = ("composer", "title", "split", "midi", "duration")

_DASHES = re.compile("[\u2010-\u2015\u2212]")  # hyphen, non-breaking hyphen, figure/en/em dash, minus
# Joint works are "A / B"; a slash with no space on either side is part of a name ("I-Pu 684/1475?").
_JOINT = re.compile(r"\s+/\s*|\s*/\s+")


def _metadata_file(folder: Path) -> Path | None:
    for name in (BUNDLED_CSV, *MAESTRO_NAMES):
        if (folder / name).exists():
            return folder / name
    found = sorted(folder.glob("maestro-*.csv")) + sorted(folder.glob("maestro-*.json"))
    return found[0] if found else None


def load_catalog(folder: str | os.PathLike) -> pd.DataFrame:
    """Read a Maestro-format folder (real Maestro or the bundled corpus), or a prepared folder's
    catalog.csv, into the catalog table."""
    folder = Path(os.path.expanduser(str(folder)))
    if not folder.is_dir():
        raise UserError(f"data folder not found: {folder} (expected a Maestro folder with maestro-v3.0.0.csv and its MIDI)")
    meta = _metadata_file(folder)
    if meta is None:
        if (folder / PREPARED_CSV).exists():
            return _prepared_catalog(folder / PREPARED_CSV)
        raise UserError(f"{folder}: no metadata found (expected maestro-v3.0.0.csv or .json, {BUNDLED_CSV}, "
                        f"or a prepared folder's {PREPARED_CSV})")
    table = _read_table(meta, REQUIRED, "metadata")
    keep, problems = _safe_rows(folder, table)
    table = table[np.asarray(keep, dtype=bool)].reset_index(drop=True)
    catalog = _catalog(table["canonical_composer"], table["canonical_title"], table["split"],
                       [str(folder / p) for p in table["midi_filename"]], table["duration"], meta)
    durations = pd.to_numeric(table["duration"], errors="coerce")
    problems += [(str(catalog["midi"][i]), f"duration {table['duration'][i]!r} is not a number (counted as unknown)")
                 for i in np.flatnonzero(durations.isna().to_numpy())]
    catalog.attrs["problems"] = problems
    return catalog


def _safe_rows(folder: Path, table: pd.DataFrame) -> tuple[list[bool], list[tuple[str, str]]]:
    """Which rows name a file inside ``folder`` (a relative path, no way out by '..' or links); the others,
    as (what the row says, why it is skipped)."""
    keep, problems = [], []
    for value in table["midi_filename"]:
        if not isinstance(value, str) or not value.strip() or "\x00" in value:
            keep.append(False)
            problems.append((repr(value), "midi_filename is not a path"))
            continue
        path = Path(value)
        ok = not path.is_absolute() and inside(folder / path, folder)
        keep.append(ok)
        if not ok:
            problems.append((value, "outside the dataset folder: skipped"))
    return keep, problems


def _read_table(path: Path, required, what: str) -> pd.DataFrame:
    """A metadata table (CSV, or JSON by its suffix) with the ``required`` columns and known splits; a
    one-line UserError otherwise."""
    try:
        table = pd.read_json(path) if path.suffix == ".json" else pd.read_csv(path, keep_default_na=False)
    except Exception as exc:
        raise UserError(f"{path}: unreadable {what} ({type(exc).__name__})") from None
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise UserError(f"{path}: missing columns {', '.join(missing)}")
    bad_splits = set(table["split"]) - set(SPLITS)
    if bad_splits:
        raise UserError(f"{path}: unknown split values {sorted(bad_splits)}")
    return table


def _prepared_catalog(path: Path) -> pd.DataFrame:
    """A prepared folder: the catalog.csv its cache was built from (read, not the source folder named in
    its manifest, so that the table is what the cache holds and needs no source folder)."""
    table = _read_table(path, PREPARED_COLUMNS, "catalog")
    return _catalog(table["composer"], table["title"], table["split"], table["midi"].astype(str).tolist(),
                    table["duration"], path)


def _catalog(composer, title, split, midi: list[str], duration, read_from: Path) -> pd.DataFrame:
    """The catalog table; ``attrs["read_from"]`` is the metadata file it was read from."""
    names = composer.astype(str).map(split_composers)
    catalog = pd.DataFrame({
        "composer": names.map(" / ".join),
        "title": title.astype(str),
        "split": split.astype(str),
        "midi": midi,
        "duration": pd.to_numeric(duration, errors="coerce"),  # NaN: not a number (load_catalog reports it)
    })
    catalog["composers"] = names
    catalog.attrs["read_from"] = str(read_from)
    return catalog


def canonical_name(name: str) -> str:
    """One spelling for the variants of a composer name that differ only in Unicode form, dashes or
    spacing: whitespace collapsed, none around a dash (which becomes "-") or just inside parentheses.
    "Philippe de Vitry (1291 - 1361)", "(1291 -1361)" and "( 1291–1361 )" are all
    "Philippe de Vitry (1291-1361)"; a name already spelled so is unchanged (hyphenated names included)."""
    text = _DASHES.sub("-", unicodedata.normalize("NFC", str(name)))
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r" ?- ?", "-", text)
    return text.replace("( ", "(").replace(" )", ")")


def split_composers(field: str) -> tuple[str, ...]:
    """Maestro writes joint works as "A / B"; each name in its canonical spelling."""
    return tuple(canonical_name(name) for name in _JOINT.split(str(field)) if name.strip())


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
