"""Run folders: where a base model lives (a local folder, a Hub repo, or the shipped default), and the name
of every file in one.

    config.json, model.safetensors   the model (transformers' save_pretrained)
    tokenizer.json                   miditok's tokenizer
    recipe.yaml                      the resolved recipe it was trained with
    metrics.jsonl                    one JSON object per log/eval step
    checkpoints/checkpoint-N/        resumable Trainer state (complete iff trainer_state.json parses)
    adapters/<composer-slug>/        LoRA adapters: adapter_config.json, adapter_model.safetensors,
                                     finetune.json (composer, losses), recipe.yaml, metrics.jsonl
"""
from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
from pathlib import Path

from huggingface_hub import snapshot_download

from ..config import RECIPE_FILE, load_recipe
from ..errors import UserError
from ..tokens.parts import Texture
from ..tokens.tokenizer import TOKENIZER_FILE

SHIPPED = Path(__file__).resolve().parent.parent / "pretrained" / "default"
DEFAULT_RUN = Path("runs/base")
MODEL_CONFIG = "config.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
ADAPTERS = "adapters"
ADAPTER_CONFIG = "adapter_config.json"
FINETUNE_FILE = "finetune.json"
TEXTURE_FILE = "texture.json"  # the parts its training pieces have (data/texture.py), beside a base or an adapter
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # owner/name


def is_hub_id(text: str) -> bool:
    """'owner/name' as the Hub spells repo ids (a path that does not exist locally may be one)."""
    return bool(HUB_ID.match(text))


def default_base() -> Path:
    """runs/base when the user has trained one, else the model shipped in the package."""
    return DEFAULT_RUN if (DEFAULT_RUN / MODEL_CONFIG).exists() else SHIPPED


def resolve_base(base: str | os.PathLike | None) -> Path:
    """A local run folder, or a Hub repo id downloaded with huggingface_hub."""
    if base is None:
        path = default_base()
    else:
        path = Path(os.path.expanduser(str(base)))
        if not path.exists() and is_hub_id(str(base)):
            try:
                path = Path(snapshot_download(str(base), allow_patterns=["*.json", "*.safetensors", "*.yaml", "*.jsonl"]))
            except Exception as exc:
                raise UserError(f"could not download '{base}' from the Hub ({type(exc).__name__})") from None
    if not path.is_dir():
        raise UserError(f"base model not found: {path}")
    missing = [name for name in (MODEL_CONFIG, TOKENIZER_FILE) if not (path / name).exists()]
    if missing:
        raise UserError(f"{path} is not an mst run (missing {', '.join(missing)})")
    return path


def saved_run_recipe(path: Path, overrides: list[str] | None = None):
    """A run's saved recipe.yaml, read over the default recipe; one saved before ``data.key_normalize``
    existed was trained in every key, whatever the default now says."""
    before_key_normalize = [] if "key_normalize:" in path.read_text(encoding="utf-8") else ["data.key_normalize=false"]
    return load_recipe(path, before_key_normalize + list(overrides or []))


def base_recipe(base: Path, overrides: list[str] | None = None):
    """The recipe a run was trained with (its recipe.yaml; the default recipe for a run without one),
    with ``--set`` overrides: its sampling and transfer settings go with the model."""
    path = base / RECIPE_FILE
    return saved_run_recipe(path, overrides) if path.exists() else load_recipe(None, overrides)


def style_recipe(base: Path, adapter_folders: list[Path], overrides: list[str] | None = None):
    """The recipe a transfer in one style runs with: that adapter's own recipe.yaml (so a style can set
    its own transfer rules), else the base's (``base_recipe``); for a blend or the base model alone, the
    base's."""
    if len(adapter_folders) == 1 and (adapter_folders[0] / RECIPE_FILE).exists():
        return saved_run_recipe(adapter_folders[0] / RECIPE_FILE, overrides)
    return base_recipe(base, overrides)


def adapters(base: Path) -> dict[str, Path]:
    """Adapters saved under a run: slug -> folder."""
    folder = base / ADAPTERS
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.iterdir()) if (p / ADAPTER_CONFIG).exists()}


def adapter_composer(adapter: Path) -> str | None:
    """The composer an adapter was trained on (its finetune.json), None when it does not say."""
    meta = adapter / FINETUNE_FILE
    return json.loads(meta.read_text(encoding="utf-8"))["composer"] if meta.exists() else None


def slug(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def check_vocabulary(model, tokenizer, where: Path) -> None:
    """The model's vocabulary matches its tokenizer's. ``model``: a loaded model, or a run folder, whose
    config.json is checked before any weights are loaded (a mismatch there would otherwise surface as
    transformers' multi-line load report)."""
    if isinstance(model, (str, os.PathLike)):
        try:
            vocab = json.loads((Path(model) / MODEL_CONFIG).read_text(encoding="utf-8")).get("vocab_size")
        except (OSError, ValueError, AttributeError):
            return  # unreadable: load_model says so
    else:
        vocab = model.config.vocab_size
    if vocab is not None and vocab != len(tokenizer):
        raise UserError(f"{where}: the model's vocabulary ({vocab}) does not match its tokenizer ({len(tokenizer)})")


def _is_complete(path: Path) -> bool:
    """The Trainer writes trainer_state.json last, and not atomically: complete iff it parses."""
    if not path.is_dir() or not re.fullmatch(r"checkpoint-\d+", path.name):
        return False
    try:
        json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def complete_checkpoints(folder: Path) -> list[Path]:
    """Checkpoints written to the end, oldest first."""
    found = [path for path in folder.glob("checkpoint-*") if _is_complete(path)]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def drop_incomplete_checkpoints(folder: Path) -> None:
    for path in folder.glob("checkpoint-*"):
        if path.is_dir() and not _is_complete(path):
            shutil.rmtree(path, ignore_errors=True)


def save_texture(folder: Path, texture: Texture) -> None:
    (folder / TEXTURE_FILE).write_text(json.dumps(texture.as_dict(), indent=1), encoding="utf-8")


def style_texture(base: Path, adapter_weights: list[tuple[Path, float | None]]) -> Texture:
    """The texture a transfer writes in: its style's (the heaviest adapter of a blend), else the base's; a
    run that saved none (trained before parts) writes the piano texture."""
    folders = [folder for folder, _ in sorted(adapter_weights, key=lambda a: -(a[1] if a[1] is not None else 1.0))]
    for folder in folders[:1] + [base]:
        path = folder / TEXTURE_FILE
        if path.is_file() and path.stat().st_size < 65536:
            try:
                return Texture.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (ValueError, UnicodeDecodeError):
                return Texture.piano(f"{path} is not readable")
    return Texture.piano("the model was trained without parts")
