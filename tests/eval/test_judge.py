"""The style judge: features, training on a synthetic two-style catalog, P(composer), save/load."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from symusic import Note, Score, Tempo, TimeSignature, Track

from styletransfer.errors import UserError
from styletransfer.eval.judge import FEATURE_NAMES, OTHER, REGISTER_FEATURES, StyleJudge, features, format_report, train_judge

TPQ = 480
CHORDS = "Block Chordwriter"
RUNS = "Chromatic Runner"
RARE = "Rare Drone"
MAJOR = (0, 2, 4, 5, 7, 9, 11)


def _score(tracks: list[list[tuple[float, float, int]]], names=("Piano",)) -> Score:
    score = Score(TPQ)
    for i, notes in enumerate(tracks):
        track = Track(names[i] if i < len(names) else f"T{i}", program=0, is_drum=False)
        for start, dur, pitch in notes:
            track.notes.append(Note(int(round(start * TPQ)), int(round(dur * TPQ)), pitch, 80))
        score.tracks.append(track)
    score.tempos.append(Tempo(0, 100.0))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    return score


def chord_notes(seed: int, bars: int = 8) -> list[tuple[float, float, int]]:
    """Diatonic block triads, one per quarter note."""
    rng = random.Random(seed)
    key = rng.randrange(48, 60)
    notes = []
    for beat in range(bars * 4):
        degree = rng.choice((0, 3, 4, 5, 0, 4))
        for step in (0, 2, 4):
            d = degree + step
            notes.append((float(beat), 1.0, key + MAJOR[d % 7] + 12 * (d // 7)))
    return notes


def run_notes(seed: int, bars: int = 8) -> list[tuple[float, float, int]]:
    """One line of sixteenth-note chromatic runs, up and down."""
    rng = random.Random(seed)
    pitch, direction, notes = rng.randrange(60, 76), rng.choice((-1, 1)), []
    for i in range(bars * 16):
        notes.append((i * 0.25, 0.25, pitch))
        if rng.random() < 0.1 or not 52 <= pitch + direction <= 88:
            direction = -direction
        pitch += direction
    return notes


def drone_notes(seed: int, bars: int = 8) -> list[tuple[float, float, int]]:
    rng = random.Random(seed)
    root = rng.randrange(36, 48)
    return [(bar * 4.0, 4.0, p) for bar in range(bars) for p in (root, root + 12)]


STYLES = {CHORDS: chord_notes, RUNS: run_notes, RARE: drone_notes}


def write_catalog(folder: Path) -> Path:
    """12 train / 3 validation / 3 test pieces for each of two styles, 3 training drones, 2 bad files."""
    rows = []
    plan = [(c, s) for c in (CHORDS, RUNS) for s in ["train"] * 12 + ["validation"] * 3 + ["test"] * 3]
    plan += [(RARE, "train")] * 3
    for i, (composer, split) in enumerate(plan):
        rel = f"midi/piece{i:03d}.mid"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        _score([STYLES[composer](seed=i)]).dump_midi(str(folder / rel))
        rows.append((composer, f"Piece {i}", split, 2020, rel, "", 20.0))
    (folder / "midi/corrupt.mid").write_bytes(random.Random(3).randbytes(300))
    Score(TPQ).dump_midi(str(folder / "midi/empty.mid"))
    rows += [(CHORDS, "Corrupt", "train", 2020, "midi/corrupt.mid", "", 1.0),
             (RUNS, "Empty", "train", 2020, "midi/empty.mid", "", 1.0)]
    pd.DataFrame(rows, columns=["canonical_composer", "canonical_title", "split", "year", "midi_filename",
                                "audio_filename", "duration"]).to_csv(folder / "maestro-v3.0.0.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(data folder, saved judge folder, the judge trained in memory): the one training most tests share."""
    from styletransfer.data.catalog import load_catalog

    data = write_catalog(tmp_path_factory.mktemp("judge_data") / "corpus")
    out = tmp_path_factory.mktemp("judge_out") / "judge"
    judge = StyleJudge().train(load_catalog(data), min_pieces=10, workers=2)  # two workers: the process pool
    judge.save(out)
    return data, out, judge


