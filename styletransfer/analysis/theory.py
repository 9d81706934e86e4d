"""A harmonization judged as a music-theory teacher would judge it: one flat dict of numbers.

``voice_leading_metrics(output, melody)`` splits the output into melody and accompaniment
(``notes.split_melody``) and gathers

- voice leading (``voice_leading``): ``parallels_melody_bass``, ``parallels_any_voices``,
  ``hidden_outer``, ``voice_crossing``, ``spacing``, ``no_bass_rate``, ``voice_count`` (beats not in four
  parts), ``voice_count_time`` (the time not in four parts, between the beats too), ``bass_repeat``,
  ``bass_leap``;
- the accompaniment against the melody and the key (``dissonance``): ``strong_beat_dissonance``,
  ``unexplained_chromatic``;
- cadences (``cadences``): ``authentic_cadence_rate``, ``cadence_rate``, ``final_authentic``;

with their counts and denominators. Every rate is per 100 (moves, beats, notes or phrases: see each
module); ``nan`` when there is nothing to count. docs/evaluation.md ("Voice leading and cadences")
defines each one and gives Bach's own numbers.
"""
from __future__ import annotations

import math

import numpy as np
from symusic import Score

from .beats import beat_of, time_signatures_of
from .cadences import cadence_rates, phrase_cadences, piece_key
from .dissonance import dissonance_rates
from .notes import split_melody_in_parts
from .phrases import phrase_ends, phrase_starts
from .voice_leading import voice_leading_rates

# the faults a teacher marks and counts, one name each: the search weighs them (a recipe's
# transfer.search.fault_weights names these and no others)
FAULT_KINDS = ("parallels_melody_bass", "parallels_any_voices", "hidden_outer", "voice_crossing", "spacing",
               "no_bass", "strong_beat_dissonance", "unexplained_chromatic", "voice_count", "voice_count_time",
               "bass_repeat", "bass_leap")


def fault_counts(melody_notes: np.ndarray, accompaniment_notes: np.ndarray, beat: float, time_signatures,
                 key: tuple[int, str] | None, *, parts: int, breaks=None, accompaniment_parts=None) -> dict[str, float]:
    """How many of each of ``FAULT_KINDS`` a harmonization holds (counts, not rates): what the search
    weighs. ``breaks``: phrase starts, where no parallel is judged; ``parts``: the style's texture;
    ``accompaniment_parts``: each accompaniment note's part, when it is written in parts."""
    counts = {**voice_leading_rates(melody_notes, accompaniment_notes, beat, breaks=breaks, parts=parts,
                                    accompaniment_parts=accompaniment_parts),
              **dissonance_rates(melody_notes, accompaniment_notes, beat, time_signatures, key)}
    return {kind: counts[f"{kind}_count"] for kind in FAULT_KINDS}


def theory_rates(melody_notes, accompaniment_notes, beat: float = 1.0, time_signatures=((0.0, 4, 4),),
                 fermatas=None, key: tuple[int, str] | None = None, accompaniment_parts=None) -> dict:
    """``voice_leading_metrics`` on (melody notes, accompaniment notes) arrays (``(onset_q, end_q,
    pitch)`` rows); ``fermatas``: onsets of the melody's fermata notes, when the input has them (they
    make the phrase ends); ``key``: ``(tonic pitch class, "major" | "minor")``; by default
    ``cadences.piece_key`` of all the notes (music21's key analysis), for the chromatic notes and the
    cadences alike."""
    mel = np.asarray(melody_notes, dtype=float).reshape(-1, 3)
    acc = np.asarray(accompaniment_notes, dtype=float).reshape(-1, 3)
    both = np.concatenate([mel, acc])
    if key is None:
        key = piece_key(both)
    seams = phrase_starts(mel, phrase_ends(mel, beat, time_signatures, fermatas))
    out = dict(voice_leading_rates(mel, acc, beat, breaks=seams, accompaniment_parts=accompaniment_parts))
    out.update(dissonance_rates(mel, acc, beat, time_signatures, key))
    _, cadences = phrase_cadences(mel, acc, beat, time_signatures, fermatas, key)
    rates = cadence_rates(cadences, home=key)
    rates["final_authentic_any_key"] = float(bool(cadences) and cadences[-1].kind == "authentic") \
        if cadences else math.nan
    out.update(rates)
    out["key_tonic"] = key[0]
    out["key_minor"] = float(key[1] == "minor")
    return {k: float(v) for k, v in out.items()}


def voice_leading_metrics(output: Score, melody: Score, beat: float | None = None, fermatas=None) -> dict:
    """The teacher's numbers of one harmonized ``output`` of ``melody`` (see the module's docstring).

    ``beat``: quarter notes per beat; by default from the output's first time signature (the dotted
    quarter in 6/8, 9/8, 12/8, else the quarter; ``beats.beat_of``). Strong beats and bars follow the
    output's time signatures (4/4 when it has none). ``fermatas``: onsets (quarters) of the melody's
    fermata notes, if known (MIDI does not carry them; ``cadences.fermata_onsets`` reads them from a
    music21 score).
    """
    mel, acc, parts = split_melody_in_parts(output, melody)
    source = output if len(output.time_signatures) else melody
    beat = beat_of(source) if beat is None else float(beat)
    return theory_rates(mel, acc, beat, time_signatures_of(source), fermatas, accompaniment_parts=parts)
