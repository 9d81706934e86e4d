"""The `mst` command: data prepare / composers on the fixture, and one-line errors with exit status 2."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from rich.console import Console

from support.console import use_console
from support.maestro import BAD, PIECES
from styletransfer import cli
from styletransfer.tokens import tokenizer as tk
from styletransfer.config import load_recipe

ROOT = Path(__file__).resolve().parents[2]


def run_main(args, capsys, monkeypatch, width=250):
    """cli.main in-process: (exit code, stdout, stderr)."""
    use_console(monkeypatch, width=width, force_terminal=False, color_system=None)
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def run_mst(*args, cwd=None):
    """The installed console script (or `python -m styletransfer` without it), as a user runs it."""
    exe = shutil.which("mst", path=os.path.dirname(sys.executable)) or shutil.which("mst")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "styletransfer", *args]
    env = dict(os.environ, COLUMNS="250", NO_COLOR="1")
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def table_rows(text: str) -> dict[str, list[str]]:
    """A rich table's body rows: first cell -> the other cells."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip().strip("│").split("│")]
            rows[cells[0]] = cells[1:]
    return rows


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mst: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def cli_prepared(maestro_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "prepared"
    proc = run_mst("data", "prepare", "--set", f"data.path={maestro_dir}", "--set", "data.bpe_vocab_size=400",
                   "--set", "data.workers=1", "--set", "data.augment.velocity_offsets=[]", "--out", str(out))
    return proc, out


def test_data_prepare(cli_prepared, maestro_dir):
    proc, out = cli_prepared
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "built" in proc.stdout and "vocabulary 400" in proc.stdout
    rows = table_rows(proc.stdout)
    # the default recipe: every piece in the reference key; the 8 training pieces also an octave up and down
    # where the piano has room
    counts = {split: int(cells[0]) for split, cells in rows.items()}
    assert (counts["validation"], counts["test"]) == (2, 2) and 8 < counts["train"] <= 24
    assert all(int(cells[1].replace(",", "")) > 0 for cells in rows.values())
    assert f"skipped {len(BAD)} file(s)" in proc.stdout
    for kind in ("corrupt", "empty", "drums"):
        assert f"MIDI-{kind}.midi" in proc.stdout
    assert tk.load_tokenizer(out).is_trained


def test_data_prepare_writes_the_resolved_recipe(cli_prepared, maestro_dir):
    _, out = cli_prepared
    saved = load_recipe(out / "recipe.yaml")
    assert saved.data.path == str(maestro_dir)
    assert saved.data.out == str(out)
    assert saved.data.bpe_vocab_size == 400 and saved.data.workers == 1
    assert saved.data.augment.velocity_offsets == [] and saved.data.augment.pitch_offsets == [-12, 12]
    assert saved.data.key_normalize
    assert saved.name == "default"  # everything else comes from the default recipe
    assert yaml.safe_load((out / "recipe.yaml").read_text())["model"]["n_layer"] == saved.model.n_layer


def test_data_prepare_again_is_up_to_date(cli_prepared, maestro_dir, capsys, monkeypatch):
    _, out = cli_prepared
    code, stdout, _ = run_main(["data", "prepare", "--set", f"data.path={maestro_dir}", "--set", "data.bpe_vocab_size=400",
                                "--set", "data.augment.velocity_offsets=[]", "--out", str(out)], capsys, monkeypatch)
    assert code in (0, None)
    assert "up to date" in " ".join(stdout.split())  # the table's title wraps at the table's width


def test_data_composers(maestro_dir, capsys, monkeypatch):
    code, out, err = run_main(["data", "composers", "--data", str(maestro_dir)], capsys, monkeypatch)
    assert code in (0, None), err
    names = {name for composer, *_ in PIECES for name in composer.split(" / ")}
    assert f"maestro-v3.0.0.csv: {len(names)} composers" in out
    rows = table_rows(out)
    assert set(rows) == names
    bach = rows["Johann Sebastian Bach"]
    assert bach[0] == "4"  # pieces: 3 of his own + the joint Chaconne
    assert bach[2:] == ["3", "1", "0"]  # train, validation, test pieces
    assert "split columns: pieces" in out


def test_data_composers_hours(tmp_path, capsys, monkeypatch):
    composer_folder(tmp_path, [("A Composer", "train", 3600.0), ("A Composer", "test", 1800.0),
                               ("B Composer", "validation", 900.0)])
    code, out, err = run_main(["data", "composers", "--data", str(tmp_path), "--hours"], capsys, monkeypatch)
    assert code in (0, None), err
    rows = table_rows(out)
    assert rows["A Composer"] == ["2", "1.50", "1.00", "0.00", "0.50"]  # pieces, hours, then hours per split
    assert rows["B Composer"] == ["1", "0.25", "0.00", "0.25", "0.00"]
    assert "split columns: hours" in out


LONG_NAME = "Anonymous D-Bs 261 (Cfirm) I-Rvat 1419 (Cp) and a longer name still"


def composer_folder(folder, rows):
    """A Maestro-format folder of (composer, split, seconds) rows, no MIDI needed for the table."""
    pd.DataFrame({"canonical_composer": [r[0] for r in rows], "canonical_title": [f"t{i}" for i in range(len(rows))],
                  "split": [r[1] for r in rows], "midi_filename": ["x.midi"] * len(rows),
                  "duration": [r[2] for r in rows]}).to_csv(folder / "maestro-v3.0.0.csv", index=False)
    return folder


def narrow_rows(text: str) -> dict[str, list[str]]:
    """Body rows of a table whose first column may wrap: the name's lines joined -> the number cells."""
    rows, name = {}, None
    for line in text.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip().strip("│").split("│")]
            if any(cells[1:]):
                name = cells[0]
                rows[name] = cells[1:]
            else:  # the rest of a wrapped name
                rows[f"{name} {cells[0]}"] = rows.pop(name)
                name = f"{name} {cells[0]}"
    return rows


