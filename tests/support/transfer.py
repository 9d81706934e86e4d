"""Shared by the transfer tests: a BPE tokenizer trained on synthetic pieces, tiny random models, melodies.

Mostly plain cached functions, so every test module gets the same tokenizer; everything is tiny and built in
well under a second. The three fixtures at the end (``one_thread``, autouse, ``tok``, ``model``) apply only
where a test module imports them by name.
"""
from __future__ import annotations

import random
from functools import lru_cache

import pytest
import torch
from hypothesis import strategies as st
from symusic import Note, Score, Tempo, TimeSignature, Track

from styletransfer.tokens import tokenizer as tk
from styletransfer.tokens.parts import Texture
from styletransfer.model.build import build_model
from styletransfer.config import ModelConfig, TransferConfig, load_recipe
from styletransfer.transfer.accompany import transfer

from .scores import TPQ, chord_piece

METRES = [(2, 4), (3, 4), (4, 4), (6, 8)]
GRID = TPQ // 8  # the tokenizer's finest step for a quarter-note beat (8 per beat)


# the model's own distribution, the candidates independent (best-of-N, no hard rule): what a test of the
# constraint or the windows looks at; the search's own tests start from the recipe's settings instead
FREE = ("temperature=1.0", "top_k=0", "top_p=1.0", "search.enabled=false", "hard_rules=[]")


def transfer_settings(*overrides: str, free: bool = False) -> TransferConfig:
    """The shipped default recipe's transfer settings with ``KEY=VALUE`` overrides, as
    ``--set transfer.KEY=VALUE`` gives them; ``free``: over ``FREE``."""
    return load_recipe(None, [f"transfer.{o}" for o in (*(FREE if free else ()), *overrides)]).transfer


def harmonize(score, model, tok, *overrides: str, candidates: int = 2, seed: int = 0, free: bool = True, **kwargs):
    """``accompany.transfer`` with ``transfer_settings(*overrides, free=free)``."""
    return transfer(score, model, tok, transfer_settings(*overrides, free=free), seed, candidates, **kwargs)


# a chorale's texture: four parts, each one line (what data/texture.py measures on Bach's chorales)
SATB = Texture(("Soprano", "Alto", "Tenor", "Bass"), True, "", (52, 52, 52, 52))


@lru_cache(maxsize=None)
def bpe_tokenizer(vocab: int = 700, parts: bool = True):
    """The project's TSD with BPE trained on a few synthetic pieces in every metre the tests use (``parts``:
    with its Program tokens; False: the tokenizer before parts)."""
    tok = tk.build_tokenizer(parts)
    pieces = []
    for i in range(16):
        score = chord_piece(i, bars=6, ts=METRES[i % len(METRES)], root=40 + i)
        pieces.append(tk.base_ids_per_bar(tok, tk.normalize_score(score, tok)))
    tk.train_bpe(tok, pieces, vocab)
    assert tok.is_trained and len(tok) > len(tok.vocab)
    return tok


def tiny_model(tok, context: int = 128, arch: str = "llama", seed: int = 0):
    torch.manual_seed(seed)
    ids = (tk.special_id(tok, "PAD"), tk.special_id(tok, "BOS"), tk.special_id(tok, "EOS"))
    cfg = ModelConfig(arch=arch, n_layer=1, n_head=2, n_embd=32, context=context)
    return build_model(cfg, len(tok), *ids).eval()


def melody_score(notes, ts=(4, 4), qpm: float = 100.0, tpq: int = TPQ) -> Score:
    """notes: (onset tick, duration tick, pitch, velocity) at ``tpq``."""
    score = Score(tpq)
    track = Track("Melody", program=0, is_drum=False)
    for onset, duration, pitch, velocity in notes:
        track.notes.append(Note(onset, duration, pitch, velocity))
    score.tracks.append(track)
    score.tempos.append(Tempo(0, qpm))
    score.time_signatures.append(TimeSignature(0, *ts))
    return score


@st.composite
def melodies(draw, min_notes: int = 1, max_notes: int = 16, low: int = 21, high: int = 108):
    """A monophonic melody on the tokenizer's grid: (Score, [(onset, duration, pitch)]) in ticks at TPQ."""
    ts = draw(st.sampled_from(METRES))
    n = draw(st.integers(min_notes, max_notes))
    t = draw(st.integers(0, 16)) * GRID
    notes = []
    for _ in range(n):
        duration = draw(st.integers(1, 32)) * GRID  # up to 4 quarter notes
        pitch = draw(st.integers(low, high))
        notes.append((t, duration, pitch, 80))
        t += duration + draw(st.sampled_from([0, 0, 0, 1, 2, 4, 8, 16, 40])) * GRID
    return melody_score(notes, ts=ts), [(on, d, p) for on, d, p, _ in notes]


def random_melody(seed: int, n: int, ts=(4, 4), low: int = 55, high: int = 84):
    rng = random.Random(seed)
    t, notes = rng.randint(0, 4) * GRID, []
    for _ in range(n):
        duration = rng.choice([2, 4, 4, 8, 8, 12, 16]) * GRID
        notes.append((t, duration, rng.randint(low, high), 80))
        t += duration + rng.choice([0, 0, 0, 4, 8, 24]) * GRID
    return melody_score(notes, ts=ts), [(on, d, p) for on, d, p, _ in notes]


def check_guarantee(candidate_score: Score, expected: list[tuple[int, int, int]]) -> None:
    """Every melody note in the melody track exactly; nothing in the accompaniment above a sounding melody note."""
    melody = candidate_score.tracks[0]
    got = sorted((n.time, n.duration, n.pitch) for n in melody.notes)
    assert got == sorted(expected), (set(got) ^ set(expected))
    for note in (n for track in list(candidate_score.tracks)[1:] for n in track.notes):
        for onset, duration, pitch in expected:
            if onset < note.time + note.duration and note.time < onset + duration:
                assert note.pitch < pitch, f"accompaniment {note} above melody note {(onset, duration, pitch)}"


# Fixtures shared by the transfer test modules (imported there by name).
@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Two busy cores: torch's thread pool only adds contention for these tiny models."""
    import warnings

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tok():
    return bpe_tokenizer()


@pytest.fixture(scope="module")
def model(tok):
    return tiny_model(tok, context=128)
