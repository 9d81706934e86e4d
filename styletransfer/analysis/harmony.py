"""Chords and consonance under a melody: one chord per beat read from the accompaniment against the 40
triad templates, and the harmony metrics of Yeh et al. 2021 ("Automatic melody harmonization with triad
chords: a comparative study", J. New Music Research 50(1)): CHE, CC, CTD, CTnCTR, PCS, MCTD.
The search's ranking uses the pitch consistency score (PCS); the cadences read the beat chords.

A ratio with nothing to count is ``nan``, not 0.
"""
from __future__ import annotations

import math

import numpy as np

from .notes import EPS, as_notes, chunks

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_QUALITIES = (("", (0, 4, 7), 12), ("m", (0, 3, 7), 12), ("dim", (0, 3, 6), 12), ("aug", (0, 4, 8), 4))
CHORD_LABELS: list[str] = []
_roots: list[int] = []
_templates: list[np.ndarray] = []
for _suffix, _intervals, _n_roots in _QUALITIES:
    for _root in range(_n_roots):
        CHORD_LABELS.append(NOTE_NAMES[_root] + _suffix)
        _roots.append(_root)
        _templates.append(np.isin(np.arange(12), [(_root + i) % 12 for i in _intervals]).astype(float))
TEMPLATES = np.stack(_templates)  # (40, 12) binary pitch-class sets: 12 major, 12 minor, 12 dim, 4 aug
TEMPLATE_ROOTS = np.array(_roots)
del _suffix, _intervals, _n_roots, _root, _roots, _templates

# Harte, Sandler & Gasser 2006, "Detecting harmonic change in musical audio": a chroma vector's 6-D tonal
# centroid is PHI @ chroma / sum(chroma) — circles of fifths (r1), minor thirds (r2) and major thirds (r3).
_l = np.arange(12)
_R1, _R2, _R3 = 1.0, 1.0, 0.5
PHI = np.stack([
    _R1 * np.sin(_l * 7 * np.pi / 6), _R1 * np.cos(_l * 7 * np.pi / 6),
    _R2 * np.sin(_l * 3 * np.pi / 2), _R2 * np.cos(_l * 3 * np.pi / 2),
    _R3 * np.sin(_l * 2 * np.pi / 3), _R3 * np.cos(_l * 2 * np.pi / 3),
])  # (6, 12)
TEMPLATE_CENTROIDS = (PHI @ TEMPLATES.T / 3).T  # (40, 6)
PC_CENTROIDS = PHI.T  # (12, 6): the centroid of a single pitch class


def tonal_centroid(chroma) -> np.ndarray:
    """Harte et al. 2006 tonal centroid (6-D, r1 = r2 = 1, r3 = 0.5) of a 12-bin chroma vector."""
    chroma = np.asarray(chroma, dtype=float)
    return PHI @ chroma / chroma.sum()


