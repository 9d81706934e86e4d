"""Fast autoregressive sampling with a KV cache, for any transformers causal LM (Llama, GPT-2, + peft).

Why not ``model.generate``: for the small models this project trains, per-token Python overhead
dominates, and generate's logits processors, stopping criteria and DynamicCache (which re-concatenates
the whole cache every token) cost more than the model itself. Here each step is one direct call of the
model's own forward over one token into a preallocated ring-buffer cache, then a few tensor ops to pick
the token (what that saves, and what a hand-written fused step did not: docs/performance.md).

Past the model's context:
- RoPE models (Llama): the cache keeps the last ``context`` tokens (a rolling window). Positions keep
  increasing; RoPE bakes absolute positions into the cached keys and attention only sees their
  differences, which stay below ``context`` as in training.
- Absolute-position models (GPT-2): when the window is full, the cache is rebuilt ("re-primed") from the
  last ``context // 2`` tokens at positions 0.., so one full forward every ``context // 2`` tokens.

Rows with the same prompt (N candidates of one prompt, the search's resampled copies of a row) are
prefilled once, their cache copied to each: a prefill costs by distinct prompt, and every row's
logits and cache are what its own prefill gives.

Prompts of unequal lengths are left-padded; an attention mask hides the padding and positions start at
each row's first real token, so a padded row samples as it would alone (up to float rounding). Exception:
past the context a GPT-2 batch re-primes when its padded width fills the window, earlier than a short row
alone would, so those rows may then differ from solo runs (Llama's ring evicts the padding first: no
difference). The main case, N candidates from one prompt, has no padding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from transformers.cache_utils import Cache, CacheLayerMixin


@dataclass(frozen=True)
class Sampling:
    """How the next id is drawn from the model's logits: temperature, then top-k (0: off; 1: greedy), then
    top-p (1: off). The transfer takes them from the recipe (``transfer``), `mst generate` from ``sample``."""

    temperature: float
    top_k: int
    top_p: float

    @property
    def greedy(self) -> bool:
        return self.top_k == 1


PLAIN = Sampling(1.0, 0, 1.0)  # the model's own distribution, unfiltered
GREEDY = Sampling(1.0, 1, 1.0)


@dataclass
class Filtered:
    """The logits after the sampling filter, [B, V] (-inf where an id may not be drawn): ``tempered``, the
    mask and the temperature only; ``kept``, top-k and top-p too. Greedy: both the masked logits (no
    temperature, no noise: ids are taken best first)."""

    tempered: torch.Tensor
    kept: torch.Tensor
    greedy: bool


class Constraint(Protocol):
    """Constrained decoding: at each step the sampler asks the constraint for a ``mask`` ([B, V] or [V]
    bool, True = may be drawn; None: no restriction), applies it with the sampling filter
    (``filter_logits``), lets the constraint ``choose`` the ids [B] from the filtered logits, and tells
    it the ids with ``advance``. ``step`` is the 0-based count of new ids. Rows that already stopped at
    ``eos_id`` receive ``eos_id`` again and should be ignored."""

    def mask(self, step: int, logits: torch.Tensor) -> torch.Tensor | None: ...

    def choose(self, logits: torch.Tensor, filtered: Filtered, step: int, generator) -> torch.Tensor: ...

    def advance(self, tokens: torch.Tensor) -> None: ...


class MaskConstraint:
    """A constraint that only forbids ids: a subclass gives ``allowed(step)`` (a bool mask, or None) and
    ``advance(tokens)``; the ids are drawn from the filtered logits as without a constraint."""

    def allowed(self, step: int) -> torch.Tensor | None:
        raise NotImplementedError

    def mask(self, step: int, logits: torch.Tensor) -> torch.Tensor | None:
        allowed = self.allowed(step)
        if allowed is None:
            return None
        allowed = allowed.to(device=logits.device, dtype=torch.bool)
        if not bool(allowed.any(-1).all()):
            raise ValueError(f"constraint allows no token at step {step}")
        return allowed

    def choose(self, logits: torch.Tensor, filtered: Filtered, step: int, generator) -> torch.Tensor:
        return draw(filtered, generator)

    def advance(self, tokens: torch.Tensor) -> None:
        pass


TOP_P_CANDIDATES = 64  # top-p looks among this many best tokens first (filter_logits)


class _RingLayer(CacheLayerMixin):
    """One layer's keys/values in a fixed [B, H, size, D] buffer; the owning cache decides the slot."""

    is_sliding = False

    def __init__(self, owner: "_RingCache"):
        super().__init__()
        self.owner = owner

    def lazy_initialization(self, key_states, value_states):
        b, h, _, d = key_states.shape
        size = self.owner.size
        self.keys = key_states.new_zeros(b, h, size, d)
        self.values = value_states.new_zeros(b, h, size, value_states.shape[-1])
        self.is_initialized = True

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        n, start = key_states.shape[2], self.owner.start
        # In-place writes: no per-token reallocation or copy of the whole cache (what DynamicCache's cat does).
        self.keys[:, :, start : start + n] = key_states
        self.values[:, :, start : start + n] = value_states
        end = min(self.owner.filled + n, self.owner.size)
        # Slot order is not time order once the ring wraps; for one query without a causal mask that does
        # not matter (softmax over keys is order-free, and RoPE positions are already in the keys).
        return self.keys[:, :, :end], self.values[:, :, :end]

    def get_mask_sizes(self, query_length):
        return min(self.owner.filled + query_length, self.owner.size), 0

    def get_seq_length(self):
        return self.owner.filled

    def get_max_length(self):
        return self.owner.size


