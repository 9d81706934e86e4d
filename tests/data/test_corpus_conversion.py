"""The bundled corpus's conversion (scripts/convert_music21_corpus.py) keeps the parts, from the top down."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from music21 import meter, note, stream

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "convert_music21_corpus.py"
spec = importlib.util.spec_from_file_location("convert_music21_corpus", SCRIPT)
convert = importlib.util.module_from_spec(spec)
spec.loader.exec_module(convert)


def voice(name: str, notes) -> stream.Part:
    part = stream.Part()
    part.partName = name
    part.append(meter.TimeSignature("4/4"))
    for pitch, quarters in notes:
        part.append(note.Note(pitch, quarterLength=quarters))
    return part


def test_each_part_is_a_named_track_from_the_top_down():
    """A tenor holds E4 for the bar while the alto strikes E4 on beat 3 (the shape one piano track cannot
    keep: MIDI pairs same-pitch note-offs first in, first out); the file lists the bass first."""
    score = stream.Score()
    for part in (voice("Bass", [("C3", 4)]), voice("Soprano", [("C5", 2), ("G4", 2)]),
                 voice("Alto", [("G4", 2), ("E4", 2)]), voice("Tenor", [("E4", 4)])):
        score.insert(0, part)
    converted, n_notes = convert.score_to_symusic(score, [])
    assert [t.name for t in converted.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    tpq = convert.TPQ
    notes = {t.name: [(n.time // tpq, n.duration // tpq, n.pitch) for n in t.notes] for t in converted.tracks}
    assert notes["Tenor"] == [(0, 4, 64)] and notes["Alto"] == [(0, 2, 67), (2, 2, 64)]
    assert notes["Soprano"] == [(0, 2, 72), (2, 2, 67)] and n_notes == 6
    log = []
    convert.score_to_symusic(score, log)
    assert "parts reordered from the top down" in log
