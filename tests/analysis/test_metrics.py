"""Evaluation metrics on tiny hand-made pieces; every expected value is worked out by hand in a comment.

Pitches: C3 = 48, C4 = 60, C5 = 72. Times in quarter notes; the Scores are built at 480 ticks per quarter.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from symusic import Note, Score, Track

from styletransfer.analysis.harmony import beat_chords, harmony_metrics
from styletransfer.analysis.notes import notes_of, split_melody
from styletransfer.eval.metrics import in_scale_rate, melody_kept, pitch_class_histogram, pitch_class_histogram_distance, polyphony, transfer_metrics

TPQ = 480
C_MAJOR_LOW = (48, 52, 55)  # C3 E3 G3


def track(notes, name="Piano", is_drum=False, tpq: int = TPQ) -> Track:
    """A track from (onset_q, duration_q, pitch) rows, at ``tpq`` ticks per quarter."""
    t = Track(name, program=0, is_drum=is_drum)
    for onset, dur, pitch in notes:
        t.notes.append(Note(int(round(onset * tpq)), int(round(dur * tpq)), pitch, 80))
    return t


def score(*tracks: Track, tpq: int = TPQ) -> Score:
    s = Score(tpq)
    for t in tracks:
        s.tracks.append(t)
    return s


def rows(notes) -> np.ndarray:
    """(onset, duration, pitch) rows -> the metrics' (onset, end, pitch) array."""
    return np.array([(on, on + dur, p) for on, dur, p in notes], dtype=float).reshape(-1, 3)


def chord(onset, dur, pitches):
    return [(onset, dur, p) for p in pitches]


# ------------------------------------------------------------------------------------------- notes


def test_notes_of_merges_non_drum_tracks_in_quarters_sorted():
    s = score(track([(1, 0.5, 60), (0, 1, 64)], tpq=96), track([(1, 2, 67)], tpq=96),
              track([(0, 0.25, 36)], name="Drums", is_drum=True, tpq=96), tpq=96)
    # The drum note is left out; rows by onset, then highest pitch first; ticks / 96 = quarters.
    expected = [[0, 1, 64], [1, 3, 67], [1, 1.5, 60]]
    np.testing.assert_allclose(notes_of(s), expected)
    np.testing.assert_allclose(notes_of(s.tracks[0], tpq=96), [[0, 1, 64], [1, 1.5, 60]])
    with pytest.raises(ValueError):
        notes_of(s.tracks[0])


# ------------------------------------------------------------------------------------- split_melody


def test_split_melody_one_merged_track():
    # Bach-style: melody E5 D5 C5 (quarters) on top of two half-note C-major chords, all in one track.
    melody = [(0, 1, 76), (1, 1, 74), (2, 1, 72)]
    chords = chord(0, 2, (60, 64, 67)) + chord(2, 2, (60, 64, 67))
    mel, acc = split_melody(score(track(melody + chords)), score(track(melody)))
    np.testing.assert_allclose(mel, rows(melody))
    np.testing.assert_allclose(acc, [[0, 2, 67], [0, 2, 64], [0, 2, 60], [2, 4, 67], [2, 4, 64], [2, 4, 60]])


def test_split_melody_two_tracks_tolerance_and_unison_doubling():
    melody = [(0, 1, 72), (1, 1, 74), (2, 1, 76)]
    out_melody = [(0, 1, 72), (1 + 1 / 32, 1, 74), (2 + 1 / 8, 1, 76)]  # D5 1/32 late: kept; E5 1/8 late: not
    accompaniment = [(0, 1, 72), (0, 1, 60)]  # C5 doubles the melody at the unison: stays accompaniment
    out = score(track(out_melody, "Melody"), track(accompaniment, "Accompaniment"))
    mel, acc = split_melody(out, score(track(melody)))
    np.testing.assert_allclose(mel, [[0, 1, 72], [1 + 1 / 32, 2 + 1 / 32, 74]])
    # Left: the unison double, C4, and the late E5 (2.125 > 1/16 away from its input onset).
    np.testing.assert_allclose(acc, [[0, 1, 72], [0, 1, 60], [2.125, 3.125, 76]])
    # A wider tolerance takes the late E5 too.
    mel, acc = split_melody(out, score(track(melody)), tolerance=0.125)
    assert len(mel) == 3 and len(acc) == 2