def assert_readable(out: str, table) -> None:
    """Every composer of ``table`` (catalog.composer_table) is a row with all its counts, nothing cut."""
    assert "…" not in out
    assert all(len(line) <= 80 for line in out.splitlines() if line[:1] in "┏┃┡│└")  # the table (not the path line)
    rows = narrow_rows(out)
    assert set(rows) == set(table["composer"])
    for row in table.itertuples(index=False):
        assert rows[row.composer] == [f"{row.pieces:,}", f"{row.hours:.2f}", f"{row.train_pieces:,}",
                                      f"{row.validation_pieces:,}", f"{row.test_pieces:,}"], row.composer


def test_data_composers_at_80_columns(maestro_dir, tmp_path, capsys, monkeypatch):
    from styletransfer.data.catalog import composer_table, load_catalog

    rows = [(LONG_NAME, "train", 7200.0)] * 1234 + [(c, s, 60.0) for c, _, s, *_ in PIECES]
    folder = composer_folder(tmp_path, rows)
    code, out, err = run_main(["data", "composers", "--data", str(folder)], capsys, monkeypatch, width=80)
    assert code in (0, None), err
    assert_readable(out, composer_table(load_catalog(folder)))
    assert "1,234 │ 2468.00 │ 1,234 │" in out  # the long name wraps, its numbers do not


def test_data_composers_bundled_corpus_at_80_columns(capsys, monkeypatch):
    from styletransfer.data.catalog import composer_table, load_catalog

    bundled = ROOT / "data" / "music21"
    code, out, err = run_main(["data", "composers", "--data", str(bundled)], capsys, monkeypatch, width=80)
    assert code in (0, None), err
    table = composer_table(load_catalog(bundled))
    assert_readable(out, table)
    assert narrow_rows(out)["Giovanni Pierluigi da Palestrina"][0] == "1,318"


