"""The sampler's hand-written decode step vs the model's own forward, on the transfer's real workload.

    python bench/decode.py [--batch 8 32 64] [--threads 1] [--repeat 5] [--tokens 256] [--method runs steps]
                           [--melodies happy_birthday ode_to_joy] [--workloads search best-of-n sample]
                           [--temperature 0.6] [--top-p 0.9]

Two decode paths over the same ring-buffer KV cache: ``lean`` (``sampler._lean_decoder``'s fused one-token
step, when the sampler has one) and ``forward`` (the model's own forward per token; here by monkeypatching
``sampler._lean_decoder`` to return None, in this process only). Workloads, with the shipped model
(``load_styled(None, "bach")``), fp32 on CPU, ``torch.set_num_threads(--threads)`` as the transfer does:

- ``search``: what ``mst transfer`` runs, ``pipeline.harmonize`` (the recipe's transfer settings: the
  search over partial accompaniments, hard rules, temperature 0.6, top-p 0.9; seed 0) on each bundled
  melody (``data/melodies/<name>.mid``) with ``candidates = batch``: the constraint's and the search's
  Python work per step, windows, ranking and all (``--threads`` is kept; harmonize itself sets 1).
- ``best-of-n``: ``accompany.transfer`` with the default recipe's transfer settings less the search and
  the hard rules (independent samples, ranked) at temperature 0.6, top-p 0.9, seed 0.
- ``sample``: plain unconstrained ``sample`` (like bench/sample.py): a 16-token random prompt repeated
  ``batch`` times, ``--tokens`` new tokens, seed 0, temperature 0.6 and top-p 0.9 (``--temperature``,
  ``--top-p``; bench/sample.py uses 1 and 1).

Two measurements of the ratio lean speed / forward speed (> 1: the lean step is faster), each after a
warm-up, ``--repeat`` times, median and range printed (``--method``):

- ``runs``: whole runs interleaved (lean, forward, then forward, lean, ...), one ratio per pair. Speed is
  decode steps per second (steps counted in the sampler), so should float rounding make the paths pick
  different tokens, runs of different lengths still compare like with like; ``same tokens`` says whether
  they did.
- ``steps``: one run in which every decode step calls both paths back to back on the same token (both
  write the same cache slot; order alternating per step), so a load spike from other processes hits both
  alike. With T that run's time and L, F each path's summed step time, a run on one path alone takes
  T - F (lean) or T - L (forward): the ratio is (T - L) / (T - F). Also printed: ``step alone`` (F / L, the
  decode step by itself) and ``forward share`` (F / (T - L): the model's forward's share of a forward-only
  run; the rest is the constraint, sampling and ranking).

Per workload and batch it prints the median tok/s (decode steps x batch per second) of each path in the
``runs`` measurement, then the ratios. A noisy shared machine swings single runs by 2x; the ``steps``
ratio is the steadier one.

Without ``sampler._lean_decoder`` (one decode path) it times the model's forward alone and prints its
speed: the ratios in docs/performance.md were measured before the lean step was removed.
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from transformers.utils import logging as hf_logging

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from styletransfer.config import load_recipe  # noqa: E402
from styletransfer.data.melody_file import read_melody  # noqa: E402
from styletransfer.model.adapters import load_styled  # noqa: E402
from styletransfer.transfer import sampler  # noqa: E402
from styletransfer.transfer.accompany import transfer  # noqa: E402

# best-of-n: the default recipe's transfer settings, independent samples, no hard rules
BEST_OF_N = ["transfer.temperature=0.6", "transfer.top_k=0", "transfer.top_p=0.9", "transfer.search.enabled=false",
             "transfer.hard_rules=[]"]
WORKLOADS = ("search", "best-of-n", "sample")


class Paths:
    """Switches the sampler between its lean step and the model's forward; counts decode steps."""

    def __init__(self):
        self.lean = getattr(sampler, "_lean_decoder", None)
        self.steps = 0
        next_tokens = sampler.next_tokens

        def counting(*args, **kwargs):
            self.steps += 1
            return next_tokens(*args, **kwargs)

        sampler.next_tokens = counting  # looked up per call inside sampler._sample

    def names(self) -> list[str]:
        return ["lean", "forward"] if self.lean is not None else ["forward"]

    def run(self, name: str, fn):
        """(seconds, decode steps, result) of fn() on path ``name``."""
        if self.lean is not None:
            sampler._lean_decoder = self.lean if name == "lean" else (lambda model, cache: None)
        self.steps = 0
        start = time.perf_counter()
        try:
            result = fn()
        finally:
            if self.lean is not None:
                sampler._lean_decoder = self.lean
        return time.perf_counter() - start, self.steps, result


