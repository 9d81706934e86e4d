"""Tiny synthetic scores: the tick and tempo grid every test uses, block-chord pieces, empty and drums-only
scores, and one-track scores written in beats."""
from __future__ import annotations

import random

from symusic import Note, Score, Tempo, TimeSignature, Track

TPQ = 480
QPM = 124.0  # one of the tokenizer's 16 tempo bins, so tempo survives a round trip too
VELOCITIES = (63, 79, 95, 111)  # on the tokenizer's 16-bin velocity grid


def beats(b: float) -> int:
    return int(round(b * TPQ))


def chord_piece(seed: int, bars: int = 4, ts=(4, 4), root: int = 48) -> Score:
    """A few bars of block chords (one per bar) under a top melody of quarter and eighth notes."""
    rng = random.Random(seed)
    score = Score(TPQ)
    track = Track("Piano", program=0, is_drum=False)
    bar_len = ts[0] * 4 / ts[1]
    for bar in range(bars):
        start = bar * bar_len
        base = root + rng.choice((0, 5, 7, -3))
        for pitch in (base, base + 4, base + 7):
            track.notes.append(Note(beats(start), beats(bar_len), pitch, rng.choice(VELOCITIES)))
        t, top = 0.0, base + 19
        while t < bar_len:
            dur = rng.choice((0.5, 1.0, 1.0))
            dur = min(dur, bar_len - t)
            track.notes.append(Note(beats(start + t), beats(dur), top + rng.choice((0, 2, 4, 5, 7)), rng.choice(VELOCITIES)))
            t += dur
    score.tracks.append(track)
    score.tempos.append(Tempo(0, QPM))
    score.time_signatures.append(TimeSignature(0, *ts))
    return score


def chorale_piece(seed: int, bars: int = 4, ts=(4, 4), root: int = 48) -> Score:
    """A few bars in four named parts (Soprano, Alto, Tenor, Bass), each a line of quarter notes, with a
    half note at each bar's end (a chorale's texture, as the bundled corpus keeps it)."""
    rng = random.Random(seed)
    score = Score(TPQ)
    bar_len = ts[0] * 4 // ts[1]
    for k, name in enumerate(("Soprano", "Alto", "Tenor", "Bass")):
        track = Track(name, program=0, is_drum=False)
        pitch = root + 24 - 6 * k
        for bar in range(bars):
            t = 0
            while t < bar_len:
                dur = 2 if t == bar_len - 2 else 1
                pitch = min(root + 31 - 6 * k, max(root + 14 - 6 * k, pitch + rng.choice((-2, -1, 1, 2))))
                track.notes.append(Note(beats(bar * bar_len + t), beats(dur), pitch, rng.choice(VELOCITIES)))
                t += dur
        score.tracks.append(track)
    score.tempos.append(Tempo(0, QPM))
    score.time_signatures.append(TimeSignature(0, *ts))
    return score


def empty_score() -> Score:
    score = Score(TPQ)
    score.tracks.append(Track("Piano", program=0, is_drum=False))
    score.tempos.append(Tempo(0, QPM))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    return score


def drums_score() -> Score:
    score = Score(TPQ)
    drums = Track("Drums", program=0, is_drum=True)
    for i in range(16):
        drums.notes.append(Note(beats(i * 0.5), beats(0.25), 36 + (i % 3) * 2, 100))
    score.tracks.append(drums)
    score.tempos.append(Tempo(0, QPM))
    return score


def notes_in_beats(score: Score) -> list[tuple]:
    """(onset, pitch, duration, velocity) of every note, times in beats, sorted."""
    tpq = score.ticks_per_quarter
    return sorted((n.time / tpq, n.pitch, n.duration / tpq, n.velocity) for t in score.tracks for n in t.notes)


def part_notes_in_beats(score: Score, part: int) -> list[tuple]:
    """``notes_in_beats`` of one part: the decoded track of that program (tokens/parts.py's numbering)."""
    tpq = score.ticks_per_quarter
    return sorted((n.time / tpq, n.pitch, n.duration / tpq, n.velocity) for t in score.tracks if t.program == part
                  for n in t.notes)


def one_track_score(notes, ts=(4, 4), tpq=TPQ) -> Score:
    score = Score(tpq)
    track = Track("Piano", program=0, is_drum=False)
    for onset, pitch, dur, vel in notes:
        track.notes.append(Note(beats(onset), beats(dur), pitch, vel))
    score.tracks.append(track)
    score.tempos.append(Tempo(0, QPM))
    score.time_signatures.append(TimeSignature(0, *ts))
    return score
