"""Candidates: the sampled texture decoded into melody + accompaniment tracks, penalized and scored."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from symusic import Note, Score, Track

from ..analysis.harmony import pitch_consistency
from ..analysis.notes import notes_of
from ..tokens.tokenizer import decode_ids
from .plan import MelodyPlan

PENALTY_NO_ACCOMPANIMENT = 10.0
PENALTY_ONE_PITCH = 5.0


@dataclass
class Candidate:
    """One harmonization: the melody on track 0 ("Melody"), the accompaniment on track 1 ("Accompaniment").

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
    """PCS (``metrics``) of a candidate's melody track against its accompaniment track; 0 when no
    accompaniment sounds with the melody."""
    tpq = score.ticks_per_quarter
    value = pitch_consistency(notes_of(score.tracks[0], tpq), notes_of(score.tracks[1], tpq))
    return 0.0 if math.isnan(value) else value


def decode_candidate(tokenizer, plan: MelodyPlan, ids: list[int], melody_score: Score) -> tuple[Score, int, float]:
    """Decode the texture (miditok's decoder) into melody + accompaniment tracks at the input's resolution."""
    decoded = decode_ids(tokenizer, ids)
    src_tpq = decoded.ticks_per_quarter
    tpq = melody_score.ticks_per_quarter
    melody_keys = {(on, p) for on, p, _, _, _ in plan.notes}
    melody = Track("Melody", program=0, is_drum=False)
    accompaniment = Track("Accompaniment", program=0, is_drum=False)

    def scale(t: int) -> int:
        return int(round(t * tpq / src_tpq))

    # The accompaniment starts with the melody: nothing in the silent space before a pickup.
    first_onset = min((on for on, _, _, _, _ in plan.notes), default=0)
    pitches = set()
    for track in decoded.tracks:
        for note in track.notes:
            new = Note(scale(note.time), max(1, scale(note.duration)), note.pitch, note.velocity)
            if (note.time, note.pitch) in melody_keys:
                melody.notes.append(new)
            elif note.time >= first_onset:
                accompaniment.notes.append(new)
                pitches.add(note.pitch)
    melody.notes.sort(key=lambda x: (x.time, -x.pitch))
    accompaniment.notes.sort(key=lambda x: (x.time, -x.pitch))
    cut_same_pitch_overlaps(accompaniment)
    score = Score(tpq)
    score.tracks.append(melody)
    score.tracks.append(accompaniment)
    score.tempos = melody_score.tempos.copy()
    score.time_signatures = melody_score.time_signatures.copy()
    score.key_signatures = melody_score.key_signatures.copy()
    n_acc = len(accompaniment.notes)
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
