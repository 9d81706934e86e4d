"""Write the bundled public-domain melodies in data/melodies/ from the note lists below.

    python scripts/write_melodies.py [--out data/melodies]

Every tune is written out here, note by note: (pitch name, duration in quarter notes), with its metre,
key signature, tempo and pickup (anacrusis, in quarter notes). A MIDI file puts a pickup at the end of an
otherwise empty first bar, so the first full bar starts on a bar line (as ``read_melody`` does for MusicXML
and ABC). Most tunes are written as MIDI (symusic); one as MusicXML (music21) and one as ABC (text made
here) so that every reader of ``styletransfer.melody.read_melody`` has a shipped file.

Only tunes that are certainly in the public domain (traditional, or composed before 1900); see
data/melodies/README.md, which this script also writes. Writes are atomic (temporary name, then rename).
"""
from __future__ import annotations

import argparse
import os
import re
import tempfile
from dataclasses import dataclass
from fractions import Fraction as F
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "melodies"
TPQ = 480

# ------------------------------------------------------------------------------------------- the tunes


@dataclass(frozen=True)
class Tune:
    stem: str
    title: str
    fmt: str  # "mid", "musicxml" or "abc"
    metre: tuple[int, int]
    key: tuple[int, int]  # (sharps, or negative for flats; 0 major, 1 minor) as a MIDI key signature
    mode: str  # for the README
    qpm: float
    pickup: F  # quarter notes before the first bar line
    notes: tuple[tuple[str, F], ...]  # (pitch name, duration in quarter notes)
    source: str
    remarks: str = ""

    @property
    def bar(self) -> F:
        return F(4 * self.metre[0], self.metre[1])


def notes(text: str) -> tuple[tuple[str, F], ...]:
    """'D4:3/4 D4:1/4 E4 ...' -> ((name, quarters), ...); a bare name is a quarter note; '|' is ignored."""
    out = []
    for item in text.split():
        if item == "|":
            continue
        name, _, dur = item.partition(":")
        out.append((name, F(dur) if dur else F(1)))
    return tuple(out)


HAPPY_BIRTHDAY = Tune(
    "happy_birthday", "Happy Birthday to You", "mid", (3, 4), (1, 0), "G major", 120.0, F(1),
    notes("""D4:3/4 D4:1/4 |
             E4 D4 G4 | F#4:2 D4:3/4 D4:1/4 | E4 D4 A4 | G4:2 D4:3/4 D4:1/4 |
             D5 B4 G4 | F#4 E4 C5:3/4 C5:1/4 | B4 G4 A4 | G4:2"""),
    "Mildred J. Hill and Patty Smith Hill (the tune of \"Good Morning to All\", 1893); public domain",
    "pickup of one beat (dotted eighth + sixteenth); last bar two beats",
)

ODE_TO_JOY = Tune(
    "ode_to_joy", "Ode to Joy (Symphony No. 9, finale)", "mid", (4, 4), (2, 0), "D major", 108.0, F(0),
    notes("""F#4 F#4 G4 A4 | A4 G4 F#4 E4 | D4 D4 E4 F#4 | F#4:3/2 E4:1/2 E4:2 |
             F#4 F#4 G4 A4 | A4 G4 F#4 E4 | D4 D4 E4 F#4 | E4:3/2 D4:1/2 D4:2 |
             E4 E4 F#4 D4 | E4 F#4:1/2 G4:1/2 F#4 D4 | E4 F#4:1/2 G4:1/2 F#4 E4 | D4 E4 A3:2 |
             F#4 F#4 G4 A4 | A4 G4 F#4 E4 | D4 D4 E4 F#4 | E4:3/2 D4:1/2 D4:2"""),
    "Ludwig van Beethoven, Symphony No. 9 op. 125 (1824); public domain",
    "16 bars as commonly sung (bar 12 without the symphony's syncopated early return of the theme)",
)