# -------------------------------------------------------------------------------------- melody_kept


def test_melody_kept_dropped_note_and_note_above():
    # Input melody C5 D5 E5 F5 (72 74 76 77), quarters. Output: D5 dropped; a C-major triad (C4 E4 G4) on
    # every beat, and G5 (79) over E5 in beat 3.
    melody = [(0, 1, 72), (1, 1, 74), (2, 1, 76), (3, 1, 77)]
    out_melody = [(0, 1, 72), (2, 1, 76), (3, 1, 77)]
    acc = [n for b in range(4) for n in chord(b, 1, (60, 64, 67))] + [(2, 1, 79)]
    m = melody_kept(score(track(out_melody, "Melody"), track(acc, "Accompaniment")), score(track(melody)))
    # recall: 3 of the 4 input notes are in the output.
    assert m["recall"] == pytest.approx(3 / 4)
    assert (m["melody_notes"], m["melody_found"]) == (4, 3)
    # top line: onset 0 -> C5 (melody), 1 -> G4 (accompaniment: D5 is gone), 2 -> G5 (accompaniment),
    # 3 -> F5 (melody): 2 of 4.
    assert m["precision"] == pytest.approx(2 / 4)
    # above: of the 3 melody notes in the output, only E5 has something higher (G5) sounding with it.
    assert m["above_rate"] == pytest.approx(1 / 3)
    assert m["all_kept"] is False


def test_melody_kept_clean_output_touching_note_and_held_melody():
    # Input melody C5 [1, 2), D5 [2, 3). Output: the melody; C6 [0, 1) ends as C5 starts (no overlap, so not
    # "above"); a C-major triad held [1, 3); D4 at 1.5 under the held C5; G3 at 2 under D5.
    melody = [(1, 1, 72), (2, 1, 74)]
    acc = [(0, 1, 84)] + chord(1, 2, (60, 64, 67)) + [(1.5, 0.5, 62), (2, 1, 55)]
    m = melody_kept(score(track(melody, "Melody"), track(acc, "Accompaniment")), score(track(melody)))
    assert m["recall"] == 1
    assert m["above_rate"] == 0
    assert m["all_kept"] is True
    # top line: onset 0 -> C6 (accompaniment), 1 -> C5 (melody), 1.5 -> nothing (D4 starts under the
    # still-sounding, higher C5), 2 -> D5 (melody): 2 of 3.
    assert m["precision"] == pytest.approx(2 / 3)


def test_melody_kept_one_output_note_stands_for_one_melody_note():
    # Input: C5 at 0 and again at 1/16 (a fast repeat). Output: one C5 at 1/32, within 1/16 of both.
    # Matching is one to one, so it is found once: recall 1/2.
    melody = [(0, 1 / 16, 72), (1 / 16, 1 / 16, 72)]
    m = melody_kept(score(track([(1 / 32, 1 / 16, 72)])), score(track(melody)))
    assert m["recall"] == pytest.approx(1 / 2)


# ------------------------------------------------------------------------------------------- chords


