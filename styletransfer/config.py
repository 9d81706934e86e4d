"""Recipes: YAML files validated by pydantic, with ``--set section.key=value`` overrides.

Every section forbids unknown keys, so a typo is an error that names the key instead of a silently
ignored setting. The resolved recipe is written beside every output (``save_recipe``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RECIPES_DIR = PROJECT_ROOT / "recipes"
DEFAULT_RECIPE = RECIPES_DIR / "default.yaml"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class AugmentConfig(Section):
    """Offsets for miditok's augment_dataset, applied to the training split only."""

    pitch_offsets: list[int] = Field(default_factory=lambda: [-2, 2])
    velocity_offsets: list[int] = Field(default_factory=list)
    duration_offsets: list[float] = Field(default_factory=list)


class DataConfig(Section):
    source: Literal["music21", "maestro"] = "music21"
    # music21: the converted corpus shipped in data/music21; maestro: the folder holding
    # maestro-v3.0.0.csv (or .json) and its MIDI year folders.
    path: str = "data/music21"
    out: str = "data/prepared/music21"
    bpe_vocab_size: int = Field(2000, ge=0, description="0 keeps the base vocabulary (no BPE)")
    # An existing tokenizer.json to encode with instead of training BPE (e.g. to finetune a base
    # model on new data, its tokenizer must be the one the data is encoded with).
    tokenizer: str | None = None
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    workers: int = Field(0, ge=0, description="encoding processes; 0 = one per CPU core")


class ModelConfig(Section):
    arch: Literal["llama", "gpt2"] = "llama"
    n_layer: int = Field(4, ge=1)
    n_head: int = Field(4, ge=1)
    n_embd: int = Field(256, ge=8)
    context: int = Field(256, ge=16)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _heads_divide_width(self):
        if self.n_embd % self.n_head:
            raise ValueError(f"model.n_embd ({self.n_embd}) must be a multiple of model.n_head ({self.n_head})")
        return self


class TrainConfig(Section):
    max_steps: int = Field(1500, ge=1)
    batch_size: int = Field(32, ge=1)
    grad_accum: int = Field(1, ge=1)
    lr: float = Field(1e-3, gt=0)
    min_lr: float = Field(1e-4, ge=0)
    warmup_steps: int = Field(100, ge=0)
    weight_decay: float = Field(0.1, ge=0)
    eval_interval: int = Field(250, ge=1)
    eval_batches: int = Field(20, ge=1)
    save_interval: int = Field(250, ge=1)
    # Share of training examples that are melody/texture pairs rather than plain windows.
    pair_ratio: float = Field(0.5, ge=0.0, le=1.0)
    seed: int = 0
    threads: int = Field(0, ge=0, description="CPU threads for torch; 0 = all cores")


class FinetuneConfig(Section):
    lora_r: int = Field(8, ge=1)
    lora_alpha: int = Field(16, ge=1)
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    max_steps: int = Field(300, ge=1)
    lr: float = Field(1e-3, gt=0)
    min_pieces: int = Field(5, ge=1)


class SampleConfig(Section):
    temperature: float = Field(1.0, gt=0)
    top_k: int = Field(0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1.0)
    seed: int = 0


class TransferConfig(Section):
    """`mst transfer`'s sampling and ranking, tuned on Bach's validation chorales (docs/results.md): a
    lower temperature than free generation, because a harmonization wants the model's most typical
    chords, not its surprising ones."""

    temperature: float = Field(0.6, gt=0)
    top_k: int = Field(0, ge=0)
    top_p: float = Field(0.9, gt=0, le=1.0)
    harmony_weight: float = Field(1.0, ge=0)  # ranking: weight of the consonance with the melody (PCS)


class Recipe(Section):
    name: str = "default"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig)
    sample: SampleConfig = Field(default_factory=SampleConfig)
    transfer: TransferConfig = Field(default_factory=TransferConfig)


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
    """Load a YAML recipe (a path or a shipped name like 'maestro') and apply ``--set`` overrides."""
    path = resolve_recipe_path(recipe)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a recipe must be a mapping of sections")
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
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        raise UserError(_format_error(exc, source)) from None


def save_recipe(recipe: Recipe, folder: str | os.PathLike, name: str = "recipe.yaml") -> Path:
    """Write the resolved recipe beside an output, atomically."""
    from .io import atomic_write_text

    return atomic_write_text(Path(folder) / name, yaml.safe_dump(recipe.model_dump(), sort_keys=False))


def resolve_data_path(path: str | os.PathLike) -> Path:
    """A recipe path relative to the working directory, else to the project (for the bundled data)."""
    p = Path(os.path.expanduser(str(path)))
    if p.is_absolute() or p.exists():
        return p
    bundled = PROJECT_ROOT / p
    return bundled if bundled.exists() else p
