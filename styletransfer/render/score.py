"""A score a musician can read: the harmonization as MusicXML (music21), and engraved as SVG (verovio).

Three layouts (``LAYOUTS``; ``auto`` picks one from the tracks):

- ``chorale``: four parts that are lines (Soprano, Alto, Tenor, Bass) on two staves, as a hymnal prints
  them: soprano and alto on the treble staff, stems up and down, tenor and bass on the bass staff (a
  quartet of instruments gets the open score);
- ``open``: one staff per part, named, each in the clef its range needs (a quintet, a trio, a duet);
- ``piano``: the melody on its own staff and every other note on a piano grand staff, split at middle C
  (right hand from C4 up, left hand below): a reduction, and the layout of a piano texture.

The melody's fermatas (its "fermata" markers) are on every part's note at those onsets. Every staff carries the input's key signature, time signature and tempo, and a
melody that starts inside its first bar gets a real pickup bar (an implicit measure 0, as MuseScore writes
one). Onsets and durations are quantized to a 32nd note (the tokenizer's finest step); notes held over a bar
line are tied, beams follow the metre (music21's ``makeNotation``). A part that is a line is written note
by note, each with its own duration (a quarter note is a quarter note); overlapping notes of one piano hand
are written as chords held with ties (music21's ``chordify``), which keeps that staff one readable voice.
"""
from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path

import verovio
from music21 import chord, clef, expressions, instrument, key, layout, metadata, meter, note, stream, tempo
from music21.musicxml.m21ToXml import GeneralObjectExporter
from symusic import Score

from ..data.melody_file import fermata_quarters
from ..io import atomic_write_bytes, atomic_write_text

GRID = 8  # steps per quarter note: a 32nd note
MIDDLE_C = 60
LAYOUTS = ("auto", "chorale", "open", "piano")
CHORALE_STEMS = ("up", "down")  # the upper and the lower voice of a chorale staff
SUNG_PROGRAMS = (0, 52, 53, 54)  # parts a chorale score prints: voices (Choir Aahs...) or parts of no instrument
SVG_OPTIONS = {"pageWidth": 2100, "pageHeight": 60000, "adjustPageHeight": True, "scale": 40, "footer": "none",
               "header": "none", "breaks": "auto"}


def _q(ticks: int, tpq: int) -> Fraction:
    return Fraction(round(ticks * GRID / tpq), GRID)


def _staff(notes: list[tuple[Fraction, Fraction, int]], part: stream.Stream) -> stream.Stream:
    """``part`` holding ``notes`` (onset, duration, pitch in quarters from the first bar), chords where
    notes share onset and duration, chordified where they overlap otherwise."""
    groups: dict[tuple[Fraction, Fraction], list[int]] = {}
    for onset, duration, pitch in notes:
        groups.setdefault((onset, max(duration, Fraction(1, GRID))), []).append(pitch)
    for (onset, duration), pitches in sorted(groups.items()):
        element = note.Note(pitches[0]) if len(pitches) == 1 else chord.Chord(sorted(set(pitches)))
        for p in element.pitches:  # a MIDI number comes with an explicit natural: leave that to the key
            if p.accidental is not None and p.accidental.name == "natural":
                p.accidental = None
        element.quarterLength = duration
        part.insert(onset, element)
    ends_so_far, overlapping = Fraction(0), False
    for onset, duration in sorted(groups):
        overlapping |= onset < ends_so_far
        ends_so_far = max(ends_so_far, onset + duration)
    if overlapping:  # one voice of tied chords
        flat = part.chordify()
        for element in list(part.notes):
            part.remove(element)
        for element in flat.notes:
            part.insert(element.offset, element)
    return part


def layout_of(score: Score) -> str:
    """``auto``'s choice: a chorale for four sung lines, an open score for other parts (a quartet's
    instruments, five voices), the piano layout for a melody over one accompaniment (a piano texture, a
    model trained before parts)."""
    tracks = [t for t in score.tracks if len(t.notes) or t.name]
    if len(tracks) <= 2 and (len(tracks) < 2 or tracks[1].name == "Accompaniment"):
        return "piano"
    sung = all(t.program in SUNG_PROGRAMS for t in tracks)
    return "chorale" if len(tracks) == 4 and sung and all(_is_line(t) for t in tracks) else "open"


def resolve_layout(score: Score, layout_name: str) -> str:
    """The layout a score is written in: ``auto``'s choice, or the one asked for (a chorale's two staves
    hold four parts: other parts asked for as a chorale get an open score)."""
    if layout_name not in LAYOUTS:
        raise ValueError(f"unknown score layout {layout_name!r} (known: {', '.join(LAYOUTS)})")
    chosen = layout_of(score) if layout_name == "auto" else layout_name
    return "open" if chosen == "chorale" and len(score.tracks) != 4 else chosen


def _is_line(track) -> bool:
    """No note of the track starts while its last one sounds."""
    sounding_until = -1
    for n in sorted(track.notes, key=lambda n: n.time):
        if n.time < sounding_until:
            return False
        sounding_until = max(sounding_until, n.time + n.duration)
    return True


