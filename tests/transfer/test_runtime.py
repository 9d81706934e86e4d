"""How the model runs while decoding on the CPU (transfer/runtime.py): threads on the free cores, bfloat16
where the CPU has it."""
from __future__ import annotations

import pytest
import torch

from styletransfer.transfer import runtime
from support.transfer import harmonize, random_melody, tiny_model, tok  # noqa: F401  (fixtures)


def ticks(*rows):
    """A fake _cpu_ticks: each call returns the next (busy, total, own) row."""
    rows = iter(rows)
    return lambda: next(rows)


@pytest.mark.parametrize("busy, own, free", [
    (0, 0, 2),  # an idle machine: both cores
    (10, 10, 2),  # only this process was busy: both cores
    (100, 0, 1),  # another process held one core for the whole window
    (200, 0, 1),  # two other processes: still one (the decoder needs one)
    (60, 10, 1),  # others held half a core or more
    (40, 10, 2),  # others held less than half a core
])
def test_free_cores_leaves_out_what_other_processes_use(monkeypatch, busy, own, free):
    # two cores, 200 ticks in the window: `busy` of them busy, `own` of those this process's
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(runtime, "_cpu_ticks", ticks((1000, 5000, 300), (1000 + busy, 5200, 300 + own)))
    assert runtime.free_cores(window=0) == free


def test_without_proc_the_load_average_decides(monkeypatch):
    def no_proc():
        raise OSError("no /proc")

    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(runtime, "_cpu_ticks", no_proc)
    monkeypatch.setattr(runtime.os, "getloadavg", lambda: (2.8, 1.0, 1.0))
    assert runtime.free_cores(window=0) == 1
    monkeypatch.setattr(runtime.os, "getloadavg", lambda: (0.2, 1.0, 1.0))
    assert runtime.free_cores(window=0) == 4


def test_decoding_threads_take_the_free_cores_and_restore(monkeypatch, tok):
    model = tiny_model(tok)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(4)
        for free, expected in ((1, 1), (3, runtime.MAX_DECODE_THREADS), (2, 2)):
            monkeypatch.setattr(runtime, "free_cores", lambda free=free: free)
            with runtime.decoding_threads(model):
                assert torch.get_num_threads() == expected
            assert torch.get_num_threads() == 4
        torch.set_num_threads(1)  # one thread allowed: nothing to choose, so no 50 ms look at the machine
        monkeypatch.setattr(runtime, "free_cores", lambda: pytest.fail("free_cores called with one thread"))
        with runtime.decoding_threads(model):
            assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_threads_never_change_a_note(tok):
    """The same seed writes the same textures whatever the decoder's thread count."""
    model = tiny_model(tok, context=256)
    score, _ = random_melody(5, 12)
    before = torch.get_num_threads()
    textures = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            textures.append([c.texture_ids for c in harmonize(score, model, tok, "temperature=1.2",
                                                               candidates=8, seed=4)])
    finally:
        torch.set_num_threads(before)
    assert textures[0] == textures[1]


def test_decoding_dtype(monkeypatch):
    assert runtime.decoding_dtype("float32") == torch.float32
    assert runtime.decoding_dtype("bfloat16") == torch.bfloat16
    monkeypatch.setattr(runtime, "native_bfloat16", lambda: False)
    assert runtime.decoding_dtype("auto") == torch.float32  # emulated bfloat16 is slower than float32
    monkeypatch.setattr(runtime, "native_bfloat16", lambda: True)
    assert runtime.decoding_dtype("auto") == torch.bfloat16


def test_a_bfloat16_model_keeps_the_melody(tok):
    """Decoding in bfloat16 changes the model's numbers, not the guarantee."""
    from support.transfer import check_guarantee

    model = tiny_model(tok, context=256).to(torch.bfloat16)
    score, expected = random_melody(9, 12)
    for candidate in harmonize(score, model, tok, candidates=4, seed=1):
        check_guarantee(candidate.score, expected)


def test_a_bfloat16_model_attends_in_float32(tok):
    """On the CPU a bfloat16 model takes the float32 attention; its logits stay those of bfloat16 sdpa (up
    to bfloat16 rounding), and a float32 model keeps plain sdpa."""
    ids = torch.randint(3, len(tok), (4, 40), generator=torch.Generator().manual_seed(0))
    reference = runtime.for_decoding(tiny_model(tok, context=256), "float32")
    assert reference.config._attn_implementation == "sdpa"
    model = runtime.for_decoding(tiny_model(tok, context=256), "bfloat16")
    assert model.dtype == torch.bfloat16 and model.config._attn_implementation == runtime.FLOAT32_ATTENTION
    with torch.inference_mode():
        upcast = model(input_ids=ids).logits.float()
        model.set_attn_implementation("sdpa")
        plain = model(input_ids=ids).logits.float()
        exact = reference(input_ids=ids).logits
    assert not torch.equal(upcast, plain)  # the attention did run in another dtype
    assert (upcast - exact).abs().max() <= (plain - exact).abs().max() * 1.5 + 0.05
