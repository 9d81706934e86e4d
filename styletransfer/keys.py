"""Key finding with the Krumhansl–Kessler probe-tone profiles (Krumhansl 1990), as music21 and MusPy do."""
from __future__ import annotations

import numpy as np

MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def pitch_class_weights(pitches, durations=None) -> np.ndarray:
    """12 bins: the duration (or count) of each pitch class."""
    pitches = np.asarray(pitches, dtype=np.int64)
    weights = np.ones(len(pitches)) if durations is None else np.asarray(durations, dtype=np.float64)
    return np.bincount(pitches % 12, weights=weights, minlength=12)[:12]


def key_correlations(histogram: np.ndarray) -> np.ndarray:
    """[24]: the correlation of a pitch-class histogram with the 12 major keys (tonic C..B), then the 12
    minor; all zero when the histogram is flat (no notes, or all twelve alike: no key to find)."""
    h = np.asarray(histogram, dtype=np.float64)
    if h.std() == 0:
        return np.zeros(24)
    rotations = np.stack([np.roll(h, -t) for t in range(12)])  # row t: the histogram seen from tonic t
    a = rotations - rotations.mean(axis=1, keepdims=True)

    def corr(profile):
        b = profile - profile.mean()
        return (a @ b) / (np.sqrt((a * a).sum(axis=1)) * np.sqrt((b * b).sum()))

    return np.concatenate([corr(MAJOR_PROFILE), corr(MINOR_PROFILE)])


# A melody's key: of the keys within this correlation of the best, one whose tonic is the melody's last note.
# Melodies end on their tonic: on the first 150 of Bach's training chorales (sopranos), KK's best key of the
# soprano alone is music21's key of the whole chorale in 67%, with this rule in 82% (no margin: 67%; 0.05:
# 75%; 0.2 and 0.5: 82% and 81%).
FINAL_TONIC_MARGIN = 0.1


def final_pitch(onsets, pitches) -> int | None:
    """A melody's last pitch: the highest at its latest onset; None without notes."""
    if not len(onsets):
        return None
    onsets, pitches = np.asarray(onsets), np.asarray(pitches)
    return int(pitches[onsets == onsets.max()].max())


def estimate_key(pitches, durations=None, last: int | None = None) -> tuple[int, str]:
    """(tonic pitch class, "major" | "minor") best matching the notes; C major for no evidence. ``last``: for
    a melody, its last pitch; a key whose tonic it is wins if it correlates within FINAL_TONIC_MARGIN of the
    best."""
    correlations = key_correlations(pitch_class_weights(pitches, durations))
    best = int(np.argmax(correlations))
    if last is not None and correlations[best] > 0:
        ending = [k for k in (last % 12, last % 12 + 12) if correlations[k] >= correlations[best] - FINAL_TONIC_MARGIN]
        best = max(ending, key=lambda k: correlations[k], default=best)
    return best % 12, "major" if best < 12 else "minor"


# The reference keys pieces and melodies are transposed to (data.key_normalize, transfer.key_normalize): C major
# and A minor share their notes, so mistaking a key for its relative, key finding's commonest error, moves
# nothing.
REFERENCE_TONIC = {"major": 0, "minor": 9}
PIANO_RANGE = (21, 108)


def reference_shift(pitches, durations=None, pitch_range: tuple[int, int] = PIANO_RANGE,
                    register: float | None = None, last: int | None = None) -> int | None:
    """Semitones that move the notes' estimated key to the reference key (C major or A minor): the smallest
    such shift (-6..+5) whose notes stay inside ``pitch_range``, else the same shift an octave the other way;
    None when none fits. With ``register`` (a MIDI pitch), the octave of that shift that brings the notes'
    median nearest to it instead: a melody is harmonized in the register the model learned melodies in.
    ``last``: a melody's last pitch (``estimate_key``)."""
    pitches = np.asarray(pitches, dtype=np.int64)
    if not len(pitches):
        return 0
    tonic, mode = estimate_key(pitches, durations, last)
    shift = (REFERENCE_TONIC[mode] - tonic + 6) % 12 - 6
    low, high = int(pitches.min()), int(pitches.max())
    fits = [c for c in (shift, shift + 12, shift - 12) if pitch_range[0] <= low + c and high + c <= pitch_range[1]]
    if not fits:
        return None
    if register is None:
        return min(fits, key=abs)
    median = float(np.median(pitches))
    return min(fits, key=lambda c: (abs(median + c - register), abs(c)))