class _Frame:
    """The score's time frame: metre, bar length, where the first bar starts and how long a pickup is."""

    def __init__(self, score: Score):
        self.tpq = tpq = score.ticks_per_quarter
        ts = score.time_signatures
        self.num, self.den = (ts[0].numerator, ts[0].denominator) if len(ts) else (4, 4)
        self.bar = Fraction(self.num * 4, self.den)
        onsets = [_q(n.time, tpq) for t in score.tracks for n in t.notes]
        first = min(onsets, default=Fraction(0))
        self.start = self.bar * math.floor(first / self.bar)  # bars before the music are dropped
        self.lead = first - self.start  # a pickup: the silent part of the first bar
        ends = [_q(n.time, tpq) + _q(n.duration, tpq) - self.start for t in score.tracks for n in t.notes]
        self.end = self.bar * math.ceil(max(ends, default=self.bar) / self.bar)
        self.fermatas = {_q(round(q * tpq), tpq) - self.start for q in fermata_quarters(score) or ()}
        ks = score.key_signatures
        self.key = max(-7, min(7, int(ks[0].key))) if len(ks) else None

    def notes(self, track) -> list[tuple[Fraction, Fraction, int]]:
        return [(_q(n.time, self.tpq) - self.start, _q(n.duration, self.tpq), n.pitch) for n in track.notes]


def to_music21(score: Score, title: str | None = None, layout_name: str = "auto") -> stream.Score:
    """The harmonization (track 0 the melody, the others the accompaniment or the lower parts) as a music21
    score in one of ``LAYOUTS``."""
    chosen = resolve_layout(score, layout_name)
    frame = _Frame(score)
    result = stream.Score()
    result.metadata = metadata.Metadata(title=title or "")
    result.metadata.composer = ""  # else music21 signs the score "Music21"
    if chosen == "piano":
        parts = _piano_parts(score, frame, result)
    elif chosen == "chorale":
        parts = _chorale_parts(score, frame, result)
    else:
        parts = [_part_of(frame, frame.notes(t), t.name or f"Part {k + 1}", _clef_for(t)) for k, t
                 in enumerate(score.tracks)]
        for part in parts:
            result.insert(0, part)
    if len(score.tempos):
        parts[0].insert(0, tempo.MetronomeMark(number=round(score.tempos[0].qpm, 1), referent=1.0))
        parts[0].coreElementsChanged()
    return result


