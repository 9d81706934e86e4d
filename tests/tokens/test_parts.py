"""A score in parts read as one stream (tokens/parts.py), and a corpus piece's tune (its soprano)."""
from __future__ import annotations

import numpy as np
from symusic import Note, Score, Track

from styletransfer.analysis.notes import notes_of
from styletransfer.data.melody_file import quiet_read_melody
from styletransfer.eval.judge import features
from styletransfer.tokens.parts import MAX_PARTS, Texture, in_parts, merge_parts
from styletransfer.tokens.tokenizer import build_tokenizer, decode_ids, normalize_score, token_sequence
from support.scores import TPQ


def part(name: str, notes, drum: bool = False) -> Track:
    track = Track(name, program=0, is_drum=drum)
    for onset, duration, pitch in notes:
        track.notes.append(Note(onset * TPQ, duration * TPQ, pitch, 80))
    return track


def chorale_bar() -> Score:
    """Soprano and alto in unison on the second beat (the alto holds it longer), tenor and bass apart."""
    score = Score(TPQ)
    score.tracks.extend([part("Soprano", [(0, 1, 72), (1, 1, 67), (2, 2, 72)]),
                         part("Alto", [(0, 1, 64), (1, 2, 67), (3, 1, 65)]),
                         part("Tenor", [(0, 2, 55), (2, 2, 60)]),
                         part("Bass", [(0, 4, 48)]),
                         part("Drums", [(0, 1, 36)], drum=True)])
    return score


