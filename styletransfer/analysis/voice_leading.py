"""Voice leading of a harmonized melody: parallels, hidden fifths and octaves, voice crossing, spacing and
the bass.

Motion is read note to note from the sample at every onset (``beats.sample_beats(..., every_onset=True)``:
what sounds at each beat onset and each note onset); a *move* is one sample time to the next, so a
passing note between two beats is a move of its own, and two voices moving on different eighths form no
parallel. Spacing and the bass are judged at beat onsets only. Rates are per 100 *beat* moves (see
``voice_leading_rates``). numpy only, no music21: the transfer's search scores partial candidates with
these functions.

Definitions (``ic`` = |upper - lower| mod 12, so compound intervals count as their simple class; the
perfect classes are 0, unison/octave, and 7, fifth):

- **parallel**: a pair of voices in a perfect class at time k and the *same* class at k+1, both voices
  changing pitch class, moving in the same direction (5th -> 5th, 5th -> 12th, 8ve -> 8ve, unison ->
  octave...). Both moving by an octave (the same two pitch classes) is not a parallel; a perfect fifth to
  a diminished fifth (ic 7 -> 6) is not either.
- **contrary** (consecutive fifths/octaves by contrary motion): the same, with the voices moving in
  opposite directions (8ve -> 15th, 5th -> 12th with the upper voice rising and the lower falling).
- ``parallels`` = parallel + contrary: the textbook's "consecutive fifths and octaves", one category.
- **hidden** (direct) fifths/octaves, outer voices only: melody and bass in similar motion (both moving,
  same direction) into a perfect class that the previous time did not have (not a parallel: e.g. a third
  or a fifth into an octave), with the melody leaping (more than 2 semitones). The textbook allows it
  when the soprano moves by step, so a step is not counted.

Voices: when the harmonization is written in parts (``accompaniment_parts``: each accompaniment note's
part, 1 the highest under the melody), each part is a voice (``voices_of_parts``) and the bass line is the
lowest part's; otherwise the voices are found by pitch continuity (``separate_voices``) and the bass line
is the lowest note sounding.

The *bass* is the lowest accompaniment note sounding (``BeatSample.bass``); the *outer voices* are the
melody and that bass line, judged only where the bass is below the melody (an accompaniment note at or
above the melody with nothing under it is no bass: ``no_bass`` counts that).

Moves into a new phrase (arriving at ``breaks``: the first melody onset after a phrase end, see
``phrases.phrase_starts``) are not judged for parallels and hidden fifths: a phrase starts afresh after a
fermata, as chorale harmonization treats it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from .beats import EPS, BeatSample, beats_only, sample_beats

PERFECT = (0, 7)
STEP = 2  # semitones: a melodic step is 1 or 2
MAX_VOICE_LEAP = 12  # a voice continues to a new note at most an octave away (else a new voice starts)
OCTAVE = 12


@dataclass(frozen=True)
class Moves:
    """Per move of one pair of lines (upper, lower): ``valid`` (both sound at both beats) and the flags
    ``parallel``, ``contrary``, ``hidden`` (hidden only when the upper line leaps), ``fifth`` (the
    arriving interval class is 7; else 0). ``times`` are the onsets of the arriving beats."""

    times: np.ndarray
    valid: np.ndarray
    parallel: np.ndarray
    contrary: np.ndarray
    hidden: np.ndarray
    fifth: np.ndarray

    @property
    def parallels(self) -> np.ndarray:
        return self.parallel | self.contrary


def classify_moves(upper0, lower0, upper1, lower1) -> dict[str, np.ndarray]:
    """Flags of the moves (upper0, lower0) -> (upper1, lower1), elementwise over arrays (nan: silent).

    Keys: ``valid``, ``parallel``, ``contrary``, ``hidden`` (upper leaps), ``fifth`` (see the module's
    docstring for the definitions)."""
    u0, l0, u1, l1 = (np.asarray(a, dtype=float) for a in (upper0, lower0, upper1, lower1))
    valid = ~(np.isnan(u0) | np.isnan(l0) | np.isnan(u1) | np.isnan(l1))
    z = lambda a: np.where(valid, a, 0).astype(np.int64)
    u0, l0, u1, l1 = z(u0), z(l0), z(u1), z(l1)
    ic0, ic1 = np.abs(u0 - l0) % 12, np.abs(u1 - l1) % 12
    du, dl = u1 - u0, l1 - l0
    both_change = (du % 12 != 0) & (dl % 12 != 0)
    similar = np.sign(du) * np.sign(dl) > 0
    opposite = np.sign(du) * np.sign(dl) < 0
    perfect1 = np.isin(ic1, PERFECT)
    same = perfect1 & (ic0 == ic1)
    return {
        "valid": valid,
        "parallel": valid & same & both_change & similar,
        "contrary": valid & same & both_change & opposite,
        "hidden": valid & perfect1 & ~same & similar & (np.abs(du) > STEP),
        "fifth": valid & (ic1 == 7),
    }


def _line_moves(times: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> Moves:
    flags = classify_moves(upper[:-1], lower[:-1], upper[1:], lower[1:])
    return Moves(times[1:], flags["valid"], flags["parallel"], flags["contrary"], flags["hidden"], flags["fifth"])


def outer_moves(sample: BeatSample) -> Moves:
    """The melody–bass moves of a sample (the bass only where it is below the melody)."""
    if len(sample.times) < 2:
        e = np.zeros(0, bool)
        return Moves(np.zeros(0), e, e, e, e, e)
    bass = sample.bass
    with np.errstate(invalid="ignore"):
        bass = np.where(bass < sample.melody, bass, np.nan)
    return _line_moves(sample.times, sample.melody, bass)


def _not_at(times: np.ndarray, breaks) -> np.ndarray:
    """Mask over move arrival ``times``: True where the move does not arrive at one of ``breaks``."""
    if breaks is None or not len(breaks):
        return np.ones(len(times), bool)
    b = np.asarray(list(breaks), dtype=float)
    return np.abs(times[:, None] - b[None, :]).min(axis=1) > EPS


def parallel_moves(melody_notes, accompaniment_notes, beat: float = 1.0) -> Moves:
    """Per-move flags of the outer voices (melody and the lowest accompaniment note), note to note (the
    sample at every onset), for the search: ``moves.parallels[i]`` is a consecutive fifth or octave
    arriving at ``moves.times[i]``."""
    return outer_moves(sample_beats(melody_notes, accompaniment_notes, beat, every_onset=True))


# -------------------------------------------------------------------------------- voice separation


@dataclass(frozen=True)
class Voices:
    """``pitch[k, v]``: the pitch of voice v at time k of the sample (nan: silent); voice 0 is the melody.
    ``certain[k, v]``: the voice's step from time k-1 to k is not a guess (see ``separate_voices``)."""

    pitch: np.ndarray
    certain: np.ndarray


