"""Recipes: YAML files validated by pydantic, with ``--set section.key=value`` overrides.

The shipped recipes (``styletransfer/recipes/``, package data) are the only place defaults live: the
schema below holds types and bounds, no default values, and every recipe, dict or section is read
over ``recipes/default.yaml`` (keys it leaves out take that file's values), so a recipe may state only
what differs. Every section forbids unknown keys, so a typo is an error that names the key instead of
a silently ignored setting. The resolved recipe is written beside every output (``save_recipe``).
"""
from __future__ import annotations

import copy
import functools
import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import UserError
from .io import atomic_write_text

PACKAGE_DIR = Path(__file__).resolve().parent
RECIPES_DIR = PACKAGE_DIR / "recipes"  # package data: shipped in the wheel
DEFAULT_RECIPE = RECIPES_DIR / "default.yaml"
RECIPE_FILE = "recipe.yaml"  # the resolved recipe, beside every output (run folders, prepared data, adapters)
HARD_RULES = ("semitone_on_beat",)  # the constraint's optional rules (transfer/rules.py says what each forbids)
PROJECT_ROOT = PACKAGE_DIR.parent
# The checkout the package runs from (an editable install or the source tree), None when it is
# installed from a wheel: the bundled data (data/music21, data/melodies) lives in the repository only.
CHECKOUT: Path | None = PROJECT_ROOT if (PROJECT_ROOT / "pyproject.toml").is_file() else None
BUNDLED = {"data/music21": "the bundled corpus ships", "data/melodies": "the bundled melodies ship"}


