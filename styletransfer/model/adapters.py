"""Adapters and blends: a base model with its style merged in (``load_styled``), for ``bach``, ``none`` or a
blend ``"bach=0.7,chopin=0.3"``; an adapter found by slug or composer name (``find_adapter``).

A blend loads every named LoRA adapter into one peft model, combines them with
``add_weighted_adapter(..., combination_type="cat")`` into an adapter named ``blend``, activates it and
merges it into the base weights (``merge_and_unload``), so sampling runs on a plain transformers model at no extra cost per
token.

Why ``cat``: it concatenates the adapters' low-rank factors, so the merged weight change is exactly
``sum_i w_i * delta_i`` (each adapter's own scaling kept). ``linear`` also scales both factors by
``sqrt(w_i)`` and adds them, which mixes cross terms (peft calls it "a very rough approximation") and
needs equal ranks. The rank of a ``cat`` adapter is the sum of the ranks, which costs nothing once merged.

Weights are used as given, not normalized: ``bach=1,chopin=1`` applies both adapters in full,
``bach=0.5`` half of Bach's. Without weights (``bach,chopin``) the styles share 1 equally.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from peft import PeftModel

from ..data.names import find_name
from ..errors import UserError
from ..tokens.tokenizer import load_tokenizer
from .build import load_model
from .runs import adapter_composer, adapters, check_vocabulary, resolve_base
from .runs import slug as adapter_slug

BLEND_ADAPTER = "blend"
COMBINATION = "cat"


@dataclass(frozen=True)
class Style:
    """What ``--style`` asked for: no parts for the base alone, one part without a weight for one adapter."""

    text: str
    parts: tuple[tuple[str, float | None], ...]  # (style name as given, weight or None)

    @property
    def is_base(self) -> bool:
        return not self.parts

    @property
    def is_blend(self) -> bool:
        return len(self.parts) > 1 or any(w is not None for _, w in self.parts)

    @property
    def slug(self) -> str:
        """For file names: 'bach', 'base', 'bach0.7+chopin0.3'."""
        if self.is_base:
            return "base"
        return "+".join(adapter_slug(name) + ("" if w is None else f"{w:g}") for name, w in self.parts)


def parse_style(text: str | None) -> Style:
    """Parse ``--style``: 'none', one adapter name, or a blend 'name=weight,name=weight' (weights are numbers
    >= 0, not all zero; all given or none given)."""
    raw = (text or "").strip()
    if not raw:
        raise UserError("empty --style: give an adapter name (e.g. bach), a blend (bach=0.7,chopin=0.3) or none")
    if raw.lower() == "none":
        return Style(raw, ())
    if "," not in raw and "=" not in raw:
        return Style(raw, ((raw, None),))
    parts: list[tuple[str, float | None]] = []
    for term in raw.split(","):
        name, eq, weight_text = (x.strip() for x in term.partition("="))
        if not name:
            raise UserError(f"--style '{raw}': a style name is missing (expected name=weight,name=weight)")
        if name.lower() == "none":
            raise UserError(f"--style '{raw}': 'none' cannot be part of a blend")
        if eq:
            try:
                weight = float(weight_text)
            except ValueError:
                raise UserError(f"--style '{raw}': the weight of '{name}' is not a number: '{weight_text}'") from None
            if not math.isfinite(weight) or weight < 0:
                raise UserError(f"--style '{raw}': the weight of '{name}' must be a number >= 0, got '{weight_text}'")
            parts.append((name, weight))
        else:
            parts.append((name, None))
    given = [w is not None for _, w in parts]
    if any(given) and not all(given):
        raise UserError(f"--style '{raw}': give every style a weight, or none of them")
    if not any(given):
        parts = [(name, 1.0 / len(parts)) for name, _ in parts]
    if all(w == 0 for _, w in parts):
        raise UserError(f"--style '{raw}': all weights are zero (use --style none for the base alone)")
    return Style(raw, tuple(parts))


def resolve_style(base_dir: Path, style: Style) -> list[tuple[Path, float | None]]:
    """Each part's adapter folder (``find_adapter``: slug or composer name; an unknown one lists the
    adapters), checked before any weights load. The same adapter twice is an error."""
    resolved: list[tuple[Path, float | None]] = []
    seen: dict[Path, str] = {}
    for name, weight in style.parts:
        folder = find_adapter(base_dir, name)
        if folder in seen:
            raise UserError(f"--style '{style.text}': '{seen[folder]}' and '{name}' are the same adapter ({folder.name})")
        seen[folder] = name
        resolved.append((folder, weight))
    return resolved


def apply_style(model, adapters: list[tuple[Path, float | None]]):
    """The model with the adapters merged in: one adapter as it is, several (or a weighted one) blended."""
    if not adapters:
        return model
    if len(adapters) == 1 and adapters[0][1] is None:
        return PeftModel.from_pretrained(model, str(adapters[0][0])).merge_and_unload()
    names = [f"style{i}" for i in range(len(adapters))]
    peft_model = PeftModel.from_pretrained(model, str(adapters[0][0]), adapter_name=names[0])
    for name, (folder, _) in zip(names[1:], adapters[1:]):
        peft_model.load_adapter(str(folder), adapter_name=name)
    weights = [float(w if w is not None else 1.0) for _, w in adapters]
    try:
        peft_model.add_weighted_adapter(names, weights, adapter_name=BLEND_ADAPTER, combination_type=COMBINATION)
    except (ValueError, TypeError) as exc:
        listing = ", ".join(folder.name for folder, _ in adapters)
        raise UserError(f"cannot blend {listing}: {(str(exc).splitlines() or [type(exc).__name__])[0][:120]}") from None
    peft_model.set_adapter(BLEND_ADAPTER)
    return peft_model.merge_and_unload(adapter_names=[BLEND_ADAPTER])


def style_label(style: Style, adapters: list[tuple[Path, float | None]]) -> str:
    """A readable description: 'johann-sebastian-bach', '0.7 johann-sebastian-bach + 0.3 chopin', 'base model'."""
    if not adapters:
        return "base model"
    return " + ".join(folder.name if w is None else f"{w:g} {folder.name}" for folder, w in adapters)


SAFE_NAME = re.compile(r"[^A-Za-z0-9._+-]+")


def file_slug(style: Style) -> str:
    return SAFE_NAME.sub("-", style.slug).strip("-") or "style"


def find_adapter(base: Path, style: str) -> Path:
    """An adapter of ``base`` by slug or composer name ("bach", "J. S. Bach"...); lists them if unknown."""
    found = adapters(base)
    if adapter_slug(style) in found:
        return found[adapter_slug(style)]
    by_surname = [folder for key, folder in found.items() if key.endswith("-" + adapter_slug(style))]
    if len(by_surname) == 1:  # "bach" -> johann-sebastian-bach
        return by_surname[0]
    names = {adapter_composer(folder) or key: folder for key, folder in found.items()}
    listing = ", ".join(sorted(found)) or "none (train one with `mst finetune --composer NAME`)"
    try:
        return names[find_name(list(names), style)]
    except UserError:
        raise UserError(f"unknown style '{style}': adapters of {base}: {listing}") from None


def load_styled(base: str | None, style: str):
    """(model, tokenizer, base folder) with the style's adapter merged in ('none': the base alone; a blend
    "bach=0.7,chopin=0.3": the adapters combined, see the module docstring)."""
    base_dir = resolve_base(base)
    # Every check before the model is loaded: a mistake is one line, not a load report and a traceback.
    adapters = resolve_style(base_dir, parse_style(style)) if style and style.strip() else []
    model, tokenizer = load_with_adapters(base_dir, adapters)
    return model, tokenizer, base_dir


def load_with_adapters(base_dir: Path, adapters: list[tuple[Path, float | None]]):
    """(model, tokenizer) of a resolved base folder with resolved adapters (``resolve_style``) merged in."""
    tokenizer = load_tokenizer(base_dir)
    check_vocabulary(base_dir, tokenizer, base_dir)
    model = load_model(base_dir)
    check_vocabulary(model, tokenizer, base_dir)
    model = apply_style(model, adapters)
    model.eval()
    return model, tokenizer
