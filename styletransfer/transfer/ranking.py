"""Candidates: the sampled texture decoded into melody + accompaniment tracks, penalized and scored."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from symusic import Note, Score, Track

from ..analysis.harmony import pitch_consistency
from ..analysis.notes import notes_of
from ..data.melody_file import FERMATA
from ..tokens.parts import Texture
from ..tokens.tokenizer import decode_ids
from .plan import MelodyPlan

PENALTY_NO_ACCOMPANIMENT = 10.0
PENALTY_ONE_PITCH = 5.0


@dataclass
class Candidate:
    """One harmonization: the melody on track 0, the accompaniment after it: one track per part of the style
    (Soprano, the melody, then Alto, Tenor, Bass for Bach), or one "Accompaniment" track (a piano texture, a
    model trained before parts).

    The melody's notes are the input's (quantized to the tokenizer's grid); their velocities are the ones the
    model wrote. Ticks are the input's ``ticks_per_quarter``.
    """

    score: Score
    log_likelihood: float  # mean per sampled texture id
    penalty: float
    rank_score: float  # log_likelihood - penalty + harmony_weight * consonance: candidates come best first
    accompaniment_notes: int
    texture_ids: list[int] = field(repr=False)  # the sampled model ids, all windows, without EOS
    seed: int = 0
    consonance: float = 0.0  # PCS of melody against accompaniment (0 when nothing sounds with the melody)


def melody_consonance(score: Score) -> float:
    """PCS (``metrics``) of a candidate's melody track against its other tracks (the accompaniment, or the
    lower parts); 0 when no accompaniment sounds with the melody."""
    tpq = score.ticks_per_quarter
    value = pitch_consistency(notes_of(score.tracks[0], tpq), accompaniment_notes(score))
    return 0.0 if math.isnan(value) else value


def accompaniment_notes(score: Score):
    """Every track's notes but the melody's (track 0), as ``notes_of`` rows (by onset, highest first)."""
    tpq = score.ticks_per_quarter
    rows = [notes_of(t, tpq) for t in list(score.tracks)[1:]]
    notes = np.concatenate(rows) if rows else np.zeros((0, 3))
    return notes[np.lexsort((-notes[:, 2], notes[:, 0]))] if len(notes) else notes


def decode_candidate(tokenizer, plan: MelodyPlan, ids: list[int], melody_score: Score,
                     texture: Texture | None = None) -> tuple[Score, int, float]:
    """Decode the texture (miditok's decoder) into tracks at the input's resolution: the melody first, then
    the accompaniment, one track per part of the style's ``texture`` (named as its corpus names them)
    with a tokenizer that writes parts, else one Accompaniment track."""
    texture = texture or Texture.piano()
    decoded = decode_ids(tokenizer, ids)
    src_tpq = decoded.ticks_per_quarter
    tpq = melody_score.ticks_per_quarter
    melody_keys = {(on, p) for on, p, _, _, _ in plan.notes}
    with_parts = tokenizer.grammar.parts
    count = texture.count if with_parts else 2
    names = texture.names if with_parts else ("Melody", "Accompaniment")
    tracks = [Track(names[k], program=texture.program(k) if with_parts else 0, is_drum=False) for k in range(count)]

    def scale(t: int) -> int:
        return int(round(t * tpq / src_tpq))

    # The accompaniment starts with the melody: nothing in the silent space before a pickup.
    first_onset = min((on for on, _, _, _, _ in plan.notes), default=0)
    pitches = set()
    for track in decoded.tracks:
        part = min(max(1, track.program), count - 1) if with_parts else 1
        for note in track.notes:
            new = Note(scale(note.time), max(1, scale(note.duration)), note.pitch, note.velocity)
            if (note.time, note.pitch) in melody_keys and (not with_parts or track.program == 0):
                tracks[0].notes.append(new)
            elif note.time >= first_onset:
                tracks[part].notes.append(new)
                pitches.add(note.pitch)
    for track in tracks:
        track.notes.sort(key=lambda x: (x.time, -x.pitch))
    for track in tracks[1:]:
        cut_same_pitch_overlaps(track)
    score = Score(tpq)
    score.tracks.extend(tracks)
    score.tempos = melody_score.tempos.copy()
    score.time_signatures = melody_score.time_signatures.copy()
    score.key_signatures = melody_score.key_signatures.copy()
    score.markers.extend(m for m in melody_score.markers if m.text == FERMATA)  # for the score's every part
    n_acc = sum(len(t.notes) for t in tracks[1:])
    penalty = PENALTY_NO_ACCOMPANIMENT if n_acc == 0 else PENALTY_ONE_PITCH if len(pitches) == 1 else 0.0
    return score, n_acc, penalty


def cut_same_pitch_overlaps(track: Track) -> None:
    """A note re-struck while the same pitch still sounds ends where the new one starts (in MIDI
    the first note-off would otherwise cut the second note short)."""
    last: dict[int, Note] = {}
    for note in track.notes:  # sorted by onset
        previous = last.get(note.pitch)
        if previous is not None and previous.time + previous.duration > note.time:
            previous.duration = max(1, note.time - previous.time)
        last[note.pitch] = note