TWINKLE = Tune(
    "twinkle_twinkle", "Twinkle, Twinkle, Little Star", "mid", (2, 4), (0, 0), "C major", 100.0, F(0),
    notes("""C4 C4 | G4 G4 | A4 A4 | G4:2 | F4 F4 | E4 E4 | D4 D4 | C4:2 |
             G4 G4 | F4 F4 | E4 E4 | D4:2 | G4 G4 | F4 F4 | E4 E4 | D4:2 |
             C4 C4 | G4 G4 | A4 A4 | G4:2 | F4 F4 | E4 E4 | D4 D4 | C4:2"""),
    "traditional French (\"Ah! vous dirai-je, maman\", printed 1761); words Jane Taylor (1806); public domain",
    "24 bars of 2/4, the whole tune",
)

GREENSLEEVES = Tune(
    "greensleeves", "Greensleeves", "abc", (6, 8), (0, 1), "A minor (raised 6th and 7th at cadences)", 96.0,
    F(1, 2),
    notes("""A4:1/2 |
             C5:1 D5:1/2 E5:3/4 F5:1/4 E5:1/2 | D5:1 B4:1/2 G4:3/4 A4:1/4 B4:1/2 |
             C5:1 A4:1/2 A4:3/4 G#4:1/4 A4:1/2 | B4:1 G#4:1/2 E4:1 A4:1/2 |
             C5:1 D5:1/2 E5:3/4 F5:1/4 E5:1/2 | D5:1 B4:1/2 G4:3/4 A4:1/4 B4:1/2 |
             C5:3/4 B4:1/4 A4:1/2 G#4:3/4 F#4:1/4 G#4:1/2 | A4:5/2"""),
    "traditional English (16th century); public domain",
    "the verse (\"Alas, my love...\"), eighth-note pickup; last bar five eighths",
)

AMAZING_GRACE = Tune(
    "amazing_grace", "Amazing Grace (New Britain)", "musicxml", (3, 4), (1, 0), "G major (pentatonic)", 80.0,
    F(1),
    notes("""D4 |
             G4:2 B4:1/2 G4:1/2 | B4:2 A4 | G4:2 E4 | D4:2 D4 |
             G4:2 B4:1/2 G4:1/2 | B4:2 A4 | D5:3"""),
    "tune \"New Britain\", American traditional (Columbian Harmony, 1829); words John Newton (1779); public domain",
    "first two lines (\"...that saved a wretch like me\"), one-beat pickup",
)

DRUNKEN_SAILOR = Tune(
    "drunken_sailor", "What Shall We Do with the Drunken Sailor", "mid", (4, 4), (0, 0), "D dorian", 120.0, F(0),
    notes("""A4 A4:1/2 A4:1/2 A4 A4:1/2 A4:1/2 | A4 D4 F4 A4 |
             G4 G4:1/2 G4:1/2 G4 G4:1/2 G4:1/2 | G4 C4 E4 G4 |
             A4 A4:1/2 A4:1/2 A4 A4:1/2 A4:1/2 | A4 B4 C5 D5 | C5 A4 G4 E4 | D4:2 D4:2"""),
    "traditional sea shanty (19th century); public domain",
    "the verse; dorian (B natural), so the key signature has no accidentals",
)

TUNES = (HAPPY_BIRTHDAY, ODE_TO_JOY, TWINKLE, GREENSLEEVES, AMAZING_GRACE, DRUNKEN_SAILOR)

# -------------------------------------------------------------------------------------- pitches and time

STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
ALTER = {"": 0, "#": 1, "b": -1}
NAME = re.compile(r"^([A-G])([#b]?)(-?\d)$")


def spell(name: str) -> tuple[str, int, int]:
    """'F#4' -> ('F', 1, 4): letter, alteration, octave (scientific pitch, C4 = MIDI 60)."""
    match = NAME.match(name)
    if not match:
        raise ValueError(f"bad pitch name {name!r}")
    return match[1], ALTER[match[2]], int(match[3])


