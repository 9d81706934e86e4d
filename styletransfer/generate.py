"""Unconditional samples in a composer's style (`mst generate`), as the original project shipped."""
from __future__ import annotations

from pathlib import Path

import torch

from .errors import UserError
from .io import atomic_write_bytes, refuse_to_overwrite
from .model.adapters import file_slug, load_styled, parse_style
from .model.runs import base_recipe, resolve_base
from .tokens.bars import score_bar_ticks
from .tokens.tokenizer import decode_ids, special_id
from .transfer.note_grammar import NoteGrammar
from .transfer.sampler import Sampling, sample


def cut_bars(score, bars: int):
    """The first ``bars`` bars of a score."""
    ticks = score_bar_ticks(score)
    if len(ticks) <= bars:
        return score
    return score.clip(0, int(ticks[bars]), clip_end=True)


def sample_bars(model, tokenizer, bars: int, n: int, sampling: Sampling, seed: int):
    """n Scores of at least ``bars`` bars (or until the model ends the piece)."""
    bos, eos = special_id(tokenizer, "BOS"), special_id(tokenizer, "EOS")
    rows = [[bos] for _ in range(n)]
    done = [False] * n
    generator_seed = seed
    for _round in range(max(4, bars)):  # each round adds up to 256 tokens per row
        active = [i for i in range(n) if not done[i]]
        if not active:
            break
        prompts = [rows[i] for i in active] if len({len(rows[i]) for i in active}) == 1 else [rows[active[0]]]
        new = sample(model, prompts, 256, sampling=sampling, seed=generator_seed, eos_id=eos,
                     constraint=NoteGrammar(tokenizer.grammar, prompts))  # every note whole
        generator_seed += 1
        for i, tokens in zip(active, new):
            if eos in tokens:
                tokens = tokens[: tokens.index(eos)]
                done[i] = True
            rows[i] = rows[i] + tokens
            score = decode_ids(tokenizer, rows[i][1:])
            if len(score_bar_ticks(score)) > bars:
                done[i] = True
    return [cut_bars(decode_ids(tokenizer, row[1:]), bars) for row in rows]


def generate_files(base, style: str, bars: int, out: Path | None, n: int, overrides: list[str], force: bool) -> list[Path]:
    parsed = parse_style(style)  # a bad blend fails before anything else
    default_name = file_slug(parsed) if parsed.is_blend else style.lower().replace(' ', '-')
    out = Path(out or f"{default_name}.sample.mid")
    paths = [out] if n == 1 else [out.with_name(f"{out.stem}-{i + 1}{out.suffix}") for i in range(n)]
    refuse_to_overwrite(paths, force)
    base_dir = resolve_base(base)
    cfg = base_recipe(base_dir, overrides).sample  # a bad --set fails before the model loads
    model, tokenizer, _ = load_styled(base_dir, style)
    torch.manual_seed(cfg.seed)
    scores = sample_bars(model, tokenizer, bars, n, Sampling(cfg.temperature, cfg.top_k, cfg.top_p), cfg.seed)
    for path, score in zip(paths, scores):
        if not score.note_num():
            raise UserError("the model wrote no notes (try another --set sample.seed=N)")
        atomic_write_bytes(path, score.dumps_midi())
    return paths
