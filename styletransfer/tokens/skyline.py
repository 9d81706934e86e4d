"""The top line ("skyline") of a piece, taken in token space.

Tokens put the notes of one onset highest first (see tokens/tokenizer.MstTSD), so the skyline — the top
note of each onset — is the first Pitch/Velocity/Duration triple after each time move, unless a
higher melody note is still sounding (an inner voice moving under a held soprano is not melody). Taking it
from the tokens (rather than re-encoding a melody score) costs a numpy mask instead of a second
miditok pass, and it is the same function for training pairs and for a user's melody, so the model
always sees melodies written the same way. Time tokens are all kept: two time shifts in a row where
an inner voice moved still decode to the right onset.
"""
from __future__ import annotations

import numpy as np
from symusic import Score

from ..errors import UserError
from .grammar import Grammar
from .tokenizer import base_ids_per_bar, normalize_score


def melody_mask(base_ids: np.ndarray, grammar: Grammar) -> np.ndarray:
    """Which base tokens of a texture make up its skyline (time tokens are all kept).

    With parts (``grammar.parts``) the melody is part 0, one line already (tokens/parts.in_parts): its
    notes, each with its Program token, and the time, tempo and time signature tokens.
    """
    if grammar.parts:
        return _part_zero_mask(np.asarray(base_ids, np.int64), grammar)
    ids = np.asarray(base_ids, np.int64).tolist()
    keep = np.zeros(len(ids), bool)
    is_time, is_pitch, is_note = grammar.is_time, grammar.is_pitch, grammar.is_velocity | grammar.is_duration
    pitch_of, beats_of, is_dropped = grammar.pitch_of, grammar.beats_of, grammar.is_dropped
    is_rest, is_duration = grammar.is_rest, grammar.is_duration
    # notes_end: where miditok starts a Rest (the end of every note so far, or the last tempo/time
    # signature/chord token), as its encoder and decoder do
    now, notes_end, melody_end, melody_pitch, first_at_onset = 0.0, 0.0, 0.0, -1, True
    for i, token in enumerate(ids):
        if is_time[token]:
            if is_rest[token]:
                now = max(now, notes_end)
            now += beats_of[token]
            first_at_onset = True
            keep[i] = True
        elif is_pitch[token]:
            end = now + beats_of[ids[i + 2]] if i + 2 < len(ids) and is_duration[ids[i + 2]] else now
            notes_end = max(notes_end, end)
            # first (highest) note of this onset, and not under a still-sounding higher melody note
            if first_at_onset and (now >= melody_end or pitch_of[token] > melody_pitch):
                keep[i : i + 3] = True
                melody_pitch = pitch_of[token]
                melody_end = end
            first_at_onset = False
        elif not is_note[token]:
            notes_end = max(notes_end, now)
            if not is_dropped[token]:
                keep[i] = True  # tempo, time signature, special tokens
    return keep


def _part_zero_mask(ids: np.ndarray, grammar: Grammar) -> np.ndarray:
    """Part 0's notes (Program_0 and the Pitch, Velocity and Duration after it) and every token that is
    not a note's or a Chord."""
    keep = ~(grammar.is_program | grammar.is_pitch | grammar.is_velocity | grammar.is_duration
             | grammar.is_dropped)[ids]
    starts = np.flatnonzero(grammar.is_program[ids] & (grammar.program_of[ids] == 0))
    for offset in range(4):  # Program, Pitch, Velocity, Duration
        keep[starts[starts + offset < len(ids)] + offset] = True
    return keep


def melody_ids(base_ids: np.ndarray, grammar: Grammar) -> np.ndarray:
    ids = np.asarray(base_ids)
    return ids[melody_mask(ids, grammar)]


def melody_per_bar(bars: list[np.ndarray], grammar: Grammar) -> list[np.ndarray]:
    """The skyline of a piece, cut per bar: taken over the whole piece, so a soprano held over a
    bar line still hides the inner voice moving under it in the next bar."""
    keep = melody_mask(np.concatenate(bars), grammar)
    return [b[m] for b, m in zip(bars, np.split(keep, np.cumsum([len(b) for b in bars])[:-1]))]


def melody_base_ids(melody_score: Score, tokenizer) -> np.ndarray:
    """The melody's base token ids, as a training pair's melody: encoded, then its skyline in token space."""
    score = normalize_score(melody_score, tokenizer)
    bars = base_ids_per_bar(tokenizer, score)
    if not bars:
        raise UserError("the melody has no notes in the piano range")
    ids = melody_ids(np.concatenate([np.asarray(b, np.int64) for b in bars]), tokenizer.grammar)
    return ids
