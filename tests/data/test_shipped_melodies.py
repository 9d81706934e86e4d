"""The melodies shipped in data/melodies: they read right, match scripts/write_melodies.py, and keep the
melody guarantee under `transfer` (tiny random models, one long melody in several windows, and once with the
shipped model)."""
from __future__ import annotations

import importlib.util
import sys
import warnings
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import pytest

from styletransfer.data.melody_file import MelodyWarning, read_melody
from styletransfer.model.runs import SHIPPED
from support.transfer import one_thread, tok, model, bpe_tokenizer, check_guarantee, harmonize, tiny_model  # noqa: F401  (fixtures too)

ROOT = Path(__file__).resolve().parents[2]
MELODIES = ROOT / "data" / "melodies"

# file: (metre, notes, lowest pitch, highest pitch, first onset in quarter notes, (key sharps, minor))
SHIPPED_MELODIES = {
    "happy_birthday.mid": ((3, 4), 25, 62, 74, 2.0, (1, 0)),  # one-beat pickup in 3/4
    "ode_to_joy.mid": ((4, 4), 62, 57, 69, 0.0, (2, 0)),
    "twinkle_twinkle.mid": ((2, 4), 42, 60, 69, 0.0, (0, 0)),
    "greensleeves.abc": ((6, 8), 37, 64, 77, 2.5, (0, 1)),  # eighth-note pickup in 6/8
    "amazing_grace.musicxml": ((3, 4), 16, 62, 74, 2.0, (1, 0)),  # one-beat pickup
    "drunken_sailor.mid": ((4, 4), 36, 60, 74, 0.0, (0, 0)),
}
FILES = sorted(SHIPPED_MELODIES)





def read(name: str):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        score = read_melody(MELODIES / name)
    return score, [str(w.message) for w in caught if issubclass(w.category, MelodyWarning)]


def notes_of(score) -> list[tuple[int, int, int]]:
    return [(n.time, n.duration, n.pitch) for n in score.tracks[0].notes]


@lru_cache(maxsize=None)
def writer():
    """scripts/write_melodies.py as a module (registered in sys.modules, as its dataclasses need)."""
    name = "mst_write_melodies"
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "write_melodies.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------------ the files


def test_the_folder_holds_the_listed_melodies():
    present = sorted(p.name for p in MELODIES.iterdir()
                     if p.is_file() and p.name != "README.md" and not p.name.startswith("."))
    assert present == FILES
    listing = (MELODIES / "README.md").read_text()
    assert all(f"`{name}`" in listing for name in FILES)
    assert {p.suffix for p in MELODIES.iterdir()} >= {".mid", ".abc", ".musicxml"}  # every reader has a file


def test_folk_tunes_match_the_extraction_script(tmp_path):
    import subprocess
    import sys

    folk = MELODIES / "folk"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "extract_folk_tunes.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    shipped = {p.name: p.read_text() for p in folk.iterdir()}
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == shipped
    tunes = sorted(p for p in folk.iterdir() if p.suffix == ".abc")
    assert len(tunes) == 8
    for path in tunes:
        score, changes = read(path.relative_to(MELODIES))
        assert not changes and 16 <= len(score.tracks[0].notes) <= 64  # read as written, a real tune


@pytest.mark.parametrize("name", FILES)
def test_melody_reads_right(name):
    metre, count, low, high, first_onset, key = SHIPPED_MELODIES[name]
    score, warned = read(name)
    assert warned == []  # one line, in the piano range: nothing changed
    tpq = score.ticks_per_quarter
    notes = notes_of(score)
    assert [(t.time, t.numerator, t.denominator) for t in score.time_signatures] == [(0, *metre)]
    assert [(k.key, k.tonality) for k in score.key_signatures] == [key]
    assert len(score.tempos) == 1 and score.tempos[0].qpm > 0
    assert len(notes) == count
    assert min(p for *_, p in notes) == low and max(p for *_, p in notes) == high
    assert notes[0][0] == round(first_onset * tpq)
    # a pickup ends on the first bar line: the first full bar starts with a note on its downbeat
    bar = tpq * 4 * metre[0] // metre[1]
    if first_onset:
        assert sum(d for t, d, _ in notes if t < bar) == bar - notes[0][0]
        assert any(t == bar for t, _, _ in notes)
    assert all(a[0] + a[1] <= b[0] for a, b in zip(notes, notes[1:]))  # one line


