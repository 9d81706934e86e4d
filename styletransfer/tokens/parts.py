"""A score in parts read as one stream of notes, as a keyboard player reads a choir's score.

The bundled corpus keeps each piece's parts, one named track each, from the top down
(scripts/convert_music21_corpus.py). The tokenizer writes one stream of notes without parts, and one
stream cannot strike a pitch twice at one onset, so it merges the parts: a note two parts share at the
same onset (a unison, or an instrument doubling a voice) sounds once, held as long as the longer of them,
which is what the corpus held before it kept its parts. The analysis and the judges read every part's
notes (a unison is two voices).
"""
from __future__ import annotations

import numpy as np
from symusic import Note, Score, Track


def pitched_tracks(score: Score) -> list[Track]:
    """The tracks with notes that are not drums, in the score's order (the corpus: from the top down)."""
    return [t for t in score.tracks if not t.is_drum and len(t.notes)]


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
    arrays = [t.notes.numpy() for t in tracks]
    time, duration, pitch, velocity = (np.concatenate([a[k] for a in arrays])
                                       for k in ("time", "duration", "pitch", "velocity"))
    order = np.lexsort((-duration.astype(np.int64), pitch, time))  # the longest of a doubled note first
    time, duration, pitch, velocity = time[order], duration[order], pitch[order], velocity[order]
    first = np.ones(len(time), dtype=bool)
    first[1:] = (time[1:] != time[:-1]) | (pitch[1:] != pitch[:-1])
    merged.notes = Note.from_numpy(time=time[first], duration=duration[first], pitch=pitch[first],
                                   velocity=velocity[first])
    for t in tracks:
        merged.pedals.extend(t.pedals)
    return merged
