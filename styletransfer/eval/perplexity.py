"""Per-composer test loss of a base model and of its adapters (`mst eval perplexity`).

The test split of the catalog is encoded here with the base's own tokenizer (so any base can be scored
on any Maestro-format folder, whatever tokenizer a prepared cache was built with). Each piece is
``[BOS] texture [EOS]``, scored in windows of the model's context with a stride of half of it: every
token is predicted once, with at least half a context of history when the piece is longer than one
context (the usual sliding-window perplexity). The loss of a composer is the mean over all of their
test tokens (nats per BPE token), so long pieces weigh more, as in training.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..data.catalog import load_catalog
from ..data.prepare import encode_files
from ..errors import UserError
from ..model.adapters import load_styled, parse_style, resolve_style
from ..model.runs import adapters, base_recipe
from ..tokens.tokenizer import bpe_encode_pieces, load_tokenizer, special_id
from ..transfer.sampler import model_context


@dataclass
class EncodedPiece:
    composers: tuple[str, ...]
    title: str
    ids: np.ndarray  # [BOS] texture [EOS], model ids


def encode_test_pieces(catalog: pd.DataFrame, tokenizer, split: str = "test", workers: int = 0,
                       key_normalize: bool = False) -> list[EncodedPiece]:
    """The split's pieces as model ids under ``tokenizer`` (unreadable or empty files are skipped), moved to
    the reference key when the model was trained so."""
    rows = catalog.index[catalog["split"] == split].tolist()
    if not rows:
        raise UserError(f"the catalog has no {split} pieces")
    tasks = [(row, catalog.at[row, "midi"], split, None, None, "", key_normalize) for row in rows]
    results = [r for r in encode_files(tasks, workers, desc=f"encoding {split} pieces") if r[1]]
    encoded = bpe_encode_pieces(tokenizer, [found[0][1] for _, found, _ in results])
    bos, eos = special_id(tokenizer, "BOS"), special_id(tokenizer, "EOS")
    return [EncodedPiece(catalog.at[row, "composers"], catalog.at[row, "title"],
                         np.concatenate([[bos], ids, [eos]]).astype(np.int64))
            for (row, _, _), (ids, _) in zip(results, encoded)]


def windows(n: int, context: int) -> list[tuple[int, int, int]]:
    """(start, end, first_scored) windows over n ids, stride half a context: every id from 1 on is
    scored exactly once (ids[j] predicted from the window's ids before j)."""
    out, scored_to = [], 1
    for start in range(0, max(1, n - 1), max(1, context // 2)):
        end = min(start + context, n)
        out.append((start, end, max(scored_to, start + 1)))
        scored_to = end
        if end == n:
            break
    return out


@torch.no_grad()
def piece_nll(model, ids: np.ndarray, context: int, batch: int = 16) -> tuple[float, int]:
    """(summed negative log-likelihood, tokens scored) of one piece."""
    spans = windows(len(ids), context)
    total, count = 0.0, 0
    device = next(model.parameters()).device
    for k in range(0, len(spans), batch):
        chunk = spans[k:k + batch]
        width = max(e - s for s, e, _ in chunk)
        x = torch.zeros(len(chunk), width, dtype=torch.long)
        mask = torch.zeros(len(chunk), width, dtype=torch.long)
        labels = torch.full((len(chunk), width), -100, dtype=torch.long)
        for r, (s, e, first) in enumerate(chunk):
            x[r, : e - s] = torch.from_numpy(ids[s:e])
            mask[r, : e - s] = 1
            labels[r, first - s: e - s] = x[r, first - s: e - s]
        logits = model(input_ids=x.to(device), attention_mask=mask.to(device)).logits[:, :-1].float()
        target = labels[:, 1:].to(device)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1),
                                                 ignore_index=-100, reduction="sum")
        total += float(loss)
        count += int((target != -100).sum())
    return total, count


def composer_losses(model, pieces: list[EncodedPiece], context: int, composers: list[str]) -> dict[str, float]:
    """Mean nats per token of each composer's pieces (joint works count for each of their composers)."""
    sums = {c: [0.0, 0] for c in composers}
    for piece in pieces:
        wanted = [c for c in piece.composers if c in sums]
        if not wanted:
            continue
        nll, n = piece_nll(model, piece.ids, context)
        for c in wanted:
            sums[c][0] += nll
            sums[c][1] += n
    return {c: s / n if n else math.nan for c, (s, n) in sums.items()}


def perplexity_table(base: Path, styles: list[str], data: Path, min_pieces: int = 2, workers: int = 0,
                     progress=None, split: str = "test") -> pd.DataFrame:
    """Rows: composers with at least ``min_pieces`` pieces in ``split``; columns: pieces, tokens, the
    loss under the base ("base") and under each style's adapter, then "best" (``best_column``)."""
    catalog = load_catalog(data)
    tokenizer = load_tokenizer(base)
    pieces = encode_test_pieces(catalog, tokenizer, split=split, workers=workers,
                                key_normalize=base_recipe(base).data.key_normalize)
    counts: dict[str, list[int]] = {}
    for piece in pieces:
        for c in piece.composers:
            counts.setdefault(c, [0, 0])
            counts[c][0] += 1
            counts[c][1] += len(piece.ids) - 1
    composers = sorted((c for c, (n, _) in counts.items() if n >= min_pieces), key=lambda c: -counts[c][1])
    if not composers:
        raise UserError(f"no composer has {min_pieces} or more {split} pieces in {data}")
    table = pd.DataFrame({"pieces": [counts[c][0] for c in composers],
                          "tokens": [counts[c][1] for c in composers]}, index=pd.Index(composers, name="composer"))
    for style in ["none", *styles]:
        model, _, _ = load_styled(str(base), style)
        losses = composer_losses(model, pieces, model_context(model), composers)
        table["base" if style == "none" else style] = [losses[c] for c in composers]
        if progress is not None:
            progress(style)
    table["best"] = best_column(table)
    return table


def adapter_names(base: Path, styles: list[str], all_adapters: bool = False) -> list[str]:
    """The adapters of ``base`` to score: every one with ``all_adapters``, then those ``styles`` name
    (`--style` values, as in `mst transfer`), each once, in that order."""
    names = list(adapters(base)) if all_adapters else []
    for s in styles:
        for folder, _ in resolve_style(base, parse_style(s)):
            if folder.name not in names:
                names.append(folder.name)
    return names


def best_column(table: pd.DataFrame) -> pd.Series:
    """The model with the lowest loss on each composer."""
    models = [c for c in table.columns if c not in ("pieces", "tokens", "best")]
    return table[models].idxmin(axis=1)
