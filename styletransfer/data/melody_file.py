"""Reading a user's melody file (MIDI, MusicXML, ABC, Humdrum kern) into a one-track symusic Score."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import music21
import numpy as np
from symusic import KeySignature, Note, Score, Tempo, TextMeta, TimeSignature, Track

from ..config import LimitsConfig, default_recipe
from ..errors import UserError
from ..keys import PIANO_RANGE
from ..tokens.tokenizer import load_score
from .melody_guard import INT32, MelodyWarning, check_file, check_score, clean_meta, parse_bounded, valid_time_signature

MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
MUSIC21_SUFFIXES = {".xml": "MusicXML", ".musicxml": "MusicXML", ".mxl": "MusicXML", ".abc": "ABC",
                    ".krn": "Humdrum kern"}
MELODY_SUFFIXES = (*MIDI_SUFFIXES, *MUSIC21_SUFFIXES)  # every file a melody can be read from
MUSIC21_TPQ = 480
FERMATA = "fermata"  # the marker a melody's fermata notes leave in its Score (MusicXML, kern; a MIDI marker)
MIN_SHARE = 0.25  # a track needs this share of the busiest track's notes to be taken as the melody


__all__ = ["MELODY_SUFFIXES", "MelodyWarning", "quiet_read_melody", "read_melody", "read_melody_noting"]


def read_melody(path: str | os.PathLike, track: int | None = None, limits: LimitsConfig | None = None):
    """A melody file as a one-track ``symusic.Score`` (track "Melody"), tempos, time and key signatures kept.

    Formats: MIDI (.mid/.midi, or any file starting with a MIDI header), MusicXML (.xml/.musicxml/.mxl),
    ABC (.abc), Humdrum kern (.krn). ``track`` is a 0-based index into the MIDI file's tracks or the
    score's parts; by default the melody is the highest line: of the non-drum tracks holding at least a
    quarter as many notes as the busiest one, the one with the highest mean pitch.

    Changes are reported as ``MelodyWarning``s: which track was taken when there were several; a
    polyphonic line reduced to its top notes (the highest note of each onset, unless a higher note still
    sounds; a note overlapping the next by at most a sixteenth is legato and is cut short instead); notes
    outside the piano range 21..108 moved by octaves. Bad input (missing, unreadable, empty, no pitched
    notes, drums only, a bad ``track``) raises UserError.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"file not found: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a melody file")
    limits = limits or default_recipe().limits
    check_file(path, limits)
    suffix = path.suffix.lower()
    if suffix in MUSIC21_SUFFIXES:
        source = parse_bounded(lambda p: _read_music21(Path(p), MUSIC21_SUFFIXES[suffix]), path, limits)
    elif suffix in MIDI_SUFFIXES:
        source = load_score(path)
    elif _starts_like_midi(path):  # MIDI content under another name (symusic goes by the suffix)
        try:
            source = Score.from_midi(path.read_bytes())
        except Exception as exc:  # noqa: BLE001
            raise UserError(f"{path}: not a readable MIDI file ({(str(exc).splitlines() or [''])[0][:80]})") from None
    else:
        raise UserError(f"{path}: unknown melody format '{suffix or path.name}' (MIDI .mid, MusicXML "
                        f".xml/.musicxml/.mxl, ABC .abc, Humdrum kern .krn)")
    check_score(source, limits, path)
    clean_meta(source, path)
    index = _choose_track(source, track, path)
    notes = _top_line(source.tracks[index].notes, source.ticks_per_quarter)
    notes = _into_piano_range(notes)
    out = Score(source.ticks_per_quarter)
    line = Track("Melody", program=0, is_drum=False)
    for time, duration, pitch, velocity in notes:
        line.notes.append(Note(time, duration, pitch, velocity))
    out.tracks.append(line)
    out.tempos = source.tempos.copy()
    out.time_signatures = source.time_signatures.copy()
    out.key_signatures = source.key_signatures.copy()
    out.markers.extend(m for m in source.markers if m.text == FERMATA)
    return out


def mark_fermatas(score: Score, quarters: list[float] | None) -> Score:
    """The score with "fermata" markers at these onsets (quarters): what a MusicXML melody carries, given
    to a melody read from MIDI (the benchmark's chorales, whose fermatas come from the corpus score)."""
    tpq = score.ticks_per_quarter
    score.markers.extend(TextMeta(int(round(q * tpq)), FERMATA) for q in quarters or ())
    return score


def fermata_quarters(score: Score) -> list[float] | None:
    """Onsets (quarters) of the melody's fermata notes, from its "fermata" markers; None when it has none."""
    ticks = sorted({m.time for m in score.markers if m.text == FERMATA})
    return [t / score.ticks_per_quarter for t in ticks] or None