def test_data_composers_in_a_pipe(maestro_dir):
    """`mst data composers | cat` with no COLUMNS: rich's 80 columns, every count shown."""
    from styletransfer.data.catalog import composer_table, load_catalog

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    exe = shutil.which("mst", path=os.path.dirname(sys.executable)) or shutil.which("mst")
    cmd = [exe] if exe else [sys.executable, "-m", "styletransfer"]
    proc = subprocess.run([*cmd, "data", "composers", "--data", str(maestro_dir)], capture_output=True, text=True,
                          env=dict(env, NO_COLOR="1"), timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert_readable(proc.stdout, composer_table(load_catalog(maestro_dir)))


def test_data_composers_csv(maestro_dir, capsys, monkeypatch):
    from styletransfer.data.catalog import composer_table, load_catalog

    code, out, err = run_main(["data", "composers", "--data", str(maestro_dir), "--csv"], capsys, monkeypatch, width=40)
    assert code in (0, None), err
    table = pd.read_csv(io.StringIO(out))
    assert list(table.columns) == ["composer", "pieces", "hours", "train_pieces", "train_hours", "validation_pieces",
                                   "validation_hours", "test_pieces", "test_hours"]
    expected = composer_table(load_catalog(maestro_dir))
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)
    bach = table.set_index("composer").loc["Johann Sebastian Bach"]
    assert (bach["pieces"], bach["train_pieces"], bach["validation_pieces"], bach["test_pieces"]) == (4, 3, 1, 0)
    assert "┃" not in out and "composers" not in out.splitlines()[0]  # no table, no title


def test_data_composers_of_a_prepared_folder(cli_prepared, maestro_dir, capsys, monkeypatch):
    proc, out = cli_prepared
    assert proc.returncode == 0, proc.stderr
    code, prepared, err = run_main(["data", "composers", "--data", str(out)], capsys, monkeypatch)
    assert code in (0, None), err
    assert f"{out / 'catalog.csv'}: " in prepared
    _, source, _ = run_main(["data", "composers", "--data", str(maestro_dir)], capsys, monkeypatch)
    assert table_rows(prepared) == table_rows(source) and len(table_rows(prepared)) == 8


def test_data_composers_from_a_recipe(tiny_recipe, capsys, monkeypatch):
    code, out, _ = run_main(["data", "composers", "--recipe", str(tiny_recipe)], capsys, monkeypatch)
    assert code in (0, None)
    assert "Carl Philipp Emanuel Bach" in out and "Claude Debussy" in out


def test_console_script_error(tmp_path):
    proc = run_mst("data", "composers", "--data", str(tmp_path / "no-such-maestro"))
    assert_one_line_error(proc.returncode, proc.stderr, "data folder not found", "no-such-maestro")
    assert proc.stdout == ""


@pytest.mark.parametrize("args, fragments", [
    (["data", "composers", "--data", "{tmp}/missing"], ["data folder not found"]),
    (["data", "composers", "--data", "{tmp}"], ["no metadata found", "maestro-v3.0.0.csv"]),
    (["data", "prepare", "--set", "data.path={tmp}/missing", "--out", "{tmp}/out"], ["data folder not found"]),
    (["data", "prepare", "--maestro", "{tmp}", "--out", "{tmp}/out"], ["no metadata found"]),
    (["data", "prepare", "--set", "data.bpe_vocab=3"], ["unknown recipe key 'data.bpe_vocab'"]),
    (["data", "prepare", "--set", "data.workers=-1"], ["bad value for 'data.workers'"]),
    (["data", "prepare", "--set", "novalue"], ["--set expects section.key=value"]),
    (["data", "prepare", "--recipe", "{tmp}/nope.yaml"], ["recipe not found"]),
    (["data", "composers", "--recipe", "{tmp}/bad.yaml"], ["unknown recipe key 'data.pth'"]),
])
def test_errors_are_one_line_exit_2(args, fragments, tmp_path, capsys, monkeypatch):
    (tmp_path / "bad.yaml").write_text("data:\n  pth: x\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, out, err = run_main(args, capsys, monkeypatch)
    assert_one_line_error(code, err, *fragments)
    assert not (tmp_path / "out").exists()


def test_maestro_option_sets_source_and_path(maestro_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "m"
    code, stdout, err = run_main(["data", "prepare", "--maestro", str(maestro_dir), "--out", str(out),
                                  "--set", "data.bpe_vocab_size=0", "--set", "data.workers=1"], capsys, monkeypatch)
    assert code in (0, None), err
    saved = load_recipe(out / "recipe.yaml")
    assert saved.data.source == "maestro" and saved.data.path == str(maestro_dir)
    assert len(tk.load_tokenizer(out)) == len(tk.build_tokenizer())  # bpe 0: the base vocabulary
    assert f"skipped {len(BAD)} file(s)" in stdout
    # the default recipe's offsets: an octave up and down (the shifts that keep the reference key); the
    # fixture's pieces have room for both
    assert table_rows(stdout)["train"][0] == "24"
