"""The original nanoGPT sampling loop (crop to the context, a full forward per token): the benchmark's baseline."""
from __future__ import annotations

import torch

from styletransfer.transfer.sampler import (
    PLAIN,
    Constraint,
    Sampling,
    _as_batch,
    _device,
    _generator,
    _to_lists,
    model_context,
    next_tokens,
)


def sample_no_cache(
    model,
    prompt_ids: list[list[int]] | torch.Tensor,
    max_new_tokens: int,
    *,
    sampling: Sampling = PLAIN,
    seed: int | None = None,
    eos_id: int | None = None,
    constraint: Constraint | None = None,
    context: int | None = None,
) -> list[list[int]]:
    """The original nanoGPT loop: crop to the context, full forward per token. Benchmark baseline only.

    Same arguments and token choice as ``sample`` (a seeded run draws the same random numbers), but prompts
    must all have the same length.
    """
    device = _device(model)
    ids, pad = _as_batch(prompt_ids, device)
    if pad is not None:
        raise ValueError("sample_no_cache needs prompts of equal length")
    if max_new_tokens <= 0:
        return [[] for _ in range(ids.shape[0])]
    ctx = min(context or model_context(model), model_context(model))
    gen = _generator(seed, device)
    done = torch.zeros(ids.shape[0], dtype=torch.bool, device=device) if eos_id is not None else None
    n_prompt = ids.shape[1]
    with torch.inference_mode():
        for step in range(max_new_tokens):
            logits = model(input_ids=ids[:, -ctx:], use_cache=False).logits[:, -1].float()
            tok = next_tokens(logits, step, sampling, constraint, gen)
            if done is not None:
                tok = tok.masked_fill(done, eos_id)
                done |= tok == eos_id
            ids = torch.cat([ids, tok[:, None]], dim=1)
            if constraint is not None:
                constraint.advance(tok)
            if done is not None and bool(done.all()):
                break
    return _to_lists(ids[:, n_prompt:], eos_id)
