"""A score's parts as the tokenizer writes them: each note's part is its MidiTok program, from the top down.

The bundled corpus keeps each piece's parts, one named track each, from the top down
(scripts/convert_music21_corpus.py). The tokenizer writes them in one token stream in which every note
carries its part as a Program token (``Program_0`` the top part, the melody; ``Program_1`` the next...):
``in_parts`` numbers the tracks so. A piece in one track (a piano piece, a user's melody) has no parts to
keep; the voice separation it gets is the one the melody needs: its top line (each onset's highest note
not under a still-sounding higher one, the skyline) is part 0, every other note part 1, one polyphonic
accompaniment part, as the texture was before parts. Part 0 is always one line: the melody the transfer
keeps is a top line, and the model learns to write under exactly that.

``merge_parts`` is the old reading, for a tokenizer without programs (a model trained before parts): every
part in one stream, a unison struck once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from symusic import Note, Score, Track

MAX_PARTS = 8  # Program_0..7: the corpus's largest texture (Palestrina's and Bach's double choirs) fits
PIANO_PARTS = ("Melody", "Accompaniment")  # a piece in one track: the melody and one accompaniment part


@dataclass(frozen=True)
class Texture:
    """A style's parts, as its training pieces have them (data/texture.py): their names from the top (the
    first is the melody's) and whether each is one line (a choir, a quartet) or, as a piano's
    accompaniment, may hold chords."""

    names: tuple[str, ...]
    monophonic: bool
    reason: str = ""  # why the parts are not lines (a piano texture), for the terminal
    programs: tuple[int, ...] = ()  # each part's General MIDI program, for playback (0, piano, when unknown)
    melody_range: tuple[int, ...] = ()  # (lowest, highest) pitch of the melody's part, when measured

    @property
    def count(self) -> int:
        return len(self.names)

    def program(self, part: int) -> int:
        return self.programs[part] if part < len(self.programs) else 0

    @classmethod
    def piano(cls, reason: str = "") -> Texture:
        return cls(PIANO_PARTS, False, reason)

    def as_dict(self) -> dict:
        return {"names": list(self.names), "monophonic": self.monophonic, "reason": self.reason,
                "programs": list(self.programs), "melody_range": list(self.melody_range)}

    @classmethod
    def from_dict(cls, data: dict) -> Texture:
        """A saved texture (texture.json); anything malformed reads as the piano texture."""
        try:
            names = tuple(str(n)[:64] for n in data.get("names", ()))[:MAX_PARTS]
            programs = tuple(min(127, max(0, int(p))) for p in data.get("programs", ()))[:MAX_PARTS]
            span = tuple(min(127, max(0, int(p))) for p in data.get("melody_range", ()))
            span = span if len(span) == 2 and span[0] <= span[1] else ()
            reason = str(data.get("reason", ""))[:200]
            if len(names) < 2:
                return cls(PIANO_PARTS, False, reason, (), span)
            return cls(names, bool(data.get("monophonic", False)), reason, programs, span)
        except (AttributeError, TypeError, ValueError):
            return cls.piano("its texture.json is malformed")


def pitched_tracks(score: Score) -> list[Track]:
    """The tracks with notes that are not drums, in the score's order (the corpus: from the top down)."""
    return [t for t in score.tracks if not t.is_drum and len(t.notes)]


def note_arrays(tracks: list[Track]) -> dict[str, np.ndarray]:
    """The tracks' notes as one set of symusic's numpy columns (time, duration, pitch, velocity)."""
    arrays = [t.notes.numpy() for t in tracks]
    return {k: np.concatenate([a[k] for a in arrays]) for k in ("time", "duration", "pitch", "velocity")}


def skyline_mask(time: np.ndarray, duration: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """Which notes (sorted by onset, then pitch descending) make up the top line: each onset's highest
    note, unless a higher top-line note is still sounding (an inner voice under a held melody note)."""
    keep = np.zeros(len(time), bool)
    melody_end, melody_pitch, last_onset = -1, -1, None
    for i, (t, d, p) in enumerate(zip(time.tolist(), duration.tolist(), pitch.tolist())):
        if t == last_onset:
            continue
        last_onset = t
        if t >= melody_end or p > melody_pitch:
            keep[i] = True
            melody_end, melody_pitch = t + d, p
    return keep


def _track_of(name: str, program: int, notes: dict[str, np.ndarray], mask: np.ndarray | None = None) -> Track:
    track = Track(name, program=program, is_drum=False)
    cols = notes if mask is None else {k: v[mask] for k, v in notes.items()}
    track.notes = Note.from_numpy(**cols)
    return track


def _sorted_notes(tracks: list[Track]) -> dict[str, np.ndarray]:
    return _sorted_notes_of(note_arrays(tracks))


def in_parts(score: Score) -> list[Track]:
    """The score's pitched tracks as parts, each with its number from the top as its program.

    Part 0 is always one line, the melody: the top track's top line (its skyline). The top track's other
    notes (a piano's right-hand chords, a violin's double stops) join the part below; a piece in one track
    is split into its top line and the rest (named Accompaniment). Tracks past ``MAX_PARTS`` join the
    lowest part.
    """
    tracks = pitched_tracks(score)
    if not tracks:
        return []
    top = _sorted_notes(tracks[:1])
    line = skyline_mask(top["time"], top["duration"], top["pitch"])
    parts = [_track_of(tracks[0].name or "Melody", 0, top, line)]
    parts[0].pedals = tracks[0].pedals.copy()
    rest = tracks[1:]
    if not line.all():
        below = _sorted_notes(rest[:1]) if rest else None
        moved = {k: v[~line] for k, v in top.items()}
        merged = moved if below is None else {k: np.concatenate([moved[k], below[k]]) for k in moved}
        name = rest[0].name if rest else "Accompaniment"
        parts.append(_track_of(name, 1, _sorted_notes_of(merged)))
        rest = rest[1:]
    for track in rest:
        if len(parts) == MAX_PARTS:
            parts[-1].notes = Note.from_numpy(**_sorted_notes([parts[-1], track]))
            continue
        part = track.copy()
        part.program = len(parts)
        parts.append(part)
    return parts


def _sorted_notes_of(notes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    order = np.lexsort((-notes["pitch"].astype(np.int64), notes["time"]))
    return {k: v[order] for k, v in notes.items()}


def merge_parts(score: Score, name: str = "Piano") -> Track:
    """Every pitched track's notes in one track, sorted by onset then pitch; a note struck by two parts at
    the same onset and pitch is kept once, with the longer duration (and that note's velocity)."""
    tracks = pitched_tracks(score)
    merged = Track(name, program=0, is_drum=False)
    if not tracks:
        return merged
    if len(tracks) == 1:
        merged.notes = tracks[0].notes.copy()
        merged.pedals = tracks[0].pedals.copy()
        return merged
    notes = note_arrays(tracks)
    time, duration, pitch, velocity = (notes[k] for k in ("time", "duration", "pitch", "velocity"))
    order = np.lexsort((-duration.astype(np.int64), pitch, time))  # the longest of a doubled note first
    time, duration, pitch, velocity = time[order], duration[order], pitch[order], velocity[order]
    first = np.ones(len(time), dtype=bool)
    first[1:] = (time[1:] != time[:-1]) | (pitch[1:] != pitch[:-1])
    merged.notes = Note.from_numpy(time=time[first], duration=duration[first], pitch=pitch[first],
                                   velocity=velocity[first])
    for t in tracks:
        merged.pedals.extend(t.pedals)
    return merged
