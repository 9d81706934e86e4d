"""Melodies: the top line ("skyline") of a piece, taken in token space.

Tokens put the notes of one onset highest first (see tokenizer.MstTSD), so the skyline — the top
note of each onset — is the first Pitch/Velocity/Duration triple after each time move, unless a
higher melody note is still sounding (an inner voice moving under a held soprano is not melody). Taking it
from the tokens (rather than re-encoding a melody score) costs a numpy mask instead of a second
miditok pass, and it is the same function for training pairs and for a user's melody, so the model
always sees melodies written the same way. Time tokens are all kept: two time shifts in a row where
an inner voice moved still decode to the right onset.
"""
from __future__ import annotations

import numpy as np

TIME_TYPES = ("TimeShift", "Rest")
DROPPED_TYPES = ("Chord",)


class TokenTypes:
    """Per base-token-id lookup tables of the token types the skyline needs."""

    def __init__(self, tokenizer):
        size = len(tokenizer.vocab)  # base vocabulary (before BPE)
        types = np.array([tokenizer[i].split("_")[0] for i in range(size)])
        self.is_time = np.isin(types, TIME_TYPES)
        self.is_pitch = types == "Pitch"
        self.is_velocity = types == "Velocity"
        self.is_duration = types == "Duration"
        self.is_dropped = np.isin(types, DROPPED_TYPES)
        self.pitch_of = np.full(size, -1, np.int16)
        self.beats_of = np.zeros(size)  # TimeShift/Rest/Duration values in beats
        for i in range(size):
            kind, _, value = tokenizer[i].partition("_")
            if kind == "Pitch":
                self.pitch_of[i] = int(value)
            elif kind in (*TIME_TYPES, "Duration"):
                beats, pos, res = (int(x) for x in value.split("."))
                self.beats_of[i] = beats + pos / res


def melody_mask(base_ids: np.ndarray, types: TokenTypes) -> np.ndarray:
    """Which base tokens of a texture make up its skyline (time tokens are all kept)."""
    ids = np.asarray(base_ids, np.int64).tolist()
    keep = np.zeros(len(ids), bool)
    is_time, is_pitch, is_note = types.is_time, types.is_pitch, types.is_velocity | types.is_duration
    pitch_of, beats_of, is_dropped = types.pitch_of, types.beats_of, types.is_dropped
    now, melody_end, melody_pitch, first_at_onset = 0.0, 0.0, -1, True
    for i, token in enumerate(ids):
        if is_time[token]:
            now += beats_of[token]
            first_at_onset = True
            keep[i] = True
        elif is_pitch[token]:
            # first (highest) note of this onset, and not under a still-sounding higher melody note
            if first_at_onset and (now >= melody_end or pitch_of[token] > melody_pitch):
                keep[i : i + 3] = True
                melody_pitch = pitch_of[token]
                if i + 2 < len(ids):
                    melody_end = now + beats_of[ids[i + 2]]
            first_at_onset = False
        elif not is_note[token] and not is_dropped[token]:
            keep[i] = True  # tempo, time signature, special tokens
    return keep


def melody_ids(base_ids: np.ndarray, types: TokenTypes) -> np.ndarray:
    ids = np.asarray(base_ids)
    return ids[melody_mask(ids, types)]