def test_feature_names_match_vector():
    assert 50 <= len(FEATURE_NAMES) <= 90 and len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    f = features(_score([chord_notes(1) + run_notes(2)]))
    assert f.shape == (len(FEATURE_NAMES),) and np.isfinite(f).all()
    named = dict(zip(FEATURE_NAMES, f))
    assert named["pitch_range"] > 12 and 1 < named["poly_mean"] < 5
    assert abs(sum(named[f"pc_{i}"] for i in range(12)) - 1) < 1e-9


@pytest.mark.parametrize("shift", [-3, 2, 4])
def test_features_are_transposition_invariant(shift):
    notes = chord_notes(5) + [(s + 0.5, d, p + 12) for s, d, p in run_notes(6)]
    base = _score([notes])
    moved = _score([[(s, d, p + shift) for s, d, p in notes]])
    f0, f1 = features(base), features(moved)
    for name, a, b in zip(FEATURE_NAMES, f0, f1):
        if name in REGISTER_FEATURES:
            assert b - a == pytest.approx(shift), name
        else:
            assert b == pytest.approx(a, abs=1e-9), name
    tonic_major = dict(zip(FEATURE_NAMES, f0))
    assert tonic_major["key_minor"] == 0 and tonic_major["pc_0"] > tonic_major["pc_1"]  # C-ish, rotated to tonic 0


