"""Import of the original project's nanoGPT checkpoints (`mst import-nanogpt`), loaded with weights_only=True."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from ..config import ModelConfig, Recipe, save_recipe
from ..errors import UserError
from ..tokens.tokenizer import TOKENIZER_FILE, load_tokenizer
from .build import gpt2_config, save_model
from .runs import MODEL_CONFIG

if TYPE_CHECKING:  # only for the annotation: loading a model needs no recipe machinery
    pass


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
    config = gpt2_config(n_layer, n_head, n_embd, block_size, float(args.get("dropout", 0.0)), vocab_size=vocab,
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


def import_nanogpt_run(ckpt: Path, tokenizer_json: Path, out: Path, force: bool = False) -> Path:
    """A run folder (GPT-2 weights, tokenizer.json, recipe.yaml) from a nanoGPT ckpt.pt."""
    if (out / MODEL_CONFIG).exists() and not force:
        raise UserError(f"{out} already holds a model (use --force to replace it)")
    tokenizer = load_tokenizer(tokenizer_json)
    import_nanogpt(ckpt, out, vocab_size=len(tokenizer))
    shutil.copyfile(tokenizer_json if tokenizer_json.is_file() else tokenizer_json / TOKENIZER_FILE, out / TOKENIZER_FILE)
    c = AutoConfig.from_pretrained(out)
    recipe = Recipe(name="imported-nanogpt", model=ModelConfig(arch="gpt2", n_layer=c.n_layer, n_head=c.n_head,
                                                               n_embd=c.n_embd, context=c.n_positions))
    save_recipe(recipe, out)
    return out