class _RingCache(Cache):
    """KV cache of at most ``size`` tokens. Multi-token writes (prefill) only go into an empty cache."""

    def __init__(self, n_layers: int, size: int):
        self.size, self.start, self.filled = size, 0, 0
        super().__init__(layers=[_RingLayer(self) for _ in range(n_layers)])

    def advance(self, n: int) -> None:
        """Called after each forward: the next write goes after the ``n`` tokens just written."""
        self.start = (self.start + n) % self.size
        self.filled = min(self.filled + n, self.size)

    def clear(self) -> None:
        self.start = self.filled = 0


def filter_logits(logits: torch.Tensor, sampling: Sampling, mask: torch.Tensor | None = None) -> Filtered:
    """The one sampling filter: the constraint's mask, then temperature, top-k and top-p."""
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    if sampling.greedy:
        return Filtered(logits, logits, True)
    if sampling.temperature != 1.0:
        logits = logits / sampling.temperature
    tempered = logits
    top_k, top_p = sampling.top_k, sampling.top_p
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        probs = logits.softmax(-1)
        # The kept set lies among the TOP_P_CANDIDATES best whenever they reach top_p together (nearly
        # always at the transfer's temperature): a top-k of them instead of a sort of the whole vocabulary.
        top_probs, order = probs.topk(min(TOP_P_CANDIDATES, probs.shape[-1]), dim=-1)
        if not bool((top_probs.sum(-1) >= top_p).all()):
            top_probs, order = probs.sort(dim=-1, descending=True)
        # Keep the smallest set reaching top_p: drop a token once the tokens before it reach top_p
        # (so the top token always stays).
        drop = top_probs.cumsum(-1) - top_probs >= top_p
        kept = logits.gather(-1, order).masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter_(-1, order, kept)
    return Filtered(tempered, logits, False)


def draw(filtered: Filtered, generator) -> torch.Tensor:
    """[B] ids drawn from the filtered logits (the best, when greedy)."""
    if filtered.greedy:
        return filtered.kept.argmax(-1)
    return torch.multinomial(filtered.kept.softmax(-1), 1, generator=generator).squeeze(-1)


def next_tokens(logits: torch.Tensor, step: int, sampling: Sampling, constraint: Constraint | None,
                generator) -> torch.Tensor:
    """The next ids [B] from the model's logits [B, V]: filtered once, chosen by the constraint if any."""
    if constraint is None:
        return draw(filter_logits(logits, sampling), generator)
    filtered = filter_logits(logits, sampling, constraint.mask(step, logits))
    return constraint.choose(logits, filtered, step, generator)


def model_context(model) -> int:
    """The longest sequence the model was built for (max_position_embeddings / n_positions)."""
    cfg = model.config
    for name in ("max_position_embeddings", "n_positions", "n_ctx"):
        value = getattr(cfg, name, None)
        if value:
            return int(value)
    raise ValueError("cannot tell the model's context length; pass context=")


def _uses_absolute_positions(model) -> bool:
    # GPT-2 family: learned position table, so positions must stay below n_positions.
    return getattr(model.config, "n_positions", None) is not None


def _device(model) -> torch.device:
    return next(model.parameters()).device


