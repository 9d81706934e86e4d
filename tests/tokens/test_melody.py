"""The skyline in token space: the top note of each onset, unless a higher melody note still sounds."""
from __future__ import annotations

import numpy as np
import pytest

from styletransfer.tokens import tokenizer as tk
from styletransfer.tokens.skyline import melody_ids, melody_mask
from support.scores import chord_piece, notes_in_beats, one_track_score


@pytest.fixture(scope="module")
def grammar(tokenizer):
    return tokenizer.grammar


def base_ids(tok, score) -> np.ndarray:
    return np.concatenate([np.asarray(b) for b in tk.base_ids_per_bar(tok, tk.normalize_score(score, tok))])


def melody_notes(tok, grammar, score) -> list[tuple]:
    return notes_in_beats(tk.decode_ids(tok, melody_ids(base_ids(tok, score), grammar)))


def test_token_type_tables(tokenizer, grammar):
    vocab = tokenizer.vocab
    assert grammar.pitch_of[vocab["Pitch_60"]] == 60
    assert grammar.pitch_of[vocab["Velocity_79"]] == -1
    assert grammar.beats_of[vocab["Duration_1.4.8"]] == 1.5
    assert grammar.beats_of[vocab["TimeShift_0.2.8"]] == 0.25
    assert grammar.beats_of[vocab["Rest_2.0.2"]] == 2.0
    assert grammar.beats_of[vocab["Duration_6.2.4"]] == 6.5
    assert grammar.is_time[vocab["Rest_2.0.2"]] and grammar.is_time[vocab["TimeShift_1.0.8"]]
    assert not grammar.is_time[vocab["Duration_1.0.8"]]
    assert grammar.is_dropped[vocab["Chord_maj"]] and not grammar.is_dropped[vocab["TimeSig_4/4"]]
    assert grammar.is_pitch.sum() == 89 and grammar.is_velocity.sum() == 16


def test_top_note_of_each_onset(tokenizer, grammar):
    """Block chords under a melody: the skyline is exactly the melody, with its own timing."""
    for seed in range(3):
        score = chord_piece(seed, bars=4)
        notes = notes_in_beats(score)
        onsets = sorted({n[0] for n in notes})
        expected = [max((n for n in notes if n[0] == t), key=lambda n: n[1]) for t in onsets]
        assert melody_notes(tokenizer, grammar, score) == expected
        assert len(expected) < len(notes)


def test_inner_voice_under_a_held_soprano_is_not_melody(tokenizer, grammar):
    soprano = [(0, 76, 2, 95), (2, 79, 6, 95), (8, 72, 4, 95)]  # 79 is held over the bar line
    inner = [(b, p, 1, 63) for b, p in enumerate([60, 62, 64, 65, 67, 65, 64, 62])]
    bass = [(0, 48, 4, 63), (4, 43, 4, 63), (8, 41, 4, 63)]
    score = one_track_score(soprano + inner + bass)
    assert melody_notes(tokenizer, grammar, score) == sorted(soprano)


def test_lower_line_takes_over_when_the_top_ends(tokenizer, grammar):
    top = [(0, 80, 1, 95)]
    lower = [(0, 70, 3, 63), (1, 67, 1, 63), (2, 65, 2, 63)]  # 70 still sounds, but it started with 80
    score = one_track_score(top + lower)
    assert melody_notes(tokenizer, grammar, score) == [(0.0, 80, 1.0, 95), (1.0, 67, 1.0, 63), (2.0, 65, 2.0, 63)]


def test_higher_note_under_a_held_note_is_melody(tokenizer, grammar):
    score = one_track_score([(0, 72, 4, 79), (1, 76, 1, 79), (2, 70, 1, 79), (3, 74, 1, 79)])
    # 76 rises above the held 72 (melody); 70 starts while 76... has ended but 72 does not matter any more:
    # the melody note is 76 until beat 2, so 70 at beat 2 is melody, and 74 at beat 3 too.
    assert melody_notes(tokenizer, grammar, score) == [
        (0.0, 72, 4.0, 79), (1.0, 76, 1.0, 79), (2.0, 70, 1.0, 79), (3.0, 74, 1.0, 79)]


