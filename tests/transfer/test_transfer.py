"""`transfer`: the prompt, windows over long melodies, the melody guarantee on the output, ranking."""
from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from symusic import Note, Score, TimeSignature, Track

import styletransfer.transfer.search as tr
from styletransfer.tokens import tokenizer as tk
from styletransfer.errors import UserError
from styletransfer.tokens.skyline import melody_mask
from styletransfer.transfer.ranking import PENALTY_NO_ACCOMPANIMENT, melody_consonance
from support.transfer import one_thread, tok, model, TPQ, bpe_tokenizer, check_guarantee, harmonize, melodies, melody_score, random_melody, tiny_model, transfer_settings  # noqa: F401  (fixtures too)





@pytest.fixture(scope="module")
def small_model(tok):
    return tiny_model(tok, context=64)


class Recorder:
    """Wraps the search's sampler to see every window's prompts."""

    def __init__(self, monkeypatch):
        self.prompts = []
        real = tr.sample

        def wrapped(model, prompts, *args, **kwargs):
            self.prompts.append([list(p) for p in prompts])
            return real(model, prompts, *args, **kwargs)

        monkeypatch.setattr(tr, "sample", wrapped)


@settings(max_examples=25, deadline=None)
@given(melody=melodies(max_notes=14), seed=st.integers(0, 10_000),
       temperature=st.floats(0.3, 2.0), top_p=st.sampled_from([1.0, 0.9]))
def test_every_candidate_keeps_the_melody(tok, model, melody, seed, temperature, top_p):
    score, expected = melody
    weight = transfer_settings(free=True).harmony_weight  # the recipe's, as transfer ranks by
    candidates = harmonize(score, model, tok, f"temperature={temperature}", f"top_p={top_p}", candidates=3, seed=seed)
    assert len(candidates) == 3
    assert [c.rank_score for c in candidates] == sorted((c.rank_score for c in candidates), reverse=True)
    for c in candidates:
        check_guarantee(c.score, expected)
        assert c.score.ticks_per_quarter == TPQ
        assert [t.name for t in c.score.tracks] == ["Melody", "Accompaniment"]
        assert [(t.numerator, t.denominator) for t in c.score.time_signatures] == \
               [(t.numerator, t.denominator) for t in score.time_signatures]
        assert [round(t.qpm, 3) for t in c.score.tempos] == [round(t.qpm, 3) for t in score.tempos]
        assert np.isfinite(c.log_likelihood) and c.log_likelihood < 0
        assert c.rank_score == pytest.approx(c.log_likelihood - c.penalty + weight * c.consonance)
        assert -1.0 <= c.consonance <= 1.0
        first_onset = min(on for on, _, _ in expected)
        accompaniment = c.score.tracks[1].notes
        assert all(n.time >= first_onset for n in accompaniment)  # nothing before a pickup
        ends: dict[int, int] = {}
        for n in sorted(accompaniment, key=lambda n: n.time):  # no same-pitch overlaps
            assert ends.get(n.pitch, -1) <= n.time
            ends[n.pitch] = n.time + n.duration


@settings(max_examples=10, deadline=None)
@given(melody=melodies(min_notes=25, max_notes=40), seed=st.integers(0, 10_000))
def test_long_melodies_over_several_windows(tok, small_model, melody, seed):
    score, expected = melody
    for c in harmonize(score, small_model, tok, candidates=2, seed=seed):
        check_guarantee(c.score, expected)


def test_windows_carry_the_texture_forward(tok, small_model, monkeypatch):
    score, expected = random_melody(11, 48, ts=(3, 4))
    rec = Recorder(monkeypatch)
    candidates = harmonize(score, small_model, tok, candidates=3, seed=1)
    for c in candidates:
        check_guarantee(c.score, expected)
    assert len(rec.prompts) >= 3  # several windows
    texture = tk.special_id(tok, "TEXTURE")
    carried = [len(p) - p.index(texture) - 1 for window in rec.prompts[1:] for p in window]
    assert max(carried) > 0  # later windows start from texture already written
    assert all(len(p) <= 64 for window in rec.prompts for p in window)  # prompts fit the context
    first = rec.prompts[0][0]
    assert first[:2] == [tk.special_id(tok, "BOS"), tk.special_id(tok, "MELODY")]


def test_prompt_is_the_training_pair_format(tok, model, monkeypatch):
    """One window: [BOS][MELODY] melody ids (per-bar BPE of the skyline) [TEXTURE]."""
    score, _ = random_melody(12, 6)
    rec = Recorder(monkeypatch)
    harmonize(score, model, tok, candidates=2, seed=0)
    assert len(rec.prompts) == 1
    # as dataset._write_split makes a training pair's melody: skyline of the whole piece, cut per bar
    bars = tk.base_ids_per_bar(tok, tk.normalize_score(score, tok))
    keep = melody_mask(np.concatenate([np.asarray(b) for b in bars]), tok.grammar)
    per_bar = [np.asarray(b)[m].tolist() for b, m in zip(bars, np.split(keep, np.cumsum([len(b) for b in bars])[:-1]))]
    mel, _ = tk.bpe_encode_bars(tok, per_bar)
    sp = [tk.special_id(tok, n) for n in ("BOS", "MELODY", "TEXTURE")]
    assert rec.prompts[0][0] == [sp[0], sp[1]] + mel.tolist() + [sp[2]]