def _as_batch(prompt_ids, device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Left-padded [B, T] ids and a [B, T] bool mask (None when all rows have the same length)."""
    if isinstance(prompt_ids, torch.Tensor):
        ids = prompt_ids.to(device=device, dtype=torch.long)
        if ids.ndim == 1:
            ids = ids[None]
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError("prompt_ids must be [batch, length] with length >= 1")
        return ids, None
    rows = [list(r) for r in prompt_ids]
    if not rows or any(len(r) == 0 for r in rows):
        raise ValueError("every prompt needs at least one token (e.g. BOS)")
    width = max(len(r) for r in rows)
    if all(len(r) == width for r in rows):
        return torch.tensor(rows, dtype=torch.long, device=device), None
    ids = torch.zeros(len(rows), width, dtype=torch.long, device=device)
    mask = torch.zeros(len(rows), width, dtype=torch.bool, device=device)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
        mask[i, width - len(r) :] = True
    return ids, mask


def _generator(seed, device):
    if seed is None:
        return None
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


def _to_lists(out: torch.Tensor, eos_id) -> list[list[int]]:
    rows = out.tolist()
    if eos_id is not None:
        rows = [r[: r.index(eos_id) + 1] if eos_id in r else r for r in rows]
    return rows


def sample(
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
    """Sample ``max_new_tokens`` after each prompt row, with a KV cache.

    Returns the new tokens per row; a row that produced ``eos_id`` ends with it (the rest is cut).
    ``sampling``: temperature, top-k (1: greedy), top-p; unfiltered by default. ``seed`` makes a run
    reproducible (its own torch.Generator, global RNG untouched).
    ``context`` defaults to the model's own (max_position_embeddings / n_positions) and may only shrink it.
    """
    with torch.inference_mode():
        return _sample(model, prompt_ids, max_new_tokens, sampling, seed, eos_id, constraint, context)


def _sample(model, prompt_ids, max_new_tokens, sampling, seed, eos_id, constraint, context):
    device = _device(model)
    ids, pad = _as_batch(prompt_ids, device)
    batch, n_prompt = ids.shape
    if max_new_tokens <= 0:
        return [[] for _ in range(batch)]
    ctx = min(context or model_context(model), model_context(model))
    absolute = _uses_absolute_positions(model)
    gen = _generator(seed, device)
    out = torch.empty(batch, max_new_tokens, dtype=torch.long, device=device)
    done = torch.zeros(batch, dtype=torch.bool, device=device) if eos_id is not None else None
    cache = _RingCache(model.config.num_hidden_layers, ctx)
    # With padding: which cache slots hold real tokens (slot order, like the cached keys).
    slot_mask = torch.ones(batch, ctx, dtype=torch.bool, device=device) if pad is not None else None
    if absolute:
        # GPT-2 re-primes from the recent tokens, so keep the whole sequence (preallocated, no per-step cat).
        seq = torch.cat([ids, out], dim=1)
        seq_mask = None if pad is None else torch.cat([pad, torch.ones_like(out, dtype=torch.bool)], dim=1)

    def prefill(tokens: torch.Tensor, mask: torch.Tensor | None):
        """Fill the emptied cache with ``tokens`` [B, T<=ctx]; return last logits [B, V] and next positions [B, 1]."""
        cache.clear()
        n = tokens.shape[1]
        if mask is not None:
            slot_mask[:, :n] = mask
        # Rows with the same prompt (N candidates of one prompt; the search's resampled copies) are computed
        # once and their cache copied: the forward over the prompts costs by distinct prompt.
        distinct, inverse = torch.unique(tokens if mask is None else tokens.masked_fill(~mask, -1), dim=0,
                                         return_inverse=True)
        if len(distinct) < batch:
            tokens, mask = distinct.clamp_min(0), None if mask is None else distinct >= 0
        rows = tokens.shape[0]
        if mask is None:
            positions, attn = torch.arange(n, device=device).expand(rows, n), None
        else:
            positions = (mask.long().cumsum(-1) - 1).clamp_min(0)
            causal = torch.ones(n, n, dtype=torch.bool, device=device).tril()
            # Padding queries attend to themselves, so no mask row is empty: an empty row gives NaN, which
            # becomes a NaN key/value in the next layer and poisons real rows (0 * NaN = NaN).
            attn = ((causal & mask[:, None, :]) | torch.eye(n, dtype=torch.bool, device=device))[:, None]
        target = cache if rows == batch else _RingCache(len(cache.layers), cache.size)
        logits = model(input_ids=tokens, position_ids=positions, attention_mask=attn, cache=target,
                       use_cache=True, logits_to_keep=1).logits[:, -1].float()
        if rows < batch:
            for mine, theirs in zip(cache.layers, target.layers):  # the n written slots (no others are read)
                mine.keys = theirs.keys.new_empty(batch, *theirs.keys.shape[1:])
                mine.values = theirs.values.new_empty(batch, *theirs.values.shape[1:])
                mine.keys[:, :, :n], mine.values[:, :, :n] = theirs.keys[inverse, :, :n], theirs.values[inverse, :, :n]
                mine.is_initialized = True
            logits, positions = logits[inverse], positions[inverse]
        cache.advance(n)
        return logits, positions[:, -1:] + 1

    logits, pos = prefill(ids[:, -ctx:], None if pad is None else pad[:, -ctx:])
    for step in range(max_new_tokens):
        tok = next_tokens(logits, step, sampling, constraint, gen)
        if done is not None:
            tok = tok.masked_fill(done, eos_id)  # finished rows keep emitting eos, cut off below
            done |= tok == eos_id
        out[:, step] = tok
        if constraint is not None:
            constraint.advance(tok)
        if step + 1 == max_new_tokens or (done is not None and bool(done.all())):
            break
        if absolute:
            seq[:, n_prompt + step] = tok
            if cache.filled == ctx:  # no room for another absolute position: re-prime from the last ctx // 2
                end = n_prompt + step + 1
                logits, pos = prefill(seq[:, end - ctx // 2 : end],
                                      None if seq_mask is None else seq_mask[:, end - ctx // 2 : end])
                continue
        attn = None
        if slot_mask is not None:
            slot_mask[:, cache.start] = True
            attn = slot_mask[:, None, None, : min(cache.filled + 1, ctx)]
        logits = model(input_ids=tok[:, None], position_ids=pos, attention_mask=attn, cache=cache,
                       use_cache=True).logits[:, -1].float()
        cache.advance(1)
        pos = pos + 1
    return _to_lists(out[:, : step + 1], eos_id)