class Both:
    """A decode step that runs the lean step and the model's forward on the same token, back to back.

    Both write the same cache slot (the same keys and values, up to float rounding); the lean step's logits
    are returned. The order alternates per step, so a load spike hits both alike: ``lean`` and ``forward``
    add up each path's seconds.
    """

    def __init__(self, lean, model, cache, totals):
        self.lean, self.model, self.cache, self.totals = lean(model, cache), model, cache, totals

    def __call__(self, tok, pos, attn):
        def forward():
            return self.model(input_ids=tok[:, None], position_ids=pos, attention_mask=attn, cache=self.cache,
                              use_cache=True).logits[:, -1]

        steps = [("lean", lambda: self.lean(tok, pos, attn)), ("forward", forward)]
        if self.totals["flip"]:
            steps.reverse()
        self.totals["flip"] = not self.totals["flip"]
        outs = {}
        for name, step in steps:
            start = time.perf_counter()
            outs[name] = step()
            self.totals[name] += time.perf_counter() - start
        return outs["lean"]


def paired(paths: Paths, fn, repeat: int) -> dict:
    """Per-step pairs: total time T of fn() with both steps per token; lean speed / forward speed of fn()
    alone is (T - L) / (T - F), L and F each path's summed step seconds. Medians over ``repeat`` runs."""
    lean = paths.lean
    wholes, steps, shares = [], [], []
    for k in range(repeat + 1):  # the first run is a warm-up
        totals = {"lean": 0.0, "forward": 0.0, "flip": False}
        sampler._lean_decoder = lambda model, cache: Both(lean, model, cache, totals)
        start = time.perf_counter()
        try:
            fn()
        finally:
            sampler._lean_decoder = lean
        whole = time.perf_counter() - start
        if k == 0:
            continue
        wholes.append((whole - totals["lean"]) / (whole - totals["forward"]))
        steps.append(totals["forward"] / totals["lean"])
        shares.append(totals["forward"] / (whole - totals["lean"]))
    return dict(whole=wholes, step=steps, share=shares)


def measure(paths: Paths, fn, repeat: int, same) -> dict:
    names = paths.names()
    warm = {}
    for name in names:  # warm-up: allocator, kernels, caches (its speed is reported only without repeats)
        secs, steps, _ = paths.run(name, fn)
        warm[name] = [steps / secs]
    speeds = {n: [] for n in names}
    ratios, identical = [], True
    for k in range(repeat):
        order = names if k % 2 == 0 else names[::-1]
        results = {}
        for name in order:
            secs, steps, results[name] = paths.run(name, fn)
            speeds[name].append(steps / secs)
        if len(names) == 2:
            ratios.append(speeds["lean"][-1] / speeds["forward"][-1])
            identical &= same(results["lean"], results["forward"])
    speeds = speeds if repeat else warm
    return dict(speeds={n: statistics.median(v) for n, v in speeds.items()}, ratios=ratios, identical=identical)


