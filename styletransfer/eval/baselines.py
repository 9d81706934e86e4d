"""A rule-based triad harmonizer: the simple baseline every learned harmonizer has to beat.

The key is estimated from the melody (Krumhansl–Kessler profiles, preferring its last note as tonic:
``keys.estimate_key``, as the transfer does). One diatonic triad per beat is chosen by dynamic programming
(Viterbi) over the whole melody, scoring

- how much of the beat's melody (by duration) is a chord tone (the note on the beat counts double),
- a preference for the primary triads (I, IV, V; i, iv, V in minor, with the leading tone),
- a small cost for changing chord, a bonus for V -> I, and a final tonic (an authentic cadence).

The chord is voiced below the melody: its root in the bass (octave 2–3), and the two other chord tones
in close position under the lowest melody note of the stretch it lasts. Consecutive beats with the same
chord are one held chord. The output has the transfer's layout: track 0 the melody, track 1 the
accompaniment, the melody's tempos and signatures.
"""
from __future__ import annotations

import numpy as np
from symusic import Note, Score, Track

from ..keys import estimate_key, final_pitch

# (degree, quality) of the triads the harmonizer may use, with a prior bonus (primary triads first)
MAJOR_TRIADS = [(0, "maj", 1.0), (5, "maj", 0.8), (7, "maj", 0.9), (2, "min", 0.4), (9, "min", 0.5), (4, "min", 0.2)]
MINOR_TRIADS = [(0, "min", 1.0), (5, "min", 0.8), (7, "maj", 0.9), (8, "maj", 0.5), (3, "maj", 0.4), (10, "maj", 0.2)]
INTERVALS = {"maj": (0, 4, 7), "min": (0, 3, 7)}

CHORD_TONE_WEIGHT = 2.0
CHANGE_COST = 0.3
DOMINANT_TONIC_BONUS = 0.5
FINAL_TONIC_BONUS = 3.0
VELOCITY = 70


def _beat_ticks(score: Score) -> int:
    """A beat: the quarter, or the dotted quarter in compound metres (6/8, 9/8, 12/8)."""
    tpq = score.ticks_per_quarter
    if len(score.time_signatures):
        ts = score.time_signatures[0]
        if ts.denominator == 8 and ts.numerator % 3 == 0 and ts.numerator > 3:
            return tpq * 3 // 2
    return tpq


def _chord_tones_weight(notes: np.ndarray, start: int, end: int, pcs: set[int]) -> float:
    """Duration (in beats) of the melody in [start, end) that is a chord tone, the note sounding at
    ``start`` counting double; minus the same for non-chord tones."""
    total = 0.0
    for on, off, pitch in notes:
        overlap = min(off, end) - max(on, start)
        if overlap <= 0:
            continue
        weight = overlap / (end - start) * (2.0 if on <= start < off else 1.0)
        total += weight if pitch % 12 in pcs else -weight
    return total


def choose_chords(notes: np.ndarray, beats: list[tuple[int, int]], tonic: int, mode: str) -> list[tuple[int, str]]:
    """The best triad (root pitch class, quality) of each beat, by Viterbi over the scores above."""
    triads = MAJOR_TRIADS if mode == "major" else MINOR_TRIADS
    chords = [((tonic + degree) % 12, quality, prior) for degree, quality, prior in triads]
    pcs = [{(root + i) % 12 for i in INTERVALS[quality]} for root, quality, _ in chords]
    n, k = len(beats), len(chords)
    local = np.array([[CHORD_TONE_WEIGHT * _chord_tones_weight(notes, s, e, pcs[c]) + chords[c][2]
                       for c in range(k)] for s, e in beats])
    local[-1, 0] += FINAL_TONIC_BONUS
    transition = np.full((k, k), -CHANGE_COST)
    np.fill_diagonal(transition, 0.0)
    transition[2, 0] += DOMINANT_TONIC_BONUS  # V -> I (triads[2] is the dominant in both modes)
    best = local[0].copy()
    back = np.zeros((n, k), dtype=np.int64)
    for b in range(1, n):
        total = best[:, None] + transition
        back[b] = total.argmax(axis=0)
        best = total.max(axis=0) + local[b]
    path = [int(best.argmax())]
    for b in range(n - 1, 0, -1):
        path.append(int(back[b, path[-1]]))
    path.reverse()
    return [(chords[c][0], chords[c][1]) for c in path]


def _voicing(root: int, quality: str, below: int) -> list[int]:
    """Bass root in 36..47 (C2..B2) — or an octave up when the melody is high — and the other two
    chord tones close together just under ``below``."""
    bass = 36 + (root - 36) % 12
    if below - bass > 36:
        bass += 12
    upper = []
    for interval in INTERVALS[quality][1:]:
        pc = (root + interval) % 12
        pitch = below - 1 - (below - 1 - pc) % 12  # the highest pitch of this class under the melody
        if pitch - bass < 3:
            pitch += 12
        upper.append(pitch)
    return sorted({bass, *[p for p in upper if p < below]})


def harmonize(melody: Score) -> Score:
    """The melody with a triad accompaniment (see the module's docstring)."""
    notes = np.array([(n.time, n.time + n.duration, n.pitch) for t in melody.tracks for n in t.notes], dtype=np.int64)
    if not len(notes):
        raise ValueError("the melody has no notes")
    notes = notes[np.argsort(notes[:, 0], kind="stable")]
    tonic, mode = estimate_key(notes[:, 2], notes[:, 1] - notes[:, 0], last=final_pitch(notes[:, 0], notes[:, 2]))
    beat = _beat_ticks(melody)
    first, last = int(notes[0, 0]), int(notes[:, 1].max())
    starts = list(range(first, last, beat))
    beats = [(s, min(s + beat, last)) for s in starts]
    chords = choose_chords(notes, beats, tonic, mode)

    out = Score(melody.ticks_per_quarter)
    melody_track = Track("Melody", program=0, is_drum=False)
    for on, off, pitch in notes:
        melody_track.notes.append(Note(int(on), int(off - on), int(pitch), VELOCITY + 20))
    accompaniment = Track("Accompaniment", program=0, is_drum=False)
    b = 0
    while b < len(beats):
        end = b
        while end + 1 < len(beats) and chords[end + 1] == chords[b]:
            end += 1
        start_tick, end_tick = beats[b][0], beats[end][1]
        sounding = notes[(notes[:, 0] < end_tick) & (notes[:, 1] > start_tick), 2]
        below = int(sounding.min()) if len(sounding) else int(notes[:, 2].min())
        for pitch in _voicing(*chords[b], below=below):
            accompaniment.notes.append(Note(start_tick, end_tick - start_tick, pitch, VELOCITY))
        b = end + 1
    out.tracks.append(melody_track)
    out.tracks.append(accompaniment)
    out.tempos = melody.tempos.copy()
    out.time_signatures = melody.time_signatures.copy()
    out.key_signatures = melody.key_signatures.copy()
    return out