def _clef_for(track) -> clef.Clef:
    pitches = sorted(n.pitch for n in track.notes)
    median = pitches[len(pitches) // 2] if pitches else MIDDLE_C + 7
    if median >= MIDDLE_C:
        return clef.TrebleClef()
    return clef.Treble8vbClef() if median >= 53 else clef.BassClef()


def _part_of(frame: _Frame, notes, name: str, which_clef: clef.Clef, part=None,
             lines: bool = True) -> stream.Part:
    """One staff's part: its instrument name, clef, key, metre, notes, measures, ties, pickup and beams."""
    part = part if part is not None else stream.Part(id=name)
    part.partName = name
    sound = instrument.Instrument() if lines else instrument.Piano()
    sound.instrumentName = name
    sound.instrumentAbbreviation = name[:3] + "."
    part.insert(0, sound)
    part.insert(0, which_clef)
    if frame.key is not None:
        part.insert(0, key.KeySignature(frame.key))
    part.insert(0, meter.TimeSignature(f"{frame.num}/{frame.den}"))
    _staff(notes, part)
    _finish(part, frame)
    return part


def _finish(part: stream.Stream, frame: _Frame) -> None:
    part.makeRests(fillGaps=True, inPlace=True, refStreamOrTimeRange=[0, float(frame.end)])
    _mark_fermatas(part, frame)
    part.makeMeasures(inPlace=True)
    part.makeTies(inPlace=True)
    if frame.lead:
        _make_pickup(part, frame.bar, frame.lead)
    part.makeBeams(inPlace=True)
    part.makeAccidentals(inPlace=True, cautionaryNotImmediateRepeat=False)


def _mark_fermatas(part: stream.Stream, frame: _Frame) -> None:
    """A fermata on the note (or chord) each part sounds at each of the melody's fermata onsets."""
    if not frame.fermatas:
        return
    for element in part.notes:
        onset = Fraction(element.offset).limit_denominator(GRID * 4)
        if onset in frame.fermatas or any(onset < f < onset + Fraction(element.quarterLength)
                                          .limit_denominator(GRID * 4) for f in frame.fermatas):
            element.expressions.append(expressions.Fermata())


def _piano_parts(score: Score, frame: _Frame, result: stream.Score) -> list[stream.Part]:
    """The melody staff over a piano grand staff (every other note, split at middle C)."""
    staves = {"melody": [], "right": [], "left": []}
    for k, track in enumerate(score.tracks):
        for onset, duration, pitch in frame.notes(track):
            where = "melody" if k == 0 else "right" if pitch >= MIDDLE_C else "left"
            staves[where].append((onset, duration, pitch))
    melody = _part_of(frame, staves["melody"], "Melody", clef.TrebleClef(), lines=False)  # a piano's, as before
    right = _part_of(frame, staves["right"], "Piano", clef.TrebleClef(), stream.PartStaff(id="right"), False)
    left = _part_of(frame, staves["left"], "Piano", clef.BassClef(), stream.PartStaff(id="left"), False)
    for part in (melody, right, left):
        result.insert(0, part)
    result.insert(0, layout.StaffGroup([right, left], name="Piano", abbreviation="Pno.", symbol="brace"))
    return [melody, right, left]


def _chorale_parts(score: Score, frame: _Frame, result: stream.Score) -> list[stream.Part]:
    """Soprano and alto on a treble staff, tenor and bass on a bass staff, each staff two voices with stems
    up and down; the four parts are measured one by one, then their measures joined as voices."""
    names = [t.name or default for t, default in zip(score.tracks, ("Soprano", "Alto", "Tenor", "Bass"))]
    voices = []
    for k, track in enumerate(score.tracks):
        part = stream.Part()
        if frame.key is not None:
            part.insert(0, key.KeySignature(frame.key))
        part.insert(0, meter.TimeSignature(f"{frame.num}/{frame.den}"))
        _staff(frame.notes(track), part)
        for element in part.notes:
            element.stemDirection = CHORALE_STEMS[k % 2]
        _finish(part, frame)
        voices.append(part)
    staves = []
    for upper, lower, which_clef, label in ((0, 1, clef.TrebleClef(), "upper"), (2, 3, clef.BassClef(), "lower")):
        staff = stream.PartStaff(id=label)
        if not staves:  # the two staves are one part (one instrument), named once for its four voices
            staff.partName = ", ".join(names)
            sound = instrument.Instrument()
            sound.instrumentName = staff.partName
            sound.instrumentAbbreviation = " ".join(n[:1] + "." for n in names)
            staff.insert(0, sound)
        for m_upper, m_lower in zip(voices[upper].getElementsByClass(stream.Measure),
                                    voices[lower].getElementsByClass(stream.Measure)):
            measure = stream.Measure(number=m_upper.number)
            measure.paddingLeft = m_upper.paddingLeft
            measure.showNumber = m_upper.showNumber
            for element in m_upper.getElementsByClass((key.KeySignature, meter.TimeSignature)):
                measure.insert(element.offset, element)
            if m_upper.number == voices[upper].getElementsByClass(stream.Measure)[0].number:
                measure.insert(0, which_clef)
            for number, source in ((1, m_upper), (2, m_lower)):
                voice = stream.Voice(id=str(number))
                for element in source.notesAndRests:
                    voice.insert(element.offset, element)
                measure.insert(0, voice)
            staff.append(measure)
        staves.append(staff)
        result.insert(0, staff)
    result.insert(0, layout.StaffGroup(staves, name="", symbol="brace"))
    return staves


def _make_pickup(part: stream.Part, bar: Fraction, lead: Fraction) -> None:
    """The first bar as a pickup: its silent start cut, measure 0, implicit (not counted)."""
    measures = list(part.getElementsByClass(stream.Measure))
    first = measures[0]
    sounding = [(element.offset, element) for element in first.notes]
    for element in list(first.notesAndRests):
        first.remove(element)
    for offset, element in sounding:
        first.insert(offset - float(lead), element)
    first.makeRests(fillGaps=True, inPlace=True, refStreamOrTimeRange=[0.0, float(bar - lead)])
    first.paddingLeft = float(lead)
    first.showNumber = stream.enums.ShowNumber.NEVER
    for m in measures:
        m.number -= 1


def musicxml_bytes(score: Score, title: str | None = None, layout_name: str = "auto") -> bytes:
    return GeneralObjectExporter(to_music21(score, title, layout_name)).parse()


def engrave_svg(musicxml: bytes) -> str:
    """The score engraved by verovio, all of it on one SVG page."""
    # verovio loads its fonts per thread: a toolkit made in a worker thread (the studio's) must load them
    # itself, from the package's own data folder
    toolkit = verovio.toolkit(False)
    toolkit.setResourcePath(str(Path(verovio.__file__).parent / "data"))
    toolkit.setOptions(SVG_OPTIONS)
    if not toolkit.loadData(musicxml.decode("utf-8")):
        raise ValueError("verovio could not read the MusicXML")
    return toolkit.renderToSVG(1)


def write_score(score: Score, musicxml_path: str | os.PathLike, svg_path: str | os.PathLike | None = None,
                title: str | None = None, layout_name: str = "auto") -> tuple[Path, Path | None]:
    """Write the MusicXML (and its engraving) atomically, in one of ``LAYOUTS``."""
    data = musicxml_bytes(score, title, layout_name)
    atomic_write_bytes(Path(musicxml_path), data)
    if svg_path is not None:
        atomic_write_text(Path(svg_path), engrave_svg(data))
    return Path(musicxml_path), Path(svg_path) if svg_path else None
