"""Composer names as people say them: "bach", "J. S. Bach", "cpe bach", "van beethoven", typos.

Plain Python (no pandas), so that looking up an adapter by composer name costs nothing at start-up.
"""
from __future__ import annotations

import difflib
import re
import unicodedata

from ..errors import UserError

# Names people say that are ambiguous by surname alone but mean one composer to everybody.
ALIASES = {
    "bach": "Johann Sebastian Bach",
    "js bach": "Johann Sebastian Bach",
}


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


def find_name(known: list[str], name: str) -> str:
    """The one of ``known`` composer names that a name people would use means; a one-line UserError
    otherwise (ambiguous: the candidates; unknown: the closest names)."""
    names = [n for n in known if _normal(n)]
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
