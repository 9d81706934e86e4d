"""How the decoder runs on the CPU (transfer/runtime.py): float32 or bfloat16 (with its attention in float32,
as the transfer runs it, or in bfloat16 too), one thread or two, measured side by side on one melody with the
transfer's default settings.

    python bench/runtime.py [--melody data/melodies/happy_birthday.mid] [--base DIR] [--style bach] [--repeat 3]

One model load; each variant harmonizes the melody ``--repeat`` times, the variants alternating so that a
busy machine disturbs them alike; each variant's best time counts, and the ratio is its time over float32 on
one thread (the decoder before transfer/runtime.py). Threads are forced here, whatever the free cores: on a
busy machine the two-thread rows are slow, which is why the transfer counts the free cores first. It also
says whether one and two threads wrote the same notes (they should: threads split work, not sums).

First, torch's scaled-dot-product attention alone, as one decoding step calls it (32 rows, 4 heads of 64,
one query over 64-256 cached keys, 2 threads), in bfloat16 and in float32 side by side: why a bfloat16 model
attends in float32 (transfer/runtime.py).
"""
from __future__ import annotations

import copy
import dataclasses
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from styletransfer.data.melody_file import quiet_read_melody  # noqa: E402
from styletransfer.transfer import pipeline  # noqa: E402
from styletransfer.transfer.runtime import for_decoding  # noqa: E402
from harmonize_timing import best_times, parse_args  # noqa: E402


def forced_threads(n: int):
    @contextmanager
    def threads(model):
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)
    return threads


def attention_step(dtype: torch.dtype, keys: int):
    """One decoding step's attention call: 32 rows, 4 heads of 64, one query."""
    q, k, v = (torch.randn(32, 4, n, 64, dtype=dtype) for n in (1, keys, keys))
    return lambda: F.scaled_dot_product_attention(q, k, v)


def attention_ratios(calls: int = 300) -> None:
    torch.set_num_threads(2)
    print("scaled-dot-product attention, one query, 32 rows x 4 heads, best of 3 x", calls, "calls")
    with torch.inference_mode():
        for keys in (64, 128, 256):
            runs = [(str(dtype), lambda f=attention_step(dtype, keys): [f() for _ in range(calls)])
                    for dtype in (torch.float32, torch.bfloat16)]
            best, _ = best_times(runs, 3)
            fp32, bf16 = best[str(torch.float32)], best[str(torch.bfloat16)]
            print(f"  {keys:3d} keys: float32 {fp32 / calls * 1e3:.3f} ms, bfloat16 {bf16 / calls * 1e3:.3f} ms,"
                  f" bfloat16 / float32 {bf16 / fp32:.2f}x")


def main() -> None:
    args = parse_args(__doc__)
    warnings.filterwarnings("ignore")
    attention_ratios()
    melody = quiet_read_melody(args.melody)
    loaded = pipeline.load_style(args.base, args.style, overrides=["transfer.dtype=float32"])
    as_bf16 = dataclasses.replace(loaded, model=for_decoding(copy.deepcopy(loaded.model), "bfloat16"))
    bf16_attention = copy.deepcopy(as_bf16.model)
    bf16_attention.set_attn_implementation("sdpa")
    all_bf16 = dataclasses.replace(loaded, model=bf16_attention)
    variants = [("float32, 1 thread", loaded, 1), ("float32, 2 threads", loaded, 2),
                ("bfloat16, 1 thread", as_bf16, 1), ("bfloat16, 2 threads", as_bf16, 2),
                ("bfloat16 attention too, 2 threads", all_bf16, 2)]

    def run(style, threads: int):
        pipeline.decoding_threads = forced_threads(threads)
        return pipeline.harmonize(melody, style, seed=0)[0].texture_ids

    best, notes = best_times([(label, lambda s=style, t=threads: run(s, t)) for label, style, threads in variants],
                             args.repeat)
    reference = best[variants[0][0]]
    print(f"{args.melody.name}, {loaded.label}, best of {args.repeat} (harmonize only; model loaded once)")
    for label, _, _ in variants:
        print(f"  {label:<34} {best[label]:6.2f} s   {best[label] / reference:5.2f}x float32 on 1 thread")
    for dtype in ("float32", "bfloat16"):
        same = notes[f"{dtype}, 1 thread"] == notes[f"{dtype}, 2 threads"]
        print(f"  {dtype}: 1 and 2 threads wrote {'the same notes' if same else 'DIFFERENT notes'}")


if __name__ == "__main__":
    main()