def test_beat_chords_templates_and_weighting():
    acc = (chord(0, 1, (57, 60, 64))       # A C E -> Am
           + chord(1, 1, (59, 62, 65))     # B D F -> Bdim
           + chord(2, 1, (60, 64, 68))     # C E G# -> Caug
           + chord(3, 1, (55, 59, 62))     # G B D -> G
           # beat 4 empty -> N
           # beat 5: C E G for a 16th each, A for the whole beat. C major: inside 0.75, outside 1 -> -0.25;
           # A minor (A C E): inside 1.5, outside 0.25 -> +1.25: Am.
           + chord(5, 0.25, (60, 64, 67)) + [(5, 1, 57)]
           # beat 6: E and D for the whole beat, G and B for half. Em (E G B) and G (G B D) both score
           # (2 - 1) / 3; the tie goes to the root that sounds longest: E (1) over G (0.5) -> Em.
           + [(6, 1, 64), (6, 1, 62), (6, 0.5, 67), (6, 0.5, 71)])
    assert beat_chords(rows(acc)) == ["Am", "Bdim", "Caug", "G", "N", "Am", "Em"]
    # A half-note F major chord (F A C) is one "F" beat with beat = 2 quarters, two with beat = 1.
    assert beat_chords(rows(chord(0, 2, (53, 57, 60))), beat=2.0) == ["F"]
    assert beat_chords(rows(chord(0, 2, (53, 57, 60))), beat=1.0) == ["F", "F"]


# ------------------------------------------------------------------------------------------ harmony


def test_chord_tone_melody_over_c_major():
    # E4 over C3 E3 G3 for one beat.
    h = harmony_metrics(rows([(0, 1, 64)]), rows(chord(0, 1, C_MAJOR_LOW)))
    assert h["ctnctr"] == 1  # E is a chord tone: (1 + 0) / (1 + 0)
    # intervals E4-C3 = 16 -> 4, E4-E3 = 12 -> 0, E4-G3 = 9: all consonant, +1 each.
    assert h["pcs"] == 1
    assert h["chord_coverage"] == 1 and h["chord_beats"] == 1
    assert h["chord_histogram_entropy"] == 0  # one label: -1 * ln 1
    assert math.isnan(h["chord_tonal_distance"])  # one chord: no consecutive pair
    # mctd: centroid(E) = PHI[:, 4] = (sqrt3/2, -1/2, 0, 1, sqrt3/4, -1/4);
    # centroid(C major) = (PHI[:, 0] + PHI[:, 4] + PHI[:, 7]) / 3 = ((1+sqrt3)/6, (1+sqrt3)/6, 1/3, 2/3, sqrt3/6, 0);
    # difference = ((2sqrt3-1)/6, -(4+sqrt3)/6, -1/3, 1/3, sqrt3/12, -1/4);
    # squared norm = (13-4sqrt3 + 19+8sqrt3)/36 + 2/9 + 1/48 + 1/16 = (43 + 4sqrt3)/36.
    assert h["mctd"] == pytest.approx(math.sqrt((43 + 4 * math.sqrt(3)) / 36))


def test_pcs_root_on_top_scores_the_fourth_zero():
    # C5 over C4 E4 G4: intervals 12 -> 0 (+1), 8 (+1), 5 (0) -> 2/3, at every 16th.
    h = harmony_metrics(rows([(0, 1, 72)]), rows(chord(0, 1, (60, 64, 67))))
    assert h["pcs"] == pytest.approx(2 / 3)
    assert h["ctnctr"] == 1


def test_pcs_semitone_and_interval_is_absolute():
    # C#4 a semitone over C3 (interval 13 -> 1): -1. C3 alone is labelled C (C E G): C# is a non-chord tone
    # with no next note -> ctnctr 0 / 1 = 0.
    h = harmony_metrics(rows([(0, 1, 61)]), rows([(0, 1, 48)]))
    assert h["pcs"] == -1
    assert h["ctnctr"] == 0
    # An accompaniment G4 above a C4 melody: |60 - 67| = 7, a fifth (+1), not (60 - 67) mod 12 = 5 (0).
    assert harmony_metrics(rows([(0, 1, 60)]), rows([(0, 1, 67)]))["pcs"] == 1


def test_pcs_samples_every_sixteenth():
    # Melody C5 [0, 1). C4 for [0, 0.5): samples at 0, 0.25 -> +1, +1. C#4 for [0.5, 0.75): sample 0.5,
    # interval 11 -> -1. PCS = (2 - 1) / 3.
    h = harmony_metrics(rows([(0, 1, 72)]), rows([(0, 0.5, 60), (0.5, 0.25, 61)]))
    assert h["pcs"] == pytest.approx(1 / 3)


