"""Hugging Face Hub upload of a run folder (`mst push`)."""
from __future__ import annotations

from pathlib import Path

from huggingface_hub import HfApi

from ..errors import UserError
from .runs import resolve_base


def push_run(run: Path, repo: str, private: bool = False) -> str:
    """Upload weights, tokenizer, recipe, log and adapters; resumable checkpoints stay local."""
    run = resolve_base(run)
    api = HfApi()
    try:
        api.create_repo(repo, exist_ok=True, private=private)
        info = api.upload_folder(folder_path=str(run), repo_id=repo,
                                 ignore_patterns=["checkpoints/*", "adapters/.*", "**/.*"])
    except Exception as exc:
        raise UserError(f"upload to {repo} failed: {str(exc).splitlines()[0][:160]}") from None
    return f"uploaded {run} to {getattr(info, 'commit_url', repo)}"