def report(label: str, batch: int, m: dict, p: dict | None) -> None:
    speeds = "  ".join(f"{n} {v * batch:6.0f} tok/s" for n, v in m["speeds"].items())
    line = f"{label:<24} {batch:>5}  {speeds}"
    if m["ratios"]:
        line += f"  | runs: {spread(m['ratios'])}, same tokens: {'yes' if m['identical'] else 'no'}"
    if p is not None:
        line += (f"  | steps: {spread(p['whole'])}, step alone {statistics.median(p['step']):.2f}x, "
                 f"forward share {statistics.median(p['share']):.0%}")
    print(line, flush=True)


def spread(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, nargs="+", default=[8, 32, 64])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the transfer uses 1 on CPU)")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved pairs per workload and batch")
    ap.add_argument("--tokens", type=int, default=256, help="new tokens per row for plain sample")
    ap.add_argument("--temperature", type=float, default=0.6, help="for plain sample (transfer: 0.6)")
    ap.add_argument("--top-p", type=float, default=0.9, help="for plain sample (transfer: 0.9)")
    ap.add_argument("--melodies", nargs="+", default=["happy_birthday", "ode_to_joy"])
    ap.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    ap.add_argument("--method", nargs="+", choices=["runs", "steps"], default=["runs", "steps"],
                    help="runs: whole runs interleaved; steps: both decode steps per token (see above)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)

    if "search" in args.workloads:
        from styletransfer.transfer import pipeline

        loaded = pipeline.load_style(None, "bach")
        model, tokenizer = loaded.model, loaded.tokenizer
        pipeline.decoding_threads = lambda model: contextlib.nullcontext()  # keep --threads (it sets 1)
    else:
        model, tokenizer, _ = load_styled(None, "bach")
    best_of_n = load_recipe(None, BEST_OF_N).transfer
    paths = Paths()
    probe = sampler._RingCache(model.config.num_hidden_layers, 8)
    lean_type = type(paths.lean(model, probe)).__name__ if paths.lean is not None else "none (one decode path)"
    print(f"shipped model + bach: {type(model).__name__}, {model.config.num_hidden_layers} layers, "
          f"{model.config.hidden_size} wide, vocab {model.config.vocab_size} | lean step: {lean_type} | "
          f"threads {torch.get_num_threads()} | torch {torch.__version__} | {args.repeat} pairs", flush=True)
    print(f"{'workload':<24} {'batch':>5}  tok/s = decode steps x batch per second (medians); "
          f"lean/forward speed: median (range)", flush=True)

    def bench(label, batch, fn, same):
        m = measure(paths, fn, args.repeat if "runs" in args.method else 0, same)
        p = paired(paths, fn, args.repeat) if "steps" in args.method and paths.lean is not None else None
        report(label, batch, m, p)

    def same(a, b):
        return [c.texture_ids for c in a] == [c.texture_ids for c in b]

    for workload in ("search", "best-of-n"):
        if workload not in args.workloads:
            continue
        for name in args.melodies:
            melody = read_melody(ROOT / "data" / "melodies" / f"{name}.mid")
            for batch in args.batch:
                if workload == "search":  # what mst transfer runs: the recipe's settings, search and hard rules
                    def run(melody=melody, batch=batch):
                        return pipeline.harmonize(melody, loaded, seed=0, candidates=batch)
                else:  # independent samples, no hard rules
                    def run(melody=melody, batch=batch):
                        return transfer(melody, model, tokenizer, best_of_n, 0, batch)

                bench(f"{workload} {name}", batch, run, same)
    if "sample" in args.workloads:
        gen = torch.Generator().manual_seed(0)
        for batch in args.batch:
            prompt = torch.randint(3, model.config.vocab_size, (1, 16), generator=gen).repeat(batch, 1).tolist()

            def run(prompt=prompt):
                return sampler.sample(model, prompt, args.tokens, seed=0,
                                      sampling=sampler.Sampling(args.temperature, 0, args.top_p))

            bench(f"sample {args.tokens} t{args.temperature:g} p{args.top_p:g}", batch, run, lambda a, b: a == b)


if __name__ == "__main__":
    main()
