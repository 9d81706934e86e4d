"""Feed every reader of user input mutated and hand-built files, and tally what happens to each.

    python bench/fuzz.py --n 10000 [--seed 0] [--seconds 10] [--memory-mb 1024] [--show 5]

Readers: the melody reader `mst transfer` uses (``read_melody``: MIDI, ABC, MusicXML, compressed MusicXML,
kern), the dataset reader (``load_catalog``: Maestro CSV and JSON) and the recipe loader (``load_recipe``,
with and without ``--set``). Inputs: the bundled melodies and small synthetic datasets and recipes with
byte flips, truncation, inserted garbage, extreme numbers in header fields, huge and zero durations and
tempos, deep nesting, compression bombs and path tricks; plus hand-built cases (``HAND_BUILT``).

Each input runs in this process under a time limit (``--seconds``, by SIGALRM) and a memory limit
(``--memory-mb`` beyond what the harness holds, by RLIMIT_AS), and is tallied as
  refused   one UserError (one clear line: what the CLI prints),
  read      accepted (for a dataset: every path it names lies inside the dataset folder),
  crashed   any other exception (what would be a traceback), or a dataset path outside its folder,
  over      past the time or memory limit.
A run prints the tally per reader and the first ``--show`` crashes and overs. tests/data/test_fuzz.py runs a
seeded subset.
"""
from __future__ import annotations

import argparse
import io
import json
import random
import resource
import signal
import sys
import tempfile
import time
import warnings
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symusic import Note, Score, Tempo, TimeSignature, Track  # noqa: E402

from styletransfer.config import load_recipe  # noqa: E402
from styletransfer.data.catalog import load_catalog  # noqa: E402
from styletransfer.data.melody_file import read_melody  # noqa: E402
from styletransfer.errors import UserError  # noqa: E402

MELODIES = ROOT / "data" / "melodies"
EXTREMES = [0, 1, -1, 2**7, 2**8 - 1, 2**15, 2**16 - 1, 2**28, 2**31 - 1, 2**32 + 1, 10**12]


class OverLimit(Exception):
    pass


def _alarm(signum, frame):
    raise OverLimit("time")


# ------------------------------------------------------------------------------------------ inputs


def _midi(notes=((0, 480, 60),), tpq=480, qpm=120.0, ts=(4, 4), tracks=1) -> bytes:
    score = Score(tpq)
    for k in range(tracks):
        track = Track(f"t{k}")
        track.notes.extend(Note(t, d, p, 80) for t, d, p in notes)
        score.tracks.append(track)
    score.tempos.append(Tempo(0, qpm))
    score.time_signatures.append(TimeSignature(0, *ts))
    return score.dumps_midi()


def _raw_midi(division: int, events: bytes) -> bytes:
    track = events + b"\x00\xff\x2f\x00"
    return (b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big")
            + division.to_bytes(2, "big") + b"MTrk" + len(track).to_bytes(4, "big") + track)


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def _mxl(xml: bytes, name: str = "score.musicxml") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("META-INF/container.xml", f'<?xml version="1.0"?><container><rootfiles><rootfile full-path="{name}"/>'
                   '</rootfiles></container>')
        z.writestr(name, xml)
    return buffer.getvalue()


XML_NOTE = "<note><pitch><step>C</step><octave>5</octave></pitch><duration>{d}</duration><type>quarter</type></note>"


def _musicxml(divisions="1", fifths="0", beats="4", beat_type="4", per_minute="100", notes=None) -> bytes:
    body = notes if notes is not None else XML_NOTE.format(d=1) * 4
    return (f'<?xml version="1.0"?><score-partwise version="3.1"><part-list><score-part id="P1"><part-name>M</part-name>'
            f'</score-part></part-list><part id="P1"><measure number="1"><attributes><divisions>{divisions}</divisions>'
            f'<key><fifths>{fifths}</fifths></key><time><beats>{beats}</beats><beat-type>{beat_type}</beat-type></time>'
            f'</attributes><direction><sound tempo="{per_minute}"/><direction-type><metronome><beat-unit>quarter'
            f'</beat-unit><per-minute>{per_minute}</per-minute></metronome></direction-type></direction>{body}'
            '</measure></part></score-partwise>').encode()


