"""read_melody: MIDI, MusicXML, ABC and kern in; one line in the piano range out; bad files are UserErrors.
Also the renderers (piano-roll PNG, WAV through fluidsynth)."""
from __future__ import annotations

import random
import re
from pathlib import Path
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from symusic import Note, Score, Tempo, TimeSignature, Track

from support.scores import TPQ, drums_score, empty_score
from support.transfer import melody_score
from bench import fuzz
from styletransfer.errors import UserError
from styletransfer.data.melody_file import MelodyWarning, fermata_quarters, mark_fermatas, read_melody


def notes_of(score: Score) -> list[tuple[int, int, int]]:
    """(time, duration, pitch) in quarter notes * 8 (so exact for the tests' grids)."""
    tpq = score.ticks_per_quarter
    return [(round(n.time * 8 / tpq), round(n.duration * 8 / tpq), n.pitch) for n in score.tracks[0].notes]


def read_quiet(path, **kwargs) -> tuple[Score, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        score = read_melody(path, **kwargs)
    return score, [str(w.message) for w in caught if issubclass(w.category, MelodyWarning)]


def two_tracks(tmp_path, names=("Bass", "Tune")):
    score = Score(TPQ)
    low, high = Track(names[0], program=32), Track(names[1], program=0)
    for i in range(8):
        low.notes.append(Note(i * TPQ, TPQ, 40 + i % 3, 70))
        high.notes.append(Note(i * TPQ, TPQ // 2, 70 + i, 90))
    score.tracks.extend([low, high])
    score.tempos.append(Tempo(0, 90.0))
    score.time_signatures.append(TimeSignature(0, 3, 4))
    path = tmp_path / "two.mid"
    score.dump_midi(str(path))
    return path


# ---------------------------------------------------------------- MIDI


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_monophonic_midi_round_trip(tmp_path, data):
    n = data.draw(st.integers(1, 20))
    t, notes = 0, []
    for _ in range(n):
        d = data.draw(st.integers(1, 16)) * TPQ // 4
        notes.append((t, d, data.draw(st.integers(21, 108)), 80))
        t += d + data.draw(st.sampled_from([0, 0, TPQ // 2, 2 * TPQ]))
    ts = data.draw(st.sampled_from([(2, 4), (3, 4), (4, 4), (6, 8)]))
    path = tmp_path / f"m{n}.mid"
    melody_score(notes, ts=ts, qpm=96.0).dump_midi(str(path))
    score, warned = read_quiet(path)
    assert warned == []
    assert [(n.time, n.duration, n.pitch) for n in score.tracks[0].notes] == [(a, b, c) for a, b, c, _ in notes]
    assert [(x.numerator, x.denominator) for x in score.time_signatures] == [ts]
    assert round(score.tempos[0].qpm) == 96
    assert len(score.tracks) == 1 and score.tracks[0].name == "Melody"


def test_the_highest_track_is_the_melody(tmp_path):
    path = two_tracks(tmp_path)
    score, warned = read_quiet(path)
    assert [n.pitch for n in score.tracks[0].notes] == list(range(70, 78))
    assert len(warned) == 1 and "track 1" in warned[0] and "track=" in warned[0]
    chosen, warned = read_quiet(path, track=0)
    assert [n.pitch for n in chosen.tracks[0].notes][:3] == [40, 41, 42] and warned == []
    assert [(x.numerator, x.denominator) for x in chosen.time_signatures] == [(3, 4)]


def test_a_sparse_high_track_is_not_the_melody(tmp_path):
    score = Score(TPQ)
    tune, bell = Track("Tune"), Track("Bell")
    for i in range(16):
        tune.notes.append(Note(i * TPQ, TPQ, 64 + i % 5, 80))
    bell.notes.append(Note(0, TPQ, 100, 80))  # one high note: fewer than a quarter of the tune's notes
    score.tracks.extend([tune, bell])
    path = tmp_path / "bell.mid"
    score.dump_midi(str(path))
    melody, _ = read_quiet(path)
    assert len(melody.tracks[0].notes) == 16


def test_polyphony_is_reduced_to_the_top_line(tmp_path):
    chords = [(i * TPQ, TPQ, p, 80) for i in range(4) for p in (60 + i, 64 + i, 67 + i)]
    held = [(4 * TPQ, 4 * TPQ, 79, 80)] + [(4 * TPQ + i * TPQ, TPQ, 60 + i, 60) for i in range(4)]  # inner voice
    legato = [(8 * TPQ, TPQ + TPQ // 8, 72, 80), (9 * TPQ, TPQ, 71, 80)]  # overlaps by a 32nd: legato
    path = tmp_path / "poly.mid"
    melody_score(chords + held + legato).dump_midi(str(path))
    score, warned = read_quiet(path)
    assert [n.pitch for n in score.tracks[0].notes] == [67, 68, 69, 70, 79, 72, 71]
    assert score.tracks[0].notes[-2].duration == TPQ  # the legato overlap is cut, the note kept
    assert any("polyphonic" in w and "7 of" in w for w in warned)
    # one note at a time afterwards
    notes = score.tracks[0].notes
    assert all(a.time + a.duration <= b.time for a, b in zip(notes, notes[1:]))


def test_a_higher_note_takes_over_a_held_one(tmp_path):
    path = tmp_path / "over.mid"
    melody_score([(0, 4 * TPQ, 60, 80), (TPQ, TPQ, 72, 80)]).dump_midi(str(path))
    score, warned = read_quiet(path)
    assert [(n.time, n.duration, n.pitch) for n in score.tracks[0].notes] == [(0, TPQ, 60), (TPQ, TPQ, 72)]


def test_notes_outside_the_piano_are_moved_by_octaves(tmp_path):
    path = tmp_path / "range.mid"
    melody_score([(0, TPQ, 12, 80), (TPQ, TPQ, 60, 80), (2 * TPQ, TPQ, 120, 80)]).dump_midi(str(path))
    score, warned = read_quiet(path)
    assert [n.pitch for n in score.tracks[0].notes] == [24, 60, 108]
    assert any("2 melody note(s)" in w and "21..108" in w for w in warned)


def test_unknown_suffix_but_midi_content(tmp_path):
    path = tmp_path / "tune.bin"
    melody_score([(0, TPQ, 60, 80)]).dump_midi(str(path))
    assert notes_of(read_quiet(path)[0]) == [(0, 8, 60)]


# ---------------------------------------------------------------- music21 formats


def test_musicxml(tmp_path):
    music21 = pytest.importorskip("music21")
    part = music21.stream.Part()
    part.append(music21.meter.TimeSignature("6/8"))
    part.append(music21.tempo.MetronomeMark(number=72))
    part.append(music21.key.Key("D"))
    for pitch in ("D5", "F#5", "A5", "D6"):
        part.append(music21.note.Note(pitch, quarterLength=1.5))
    part.append(music21.chord.Chord(["D4", "A4", "F#5"], quarterLength=3.0))
    score = music21.stream.Score([part])
    path = tmp_path / "tune.musicxml"
    score.write("musicxml", fp=str(path))
    melody, warned = read_quiet(path)
    assert notes_of(melody) == [(0, 12, 74), (12, 12, 78), (24, 12, 81), (36, 12, 86), (48, 24, 78)]
    assert any("polyphonic" in w for w in warned)  # the chord
    assert [(t.numerator, t.denominator) for t in melody.time_signatures] == [(6, 8)]
    assert round(melody.tempos[0].qpm) == 72
    assert [(k.key, k.tonality) for k in melody.key_signatures] == [(2, 0)]


ABC = """X:1
T:Pickup
M:3/4
L:1/4
Q:1/4=100
K:G
D/2D/2|E D G|F2 D/2D/2|E D A|G2|]
"""


def test_abc_with_a_pickup(tmp_path):
    path = tmp_path / "tune.abc"
    path.write_text(ABC)
    melody, warned = read_quiet(path)
    # the two-eighth pickup ends at the first bar line (beat 3 of a 3/4 bar), as a MIDI file would put it
    assert notes_of(melody)[:4] == [(16, 4, 62), (20, 4, 62), (24, 8, 64), (32, 8, 62)]
    assert [(t.time, t.numerator, t.denominator) for t in melody.time_signatures] == [(0, 3, 4)]
    assert round(melody.tempos[0].qpm) == 100
    assert [(k.key, k.tonality) for k in melody.key_signatures] == [(1, 0)]
    assert warned == []


KERN = """**kern
*M4/4
*MM90
*k[f#]
=1
4g
8a
8b
2cc
=2
4dd
[4cc
2cc]
==
*-
"""


def test_kern_with_a_tie(tmp_path):
    path = tmp_path / "tune.krn"
    path.write_text(KERN)
    melody, _ = read_quiet(path)
    assert notes_of(melody) == [(0, 8, 67), (8, 4, 69), (12, 4, 71), (16, 16, 72), (32, 8, 74), (40, 24, 72)]
    assert [(t.numerator, t.denominator) for t in melody.time_signatures] == [(4, 4)]
    assert round(melody.tempos[0].qpm) == 90


def test_fermatas_are_kept_as_markers_where_the_phrases_end(tmp_path):
    """A fermata becomes a "fermata" marker at its note's onset (MusicXML, kern); a melody written to MIDI
    keeps it; one without fermatas has none."""
    music21 = pytest.importorskip("music21")
    part = music21.stream.Part()
    for k, pitch in enumerate(["C5", "D5", "E5", "F5", "E5", "D5", "C5", "C5"]):
        note = music21.note.Note(pitch, quarterLength=1.0)
        if k in (3, 7):
            note.expressions.append(music21.expressions.Fermata())
        part.append(note)
    path = tmp_path / "fermatas.musicxml"
    music21.stream.Score([part]).write("musicxml", fp=str(path))
    melody, _ = read_quiet(path)
    assert fermata_quarters(melody) == [3.0, 7.0]
    midi = tmp_path / "fermatas.mid"
    midi.write_bytes(melody.dumps_midi())
    assert fermata_quarters(read_quiet(midi)[0]) == [3.0, 7.0]
    kern = tmp_path / "fermatas.krn"
    kern.write_text(KERN.replace("2cc\n=2", "2cc;\n=2"))
    assert fermata_quarters(read_quiet(kern)[0]) == [2.0]
    plain = tmp_path / "plain.abc"
    plain.write_text(ABC)
    assert fermata_quarters(read_quiet(plain)[0]) is None
    assert fermata_quarters(mark_fermatas(read_quiet(plain)[0], [5.0])) == [5.0]


def test_part_choice_in_a_score(tmp_path):
    music21 = pytest.importorskip("music21")
    upper, lower = music21.stream.Part(), music21.stream.Part()
    for i in range(4):
        upper.append(music21.note.Note(72 + i, quarterLength=1))
        lower.append(music21.note.Note(48 + i, quarterLength=1))
    path = tmp_path / "two.musicxml"
    music21.stream.Score([lower, upper]).write("musicxml", fp=str(path))
    assert [p for _, _, p in notes_of(read_quiet(path)[0])] == [72, 73, 74, 75]
    assert [p for _, _, p in notes_of(read_quiet(path, track=0)[0])] == [48, 49, 50, 51]


# ---------------------------------------------------------------- bad input


def one_line_error(path, **kwargs) -> str:
    with pytest.raises(UserError) as info:
        read_melody(path, **kwargs)
    message = str(info.value)
    assert message and "\n" not in message
    return message


def test_bad_inputs(tmp_path):
    assert "not found" in one_line_error(tmp_path / "missing.mid")
    assert "folder" in one_line_error(tmp_path)
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(random.Random(7).randbytes(600))
    assert "corrupt.mid" in one_line_error(corrupt)
    empty = tmp_path / "empty.mid"
    empty_score().dump_midi(str(empty))
    assert "no notes" in one_line_error(empty)
    drums = tmp_path / "drums.mid"
    drums_score().dump_midi(str(drums))
    assert "drums" in one_line_error(drums)
    text = tmp_path / "notes.txt"
    text.write_text("do re mi")
    assert "unknown melody format" in one_line_error(text)
    broken_xml = tmp_path / "broken.musicxml"
    broken_xml.write_text("<score-partwise><part id='P1'><measure>")
    assert "broken.musicxml" in one_line_error(broken_xml)
    empty_abc = tmp_path / "empty.abc"
    empty_abc.write_text("X:1\nT:Nothing\nK:C\n")
    one_line_error(empty_abc)
    empty_kern = tmp_path / "empty.krn"
    empty_kern.write_text("")
    one_line_error(empty_kern)


def test_bad_track_choice(tmp_path):
    path = two_tracks(tmp_path)
    assert "no track 5" in one_line_error(path, track=5)
    score = drums_score()
    score.tracks.append(Track("Tune"))
    score.tracks[1].notes.append(Note(0, TPQ, 60, 80))
    mixed = tmp_path / "mixed.mid"
    score.dump_midi(str(mixed))
    loaded = Score(str(mixed))
    drum_index = next(i for i, t in enumerate(loaded.tracks) if t.is_drum)
    assert "drums" in one_line_error(mixed, track=drum_index)
    melody, _ = read_quiet(mixed)  # by default the drums are never the melody
    assert [n.pitch for n in melody.tracks[0].notes] == [60]


# ---------------------------------------------------------------- rendering


def test_piano_roll_png(tmp_path):
    from styletransfer.render.piano_roll import piano_roll

    score = melody_score([(i * TPQ, TPQ, 72 + i, 80) for i in range(8)], ts=(3, 4))
    accompaniment = Track("Accompaniment")
    for i in range(8):
        accompaniment.notes.append(Note(i * TPQ, TPQ, 48 + i % 4, 60))
    score.tracks.append(accompaniment)
    path = piano_roll(score, tmp_path / "out" / "roll.png", title="test")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    from matplotlib import image

    assert image.imread(str(path)).shape[1] >= 800
    assert not list((tmp_path / "out").glob(".*.tmp"))  # written atomically




def test_music21_never_reads_its_pickled_cache(monkeypatch):
    """music21 would unpickle a cached parse from its shared scratch folder: every read forces the source."""
    import music21

    from styletransfer.data import melody_file

    seen = []
    real = music21.converter.parse
    monkeypatch.setattr(music21.converter, "parse", lambda *a, **k: seen.append(k) or real(*a, **k))
    # the parse itself (read_melody runs it in a forked worker, whose calls this process cannot see)
    melody_file._read_music21(Path(__file__).resolve().parents[2] / "data" / "melodies" / "greensleeves.abc", "ABC")
    assert seen and all(k.get("forceSource") is True for k in seen)


@pytest.mark.parametrize("name,fragment", [
    ("notes50k.mid", "limits.max_notes=20000"), ("bars20k.mid", "limits.max_bars=2000"),
    ("tpq1.mid", "limits.min_ticks_per_quarter=24"), ("meter_huge.abc", "limits.parse_seconds="),
    ("bomb.mxl", "uncompressed, more than limits.max_file_mb=5"), ("delta2e28.mid", "limits.max_bars"),
])
def test_limits_refuse_with_the_limit_and_how_to_raise_it(tmp_path, name, fragment):
    data = dict((n, d) for _, n, d in fuzz.hand_built())[name]
    (tmp_path / name).write_bytes(data)
    with pytest.raises(UserError, match=re.escape(fragment)) as info:
        read_melody(tmp_path / name)
    message, limit = str(info.value), re.search(r"limits\.\w+", fragment).group()
    if limit == "limits.min_ticks_per_quarter":  # a floor: the message says why, not how to lower it
        assert message.endswith(f"fewer than {fragment}: too coarse to hold a melody's rhythm"), message
    else:
        assert message.endswith(f"(raise it with --set {limit}=N)"), message


def test_meta_no_score_can_hold_is_dropped_with_a_warning(tmp_path):
    cases = dict((n, d) for _, n, d in fuzz.hand_built())
    (tmp_path / "den.mid").write_bytes(cases["den255.mid"])
    with pytest.warns(MelodyWarning, match="time signature"):
        melody = read_melody(tmp_path / "den.mid")
    assert not len(melody.time_signatures) and len(melody.tracks[0].notes) == 1
    (tmp_path / "slow.mid").write_bytes(cases["tempo0.mid"])
    with pytest.warns(MelodyWarning, match="tempo"):
        assert not len(read_melody(tmp_path / "slow.mid").tempos)
    (tmp_path / "keys.musicxml").write_bytes(cases["fifths1000.musicxml"])
    melody = read_melody(tmp_path / "keys.musicxml")  # the impossible key signature is left out
    assert not len(melody.key_signatures) and len(melody.tracks[0].notes) == 4