def test_tracks_are_merged_and_drums_ignored():
    chords, runs = chord_notes(7), [(s, d, p + 12) for s, d, p in run_notes(8)]
    one = features(_score([chords + runs]))
    two = _score([runs, chords], names=("Melody", "Accompaniment"))
    drums = Track("Drums", program=0, is_drum=True)
    for i in range(32):
        drums.notes.append(Note(i * TPQ, TPQ // 2, 36 + i % 5, 100))
    two.tracks.append(drums)
    assert np.allclose(features(two), one)


def test_tiny_inputs_and_empty_scores():
    for notes in ([(0.0, 1.0, 60)], [(0.0, 1.0, 60), (1.0, 0.5, 64)], [(0.0, 2.0, 60), (0.0, 2.0, 67)]):
        f = features(_score([notes]))
        assert f.shape == (len(FEATURE_NAMES),) and np.isfinite(f).all()
    with pytest.raises(UserError):
        features(Score(TPQ))
    drums_only = Score(TPQ)
    drums = Track("Drums", program=0, is_drum=True)
    drums.notes.append(Note(0, TPQ, 36, 100))
    drums_only.tracks.append(drums)
    with pytest.raises(UserError):
        features(drums_only)


def test_training_report(trained):
    _, out, judge = trained
    report = judge.report
    assert report["classes"] == sorted([CHORDS, RUNS, OTHER])
    assert report["other_composers"] == [RARE]
    assert report["skipped"]["count"] == 2
    assert (report["n_train"], report["n_validation"], report["n_test"]) == (27, 6, 6)
    assert report["model"] in report["selection"]["scores"] and len(report["selection"]["scores"]) == 3
    test = report["test"]
    assert test["accuracy"] >= 5 / 6 and test["balanced_accuracy"] >= 0.75
    matrix = np.array(test["confusion"]["matrix"])
    assert matrix.sum() == 6 and np.trace(matrix) == round(test["accuracy"] * 6)
    assert test["support"][CHORDS] == 3 and test["support"][RUNS] == 3
    text = format_report(report)
    assert f"{test['accuracy']:.3f}" in text and CHORDS in text and "Confusion matrix" in text
    assert sum(1 for line in text.splitlines() if line.startswith("| ") and " | " in line and line[2].isdigit()
               and CHORDS in line) == 2  # once in the recall table, once as a confusion-matrix row


def test_proba_of_fresh_pieces(trained, tmp_path):
    _, out, _ = trained
    judge = StyleJudge.load(out)
    for composer, make in ((CHORDS, chord_notes), (RUNS, run_notes)):
        for seed in (1001, 1002):
            probs = judge.proba(_score([make(seed)]))
            assert set(probs) == set(judge.classes) and sum(probs.values()) == pytest.approx(1)
            assert probs[composer] > 0.5, (composer, probs)
            assert next(iter(probs)) == composer  # most likely first
    # a generated-looking piece: melody and accompaniment on two tracks, read from a file
    path = tmp_path / "generated.mid"
    chords = chord_notes(1003)
    _score([[(s, d, p + 12) for s, d, p in chords if s % 1 == 0][::3], chords],
           names=("Melody", "Accompaniment")).dump_midi(str(path))
    assert judge.p(path, "chordwriter") > 0.5
    assert judge.class_for("runner") == RUNS
    with pytest.raises(UserError):
        judge.class_for("Mozart")
    with pytest.raises(UserError):
        judge.proba(tmp_path / "missing.mid")


def test_save_load_round_trip(trained):
    _, out, judge = trained
    loaded = StyleJudge.load(out)
    pieces = [_score([chord_notes(2001)]), _score([run_notes(2002)]), _score([drone_notes(2003)])]
    for piece in pieces:
        a, b = judge.proba(piece), loaded.proba(piece)
        assert list(a) == list(b) and np.allclose(list(a.values()), list(b.values()))
    assert loaded.report == json.loads(json.dumps(judge.report))
    meta = json.loads((out / "judge.json").read_text())
    assert meta["feature_names"] == list(FEATURE_NAMES) and meta["sklearn_version"]
    many = loaded.proba_many(pieces + [out / "missing.mid"], workers=1)
    assert many[-1] is None and np.allclose(list(many[0].values()), list(loaded.proba(pieces[0]).values()))


def test_train_judge_refuses_to_overwrite(trained, tmp_path):
    data, out, judge = trained
    before = (out / "features.npz").stat().st_mtime_ns
    with pytest.raises(UserError, match="already exists"):
        train_judge(data, out)
    assert (out / "features.npz").stat().st_mtime_ns == before
    target = tmp_path / "judge"
    target.mkdir()
    (target / "stale.txt").write_text("from an older judge")
    with pytest.raises(UserError, match="already exists"):
        train_judge(data, target)
    report = train_judge(data, target, force=True, workers=1)
    assert report["classes"] == judge.classes and report["test"] == judge.report["test"]
    assert report["data"] == str(data.resolve())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["judge"]  # no temporary folder left behind
    assert sorted(p.name for p in target.iterdir()) == ["features.npz", "judge.json"]  # replaced, not merged
    assert StyleJudge.load(target).report == json.loads(json.dumps(report))


def test_load_errors(trained, tmp_path):
    _, out, _ = trained
    with pytest.raises(UserError, match="not found"):
        StyleJudge.load(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    broken.mkdir()
    with pytest.raises(UserError, match="missing"):
        StyleJudge.load(broken)
    (broken / "judge.json").write_text((out / "judge.json").read_text())
    (broken / "features.npz").write_bytes(b"not an npz at all")
    with pytest.raises(UserError, match="unreadable"):
        StyleJudge.load(broken)
    (broken / "features.npz").write_bytes((out / "features.npz").read_bytes())
    StyleJudge.load(broken)  # the copy itself is fine
    (broken / "judge.json").write_text("{ half a json")
    with pytest.raises(UserError, match="corrupt"):
        StyleJudge.load(broken)
    meta = json.loads((out / "judge.json").read_text())
    meta["feature_names"] = meta["feature_names"][:-1]
    (broken / "judge.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="other features"):
        StyleJudge.load(broken)


def test_a_planted_pickle_is_never_loaded(trained, tmp_path):
    """A folder with a pickle that runs code on load: the judge reads only JSON and npz (allow_pickle=False)."""
    import pickle

    _, out, _ = trained
    planted = tmp_path / "planted"
    planted.mkdir()
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (planted / "judge.json").write_text((out / "judge.json").read_text())
    (planted / "model.joblib").write_bytes(pickle.dumps(Payload()))  # the old format's file name
    with pytest.raises(UserError, match="features.npz is missing"):
        StyleJudge.load(planted)
    np.savez(planted / "features.npz", X=np.array([Payload()], dtype=object), y=np.zeros(1, np.int32))
    with pytest.raises(UserError, match="unreadable"):
        StyleJudge.load(planted)
    assert not marker.exists()
    meta = json.loads((out / "judge.json").read_text())
    meta["format_version"] = 1
    (planted / "judge.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="older mst"):
        StyleJudge.load(planted)
