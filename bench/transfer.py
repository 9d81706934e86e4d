"""Tokens/s of melody-constrained sampling vs unconstrained sampling: same model, same prompt, batch 8.

    python bench/transfer.py [--tokens 256] [--threads 1] [--repeat 3] [--tokenizer PATH] [--device cpu]

Default-recipe model size (4 layers, 4 heads, 256 wide, context 256), random weights, fp32, the default
recipe's transfer sampling (``load_recipe(None).transfer``: temperature 0.6, top-k 0, top-p 0.9; ``--temperature``,
``--top-p`` override them; the melody constraint without hard rules). The tokenizer is ``--tokenizer`` (a prepared
tokenizer.json) or the base TSD vocabulary with BPE trained here on a few of the bundled MIDI files
(``data/music21``; synthetic pieces if those are missing). The melody is long enough that no constrained row
finishes early, so both runs sample exactly ``--tokens`` ids per row. The ratio is constrained / unconstrained
tokens/s, each the best of ``--repeat`` alternating runs after a warm-up (the least disturbed by other
processes on a busy machine).
"""
from __future__ import annotations

import argparse
import random
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from symusic import Note, Score, Tempo, TimeSignature, Track

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from styletransfer.config import ModelConfig, load_recipe  # noqa: E402
from styletransfer.model.build import build_model  # noqa: E402
from styletransfer.tokens import tokenizer as tk  # noqa: E402
from styletransfer.tokens.skyline import melody_base_ids  # noqa: E402
from styletransfer.transfer.constraint import MelodyConstraint  # noqa: E402
from styletransfer.transfer.plan import MelodyPlan  # noqa: E402
from styletransfer.transfer.sampler import Sampling, sample  # noqa: E402
from styletransfer.transfer.windows import bpe_per_bar  # noqa: E402


def bench_tokenizer(path: str | None, vocab: int, files: int):
    if path:
        return tk.load_tokenizer(path)
    tok = tk.build_tokenizer()
    midis = sorted((ROOT / "data" / "music21").rglob("*.mid"))[:files]
    pieces = []
    for midi in midis:
        try:
            pieces.append(tk.base_ids_per_bar(tok, tk.normalize_score(tk.load_score(midi), tok)))
        except Exception:  # noqa: BLE001 - a bench skips what it cannot read
            continue
    if not pieces:
        sys.path.insert(0, str(ROOT / "tests"))
        from support.scores import chord_piece

        pieces = [tk.base_ids_per_bar(tok, tk.normalize_score(chord_piece(i, bars=8), tok)) for i in range(24)]
    tk.train_bpe(tok, pieces, vocab)
    return tok


def long_melody(notes: int, seed: int = 0):
    rng = random.Random(seed)
    score = Score(480)
    track = Track("Melody", program=0, is_drum=False)
    t, pitch = 0, 72
    for _ in range(notes):
        dur = rng.choice((240, 480, 480, 960))
        pitch = min(90, max(60, pitch + rng.choice((-4, -2, -1, 1, 2, 4))))
        track.notes.append(Note(t, dur, pitch, 80))
        t += dur
    score.tracks.append(track)
    score.tempos.append(Tempo(0, 100.0))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    return score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=256, help="new ids per row")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch's default)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--tokenizer", default=None, help="a prepared tokenizer.json (default: BPE trained here)")
    ap.add_argument("--vocab", type=int, default=2000, help="BPE size when training one here")
    ap.add_argument("--files", type=int, default=60, help="MIDI files to train that BPE on")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--temperature", type=float, default=None, help="default: the recipe's (transfer.temperature)")
    ap.add_argument("--top-p", type=float, default=None, help="default: the recipe's (transfer.top_p)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)

    tok = bench_tokenizer(args.tokenizer, args.vocab, args.files)
    torch.manual_seed(0)
    cfg = ModelConfig()  # the default recipe's size
    model = build_model(cfg, len(tok), tk.special_id(tok, "PAD"), tk.special_id(tok, "BOS"),
                        tk.special_id(tok, "EOS")).to(args.device).eval()
    ids = melody_base_ids(long_melody(max(400, args.tokens)), tok)
    plan = MelodyPlan(tok.grammar, ids)
    bars = bpe_per_bar(tok, plan.split_bars(plan.ids, plan.starts, 0, plan.n_bars))
    melody = [t for bar in bars for t in bar][: cfg.context // 2]
    prompt = [tk.special_id(tok, "BOS"), tk.special_id(tok, "MELODY")] + melody + [tk.special_id(tok, "TEXTURE")]
    prompts = [prompt] * args.batch
    overrides = [f"transfer.{key}={value!r}" for key, value in (("temperature", args.temperature),
                                                                 ("top_p", args.top_p)) if value is not None]
    settings = load_recipe(None, overrides).transfer
    opts = dict(sampling=Sampling(settings.temperature, settings.top_k, settings.top_p), seed=0)
    eos = tk.special_id(tok, "EOS")

    def plain(n):
        return sample(model, prompts, n, **opts)

    def constrained(n):
        constraint = MelodyConstraint(plan, batch=args.batch, budgets=[10**9] * args.batch)
        rows = sample(model, prompts, n, eos_id=eos, constraint=constraint, **opts)
        return rows, constraint

    print(f"llama: {cfg.n_layer} layers, {cfg.n_head} heads, {cfg.n_embd} wide, context {cfg.context}, "
          f"vocab {len(tok)} | batch {args.batch}, prompt {len(prompt)}, {args.tokens} new ids | {opts['sampling']} | "
          f"threads {torch.get_num_threads()} | {args.device}")
    plain(8), constrained(8)  # warm-up
    t_plain, t_cons, stats = [], [], None
    for _ in range(args.repeat):
        start = time.perf_counter()
        rows = plain(args.tokens)
        t_plain.append(time.perf_counter() - start)
        assert all(len(r) == args.tokens for r in rows)
        start = time.perf_counter()
        rows, constraint = constrained(args.tokens)
        t_cons.append(time.perf_counter() - start)
        assert all(len(r) == args.tokens for r in rows), "a row finished early: use a longer melody"
        stats = constraint.stats
    n = args.batch * args.tokens
    plain_rate, cons_rate = n / min(t_plain), n / min(t_cons)
    checks = stats["checks"] / max(1, stats["steps"] * args.batch)
    print(f"unconstrained {plain_rate:8.0f} tok/s   constrained {cons_rate:8.0f} tok/s   "
          f"ratio {cons_rate / plain_rate:.2f}x   (exact checks per id {checks:.2f}, slow paths {stats['slow']})")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
