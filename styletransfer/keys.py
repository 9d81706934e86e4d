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


def estimate_key(pitches, durations=None) -> tuple[int, str]:
    """(tonic pitch class, "major" | "minor") best matching the notes; C major for no evidence."""
    best = int(np.argmax(key_correlations(pitch_class_weights(pitches, durations))))
    return best % 12, "major" if best < 12 else "minor"


# The reference keys pieces and melodies are transposed to (data.key_normalize, transfer.key_normalize): C major
# and A minor share their notes, so mistaking a key for its relative, key finding's commonest error, moves
# nothing.
REFERENCE_TONIC = {"major": 0, "minor": 9}
PIANO_RANGE = (21, 108)


def reference_shift(pitches, durations=None, pitch_range: tuple[int, int] = PIANO_RANGE,
                    register: float | None = None) -> int | None:
    """Semitones that move the notes' estimated key to the reference key (C major or A minor): the smallest
    such shift (-6..+5) whose notes stay inside ``pitch_range``, else the same shift an octave the other way;
    None when none fits. With ``register`` (a MIDI pitch), the octave of that shift that brings the notes'
    median nearest to it instead: a melody is harmonized in the register the model learned melodies in."""
    pitches = np.asarray(pitches, dtype=np.int64)
    if not len(pitches):
        return 0
    tonic, mode = estimate_key(pitches, durations)
    shift = (REFERENCE_TONIC[mode] - tonic + 6) % 12 - 6
    low, high = int(pitches.min()), int(pitches.max())
    fits = [c for c in (shift, shift + 12, shift - 12) if pitch_range[0] <= low + c and high + c <= pitch_range[1]]
    if not fits:
        return None
    if register is None:
        return min(fits, key=abs)
    median = float(np.median(pitches))
    return min(fits, key=lambda c: (abs(median + c - register), abs(c)))