def _starts_like_midi(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"MThd"
    except OSError:
        return False


def _choose_track(score, track: int | None, path: Path) -> int:
    tracks = list(score.tracks)
    pitched = [i for i, t in enumerate(tracks) if not t.is_drum and len(t.notes)]
    listing = ", ".join(f"{i} ({_track_name(tracks[i], i)}, {len(tracks[i].notes)} notes)" for i in pitched)
    if track is not None:
        if not 0 <= track < len(tracks):
            raise UserError(f"{path}: no track {track} (tracks with notes: {listing or 'none'})")
        if tracks[track].is_drum:
            raise UserError(f"{path}: track {track} is drums (tracks with notes: {listing or 'none'})")
        if not len(tracks[track].notes):
            raise UserError(f"{path}: track {track} has no notes (tracks with notes: {listing or 'none'})")
        return track
    if not pitched:
        if any(t.is_drum and len(t.notes) for t in tracks):
            raise UserError(f"{path}: no pitched notes (drums only)")
        raise UserError(f"{path}: no notes")
    if len(pitched) == 1:
        return pitched[0]
    busiest = max(len(tracks[i].notes) for i in pitched)
    eligible = [i for i in pitched if len(tracks[i].notes) >= MIN_SHARE * busiest]
    best = max(eligible, key=lambda i: (float(tracks[i].notes.numpy()["pitch"].mean()), -i))
    warnings.warn(f"{path.name}: {len(pitched)} tracks with notes; taking track {best} "
                  f"({_track_name(tracks[best], best)}) as the melody (choose another with track=N: {listing})",
                  MelodyWarning, stacklevel=3)
    return best


def _track_name(track, i: int) -> str:
    return (track.name or "").strip() or f"track {i}"


def _top_line(notes, tpq: int) -> list[tuple[int, int, int, int]]:
    """(time, duration, pitch, velocity) of the top line: one note at a time."""
    soa = notes.numpy()
    order = np.lexsort((-soa["pitch"].astype(np.int64), soa["time"]))
    rows = [(int(soa["time"][k]), int(soa["duration"][k]), int(soa["pitch"][k]), int(soa["velocity"][k]))
            for k in order if soa["duration"][k] > 0]
    chord_window = max(1, tpq // 24)  # onsets this close are one onset (a performed chord is rarely exact)
    legato = max(1, tpq // 4)  # a lower note may overlap the previous one by this much (legato playing)
    groups: list[list[tuple]] = []
    for row in rows:
        if groups and row[0] - groups[-1][0][0] <= chord_window:
            groups[-1].append(row)
        else:
            groups.append([row])
    kept: list[list[int]] = []
    dropped = 0
    for group in groups:
        top = max(group, key=lambda r: (r[2], -r[0]))
        dropped += len(group) - 1
        time, duration, pitch, velocity = top
        if kept:
            prev = kept[-1]
            overlap = prev[0] + prev[1] - time
            if overlap > 0:
                if pitch > prev[2] or overlap <= legato:
                    prev[1] = time - prev[0]  # a higher note takes over, or legato: cut the previous short
                else:
                    dropped += 1  # an inner voice under a held melody note
                    continue
        kept.append([time, duration, pitch, velocity])
    if dropped:
        warnings.warn(f"the melody is polyphonic: kept its top line ({len(kept)} of {len(rows)} notes)",
                      MelodyWarning, stacklevel=3)
    return [(t, d, p, v) for t, d, p, v in kept if d > 0]


def _into_piano_range(notes):
    low, high = PIANO_RANGE
    out, moved = [], 0
    for time, duration, pitch, velocity in notes:
        new = pitch
        while new < low:
            new += 12
        while new > high:
            new -= 12
        moved += new != pitch
        out.append((time, duration, new, velocity))
    if moved:
        warnings.warn(f"{moved} melody note(s) outside the piano range {low}..{high} moved by octaves",
                      MelodyWarning, stacklevel=3)
    return out


def _read_music21(path: Path, fmt: str):
    """MusicXML / ABC / kern via music21 -> a symusic Score with one track per part."""
    try:
        parsed = music21.converter.parse(str(path), forceSource=True)  # never its pickled cache (issue #12)
    except Exception as exc:  # music21 raises many kinds of errors on bad files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:80]
        raise UserError(f"{path}: not a readable {fmt} file ({first})") from None
    parts = list(getattr(parsed, "parts", []) or []) or [parsed]
    tpq = MUSIC21_TPQ
    shift = _pickup_shift(parts[0])

    def tick(offset, note: bool = False) -> int:
        """Notes move by the pickup's shift; a tempo/time/key signature at 0 stays at the start of the bar."""
        offset = float(offset)
        return int(round((offset + shift if note or offset > 0 else offset) * tpq))

    score = Score(tpq)
    fermatas = set()  # ticks of notes with a fermata, in any part: where the phrases end (analysis/phrases.py)
    for i, part in enumerate(parts):
        try:
            part = part.stripTies()
        except Exception:  # noqa: BLE001 - ties left as they are is still a melody
            pass
        track = Track((getattr(part, "partName", None) or f"Part {i}"), program=0, is_drum=False)
        for element in part.flatten().notes:
            if isinstance(element, music21.note.Unpitched) or not hasattr(element, "pitches"):
                continue
            length = float(element.quarterLength)
            if length <= 0 or element.duration.isGrace:
                continue
            velocity = element.volume.velocity if element.volume.velocity is not None else 80
            start, ticks = tick(element.offset, note=True), max(1, round(length * tpq))
            if not 0 <= start <= INT32 or ticks > INT32:
                raise UserError(f"{path}: a note at {float(element.offset):g} quarters lasting {length:g}: "
                                "outside what MIDI can hold")
            for pitch in element.pitches:
                track.notes.append(Note(start, ticks, int(pitch.midi), max(1, min(127, int(velocity)))))
            if any(isinstance(e, music21.expressions.Fermata) for e in element.expressions):
                fermatas.add(start)
        score.tracks.append(track)
    score.markers.extend(TextMeta(t, FERMATA) for t in sorted(fermatas))
    flat = parsed.flatten()
    seen = set()
    for mark in flat.getElementsByClass(music21.tempo.MetronomeMark):
        try:
            qpm = mark.getQuarterBPM()
        except (ZeroDivisionError, TypeError, ValueError, AttributeError):  # "1/4=0" and the like
            continue
        key = (tick(mark.offset), "tempo")
        if qpm and key not in seen:
            seen.add(key)
            score.tempos.append(Tempo(key[0], float(qpm)))
    for ts in flat.getElementsByClass(music21.meter.TimeSignature):
        key = (tick(ts.offset), "ts")
        if not valid_time_signature(ts.numerator, ts.denominator):
            continue  # clean_meta's range: a metre no score can hold (4/4 is assumed)
        if key not in seen:
            seen.add(key)
            score.time_signatures.append(TimeSignature(key[0], int(ts.numerator), int(ts.denominator)))
    for ks in flat.getElementsByClass(music21.key.KeySignature):
        key = (tick(ks.offset), "key")
        if not isinstance(ks.sharps, int) or not -7 <= ks.sharps <= 7:
            continue  # a key signature without sharps or flats to count, or more than seven
        if key not in seen:
            seen.add(key)
            minor = getattr(ks, "mode", "major") == "minor"
            score.key_signatures.append(KeySignature(key[0], int(ks.sharps), 1 if minor else 0))
    return score


def _pickup_shift(part) -> float:
    """Quarter notes to shift by so that a pickup (anacrusis) ends at the first bar line, as in MIDI."""
    try:
        first = part.getElementsByClass("Measure").first()
    except Exception:  # noqa: BLE001
        return 0.0
    if first is None:
        return 0.0
    padding = float(getattr(first, "paddingLeft", 0.0) or 0.0)
    if padding > 0:
        return padding
    try:
        bar, length = float(first.barDuration.quarterLength), float(first.duration.quarterLength)
    except Exception:  # noqa: BLE001
        return 0.0
    if first.number == 0 and 0 < length < bar:
        return bar - length
    return 0.0


def read_melody_noting(path: str | os.PathLike, track: int | None = None,
                       limits: LimitsConfig | None = None) -> tuple[Score, list[str]]:
    """``read_melody``, and what it changed in the melody as one-line messages (its MelodyWarnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MelodyWarning)
        score = read_melody(path, track=track, limits=limits)
    return score, [" ".join(str(w.message).split()) for w in caught if issubclass(w.category, MelodyWarning)]


def quiet_read_melody(path: str | os.PathLike) -> Score:
    """The tune of a corpus piece or a bundled melody, without read_melody's warnings: the top line of the
    part named Soprano (a chorale's tune, wherever its file lists it), else of the top part (the corpus
    keeps its parts from the top down), else of the one track."""
    path = Path(path)
    track = None
    if path.suffix.lower() in (".mid", ".midi"):
        tracks = Score(str(path)).tracks
        pitched = [i for i, t in enumerate(tracks) if not t.is_drum and len(t.notes)]
        if len(pitched) > 1:
            track = next((i for i in pitched if tracks[i].name.strip().lower() == "soprano"), pitched[0])
    return read_melody_noting(path, track)[0]
