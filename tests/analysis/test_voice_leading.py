"""Voice leading, dissonance and cadences on tiny hand-written progressions; every expected value is
worked out in a comment.

Pitches: C2 = 36, C3 = 48, C4 = 60, C5 = 72. Times in quarter notes. A progression is written one chord
per beat as (melody pitch, accompaniment pitches); ``ic`` = |upper - lower| mod 12.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from symusic import Note, Score, TimeSignature, Track

from styletransfer.eval.baselines import harmonize
from styletransfer.analysis.beats import beat_of, sample_beats, strong_beats
from styletransfer.analysis.cadences import (
    BeatChord,
    cadence_rates,
    classify,
    fermata_onsets,
    phrase_cadences,
    phrase_ends,
)
from styletransfer.analysis.dissonance import chromatic_notes, dissonance_rates
from styletransfer.analysis.theory import theory_rates, voice_leading_metrics
from styletransfer.analysis.voice_leading import (
    classify_moves,
    parallel_moves,
    separate_voices,
    voice_leading_rates,
)

ROOT = Path(__file__).resolve().parents[2]
TPQ = 480
C_MAJOR = (0, "major")


def progression(*chords, dur: float = 1.0, start: float = 0.0):
    """(melody notes, accompaniment notes) of chords ``(melody pitch, [accompaniment pitches])``, one
    per ``dur`` quarters; a melody pitch of None is a rest."""
    mel, acc = [], []
    for i, (m, a) in enumerate(chords):
        on = start + i * dur
        if m is not None:
            mel.append((on, on + dur, m))
        acc += [(on, on + dur, p) for p in a]
    return np.array(mel, float).reshape(-1, 3), np.array(acc, float).reshape(-1, 3)


def rates(chords, **kw):
    mel, acc = progression(*chords, **kw)
    return voice_leading_rates(mel, acc, 1.0)


# ------------------------------------------------------------------------------------ beat sampling


def test_sample_beats_holds_and_attacks():
    mel = np.array([[0, 2, 72], [2, 3, 74]], float)
    acc = np.array([[0, 1, 48], [0, 3, 64], [1.5, 2.5, 55]], float)
    s = sample_beats(mel, acc, 1.0)
    # Beats 0, 1, 2 (the last note ends at 3). Beat 1: C5 held, E4 held, C3 ended at 1 (end is exclusive),
    # G3 starts at 1.5, so it only sounds at beat 2.
    np.testing.assert_allclose(s.times, [0, 1, 2])
    np.testing.assert_allclose(s.melody, [72, 72, 74])
    np.testing.assert_allclose(s.bass, [48, 64, 55])
    assert s.acc_attacked[0].tolist() == [True, True]  # E4 and C3 both start at 0
    assert not s.acc_attacked[1, 0]  # E4 is held at beat 1
    every = sample_beats(mel, acc, 1.0, every_onset=True)
    np.testing.assert_allclose(every.times, [0, 1, 1.5, 2])  # plus the onset of G3
    assert every.is_beat.tolist() == [True, True, False, True]


def test_beat_and_strong_beats_by_metre():
    s68 = Score(TPQ)
    s68.time_signatures.append(TimeSignature(0, 6, 8))
    assert beat_of(s68) == 1.5 and beat_of(Score(TPQ)) == 1.0
    # 4/4: beats 1 and 3 of each bar (times 0, 2, 4, 6); 3/4: the downbeat (0, 3); 6/8 in dotted quarters:
    # the downbeat (0, 3), 12/8 (four dotted quarters): 0 and 3.
    assert strong_beats(np.arange(8.0), 1.0).tolist() == [1, 0, 1, 0, 1, 0, 1, 0]
    assert strong_beats(np.arange(6.0), 1.0, ((0, 3, 4),)).tolist() == [1, 0, 0, 1, 0, 0]
    assert strong_beats(np.arange(4) * 1.5, 1.5, ((0, 6, 8),)).tolist() == [1, 0, 1, 0]
    assert strong_beats(np.arange(4) * 1.5, 1.5, ((0, 12, 8),)).tolist() == [1, 0, 1, 0]
    # 3/4 then 2/4 from time 3: bars at 0, 3, 5, 7.
    assert strong_beats(np.arange(8.0), 1.0, ((0, 3, 4), (3, 2, 4))).tolist() == [1, 0, 0, 1, 0, 1, 0, 1]


# ---------------------------------------------------------------------------------------- parallels


def test_parallel_fifths_and_octaves_in_the_outer_voices():
    # C-G to D-A: melody G4 -> A4 over bass C3 -> D3: 67-48 = 19 (a twelfth, ic 7) to 69-50 = 19, both
    # up a step: parallel fifths. One outer move, one parallel: 100 per 100 moves.
    r = rates([(67, [48]), (69, [50])])
    assert r["parallels_melody_bass"] == 100 and r["parallel_melody_bass"] == 100
    assert r["contrary_melody_bass"] == 0 and r["outer_moves"] == 1
    # Octaves: C5/C3 (ic 0) to D5/D3 (ic 0), both up.
    assert rates([(72, [48]), (74, [50])])["parallels_melody_bass"] == 100
    # The same pitch classes an octave apart are not a parallel: G4/C3 -> G5/C3 (the bass holds) and
    # G4/C3 -> G5/C2 (both move by octaves: the pitch classes do not change).
    assert rates([(67, [48]), (79, [48])])["parallels_melody_bass"] == 0
    assert rates([(67, [48]), (79, [36])])["parallels_melody_bass"] == 0
    # A fifth to a diminished fifth is not a parallel: G4/C4 (ic 7) -> F4/B3 (ic 6).
    assert rates([(67, [60]), (65, [59])])["parallels_melody_bass"] == 0


def test_contrary_octaves_count_as_parallels():
    # Melody G4 -> C5 (up 5), bass G2 -> C2 (down 7): 67-43 = 24 (ic 0) to 72-36 = 36 (ic 0), contrary.
    r = rates([(67, [43]), (72, [36])])
    assert r["contrary_melody_bass"] == 100 and r["parallel_melody_bass"] == 0
    assert r["parallels_melody_bass"] == 100
    f = classify_moves([67], [43], [72], [36])
    assert f["contrary"].tolist() == [True] and f["parallel"].tolist() == [False]


GOOD_FOUR_PART = [
    (72, [48, 55, 64]),  # I:  C3 G3 E4 | C5
    (72, [53, 57, 65]),  # IV: F3 A3 F4 | C5 (the common tone C5 re-attacked: no motion)
    (67, [55, 59, 62]),  # V:  G3 B3 D4 | G4
    (67, [48, 60, 64]),  # I:  C3 C4 E4 | G4
]


def test_a_correct_four_part_progression_has_no_faults():
    # Every pair, every move (worked out): I -> IV: B-A 48/64 (ic 4) -> 53/65 (ic 0) is a hidden octave
    # between inner voices (not counted: hidden is outer only); the soprano holds, so no outer motion.
    # IV -> V: B-T thirds 53/57 -> 55/59; B-A 53/65 (0) -> 55/62 (7): different classes; T-S 57/72 (3)
    # -> 59/67 (8); B-S 53/72 (7) -> 55/67 (0): contrary into an octave, not similar, so not hidden.
    # V -> I: B-T 55/59 -> 48/60 (4 -> 0, contrary); B-S 55/67 -> 48/67: the soprano holds.
    # Spacing: gaps S-A 8, 7, 5, 3 at most, never > 12 above the tenor; bass C3 under C5 and G4 >= 12.
    r = rates(GOOD_FOUR_PART)
    for key in ("parallels_melody_bass", "parallels_any_voices", "hidden_outer", "voice_crossing", "spacing",
                "no_bass_rate"):
        assert r[key] == 0, key
    assert r["outer_moves"] == 3 and r["beat_moves"] == 3


def test_parallels_between_inner_voices_are_found_by_voice_separation():
    # Block triads in close position, root in the bass, moving up a step: C3 | E4 G4 -> D3 | F4 A4 under
    # a melody C5 -> C5 (held: no outer motion). Voices by continuity: E4 -> F4, G4 -> A4, C3 -> D3.
    # Pairs: C3/G4 (ic 7) -> D3/A4 (ic 7): parallel fifths (bass-alto); E4/C3 (ic 4) -> ...; E4/G4 thirds.
    mel = np.array([[0, 2, 72]], float)
    acc = np.array([[0, 1, 48], [0, 1, 64], [0, 1, 67], [1, 2, 50], [1, 2, 65], [1, 2, 69]], float)
    r = voice_leading_rates(mel, acc, 1.0)
    assert r["parallels_melody_bass"] == 0  # the melody holds
    assert r["parallels_any_voices_count"] == 1 and r["parallels_any_voices"] == 100
    # The same with one voice fewer at the second beat is a guess (which voice ended?): not counted.
    acc2 = np.array([[0, 1, 48], [0, 1, 64], [0, 1, 67], [1, 2, 50], [1, 2, 69]], float)
    assert voice_leading_rates(mel, acc2, 1.0)["parallels_any_voices_count"] == 0


def test_parallels_are_read_note_to_note_not_beat_to_beat():
    # Soprano D5 (held a whole beat) -> C5; tenor D4 -> B3 (on the offbeat) -> C4. On the beats: D5/D4 ->
    # C5/C4 would look like parallel octaves, but note to note the tenor reaches C4 from B3, a sixth
    # below D5 (74-59 = 15, ic 3): no parallel (Bach, BWV 352).
    mel = np.array([[0, 1, 74], [1, 2, 72]], float)
    acc = np.array([[0, 0.5, 62], [0.5, 1, 59], [1, 2, 60], [0, 2, 45]], float)
    r = voice_leading_rates(mel, acc, 1.0)
    assert r["parallels_any_voices_count"] == 0


def test_parallel_moves_gives_per_move_flags_for_the_search():
    mel, acc = progression((67, [48]), (69, [50]), (71, [55]))
    m = parallel_moves(mel, acc, 1.0)
    # Moves arriving at 1 (G4/C3 -> A4/D3: parallel fifths) and at 2 (A4/D3 -> B4/G3: 19 -> 16, ic 4).
    np.testing.assert_allclose(m.times, [1, 2])
    assert m.parallels.tolist() == [True, False] and m.fifth.tolist() == [True, False]


# ----------------------------------------------------------------------------------- hidden fifths


def test_hidden_fifths_and_octaves_count_only_with_a_melody_leap():
    # Bass E3 -> G3 (up 3); melody A4 -> D5 (up 5, a leap): 69-52 = 17 (ic 5) -> 74-55 = 19 (ic 7). Hidden.
    assert rates([(69, [52]), (74, [55])])["hidden_outer"] == 100
    # Same bass, melody C5 -> D5 (a step): 72-52 = 20 (ic 8) -> 19 (ic 7): allowed.
    assert rates([(72, [52]), (74, [55])])["hidden_outer"] == 0
    # Octave: bass G3 -> C3 (down), melody E5 -> C5 (down 4, a leap): 76-55 = 21 (ic 9) -> 24 (ic 0). Hidden.
    assert rates([(76, [55]), (72, [48])])["hidden_outer"] == 100
    # V -> I with the soprano stepping D5 -> C5: 74-55 = 19 (ic 7) -> 24 (ic 0): allowed.
    assert rates([(74, [55]), (72, [48])])["hidden_outer"] == 0
    # Contrary motion into a fifth is never hidden: melody C5 -> G5 up, bass F3 -> C3 down: 19 -> 31.
    assert rates([(72, [53]), (79, [48])])["hidden_outer"] == 0


# ------------------------------------------------------------------------------- crossing, spacing


def test_voice_crossing_past_a_held_note_and_past_the_melody():
    # Alto E4 held over both beats; tenor C4 -> G4 moves above it (a new note 7 semitones away continues
    # the tenor). One crossing pair (tenor-alto) in one beat move.
    mel = np.array([[0, 1, 72], [1, 2, 74]], float)
    acc = np.array([[0, 2, 64], [0, 1, 60], [1, 2, 67], [0, 2, 48]], float)
    r = voice_leading_rates(mel, acc, 1.0)
    assert r["voice_crossing_count"] == 1 and r["voice_crossing"] == 100
    # An accompaniment voice rising above the melody: E4 -> B4 over a melody G4 -> G4 (re-attacked).
    r = rates([(67, [64, 48]), (67, [71, 48])])
    assert r["voice_crossing_count"] == 1
    # Two voices exchanging notes, both re-attacked (C4 E4 -> E4 C4) cannot be told from no exchange by
    # pitch: read as no crossing (the documented limitation of pitch continuity).
    assert rates([(72, [64, 60, 48]), (72, [64, 60, 48])])["voice_crossing_count"] == 0


def test_voices_continue_held_notes_and_start_new_ones():
    mel = np.array([[0, 2, 72]], float)
    acc = np.array([[0, 2, 64], [0, 1, 48], [1, 2, 36]], float)
    v = separate_voices(sample_beats(mel, acc, 1.0))
    # Voice 0 the melody; E4 held is one voice; C3 -> C2 is an octave leap, still within reach (12).
    assert v.pitch.shape == (2, 3)
    np.testing.assert_allclose(v.pitch[:, 0], [72, 72])
    held = next(j for j in (1, 2) if v.pitch[0, j] == 64)
    assert v.pitch[1, held] == 64
    assert sorted(v.pitch[1, 1:].tolist()) == [36, 64]


def test_spacing_more_than_an_octave_between_upper_voices():
    # Beat 0: C6 / G4 / C4 / C3: soprano-alto 84-67 = 17 > 12: a fault. Beat 1: C5 / G4 / C4 / C2: the
    # bass-tenor gap 60-36 = 24 is allowed, the others 5 and 7. One fault in two beats: 50.
    r = rates([(84, [67, 60, 48]), (72, [67, 60, 36])])
    assert r["spacing"] == 50
    # Two pitches only: not counted (nothing to space): nan.
    assert math.isnan(rates([(84, [48])])["spacing"])


def test_beats_without_a_real_bass():
    # Beat 0: melody C5 over E4 G4: nothing at or below C4 (72 - 12 = 60): no bass. Beat 1: C4 is exactly
    # an octave below: a bass. Beat 2: no melody: not counted. 1 of 2 counted beats: 50.
    r = rates([(72, [64, 67]), (72, [60, 64]), (None, [48])])
    assert r["no_bass_rate"] == 50


def test_beats_not_in_four_parts():
    # Beat 0: C5 / G4 E4 C3: four parts. Beat 1: C5 / G4 E4 C4 C3: five (a doubled root under the tune).
    # Beat 2: C5 / G4 C3: three. Beat 3: C5 / C5 G4 E4 C3: the melody's pitch doubled is one part: four.
    # Beat 4: no melody: not counted. Faults 2 of 4 counted beats: 50.
    chords = [(72, [67, 64, 48]), (72, [67, 64, 60, 48]), (72, [67, 48]), (72, [72, 67, 64, 48]), (None, [48])]
    r = rates(chords)
    assert r["voice_count"] == 50 and r["voice_count_count"] == 2
    # In three parts (parts=3) only beat 2 is right: faults 3 of 4.
    mel, acc = progression(*chords)
    assert voice_leading_rates(mel, acc, 1.0, parts=3)["voice_count"] == 75


def test_time_not_in_four_parts_between_the_beats():
    # Two beats of C5 over four parts at each beat onset (voice_count sees nothing), but a tenor eighth
    # struck at 0.5 over the held chord makes five parts for half a beat, and at 1.5 the held alto ends
    # early, leaving three parts for the last half beat. Counted 2 beats, off 0.5 + 0.5: 50 per 100 beats.
    mel = np.array([[0, 2, 72]], float)
    acc = np.array([[0, 2, 67], [0, 1.5, 64], [0, 2, 48], [0.5, 1, 55]], float)
    r = voice_leading_rates(mel, acc, 1.0)
    assert r["voice_count"] == 0 and r["voice_count_count"] == 0
    assert r["voice_count_time"] == 50 and r["voice_count_time_count"] == 1.0
    # Without the tenor's eighth, only the alto's early end: half a beat in three parts.
    assert voice_leading_rates(mel, acc[:3], 1.0)["voice_count_time"] == 25
    # Four parts held throughout: nothing; in three parts (parts=3) it is all off.
    held = np.array([[0, 2, 67], [0, 2, 64], [0, 2, 48]], float)
    assert voice_leading_rates(mel, held, 1.0)["voice_count_time"] == 0
    assert voice_leading_rates(mel, held, 1.0, parts=3)["voice_count_time"] == 100


def test_the_bass_line_repeats_and_leaps():
    # Bass C3 struck, C3 struck again (a repeat), D3 (a step), held over the next beat (not struck: no move),
    # then C2 (a leap of 14 > an octave), then G2 (a fourth). Bass moves: 4; 1 repeat, 1 leap: 25 each.
    mel = np.array([[q, q + 1, 72] for q in range(6)], float)
    acc = np.array([[0, 1, 48], [1, 2, 48], [2, 4, 50], [4, 5, 36], [5, 6, 43]], float)
    r = voice_leading_rates(mel, acc, 1.0)
    assert r["bass_moves"] == 4
    assert r["bass_repeat"] == 25 and r["bass_repeat_count"] == 1
    assert r["bass_leap"] == 25 and r["bass_leap_count"] == 1
    # An exact octave is the widest a bass leaps (not a fault); a bass that walks by step repeats nothing.
    walk = voice_leading_rates(mel[:3], np.array([[0, 1, 48], [1, 2, 36], [2, 3, 38]], float), 1.0)
    assert walk["bass_leap_count"] == 0 and walk["bass_repeat_count"] == 0 and walk["bass_moves"] == 2
    # The bass line is the lowest note: a repeated upper voice over a moving bass is no repeat.
    upper = voice_leading_rates(mel[:2], np.array([[0, 1, 64], [1, 2, 64], [0, 1, 48], [1, 2, 47]], float), 1.0)
    assert upper["bass_repeat_count"] == 0 and upper["bass_moves"] == 1
    # No accompaniment: nothing to count.
    assert math.isnan(voice_leading_rates(mel, np.zeros((0, 3)), 1.0)["bass_repeat"])


# -------------------------------------------------------------------------------------- dissonance


def test_strong_beat_second_against_the_melody():
    # 4/4, beats 0 and 2 strong. Beat 0: melody E5 over D#4 C4 C3: 76-63 = 13 (ic 1), {C, D#, E} is in no
    # seventh chord: a fault. Beat 1 (weak) has the same clash: not counted. Beat 2: E5 over C major: fine.
    # Beat 3 weak. Counted strong beats 2, faults 1: 50.
    clash, fine = (76, [63, 60, 48]), (76, [67, 60, 48])
    mel, acc = progression(clash, clash, fine, fine)
    assert dissonance_rates(mel, acc, 1.0)["strong_beat_dissonance"] == 50
    # The clash on beat 2 only: in 4/4 beat 2 is strong (faults 1 of strong beats 0 and 2: 50); in 3/4 only
    # the downbeats 0 and 3 are strong, both fine: 0.
    mel, acc = progression(fine, fine, clash, fine)
    assert dissonance_rates(mel, acc, 1.0)["strong_beat_dissonance"] == 50
    assert dissonance_rates(mel, acc, 1.0, ((0, 3, 4),))["strong_beat_dissonance"] == 0


def test_sevenths_of_seventh_chords_and_suspensions_are_not_faults():
    # V7: melody F5 over G3 B3 D4: 77-55 = 22 (ic 10), but {G, B, D, F} is a dominant seventh: fine.
    mel, acc = progression((77, [62, 59, 55]))
    assert dissonance_rates(mel, acc, 1.0)["strong_beat_dissonance"] == 0
    # A suspension: C4 and C3 held from beat 3 into the downbeat 4 under a melody C5 -> D5 (74-60 = 14,
    # ic 2): prepared, not counted. Beat 4 is the only strong beat sampled: 0 of 1.
    mel = np.array([[3, 4, 72], [4, 5, 74]], float)
    acc = np.array([[3, 5, 60], [3, 5, 48]], float)
    assert dissonance_rates(mel, acc, 1.0)["strong_beat_dissonance"] == 0
    # The same C4 attacked on the downbeat (after a G4): {C, D} is no seventh chord (two pitch classes):
    # a fault, 1 of 1: 100.
    acc_attacked = np.array([[3, 4, 67], [4, 5, 60], [3, 5, 48]], float)
    assert dissonance_rates(mel, acc_attacked, 1.0)["strong_beat_dissonance"] == 100


def test_chromatic_note_explained_by_a_secondary_dominant_or_not():
    # In C major: D3 F#3 A3 C4 under melody A4 is V7/V: the F#3 is chromatic but explained.
    mel, acc = progression((69, [50, 54, 57, 60]), (67, [43, 59, 62]))
    c = chromatic_notes(mel, acc, C_MAJOR)
    assert c["chromatic"].sum() == 1 and c["unexplained"].sum() == 0
    # C major chord C3 E3 G3 with F#4 in it: {C, E, G, F#} fits no chromatic chord of C, and the F#4 is
    # neither approached nor left by step: unexplained. 1 of 4 accompaniment notes: 25 per 100.
    mel, acc = progression((72, [48, 52, 55, 66]))
    assert dissonance_rates(mel, acc, 1.0, key=C_MAJOR)["unexplained_chromatic"] == 25
    # A chromatic passing note C4 -> C#4 -> D4 in the tenor, over a held bass: explained.
    mel = np.array([[0, 3, 76]], float)
    acc = np.array([[0, 1, 60], [1, 2, 61], [2, 3, 62], [0, 3, 45]], float)
    assert chromatic_notes(mel, acc, C_MAJOR)["unexplained"].sum() == 0
    # Minor: G# (raised 7th) in A minor is in the scale; the borrowed i (C Eb G) explains Eb in C major.
    assert chromatic_notes(*progression((76, [40, 56, 59])), (9, "minor"))["chromatic"].sum() == 0
    assert chromatic_notes(*progression((79, [48, 51, 55])), C_MAJOR)["unexplained"].sum() == 0


# ---------------------------------------------------------------------------------------- cadences


def cadence_of(chords, key=C_MAJOR):
    mel, acc = progression(*chords)
    _, cads = phrase_cadences(mel, acc, 1.0, key=key)
    assert len(cads) == 1  # one phrase: the last note is its end
    return cads[0]


I, I6 = (72, [48, 55, 64]), (72, [52, 55, 67])
IV = (72, [53, 57, 65])
II6 = (74, [53, 57, 62])  # ii6: F3 in the bass, D F A
V = (71, [43, 55, 62])
V_SOP_D = (74, [43, 59, 67])
VI = (72, [45, 57, 64])
I_END = (72, [48, 55, 64])


def test_authentic_cadences_perfect_and_imperfect():
    # ii6 - V - I, V and I in root position, melody ends on C: PAC.
    c = cadence_of([I, II6, V, I_END])
    assert c.kind == "authentic" and c.perfect and c.figures == ("V", "I")
    # IV - V - I with the melody ending on E (E5 over C3 G3 C4): authentic, not perfect (IAC).
    c = cadence_of([I, IV, V_SOP_D, (76, [48, 55, 60])])
    assert c.kind == "authentic" and not c.perfect
    # V - I6: the tonic inverted is no authentic cadence (nor anything else): none.
    assert cadence_of([I, IV, V, I6]).kind == "none"


def test_half_plagal_deceptive_and_no_cadence():
    assert cadence_of([I, IV, I, V]).kind == "half"  # ends on V in root position
    assert cadence_of([I, V, IV, I_END]).kind == "plagal"  # IV -> I
    assert cadence_of([I, IV, V, VI]).kind == "deceptive"  # V -> vi
    assert cadence_of([I, V, I, IV]).kind == "none"  # ends on IV
    assert cadence_of([I, I, I, I]).kind == "none"  # no chord change before the end
    # A bare melody (nothing under it) has no harmony: G4 -> C5 alone is no authentic cadence.
    assert cadence_of([(67, []), (72, [])]).kind == "none"


def test_classify_in_minor():
    # A minor: E major -> A minor (root position) authentic; E -> F major deceptive; G# dim -> a authentic.
    e, a, f = BeatChord(4, "maj", 40), BeatChord(9, "min", 45), BeatChord(5, "maj", 41)
    assert classify(e, a, 9, "minor", 69) == ("authentic", True)
    assert classify(e, f, 9, "minor", 69)[0] == "deceptive"
    assert classify(BeatChord(8, "dim", 44), a, 9, "minor", 72) == ("authentic", False)


def test_phrase_ends_from_rests_long_notes_and_fermatas():
    # Melody in 4/4: 4 quarters, a half note on beat 1 of bar 2 (long: 2 >= 1.5 x median 1, strong beat),
    # 4 quarters, a quarter rest, 3 quarters, a half note on beat 3 (the last). Ends: the half note
    # (index 4), the note before the rest (index 8: the phrase 6..10 is 4 beats), the last (index 12).
    notes = [(0, 1, 60), (1, 2, 62), (2, 3, 64), (3, 4, 65), (4, 6, 67), (6, 7, 65), (7, 8, 64), (8, 9, 62),
             (9, 10, 64), (11, 12, 62), (12, 13, 64), (13, 14, 62), (14, 16, 60)]
    mel = np.array(notes, float)
    assert phrase_ends(mel, 1.0).tolist() == [4, 8, 12]
    # Fermatas given: those notes and the last note; the heuristics are off.
    assert phrase_ends(mel, 1.0, fermatas=[3.0]).tolist() == [3, 12]
    # A phrase is at least 4 beats: a rest after 2 beats does not end one.
    short = np.array([(0, 1, 60), (1, 2, 62), (3, 4, 64), (4, 5, 65), (5, 6, 67), (6, 8, 60)], float)
    assert phrase_ends(short, 1.0).tolist() == [5]


def test_cadence_rates_and_final_authentic():
    # Two phrases: I IV V on beats 0-2, I as a half note on the downbeat of bar 2 (4..6: long, strong:
    # a phrase end), then I IV I V from 6 (the last note ends the second phrase).
    parts = [progression(I, IV, V), progression(I_END, dur=2.0, start=4.0), progression(I, IV, I, V, start=6.0)]
    mel = np.concatenate([p[0] for p in parts])
    acc = np.concatenate([p[1] for p in parts])
    _, cads = phrase_cadences(mel, acc, 1.0, key=C_MAJOR)
    assert [c.kind for c in cads] == ["authentic", "half"]
    r = cadence_rates(cads, home=C_MAJOR)
    # Authentic 1 of 2: 50; any cadence 2 of 2: 100; the last is a half cadence: final_authentic 0.
    assert r["authentic_cadence_rate"] == 50 and r["cadence_rate"] == 100 and r["final_authentic"] == 0


# ------------------------------------------------------------------------------- the entry point


def _score(melody_rows, accompaniment_rows=(), numerator=4, denominator=4) -> Score:
    s = Score(TPQ)
    s.time_signatures.append(TimeSignature(0, numerator, denominator))
    for name, rows in (("Melody", melody_rows), ("Accompaniment", accompaniment_rows)):
        if len(rows):
            t = Track(name, program=0, is_drum=False)
            for on, end, p in rows:
                t.notes.append(Note(round(on * TPQ), round((end - on) * TPQ), int(p), 80))
            s.tracks.append(t)
    return s


KEYS = ("parallels_melody_bass", "parallels_any_voices", "hidden_outer", "voice_crossing", "spacing",
        "no_bass_rate", "strong_beat_dissonance", "unexplained_chromatic", "authentic_cadence_rate",
        "cadence_rate", "final_authentic", "outer_moves", "beat_moves", "phrases")


def _sane(r: dict):
    for key in KEYS:
        assert key in r, key
        assert isinstance(r[key], float)
    for key in KEYS[:10]:
        assert math.isnan(r[key]) or 0 <= r[key] <= 100, (key, r[key])
    assert r["final_authentic"] in (0.0, 1.0)


def test_entry_point_on_a_score_matches_the_arrays():
    mel, acc = progression(*GOOD_FOUR_PART)
    out = _score(mel, acc)
    r = voice_leading_metrics(out, _score(mel))
    _sane(r)
    assert r == theory_rates(mel, acc, 1.0, ((0.0, 4, 4),))
    assert r["parallels_melody_bass"] == 0 and r["final_authentic"] == 1.0  # IV V I: G4 over C: IAC


# A tune in C, 4/4: two 2-bar phrases, each ending on a half note; the second ends D -> C over V -> I.
TUNE = [60, 62, 64, 65, (67, 2), 67, 65, 64, 62, 64, 62, (60, 2)]


def _tune_rows():
    rows, t = [], 0.0
    for item in TUNE:
        p, d = item if isinstance(item, tuple) else (item, 1)
        rows.append((t, t + d, p + 12))
        t += d
    return np.array(rows, float)


def test_rule_based_harmonizer_gives_sane_numbers():
    melody = _score(_tune_rows())
    r = voice_leading_metrics(harmonize(melody), melody)
    _sane(r)
    assert r["phrases"] == 2  # the half note at 4 (strong beat, 2 >= 1.5 x 1) and the last note
    assert r["final_authentic"] == 1.0  # the harmonizer ends V -> I (its V-I bonus and final tonic)
    assert r["unexplained_chromatic"] == 0  # diatonic triads only
    assert r["no_bass_rate"] == 0  # the root sits in octave 2-3, under a melody in octave 5


def test_a_bach_chorale_against_the_rule_based_harmonizer():
    from styletransfer.data.melody_file import quiet_read_melody

    path = ROOT / "data" / "music21" / "midi" / "bach" / "bwv269.mid"
    chorale = Score(str(path))
    melody = quiet_read_melody(path)
    bach = voice_leading_metrics(chorale, melody)
    rule = voice_leading_metrics(harmonize(melody), melody)
    _sane(bach)
    _sane(rule)
    # Bach writes no consecutive fifths or octaves in this chorale (checked on its four parts); the
    # triad harmonizer moves close-position root-position triads in parallel, fifths and all.
    assert bach["parallels_melody_bass"] == 0 and bach["parallels_any_voices"] == 0
    assert rule["parallels_any_voices"] > 10
    assert bach["outer_moves"] > 60 and bach["final_authentic"] == 1.0
    assert bach["authentic_cadence_rate"] >= 40


def test_piece_key_is_music21s_key_analysis():
    from music21 import note, stream

    from styletransfer.analysis.cadences import piece_key

    # The key of a few hand-made note sets, against music21's analyze('key') on the same notes.
    rng = np.random.default_rng(0)
    sets = [progression(*GOOD_FOUR_PART), progression((76, [40, 56, 59]), (72, [45, 57, 64]), (71, [40, 56, 62]))]
    sets += [(np.array([[i, i + d, p] for i, (d, p) in enumerate(zip(rng.integers(1, 4, 30), rng.choice(
        [60, 62, 64, 65, 67, 69, 71, 66, 70], 30)))], float), np.zeros((0, 3))) for _ in range(5)]
    for mel, acc in sets:
        notes = np.concatenate([mel, acc])
        s = stream.Stream()
        for on, end, p in notes:
            s.insert(float(on), note.Note(int(p), quarterLength=float(end - on)))
        k = s.analyze("key")
        assert piece_key(notes) == (k.tonic.pitchClass, k.mode)
    assert piece_key(np.concatenate(progression(*GOOD_FOUR_PART))) == C_MAJOR


def test_fermatas_from_a_music21_score_line_up_with_the_midi():
    music21 = pytest.importorskip("music21")
    from styletransfer.data.melody_file import quiet_read_melody
    from styletransfer.analysis.notes import notes_of

    try:
        parsed = music21.corpus.parse("bach/bwv269", forceSource=True)
    except Exception:  # noqa: BLE001 — the corpus is part of music21's wheel, but be safe
        pytest.skip("music21 corpus not available")
    mel = notes_of(quiet_read_melody(ROOT / "data" / "music21" / "midi" / "bach" / "bwv269.mid"))
    f = fermata_onsets(parsed, mel)
    # Every fermata falls on a melody onset, the last on the last note.
    assert len(f) >= 4
    assert all(np.abs(mel[:, 0] - x).min() < 1e-6 for x in f)
    assert abs(f[-1] - mel[:, 0].max()) < 1e-6


def test_a_harmonization_in_parts_is_read_part_by_part():
    """Alto and tenor cross (the tenor leaps above the alto and back): read by its parts, the crossing and the
    alto's parallel octaves with the bass are there; the bass line is the bass part's, not the lowest note."""
    from styletransfer.analysis.voice_leading import voice_leading_rates

    melody = np.array([[0, 1, 76], [1, 2, 77], [2, 3, 79], [3, 4, 76]], float)
    alto = [(0, 1, 67), (1, 2, 69), (2, 3, 71), (3, 4, 67)]
    tenor = [(0, 1, 60), (1, 2, 72), (2, 3, 62), (3, 4, 60)]  # above the alto on beat 2 only
    bass = [(0, 1, 43), (1, 2, 45), (2, 3, 47), (3, 4, 48)]  # octaves with the alto: G-A-B, then C under G
    acc = np.array(alto + tenor + bass, float)
    parts = np.array([1] * 4 + [2] * 4 + [3] * 4)
    rates = voice_leading_rates(melody, acc, 1.0, accompaniment_parts=parts)
    assert rates["voice_crossing_count"] >= 2  # tenor over alto, and back
    assert rates["parallels_any_voices_count"] >= 2  # alto and bass in octaves, G-A and A-B
    assert rates["bass_moves"] == 3 and rates["bass_repeat_count"] == 0
    merged = voice_leading_rates(melody, acc, 1.0)  # the same notes, voices guessed by pitch continuity
    assert merged["voice_crossing_count"] < rates["voice_crossing_count"]


def test_an_output_in_parts_tells_each_accompaniment_note_s_part():
    from styletransfer.analysis.notes import split_melody_in_parts, written_in_parts

    def track(name, rows):
        t = Track(name)
        for on, d, p in rows:
            t.notes.append(Note(on * 480, d * 480, p, 80))
        return t

    soprano = [(0, 1, 72), (1, 1, 74)]
    chorale = Score(480)
    chorale.tracks.extend([track("Soprano", soprano), track("Alto", [(0, 2, 67)]), track("Bass", [(0, 1, 48), (1, 1, 43)])])
    melody = Score(480)
    melody.tracks.append(track("Melody", soprano))
    assert written_in_parts(chorale)
    mel, acc, parts = split_melody_in_parts(chorale, melody)
    assert mel[:, 2].tolist() == [72, 74]
    assert sorted(zip(acc[:, 2].tolist(), parts.tolist())) == [(43, 2), (48, 2), (67, 1)]
    reduction = Score(480)
    reduction.tracks.extend([track("Melody", soprano), track("Accompaniment", [(0, 2, 67), (0, 1, 48)])])
    assert not written_in_parts(reduction) and split_melody_in_parts(reduction, melody)[2] is None
