"""A score a musician can read: the harmonization as MusicXML (music21), and engraved as SVG (verovio).

The melody is on its own staff; the accompaniment on a piano grand staff, split at middle C (right hand from
C4 up, left hand below). Every staff carries the input's key signature, time signature and tempo, and a
melody that starts inside its first bar gets a real pickup bar (an implicit measure 0, as MuseScore writes
one). Onsets and durations are quantized to a 32nd note (the tokenizer's finest step); notes held over a bar
line are tied, beams follow the metre (music21's ``makeNotation``). Overlapping notes of one hand are
written as chords held with ties (music21's ``chordify``), which keeps every staff a single readable voice.
"""
from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path

import verovio
from music21 import chord, clef, instrument, key, layout, metadata, meter, note, stream, tempo
from music21.musicxml.m21ToXml import GeneralObjectExporter
from symusic import Score

from ..io import atomic_write_bytes, atomic_write_text

GRID = 8  # steps per quarter note: a 32nd note
MIDDLE_C = 60
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


def to_music21(score: Score, title: str | None = None) -> stream.Score:
    """The harmonization (track 0 the melody, the others the accompaniment) as a music21 score."""
    tpq = score.ticks_per_quarter
    num, den = (score.time_signatures[0].numerator, score.time_signatures[0].denominator) \
        if len(score.time_signatures) else (4, 4)
    bar = Fraction(num * 4, den)
    all_notes = [(_q(n.time, tpq), _q(n.duration, tpq), n.pitch, k) for k, t in enumerate(score.tracks)
                 for n in t.notes]
    first = min((on for on, _, _, _ in all_notes), default=Fraction(0))
    start = bar * math.floor(first / bar)  # bars before the music are dropped
    lead = first - start  # a pickup: the silent part of the first bar
    staves = {"melody": [], "right": [], "left": []}
    for onset, duration, pitch, k in all_notes:
        where = "melody" if k == 0 else "right" if pitch >= MIDDLE_C else "left"
        staves[where].append((onset - start, duration, pitch))

    result = stream.Score()
    result.metadata = metadata.Metadata(title=title or "")
    melody = stream.Part(id="melody")
    melody.partName = "Melody"
    right, left = stream.PartStaff(id="right"), stream.PartStaff(id="left")
    for part, name in ((melody, "melody"), (right, "right"), (left, "left")):
        sound = instrument.Piano()
        if name == "melody":
            sound.instrumentName, sound.instrumentAbbreviation = "Melody", "Mel."
        part.insert(0, sound)
        part.insert(0, clef.BassClef() if name == "left" else clef.TrebleClef())
        if len(score.key_signatures):
            ks = score.key_signatures[0]
            part.insert(0, key.KeySignature(max(-7, min(7, int(ks.key)))))
        part.insert(0, meter.TimeSignature(f"{num}/{den}"))
        _staff(staves[name], part)
    if len(score.tempos):
        melody.insert(0, tempo.MetronomeMark(number=round(score.tempos[0].qpm, 1), referent=1.0))
    end = max((on + d for on, d, _ in (n for s in staves.values() for n in s)), default=bar)
    for part in (melody, right, left):
        part.makeRests(fillGaps=True, inPlace=True, refStreamOrTimeRange=[0, float(bar * math.ceil(end / bar))])
        part.makeMeasures(inPlace=True)
        part.makeTies(inPlace=True)
        if lead:
            _make_pickup(part, bar, lead)
        part.makeBeams(inPlace=True)
        part.makeAccidentals(inPlace=True, cautionaryNotImmediateRepeat=False)
        result.insert(0, part)
    result.insert(0, layout.StaffGroup([right, left], name="Piano", abbreviation="Pno.", symbol="brace"))
    return result


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


def musicxml_bytes(score: Score, title: str | None = None) -> bytes:
    return GeneralObjectExporter(to_music21(score, title)).parse()


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
                title: str | None = None) -> tuple[Path, Path | None]:
    """Write the MusicXML (and its engraving) atomically."""
    data = musicxml_bytes(score, title)
    atomic_write_bytes(Path(musicxml_path), data)
    if svg_path is not None:
        atomic_write_text(Path(svg_path), engrave_svg(data))
    return Path(musicxml_path), Path(svg_path) if svg_path else None