def separate_voices(sample: BeatSample) -> Voices:
    """The melody and the accompaniment's voices, by pitch continuity, time by time.

    1. A note still sounding from the previous time stays in its voice (a held note is one voice).
    2. The notes attacked now are matched to the previous time's other voices by minimum total squared
       pitch distance (Hungarian, ``scipy.optimize.linear_sum_assignment``); a voice continues only to a
       note at most an octave away.
    3. A note left over starts a new voice; a voice with no note now ends.

    Why not rank within the chord: the number of sounding notes changes (a piano texture, or two chorale
    voices on one pitch merged into one MIDI note), and rank would then shift every voice below the gap
    to another line. With a strictly convex cost the matching never crosses voices by itself (sorted
    order is optimal), so a crossing is found only when a voice moves past a held note or past the melody
    (which is known); two voices exchanging notes are read as no crossing.

    A step is *certain* unless it comes from a matching where the numbers of free voices and new notes
    differ: then a voice ended or began, and which one is a guess (in a chorale, the tenor leaping onto
    the bass's note merges them into one MIDI note, and pitch proximity would send the tenor elsewhere).
    Held notes and the melody are always certain. Voice numbers are reused only after a time of silence,
    so two voices never share a number across a step.
    """
    n = len(sample.times)
    if not n:
        return Voices(np.zeros((0, 1)), np.zeros((0, 1), bool))
    rows: list[dict[int, float]] = []
    unsure: list[set[int]] = []
    prev: dict[int, tuple[int, float]] = {}  # voice -> (accompaniment note row, pitch) at the previous time
    for k in range(n):
        present = sample.acc_note[k] >= 0
        held_by = {row: v for v, (row, _) in prev.items()}
        current: dict[int, tuple[int, float]] = {}
        new = []
        for row, pitch in zip(sample.acc_note[k][present].tolist(), sample.acc[k][present].tolist()):
            if row in held_by:
                current[held_by[row]] = (row, pitch)
            else:
                new.append((row, pitch))
        free = [v for v in prev if v not in current]
        guessed: set[int] = set()
        if new and free:
            cost = (np.array([prev[v][1] for v in free])[:, None] - np.array([p for _, p in new])[None, :]) ** 2
            vi, ni = linear_sum_assignment(cost)
            matched = set()
            for a, b in zip(vi.tolist(), ni.tolist()):
                if cost[a, b] <= MAX_VOICE_LEAP ** 2:
                    current[free[a]] = new[b]
                    matched.add(b)
                    if len(free) != len(new):
                        guessed.add(free[a])
            new = [x for j, x in enumerate(new) if j not in matched]
        blocked = set(prev) | set(current)
        next_id = 1
        for note in new:
            while next_id in blocked:
                next_id += 1
            current[next_id] = note
            blocked.add(next_id)
        rows.append({v: p for v, (_, p) in current.items()})
        unsure.append(guessed)
        prev = current
    width = 1 + max((max(r) for r in rows if r), default=0)
    pitch = np.full((n, width), np.nan)
    certain = np.ones((n, width), bool)
    pitch[:, 0] = sample.melody
    for k, (r, g) in enumerate(zip(rows, unsure)):
        for v, p in r.items():
            pitch[k, v] = p
        for v in g:
            certain[k, v] = False
    return Voices(pitch, certain)


