"""Evaluation metrics for a harmonized melody: is the melody kept, and how good is the harmony under it.

Everything works on numpy arrays of notes, one row per note: ``(onset, end, pitch)``, times in quarter
notes (float). ``notes_of`` makes them from a symusic ``Score`` or ``Track``; every metric also takes a
``Score`` directly.

- Melody kept (ours): ``melody_kept`` — recall of the input melody in the output, precision of the
  output's top line, and how often something sounds above the melody.
- Harmony (Yeh et al. 2021, "Automatic melody harmonization with triad chords: a comparative study",
  J. New Music Research 50(1)): ``harmony_metrics`` — CHE, CC, CTD, CTnCTR, PCS, MCTD, with the chords
  read from the accompaniment, one per beat.
- Texture and pitch (MusPy, Dong et al. 2020, "MusPy: a toolkit for symbolic music generation", ISMIR):
  ``polyphony``, ``in_scale_rate`` (MusPy's ``scale_consistency``); and ``pitch_class_histogram`` with a
  transposition-invariant ``pitch_class_histogram_distance``.

A ratio with nothing to count (no melody notes, no chord beats...) is ``nan``, not 0.
"""
from __future__ import annotations

import math

import numpy as np
from symusic import Score

EPS = 1e-9  # times are ticks / ticks_per_quarter: equal ticks give equal floats, this only absorbs rounding
_CHUNK = 1024  # rows per block in the pairwise (note x note) comparisons, to bound memory on long pieces

# --------------------------------------------------------------------------------------------- notes


def notes_of(score_or_track, tpq: int | None = None) -> np.ndarray:
    """Notes as a ``(n, 3)`` float array ``(onset_q, end_q, pitch)``, times in quarter notes.

    A ``Score``: all its non-drum tracks merged (``tpq`` defaults to its ``ticks_per_quarter``). A
    ``Track``: its notes, ``tpq`` required (a track does not know its resolution). An array-like of
    ``(onset, end, pitch)`` rows is taken as is. Rows are sorted by onset, then highest pitch first.
    """
    if isinstance(score_or_track, Score):
        tpq = tpq or score_or_track.ticks_per_quarter
        parts = [_track_array(t, tpq) for t in score_or_track.tracks if not t.is_drum]
        notes = np.concatenate(parts) if parts else np.zeros((0, 3))
    elif hasattr(score_or_track, "notes") and hasattr(score_or_track, "is_drum"):
        if tpq is None:
            raise ValueError("notes_of(track) needs tpq: a track does not know its ticks per quarter")
        notes = _track_array(score_or_track, tpq)
    else:
        notes = np.asarray(score_or_track, dtype=float).reshape(-1, 3)
    return _sorted(notes)


def _track_array(track, tpq: int) -> np.ndarray:
    a = track.notes.numpy()
    on = a["time"].astype(float) / tpq
    end = (a["time"].astype(float) + a["duration"].astype(float)) / tpq
    return np.stack([on, end, a["pitch"].astype(np.int64).astype(float)], axis=1) if len(on) else np.zeros((0, 3))


def _sorted(notes: np.ndarray) -> np.ndarray:
    notes = np.asarray(notes, dtype=float).reshape(-1, 3)
    return notes[np.lexsort((-notes[:, 2], notes[:, 0]))]


def _as_notes(x) -> np.ndarray:
    return notes_of(x) if isinstance(x, Score) else _sorted(x)


def _chunks(n: int):
    for start in range(0, n, _CHUNK):
        yield slice(start, min(n, start + _CHUNK))


# -------------------------------------------------------------------------------------- melody kept


def _match_melody(out: np.ndarray, mel: np.ndarray, tolerance: float) -> tuple[np.ndarray, int, int]:
    """(mask over ``out`` of the notes matched to the melody, melody pairs found, melody pairs).

    The input melody is taken as its distinct (onset, pitch) pairs. Matching is one to one: each pair
    claims the output note of the same pitch with the nearest onset within ``tolerance`` quarters that no
    earlier pair claimed, so an accompaniment note doubling the melody at the unison stays accompaniment.
    """
    pairs = np.unique(mel[:, [0, 2]], axis=0) if len(mel) else np.zeros((0, 2))
    taken = np.zeros(len(out), dtype=bool)
    found = 0
    for pitch in np.unique(pairs[:, 1]):
        idx = np.flatnonzero(out[:, 2] == pitch)
        if not len(idx):
            continue
        onsets = out[idx, 0]
        for t in pairs[pairs[:, 1] == pitch, 0]:  # np.unique sorts: onsets ascending
            d = np.abs(onsets - t)
            d[taken[idx]] = np.inf
            j = int(np.argmin(d))
            if d[j] <= tolerance + EPS:
                taken[idx[j]] = True
                found += 1
    return taken, found, len(pairs)