def test_files_match_the_script():
    """The shipped files are what scripts/write_melodies.py writes now (notes, metre, key, tempo)."""
    module = writer()
    assert sorted(f"{t.stem}.{t.fmt}" for t in module.TUNES) == FILES
    for tune in module.TUNES:
        score, _ = read(f"{tune.stem}.{tune.fmt}")
        tpq = score.ticks_per_quarter
        expected = [(int(on * tpq), int(d * tpq), module.midi_pitch(name)) for on, d, name in module.timed(tune)]
        assert notes_of(score) == expected, tune.stem
        assert (score.time_signatures[0].numerator, score.time_signatures[0].denominator) == tune.metre
        assert (score.key_signatures[0].key, score.key_signatures[0].tonality) == tune.key
        assert score.tempos[0].qpm == pytest.approx(tune.qpm, abs=0.5)


def test_script_checks_its_bars():
    module = writer()
    bad = module.Tune("bad", "Bad", "mid", (3, 4), (0, 0), "C major", 100.0, Fraction(0),
                      module.notes("C4:2 D4:2"), "test")  # D4 crosses the bar line
    with pytest.raises(AssertionError, match="crosses a bar line"):
        module.check(bad)


def test_script_writes_every_format(tmp_path):
    module = writer()
    written = module.write_all(tmp_path)
    assert sorted(p.name for p in written) == sorted(FILES + ["README.md"])
    for name in FILES:
        assert notes_of(read_melody(tmp_path / name)) == notes_of(read(name)[0])


# -------------------------------------------------------------------------------- the melody guarantee


@pytest.mark.parametrize("name", FILES)
def test_guarantee_on_every_shipped_melody(tok, model, name):
    score, _ = read(name)
    expected = notes_of(score)
    for c in harmonize(score, model, tok, candidates=2, seed=0):
        check_guarantee(c.score, expected)
        assert c.score.ticks_per_quarter == score.ticks_per_quarter
        assert [(t.numerator, t.denominator) for t in c.score.time_signatures] == \
               [(t.numerator, t.denominator) for t in score.time_signatures]


@pytest.mark.parametrize("name", ["ode_to_joy.mid", "greensleeves.abc"])
def test_guarantee_over_several_windows(tok, name):
    score, _ = read(name)
    expected = notes_of(score)
    windows = []
    candidates = harmonize(score, tiny_model(tok, context=128), tok, candidates=2, seed=1, context=48,
                           progress=lambda done, total: windows.append((done, total)))
    assert len(windows) >= 3 and windows[-1][0] == windows[-1][1]  # several windows, all bars done
    for c in candidates:
        check_guarantee(c.score, expected)


SHIPPED_MODEL = (SHIPPED / "model.safetensors").exists() and (SHIPPED / "adapters" / "johann-sebastian-bach").is_dir()


@pytest.mark.skipif(not SHIPPED_MODEL, reason="the shipped model (styletransfer/pretrained/default) is missing")
def test_guarantee_with_the_shipped_model():
    """The shipped Bach style writes Happy Birthday as a chorale: the tune as its soprano, note for note,
    and three more parts under it, each one line."""
    from styletransfer.transfer.pipeline import harmonize as harmonize_in_style, load_style

    loaded = load_style(str(SHIPPED), "bach")  # the shipped folder, even where runs/base exists
    assert loaded.texture.names == ("Soprano", "Alto", "Tenor", "Bass") and loaded.texture.monophonic
    score, _ = read("happy_birthday.mid")
    expected = notes_of(score)
    candidates = harmonize_in_style(score, loaded, seed=0, candidates=2)
    assert len(candidates) == 2
    for c in candidates:
        check_guarantee(c.score, expected)
        assert [t.name for t in c.score.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
        for part in list(c.score.tracks)[1:]:
            notes = sorted(part.notes, key=lambda n: n.time)
            assert notes and all(b.time >= a.time + a.duration for a, b in zip(notes, notes[1:]))
