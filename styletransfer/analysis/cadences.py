"""Phrases and cadences of a harmonized melody.

**Phrase ends**: ``phrases.phrase_ends`` (fermatas when given, else rests, long notes on strong beats and
the last note).

**Chords**: one triad per beat where the accompaniment sounds, read from the full texture (melody and
accompaniment) by ``harmony.beat_chords`` (the best of 40 triad templates, weighted by sounding time in
the beat, so a 4–3 suspension or a passing seventh does not change the chord); the *bass* of a beat is
the lowest note sounding at its onset (or, if none, the lowest attacked in it).

**Cadence** of a phrase: the *final* chord is the chord of the beat where the phrase's last melody note
starts; the *penultimate* chord is the nearest different chord of the one or two beats before it. In a key
(tonic t, with degrees as semitones above t):

- **authentic**: V (major triad on 7) or vii° (diminished triad on 11) to the tonic triad (major or
  minor on 0) in root position (bass = root); *perfect* (PAC) when the V is also in root position and the
  melody ends on the tonic, else imperfect;
- **plagal**: IV or iv (on 5) to the root-position tonic;
- **deceptive**: V to vi (minor on 9; in minor: VI, major on 8);
- **half**: ending on V in root position (from any other chord);
- **none**: anything else, or no different chord before the final one.

The key of the piece is ``piece_key`` of all its notes (music21's ``analyze('key')``, Aarden–Essen
weights, duration-weighted; on the Bach test chorales it agrees with the key music21 finds on the
score itself in 54 of 56, where the Krumhansl–Kessler ``keys.estimate_key`` agrees in 41, mostly
naming the dominant). A phrase is read in that key and, when it is not authentic there, in its own key
(``piece_key`` of the phrase's notes) if that key is closely related (its tonic triad is a major or
minor triad of the home key's scale): an internal cadence in the dominant or the relative key is an
authentic cadence *there* (``Cadence.key`` says where). The first authentic reading wins, else the home
key's reading, else the local key's. Roman numerals (``Cadence.figures``) are music21's
``romanNumeralFromChord`` of the two chords in the key of the reading, for display.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
from music21 import bar, repeat, roman, spanner
from music21 import chord as m21chord
from music21 import key as m21key
from music21 import pitch as m21pitch
from music21.analysis import discrete

from .beats import DEFAULT_TIME_SIGNATURES, EPS
from ..keys import pitch_class_weights
from .harmony import CHORD_LABELS, TEMPLATE_ROOTS, beat_chords
from .phrases import monophonic, phrase_ends

LOOK_BACK = 2  # beats before the final chord searched for the penultimate chord
KINDS = ("authentic", "half", "plagal", "deceptive", "none")

MAJOR_KEY_NAMES = ["C", "D-", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B"]
MINOR_KEY_NAMES = ["c", "c#", "d", "e-", "e", "f", "f#", "g", "g#", "a", "b-", "b"]
_QUALITY_INTERVALS = {"maj": ("M3", "P5"), "min": ("m3", "P5"), "dim": ("m3", "d5"), "aug": ("M3", "A5")}


# --------------------------------------------------------------------------------------------- key


_AARDEN_ESSEN = discrete.AardenEssen()
KEY_PROFILES = np.stack([np.array(_AARDEN_ESSEN.getWeights(mode), dtype=float) for mode in ("major", "minor")])


def piece_key(notes) -> tuple[int, str]:
    """(tonic pitch class, "major" | "minor") of notes, as music21's ``analyze('key')`` finds it (its
    default Aarden–Essen weights, music21's own, correlated with the duration-weighted pitch-class
    distribution; computed here in numpy because music21 spends 25 ms building the stream around the
    same 12 numbers — the test checks the two agree). C major when there are no notes."""
    notes = np.asarray(notes, dtype=float).reshape(-1, 3)
    if not len(notes):
        return 0, "major"
    h = pitch_class_weights(notes[:, 2].astype(np.int64), notes[:, 1] - notes[:, 0])
    if h.std() == 0:
        return 0, "major"
    rotations = np.stack([np.roll(h, -t) for t in range(12)])  # row t: the distribution seen from tonic t
    a = rotations - rotations.mean(axis=1, keepdims=True)
    b = KEY_PROFILES - KEY_PROFILES.mean(axis=1, keepdims=True)
    corr = (b @ a.T) / np.sqrt((b * b).sum(axis=1)[:, None] * (a * a).sum(axis=1)[None, :])  # [mode, tonic]
    mode, tonic = np.unravel_index(int(np.argmax(corr)), corr.shape)
    return int(tonic), ("major", "minor")[int(mode)]


# ------------------------------------------------------------------------------------------ chords


@dataclass(frozen=True)
class BeatChord:
    root: int  # pitch class, -1 for no chord
    quality: str  # "maj", "min", "dim", "aug", "" for no chord
    bass: int  # pitch (MIDI) of the bass, -1 for none

    @property
    def root_position(self) -> bool:
        return self.root >= 0 and self.bass >= 0 and self.bass % 12 == self.root


def _parse_label(label: str) -> tuple[int, str]:
    """(root pitch class, quality) of a ``harmony.CHORD_LABELS`` label; (-1, "") for "N"."""
    if label == "N":
        return -1, ""
    root = int(TEMPLATE_ROOTS[CHORD_LABELS.index(label)])
    for suffix, quality in (("dim", "dim"), ("aug", "aug"), ("m", "min")):
        if label.endswith(suffix):
            return root, quality
    return root, "maj"


class BeatChords:
    """The chord of each beat ``k`` ([k * beat, (k + 1) * beat)) of the full texture ``notes``; no chord
    in a beat where no ``accompaniment`` note sounds (a bare melody has no harmony to judge)."""

    def __init__(self, notes: np.ndarray, beat: float, accompaniment: np.ndarray | None = None):
        self.notes = np.asarray(notes, dtype=float).reshape(-1, 3)
        self.beat = beat
        labels = beat_chords(self.notes, beat)
        if accompaniment is not None:
            accompanied = [label != "N" for label in beat_chords(accompaniment, beat)]
            labels = [label if k < len(accompanied) and accompanied[k] else "N" for k, label in enumerate(labels)]
        self.labels = [_parse_label(label) for label in labels]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, k: int) -> BeatChord:
        if not 0 <= k < len(self.labels):
            return BeatChord(-1, "", -1)
        root, quality = self.labels[k]
        t, n = k * self.beat, self.notes
        at = n[(n[:, 0] <= t + EPS) & (n[:, 1] > t + EPS)]
        if not len(at):
            at = n[(n[:, 0] > t - EPS) & (n[:, 0] < t + self.beat - EPS)]
        return BeatChord(root, quality, int(at[:, 2].min()) if len(at) else -1)


# ---------------------------------------------------------------------------------------- cadences


@dataclass(frozen=True)
class Cadence:
    end: float  # onset (quarters) of the phrase's last melody note
    kind: str  # one of KINDS
    perfect: bool  # authentic and perfect (PAC)
    key: tuple[int, str]  # the key of the reading
    figures: tuple[str, str] = field(default=("", ""))  # roman numerals (penultimate, final)


def _degree(c: BeatChord, tonic: int) -> int:
    return (c.root - tonic) % 12


def classify(penult: BeatChord | None, final: BeatChord, tonic: int, mode: str, melody_last: int) -> tuple[str, bool]:
    """(kind, perfect) of the cadence penult -> final in the key (see the module's docstring)."""
    if penult is None or final.root < 0 or penult.root < 0:
        return "none", False
    fd, pd_ = _degree(final, tonic), _degree(penult, tonic)
    tonic_final = fd == 0 and final.quality in ("maj", "min") and final.root_position
    dominant = pd_ == 7 and penult.quality == "maj"
    leading = pd_ == 11 and penult.quality == "dim"
    if tonic_final and (dominant or leading):
        return "authentic", bool(dominant and penult.root_position and melody_last % 12 == tonic)
    if tonic_final and pd_ == 5 and penult.quality in ("maj", "min"):
        return "plagal", False
    submediant = (fd == 9 and final.quality == "min") if mode == "major" else (fd == 8 and final.quality == "maj")
    if dominant and submediant:
        return "deceptive", False
    if fd == 7 and final.quality == "maj" and final.root_position:
        return "half", False
    return "none", False


def closely_related(home: tuple[int, str], other: tuple[int, str]) -> bool:
    """Is ``other``'s tonic triad a major or minor triad of ``home``'s scale (natural minor in minor)?"""
    t, mode = home
    if mode == "major":
        triads = {(0, "major"), (2, "minor"), (4, "minor"), (5, "major"), (7, "major"), (9, "minor")}
    else:
        triads = {(0, "minor"), (3, "major"), (5, "minor"), (7, "minor"), (8, "major"), (10, "major")}
    return ((other[0] - t) % 12, other[1]) in triads


@functools.lru_cache(maxsize=64)
def _m21_key(tonic: int, mode: str):
    return m21key.Key(MAJOR_KEY_NAMES[tonic] if mode == "major" else MINOR_KEY_NAMES[tonic])


def _spelled_root(pc: int, k) -> m21pitch.Pitch:
    """The root spelled from the key's scale (in minor, the raised sixth and seventh too)."""
    names = [p.name for p in k.getPitches("C3", "B3")]
    if k.mode == "minor":
        names += [m21pitch.Pitch(k.pitchFromDegree(d).name).transpose("A1").name for d in (6, 7)]
    for name in names:
        if m21pitch.Pitch(name).pitchClass == pc:
            return m21pitch.Pitch(name + "3")
    return m21pitch.Pitch(pc + 48)


def roman_figure(c: BeatChord, tonic: int, mode: str) -> str:
    """music21's roman numeral of a beat chord in the key (root spelled from the key's scale, the other
    tones as thirds and fifths above it, the bass's chord tone at the bottom)."""
    if c.root < 0:
        return "N"
    k = _m21_key(tonic, mode)
    root = _spelled_root(c.root, k)
    tones = [root] + [root.transpose(i) for i in _QUALITY_INTERVALS[c.quality]]
    low = [i for i, p in enumerate(tones) if c.bass >= 0 and p.pitchClass == c.bass % 12]
    b = low[0] if low else 0
    tones = tones[b:] + [p.transpose("P8") for p in tones[:b]]
    return roman.romanNumeralFromChord(m21chord.Chord(tones), k).figure


def phrase_cadences(melody_notes, accompaniment_notes, beat: float = 1.0,
                    time_signatures=DEFAULT_TIME_SIGNATURES, fermatas=None,
                    key: tuple[int, str] | None = None, figures: bool = True) -> tuple[tuple[int, str], list[Cadence]]:
    """(key of the piece, the cadence of every phrase; see the module's docstring). ``figures=False`` leaves
    the roman numerals out (music21's spelling of them is most of the time, and the search needs only the
    kinds)."""
    mel = monophonic(melody_notes)
    acc = np.asarray(accompaniment_notes, dtype=float).reshape(-1, 3)
    both = np.concatenate([np.asarray(melody_notes, dtype=float).reshape(-1, 3), acc])
    if not len(mel):
        return (key or (0, "major")), []
    if key is None:
        key = piece_key(both)
    chords = BeatChords(both, beat, acc)
    ends = phrase_ends(mel, beat, time_signatures, fermatas)
    out = []
    start = mel[0, 0]
    for i in ends:
        t_end = mel[i, 0]
        kf = math.floor(t_end / beat + EPS)
        final = chords[kf]
        penult = None
        for kb in range(kf - 1, max(kf - LOOK_BACK, 0) - 1, -1):
            c = chords[kb]
            if c.root >= 0 and (c.root, c.quality) != (final.root, final.quality):
                penult = c
                break
        keys = [key]
        phrase = both[(both[:, 0] >= start - EPS) & (both[:, 0] <= t_end + EPS)]
        if len(phrase):
            local = piece_key(phrase)
            if local != key and closely_related(key, local):
                keys.append(local)
        readings = [(k, *classify(penult, final, k[0], k[1], int(mel[i, 2]))) for k in keys]
        chosen = next((r for r in readings if r[1] == "authentic"), None) or \
            next((r for r in readings if r[1] != "none"), readings[0])
        k, kind, perfect = chosen
        named = ((roman_figure(penult, *k) if penult is not None else "-", roman_figure(final, *k)) if figures
                 else ("", ""))
        out.append(Cadence(float(t_end), kind, perfect, k, named))
        start = mel[i, 1]
    return key, out


def cadence_rates(cadences: list[Cadence], home: tuple[int, str] | None = None) -> dict:
    """``authentic_cadence_rate``, ``cadence_rate`` (any kind but none), ``pac_rate`` (per 100 phrases),
    ``final_authentic`` (1.0 when the last phrase's cadence is authentic, onto a root-position tonic by
    definition, in the home key ``home`` when given; else 0.0), ``phrases``, and a rate per kind."""
    n = len(cadences)
    out = {"phrases": n}
    if not n:
        return {**out, "authentic_cadence_rate": math.nan, "cadence_rate": math.nan, "pac_rate": math.nan,
                "final_authentic": math.nan, **{f"{k}_cadence_rate": math.nan for k in KINDS[1:]}}
    kinds = [c.kind for c in cadences]
    out["authentic_cadence_rate"] = 100.0 * kinds.count("authentic") / n
    out["cadence_rate"] = 100.0 * sum(k != "none" for k in kinds) / n
    out["pac_rate"] = 100.0 * sum(c.perfect for c in cadences) / n
    for k in KINDS[1:]:
        out[f"{k}_cadence_rate"] = 100.0 * kinds.count(k) / n
    last = cadences[-1]
    out["final_authentic"] = float(last.kind == "authentic" and (home is None or last.key == home))
    return out


# ----------------------------------------------------------------------- fermatas from a music21 score


def fermata_onsets(m21_score, melody_notes=None) -> list[float]:
    """Onsets (quarters) of the fermata notes of a music21 score's first part, with repeats expanded
    when the score has any (as ``scripts/convert_music21_corpus.py`` converts the corpus) and shifted so
    that they line up with ``melody_notes`` (the same piece's MIDI melody: the shift is the difference of
    the first onsets; without it, the pickup shift the converter applies)."""
    kinds = (bar.Repeat, repeat.RepeatMark, repeat.RepeatExpression, spanner.RepeatBracket)
    score = m21_score
    if any(True for _ in score.recurse().getElementsByClass(kinds)):
        try:
            score = score.expandRepeats()
        except Exception:  # noqa: BLE001 — music21 raises many types on malformed repeats; keep as written
            score = m21_score
    part = score.parts[0] if score.parts else score
    notes = [n for n in part.flatten().notes if not n.duration.isGrace]
    if not notes:
        return []
    if melody_notes is not None and len(np.asarray(melody_notes).reshape(-1, 3)):
        shift = float(np.asarray(melody_notes, dtype=float).reshape(-1, 3)[:, 0].min()) - float(notes[0].offset)
    else:
        first = part.getElementsByClass("Measure").first()
        shift = float(first.paddingLeft) if first is not None and first.paddingLeft else 0.0
    return [float(n.offset) + shift for n in notes
            if any(type(e).__name__ == "Fermata" for e in n.expressions)]
