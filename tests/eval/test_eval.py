"""`mst eval`: the rule-based baseline, key finding, perplexity windows, and the eval commands end to end
on the session's tiny runs (tests/conftest.py)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from support.maestro import write_maestro
from support.scores import QPM
from support.train import STYLED, alberti_piece, assert_one_line_error, run_cli, snapshot
from support.transfer import bpe_tokenizer, random_melody, tiny_model
from styletransfer.eval.baselines import harmonize
from styletransfer.keys import estimate_key
from styletransfer.eval.metrics import melody_kept
from styletransfer.eval.perplexity import piece_nll, windows

ROOT = Path(__file__).resolve().parents[2]
HAPPY_BIRTHDAY = ROOT / "data" / "melodies" / "happy_birthday.mid"


# ------------------------------------------------------------------------------------------ keys


def test_estimate_key_of_scales():
    c_major = [60, 62, 64, 65, 67, 69, 71, 72]
    a_minor = [57, 59, 60, 62, 64, 65, 68, 69, 69, 64, 57]  # harmonic minor, tonic and dominant stressed
    assert estimate_key(c_major) == (0, "major")
    assert estimate_key([p + 7 for p in c_major]) == (7, "major")
    assert estimate_key(a_minor) == (9, "minor")
    assert estimate_key([]) == (0, "major")  # no evidence: C major, not a crash


# ------------------------------------------------------------------------------------------ rule-based


def _onset_groups(track, tpq):
    groups = {}
    for n in track.notes:
        groups.setdefault(n.time, set()).add(n.pitch % 12)
    return groups


def test_rule_based_harmonizes_happy_birthday_in_g_with_triads_and_a_cadence():
    from styletransfer.data.melody_file import read_melody

    melody = read_melody(HAPPY_BIRTHDAY)
    out = harmonize(melody)
    kept = melody_kept(out, melody)
    assert kept["recall"] == 1.0 and kept["above_rate"] == 0.0
    g_major = {7, 9, 11, 0, 2, 4, 6}
    groups = _onset_groups(out.tracks[1], out.ticks_per_quarter)
    assert len(groups) >= 6  # the chord changes, it is not one drone
    for pcs in groups.values():
        assert pcs <= g_major, pcs  # diatonic
        assert 2 <= len(pcs) <= 3  # a triad (a doubled tone may merge)
    last = groups[max(groups)]
    assert last == {7, 11, 2}  # ends on the tonic triad, G B D
    assert out.tempos[0].qpm == pytest.approx(melody.tempos[0].qpm)
    assert [(t.numerator, t.denominator) for t in out.time_signatures] == [(3, 4)]


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 30))
def test_rule_based_never_sounds_above_the_melody(seed, n):
    melody, _ = random_melody(seed, n)
    out = harmonize(melody)
    kept = melody_kept(out, melody)
    assert kept["recall"] == 1.0 and kept["above_rate"] == 0.0


# ------------------------------------------------------------------------------------------ perplexity


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.integers(2, 64))
def test_windows_score_every_token_once(n, context):
    spans = windows(n, context)
    scored = [j for start, end, first in spans for j in range(first, end)]
    assert scored == list(range(1, n))
    for start, end, first in spans:
        assert end - start <= context
        if start > 0:
            assert first - start >= context - context // 2  # at least half a context of history


def test_piece_nll_matches_one_forward_pass():
    tok = bpe_tokenizer()
    model = tiny_model(tok, context=32)
    ids = np.random.default_rng(0).integers(5, len(tok), 20)
    nll, count = piece_nll(model, ids, context=32)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor(ids)[None]).logits[0, :-1]
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:]), reduction="sum")
    assert count == 19
    assert nll == pytest.approx(float(expected), rel=1e-5)
    # longer than the context: every token still counted once
    long = np.random.default_rng(1).integers(5, len(tok), 100)
    assert piece_nll(model, long, context=32)[1] == 99


# ------------------------------------------------------------------------------------------ the commands


@pytest.fixture(scope="module")
def eval_data(tmp_path_factory) -> Path:
    """A Maestro folder where STYLED (the adapted run's Alberti composer) has validation and test pieces
    (the shared fixture has none in test), and other composers enough training pieces for a judge."""
    folder = write_maestro(tmp_path_factory.mktemp("evaldata") / "maestro", bad=False)
    csv = folder / "maestro-v3.0.0.csv"
    table = pd.read_csv(csv)
    rows = []
    for i, split in enumerate(("train", "train", "train", "train", "validation", "test", "test")):
        rel = f"2020/Alberti_{i}.midi"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        alberti_piece(300 + i, root=57 + i).dump_midi(str(folder / rel))
        rows.append((STYLED, f"Sonata K. {i + 10}", split, 2020, rel, "", 16 * 60 / QPM))
    pd.concat([table, pd.DataFrame(rows, columns=table.columns)]).to_csv(csv, index=False)
    return folder


@pytest.fixture(scope="module")
def judge_dir(eval_data, tmp_path_factory) -> Path:
    from styletransfer.eval.judge import train_judge

    out = tmp_path_factory.mktemp("judge") / "judge"
    train_judge(eval_data, out, min_pieces=3, workers=1)
    return out


def test_style_judge_train_command_reports_and_refuses_to_overwrite(eval_data, tmp_path, capsys):
    out = tmp_path / "judge"
    code, stdout, err = run_cli(["eval", "style-judge", "train", "--data", eval_data, "--out", out, "--min-pieces", "3"],
                                capsys)
    assert code == 0, err
    assert "accuracy" in stdout.lower() and "Domenico Scarlatti" in stdout
    assert (out / "judge.json").exists()
    before = snapshot(out)
    code, _, err = run_cli(["eval", "style-judge", "train", "--data", eval_data, "--out", out], capsys)
    assert_one_line_error(code, err, "exists", "--force")
    assert snapshot(out) == before


def test_perplexity_adapter_is_best_on_its_composer(adapted_run, eval_data, tmp_path, capsys):
    out = tmp_path / "ppl.md"
    code, stdout, err = run_cli(["eval", "perplexity", "--base", adapted_run, "--all-adapters", "--data", eval_data,
                                 "--split", "test", "--min-pieces", "1", "--out", out, "--json"], capsys)
    assert code == 0, err
    rows = {r["composer"]: r for r in json.loads(stdout[stdout.index("["):stdout.rindex("]") + 1])}
    styled = rows[STYLED]
    assert styled["pieces"] == 2
    assert styled["domenico-scarlatti"] < styled["base"]  # the Alberti adapter knows his Alberti bass
    assert styled["best"] == "domenico-scarlatti"
    assert set(rows[STYLED]) >= {"base", "domenico-scarlatti", "johann-sebastian-bach", "tokens"}
    assert "| Domenico Scarlatti | 2 |" in out.read_text()
    code, _, err = run_cli(["eval", "perplexity", "--base", adapted_run, "--data", eval_data, "--out", out], capsys)
    assert_one_line_error(code, err, "exists")


def test_benchmark_writes_every_system_and_keeps_every_melody(adapted_run, eval_data, judge_dir, tmp_path, capsys):
    melodies = tmp_path / "tunes"
    melodies.mkdir()
    shutil.copy(HAPPY_BIRTHDAY, melodies)
    out = tmp_path / "bench.md"
    args = ["eval", "bach-chorales", "--base", adapted_run, "--style", "scarlatti", "--other", "bach", "--n", "2",
            "--candidates", "2", "--data", eval_data, "--judge", judge_dir, "--melodies", melodies, "--out", out]
    code, stdout, err = run_cli(args, capsys)
    assert code == 0, err
    report = out.read_text()
    ablations = ("no search (best of 8)", "no hard rules", "no key normalization", "neither (as before the search)",
                 "likelihood rank")
    for system in ("original", "mst domenico-scarlatti", *(f"mst domenico-scarlatti, {a}" for a in ablations),
                   "mst base", "mst johann-sebastian-bach", "rule-based triads"):
        assert f"| {system} |" in report, system
    assert "Melodies the model never saw (1 tunes)" in report
    rows = pd.read_csv(out.with_suffix(".csv"))
    assert len(rows) == 2 * 10 + 1 * 9  # chorales: original + 9 systems (5 of them ablations); tunes: 9
    assert {"parallels_melody_bass", "authentic_cadence_rate", "final_authentic"} <= set(rows.columns)
    assert (rows["melody_recall"] == 1.0).all() and (rows["melody_above_rate"] == 0.0).all()
    assert rows["p_style"].between(0, 1).all()
    original = rows[rows.system == "original"]
    assert (original["pc_distance"] > 0).all()  # the piece itself is left out of its own reference
    code, _, err = run_cli(args, capsys)
    assert_one_line_error(code, err, "exists", "--force")


def test_benchmark_skip_runs_the_later_chorales_as_the_longer_run_does(adapted_run, eval_data, judge_dir, tmp_path,
                                                                         capsys):
    """--skip 1 --seed 1 --n 1 is the second chorale of a --n 2 run, output for output (halves side by side)."""
    common = ["eval", "bach-chorales", "--base", adapted_run, "--style", "scarlatti", "--candidates", "2",
              "--no-compare-styles", "--data", eval_data, "--judge", judge_dir, "--melodies", "none"]
    whole, half = tmp_path / "whole.md", tmp_path / "half.md"
    assert run_cli([*common, "--n", "2", "--out", whole], capsys)[0] == 0
    assert run_cli([*common, "--n", "1", "--skip", "1", "--seed", "1", "--out", half], capsys)[0] == 0
    rows = {name: pd.read_csv(path.with_suffix(".csv")) for name, path in (("whole", whole), ("half", half))}
    second = rows["whole"][rows["whole"].piece == rows["whole"].piece.unique()[1]].reset_index(drop=True)
    assert rows["half"].piece.nunique() == 1
    pd.testing.assert_frame_equal(rows["half"].drop(columns=["p_real"]), second.drop(columns=["p_real"]))
    assert "--n 1 --skip 1" in half.read_text()
    code, _, err = run_cli([*common, "--skip", "99", "--out", tmp_path / "x.md"], capsys)
    assert_one_line_error(code, err, "--skip")


def test_benchmark_and_eval_transfer_bad_input_is_one_line(adapted_run, eval_data, judge_dir, tmp_path, capsys):
    code, _, err = run_cli(["eval", "bach-chorales", "--base", adapted_run, "--style", "chopin", "--data", eval_data,
                            "--judge", judge_dir, "--out", tmp_path / "x.md"], capsys)
    assert_one_line_error(code, err, "unknown style", "domenico-scarlatti")
    code, _, err = run_cli(["eval", "transfer", tmp_path / "missing.mid", "--melody", HAPPY_BIRTHDAY], capsys)
    assert_one_line_error(code, err, "not found")
    code, _, err = run_cli(["eval", "transfer", HAPPY_BIRTHDAY, "--melody", HAPPY_BIRTHDAY, "--style", "nobody",
                            "--data", eval_data, "--judge", judge_dir], capsys)
    assert_one_line_error(code, err, "nobody")


def test_eval_transfer_json(eval_data, judge_dir, tmp_path, capsys):
    from styletransfer.data.melody_file import read_melody

    result = tmp_path / "hb.rule.mid"
    harmonize(read_melody(HAPPY_BIRTHDAY)).dump_midi(str(result))
    code, stdout, err = run_cli(["eval", "transfer", result, "--melody", HAPPY_BIRTHDAY, "--style", "scarlatti",
                                 "--data", eval_data, "--judge", judge_dir, "--json"], capsys)
    assert code == 0, err
    row = json.loads(stdout)
    assert row["melody_recall"] == 1.0 and row["melody_all_kept"] is True
    assert row["in_scale_rate"] == 1.0  # diatonic triads under a diatonic tune
    assert 0 <= row["p_style"] <= 1 and row["pc_distance"] > 0
    assert row["chord_coverage"] >= 3


def test_eval_transfer_reports_a_reduced_melody_on_stderr(tmp_path, capsys):
    from styletransfer.data.melody_file import read_melody

    from symusic import Score

    from styletransfer.tokens.parts import merge_parts

    chorale = ROOT / "data" / "music21" / "midi" / "bach" / "bwv110.7.mid"  # four voices, a track each
    piano = Score(str(chorale))
    piano.tracks = [merge_parts(piano)]  # the same four voices in one track: its top line is taken
    piano.dump_midi(str(tmp_path / "piano.mid"))
    for melody, said in ((chorale, "taking track 0 (Soprano) as the melody"), (tmp_path / "piano.mid", "polyphonic")):
        result = tmp_path / f"{melody.stem}.rule.mid"
        harmonize(read_melody(melody)).dump_midi(str(result))
        code, stdout, err = run_cli(["eval", "transfer", result, "--melody", melody, "--json"], capsys)
        assert code == 0, err
        assert said in err and "warning" in err
        assert json.loads(stdout)["melody_recall"] == 1.0  # stdout is the JSON alone