def test_a_unison_between_parts_is_struck_once_and_held_for_the_longer():
    merged = merge_parts(chorale_bar())
    got = sorted((n.time // TPQ, n.duration // TPQ, n.pitch) for n in merged.notes)
    assert got == sorted([(0, 1, 72), (1, 2, 67), (2, 2, 72), (0, 1, 64), (3, 1, 65), (0, 2, 55), (2, 2, 60),
                          (0, 4, 48)])  # the drum left out, G4 once (two beats, the alto's)


def test_one_track_is_read_as_it_is():
    score = Score(TPQ)
    score.tracks.append(part("Piano", [(0, 1, 60), (0, 1, 64), (1, 1, 62)]))
    assert [(n.time, n.duration, n.pitch) for n in merge_parts(score).notes] == \
        [(n.time, n.duration, n.pitch) for n in score.tracks[0].notes]


def test_without_parts_the_tokenizer_merges_them_and_the_analysis_keeps_each_part_s_notes():
    """A tokenizer saved before parts reads a score in parts as its merged track (one stream cannot strike
    one pitch twice); the analysis and the judge read every part's notes, a unison in both parts."""
    in_parts = chorale_bar()
    one_track = Score(TPQ)
    one_track.tracks.append(merge_parts(in_parts))
    tok = build_tokenizer(parts=False)
    assert tok.encode(normalize_score(in_parts, tok))[0].ids == tok.encode(normalize_score(one_track, tok))[0].ids
    assert len(notes_of(one_track)) == 8 and len(notes_of(in_parts)) == 9  # G4 of soprano and alto
    assert not np.array_equal(features(in_parts), features(one_track), equal_nan=True)


def test_each_part_is_numbered_from_the_top_and_the_drums_are_left_out():
    parts = in_parts(chorale_bar())
    assert [(t.name, t.program) for t in parts] == [("Soprano", 0), ("Alto", 1), ("Tenor", 2), ("Bass", 3)]
    assert [n.pitch for n in parts[1].notes] == [64, 67, 65]  # the unison stays in both parts


def test_the_tokens_carry_each_note_s_part_and_decode_to_the_parts():
    tok = build_tokenizer()
    seq = token_sequence(tok, normalize_score(chorale_bar(), tok), encode_ids=False)
    first_onset = seq.tokens[: seq.tokens.index(next(t for t in seq.tokens if t.startswith("TimeShift")))]
    notes = [(first_onset[i], first_onset[i + 1]) for i, t in enumerate(first_onset) if t.startswith("Program")]
    assert notes == [("Program_0", "Pitch_72"), ("Program_1", "Pitch_64"), ("Program_2", "Pitch_55"),
                     ("Program_3", "Pitch_48")]  # from the top part down, each note after its part
    decoded = decode_ids(tok, seq.ids)
    tpq = decoded.ticks_per_quarter
    by_part = {t.program: sorted((n.time // tpq, n.pitch) for n in t.notes) for t in decoded.tracks}
    assert by_part[1] == [(0, 64), (1, 67), (3, 65)] and by_part[0] == [(0, 72), (1, 67), (2, 72)]


def test_part_zero_is_always_one_line():
    """A top part holding chords (a piano's right hand) keeps its top line; the notes under it join the part
    below. One track is split into its top line and an Accompaniment part."""
    score = Score(TPQ)
    score.tracks.extend([part("Right", [(0, 2, 72), (0, 2, 67), (1, 1, 64), (2, 1, 71)]),
                         part("Left", [(0, 4, 48)])])
    parts = in_parts(score)
    assert [(n.time // TPQ, n.pitch) for n in parts[0].notes] == [(0, 72), (2, 71)]  # E4 sounds under the held C
    assert sorted((n.time // TPQ, n.pitch) for n in parts[1].notes) == [(0, 48), (0, 67), (1, 64)]
    assert parts[1].name == "Left" and len(parts) == 2
    alone = Score(TPQ)
    alone.tracks.append(part("Piano", [(0, 1, 60), (0, 1, 64), (1, 1, 62)]))
    assert [(t.name, [n.pitch for n in t.notes]) for t in in_parts(alone)] == [("Piano", [64, 62]),
                                                                             ("Accompaniment", [60])]


def test_parts_past_the_eighth_join_the_lowest():
    score = Score(TPQ)
    score.tracks.extend([part(f"P{k}", [(0, 1, 90 - 3 * k)]) for k in range(10)])
    parts = in_parts(score)
    assert len(parts) == MAX_PARTS == 8
    assert sorted(n.pitch for n in parts[-1].notes) == [63, 66, 69]


def test_a_saved_texture_reads_back_and_a_malformed_one_is_the_piano_s():
    bach = Texture(("Soprano", "Alto", "Tenor", "Bass"), True, "", (52, 52, 52, 52))
    assert Texture.from_dict(bach.as_dict()) == bach
    assert Texture.from_dict({"names": "SATB"}).count == 4  # a string is read as its letters, still parts
    assert Texture.from_dict({"names": [1], "programs": ["x"]}) == Texture.piano("its texture.json is malformed")
    assert Texture.from_dict({}).names == ("Melody", "Accompaniment") and not Texture.from_dict({}).monophonic


def test_a_corpus_piece_s_tune_is_its_soprano(tmp_path):
    """The part named Soprano, wherever the file lists it; else the top part; a one-track file's top line."""
    score = chorale_bar()
    descant = part("Violin", [(0, 1, 84), (1, 1, 83), (2, 2, 84)])
    score.tracks.insert(0, descant)  # an instrument above the voices, listed first
    score.dump_midi(str(tmp_path / "chorale.mid"))
    tune = quiet_read_melody(tmp_path / "chorale.mid")
    assert [n.pitch for n in tune.tracks[0].notes] == [72, 67, 72]
    score.tracks[1].name = "Voice"  # no soprano by name: the top part
    score.dump_midi(str(tmp_path / "unnamed.mid"))
    assert [n.pitch for n in quiet_read_melody(tmp_path / "unnamed.mid").tracks[0].notes] == [84, 83, 84]
    one = Score(TPQ)
    one.tracks.append(merge_parts(chorale_bar()))
    one.dump_midi(str(tmp_path / "merged.mid"))
    assert [n.pitch for n in quiet_read_melody(tmp_path / "merged.mid").tracks[0].notes] == [72, 67, 72]  # the F under C
