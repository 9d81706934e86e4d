"""Training tokens/s of our loop (transformers Trainer, as `mst pretrain` runs it) vs a plain PyTorch loop.

    python bench/train.py [--steps 20] [--warmup N] [--batch N] [--rounds 1] [--threads 0] [--peak-flops 989e12]
    python bench/train.py --steps 3 --batch 4          # a quick CPU run

Two model sizes, random token batches (no data needed):
  original  GPT-2 arch, 5 layers, 4 heads, 384 wide, context 256, batch 64, vocabulary 30,000
            (the original nanoGPT project's model)
  default   Llama arch, 4 layers, 4 heads, 256 wide, context 256, batch 32, vocabulary 2,000
            (styletransfer/recipes/default.yaml)

Ours: ``styletransfer.train.training_arguments`` (the recipe's optimizer, cosine schedule, grad clipping,
bf16 on CUDA) + ``transformers.Trainer`` with our ``MetricsLog`` callback, i.e. what ``pretrain`` runs,
minus evaluation and checkpoints (eval/save intervals are set past the last step).
Plain: the same model (same initial weights), AdamW with the same hyperparameters, ``clip_grad_norm_(1.0)``,
fp32 on CPU and bf16 autocast on CUDA, a Python loop over the same batches.

The first ``--warmup`` steps of each are not timed; ``--rounds N`` runs each loop N times, alternating
which goes first, and reports medians. MFU (CUDA only) is 6 * parameters * tokens/s over
``--peak-flops`` (default: H100 SXM dense bf16, 989 TFLOP/s); it ignores attention FLOPs, so it reads a
little low at context 256. CPU numbers depend on what else the machine runs: compare the ratio, which
comes from one process with both loops side by side.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from styletransfer.config import ModelConfig, Recipe, TrainConfig  # noqa: E402
from styletransfer.model.build import build_model  # noqa: E402

CONFIGS = {
    "original": dict(arch="gpt2", n_layer=5, n_head=4, n_embd=384, context=256, batch=64, vocab=30_000),
    "default": dict(arch="llama", n_layer=4, n_head=4, n_embd=256, context=256, batch=32, vocab=2_000),
}
LR = 1e-3


class Batches(torch.utils.data.Dataset):
    """Rows of precomputed random batches, as the Trainer's dataset: the same tokens both loops see."""

    def __init__(self, tokens: torch.Tensor):  # [steps, batch, context]
        self.rows = tokens.reshape(-1, tokens.shape[-1])

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        row = self.rows[i]
        return {"input_ids": row, "labels": row, "attention_mask": torch.ones_like(row)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def fresh_model(cfg: dict, device: torch.device, seed: int):
    torch.manual_seed(seed)
    model_cfg = ModelConfig(arch=cfg["arch"], n_layer=cfg["n_layer"], n_head=cfg["n_head"], n_embd=cfg["n_embd"],
                            context=cfg["context"])
    return build_model(model_cfg, cfg["vocab"], 0, 1, 2).to(device)


def run_ours(cfg: dict, tokens: torch.Tensor, warmup: int, device: torch.device, seed: int) -> float:
    """tokens/s of the Trainer loop over the timed steps."""
    from transformers import Trainer, TrainerCallback
    from transformers.trainer_callback import PrinterCallback
    from transformers.trainer_utils import IntervalStrategy, SaveStrategy

    from styletransfer.train import MetricsLog, training_arguments

    steps = tokens.shape[0]
    batch, context = tokens.shape[1], tokens.shape[2]
    recipe = Recipe(model=ModelConfig(arch=cfg["arch"], n_layer=cfg["n_layer"], n_head=cfg["n_head"],
                                      n_embd=cfg["n_embd"], context=context),
                    train=TrainConfig(max_steps=steps, batch_size=batch, lr=LR, eval_interval=10 * steps + 10,
                                      save_interval=10 * steps + 10, seed=seed))
    marks: dict[int, float] = {}

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step in (warmup, steps):
                sync(device)
                marks[state.global_step] = time.perf_counter()

    with tempfile.TemporaryDirectory() as out:
        args = training_arguments(recipe, Path(out), steps, LR)
        # No progress bar, and no evaluation or checkpoint after the last step (they are not timed anyway).
        args.disable_tqdm = True
        args.eval_strategy, args.save_strategy = IntervalStrategy.NO, SaveStrategy.NO
        model = fresh_model(cfg, device, seed)
        trainer = Trainer(model=model, args=args, train_dataset=Batches(tokens),
                          callbacks=[MetricsLog(Path(out) / "metrics.jsonl", batch * context), Clock()])
        trainer.remove_callback(PrinterCallback)  # no log dicts on stdout (MetricsLog still runs)
        trainer.train()
    return (steps - warmup) * batch * context / (marks[steps] - marks[warmup])


def run_plain(cfg: dict, tokens: torch.Tensor, warmup: int, device: torch.device, seed: int) -> float:
    """tokens/s of a plain AdamW loop (the nanoGPT way) over the timed steps."""
    model = fresh_model(cfg, device, seed)
    model.train()
    cuda = device.type == "cuda"
    # Fused AdamW, as the Trainer's default optimizer (adamw_torch_fused) is, on CPU too.
    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.99), weight_decay=0.1, fused=True)
    steps, batch, context = tokens.shape
    start = None
    for step in range(steps):
        if step == warmup:
            sync(device)
            start = time.perf_counter()
        x = tokens[step].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    sync(device)
    return (steps - warmup) * batch * context / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20, help="timed optimizer steps per loop")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps first (>= 1; default 1 on CPU, 3 on CUDA)")
    ap.add_argument("--batch", type=int, default=None, help="batch size for every config (default: 64 / 32)")
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=["original", "default"])
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--peak-flops", type=float, default=989e12, help="GPU peak bf16 FLOP/s, for MFU")
    ap.add_argument("--rounds", type=int, default=1, help="runs of each loop, alternating order; medians reported")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.warmup is None:
        args.warmup = 3 if torch.cuda.is_available() else 1
    if args.warmup < 1:
        ap.error("--warmup must be at least 1")
    warnings.filterwarnings("ignore")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.type == "cuda"
    name = torch.cuda.get_device_name() if cuda else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; {'bf16 autocast' if cuda else 'fp32'}; "
          f"{args.steps} timed steps after {args.warmup} warm-up; median of {args.rounds} round(s)")
    header = f"{'config':<9} {'params':>8} {'batch x ctx':>12} {'ours tok/s':>12} {'plain tok/s':>12} {'ours/plain':>10}"
    if cuda:
        header += f" {'MFU ours':>9} {'MFU plain':>9}"
    rows = []
    for key in args.configs:
        cfg = dict(CONFIGS[key], context=args.context)
        batch = args.batch or cfg["batch"]
        gen = torch.Generator().manual_seed(args.seed)
        tokens = torch.randint(0, cfg["vocab"], (args.warmup + args.steps, batch, args.context), generator=gen)
        params = sum(p.numel() for p in fresh_model(cfg, torch.device("cpu"), args.seed).parameters())
        results = {"ours": [], "plain": []}
        for r in range(args.rounds):  # alternate which loop goes first, take the medians
            order = ("plain", "ours") if r % 2 == 0 else ("ours", "plain")
            for loop in order:
                fn = run_plain if loop == "plain" else run_ours
                results[loop].append(fn(cfg, tokens, args.warmup, device, args.seed))
        ours, plain = statistics.median(results["ours"]), statistics.median(results["plain"])
        row = f"{key:<9} {params / 1e6:>7.1f}M {f'{batch} x {args.context}':>12} {ours:>12,.0f} {plain:>12,.0f} {ours / plain:>10.2f}"
        if cuda:
            row += f" {6 * params * ours / args.peak_flops:>9.1%} {6 * params * plain / args.peak_flops:>9.1%}"
        rows.append(row)
        print(f"  {key}: ours {ours:,.0f} tok/s, plain {plain:,.0f} tok/s", flush=True)
    print()
    print(header)
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
