"""Build, save and load the causal LM (the import of the original project's nanoGPT checkpoints is
``model/nanogpt.py``, which builds on ``gpt2_config`` and ``save_model`` here).

Models are plain transformers classes (Llama by default, GPT-2 for the nanoGPT import) so that what
users keep is a standard Hugging Face folder: ``config.json`` + ``model.safetensors``.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig, PreTrainedModel

from ..config import ModelConfig
from ..errors import UserError
from ..io import replace_dir

# Files written by save_pretrained. Everything else in a run folder (tokenizer.json, recipe.yaml,
# adapters/...) belongs to other steps and is carried over when a checkpoint is replaced.
_MODEL_FILES = ("config.json", "generation_config.json")
_MODEL_PREFIXES = ("model.safetensors", "model-0", "pytorch_model")


def build_model(cfg: ModelConfig, vocab_size: int, pad_id: int, bos_id: int, eos_id: int) -> PreTrainedModel:
    """A freshly initialised fp32 model of the recipe's size (bf16 autocast is the trainer's business)."""
    ids = dict(vocab_size=vocab_size, pad_token_id=pad_id, bos_token_id=bos_id, eos_token_id=eos_id)
    if cfg.arch == "llama":
        config = LlamaConfig(
            hidden_size=cfg.n_embd,
            # 4x like GPT-2's MLP, rounded up to a multiple of 64 for matmul-friendly shapes.
            intermediate_size=-(-4 * cfg.n_embd // 64) * 64,
            num_hidden_layers=cfg.n_layer,
            num_attention_heads=cfg.n_head,
            num_key_value_heads=cfg.n_head,
            max_position_embeddings=cfg.context,
            rms_norm_eps=1e-5,
            attention_dropout=cfg.dropout,  # Llama has no residual dropout
            tie_word_embeddings=True,
            **ids,
        )
    elif cfg.arch == "gpt2":
        config = gpt2_config(cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.context, cfg.dropout, **ids)
    else:  # pragma: no cover - the recipe's Literal already rejects it
        raise UserError(f"unknown model.arch '{cfg.arch}' (choose llama or gpt2)")
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=torch.float32)
    return model


def gpt2_config(n_layer, n_head, n_embd, context, dropout, **ids) -> GPT2Config:
    return GPT2Config(
        n_layer=n_layer,
        n_head=n_head,
        n_embd=n_embd,
        n_positions=context,
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
        # nanoGPT uses nn.GELU() (exact erf), not GPT-2's tanh approximation 'gelu_new'.
        activation_function="gelu",
        layer_norm_epsilon=1e-5,
        tie_word_embeddings=True,
        **ids,
    )


def _is_model_file(name: str) -> bool:
    return name in _MODEL_FILES or name.startswith(_MODEL_PREFIXES)


def save_model(model: PreTrainedModel, folder: str | os.PathLike) -> Path:
    """``save_pretrained`` (safetensors) into a temporary sibling folder, then swap it into place.

    A crash leaves either the old complete checkpoint or the new one under ``folder``, never a mix.
    Non-model files already in ``folder`` (tokenizer, recipe, adapters) are copied into the new one.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.tmp-"))
    try:
        model.save_pretrained(tmp)
        if folder.is_dir():
            for item in folder.iterdir():
                if _is_model_file(item.name) or (tmp / item.name).exists():
                    continue
                if item.is_dir():
                    shutil.copytree(item, tmp / item.name)
                else:
                    shutil.copy2(item, tmp / item.name)
        return replace_dir(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_model(folder: str | os.PathLike, device: str | torch.device = "cpu") -> PreTrainedModel:
    """Load a saved run folder in eval mode; only safetensors, never remote code. (A Hub repo id is
    downloaded to a folder first, by ``runs.resolve_base``.)"""
    src = str(folder)
    path = Path(os.path.expanduser(src))
    if path.is_file():
        raise UserError(f"{src} is a file, not a run folder")
    if not path.is_dir():
        raise UserError(f"{src}: no such run folder")
    if not (path / "config.json").is_file():
        raise UserError(f"{src} is not an mst run (no config.json)")
    if not any(path.glob("model*.safetensors")):
        raise UserError(f"{src} has no model weights (model.safetensors)")
    try:
        model = AutoModelForCausalLM.from_pretrained(str(path), trust_remote_code=False, use_safetensors=True)
    except Exception as exc:  # noqa: BLE001 - OSError/ValueError/SafetensorError...: all mean "cannot load"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"cannot load model from run folder {src}: {first}") from None
    return model.to(device).eval()
