"""Tokens/s of the KV-cache sampler vs the original no-cache loop, side by side.

    python bench/sample.py [--tokens 1024] [--threads 2] [--batch 1 8] [--arch llama] [--generate]

Default-recipe model size (4 layers, 4 heads, 256 wide, context 256, vocab 2000), random weights, fp32.
Columns: ``sample`` (ring-buffer KV cache, the model's own forward per token), the no-cache loop (slow:
minutes at the default length), and optionally transformers' ``generate``. Same prompt and settings for
all; each is warmed up first. No eos, so every row runs the full length. (The sampler's former
hand-written decode step against the model's forward: bench/decode.py, docs/performance.md.)
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from no_cache import sample_no_cache  # noqa: E402  (bench/, on the path as the script's folder)
from styletransfer.model.build import build_model  # noqa: E402
from styletransfer.transfer.sampler import PLAIN, sample  # noqa: E402

try:
    from styletransfer.config import ModelConfig  # noqa: E402

    DEFAULT = ModelConfig()
except ImportError:  # a bare machine without pydantic: the same numbers
    DEFAULT = SimpleNamespace(arch="llama", n_layer=4, n_head=4, n_embd=256, context=256, dropout=0.0)


def timed(fn) -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=1024, help="new tokens per row")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--arch", choices=["llama", "gpt2"], default="llama")
    ap.add_argument("--prompt", type=int, default=16, help="prompt length")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--generate", action="store_true", help="also time transformers' generate")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    base = vars(DEFAULT) if isinstance(DEFAULT, SimpleNamespace) else DEFAULT.model_dump()
    cfg = SimpleNamespace(**{**base, "arch": args.arch})
    model = build_model(cfg, vocab_size=2000, pad_id=0, bos_id=1, eos_id=2).to(args.device).eval()
    opts = dict(sampling=PLAIN, seed=0)  # the model's own distribution, as generate's below
    print(f"{args.arch}: {cfg.n_layer} layers, {cfg.n_head} heads, {cfg.n_embd} wide, context {cfg.context}, "
          f"vocab 2000 | {args.tokens} new tokens, prompt {args.prompt} | threads {torch.get_num_threads()} | "
          f"{args.device} | torch {torch.__version__}", flush=True)
    runners = {
        "sample": lambda p, n: sample(model, p, n, **opts),
        "no-cache": lambda p, n: sample_no_cache(model, p, n, **opts),
    }
    if args.generate:
        def generate(p, n):
            ids = torch.tensor(p, device=args.device)
            with torch.inference_mode():
                # No eos and min_new_tokens: the full length, like the others; top_k=0 = no filtering.
                return model.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=True, top_k=0,
                                      eos_token_id=None, pad_token_id=0)
        runners["generate"] = generate
    names = list(runners)
    print(f"{'batch':>5} " + " ".join(f"{n + ' tok/s':>17}" for n in names) + "   speed-up vs no-cache", flush=True)
    for batch in args.batch:
        prompt = torch.randint(3, 2000, (1, args.prompt)).repeat(batch, 1).tolist()
        secs = {}
        for name, run in runners.items():
            run(prompt, 8)  # warm-up (allocator, kernels)
            secs[name] = timed(lambda: run(prompt, args.tokens))
        rate = {k: batch * args.tokens / v for k, v in secs.items()}
        ratios = ", ".join(f"{k} {secs['no-cache'] / v:.1f}x" for k, v in secs.items() if k != "no-cache")
        print(f"{batch:>5} " + " ".join(f"{rate[n]:>17.0f}" for n in names) + f"   {ratios}", flush=True)


if __name__ == "__main__":
    main()
