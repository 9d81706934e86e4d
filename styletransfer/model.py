"""Build, save and load the causal LM; import the original project's nanoGPT checkpoint.

Models are plain transformers classes (Llama by default, GPT-2 for the nanoGPT import) so that what
users keep is a standard Hugging Face folder: ``config.json`` + ``model.safetensors``.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig, PreTrainedModel

from .errors import UserError
from .io import replace_dir

if TYPE_CHECKING:  # only for the annotation: loading a model needs no recipe machinery
    from .recipe import ModelConfig

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
        config = _gpt2_config(cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.context, cfg.dropout, **ids)
    else:  # pragma: no cover - the recipe's Literal already rejects it
        raise UserError(f"unknown model.arch '{cfg.arch}' (choose llama or gpt2)")
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=torch.float32)
    return model


def _gpt2_config(n_layer, n_head, n_embd, context, dropout, **ids) -> GPT2Config:
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


def _looks_like_hub_id(text: str) -> bool:
    # 'name' or 'owner/name'; anything path-like ('./x', '/x', 'a/b/c', '~') is a local folder.
    return not text.startswith((".", "/", "~")) and text.count("/") <= 1 and "\\" not in text


def load_model(folder_or_hub_id: str | os.PathLike, device: str | torch.device = "cpu") -> PreTrainedModel:
    """Load a saved run (or a Hub model id) in eval mode; only safetensors, never remote code."""
    src = str(folder_or_hub_id)
    path = Path(os.path.expanduser(src))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError(f"{src} is not an mst run (no config.json)")
        if not any(path.glob("model*.safetensors")):
            raise UserError(f"{src} has no model weights (model.safetensors)")
    elif path.exists():
        raise UserError(f"{src} is a file, not a run folder")
    elif not _looks_like_hub_id(src):
        raise UserError(f"{src}: no such run folder")
    try:
        model = AutoModelForCausalLM.from_pretrained(
            str(path) if path.is_dir() else src, trust_remote_code=False, use_safetensors=True
        )
    except Exception as exc:  # noqa: BLE001 - OSError/ValueError/SafetensorError...: all mean "cannot load"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        where = "run folder" if path.is_dir() else "folder or Hugging Face Hub model"
        raise UserError(f"cannot load model from {where} {src}: {first}") from None
    return model.to(device).eval()


# --- nanoGPT import ---------------------------------------------------------------------------

# nanoGPT implements these as nn.Linear ([out, in]); GPT-2 uses Conv1D ([in, out]): transpose.
_TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def import_nanogpt(ckpt_path: str | os.PathLike, out_folder: str | os.PathLike, vocab_size: int | None = None) -> Path:
    """Convert the original project's nanoGPT ``ckpt.pt`` into a GPT-2 run folder.

    ``vocab_size`` keeps only the first rows of the embedding (nanoGPT checkpoints may pad the vocab).
    """
    ckpt_path = Path(ckpt_path)
    if not ckpt_path.is_file():
        raise UserError(f"{ckpt_path}: no such checkpoint file")
    try:
        # weights_only: a checkpoint is untrusted input; never unpickle arbitrary objects.
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - corrupt zip, pickle refused, truncated file...
        raise UserError(f"{ckpt_path}: not a readable nanoGPT checkpoint ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or "model_args" not in ckpt or "model" not in ckpt:
        raise UserError(f"{ckpt_path}: not a nanoGPT checkpoint (expected 'model_args' and 'model')")
    args = ckpt["model_args"]
    state = {k.removeprefix("_orig_mod."): v for k, v in ckpt["model"].items()}
    try:
        n_layer, n_head, n_embd = int(args["n_layer"]), int(args["n_head"]), int(args["n_embd"])
        block_size, ckpt_vocab = int(args["block_size"]), int(args["vocab_size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{ckpt_path}: model_args lacks {exc}") from None
    vocab = ckpt_vocab if vocab_size is None else vocab_size
    if vocab > ckpt_vocab:
        raise UserError(f"vocab_size {vocab} is larger than the checkpoint's ({ckpt_vocab})")

    # nanoGPT knows no special tokens: leave them unset rather than GPT-2's 50256 (outside our vocab).
    config = _gpt2_config(n_layer, n_head, n_embd, block_size, float(args.get("dropout", 0.0)), vocab_size=vocab,
                          bos_token_id=None, eos_token_id=None, pad_token_id=None)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=torch.float32)
    target = model.state_dict()
    new = {}
    for key, tensor in target.items():
        src_key = key
        if key == "lm_head.weight":
            src_key = "transformer.wte.weight"  # tied in both models
        if src_key in state:
            value = state[src_key].to(torch.float32)
            if key.endswith(_TRANSPOSED):
                value = value.t()
            if key in ("transformer.wte.weight", "lm_head.weight"):
                value = value[:vocab]
        elif key.endswith(".bias"):
            # bias=False in nanoGPT: no Linear/LayerNorm biases, which is GPT-2 with zero biases.
            value = torch.zeros_like(tensor)
        else:
            raise UserError(f"{ckpt_path}: checkpoint lacks {src_key}")
        if value.shape != tensor.shape:
            raise UserError(f"{ckpt_path}: {src_key} has shape {tuple(value.shape)}, expected {tuple(tensor.shape)}")
        new[key] = value.contiguous()
    model.load_state_dict(new, strict=True)
    return save_model(model.eval(), out_folder)