@functools.lru_cache(maxsize=1)
def _shipped_defaults() -> dict:
    """recipes/default.yaml as parsed YAML (callers copy what they keep)."""
    raw = yaml.safe_load(DEFAULT_RECIPE.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise UserError(f"{DEFAULT_RECIPE}: a recipe must be a mapping of sections")
    return raw


def _defaults_at(path: tuple[str, ...]) -> dict:
    node: Any = _shipped_defaults()
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def merge_over(base: dict, recipe: dict) -> dict:
    """A deep merge: ``recipe``'s keys win, mappings merge key by key, ``base`` is left unchanged."""
    merged = copy.deepcopy(base)
    for key, value in recipe.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_over(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class Section(BaseModel):
    """A recipe section: strict keys; the keys a mapping leaves out are read from default.yaml."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    _at: ClassVar[tuple[str, ...]] = ()  # where the section lies in a recipe, e.g. ("data", "augment")

    @model_validator(mode="before")
    @classmethod
    def _over_shipped_defaults(cls, data):
        # Sections nested in this one are filled when they are validated in turn: a deep merge.
        return {**copy.deepcopy(_defaults_at(cls._at)), **data} if isinstance(data, dict) else data


class AugmentConfig(Section):
    """Offsets for miditok's augment_dataset, applied to the training split only."""

    _at = ("data", "augment")
    pitch_offsets: list[int]
    velocity_offsets: list[int]
    duration_offsets: list[float]


class DataConfig(Section):
    _at = ("data",)
    source: Literal["music21", "maestro"]
    # music21: the converted corpus shipped in data/music21; maestro: the folder holding
    # maestro-v3.0.0.csv (or .json) and its MIDI year folders.
    path: str
    out: str
    bpe_vocab_size: int = Field(..., ge=0, description="0 keeps the base vocabulary (no BPE)")
    # An existing tokenizer.json to encode with instead of training BPE (e.g. to finetune a base
    # model on new data, its tokenizer must be the one the data is encoded with).
    tokenizer: str | None
    augment: AugmentConfig
    # transpose every piece to C major or A minor (its estimated key) before augmenting and tokenizing, so a
    # small model learns one key instead of twelve; a transfer then harmonizes in that key (keys.py)
    key_normalize: bool
    workers: int = Field(..., ge=0, description="encoding processes; 0 = one per CPU core")


class ModelConfig(Section):
    _at = ("model",)
    arch: Literal["llama", "gpt2"]
    n_layer: int = Field(..., ge=1)
    n_head: int = Field(..., ge=1)
    n_embd: int = Field(..., ge=8)
    context: int = Field(..., ge=16)
    dropout: float = Field(..., ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _heads_divide_width(self):
        if self.n_embd % self.n_head:
            raise ValueError(f"model.n_embd ({self.n_embd}) must be a multiple of model.n_head ({self.n_head})")
        return self


class TrainConfig(Section):
    _at = ("train",)
    max_steps: int = Field(..., ge=1)
    batch_size: int = Field(..., ge=1)
    grad_accum: int = Field(..., ge=1)
    lr: float = Field(..., gt=0)
    min_lr: float = Field(..., ge=0)
    warmup_steps: int = Field(..., ge=0)
    weight_decay: float = Field(..., ge=0)
    eval_interval: int = Field(..., ge=1)
    eval_batches: int = Field(..., ge=1)
    save_interval: int = Field(..., ge=1)
    # Share of training examples that are melody/texture pairs rather than plain windows.
    pair_ratio: float = Field(..., ge=0.0, le=1.0)
    seed: int
    threads: int = Field(..., ge=0, description="CPU threads for torch; 0 = all cores")


class FinetuneConfig(Section):
    _at = ("finetune",)
    lora_r: int = Field(..., ge=1)
    lora_alpha: int = Field(..., ge=1)
    lora_dropout: float = Field(..., ge=0.0, lt=1.0)
    target_modules: list[str]
    max_steps: int = Field(..., ge=1)
    lr: float = Field(..., gt=0)
    min_pieces: int = Field(..., ge=1)


class SampleConfig(Section):
    _at = ("sample",)
    temperature: float = Field(..., gt=0)
    top_k: int = Field(..., ge=0)
    top_p: float = Field(..., gt=0, le=1.0)
    seed: int


class FaultWeightsConfig(Section):
    """What each fault a theory teacher marks costs the search (transfer/faults.py), per occurrence: one field
    per ``analysis.theory.FAULT_KINDS``."""

    _at = ("transfer", "search", "fault_weights")
    parallels_melody_bass: float = Field(..., ge=0)
    parallels_any_voices: float = Field(..., ge=0)
    hidden_outer: float = Field(..., ge=0)
    voice_crossing: float = Field(..., ge=0)
    spacing: float = Field(..., ge=0)
    no_bass: float = Field(..., ge=0)
    strong_beat_dissonance: float = Field(..., ge=0)
    unexplained_chromatic: float = Field(..., ge=0)
    voice_count: float = Field(..., ge=0)
    voice_count_time: float = Field(..., ge=0)
    bass_repeat: float = Field(..., ge=0)
    bass_leap: float = Field(..., ge=0)


class CadenceFaultsConfig(Section):
    """What an inner phrase end costs the search by the cadence that closes it, times ``cadence_weight``."""

    _at = ("transfer", "search", "cadence_faults")
    authentic: float = Field(..., ge=0)
    half: float = Field(..., ge=0)
    plagal: float = Field(..., ge=0)
    deceptive: float = Field(..., ge=0)
    none: float = Field(..., ge=0)


class SearchConfig(Section):
    """The search over partial accompaniments (transfer/search.py): the batch is stopped every
    ``bars_per_step`` bars and resampled by the faults a theory teacher would mark."""

    _at = ("transfer", "search")
    enabled: bool
    bars_per_step: int = Field(..., ge=1)
    strength: float = Field(..., ge=0)  # log-weight of one fault when resampling
    rank_strength: float = Field(..., ge=0)  # what one fault costs in the final ranking
    cadence_bonus: float = Field(..., ge=0)  # final ranking: an authentic cadence onto the tonic at the end
    cadence_weight: float = Field(..., ge=0)  # an inner phrase end's cost: this x cadence_faults[its cadence]
    cadence_faults: CadenceFaultsConfig
    fault_weights: FaultWeightsConfig
    final_tries: int = Field(..., ge=1, le=8)  # the last window sampled again while no candidate ends authentic
    final_bars: int = Field(..., ge=1, le=8)  # a window starting this close to the end runs to it
    # a model trained before parts only (its tokens carry none): the style's number of parts for voice_count;
    # a model with parts writes its style's texture, measured on the training pieces (texture.json)
    parts: int | None = Field(..., ge=1, le=16)


class TransferConfig(Section):
    """`mst transfer`'s sampling and ranking, tuned on Bach's validation chorales (docs/results.md): a
    lower temperature than free generation, because a harmonization wants the model's most typical
    chords, not its surprising ones."""

    _at = ("transfer",)
    candidates: int = Field(..., ge=1)  # accompaniments sampled in one batch (the search's particles)
    temperature: float = Field(..., gt=0)
    top_k: int = Field(..., ge=0)
    top_p: float = Field(..., gt=0, le=1.0)
    harmony_weight: float = Field(..., ge=0)  # ranking: weight of the consonance with the melody (PCS)
    hard_rules: list[Literal[HARD_RULES]]  # what the style never allows (transfer/rules.py), added to the constraint
    # harmonize in the reference key and transpose back, when the model was trained so (data.key_normalize)
    key_normalize: bool
    # with key_normalize: of the key's octaves, the one that puts the melody's median pitch nearest this
    melody_register: int | None = Field(..., ge=0, le=127)
    # what the model decodes in (transfer/runtime.py): auto = bfloat16 where the CPU (or GPU) has it natively
    dtype: Literal["auto", "float32", "bfloat16"]
    search: SearchConfig



class LimitsConfig(Section):
    """What a melody file may hold (data/melody_file.py checks them as it reads): past a limit the file is
    refused with one line naming the limit and how to raise it (--set limits.KEY=VALUE)."""

    _at = ("limits",)
    max_file_mb: float = Field(..., gt=0)  # the file, and a compressed .mxl's contents
    max_notes: int = Field(..., ge=1)
    max_bars: int = Field(..., ge=1)
    min_ticks_per_quarter: int = Field(..., ge=1)
    max_ticks_per_quarter: int = Field(..., ge=1)
    parse_seconds: float = Field(..., gt=0)  # MusicXML / ABC / kern: music21 runs in a worker, stopped after this
    parse_memory_mb: int = Field(..., ge=64)  # ... and allowed this much memory beyond what mst holds


class Recipe(Section):
    _at = ()
    name: str
    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    finetune: FinetuneConfig
    sample: SampleConfig
    transfer: TransferConfig
    limits: LimitsConfig


def default_recipe() -> Recipe:
    """The shipped default recipe (recipes/default.yaml), e.g. ``default_recipe().model`` for the
    default model size. A fresh copy each call: changing it changes nothing else."""
    return Recipe.model_validate(copy.deepcopy(_shipped_defaults()))


def _format_error(exc: ValidationError, source: str) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"{source}: unknown recipe key '{key}'"
    return f"{source}: bad value for '{key}': {err['msg']}"


def parse_override(text: str) -> tuple[list[str], object]:
    """'train.lr=3e-4' -> (['train', 'lr'], 0.0003); the value is read as YAML."""
    if "=" not in text:
        raise UserError(f"--set expects section.key=value, got '{text}'")
    key, raw = text.split("=", 1)
    path = [p for p in key.strip().split(".") if p]
    if not path:
        raise UserError(f"--set expects section.key=value, got '{text}'")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return path, value


MAX_RECIPE_BYTES = 1_000_000  # the shipped recipes are 3 KB


def resolve_recipe_path(recipe: str | os.PathLike | None) -> Path:
    if recipe is None:
        return DEFAULT_RECIPE
    path = Path(recipe)
    if path.exists():
        return path
    named = RECIPES_DIR / (path.name if path.suffix else f"{path.name}.yaml")
    if named.exists():
        return named
    raise UserError(f"recipe not found: {recipe} (shipped recipes: {', '.join(p.stem for p in sorted(RECIPES_DIR.glob('*.yaml')))})")


def load_recipe(recipe: str | os.PathLike | None = None, overrides: list[str] | None = None) -> Recipe:
    """Load a YAML recipe (a path or a shipped name like 'maestro') over the shipped default recipe (the
    keys it leaves out take recipes/default.yaml's values) and apply ``--set`` overrides."""
    path = resolve_recipe_path(recipe)
    if not path.is_file():
        raise UserError(f"{path}: a recipe is a YAML file, this is a folder")
    if path.stat().st_size > MAX_RECIPE_BYTES:
        raise UserError(f"{path}: {path.stat().st_size:,} bytes is no recipe (at most {MAX_RECIPE_BYTES:,})")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text file (a recipe is UTF-8 YAML)") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a recipe must be a mapping of sections")
    raw = merge_over(_shipped_defaults(), raw)
    try:
        Recipe.model_validate(raw)
    except ValidationError as exc:
        raise UserError(_format_error(exc, str(path))) from None
    for text in overrides or []:
        keys, value = parse_override(text)
        node = raw
        for part in keys[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"--set {text}: '{part}' is not a section")
        node[keys[-1]] = value
        try:
            Recipe.model_validate(raw)
        except ValidationError as exc:
            raise UserError(_format_error(exc, f"--set {text}")) from None
    return Recipe.model_validate(raw)


def recipe_from_dict(raw: dict, source: str = "recipe") -> Recipe:
    """A recipe from a mapping (e.g. one saved in a checkpoint), read over the shipped default recipe."""
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        raise UserError(_format_error(exc, source)) from None


def save_recipe(recipe: Recipe, folder: str | os.PathLike, name: str = RECIPE_FILE) -> Path:
    """Write the resolved recipe beside an output, atomically."""
    return atomic_write_text(Path(folder) / name, yaml.safe_dump(recipe.model_dump(), sort_keys=False))


def _bundled(path: Path) -> tuple[str, str] | None:
    """(folder, what ships) when a relative path names the bundled data (data/music21, data/melodies or in them)."""
    for folder, what in BUNDLED.items():
        parts = Path(folder).parts
        if path.parts[: len(parts)] == parts:
            return folder, what
    return None


_BUNDLED_HINT = {
    "data/music21": "or give a corpus of your own (--set data.path=DIR, or --maestro DIR for Maestro v3)",
    "data/melodies": "or give melodies of your own (a MIDI or MusicXML file)",
}


def resolve_data_path(path: str | os.PathLike, missing_ok: bool = False) -> Path:
    """A recipe path relative to the working directory, else to the checkout (for the bundled data).

    The bundled corpus and melodies ship with the repository, not the package: installed from a wheel,
    a relative path into them that the working directory lacks is a one-line UserError saying what to
    do (``missing_ok``: it comes back as given, for a caller to whom the data is optional). Any other
    path comes back as given when it is missing, for the caller to report."""
    p = Path(os.path.expanduser(str(path)))
    if p.is_absolute() or p.exists():
        return p
    if CHECKOUT is not None:
        in_checkout = CHECKOUT / p
        return in_checkout if in_checkout.exists() else p
    bundled = _bundled(p)
    if bundled is None or missing_ok:
        return p
    folder, what = bundled
    raise UserError(f"{p}: {what} with the mst repository, not the installed package, and {Path.cwd()} holds "
                    f"no {folder}: run mst in a clone of the repository, {_BUNDLED_HINT[folder]}")
