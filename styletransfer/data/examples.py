"""Training examples drawn from a token cache: plain windows and melody/texture pairs.

A pair is ``[BOS][MELODY] melody [TEXTURE] texture [EOS?]`` over the same bars of one piece (the
melody is the piece's skyline); the loss falls on the texture only. Example ``i`` is a pure function
of (seed, i), so an interrupted run resumes on exactly the examples it would have seen.
"""
from __future__ import annotations

import numpy as np
import torch

from ..tokens.tokenizer import special_id
from .prepare import TokenCache

IGNORE = -100


class Specials:
    def __init__(self, tokenizer):
        self.pad, self.bos, self.eos = (special_id(tokenizer, n) for n in ("PAD", "BOS", "EOS"))
        self.melody, self.texture = special_id(tokenizer, "MELODY"), special_id(tokenizer, "TEXTURE")


class ExampleSet(torch.utils.data.Dataset):
    """``length`` examples of ``context`` tokens from ``pieces`` of ``cache``, pairs at ``pair_ratio``."""

    def __init__(self, cache: TokenCache, pieces: np.ndarray, specials: Specials, context: int,
                 pair_ratio: float, length: int, seed: int = 0):
        if len(pieces) == 0:
            raise ValueError("no pieces to draw examples from")
        self.cache, self.pieces, self.sp = cache, np.asarray(pieces), specials
        self.context, self.pair_ratio, self.length, self.seed = context, pair_ratio, length, seed
        table = cache.pieces.iloc[self.pieces]
        sizes = (table["tex_end"] - table["tex_start"]).to_numpy().astype(np.float64)
        self.cumulative = np.cumsum(sizes) / sizes.sum()  # long pieces are drawn more, like nanoGPT

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict:
        rng = np.random.default_rng([self.seed, int(i)])
        piece = int(self.pieces[min(np.searchsorted(self.cumulative, rng.random()), len(self.pieces) - 1)])
        if rng.random() < self.pair_ratio and self.cache.pieces.n_bars.iloc[piece] > 0:
            ids, labels = self.pair(piece, rng)
        else:
            ids, labels = self.window(piece, rng)
        return self._pad(ids, labels)

    def window(self, piece: int, rng) -> tuple[list[int], list[int]]:
        tex = self.cache.piece_texture(piece)
        n = self.context
        start = int(rng.integers(-1, max(0, len(tex) - n + 1)))  # -1: from the piece's start, with BOS
        if start < 0:
            ids = [self.sp.bos] + tex[: n - 1].tolist()
            if len(tex) <= n - 2:
                ids.append(self.sp.eos)
            return ids, ids[:]
        ids = tex[start:start + n].tolist()
        return ids, ids[:]

    def pair(self, piece: int, rng) -> tuple[list[int], list[int]]:
        mel_spans = self.cache.bar_spans(piece, "melody")
        tex_spans = self.cache.bar_spans(piece, "texture")
        n_bars = len(tex_spans) - 1
        first = int(rng.integers(0, n_bars))
        budget = self.context - 3
        last = first + 1
        while last < n_bars and (mel_spans[last + 1] - mel_spans[first]) + (tex_spans[last + 1] - tex_spans[first]) <= budget:
            last += 1
        mel = np.asarray(self.cache.melody[mel_spans[first]:mel_spans[last]]).tolist()[: self.context // 2]
        tex = np.asarray(self.cache.texture[tex_spans[first]:tex_spans[last]]).tolist()
        prompt = [self.sp.bos, self.sp.melody] + mel + [self.sp.texture]
        target = tex + ([self.sp.eos] if last == n_bars else [])
        ids = (prompt + target)[: self.context]
        labels = ([IGNORE] * len(prompt) + target)[: self.context]
        return ids, labels

    def _pad(self, ids: list[int], labels: list[int]) -> dict:
        pad = self.context - len(ids)
        return {
            "input_ids": torch.tensor(ids + [self.sp.pad] * pad),
            "labels": torch.tensor(labels + [IGNORE] * pad),
            "attention_mask": torch.tensor([1] * len(ids) + [0] * pad),
        }


def unigram_loss(train: np.ndarray, valid: np.ndarray, vocab_size: int) -> float:
    """Cross-entropy (nats/token) of validation tokens under training-token frequencies (add-one)."""
    counts = np.bincount(np.asarray(train, np.int64), minlength=vocab_size).astype(np.float64) + 1.0
    logp = np.log(counts / counts.sum())
    return float(-logp[np.asarray(valid, np.int64)].mean()) if len(valid) else float("nan")