def test_ctnctr_counts_each_beat_a_note_sounds_in():
    # Melody E4 [0, 2), G4 [2, 3). Chords: C [0, 1), F [1, 2), C [2, 3).
    # E in beat 0 (C): chord tone. E in beat 1 (F A C): non-chord tone; the next note G is 3 semitones away,
    # not proper. G in beat 2 (C): chord tone. ctnctr = (2 + 0) / (2 + 1).
    acc = chord(0, 1, C_MAJOR_LOW) + chord(1, 1, (53, 57, 60)) + chord(2, 1, C_MAJOR_LOW)
    h = harmony_metrics(rows([(0, 2, 64), (2, 1, 67)]), rows(acc))
    assert h["ctnctr"] == pytest.approx(2 / 3)
    # labels C F C: p = 2/3, 1/3 -> CHE = -(2/3 ln 2/3 + 1/3 ln 1/3) = ln 3 - (2/3) ln 2; CC = 2.
    assert h["chord_histogram_entropy"] == pytest.approx(math.log(3) - 2 / 3 * math.log(2))
    assert h["chord_coverage"] == 2


def test_ctnctr_proper_non_chord_tones():
    acc = chord(0, 2, C_MAJOR_LOW)  # C in both beats
    # D4 then E4: D is a non-chord tone 2 semitones from the next note (proper), E a chord tone:
    # (1 + 1) / (1 + 1) = 1.
    assert harmony_metrics(rows([(0, 1, 62), (1, 1, 64)]), rows(acc))["ctnctr"] == 1
    # D4 then G4: D is 5 semitones from G, not proper: (1 + 0) / (1 + 1).
    assert harmony_metrics(rows([(0, 1, 62), (1, 1, 67)]), rows(acc))["ctnctr"] == pytest.approx(0.5)


def test_che_and_cc_of_two_chords():
    # Beats C, G: p = 1/2, 1/2 -> CHE = ln 2; CC = 2.
    acc = chord(0, 1, (60, 64, 67)) + chord(1, 1, (55, 59, 62))
    h = harmony_metrics(rows([(0, 2, 67)]), rows(acc))
    assert h["chord_histogram_entropy"] == pytest.approx(math.log(2))
    assert h["chord_coverage"] == 2


def test_chord_tonal_distance():
    mel = rows([(0, 2, 72)])
    # C then C: distance 0.
    assert harmony_metrics(mel, rows(chord(0, 2, (60, 64, 67))))["chord_tonal_distance"] == 0
    # C (C E G) then Am (A C E): C and E are shared, so the difference is (PHI[:, 7] - PHI[:, 9]) / 3.
    # PHI[:, 7] = (1/2, sqrt3/2, 1, 0, sqrt3/4, -1/4), PHI[:, 9] = (1, 0, -1, 0, 0, 1/2);
    # squared norm of the difference = 1/4 + 3/4 + 4 + 0 + 3/16 + 9/16 = 23/4 -> CTD = sqrt(23) / 2 / 3.
    h = harmony_metrics(mel, rows(chord(0, 1, (60, 64, 67)) + chord(1, 1, (57, 60, 64))))
    assert h["chord_tonal_distance"] == pytest.approx(math.sqrt(23) / 6)


def test_beats_without_accompaniment_are_left_out():
    # Chords C, (nothing), C. Melody E4, F#4, E4. The N beat does not count: 2 chord beats, CTD between the
    # two C's = 0 (not a distance to "N"), and F#4 (sounding only in the N beat) is not a non-chord tone.
    acc = chord(0, 1, C_MAJOR_LOW) + chord(2, 1, C_MAJOR_LOW)
    h = harmony_metrics(rows([(0, 1, 64), (1, 1, 66), (2, 1, 64)]), rows(acc))
    assert h["chord_beats"] == 2
    assert h["chord_tonal_distance"] == 0
    assert h["ctnctr"] == 1


# ----------------------------------------------------------------------------- pitch and texture