def split_melody(output: Score, melody: Score, tolerance: float = 1 / 16) -> tuple[np.ndarray, np.ndarray]:
    """(melody notes, accompaniment notes) of ``output``, as note arrays.

    An output note is melody when it matches a note of the input ``melody``: same pitch, onsets at most
    ``tolerance`` quarters apart, one output note per input (onset, pitch) pair (see ``_match_melody``);
    every other note is accompaniment. Tracks are ignored, so this works the same on an output with one
    merged track (e.g. Bach's own chorale) as on a Melody + Accompaniment output.
    """
    out = _as_notes(output)
    mask, _, _ = _match_melody(out, _as_notes(melody), tolerance)
    return out[mask], out[~mask]


def _sounds_above(notes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """For each of ``notes``: does some note of ``others`` sound strictly higher, overlapping it in time
    for a positive length?"""
    above = np.zeros(len(notes), dtype=bool)
    if not len(notes) or not len(others):
        return above
    for s in _chunks(len(notes)):
        n = notes[s]
        overlap = np.minimum(n[:, None, 1], others[None, :, 1]) - np.maximum(n[:, None, 0], others[None, :, 0])
        above[s] = ((overlap > EPS) & (others[None, :, 2] > n[:, None, 2])).any(axis=1)
    return above


def _top_line(notes: np.ndarray, is_melody: np.ndarray) -> np.ndarray:
    """Melody flags of the output's top line (skyline).

    The top line has at most one note per distinct onset: the highest note starting there, unless a note
    that started earlier and still sounds is strictly higher (then nothing at that onset is on top — e.g.
    accompaniment moving under a held melody note). The (onset, pitch) is melody if a melody note has it.
    """
    if not len(notes):
        return np.zeros(0, dtype=bool)
    order = np.lexsort((~is_melody, -notes[:, 2], notes[:, 0]))  # per onset: highest first, melody first
    notes, is_melody = notes[order], is_melody[order]
    _, first = np.unique(notes[:, 0], return_index=True)
    cand, flag = notes[first], is_melody[first]
    covered = np.zeros(len(cand), dtype=bool)
    for s in _chunks(len(cand)):
        c = cand[s]
        covered[s] = ((notes[None, :, 0] < c[:, None, 0] - EPS) & (notes[None, :, 1] > c[:, None, 0] + EPS)
                      & (notes[None, :, 2] > c[:, None, 2])).any(axis=1)
    return flag[~covered]


def melody_kept(output: Score, melody: Score, tolerance: float = 1 / 16) -> dict:
    """Is the input melody kept in the output, and on top? (Our metric; matching as in ``split_melody``.)

    - ``recall``: share of the input melody's distinct (onset, pitch) pairs found in the output.
    - ``precision``: share of the output's top line (``_top_line``: highest note at each distinct onset,
      unless an earlier, still-sounding note is higher) that are input melody notes.
    - ``above_rate``: share of the output's melody notes during which some non-melody note sounds strictly
      higher (overlapping it in time for a positive length).
    - ``all_kept``: recall == 1 and above_rate == 0.
    - ``melody_notes`` / ``melody_found``: the counts behind ``recall``.
    """
    out = _as_notes(output)
    return _kept(out, *_match_melody(out, _as_notes(melody), tolerance))


def _kept(out: np.ndarray, mask: np.ndarray, found: int, total: int) -> dict:
    top = _top_line(out, mask)
    above = _sounds_above(out[mask], out[~mask])
    recall = found / total if total else math.nan
    above_rate = float(above.mean()) if len(above) else math.nan
    return {
        "recall": recall,
        "precision": float(top.mean()) if len(top) else math.nan,
        "above_rate": above_rate,
        "all_kept": bool(recall == 1 and above_rate == 0),
        "melody_notes": total,
        "melody_found": found,
    }


# ------------------------------------------------------------------------------------------ harmony

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
    acc = _as_notes(accompaniment)
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
    mel, acc = _as_notes(melody), _as_notes(accompaniment)
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
    for s in _chunks(len(mel)):
        m = mel[s]
        lo = np.maximum(m[:, None, 0], acc[None, :, 0])
        hi = np.minimum(m[:, None, 1], acc[None, :, 1])
        samples = np.ceil(hi / _STEP16 - EPS) - np.ceil(lo / _STEP16 - EPS)
        samples = np.where(hi > lo + EPS, np.maximum(samples, 0), 0)
        interval = (np.abs(m[:, None, 2] - acc[None, :, 2]).astype(int)) % 12
        total += float((samples * _PCS_SCORE[interval]).sum())
        weight += float(samples.sum())
    return total / weight if weight else math.nan


# ------------------------------------------------------------------------------- pitch and texture


def pitch_class_histogram(notes) -> np.ndarray:
    """12 bins, each pitch class's total sounding time (quarters), normalized to sum to 1 (all zeros when
    there are no notes)."""
    n = _as_notes(notes)
    hist = np.bincount(n[:, 2].astype(int) % 12, weights=n[:, 1] - n[:, 0], minlength=12).astype(float)
    return hist / hist.sum() if hist.sum() > 0 else hist


def pitch_class_histogram_distance(a_notes, b_notes) -> float:
    """L1 distance (in [0, 2]) between the duration-weighted pitch-class histograms of ``a`` and ``b``,
    transposition-invariant: the minimum over the 12 rotations (transpositions) of ``b``'s histogram, so a
    piece in another key than its reference is not penalized for the key. ``nan`` if either has no notes."""
    ha, hb = pitch_class_histogram(a_notes), pitch_class_histogram(b_notes)
    if ha.sum() == 0 or hb.sum() == 0:
        return math.nan
    return float(histogram_distances(ha, hb[None])[0])


def histogram_distances(histogram: np.ndarray, references: np.ndarray) -> np.ndarray:
    """[n]: the transposition-invariant L1 distance (``pitch_class_histogram_distance``) of one 12-bin
    histogram to each of ``references`` ([n, 12]): the minimum over the 12 rotations of each reference."""
    rotations = np.stack([np.roll(references, k, axis=1) for k in range(12)], axis=1)  # [n, 12, 12]
    return np.abs(rotations - histogram).sum(axis=2).min(axis=1)


def polyphony(notes, step: float = 0.25) -> float:
    """MusPy's polyphony: the mean number of distinct pitches sounding at a time step, over the steps where
    at least one sounds. Steps are the grid points k * step (16th notes by default); a note sounds at t when
    onset <= t < end."""
    n = _as_notes(notes)
    if not len(n):
        return math.nan
    first = np.ceil(n[:, 0] / step - EPS).astype(int)
    stop = np.ceil(n[:, 1] / step - EPS).astype(int)
    keep = stop > first
    if not keep.any():
        return math.nan
    first, stop, pitch = first[keep], stop[keep], n[keep, 2].astype(int)
    diff = np.zeros((stop.max() + 1, 128), dtype=np.int32)
    np.add.at(diff, (first, pitch), 1)
    np.add.at(diff, (stop, pitch), -1)
    sounding = (np.cumsum(diff, axis=0) > 0).sum(axis=1)
    active = sounding > 0
    return float(sounding[active].mean())


_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])  # natural minor
_SCALES = np.stack([np.isin(np.arange(12), (root + s) % 12) for s in (_MAJOR, _MINOR) for root in range(12)])