def voices_of_parts(sample: BeatSample, part_of_row: np.ndarray) -> Voices:
    """The voices of a harmonization in parts: voice v is part v (the melody is voice 0), read off the
    notes sounding at each time (the highest, in a part that holds a chord); every step is certain."""
    n = len(sample.times)
    parts = np.asarray(part_of_row, int)
    width = 1 + (int(parts.max()) if len(parts) else 0)
    pitch = np.full((n, width), np.nan)
    pitch[:, 0] = sample.melody
    rows = sample.acc_note
    for j in range(rows.shape[1] if rows.ndim == 2 else 0):
        present = rows[:, j] >= 0
        voice = parts[rows[present, j]]
        k = np.flatnonzero(present)
        pitch[k, voice] = np.fmax(pitch[k, voice], sample.acc[present, j])
    return Voices(pitch, np.ones((n, width), bool))


def part_line_faults(accompaniment: np.ndarray, part_of_row: np.ndarray, part: int) -> tuple[np.ndarray, np.ndarray]:
    """``bass_line_faults`` of one part, read as the line it is: its notes in order, (repeat, leap) per move."""
    notes = accompaniment[np.asarray(part_of_row) == part]
    line = notes[np.lexsort((-notes[:, 2], notes[:, 0]))]
    line = line[np.r_[True, np.diff(line[:, 0]) > EPS]] if len(line) else line  # a chord's top note
    step = np.abs(np.diff(line[:, 2]))
    return step == 0, step > OCTAVE


