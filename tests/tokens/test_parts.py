"""A score in parts read as one stream (tokens/parts.py), and a corpus piece's tune (its soprano)."""
from __future__ import annotations

import numpy as np
from symusic import Note, Score, Track

from styletransfer.analysis.notes import notes_of
from styletransfer.data.melody_file import quiet_read_melody
from styletransfer.eval.judge import features
from styletransfer.tokens.parts import merge_parts
from styletransfer.tokens.tokenizer import build_tokenizer, normalize_score
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


def test_the_tokenizer_merges_parts_and_the_analysis_keeps_each_part_s_notes():
    """The tokenizer reads a score in parts as its merged track (one stream cannot strike one pitch twice);
    the analysis and the judge read every part's notes, a unison in both parts (two voices sing it)."""
    in_parts = chorale_bar()
    one_track = Score(TPQ)
    one_track.tracks.append(merge_parts(in_parts))
    tok = build_tokenizer()
    assert tok.encode(normalize_score(in_parts, tok))[0].ids == tok.encode(normalize_score(one_track, tok))[0].ids
    assert len(notes_of(one_track)) == 8 and len(notes_of(in_parts)) == 9  # G4 of soprano and alto
    assert not np.array_equal(features(in_parts), features(one_track), equal_nan=True)


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