def in_scale_rate(notes) -> float:
    """MusPy's scale_consistency: the largest share of notes (counted per note, not by duration) whose pitch
    class is in the scale, over the 24 major and natural-minor scales."""
    n = _as_notes(notes)
    if not len(n):
        return math.nan
    counts = np.bincount(n[:, 2].astype(int) % 12, minlength=12)
    return float((_SCALES @ counts).max() / len(n))


# ---------------------------------------------------------------------------------------------- all


def transfer_metrics(output: Score, melody: Score, reference_notes: np.ndarray | None = None,
                     tolerance: float = 1 / 16, beat: float = 1.0) -> dict:
    """All metrics of one output in a flat dict.

    ``melody_*``: ``melody_kept`` (``melody_recall``, ``_precision``, ``_above_rate``, ``_all_kept``,
    ``melody_notes``, ``melody_found``); the harmony
    metrics of ``split_melody``'s (melody, accompaniment); ``polyphony`` and ``in_scale_rate`` of the whole
    output; ``accompaniment_notes``; and ``pitch_class_distance``: ``pitch_class_histogram_distance`` of the
    whole output to ``reference_notes`` (e.g. the original piece), ``nan`` when no reference is given.
    """
    out = _as_notes(output)
    mel_in = _as_notes(melody)
    mask, found, total = _match_melody(out, mel_in, tolerance)
    kept = _kept(out, mask, found, total)
    result = {k if k.startswith("melody_") else f"melody_{k}": v for k, v in kept.items()}
    result.update(harmony_metrics(out[mask], out[~mask], beat))
    result["accompaniment_notes"] = int((~mask).sum())
    result["polyphony"] = polyphony(out)
    result["in_scale_rate"] = in_scale_rate(out)
    result["pitch_class_distance"] = (math.nan if reference_notes is None
                                      else pitch_class_histogram_distance(out, reference_notes))
    return result
