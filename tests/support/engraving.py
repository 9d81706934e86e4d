"""Reading an engraved score back: what each part sounds, tied notes joined."""
from __future__ import annotations

from fractions import Fraction


def sounding(part) -> list[tuple[Fraction, Fraction, int]]:
    """(onset, duration, pitch) of every note a part sounds, tied pieces joined pitch by pitch (music21's
    stripTies joins a chord only as a whole)."""
    done, open_ = [], {}
    for element in part.flatten().notes:
        onset, length = (Fraction(x).limit_denominator(64) for x in (element.offset, element.quarterLength))
        for n in getattr(element, "notes", [element]):
            tie = n.tie.type if n.tie is not None else None
            if tie in ("stop", "continue") and n.pitch.midi in open_:
                open_[n.pitch.midi][1] += length
            else:
                open_[n.pitch.midi] = [onset, length]
            if tie in (None, "stop"):
                done.append((open_[n.pitch.midi][0], open_[n.pitch.midi][1], n.pitch.midi))
                del open_[n.pitch.midi]
    assert not open_  # every tie ends
    return sorted(done)


def source(track, shift_q: Fraction, tpq: int) -> list[tuple[Fraction, Fraction, int]]:
    """(onset, duration, pitch) of a track's notes in quarters, from ``shift_q`` (a pickup bar's start)."""
    return sorted((Fraction(n.time, tpq) - shift_q, Fraction(n.duration, tpq), n.pitch) for n in track.notes)
