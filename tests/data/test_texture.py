"""A style's texture measured on its training pieces (data/texture.py), saved and found again (model/runs.py)."""
from __future__ import annotations

import json

from symusic import Note, Score, Track

from styletransfer.data.texture import gm_program, measure_texture
from styletransfer.model.runs import TEXTURE_FILE, save_texture, style_texture
from styletransfer.tokens.parts import Texture

TPQ = 480


def piece(path, names, chords: bool = False, seed: int = 0):
    """Parts of quarter notes (a line each), or with ``chords`` a second note under each of the lower parts'."""
    score = Score(TPQ)
    for k, name in enumerate(names):
        track = Track(name)
        for beat in range(16):
            pitch = 76 - 9 * k - (beat + seed) % 4
            track.notes.append(Note(beat * TPQ, TPQ, pitch, 80))
            if chords and k:
                track.notes.append(Note(beat * TPQ, TPQ, pitch - 4, 80))
        score.tracks.append(track)
    score.dump_midi(str(path))
    return path


def test_a_choir_s_pieces_measure_four_named_lines(tmp_path):
    paths = [piece(tmp_path / f"c{i}.mid", ("Soprano", "Alto", "Tenor", "Bass"), seed=i) for i in range(3)]
    paths.append(piece(tmp_path / "five.mid", ("Soprano", "Alto", "Tenor", "Bass", "Organ")))  # the odd one out
    paths.append(tmp_path / "missing.mid")  # unreadable: skipped
    texture = measure_texture(paths)
    assert texture.names == ("Soprano", "Alto", "Tenor", "Bass") and texture.monophonic and not texture.reason
    assert texture.programs == (52, 52, 52, 52)  # Choir Aahs: each part on its own channel, sung
    assert texture.melody_range == (73, 76)  # the soprano's pitches, from its 2nd to its 98th percentile


def test_a_keyboard_s_parts_hold_chords_and_a_piece_in_one_track_is_the_piano_texture(tmp_path):
    staves = measure_texture([piece(tmp_path / f"k{i}.mid", ("Right", "Left"), chords=True, seed=i) for i in range(2)])
    assert staves.names == ("Right", "Left") and not staves.monophonic and "chords" in staves.reason
    for chords in (False, True):  # one track, a line or with chords under its top line
        one = measure_texture([piece(tmp_path / "one.mid", ("Piano",), chords=chords)])
        assert one.names == ("Melody", "Accompaniment") and not one.monophonic
        assert one.reason == "its training pieces are not written in parts" and one.melody_range
    assert measure_texture([]) == Texture.piano("none of its training pieces could be read")


def test_general_midi_programs_by_part_name():
    assert [gm_program(n) for n in ("Violin I", "Viola", "Violoncello", "Canto", "Bassus", "Piano", "")] == \
        [40, 41, 42, 52, 52, 0, 0]


def test_a_style_s_texture_is_its_adapter_s_then_its_base_s_else_the_piano_s(tmp_path):
    base, bach, palestrina = (tmp_path / name for name in ("base", "bach", "palestrina"))
    for folder in (base, bach, palestrina):
        folder.mkdir()
    satb = Texture(("Soprano", "Alto", "Tenor", "Bass"), True, "", (52,) * 4, (62, 81))
    five = Texture(("Canto", "Quinto", "Alto", "Tenor", "Basso"), True)
    assert style_texture(base, []) == Texture.piano("the model was trained without parts")
    save_texture(base, five)
    save_texture(bach, satb)
    assert style_texture(base, []) == five  # the base alone
    assert style_texture(base, [(bach, None)]) == satb
    assert style_texture(base, [(palestrina, 0.3), (bach, 0.7)]) == satb  # a blend: its heaviest style's
    assert style_texture(base, [(palestrina, None)]) == five  # an adapter that saved none: the base's
    (bach / TEXTURE_FILE).write_text("{not json")
    assert style_texture(base, [(bach, None)]).names == ("Melody", "Accompaniment")
    (bach / TEXTURE_FILE).write_text(json.dumps({"names": ["S", "A"], "programs": [999], "melody_range": [90, 10]}))
    assert style_texture(base, [(bach, None)]) == Texture(("S", "A"), False, "", (127,), ())
