"""The KV-cache sampler against the model's own full forward: the no-cache loop inside the context, a
windowed full forward past it (tiny random models, no timing assertions)."""
from __future__ import annotations

import pytest
import torch

from styletransfer.model.build import build_model
from styletransfer.config import ModelConfig
from styletransfer.transfer.choice import gumbel_perturbed
from styletransfer.transfer.sampler import GREEDY, PLAIN, Constraint, MaskConstraint, Sampling, draw, filter_logits, sample
from bench.no_cache import sample_no_cache

VOCAB, CTX = 64, 32


def tiny_model(arch: str, context: int = CTX, seed: int = 0):
    torch.manual_seed(seed)
    model = build_model(ModelConfig(arch=arch, n_layer=2, n_head=2, n_embd=32, context=context), VOCAB, 0, 1, 2)
    # Default init (std 0.02) makes a random model repeat one token; larger weights make greedy paths
    # that change with the context, so a cache bug shows up as a different token.
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 2:
                p.normal_(0, 0.3)
    return model.eval()


PROMPTS = [[1, 5, 6, 7, 8], [1, 9, 9, 3, 4], [1, 40, 41, 12, 60]]


@pytest.fixture(params=["llama", "gpt2"])
def arch(request):
    return request.param


def test_greedy_cached_equals_no_cache_inside_context(arch):
    model = tiny_model(arch)
    n = CTX - len(PROMPTS[0])  # the last token is sampled from a full context
    cached = sample(model, PROMPTS, n, sampling=GREEDY)
    plain = sample_no_cache(model, PROMPTS, n, sampling=GREEDY)
    assert cached == plain
    assert all(len(r) == n for r in cached)
    assert len({t for r in cached for t in r}) > 5  # not a degenerate repeat-one-token run


def test_seeded_sampling_matches_no_cache_and_repeats(arch):
    model = tiny_model(arch)
    opts = dict(sampling=Sampling(0.9, 40, 0.95), seed=123)
    first = sample(model, PROMPTS, 20, **opts)
    assert first == sample(model, PROMPTS, 20, **opts)
    assert first == sample_no_cache(model, PROMPTS, 20, **opts)  # same draws from the same generator
    assert first != sample(model, PROMPTS, 20, **{**opts, "seed": 124})
    state = torch.get_rng_state()
    sample(model, PROMPTS, 5, seed=1)
    assert torch.equal(state, torch.get_rng_state())  # a seeded run leaves the global RNG alone


class Recorder:
    """A constraint (sampler.Constraint) that keeps the logits the sampler hands it and picks greedily."""

    def __init__(self):
        self.logits = []

    def mask(self, step, logits):
        return None

    def choose(self, logits, filtered, step, generator):
        self.logits.append(logits.clone())
        return logits.argmax(-1)

    def advance(self, tokens):
        pass


def full_forward_logits(model, rows, n_prompt, ctx, arch):
    """[B, new, V]: the logits before each new token, from full forwards without a cache.

    Llama (rolling window): one forward over the whole sequence at positions 0.., each token attending to
    the last ``ctx`` tokens (itself included), which is what the ring cache keeps. GPT-2 (re-priming): a
    forward over the current window at positions 0.., restarted from the last ``ctx // 2`` tokens whenever
    it would exceed ``ctx``.
    """
    ids = torch.tensor(rows)
    batch, total = ids.shape
    assert n_prompt <= ctx
    with torch.no_grad():
        if arch == "llama":
            i = torch.arange(total)
            band = (i[None, :] <= i[:, None]) & (i[None, :] > i[:, None] - ctx)
            logits = model(input_ids=ids, attention_mask=band.expand(batch, 1, total, total), use_cache=False).logits
            return logits[:, n_prompt - 1 : total - 1]
        out, start = [], 0
        for t in range(n_prompt, total):  # the logits that chose ids[:, t]
            if t - start > ctx:
                start = t - ctx // 2
            out.append(model(input_ids=ids[:, start:t], use_cache=False).logits[:, -1])
        return torch.stack(out, 1)


def test_sampler_logits_are_the_models_full_forward_past_context(arch):
    """Token for token, well past the context: the cached step's logits are the model's full forward's."""
    ctx, n = 16, 60
    model = tiny_model(arch, context=ctx)
    recorder = Recorder()
    rows = sample(model, PROMPTS, n, constraint=recorder)
    got = torch.stack(recorder.logits, 1)
    want = full_forward_logits(model, [p + r for p, r in zip(PROMPTS, rows)], len(PROMPTS[0]), ctx, arch)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    assert rows == want.argmax(-1).tolist()
    assert len({t for r in rows for t in r}) > 5  # not a degenerate repeat-one-token run


def test_top_k_one_is_argmax():
    model = tiny_model("llama")
    with torch.no_grad():
        expected = model(input_ids=torch.tensor(PROMPTS)).logits[:, -1].argmax(-1).tolist()
    # top_k=1 is greedy whatever the temperature or seed.
    got = sample(model, PROMPTS, 1, sampling=Sampling(5.0, 1, 1.0), seed=3)
    assert [r[0] for r in got] == expected


