"""The score in parts: a chorale's two staves, an open score, the piano reduction; fermatas on every part."""
from __future__ import annotations

from fractions import Fraction

import pytest
from music21 import converter, expressions, stream
from symusic import KeySignature, Note, Score, TextMeta, Tempo, TimeSignature, Track

from styletransfer.render.score import LAYOUTS, layout_of, musicxml_bytes, resolve_layout
from support.engraving import sounding, source

TPQ = 480
SATB = ("Soprano", "Alto", "Tenor", "Bass")


def chorale(names=SATB, pickup_beats: int = 1, bars: int = 3, fermata_bar: int = 2) -> Score:
    """Quarter-note parts in 4/4 starting on beat ``pickup_beats`` of bar 0 (a pickup), each a line (soprano from G4 down to the bass), a
    fermata on the first beat of ``fermata_bar``."""
    score = Score(TPQ)
    start, end = pickup_beats * TPQ, 4 * TPQ * (bars + 1)
    for k, name in enumerate(names):
        track = Track(name)
        for j, t in enumerate(range(start, end, TPQ)):
            track.notes.append(Note(t, TPQ, 67 - 7 * k + (j % 3), 80))
        score.tracks.append(track)
    score.time_signatures.append(TimeSignature(0, 4, 4))
    score.key_signatures.append(KeySignature(0, 0, 0))
    score.tempos.append(Tempo(0, 80.0))
    score.markers.append(TextMeta(4 * TPQ * fermata_bar, "fermata"))
    return score


def parse(score: Score, layout: str = "auto"):
    return converter.parse(musicxml_bytes(score, "test", layout), format="musicxml", forceSource=True)


def test_four_lines_are_a_chorale_on_two_staves_with_stems_up_and_down():
    score = chorale()
    assert layout_of(score) == "chorale" == resolve_layout(score, "auto")
    parsed = parse(score)
    treble, bass = parsed.parts[0].getElementsByClass(stream.PartStaff) or parsed.parts  # two staves of one part
    assert len(parsed.parts) == 2
    for staff, (upper, lower) in ((treble, (0, 1)), (bass, (2, 3))):
        measure = staff.getElementsByClass(stream.Measure)[1]
        voices = measure.voices
        assert len(voices) == 2
        assert {n.stemDirection for n in voices[0].notes} == {"up"}
        assert {n.stemDirection for n in voices[1].notes} == {"down"}
        heard = sorted((Fraction(n.offset).limit_denominator(64) + Fraction(measure.offset).limit_denominator(64),
                        n.pitch.midi) for v in voices for n in v.notes)
        expected = sorted((Fraction(n.time, TPQ) - 1, n.pitch) for k in (upper, lower) for n in score.tracks[k].notes
                          if 4 <= n.time // TPQ < 8)  # bar 1: the input's beats 4..7, from the pickup's start
        assert heard == expected
    # a quarter note is a quarter note: no ties anywhere in a texture of quarter notes
    assert not any(n.tie for n in parsed.flatten().notes)


def test_a_quartet_of_instruments_gets_an_open_score():
    quartet = chorale(("Violin I", "Violin II", "Viola", "Cello"))
    for track, program in zip(quartet.tracks, (40, 40, 41, 42)):
        track.program = program
    assert layout_of(quartet) == "open" and resolve_layout(quartet, "chorale") == "chorale"  # asked for: so be it
    voices = chorale()
    for track in voices.tracks:
        track.program = 52  # Choir Aahs: what the Bach style's parts play
    assert layout_of(voices) == "chorale"


def test_other_parts_get_an_open_score_one_named_staff_each():
    score = chorale(("Canto", "Quinto", "Alto", "Tenor", "Basso"))
    assert layout_of(score) == "open" and resolve_layout(score, "chorale") == "open"
    parsed = parse(score)
    assert [p.partName for p in parsed.parts] == ["Canto", "Quinto", "Alto", "Tenor", "Basso"]
    for part, track in zip(parsed.parts, score.tracks):
        assert sounding(part) == source(track, Fraction(1), TPQ)  # every note, from the pickup bar's start
    clefs = [part.recurse().getElementsByClass("Clef")[0].name for part in parsed.parts]
    assert clefs[0] == "treble" and clefs[-1] == "bass"


def test_a_melody_over_one_accompaniment_is_the_piano_layout_and_any_score_can_be_asked_for_as_one():
    score = chorale(("Melody", "Accompaniment"))
    assert layout_of(score) == "piano"
    assert len(parse(score).parts) == 3  # the melody staff and the piano's two
    assert len(parse(chorale(), "piano").parts) == 3  # a chorale as a piano reduction
    assert len(parse(chorale(), "open").parts) == 4
    with pytest.raises(ValueError, match="unknown score layout"):
        musicxml_bytes(chorale(), "x", "hymnal")
    assert LAYOUTS == ("auto", "chorale", "open", "piano")


@pytest.mark.parametrize("layout", ["chorale", "open", "piano"])
def test_the_melody_s_fermata_is_on_every_part(layout):
    parsed = parse(chorale(), layout)
    with_fermata = [n for n in parsed.flatten().notes
                    if any(isinstance(e, expressions.Fermata) for e in n.expressions)]
    # bar 2's downbeat is the input's beat 8: every part holds a note there, and no other note has one
    assert sorted(p.midi for n in with_fermata for p in n.pitches) == sorted(n.pitch for t in chorale().tracks for n in t.notes
                                                                if n.time == 8 * TPQ)
