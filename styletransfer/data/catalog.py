"""The music catalog: Maestro's metadata and the bundled music21 corpus as one pandas table.

Columns: composer (as written, may be "A / B"), composers (tuple of names), title, split, midi
(absolute path), duration (seconds). Both sources use Maestro's CSV format, so one reader serves both.
"""
from __future__ import annotations

import difflib
import os
import re
import unicodedata
from pathlib import Path

import pandas as pd

from ..errors import UserError

SPLITS = ("train", "validation", "test")
BUNDLED_CSV = "music21-corpus.csv"
MAESTRO_NAMES = ("maestro-v3.0.0.csv", "maestro-v3.0.0.json", "maestro-v2.0.0.csv", "maestro-v2.0.0.json")
# Names people say that are ambiguous by surname alone but mean one composer to everybody.
ALIASES = {
    "bach": "Johann Sebastian Bach",
    "js bach": "Johann Sebastian Bach",
}
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


def _normal(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"\s+", " ", re.sub(r"[^a-z ]", " ", text.lower())).strip()


def _initials_match(query: list[str], full: list[str]) -> bool:
    """"j s bach", "js bach" or "cpe bach" against "johann sebastian bach"."""
    if len(query) < 2 or query[-1] != full[-1]:
        return False
    given = "".join(query[:-1])
    return given == "".join(word[0] for word in full[:-1])[: len(given)] and len(given) == len(full) - 1


def _closest(query: str, normal_names: dict[str, str], n: int = 3) -> list[str]:
    def score(normal: str) -> float:
        return max(difflib.SequenceMatcher(None, query, normal).ratio(),
                   difflib.SequenceMatcher(None, query, normal.split()[-1]).ratio())

    ranked = sorted(normal_names, key=score, reverse=True)
    return [normal_names[k] for k in ranked[:n] if score(k) >= 0.5]


def find_composer(catalog: pd.DataFrame, name: str) -> str:
    """The catalog's composer for a name people would use; a one-line UserError otherwise."""
    names = [n for n in composers(catalog) if _normal(n)]
    by_normal = {_normal(n): n for n in names}
    query = _normal(name)
    if not query:
        raise UserError("empty composer name")
    if query in by_normal:
        return by_normal[query]
    alias = ALIASES.get(query) or ALIASES.get(query.replace(" ", ""))
    if alias and alias in names:
        return alias
    words = query.split()
    candidates = [n for n in names if _initials_match(words, _normal(n).split())]
    if not candidates:  # a surname, or the end of a name ("van beethoven")
        candidates = [n for n in names if _normal(n).endswith(" " + query) or _normal(n).split()[-1] == query]
    if not candidates:
        candidates = [n for n in names if all(w in _normal(n).split() for w in words)]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        raise UserError(f"composer '{name}' is ambiguous: {'; '.join(candidates[:6])}")
    close = _closest(query, by_normal)
    hint = f"; closest: {', '.join(close)}" if close else ""
    raise UserError(f"unknown composer '{name}'{hint} (see `mst data composers`)")


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