def midi_pitch(name: str) -> int:
    letter, alter, octave = spell(name)
    return 12 * (octave + 1) + STEPS[letter] + alter


def timed(tune: Tune) -> list[tuple[F, F, str]]:
    """(onset, duration, name) in quarter notes from the first bar line of the file (pickup at bar - pickup)."""
    t, out = (tune.bar - tune.pickup) % tune.bar, []
    for name, dur in tune.notes:
        out.append((t, dur, name))
        t += dur
    return out


def check(tune: Tune) -> None:
    """The note list fills its bars: the pickup, then whole bars (the last may be short), no note over a bar line."""
    assert 0 <= tune.pickup < tune.bar, tune.stem
    events = timed(tune)
    for onset, dur, name in events:
        midi_pitch(name)
        bar_end = (onset // tune.bar + 1) * tune.bar
        assert dur > 0 and onset + dur <= bar_end, f"{tune.stem}: {name} at {onset} crosses a bar line"
        assert (dur * 8).denominator == 1, f"{tune.stem}: {name} at {onset} is off the 32nd-note grid"
    first_bar = [e for e in events if e[0] < tune.bar]
    if tune.pickup:
        assert sum(d for _, d, _ in first_bar) == tune.pickup, f"{tune.stem}: pickup does not match its notes"


def bars_of(tune: Tune) -> list[list[tuple[F, F, str]]]:
    out: dict[int, list] = {}
    for onset, dur, name in timed(tune):
        out.setdefault(int(onset // tune.bar), []).append((onset, dur, name))
    return [out[k] for k in sorted(out)]


# ----------------------------------------------------------------------------------------------- writers


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def midi_bytes(tune: Tune) -> bytes:
    from symusic import KeySignature, Note, Score, Tempo, TimeSignature, Track

    score = Score(TPQ)
    track = Track(tune.title, program=0, is_drum=False)
    for onset, dur, name in timed(tune):
        track.notes.append(Note(int(onset * TPQ), int(dur * TPQ), midi_pitch(name), 80))
    score.tracks.append(track)
    score.tempos.append(Tempo(0, tune.qpm))
    score.time_signatures.append(TimeSignature(0, *tune.metre))
    score.key_signatures.append(KeySignature(0, *tune.key))
    return bytes(score.dumps_midi())


def musicxml_bytes(tune: Tune) -> bytes:
    import music21

    part = music21.stream.Part()
    part.partName = "Melody"
    for number, bar in enumerate(bars_of(tune), start=0 if tune.pickup else 1):
        measure = music21.stream.Measure(number=number)
        if number == (0 if tune.pickup else 1):
            measure.append(music21.meter.TimeSignature(f"{tune.metre[0]}/{tune.metre[1]}"))
            measure.append(music21.key.KeySignature(tune.key[0]))
            measure.append(music21.tempo.MetronomeMark(number=tune.qpm, referent=music21.note.Note(type="quarter")))
        if number == 0:
            measure.paddingLeft = float(tune.bar - tune.pickup)
        start = bar[0][0] if number == 0 else (bar[0][0] // tune.bar) * tune.bar
        for onset, dur, name in bar:
            letter, alter, octave = spell(name)
            note = music21.note.Note(f"{letter}{'#' if alter > 0 else '-' if alter < 0 else ''}{octave}")
            note.duration = music21.duration.Duration(float(dur))
            measure.insert(float(onset - start), note)
        part.append(measure)
    score = music21.stream.Score([part])
    score.insert(0, music21.metadata.Metadata(title=tune.title))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tune.musicxml"
        score.write("musicxml", fp=str(path))
        return path.read_bytes()


ABC_LETTERS = "CDEFGAB"
SHARP_ORDER, FLAT_ORDER = "FCGDAEB", "BEADGCF"


def abc_pitch(name: str, in_bar: dict, key_alter: dict) -> str:
    """ABC for one pitch: an accidental on every note off the key signature (repeated within a bar, since
    not every reader carries an accidental to the bar line: music21's ABC reader does not), and a natural
    where the bar so far altered the note."""
    letter, alter, octave = spell(name)
    in_key = key_alter.get(letter, 0)
    current = in_bar.get((letter, octave), in_key)
    accidental = ""
    if alter != in_key or alter != current:
        accidental = {1: "^", -1: "_", 0: "=", 2: "^^", -2: "__"}[alter]
        in_bar[(letter, octave)] = alter
    if octave >= 5:
        return accidental + letter.lower() + "'" * (octave - 5)
    return accidental + letter + "," * (4 - octave)


def abc_length(dur: F, unit: F) -> str:
    n = dur / unit
    if n == 1:
        return ""
    if n.denominator == 1:
        return str(n.numerator)
    return f"{n.numerator}/{n.denominator}" if n.numerator != 1 else f"/{n.denominator}"


def abc_text(tune: Tune) -> str:
    sharps, minor = tune.key
    key_alter = {c: 1 for c in SHARP_ORDER[:sharps]} if sharps >= 0 else {c: -1 for c in FLAT_ORDER[:-sharps]}
    major_tonic = ["Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#"][sharps + 7]
    minor_tonic = ["Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#", "G#", "D#", "A#"][sharps + 7]
    key = f"{minor_tonic}m" if minor else major_tonic
    unit = F(1, 2) if tune.metre[1] == 8 else F(1)  # L:1/8 or L:1/4, in quarter notes
    bars = []
    for bar in bars_of(tune):
        in_bar: dict = {}
        bars.append(" ".join(abc_pitch(name, in_bar, key_alter) + abc_length(dur, unit) for _, dur, name in bar))
    lines = [" | ".join(bars[i:i + 4]) for i in range(0, len(bars), 4)]
    body = " |\n".join(lines) + " |]\n"
    header = (f"X:1\nT:{tune.title}\nC:{tune.source.split(';')[0]}\nM:{tune.metre[0]}/{tune.metre[1]}\n"
              f"L:1/{8 if unit == F(1, 2) else 4}\nQ:1/4={tune.qpm:g}\nK:{key}\n")
    return header + body


def readme(tunes) -> str:
    rows = "\n".join(
        f"| `{t.stem}.{t.fmt}` | {t.title} | {t.metre[0]}/{t.metre[1]} | {t.mode} | "
        f"{len(t.notes)} | {t.source} | {t.remarks} |" for t in tunes)
    return f"""# Bundled melodies

Public-domain melodies to try `mst transfer` on, and the files the tests read (`tests/data/test_shipped_melodies.py`).
Written by `scripts/write_melodies.py` from the note lists in that script (edit the script, then run it
again: `python scripts/write_melodies.py`). One melody line each, velocity 80, with tempo, time signature
and key signature. A pickup (anacrusis) ends at the first bar line: in MIDI the first bar is padded with
silence; MusicXML and ABC write it as an incomplete first bar, which `read_melody` moves the same way.

| file | tune | metre | mode | notes | source | remarks |
|---|---|---|---|---|---|---|
{rows}

MIDI key signatures only know major and minor: the dorian tune carries the signature it is written with
(no accidentals). Scarborough Fair is left out on purpose: its familiar tune was collected in 1947, and the
versions people know come through copyrighted arrangements.
"""


WRITERS = {"mid": midi_bytes, "musicxml": musicxml_bytes, "abc": lambda t: abc_text(t).encode()}


def write_all(out: Path = OUT, tunes=TUNES) -> list[Path]:
    written = []
    for tune in tunes:
        check(tune)
        path = out / f"{tune.stem}.{tune.fmt}"
        atomic_write(path, WRITERS[tune.fmt](tune))
        written.append(path)
    path = out / "README.md"
    atomic_write(path, readme(tunes).encode())
    written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write (default: data/melodies)")
    args = parser.parse_args()
    for path in write_all(args.out):
        print(path)


if __name__ == "__main__":
    main()
