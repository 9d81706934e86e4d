"""Hugging Face Hub upload, and import of the original project's nanoGPT checkpoints."""
from __future__ import annotations

import shutil
from pathlib import Path

from .errors import UserError


def push_run(run: Path, repo: str, private: bool = False) -> str:
    """Upload weights, tokenizer, recipe, log and adapters; resumable checkpoints stay local."""
    from huggingface_hub import HfApi

    from .runs import resolve_base

    run = resolve_base(run)
    api = HfApi()
    try:
        api.create_repo(repo, exist_ok=True, private=private)
        info = api.upload_folder(folder_path=str(run), repo_id=repo,
                                 ignore_patterns=["checkpoints/*", "adapters/.*", "**/.*"])
    except Exception as exc:
        raise UserError(f"upload to {repo} failed: {str(exc).splitlines()[0][:160]}") from None
    return f"uploaded {run} to {getattr(info, 'commit_url', repo)}"


def import_nanogpt_run(ckpt: Path, tokenizer_json: Path, out: Path, force: bool = False) -> Path:
    """A run folder (GPT-2 weights, tokenizer.json, recipe.yaml) from a nanoGPT ckpt.pt."""
    from .model import import_nanogpt
    from .recipe import ModelConfig, Recipe, save_recipe
    from .tokenizer import load_tokenizer

    if (out / "config.json").exists() and not force:
        raise UserError(f"{out} already holds a model (use --force to replace it)")
    tokenizer = load_tokenizer(tokenizer_json)
    from transformers import AutoConfig

    import_nanogpt(ckpt, out, vocab_size=len(tokenizer))
    shutil.copyfile(tokenizer_json if tokenizer_json.is_file() else tokenizer_json / "tokenizer.json", out / "tokenizer.json")
    c = AutoConfig.from_pretrained(out)
    recipe = Recipe(name="imported-nanogpt", model=ModelConfig(arch="gpt2", n_layer=c.n_layer, n_head=c.n_head,
                                                               n_embd=c.n_embd, context=c.n_positions))
    save_recipe(recipe, out)
    return out