def test_pitch_class_histogram_and_distance():
    # C for 1 quarter, G for 2: bins 0 and 7 get 1/3 and 2/3.
    expected = np.zeros(12)
    expected[0], expected[7] = 1 / 3, 2 / 3
    np.testing.assert_allclose(pitch_class_histogram(rows([(0, 1, 60), (1, 2, 67)])), expected)
    c_major, d_major, c_minor = (rows(chord(0, 1, p)) for p in ((60, 64, 67), (62, 66, 69), (60, 63, 67)))
    # D major is C major transposed: distance 0 (transposition-invariant).
    assert pitch_class_histogram_distance(c_major, d_major) == pytest.approx(0)
    # C major vs C minor: no rotation maps {0, 3, 7} onto {0, 4, 7}; the best shares two pitch classes
    # (e.g. unrotated: C, G), leaving 1/3 + 1/3 of L1 mass: 2/3.
    assert pitch_class_histogram_distance(c_major, c_minor) == pytest.approx(2 / 3)
    assert math.isnan(pitch_class_histogram_distance(c_major, np.zeros((0, 3))))


def test_polyphony():
    # C E G for a quarter (4 steps of 3 pitches), then C for a quarter (4 steps of 1): (12 + 4) / 8 = 2.
    assert polyphony(rows(chord(0, 1, (60, 64, 67)) + [(1, 1, 60)])) == 2
    # A quarter rest in between does not count: still 2.
    assert polyphony(rows(chord(0, 1, (60, 64, 67)) + [(2, 1, 60)])) == 2
    # Two overlapping C4s are one pitch: 1.
    assert polyphony(rows([(0, 1, 60), (0.5, 1, 60)])) == 1


def test_in_scale_rate():
    c_major_scale = [(i, 1, p) for i, p in enumerate((60, 62, 64, 65, 67, 69, 71, 72))]
    assert in_scale_rate(rows(c_major_scale)) == 1
    # Chromatic: any major or minor scale holds 7 of the 12 pitch classes.
    assert in_scale_rate(rows([(i, 1, 60 + i) for i in range(12)])) == pytest.approx(7 / 12)
    # C major scale + F#: C major holds 8 of 9 (not F#), G major 8 of 9 (F# but not F).
    assert in_scale_rate(rows(c_major_scale + [(8, 1, 66)])) == pytest.approx(8 / 9)


# ------------------------------------------------------------------------------------------- all


def test_transfer_metrics_two_tracks_and_one_track_agree():
    # Melody E5 G5 over a half-note C3 E3 G3.
    melody = [(0, 1, 76), (1, 1, 79)]
    acc = chord(0, 2, C_MAJOR_LOW)
    two = score(track(melody, "Melody"), track(acc, "Accompaniment"))
    one = score(track(melody + acc))
    fifth_up = rows([(on, dur, p + 7) for on, dur, p in melody + acc])
    for out in (two, one):
        m = transfer_metrics(out, score(track(melody)), reference_notes=fifth_up)
        assert (m["melody_recall"], m["melody_precision"], m["melody_above_rate"]) == (1, 1, 0)
        assert m["melody_all_kept"] is True
        assert m["accompaniment_notes"] == 3
        # Beats C, C: CC 1, CHE 0, CTD 0. E and G are chord tones: ctnctr 1.
        assert (m["chord_coverage"], m["chord_histogram_entropy"], m["chord_tonal_distance"]) == (1, 0, 0)
        assert m["ctnctr"] == 1
        # E5 vs C3/E3/G3 -> 4, 0, 9; G5 vs C3/E3/G3 -> 7, 3, 0: all +1.
        assert m["pcs"] == 1
        assert m["polyphony"] == 4  # 4 pitches at every 16th of the two beats
        assert m["in_scale_rate"] == 1
        assert m["pitch_class_distance"] == pytest.approx(0)  # the reference is the piece a fifth up
    assert math.isnan(transfer_metrics(two, score(track(melody)))["pitch_class_distance"])
