"""Phrase ends of a melody (numpy only: the voice-leading rates skip the moves into a new phrase).

A melody note ends a phrase when it is the last note or, when the input carries fermatas (MusicXML,
kern — pass their onsets as ``fermatas``), a fermata note; that is all when fermatas are given. Otherwise
(MIDI has no fermatas) a note also ends a phrase when it is followed by a rest of at least half a beat,
or when it is *long* — at least 1.5 times the median melody note and at least a beat — and starts on a
strong beat (``beats.strong_beats``: cadences arrive on strong beats). A phrase is at least
``MIN_PHRASE_BEATS`` beats long: a candidate end closer than that to the previous end (or to the start)
is dropped, and when the last phrase is too short the end before it is dropped instead. Chorale fermatas
mostly sit on plain quarter notes, so on a chorale's MIDI the heuristics find only some phrase ends
(``cadences.fermata_onsets`` reads the fermatas from the music21 score).
"""
from __future__ import annotations

import numpy as np

from .beats import DEFAULT_TIME_SIGNATURES, EPS, strong_beats

MIN_PHRASE_BEATS = 4
LONG_NOTE = 1.5  # x the median melody note
REST_BEATS = 0.5


def phrase_ends(melody_notes, beat: float = 1.0, time_signatures=DEFAULT_TIME_SIGNATURES,
                fermatas=None) -> np.ndarray:
    """Row indices (into the melody notes, sorted by onset) of the notes that end a phrase (see the
    module's docstring). ``fermatas``: onsets (quarters) of fermata notes; when given, they and the last
    note are the phrase ends."""
    mel = monophonic(melody_notes)
    n = len(mel)
    if not n:
        return np.zeros(0, int)
    if fermatas is not None:
        f = np.asarray(list(fermatas), dtype=float)
        ends = [i for i in range(n) if len(f) and np.abs(f - mel[i, 0]).min() < 1 / 16]
        return np.array(sorted(set(ends) | {n - 1}), dtype=int)
    dur = mel[:, 1] - mel[:, 0]
    gap = np.append(mel[1:, 0] - mel[:-1, 1], np.inf)
    strong = strong_beats(mel[:, 0], beat, time_signatures)
    on_beat = np.abs(mel[:, 0] / beat - np.rint(mel[:, 0] / beat)) * beat < EPS
    long = (dur >= LONG_NOTE * np.median(dur) - EPS) & (dur >= beat - EPS)
    candidate = (gap >= REST_BEATS * beat - EPS) | (long & strong & on_beat)
    candidate[-1] = True
    ends: list[int] = []
    start = mel[0, 0]
    for i in np.flatnonzero(candidate):
        if i == n - 1:
            if ends and mel[i, 1] - mel[ends[-1], 1] < MIN_PHRASE_BEATS * beat - EPS:
                ends.pop()
            ends.append(i)
        elif mel[i, 1] - start >= MIN_PHRASE_BEATS * beat - EPS:
            ends.append(i)
            start = mel[i, 1]
    return np.array(ends, dtype=int)


def monophonic(melody_notes) -> np.ndarray:
    """The melody, one note per onset (the highest), sorted by onset."""
    mel = np.asarray(melody_notes, dtype=float).reshape(-1, 3)
    if not len(mel):
        return mel
    mel = mel[np.lexsort((-mel[:, 2], mel[:, 0]))]
    keep = np.append(True, np.diff(mel[:, 0]) > EPS)
    return mel[keep]


def phrase_starts(melody_notes, ends: np.ndarray) -> np.ndarray:
    """Onsets of the first melody note after each phrase end but the last (the seams between phrases)."""
    mel = monophonic(melody_notes)
    ends = np.asarray(ends, dtype=int)
    nxt = ends[ends + 1 < len(mel)] + 1
    return mel[nxt, 0]