@pytest.mark.parametrize("parts", [False, True])
def test_mask_keeps_time_tempo_and_time_signature_drops_chords(parts):
    """Without parts, the skyline's notes and every time token; with them, part 0's notes (the top line,
    tokens/parts.in_parts) with their Program tokens."""
    tokenizer = tk.build_tokenizer(parts=parts)
    score = one_track_score([(0, p, 2, 79) for p in (60, 64, 67)] + [(2, p, 2, 79) for p in (62, 65, 69)], ts=(3, 4))
    ids = base_ids(tokenizer, score)
    mask = melody_mask(ids, tokenizer.grammar)
    assert mask.dtype == bool and mask.shape == ids.shape
    kept = [tokenizer[int(i)] for i in ids[mask]]
    dropped = [tokenizer[int(i)] for i in ids[~mask]]
    part = ["Program_0"] if parts else []
    assert kept == ["TimeSig_3/4", "Tempo_124.0", *part, "Pitch_67", "Velocity_79", "Duration_2.0.8",
                    "TimeShift_2.0.8", *part, "Pitch_69", "Velocity_79", "Duration_2.0.8"]
    under = [token for pitch in (64, 60, 65, 62) for token in
             (["Program_1"] if parts else []) + [f"Pitch_{pitch}", "Velocity_79", "Duration_2.0.8"]]
    assert sorted(dropped) == sorted(under + ([] if parts else ["Chord_maj", "Chord_min"]))


def test_time_moves_where_only_an_inner_voice_moved_are_kept(tokenizer, grammar):
    """Two time shifts in a row still land the next melody note on its onset."""
    score = one_track_score([(0, 79, 3, 95), (0, 60, 1, 63), (1, 62, 1, 63), (2, 64, 1, 63), (3, 77, 0.5, 95),
                             (3.5, 76, 0.5, 95)])
    assert melody_notes(tokenizer, grammar, score) == [(0.0, 79, 3.0, 95), (3.0, 77, 0.5, 95), (3.5, 76, 0.5, 95)]


def test_melody_ids_of_a_melody_is_itself(tokenizer, grammar):
    ids = base_ids(tokenizer, one_track_score([(b, 60 + 2 * b, 1, 79) for b in range(8)]))
    assert melody_ids(ids, grammar).tolist() == ids.tolist()
    assert melody_ids(np.zeros(0, np.int64), grammar).tolist() == []


def test_rests_count_as_time(tokenizer, grammar):
    score = one_track_score([(0, 72, 1, 79), (0, 60, 1, 63), (3, 74, 0.5, 79), (3, 55, 0.5, 63), (8, 71, 2, 79)])
    kept = [tokenizer[int(i)] for i in melody_ids(base_ids(tokenizer, score), grammar)]
    assert any(t.startswith("Rest_") for t in kept)
    assert melody_notes(tokenizer, grammar, score) == [(0.0, 72, 1.0, 79), (3.0, 74, 0.5, 79), (8.0, 71, 2.0, 79)]


def test_a_rest_starts_after_the_sounding_notes(tokenizer, grammar):
    """miditok starts a Rest where the notes so far end, not at the last onset: a lower note after a rest
    that follows a long note is still melody (it used to be timed inside the long note and dropped)."""
    score = one_track_score([(0, 72, 3, 79), (4, 70, 1, 79)])
    assert melody_notes(tokenizer, grammar, score) == [(0.0, 72, 3.0, 79), (4.0, 70, 1.0, 79)]
    # an inner voice outlasting the melody note: the rest starts after it, so 74 is not under 76
    score = one_track_score([(0, 76, 1, 79), (0, 60, 3, 63), (5, 74, 1, 79), (5, 55, 1, 63)])
    ids = base_ids(tokenizer, score)
    kept = [tokenizer[int(i)] for i in ids[melody_mask(ids, grammar)]]
    assert [t for t in kept if t.startswith("Pitch")] == ["Pitch_76", "Pitch_74"]
