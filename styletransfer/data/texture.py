"""A style's texture, measured on its training pieces: how many parts, their names, whether each is a line.

The transfer writes a melody in the texture its style was trained on (transfer/rules.py): Bach's chorales in
four parts, Soprano (the melody) to Bass, each one line; a piano style (pieces in one track) as the melody
and one accompaniment part that may hold chords. Nothing here is a setting: pretraining measures the whole
training split, finetuning the composer's training pieces, and each saves what it found beside its weights
(model/runs.py's ``texture.json``).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from symusic import Score

from ..tokens.parts import PIANO_PARTS, Texture, in_parts

MELODY_RANGE_PERCENTILES = (2, 98)  # the melody part's range: its notes but the rarest extremes
LINE_OVERLAP_SHARE = 0.1  # a part is a line when at most this share of its notes start under its last one
# (a quartet's double stops: 2-9% of the notes of Beethoven's lower parts; Bach's chorales: none)
OVERLAP_TICKS_PER_QUARTER = 1 / 8  # an overlap shorter than this (a slur in the MIDI) is not two notes
# General MIDI programs for the parts the corpus names (for playback: each part on its own channel)
GM_PROGRAMS = {"violin": 40, "viola": 41, "violoncello": 42, "cello": 42, "contrabass": 43, "flute": 73,
               "oboe": 68, "clarinet": 71, "bassoon": 70, "horn": 60, "trumpet": 56, "organ": 19}
VOICE_PROGRAM = 52  # Choir Aahs: soprano, alto, tenor, bass, cantus, quintus... any part a singer takes
VOICE_WORDS = ("soprano", "alto", "tenor", "bass", "cantus", "altus", "quintus", "sextus", "septimus",
               "voice", "canto", "quinto", "sesto", "basso", "superius", "contratenor", "triplum", "motetus")


def gm_program(name: str) -> int:
    """The General MIDI program that plays a part of this name (piano when the name says nothing)."""
    words = name.lower()
    for word, program in GM_PROGRAMS.items():
        if word in words:
            return program
    return VOICE_PROGRAM if any(word in words for word in VOICE_WORDS) else 0


def overlap_share(score_parts, tpq: int) -> float:
    """The share of the lower parts' notes that start while their part's last note still sounds."""
    tolerance = tpq * OVERLAP_TICKS_PER_QUARTER
    overlapping = total = 0
    for part in score_parts[1:]:
        notes = part.notes.numpy()
        if len(notes["time"]) < 2:
            continue
        order = np.argsort(notes["time"], kind="stable")
        time, end = notes["time"][order], (notes["time"] + notes["duration"])[order]
        sounding_until = np.maximum.accumulate(end)[:-1]
        overlapping += int((sounding_until - time[1:] > tolerance).sum())
        total += len(time)
    return overlapping / total if total else 0.0


def measure_texture(midi_paths: list[str | Path]) -> Texture:
    """The texture most of these pieces have: the commonest number of parts (as the tokenizer reads them,
    tokens/parts.in_parts), each part's commonest name among the pieces with that many, and whether their
    lower parts are lines. Unreadable files are skipped; no piece in parts gives the piano texture."""
    found = []
    for path in midi_paths:
        try:
            score = Score(str(path))
        except Exception:  # noqa: BLE001 - a corrupt file is data prepare's to report
            continue
        parts = in_parts(score)
        if parts:
            found.append((parts, score.ticks_per_quarter))
    if not found:
        return Texture.piano("none of its training pieces could be read")
    count = Counter(len(parts) for parts, _ in found).most_common(1)[0][0]
    typical = [(parts, tpq) for parts, tpq in found if len(parts) == count]
    names = []
    for k in range(count):
        named = Counter(parts[k].name.strip() for parts, _ in typical if parts[k].name.strip())
        names.append(named.most_common(1)[0][0] if named else f"Part {k + 1}")
    tops = np.concatenate([parts[0].notes.numpy()["pitch"] for parts, _ in found]).astype(float)
    melody_range = tuple(int(round(x)) for x in np.percentile(tops, MELODY_RANGE_PERCENTILES))
    one_track = sum(1 for parts, _ in typical if parts[-1].name == "Accompaniment") > len(typical) / 2
    if one_track or count < 2:
        return Texture(PIANO_PARTS, False, "its training pieces are not written in parts", (), melody_range)
    shares = [overlap_share(parts, tpq) for parts, tpq in typical]
    lines = float(np.median(shares)) <= LINE_OVERLAP_SHARE
    names[0] = names[0] or "Melody"
    return Texture(tuple(names), lines, "" if lines else "its parts hold chords (a keyboard texture)",
                   tuple(gm_program(n) for n in names), melody_range)
