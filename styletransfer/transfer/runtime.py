"""How the model runs while it decodes on the CPU: on the cores that are free, in bfloat16 where the CPU
computes it natively. The measurements behind each choice are in docs/performance.md (`bench/runtime.py`).

Threads: one token at a time for a batch of 32 is a string of tiny matmuls, which two threads still speed up
as long as OpenMP's threads spin between them; when another job holds a core, a spinning thread waits on a
descheduled one and two threads are much slower than one (a passive wait policy instead loses the gain on an
idle machine). So the decoder takes the cores that other processes left idle over the last 50 ms
(``free_cores``), at most ``MAX_DECODE_THREADS``: two side-by-side benchmark processes each decode on one
thread, a lone ``mst transfer`` on two. One thread or two write the same texture for the same seed on
Happy Birthday and the tests' melodies (tests/transfer/test_runtime.py), but not on every melody: a
chorale whose samples sit near a tie can round the other way (docs/performance.md). Pin the threads
(``OMP_NUM_THREADS=1``) where a run must repeat another to the note.

bfloat16 (``transfer.dtype``): the weights, activations and KV cache in half the bytes, which the one-token
steps read from memory at every step. ``auto`` takes it only where the CPU has native bfloat16 (AVX512-BF16
or AMX; elsewhere a bfloat16 matmul is emulated and slower than float32), so what a seed writes depends on
the CPU's kind.

Attention stays in float32 (``for_decoding``): torch's CPU scaled-dot-product attention is several times
slower in bfloat16 than in float32 for one query over a short cache, while the matmuls around it gain from
bfloat16. So a bfloat16 model on the CPU attends through transformers' own sdpa with its inputs upcast,
registered as an attention implementation (transformers' AttentionInterface, with sdpa's mask).
"""
from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

MAX_DECODE_THREADS = 2  # measured on 2 cores; beyond that the tiny matmuls' barriers are untested
SAMPLE_SECONDS = 0.05  # how long the other processes' CPU use is watched before decoding
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
FLOAT32_ATTENTION = "mst_sdpa_float32"  # the attention implementation of a bfloat16 model on the CPU


def _cpu_ticks() -> tuple[int, int, int]:
    """(busy ticks of every CPU, all ticks, this process's own ticks) so far, from /proc (Linux)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()  # utime and stime: fields 14 and 15
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks), int(own[11]) + int(own[12])


def free_cores(window: float = SAMPLE_SECONDS) -> int:
    """Cores this process may use that other processes leave idle (at least 1): what they used over a short
    ``window`` (Linux), else the one-minute load average (which also counts this process's own recent work)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        usable = os.cpu_count() or 1
    cores = os.cpu_count() or usable
    try:
        busy0, total0, own0 = _cpu_ticks()
        time.sleep(window)
        busy1, total1, own1 = _cpu_ticks()
        others = max(0, (busy1 - busy0) - (own1 - own0)) / max(1, total1 - total0) * cores
    except (OSError, ValueError, IndexError):
        try:
            others = os.getloadavg()[0]
        except (AttributeError, OSError):  # no load average (Windows): assume the machine is shared
            return 1
    return max(1, min(usable, cores - math.floor(others + 0.5)))  # a core half used by others is busy


@contextmanager
def decoding_threads(model):
    """Decode on the free cores (at most ``MAX_DECODE_THREADS``) when the model is on the CPU; the thread
    count is restored after."""
    threads = torch.get_num_threads()
    wanted = min(MAX_DECODE_THREADS, threads)
    if next(model.parameters()).device.type == "cpu":
        # the 50 ms look at the other processes only when there is a choice to make
        torch.set_num_threads(max(1, min(free_cores(), wanted)) if wanted > 1 else 1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 matmuls natively (AVX512-BF16 or AMX tiles)."""
    probes = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return any(probe is not None and bool(probe()) for probe in probes)


def decoding_dtype(setting: str, device: torch.device | str = "cpu") -> torch.dtype:
    """The dtype the model decodes in: ``transfer.dtype`` (``auto``: bfloat16 on a CPU with native
    bfloat16 or a GPU that has it, else float32)."""
    if setting != "auto":
        return DTYPES[setting]
    if torch.device(device).type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return torch.bfloat16 if native_bfloat16() else torch.float32


def _sdpa_in_float32(module, query, key, value, attention_mask, **kwargs):
    """transformers' sdpa on float32 copies of the query, keys and values; the output in the query's dtype."""
    out, weights = sdpa_attention_forward(module, query.float(), key.float(), value.float(), attention_mask,
                                          **kwargs)
    return out.to(query.dtype), weights


AttentionInterface.register(FLOAT32_ATTENTION, _sdpa_in_float32)
AttentionMaskInterface.register(FLOAT32_ATTENTION, sdpa_mask)  # the same masks as sdpa


def for_decoding(model, setting: str):
    """``model`` in its decoding dtype (``decoding_dtype``), attending in float32 when that is bfloat16 on
    the CPU (the module docstring says why)."""
    device = next(model.parameters()).device
    dtype = decoding_dtype(setting, device)
    model = model.to(dtype)
    if dtype == torch.bfloat16 and device.type == "cpu":
        model.set_attn_implementation(FLOAT32_ATTENTION)
    return model