def test_same_seed_same_candidates(tok, model):
    score, _ = random_melody(13, 8)
    a = harmonize(score, model, tok, candidates=2, seed=5)
    b = harmonize(score, model, tok, candidates=2, seed=5)
    c = harmonize(score, model, tok, candidates=2, seed=6)
    assert [x.texture_ids for x in a] == [x.texture_ids for x in b]
    assert [x.texture_ids for x in a] != [x.texture_ids for x in c]


def test_gpt2_model(tok):
    model = tiny_model(tok, context=64, arch="gpt2")
    score, expected = random_melody(14, 30, ts=(6, 8))
    for c in harmonize(score, model, tok, candidates=2, seed=0):
        check_guarantee(c.score, expected)


def test_no_room_for_accompaniment_is_penalized(tok, model):
    """A melody on the lowest piano key, legato: nothing may sound under it, so every candidate is penalized."""
    score = melody_score([(i * TPQ, TPQ, 21, 80) for i in range(6)])
    for c in harmonize(score, model, tok, candidates=2, seed=0):
        assert c.accompaniment_notes == 0 and c.penalty == PENALTY_NO_ACCOMPANIMENT
        assert len(c.score.tracks[0].notes) == 6


def test_output_keeps_resolution_and_unsupported_metre(tok, model):
    """5/8 is mapped to 4/4 for the model (normalize_score) but the output keeps 5/8 and the input's ticks."""
    notes = [(i * 96, 96, 60 + i, 80) for i in range(10)]
    score = melody_score(notes, ts=(5, 8), tpq=192)
    for c in harmonize(score, model, tok, candidates=2, seed=0):
        assert c.score.ticks_per_quarter == 192
        assert [(t.numerator, t.denominator) for t in c.score.time_signatures] == [(5, 8)]
        check_guarantee(c.score, [(on, d, p) for on, d, p, _ in notes])
        again = Score.from_midi(c.score.dumps_midi())  # a valid MIDI file
        assert again.note_num() == c.score.note_num()


def test_polyphonic_score_is_reduced_to_its_skyline(tok, model):
    """transfer() itself takes the skyline of whatever it is given (read_melody already does for files)."""
    notes = [(i * TPQ, TPQ, 72 + i, 80) for i in range(4)] + [(i * TPQ, TPQ, 48, 70) for i in range(4)]
    score = melody_score(notes)
    for c in harmonize(score, model, tok, candidates=2, seed=0):
        assert sorted(n.pitch for n in c.score.tracks[0].notes) == [72, 73, 74, 75]


def test_bad_input(tok, model):
    with pytest.raises(UserError):
        harmonize(melody_score([]), model, tok, candidates=8)
    drums = melody_score([(0, TPQ, 36, 100)])
    drums.tracks[0].is_drum = True
    with pytest.raises(UserError):
        harmonize(drums, model, tok, candidates=8)
    with pytest.raises(UserError):
        harmonize(melody_score([(0, TPQ, 60, 80)]), model, tok, candidates=0)


def test_single_note_and_pickup(tok, model):
    score = melody_score([(3 * TPQ, TPQ // 2, 67, 80)])
    score.time_signatures = [TimeSignature(0, 3, 4)]
    (best,) = harmonize(score, model, tok, candidates=1, seed=0)
    check_guarantee(best.score, [(3 * TPQ, TPQ // 2, 67)])


def _two_tracks(melody_notes, accompaniment_notes) -> Score:
    score = Score(TPQ)
    for name, notes in (("Melody", melody_notes), ("Accompaniment", accompaniment_notes)):
        track = Track(name, program=0, is_drum=False)
        for onset, duration, pitch in notes:
            track.notes.append(Note(onset, duration, pitch, 80))
        score.tracks.append(track)
    return score


def test_melody_consonance_by_hand():
    # C5 for two quarters over E4 (a sixth: +1) for the first quarter and B4 (a semitone: -1) for the
    # second: 4 sixteenths at +1 and 4 at -1 -> 0; with G4 (a fourth: 0) instead of B4: 4 / 8 = 0.5
    assert melody_consonance(_two_tracks([(0, 2 * TPQ, 72)], [(0, TPQ, 64), (TPQ, TPQ, 71)])) == 0.0
    assert melody_consonance(_two_tracks([(0, 2 * TPQ, 72)], [(0, TPQ, 64), (TPQ, TPQ, 67)])) == 0.5
    assert melody_consonance(_two_tracks([(0, TPQ, 72)], [])) == 0.0  # nothing sounds with it


def test_harmony_weight_orders_candidates(tok, model):
    melody, _ = random_melody(3, 12)
    by_likelihood = harmonize(melody, model, tok, "harmony_weight=0.0", candidates=6, seed=5)
    assert [c.rank_score for c in by_likelihood] == [c.log_likelihood - c.penalty for c in by_likelihood]
    by_consonance = harmonize(melody, model, tok, "harmony_weight=1.0e6", candidates=6, seed=5)
    # the same six candidates (same seed), now ordered by consonance
    assert sorted(c.texture_ids for c in by_consonance) == sorted(c.texture_ids for c in by_likelihood)
    assert [c.consonance for c in by_consonance] == sorted((c.consonance for c in by_consonance), reverse=True)