def test_top_k_and_top_p_filter():
    gen = torch.Generator().manual_seed(0)
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits = probs.log().expand(2000, 4)

    def pick(temperature, top_k, top_p):
        return draw(filter_logits(logits, Sampling(temperature, top_k, top_p)), gen)

    assert set(pick(1.0, 2, 1.0).tolist()) == {0, 1}
    assert set(pick(1.0, 0, 0.7).tolist()) == {0, 1}  # 0.5 < 0.7 <= 0.5 + 0.3
    assert set(pick(1.0, 0, 0.85).tolist()) == {0, 1, 2}
    assert set(pick(1.0, 0, 0.5).tolist()) == {0}
    assert set(pick(1.0, 0, 1.0).tolist()) == {0, 1, 2, 3}
    # A low temperature sharpens: almost every draw is the top token.
    assert (pick(0.05, 0, 1.0) == 0).float().mean() > 0.99


def sorted_top_p(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Top-p as a full sort of the vocabulary reads it: what filter_logits' shortcut must equal."""
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = sorted_logits.softmax(-1)
    drop = probs.cumsum(-1) - probs >= top_p
    return torch.empty_like(logits).scatter_(-1, order, sorted_logits.masked_fill(drop, float("-inf")))


@pytest.mark.parametrize("scale", [8.0, 0.01])  # peaked: the best 64 reach top_p; flat: a full sort is needed
def test_top_p_keeps_what_a_full_sort_keeps(scale):
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(16, 2000, generator=gen) * scale
    logits[:, ::3] = float("-inf")  # a constraint's mask
    for top_p in (0.5, 0.9, 0.99):
        got = filter_logits(logits, Sampling(1.0, 0, top_p)).kept
        kept = torch.isfinite(got)
        assert torch.equal(kept, torch.isfinite(sorted_top_p(logits, top_p)))
        assert torch.equal(got[kept], logits[kept])
        if scale < 1:
            assert bool((kept.sum(-1) > 64).all())  # the fallback ran: more than the shortcut's 64 kept


def test_gumbel_noise_samples_the_softmax():
    """argmax of the perturbed scores is a draw from softmax(scores); -inf ids are never drawn."""
    probs = torch.tensor([0.6, 0.3, 0.1, 0.0])
    scores = probs.log().expand(20000, 4)
    perturbed = gumbel_perturbed(scores, torch.Generator().manual_seed(0))
    assert bool(torch.isinf(perturbed[:, 3]).all())
    freq = torch.bincount(perturbed.argmax(-1), minlength=4).float() / len(scores)
    assert torch.allclose(freq, probs, atol=0.015)


class EvenOnly(MaskConstraint):
    """Allows only even token ids; records what it was told."""

    def __init__(self):
        self.steps, self.seen = [], []

    def allowed(self, step):
        self.steps.append(step)
        mask = torch.zeros(VOCAB, dtype=torch.bool)
        mask[::2] = True
        return mask.expand(len(PROMPTS), VOCAB)

    def advance(self, tokens):
        self.seen.append(tokens.clone())


def test_constraint_masks_logits(arch):
    model = tiny_model(arch)
    constraint: Constraint = EvenOnly()
    assert all(callable(getattr(constraint, hook, None)) for hook in ("mask", "choose", "advance"))  # the protocol
    rows = sample(model, PROMPTS, 40, seed=0, constraint=constraint)
    assert all(t % 2 == 0 for r in rows for t in r)
    assert constraint.steps == list(range(40))
    assert torch.stack(constraint.seen, 1).tolist() == rows
    # Without the constraint, odd tokens do appear (so the check above means something).
    assert any(t % 2 for r in sample(model, PROMPTS, 40, seed=0) for t in r)


def test_constraint_that_allows_nothing_is_an_error():
    class Nothing(MaskConstraint):
        def allowed(self, step):
            return torch.zeros(VOCAB, dtype=torch.bool)

        def advance(self, tokens):
            pass

    with pytest.raises(ValueError, match="allows no token"):
        sample(tiny_model("llama"), PROMPTS, 3, constraint=Nothing())


def test_eos_stops_each_row(arch):
    eos = 2

    class EosAt(MaskConstraint):
        """Row i must emit eos at step stops[i] and never before."""

        def __init__(self, stops):
            self.stops, self.calls = stops, 0

        def allowed(self, step):
            self.calls += 1
            mask = torch.ones(len(self.stops), VOCAB, dtype=torch.bool)
            for row, stop in enumerate(self.stops):
                mask[row, eos] = False
                if step == stop:
                    mask[row] = False
                    mask[row, eos] = True
            return mask

        def advance(self, tokens):
            pass

    model = tiny_model(arch)
    rows = sample(model, PROMPTS, 30, seed=0, eos_id=eos, constraint=EosAt([3, 100, 0]))
    assert len(rows[0]) == 4 and rows[0][-1] == eos
    assert len(rows[1]) == 30 and eos not in rows[1]
    assert rows[2] == [eos]
    # When every row has stopped, sampling stops too.
    constraint = EosAt([3, 5, 0])
    rows = sample(model, PROMPTS, 30, seed=0, eos_id=eos, constraint=constraint)
    assert [len(r) for r in rows] == [4, 6, 1] and constraint.calls == 6
    assert rows == sample_no_cache(model, PROMPTS, 30, seed=0, eos_id=eos, constraint=EosAt([3, 5, 0]))


def test_no_crash_past_context(arch):
    model = tiny_model(arch, context=16)
    long_prompt = [list(range(3, 23))] * 2  # longer than the context already
    for prompt in (PROMPTS, long_prompt):
        rows = sample(model, prompt, 50, seed=0)
        assert [len(r) for r in rows] == [50] * len(prompt)
        assert all(0 <= t < VOCAB for r in rows for t in r)
    rows = sample(model, PROMPTS, 50, seed=0, context=8)  # a smaller window than the model's
    assert [len(r) for r in rows] == [50] * 3
    assert len(sample_no_cache(model, PROMPTS, 30, seed=0)[0]) == 30


def test_cache_is_used(arch):
    """One forward over the prompt, then one token per forward (GPT-2: plus a re-prime per half context)."""
    model = tiny_model(arch, context=16)
    lengths = []
    hook = model.register_forward_pre_hook(lambda mod, args, kwargs: lengths.append(kwargs["input_ids"].shape[1]),
                                           with_kwargs=True)
    try:
        sample(model, PROMPTS, 30, seed=0)
    finally:
        hook.remove()
    if arch == "llama":  # rolling window: never recomputes
        assert lengths == [5] + [1] * 29
    else:  # 5 + 11 tokens fill the 16 positions, then a re-prime from the last 8 (steps 11 and 20)
        assert lengths[0] == 5 and [i for i, n in enumerate(lengths) if n != 1] == [0, 12, 21]
        assert len(lengths) == 30


def test_unequal_prompt_lengths_are_left_padded(arch):
    model = tiny_model(arch, context=16)
    prompts = [[1, 5, 6, 7, 8, 9, 10], [1, 9], [1, 40, 41, 12]]
    # Llama: also well past the context (the ring evicts the padding first, as a solo run's window would).
    # GPT-2 re-primes on the batch's schedule, so past the context a padded row may differ from a solo run.
    for n in (8, 40) if arch == "llama" else (8,):
        together = sample(model, prompts, n, sampling=GREEDY)
        alone = [sample(model, [p], n, sampling=GREEDY)[0] for p in prompts]
        assert together == alone
    assert [len(r) for r in sample(model, prompts, 40, seed=0)] == [40] * 3
    with pytest.raises(ValueError, match="equal length"):
        sample_no_cache(model, prompts, 3)


def test_equal_prompts_are_prefilled_once(arch):
    """Copies of a prompt (padded or not) are one row of the prefill; every row still samples as it would alone
    (GPT-2: also its re-primes, whose windows are equal for equal rows)."""
    model = tiny_model(arch, context=16)
    for prompts in ([PROMPTS[0], PROMPTS[0], PROMPTS[2], PROMPTS[0]],
                    [[1, 9], PROMPTS[1], [1, 9], PROMPTS[1], [1, 9]]):
        batches = []
        hook = model.register_forward_pre_hook(
            lambda mod, args, kwargs: batches.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True)
        try:
            together = sample(model, prompts, 8 if arch == "gpt2" else 30, sampling=GREEDY)
        finally:
            hook.remove()
        assert batches[0] == (2, max(map(len, prompts)))  # two distinct prompts
        assert all(b[0] == len(prompts) for b in batches[1:] if b[1] == 1)
        assert together == [sample(model, [p], 8 if arch == "gpt2" else 30, sampling=GREEDY)[0] for p in prompts]
    seeded = sample(model, [PROMPTS[0]] * 4, 12, seed=5, sampling=PLAIN)
    assert len({tuple(r) for r in seeded}) > 1  # copies share the prefill, not their draws


def test_peft_wrapped_model_samples_like_its_forward():
    peft = pytest.importorskip("peft")
    model = tiny_model("llama")
    lora = peft.get_peft_model(model, peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"],
                                                      init_lora_weights=False)).eval()
    rows = sample(lora, PROMPTS, 20, sampling=GREEDY)
    assert rows == sample_no_cache(lora, PROMPTS, 20, sampling=GREEDY)
    # Merged into a plain Llama, the adapter gives the same tokens.
    merged = lora.merge_and_unload()
    assert type(merged).__name__ == "LlamaForCausalLM"
    assert sample(merged, PROMPTS, 20, sampling=GREEDY) == rows


def test_edge_cases():
    model = tiny_model("llama")
    assert sample(model, PROMPTS, 0) == [[], [], []]
    assert sample(model, torch.tensor([1, 5, 6]), 3, sampling=GREEDY) == sample(model, [[1, 5, 6]], 3, sampling=GREEDY)
    with pytest.raises(ValueError):
        sample(model, [[1], []], 3)
