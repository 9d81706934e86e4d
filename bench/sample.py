"""Tokens/s of the KV-cache sampler vs the original no-cache loop, side by side.

    python bench/sample.py [--tokens 1024] [--threads 2] [--batch 1 8] [--arch llama]

Default-recipe model size (4 layers, 4 heads, 256 wide, context 256, vocab 2000), random weights, fp32 CPU.
Both samplers get the same prompt and sampling settings; the first call of each is a warm-up.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from styletransfer.model import build_model  # noqa: E402
from styletransfer.recipe import ModelConfig  # noqa: E402
from styletransfer.sampling import sample, sample_no_cache  # noqa: E402


def timed(fn, *args, **kwargs) -> tuple[float, list[list[int]]]:
    start = time.perf_counter()
    rows = fn(*args, **kwargs)
    return time.perf_counter() - start, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=1024, help="new tokens per row")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--arch", choices=["llama", "gpt2"], default="llama")
    ap.add_argument("--prompt", type=int, default=16, help="prompt length")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    cfg = ModelConfig(arch=args.arch)  # the default recipe's size
    model = build_model(cfg, vocab_size=2000, pad_id=0, bos_id=1, eos_id=2).to(args.device).eval()
    opts = dict(temperature=1.0, top_k=0, top_p=1.0, seed=0)  # no eos: every row runs the full length
    print(f"{args.arch}: {cfg.n_layer} layers, {cfg.n_head} heads, {cfg.n_embd} wide, context {cfg.context}, "
          f"vocab 2000 | {args.tokens} new tokens, prompt {args.prompt} | threads {torch.get_num_threads()} | {args.device}")
    print(f"{'batch':>5} {'cache tok/s':>12} {'no-cache tok/s':>15} {'ratio':>7}")
    for batch in args.batch:
        prompt = torch.randint(3, 2000, (1, args.prompt)).repeat(batch, 1).tolist()
        sample(model, prompt, 8, **opts)  # warm-up (allocator, kernels)
        sample_no_cache(model, prompt, 8, **opts)
        t_cache, rows = timed(sample, model, prompt, args.tokens, **opts)
        assert all(len(r) == args.tokens for r in rows)
        t_plain, _ = timed(sample_no_cache, model, prompt, args.tokens, **opts)
        n = batch * args.tokens
        print(f"{batch:>5} {n / t_cache:>12.0f} {n / t_plain:>15.0f} {t_plain / t_cache:>6.1f}x", flush=True)


if __name__ == "__main__":
    main()