@dataclass(frozen=True)
class PairMoves:
    """Per move (rows: arriving time) and voice pair (columns, ``pairs[j] = (i, j)`` into the voices of
    ``separate_voices``): ``valid`` (both voices sound at both times and both steps are certain),
    ``parallel``, ``contrary``, ``crossing`` (the two voices exchange order: strictly above, then
    strictly below)."""

    times: np.ndarray
    pairs: list[tuple[int, int]]
    valid: np.ndarray
    parallel: np.ndarray
    contrary: np.ndarray
    crossing: np.ndarray

    @property
    def parallels(self) -> np.ndarray:
        return self.parallel | self.contrary


def voice_pair_moves(sample: BeatSample, voices: Voices | None = None) -> PairMoves:
    """Parallels and crossings between every two voices (melody included) of a sample; a move with an
    uncertain step (``Voices.certain``) is left out."""
    voices = separate_voices(sample) if voices is None else voices
    certain = voices.certain
    voices = voices.pitch
    v = voices.shape[1]
    pairs = [(i, j) for i in range(v) for j in range(i + 1, v)]
    if len(voices) < 2 or not pairs:
        e = np.zeros((max(len(voices) - 1, 0), len(pairs)), bool)
        return PairMoves(sample.times[1:], pairs, e, e, e, e)
    a = voices[:, [i for i, _ in pairs]]
    b = voices[:, [j for _, j in pairs]]
    sure = certain[1:][:, [i for i, _ in pairs]] & certain[1:][:, [j for _, j in pairs]]
    flags = {key: f & sure for key, f in classify_moves(a[:-1], b[:-1], a[1:], b[1:]).items()}
    with np.errstate(invalid="ignore"):
        crossing = flags["valid"] & ((a[:-1] - b[:-1]) * (a[1:] - b[1:]) < 0)
    return PairMoves(sample.times[1:], pairs, flags["valid"], flags["parallel"], flags["contrary"], crossing)


# ----------------------------------------------------------------------------------- per beat


def spacing_faults(sample: BeatSample) -> tuple[np.ndarray, np.ndarray]:
    """(counted, fault) masks over beats. Counted: at least three distinct pitches sound (melody and
    accompaniment). Fault: two adjacent sounding pitches more than an octave apart, other than the lowest
    two (bass to tenor may be wider)."""
    p = sample.all_pitches
    n_sounding = (~np.isnan(p)).sum(axis=1)
    counted = n_sounding >= 3
    fault = np.zeros(len(p), bool)
    if p.shape[1] >= 3:
        gaps = p[:, :-1] - p[:, 1:]  # gap j: between the j-th and (j+1)-th highest
        # the lowest gap of each beat is between its last two sounding pitches: index n_sounding - 2
        upper = np.arange(gaps.shape[1])[None, :] < (n_sounding - 2)[:, None]
        with np.errstate(invalid="ignore"):
            fault = counted & ((gaps > OCTAVE) & upper).any(axis=1)
    return counted, fault


def no_bass(sample: BeatSample) -> tuple[np.ndarray, np.ndarray]:
    """(counted, fault) masks over beats. Counted: a melody note sounds. Fault: no accompaniment note
    sounds an octave or more below it."""
    counted = ~np.isnan(sample.melody)
    with np.errstate(invalid="ignore"):
        low = (sample.acc <= sample.melody[:, None] - OCTAVE).any(axis=1) if sample.acc.shape[1] else \
            np.zeros(len(counted), bool)
    return counted, counted & ~low


def bass_line_faults(sample: BeatSample) -> tuple[np.ndarray, np.ndarray]:
    """(repeat, leap) over the bass line's moves, read as a line of its own: the lowest accompaniment
    note, a new event wherever it is struck (``sample`` taken at every onset). A *repeat* strikes the pitch
    just struck again (a static bass, where Bach's bass walks: 5 of 100 of his bass moves repeat); a *leap*
    is wider than an octave, which the textbook's bass never makes (a leap that big is a missing bass as
    often as a bad one)."""
    acc = sample.acc
    if not acc.shape[1] or not len(acc):
        empty = np.zeros(0, bool)
        return empty, empty
    lowest = np.maximum((~np.isnan(acc)).sum(axis=1) - 1, 0)
    rows = np.arange(len(acc))
    struck = ~np.isnan(acc[rows, lowest]) & sample.acc_attacked[rows, lowest]
    line = acc[rows, lowest][struck]
    step = np.abs(np.diff(line))
    return step == 0, step > OCTAVE