def _abc(meter="3/4", length="1/8", tempo="1/4=100", body="GAB c2 d|e2 d c2 B|") -> bytes:
    return f"X:1\nT:fuzz\nM:{meter}\nL:{length}\nQ:{tempo}\nK:G\n{body}\n".encode()


def hand_built() -> list[tuple[str, str, bytes]]:
    """(reader, name, content): the cases a fuzzer finds slowly or never."""
    cases = [
        ("melody", "tempo0.mid", _midi(qpm=1e-9)), ("melody", "ts0.mid", _raw_midi(480, b"\x00\xff\x58\x04\x00\x00\x18\x08")),
        ("melody", "den255.mid", _raw_midi(480, b"\x00\xff\x58\x04\x03\xff\x18\x08" + b"\x00\x90\x3c\x40\x83\x60\x80\x3c\x00")),
        ("melody", "tpq1.mid", _midi(tpq=1, notes=((0, 1, 60), (1, 1, 62)))),
        ("melody", "smpte.mid", _raw_midi(0xE728, b"\x00\x90\x3c\x40\x83\x60\x80\x3c\x00")),
        ("melody", "tracks1000.mid", _midi(tracks=1000)),
        ("melody", "notes50k.mid", _midi(notes=[(i * 60, 60, 60 + i % 12) for i in range(50_000)])),
        ("melody", "long2e28.mid", _midi(notes=((0, 2**28, 60),))),
        ("melody", "delta2e28.mid", _raw_midi(480, _vlq(2**27) + b"\x90\x3c\x40" + b"\x83\x60\x80\x3c\x00")),
        ("melody", "bars20k.mid", _midi(notes=((0, 480, 60), (480 * 4 * 20_000, 480, 62)))),
        ("melody", "empty.mid", _midi(notes=())), ("melody", "drums.mid", _raw_midi(480, b"\x00\x99\x24\x40\x83\x60\x89\x24\x00")),
        ("melody", "meter_huge.abc", _abc(meter="1000000/1")), ("melody", "meter_word.abc", _abc(meter="fast")),
        ("melody", "long_note.abc", _abc(body="c100000000|")), ("melody", "tempo0.abc", _abc(tempo="1/4=0")),
        ("melody", "line200k.abc", _abc(body="c" * 200_000)),
        ("melody", "notes50k.abc", _abc(body=" ".join("cdefgab"[i % 7] for i in range(50_000)))),
        ("melody", "fifths1000.musicxml", _musicxml(fifths="1000")), ("melody", "fifths_word.musicxml", _musicxml(fifths="x")),
        ("melody", "tempo0.musicxml", _musicxml(per_minute="0")), ("melody", "beats1e6.musicxml", _musicxml(beats="1000000")),
        ("melody", "duration_huge.musicxml", _musicxml(notes=XML_NOTE.format(d=99999999999999))),
        ("melody", "forward_negative.musicxml", _musicxml(notes=XML_NOTE.format(d=1) + "<forward><duration>-99999999999</duration></forward>" + XML_NOTE.format(d=1))),
        ("melody", "notes50k.musicxml", _musicxml(notes=XML_NOTE.format(d=1) * 50_000)),
        ("melody", "nested.musicxml", b'<?xml version="1.0"?>' + b"<a>" * 5000 + b"</a>" * 5000),
        ("melody", "entity_bomb.musicxml", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
         + b"".join(f'<!ENTITY {chr(98 + k)} "{("&" + chr(97 + k) + ";") * 10}">'.encode() for k in range(8))
         + b']><score-partwise>&i;</score-partwise>'),
        ("melody", "xxe.musicxml", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><score-partwise>&e;</score-partwise>'),
        ("melody", "bomb.mxl", _mxl(b" " * 300_000_000)), ("melody", "notzip.mxl", b"PK\x03\x04garbage"),
        ("melody", "kern_garbage.krn", b"**kern\n*M4/4\n=1\n4c\n*-\n" + bytes(range(256))),
        ("melody", "empty.abc", b""), ("melody", "binary.abc", bytes(range(256)) * 10),
        ("recipe", "python.yaml", b"name: !!python/object/apply:os.system ['echo hi']\n"),
        ("recipe", "alias_bomb.yaml", b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
         b"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"),
        ("recipe", "latin1.yaml", "name: caf\xe9\n".encode("latin-1")), ("recipe", "list.yaml", b"- 1\n- 2\n"),
        ("recipe", "unknown.yaml", b"trian:\n  max_steps: 3\n"), ("recipe", "types.yaml", b"train:\n  max_steps: many\n"),
    ]
    for value in EXTREMES:
        cases.append(("melody", f"note_len_{value}.mid", _midi(notes=((0, max(1, min(value, 2**31 - 1)), 60),))))
        cases.append(("melody", f"tpq_{value}.mid", _raw_midi(max(1, min(value, 0x7FFF)), b"\x00\x90\x3c\x40\x83\x60\x80\x3c\x00")))
    return cases


def dataset_case(rng: random.Random) -> dict:
    """A small Maestro-format table (as rows) with one path trick, type trick or value trick."""
    rows = [{"canonical_composer": "Bach", "canonical_title": f"P{k}", "split": rng.choice(["train", "validation", "test"]),
             "year": 2004, "midi_filename": f"2004/p{k}.midi", "audio_filename": "", "duration": 10.0} for k in range(4)]
    trick = rng.randrange(9)
    row = rows[rng.randrange(len(rows))]
    if trick == 0:
        row["midi_filename"] = "../" * rng.randint(1, 8) + "x/outside.mid"
    elif trick == 1:
        row["midi_filename"] = "/etc/passwd"
    elif trick == 2:
        row["midi_filename"] = rng.choice([42, None, 3.5, True, [], {}])
    elif trick == 3:
        row["duration"] = rng.choice(["long", None, "", "nan", "-1", "1e400"])
    elif trick == 4:
        row["split"] = rng.choice(["", "dev", 7, None])
    elif trick == 5:
        row["midi_filename"] = "2004/" + "a" * rng.choice([255, 4096])
    elif trick == 6:
        row["midi_filename"] = "2004/../../" + "y.mid"
    elif trick == 7:
        row["canonical_composer"] = rng.choice(["", None, 12, "A / / B", "\x00"])
    else:
        row["midi_filename"] = "2004/p0.midi\x00.txt"
    return {"rows": rows, "json": rng.random() < 0.5, "drop": rng.choice([None, "split", "duration", "midi_filename"])
            if rng.random() < 0.1 else None}


# --------------------------------------------------------------------------------------- mutations


def mutate(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(6)
        if not data:
            data += bytes(rng.randrange(256) for _ in range(8))
        pos = rng.randrange(len(data))
        if kind == 0:  # byte flips
            data[pos] ^= 1 << rng.randrange(8)
        elif kind == 1:  # truncation
            del data[rng.randrange(len(data)):]
        elif kind == 2:  # inserted garbage
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        elif kind == 3:  # an extreme number written over a field
            value = rng.choice(EXTREMES)
            data[pos:pos + 4] = (value % 2**32).to_bytes(4, "big")
        elif kind == 4:  # a number in text made extreme
            text = bytes(data).decode("latin-1")
            digits = [i for i, c in enumerate(text) if c.isdigit()]
            if digits:
                i = rng.choice(digits)
                data[i:i + 1] = str(rng.choice(EXTREMES + [-(10**9)])).encode()
        else:  # a chunk repeated
            end = min(len(data), pos + rng.randint(1, 256))
            data[pos:pos] = data[pos:end] * rng.randint(2, 50)
    return bytes(data)


def melody_seeds() -> list[tuple[str, bytes]]:
    seeds = [(p.suffix, p.read_bytes()) for p in sorted(MELODIES.iterdir()) if p.is_file() and p.suffix != ".md"]
    seeds.append((".mxl", _mxl(_musicxml())))
    seeds.append((".krn", b"**kern\n*M3/4\n*k[f#]\n=1\n4g\n4a\n4b\n=2\n2.cc\n*-\n"))
    return seeds


# --------------------------------------------------------------------------------------------- runs


def run_melody(folder: Path, name: str, data: bytes):
    path = folder / name
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read_melody(path)


def run_recipe(folder: Path, name: str, data: bytes, overrides=()):
    path = folder / name
    path.write_bytes(data)
    load_recipe(path, list(overrides))


def run_dataset(folder: Path, case: dict):
    data = folder / "maestro"
    data.mkdir()
    rows = case["rows"]
    if case["drop"]:
        rows = [{k: v for k, v in r.items() if k != case["drop"]} for r in rows]
    if case["json"]:
        columns = sorted({k for r in rows for k in r})
        payload = {c: {str(i): r.get(c) for i, r in enumerate(rows)} for c in columns}
        (data / "maestro-v3.0.0.json").write_text(json.dumps(payload))
    else:
        import pandas as pd

        pd.DataFrame(rows).to_csv(data / "maestro-v3.0.0.csv", index=False)
    catalog = load_catalog(data)
    root = data.resolve()
    for path in catalog["midi"]:
        if not Path(path).resolve().is_relative_to(root):
            raise AssertionError(f"a dataset path outside its folder: {path}")


def attempt(fn, seconds: float) -> tuple[str, str]:
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        fn()
        return "read", ""
    except UserError as exc:
        return "refused", str(exc).splitlines()[0][:120] if str(exc) else ""
    except (OverLimit, MemoryError) as exc:
        return "over", type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - the tally's point
        return "crashed", f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:120]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def inputs(n: int, seed: int):
    """(reader, label, callable factory) for n inputs: the hand-built ones first, then mutations."""
    rng = random.Random(seed)
    out = [(reader, name, (reader, name, data)) for reader, name, data in hand_built()]
    seeds = melody_seeds()
    recipe_text = (ROOT / "styletransfer" / "recipes" / "default.yaml").read_bytes()
    while len(out) < n:
        pick = rng.random()
        if pick < 0.7:
            suffix, data = rng.choice(seeds)
            out.append(("melody", f"mutated{suffix}", ("melody", f"m{len(out)}{suffix}", mutate(data, rng))))
        elif pick < 0.85:
            out.append(("dataset", "mutated table", ("dataset", "", dataset_case(rng))))
        else:
            data = mutate(recipe_text, rng)
            overrides = rng.choice([(), ("train.max_steps=-1",), ("transfer.search=3",), ("a.b.c=1",),
                                    ("limits.max_notes=0",), ("data.augment.pitch_offsets=[[1]]",)])
            out.append(("recipe", "mutated yaml", ("recipe", f"r{len(out)}.yaml", (data, overrides))))
    return out[:n]


def fuzz(n: int, seed: int = 0, seconds: float = 10.0, memory_mb: int = 1024, progress: bool = False) -> dict:
    """{reader: Counter(outcome)}, plus "examples": {(outcome): [(reader, label, message)]}."""
    with open("/proc/self/statm") as fh:
        mapped = int(fh.read().split()[0]) * resource.getpagesize()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (mapped + memory_mb * 2**20, hard))
    tally: dict = defaultdict(Counter)
    examples: dict = defaultdict(list)
    started = time.perf_counter()
    try:
        for k, (reader, label, (kind, name, payload)) in enumerate(inputs(n, seed)):
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                if kind == "melody":
                    fn = lambda: run_melody(folder, name, payload)  # noqa: E731
                elif kind == "recipe":
                    data, overrides = payload if isinstance(payload, tuple) else (payload, ())
                    fn = lambda: run_recipe(folder, name, data, overrides)  # noqa: E731
                else:
                    fn = lambda: run_dataset(folder, payload)  # noqa: E731
                outcome, message = attempt(fn, seconds)
            tally[reader][outcome] += 1
            if outcome in ("crashed", "over") or (outcome == "refused" and len(examples[outcome]) < 3):
                examples[outcome].append((reader, name or label, message))
            if progress and k % 500 == 0:
                print(f"  {k}/{n} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    return {"tally": dict(tally), "examples": dict(examples), "seconds": time.perf_counter() - started}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--memory-mb", type=int, default=1024)
    ap.add_argument("--show", type=int, default=5)
    args = ap.parse_args()
    result = fuzz(args.n, args.seed, args.seconds, args.memory_mb, progress=True)
    print(f"{args.n} inputs in {result['seconds']:.0f} s (limits: {args.seconds:g} s, {args.memory_mb} MB each)")
    print(f"{'reader':<10}{'refused':>9}{'read':>9}{'crashed':>9}{'over':>9}")
    for reader, counts in sorted(result["tally"].items()):
        print(f"{reader:<10}" + "".join(f"{counts.get(k, 0):>9}" for k in ("refused", "read", "crashed", "over")))
    for outcome in ("crashed", "over", "refused"):
        for reader, name, message in result["examples"].get(outcome, [])[:args.show]:
            print(f"  {outcome}: {reader} {name}: {message}")


if __name__ == "__main__":
    main()