def _beat_overlaps(notes: np.ndarray, beat: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(note index, beat index, overlap in quarters) for every note and each beat it sounds in.

    Beat k is [k * beat, (k + 1) * beat); only overlaps of positive length are returned.
    """
    if not len(notes):
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    first = np.floor(notes[:, 0] / beat + EPS).astype(int)
    last = np.maximum(np.ceil(notes[:, 1] / beat - EPS).astype(int) - 1, first)
    counts = last - first + 1
    idx = np.repeat(np.arange(len(notes)), counts)
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    b = first[idx] + np.arange(counts.sum()) - offsets
    overlap = np.minimum(notes[idx, 1], (b + 1) * beat) - np.maximum(notes[idx, 0], b * beat)
    keep = overlap > EPS
    return idx[keep], b[keep], overlap[keep]


def _n_beats(beat: float, *arrays: np.ndarray) -> int:
    end = max((a[:, 1].max() for a in arrays if len(a)), default=0.0)
    return int(math.ceil(end / beat - EPS))


def _chord_index(accompaniment: np.ndarray, beat: float, n_beats: int) -> np.ndarray:
    """Per beat: index into ``CHORD_LABELS``, or -1 ("N") where no accompaniment sounds.

    The beat's chroma is the accompaniment's sounding time per pitch class in the beat. Each template is
    scored (time inside the triad - time outside) / total; ties go to the template whose root sounds
    longest, then to the first in the order major, minor, diminished, augmented, roots from C up.
    """
    chroma = np.zeros((n_beats, 12))
    i, b, overlap = _beat_overlaps(accompaniment, beat)
    np.add.at(chroma, (b, accompaniment[i, 2].astype(int) % 12), overlap)
    total = chroma.sum(axis=1, keepdims=True)
    safe = np.where(total > 0, total, 1.0)
    inside = chroma @ TEMPLATES.T
    score = (2 * inside - total) / safe + 1e-6 * chroma[:, TEMPLATE_ROOTS] / safe
    best = np.argmax(np.round(score, 9), axis=1)
    return np.where(total[:, 0] > 0, best, -1)


def beat_chords(accompaniment, beat: float = 1.0) -> list[str]:
    """The chord label of each beat of the accompaniment ("C", "Am", "Bdim", "Caug", or "N": nothing
    sounds), by best triad template match (see ``_chord_index``)."""
    acc = as_notes(accompaniment)
    return [CHORD_LABELS[k] if k >= 0 else "N" for k in _chord_index(acc, beat, _n_beats(beat, acc))]


def _next_pitch(melody: np.ndarray) -> np.ndarray:
    """Pitch of the next melody note (the highest at the next later onset); nan for the last notes."""
    nxt = np.searchsorted(melody[:, 0], melody[:, 0] + EPS, side="left")
    padded = np.append(melody[:, 2], np.nan)
    return padded[nxt]


def harmony_metrics(melody, accompaniment, beat: float = 1.0) -> dict:
    """Yeh et al. 2021's harmony metrics, with the chords read from the accompaniment, one per beat.

    Chords: each beat ([k * beat, (k + 1) * beat), beat = 1 quarter by default) is labelled with its best
    triad template (24 major/minor, 12 diminished, 4 augmented; see ``_chord_index``). Beats with no
    accompaniment are "N" and are left out of every metric below, melody notes in them included.

    - ``chord_histogram_entropy`` (CHE): -sum p log p over the labels of the chord beats, natural log.
    - ``chord_coverage`` (CC): the number of distinct chord labels.
    - ``chord_tonal_distance`` (CTD): mean Euclidean distance between the tonal centroids (Harte et al.
      2006, of the label's triad) of consecutive chords — the chord beats in order, N beats skipped, a
      repeated chord counting as distance 0.
    - ``ctnctr``: (n_c + n_p) / (n_c + n_n). Each melody note is counted once per beat it sounds in: a
      chord tone (n_c) when its pitch class is in the beat's triad, otherwise a non-chord tone (n_n), and a
      proper one (n_p) when 1 or 2 semitones from the next melody note (the highest note at the next
      onset). 1 is best.
    - ``pcs``: pitch consistency score. Every 16th note (0.25 quarters, from 0), each (melody note,
      accompaniment note) pair sounding together scores +1 when |interval| mod 12 is in {0, 3, 4, 7, 8, 9},
      0 when it is 5 (a fourth), else -1; the mean over all pairs. Uses the accompaniment notes
      themselves, not the triad labels (so it needs no chord labelling).
    - ``mctd``: melody-chord tonal distance: Euclidean distance between the tonal centroid of a melody
      note's pitch class and that of its beat's triad, averaged with weight = the note's time in the beat.
    - ``chord_beats``: the number of beats with a chord.
    """
    mel, acc = as_notes(melody), as_notes(accompaniment)
    chords = _chord_index(acc, beat, _n_beats(beat, mel, acc))
    seq = chords[chords >= 0]
    out = {"chord_beats": int(len(seq)), "chord_coverage": int(len(np.unique(seq)))}
    if len(seq):
        p = np.unique(seq, return_counts=True)[1] / len(seq)
        out["chord_histogram_entropy"] = float(-(p * np.log(p)).sum()) + 0.0  # + 0.0: no -0.0
    else:
        out["chord_histogram_entropy"] = math.nan
    if len(seq) > 1:
        c = TEMPLATE_CENTROIDS[seq]
        out["chord_tonal_distance"] = float(np.linalg.norm(np.diff(c, axis=0), axis=1).mean())
    else:
        out["chord_tonal_distance"] = math.nan

    # Melody notes per beat, in chord beats only.
    i, b, overlap = _beat_overlaps(mel, beat)
    keep = chords[b] >= 0 if len(b) else np.zeros(0, bool)
    i, b, overlap = i[keep], b[keep], overlap[keep]
    chord = chords[b]
    pc = mel[i, 2].astype(int) % 12
    is_chord_tone = TEMPLATES[chord, pc] > 0
    step = np.abs(_next_pitch(mel)[i] - mel[i, 2]) if len(mel) else np.zeros(0)
    proper = ~is_chord_tone & ((step == 1) | (step == 2))
    n_c, n_n, n_p = int(is_chord_tone.sum()), int((~is_chord_tone).sum()), int(proper.sum())
    out["ctnctr"] = (n_c + n_p) / (n_c + n_n) if n_c + n_n else math.nan
    if len(i):
        dist = np.linalg.norm(PC_CENTROIDS[pc] - TEMPLATE_CENTROIDS[chord], axis=1)
        out["mctd"] = float((dist * overlap).sum() / overlap.sum())
    else:
        out["mctd"] = math.nan
    out["pcs"] = pitch_consistency(mel, acc)
    return out


_PCS_SCORE = np.array([1, -1, -1, 1, 1, 0, -1, 1, 1, 1, -1, -1], dtype=float)  # by interval mod 12
_STEP16 = 0.25


def pitch_consistency(mel: np.ndarray, acc: np.ndarray) -> float:
    """PCS (see ``harmony_metrics``): a pair sounding together over [lo, hi) is sampled at the 16th-note
    grid points k * 0.25 inside it."""
    total = weight = 0.0
    if not len(mel) or not len(acc):
        return math.nan
    for s in chunks(len(mel)):
        m = mel[s]
        lo = np.maximum(m[:, None, 0], acc[None, :, 0])
        hi = np.minimum(m[:, None, 1], acc[None, :, 1])
        samples = np.ceil(hi / _STEP16 - EPS) - np.ceil(lo / _STEP16 - EPS)
        samples = np.where(hi > lo + EPS, np.maximum(samples, 0), 0)
        interval = (np.abs(m[:, None, 2] - acc[None, :, 2]).astype(int)) % 12
        total += float((samples * _PCS_SCORE[interval]).sum())
        weight += float(samples.sum())
    return total / weight if weight else math.nan