def voice_count_faults(sample: BeatSample, parts: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(counted, fault) masks over beats. Counted: a melody note sounds. Fault: the texture (melody and
    accompaniment, distinct pitches) is not in ``parts`` parts there: more (doubled chords, a thick
    piano texture under a chorale tune) or fewer (a voice missing)."""
    counted = ~np.isnan(sample.melody)
    return counted, counted & ((~np.isnan(sample.all_pitches)).sum(axis=1) != parts)


def voice_count_time(melody: np.ndarray, accompaniment: np.ndarray, beat: float = 1.0,
                     parts: int = 4) -> tuple[float, float]:
    """(counted, fault) lengths in beats: how long a melody note sounds, and how much of that time the
    texture (melody and accompaniment, distinct pitches) is not in ``parts`` parts. ``voice_count_faults``
    only looks at beat onsets, so a fifth part struck between two beats, or a voice that stops early, goes
    unseen there; a teacher (and a listener) hears it. Read between every two note starts or ends."""
    notes = np.concatenate([melody, accompaniment])
    if not len(melody) or not len(notes):
        return 0.0, 0.0
    cuts = np.unique(np.round(notes[:, :2], 6))
    first = np.searchsorted(cuts, np.round(notes[:, 0], 6))  # the segment each note starts in ...
    stop = np.searchsorted(cuts, np.round(notes[:, 1], 6))  # ... and the one it no longer sounds in
    pitches, column = np.unique(notes[:, 2], return_inverse=True)
    change = np.zeros((len(cuts), len(pitches) + 1), int)  # per segment and pitch (last: the melody)
    np.add.at(change, (first, column), 1)
    np.add.at(change, (stop, column), -1)
    is_melody = np.arange(len(notes)) < len(melody)
    np.add.at(change[:, -1], first[is_melody], 1)
    np.add.at(change[:, -1], stop[is_melody], -1)
    sounding = np.cumsum(change, axis=0)[:-1] > 0
    counted = sounding[:, -1]
    off = counted & (sounding[:, :-1].sum(axis=1) != parts)
    length = np.diff(cuts) / beat
    return float(length[counted].sum()), float(length[off].sum())


def _rate(count, total) -> float:
    return 100.0 * count / total if total else float("nan")


def _beat_moves(beats: BeatSample, upper: np.ndarray, lower: np.ndarray) -> int:
    """Beat-to-beat moves where both lines sound at both beats."""
    ok = ~np.isnan(upper) & ~np.isnan(lower)
    return int((ok[:-1] & ok[1:]).sum()) if len(ok) > 1 else 0


def voice_leading_rates(melody_notes, accompaniment_notes, beat: float = 1.0, breaks=None, parts: int = 4,
                        accompaniment_parts=None) -> dict:
    """Rates (per 100; ``nan`` when there is nothing to count) and counts of one harmonization;
    ``accompaniment_parts``: each accompaniment note's part, when it is written in parts.

    Motion is read note to note (the sample at every onset, so a passing note between two beats is a
    move of its own and two voices moving on different eighths do not form a parallel); the rates are
    per 100 *beat* moves, so that a busy texture is not diluted by its many onsets:

    Moves arriving at ``breaks`` (phrase starts) are not judged for parallels and hidden fifths.

    - ``parallels_melody_bass``: outer-voice parallels (parallel + contrary, see the module's docstring)
      per 100 outer beat moves (beat-to-beat moves where the melody and a bass below it sound at both
      beats);
      ``parallel_melody_bass`` / ``contrary_melody_bass`` split it.
    - ``hidden_outer``: hidden fifths/octaves with a melody leap, per 100 outer beat moves.
    - ``parallels_any_voices``: voice pairs (melody included, ``separate_voices``) with parallels, summed,
      per 100 beat moves (beat-to-beat moves where at least two voices sound at both beats).
    - ``voice_crossing``: voice pairs exchanging order, per 100 beat moves.
    - ``spacing``: beats with a spacing fault per 100 beats with three or more pitches (at beat onsets).
    - ``no_bass_rate``: beats without a real bass per 100 beats with a melody note (at beat onsets).
    - ``voice_count``: beats not in ``parts`` parts (four: the chorale's texture) per 100 beats with a
      melody note (at beat onsets).
    - ``voice_count_time``: the time not in ``parts`` parts (read between every two note starts or ends),
      in beats per 100 beats with a melody note sounding; its count is in beats.
    - ``bass_repeat`` / ``bass_leap``: the bass line striking its last pitch again / leaping more than an
      octave, per 100 moves of the bass line (``bass_line_faults``; ``bass_moves`` counts them).
    """
    mel = np.asarray(melody_notes, dtype=float).reshape(-1, 3)
    acc = np.asarray(accompaniment_notes, dtype=float).reshape(-1, 3)
    sl = sample_beats(mel, acc, beat, every_onset=True)
    bt = beats_only(sl)
    outer = outer_moves(sl)
    in_parts = accompaniment_parts is not None and len(accompaniment_parts) == len(acc) and len(acc)
    voices = voices_of_parts(sl, accompaniment_parts) if in_parts else separate_voices(sl)
    pm = voice_pair_moves(sl, voices)
    judged = _not_at(outer.times, breaks)
    outer_par = outer.parallels & judged
    with np.errstate(invalid="ignore"):
        n_outer = _beat_moves(bt, bt.melody, np.where(bt.bass < bt.melody, bt.bass, np.nan))
    sounding = (~np.isnan(voices.pitch[sl.is_beat])).sum(axis=1) >= 2
    n_moves = int((sounding[:-1] & sounding[1:]).sum()) if len(sounding) > 1 else 0
    sp_counted, sp_fault = spacing_faults(bt)
    nb_counted, nb_fault = no_bass(bt)
    vc_counted, vc_fault = voice_count_faults(bt, parts)
    vct_counted, vct_fault = voice_count_time(mel, acc, beat, parts)
    b_repeat, b_leap = (part_line_faults(acc, accompaniment_parts, int(np.max(accompaniment_parts))) if in_parts
                        else bass_line_faults(sl))
    par, hid = int(outer_par.sum()), int((outer.hidden & judged).sum())
    pan, cro = int((pm.parallels & judged[:, None]).sum()), int(pm.crossing.sum())
    return {
        "parallels_melody_bass": _rate(par, n_outer),
        "parallel_melody_bass": _rate((outer.parallel & judged).sum(), n_outer),
        "contrary_melody_bass": _rate((outer.contrary & judged).sum(), n_outer),
        "hidden_outer": _rate(hid, n_outer),
        "parallels_any_voices": _rate(pan, n_moves),
        "voice_crossing": _rate(cro, n_moves),
        "spacing": _rate(sp_fault.sum(), sp_counted.sum()),
        "no_bass_rate": _rate(nb_fault.sum(), nb_counted.sum()),
        "voice_count": _rate(vc_fault.sum(), vc_counted.sum()),
        "voice_count_time": _rate(vct_fault, vct_counted),
        "bass_repeat": _rate(b_repeat.sum(), len(b_repeat)),
        "bass_leap": _rate(b_leap.sum(), len(b_leap)),
        "outer_moves": n_outer,
        "bass_moves": len(b_repeat),
        "beat_moves": n_moves,
        "parallels_melody_bass_count": par,
        "parallels_any_voices_count": pan,
        "hidden_outer_count": hid,
        "voice_crossing_count": cro,
        "spacing_count": int(sp_fault.sum()),
        "no_bass_count": int(nb_fault.sum()),
        "voice_count_count": int(vc_fault.sum()),
        "voice_count_time_count": vct_fault,
        "bass_repeat_count": int(b_repeat.sum()),
        "bass_leap_count": int(b_leap.sum()),
        "beats": len(bt.times),
    }
