"""The real-or-generated judge: synthetic four-part chorales, their fakes, training, P(real), files.

The chorales are written here (no bundled corpus, no download): a diatonic progression, one chord a
beat, in root position or first inversion, voiced in four parts with smooth voice leading (each upper
voice takes the nearest chord tone, no doubled third), passing notes in the bass, a V-I cadence; each
piece is one MIDI track, as the bundled corpus is.
"""
from __future__ import annotations

import hashlib
import json
import pickle
import random
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from symusic import Note, Score, Tempo, TimeSignature, Track

from styletransfer.data.melody_file import quiet_read_melody
from styletransfer.errors import UserError
from styletransfer.eval import fakes
from styletransfer.eval import real_judge as rj
from styletransfer.eval.baselines import harmonize
from styletransfer.eval.fakes import FAKE_KINDS, MST, REAL, mst_fake_name, piece_pairs
from styletransfer.eval.harmonized_pair import pair_of, score_of_pair
from styletransfer.eval.harmony_features import FEATURE_NAMES, pair_features
from styletransfer.eval.real_judge import (
    FEATURES_FILE,
    KINDS,
    META_FILE,
    RealJudge,
    load_or_train_real_judge,
)
from support.train import assert_one_line_error, run_cli

TPQ = 480
COMPOSER = "Johann Sebastian Bach"
MAJOR = (0, 2, 4, 5, 7, 9, 11)
# Diatonic triads by degree, and where a progression may go next (functional harmony).
NEXT = {0: (3, 4, 5, 1, 3, 4), 1: (4, 4, 6), 3: (4, 0, 1, 4), 4: (0, 0, 5), 5: (1, 3, 3), 6: (0,)}
N_TRAIN, N_VALID, N_HELD_OUT = 12, 4, 4


def chorale_voices(seed: int, bars: int = 5) -> list[list[tuple[float, float, int]]]:
    """Four voices (soprano first) of (onset, duration, pitch), one chord a quarter."""
    rng = random.Random(seed)
    tonic = rng.randrange(0, 12)
    degrees = [0]
    while len(degrees) < bars * 4 - 2:
        degrees.append(rng.choice(NEXT[degrees[-1]]))
    degrees += [4, 0]
    s, a, t = 67 + rng.randrange(0, 6), 62, 55
    voices = [[], [], [], []]
    prev_bass = None
    for k, d in enumerate(degrees):
        pcs = [(tonic + MAJOR[(d + i) % 7]) % 12 for i in (0, 2, 4)]
        inverted = 0 < k < len(degrees) - 2 and rng.random() < 0.25
        bass_pc = pcs[1] if inverted else pcs[0]
        bass = min((p for p in range(40, 56) if p % 12 == bass_pc),
                   key=lambda p: abs(p - (prev_bass or 48)))
        # the soprano moves (a chord tone within a fifth, seldom the same), or holds a common tone
        hold = k and voices[0][-1][2] % 12 in pcs and rng.random() < 0.15
        moves = [p for p in range(64, 80) if p % 12 in pcs and 0 < abs(p - s) <= 7] or [s]
        soprano = s if hold else rng.choice(sorted(moves, key=lambda p: abs(p - s))[:3])
        upper, used = [soprano], [soprano % 12]
        for prev, lo, hi in ((a, 57, 72), (t, 50, 66)):
            options = [p for p in range(lo, min(hi, soprano - 1) + 1) if p % 12 in pcs and p > bass
                       and not (inverted and p % 12 == pcs[1])
                       and (p % 12 not in used or len(set(used) | {p % 12}) == 3)]
            best = min(options or [p for p in range(lo, hi + 1) if p % 12 in pcs], key=lambda p: abs(p - prev))
            upper.append(best)
            used.append(best % 12)
        if hold:
            voices[0][-1] = (voices[0][-1][0], voices[0][-1][1] + 1.0, voices[0][-1][2])
        else:
            voices[0].append((float(k), 1.0, upper[0]))
        voices[1].append((float(k), 1.0, upper[1]))
        voices[2].append((float(k), 1.0, upper[2]))
        if prev_bass is not None and abs(bass - prev_bass) in (3, 4) and rng.random() < 0.5:
            # a passing note between the bass notes a third apart, on the off-beat of the previous beat
            on, _, p = voices[3][-1]
            mid = [q for q in range(min(p, bass) + 1, max(p, bass)) if (q - tonic) % 12 in MAJOR]
            if mid:
                voices[3][-1] = (on, 0.5, p)
                voices[3].append((on + 0.5, 0.5, mid[0]))
        voices[3].append((float(k), 1.0, bass))
        s, a, t = upper
        prev_bass = bass
    voices[0][-1] = (voices[0][-1][0], 2.0, voices[0][-1][2])
    for v in voices[1:]:
        v[-1] = (v[-1][0], 2.0, v[-1][2])
    return voices


def chorale_score(seed: int) -> Score:
    score = Score(TPQ)
    track = Track("Piano", program=0, is_drum=False)
    for voice in chorale_voices(seed):
        for on, dur, pitch in voice:
            track.notes.append(Note(round(on * TPQ), round(dur * TPQ), pitch, 80))
    track.notes.sort(key=lambda n: (n.time, -n.pitch))
    score.tracks.append(track)
    score.tempos.append(Tempo(0, 90.0))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    return score


def write_corpus(folder: Path) -> Path:
    """A bundled-corpus-like folder: train / validation pieces by Bach, held-out ones in the test split
    (their rows point at files that do not exist: the judge must never read the test split), and one
    training piece by another composer."""
    rows = []
    plan = ["train"] * N_TRAIN + ["validation"] * N_VALID
    for i, split in enumerate(plan):
        rel = f"midi/bach/chorale{i:03d}.mid"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        chorale_score(seed=i).dump_midi(str(folder / rel))
        rows.append((COMPOSER, f"bach/chorale{i}", split, rel, 20.0))
    rows += [(COMPOSER, "bach/missing test piece", "test", "midi/bach/not-there.mid", 20.0),
             ("Somebody Else", "other/a piece", "train", "midi/other/not-there.mid", 20.0)]
    pd.DataFrame(rows, columns=["canonical_composer", "canonical_title", "split", "midi_filename",
                                "duration"]).to_csv(folder / "music21-corpus.csv", index=False)
    return folder


def held_out_files(folder: Path) -> list[Path]:
    out = []
    for i in range(N_HELD_OUT):
        path = folder / f"held_out{i}.mid"
        chorale_score(seed=1000 + i).dump_midi(str(path))
        out.append(path)
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(data folder, saved judge folder, the judge trained in memory): the one training the tests share."""
    data = write_corpus(tmp_path_factory.mktemp("real_judge_data") / "corpus")
    out = tmp_path_factory.mktemp("real_judge_out") / "judge"
    judge = RealJudge.train(data, workers=2)  # two workers: the process pool
    judge.save(out)
    return data, out, judge


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    return held_out_files(tmp_path_factory.mktemp("real_judge_held_out"))


# ------------------------------------------------------------------------------------- features, fakes


def test_features_are_named_finite_and_key_invariant():
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES) > 150
    score = chorale_score(7)
    pair = pair_of(score)
    f = pair_features(pair)
    assert f.shape == (len(FEATURE_NAMES),) and np.isfinite(f).all()
    named = dict(zip(FEATURE_NAMES, f))
    assert named["hv_key_cosine"] > 0.5 and named["hv_acc_onsets_with_melody"] > 0.9
    assert abs(sum(named[f"hv_mel_acc_ic_{i}"] for i in range(12)) - 1) < 1e-9
    shift = 3
    moved = pair._replace(melody=pair.melody + [0, 0, shift], accompaniment=pair.accompaniment + [0, 0, shift])
    g = pair_features(moved)
    for name, x, y in zip(FEATURE_NAMES, f, g):
        if name == "style_pitch_mean":
            assert y - x == pytest.approx(shift)
        else:
            assert y == pytest.approx(x, abs=1e-9), name


def test_melody_is_the_top_line_of_a_one_track_original(tmp_path):
    score = chorale_score(3)
    path = tmp_path / "c.mid"
    score.dump_midi(str(path))
    soprano = np.array(chorale_voices(3)[0])
    pair = pair_of(score)
    assert np.allclose(pair.melody[:, [0, 2]], soprano[:, [0, 2]])
    assert len(pair.accompaniment) == sum(len(v) for v in chorale_voices(3)[1:])
    # the same pair from the file with its melody, and from the two-track form
    from_file = pair_of(Score(str(path)), quiet_read_melody(path))
    two_track = pair_of(score_of_pair(pair))
    for other in (from_file, two_track):
        assert np.array_equal(other.melody, pair.melody) and np.array_equal(other.accompaniment, pair.accompaniment)
    with pytest.raises(UserError):
        pair_of(Score(TPQ))


def test_each_fake_changes_what_it_says(tmp_path):
    path = tmp_path / "c.mid"
    chorale_score(11).dump_midi(str(path))
    pairs = dict(piece_pairs(str(path), seed=0))
    assert list(pairs) == [REAL, *FAKE_KINDS]  # no mst fake unless one is given
    real = pairs["real"]
    for kind in FAKE_KINDS:
        assert np.array_equal(pairs[kind].melody[:, [0, 2]], real.melody[:, [0, 2]]), kind  # same melody
        assert not np.array_equal(pairs[kind].accompaniment, real.accompaniment), kind
    acc = real.accompaniment
    notes = lambda a: {tuple(r) for r in np.round(a, 6).tolist()}
    shift = np.unique(pairs["transposed"].accompaniment[:, 2] - acc[:, 2])  # a passage or all of it
    assert set(shift) - {0} and len(set(shift) - {0}) == 1 and 1 <= abs(max(shift, key=abs)) <= 5
    assert np.array_equal(pairs["transposed"].accompaniment[:, :2], acc[:, :2])
    shifted = pairs["shifted"].accompaniment
    lo, hi = real.melody[:, 0].min(), real.melody[:, 1].max()
    expected = {}
    for s in (-1.0, 1.0):
        moved = acc + [s, s, 0]
        moved[:, 0], moved[:, 1] = np.maximum(moved[:, 0], lo), np.minimum(moved[:, 1], hi)
        expected[s] = notes(moved[moved[:, 1] > moved[:, 0]])
    assert notes(shifted) in expected.values()
    bass = fakes._bass_mask(acc)
    walk = pairs["bass_walk"].accompaniment
    assert notes(acc[~bass]) <= notes(walk) and notes(walk) != notes(acc)
    new_notes = np.array(sorted(notes(walk) - notes(acc)))
    assert acc[bass, 2].min() <= new_notes[:, 2].min() and new_notes[:, 2].max() <= acc[bass, 2].max()
    assert sorted(walk[:, 0]) == sorted(acc[:, 0])
    inner = pairs["inner_moves"].accompaniment
    assert notes(acc[bass]) <= notes(inner) and notes(inner) != notes(acc) and len(inner) == len(acc)
    for on, end, pitch in inner:
        same_time = acc[(acc[:, 0] == on) & (acc[:, 1] == end), 2]
        assert np.abs(same_time - pitch).min() <= 2
    swap = pairs["bar_swap"].accompaniment
    assert sorted(swap[:, 2].tolist()) == sorted(acc[:, 2].tolist())
    assert np.allclose(np.sort(swap[:, 0] % 4), np.sort(acc[:, 0] % 4))
    octaves = pairs["octaves"].accompaniment
    assert sorted(octaves[:, 0]) == sorted(acc[:, 0]) and len(octaves) == len(acc)
    assert set(np.unique(np.sort(octaves[:, 2] % 12) - np.sort(acc[:, 2] % 12))) == {0}
    assert all(p < fakes._ceiling(real, on) for on, _, p in octaves)  # still under the melody
    block = pairs["block_chords"].accompaniment
    beat_starts = block[:, 0] / real.beat
    assert np.allclose(beat_starts, np.round(beat_starts)) and len(block) < len(acc)
    assert not (acc[:, 0] % 1 > 0).any() or notes(block) != notes(acc)
    density = pairs["density"].accompaniment
    assert notes(density) != notes(acc) and notes(density) - notes(acc) <= {
        (on, end, p + d) for on, end, p in notes(acc) for d in (-12, 12)}
    rule = pairs["rule_based"].accompaniment
    assert np.array_equal(rule, pair_of(harmonize(quiet_read_melody(path))).accompaniment)
    again = dict(piece_pairs(str(path), seed=0))  # deterministic: the same fakes every time
    assert all(np.array_equal(again[k].accompaniment, pairs[k].accompaniment) for k in pairs)


# ------------------------------------------------------------------------------------- training, judging


def test_training_reads_train_and_validation_only(trained):
    _, _, judge = trained
    r = judge.report
    assert r["n_train_pieces"] == N_TRAIN and r["n_validation_pieces"] == N_VALID
    assert N_TRAIN * len(FAKE_KINDS) <= r["n_train_rows"] <= N_TRAIN * (1 + len(FAKE_KINDS))  # no block chords: no fake
    assert r["skipped"]["count"] == 0  # the test split's missing file and the other composer: never read
    assert set(r["selection"]["scores"]) == {"gradient boosting", "random forest"}
    assert r["model"] in r["selection"]["scores"]
    assert set(r["validation"]["per_kind"]) == {REAL, *FAKE_KINDS} and r["n_mst_fakes"] == 0
    assert 0 <= r["p_real"]["validation_rule_based"] < r["p_real"]["validation_real"] <= 1
    assert r["validation"]["auc"] >= 0.8
    weights = judge.rows.weight
    real = judge.rows.kind == 0
    assert weights[real].sum() == pytest.approx(weights[~real].sum())
    assert "validation AUC" in rj.format_real_report(r)


def test_fakes_get_lower_p_real_than_reals_on_held_out_pieces(trained, held_out):
    _, _, judge = trained
    real, fake = [], {k: [] for k in FAKE_KINDS}
    for path in held_out:
        pairs = dict(piece_pairs(str(path), seed=5))
        real.append(judge.p_real(path))  # the one-track file: its top line is the melody
        fake["rule_based"].append(judge.p_real(harmonize(quiet_read_melody(path))))
        for kind in FAKE_KINDS[1:]:
            if kind in pairs:  # a piece without figuration has no block-chords fake
                fake[kind].append(judge.p_real(score_of_pair(pairs[kind])))
    all_fakes = np.concatenate([fake[k] for k in FAKE_KINDS])
    ranked = np.array([r > f for r in real for f in all_fakes])  # the held-out AUC: a real above a fake
    assert ranked.mean() >= 0.9
    assert np.median(real) > 0.5 > np.mean(all_fakes)
    assert np.mean(real) > np.mean(fake["rule_based"]) + 0.3


def test_p_real_forms_agree(trained, held_out):
    _, _, judge = trained
    path = held_out[0]
    melody = quiet_read_melody(path)
    full = Score(str(path))
    p = judge.p_real(full)
    assert judge.p_real(str(path)) == p
    assert judge.p_real(full, melody=melody) == p
    assert judge.p_real(score_of_pair(pair_of(full))) == p
    many = judge.p_real_many([full, Score(TPQ), harmonize(melody)], workers=1)
    assert many[0] == p and np.isnan(many[1]) and many[2] == judge.p_real(harmonize(melody))
    with pytest.raises(UserError):
        judge.p_real(Score(TPQ))
    with pytest.raises(UserError):
        RealJudge().p_real(full)


# ------------------------------------------------------------------------------------- files


def test_save_load_gives_the_same_p_real(trained, held_out):
    _, out, judge = trained
    assert sorted(p.name for p in out.iterdir()) == sorted([FEATURES_FILE, META_FILE])
    loaded = RealJudge.load(out)
    assert loaded.model_name == judge.model_name and loaded.report == judge.report
    scores = [Score(str(p)) for p in held_out] + [harmonize(quiet_read_melody(held_out[0]))]
    assert [loaded.p_real(s) for s in scores] == [judge.p_real(s) for s in scores]


def test_load_unpickles_nothing(trained, tmp_path, monkeypatch):
    _, out, judge = trained
    folder = tmp_path / "judge"
    folder.mkdir()
    for p in out.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    (folder / "model.joblib").write_bytes(pickle.dumps(Payload()))  # a planted pickle: must be ignored

    def refuse(*args, **kwargs):
        raise AssertionError("something was unpickled")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(joblib, "load", refuse)
    loaded = RealJudge.load(folder)
    assert loaded.p_real(Score(str(trained[0] / "midi/bach/chorale000.mid"))) == \
        judge.p_real(Score(str(trained[0] / "midi/bach/chorale000.mid")))
    assert not marker.exists()

    # An npz holding a pickled object array (checksum made to match) is refused, its payload not run.
    monkeypatch.undo()
    bad = np.empty(1, dtype=object)
    bad[0] = Payload()
    np.savez(folder / FEATURES_FILE, X=bad, kind=np.zeros(1, np.int8), piece=np.zeros(1, np.int32))
    meta = json.loads((folder / META_FILE).read_text())
    meta["features_sha256"] = hashlib.sha256((folder / FEATURES_FILE).read_bytes()).hexdigest()
    (folder / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(UserError) as err:
        RealJudge.load(folder)
    assert "corrupt" in str(err.value) and not marker.exists()


def _corrupt(folder: Path, how: str):
    npz, meta = folder / FEATURES_FILE, folder / META_FILE
    if how == "no folder":
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()
    elif how == "no features":
        npz.unlink()
    elif how == "truncated features":
        npz.write_bytes(npz.read_bytes()[:500])
    elif how == "garbage json":
        meta.write_text("{ not json")
    elif how in ("garbage npz, matching checksum", "wrong shapes, matching checksum"):
        if how.startswith("garbage"):
            npz.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
        else:
            np.savez(npz, X=np.zeros((4, 3)), kind=np.array([0, 1, 1, 1], np.int8), piece=np.zeros(4, np.int32))
        m = json.loads(meta.read_text())
        m["features_sha256"] = hashlib.sha256(npz.read_bytes()).hexdigest()
        meta.write_text(json.dumps(m))
    elif how == "other features":
        m = json.loads(meta.read_text())
        m["feature_names"] = m["feature_names"][:-1]
        meta.write_text(json.dumps(m))
    elif how == "unknown model":
        m = json.loads(meta.read_text())
        m["model"] = "os.system"
        meta.write_text(json.dumps(m))


@pytest.mark.parametrize("how", ["no folder", "no features", "truncated features", "garbage json",
                                 "garbage npz, matching checksum", "wrong shapes, matching checksum",
                                 "other features", "unknown model"])
def test_a_corrupt_folder_is_a_one_line_user_error(trained, tmp_path, how):
    _, out, _ = trained
    folder = tmp_path / "judge"
    folder.mkdir()
    for p in out.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    _corrupt(folder, how)
    with pytest.raises(UserError) as err:
        RealJudge.load(folder)
    assert "\n" not in str(err.value) and str(folder) in str(err.value)


def test_load_or_train_trains_only_when_missing(trained, tmp_path, monkeypatch):
    data, out, judge = trained
    said, calls = [], []
    assert load_or_train_real_judge(out, data, said.append).report == judge.report and said == []

    def fake_train(data_folder, out_folder, force=False, **kwargs):
        calls.append((Path(data_folder), Path(out_folder)))
        Path(out_folder).mkdir(parents=True)
        for p in out.iterdir():
            (Path(out_folder) / p.name).write_bytes(p.read_bytes())
        return judge.report

    monkeypatch.setattr(rj, "train_real_judge", fake_train)
    target = tmp_path / "new-judge"
    loaded = load_or_train_real_judge(target, data, said.append)
    assert calls == [(data, target)] and len(said) == 1 and str(target) in said[0]
    assert loaded.model_name == judge.model_name


def test_training_needs_pieces(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    pd.DataFrame([(COMPOSER, "bach/x", "test", "midi/x.mid", 1.0)],
                 columns=["canonical_composer", "canonical_title", "split", "midi_filename", "duration"]
                 ).to_csv(folder / "music21-corpus.csv", index=False)
    with pytest.raises(UserError, match="no training pieces"):
        RealJudge.train(folder)
    with pytest.raises(UserError, match="unknown model"):
        RealJudge.train(folder, models=("support vector machine",))


def test_mst_s_own_settings_train_as_one_more_fake(trained, tmp_path):
    """A folder of mst's settings of training pieces' tunes (here: the rule-based harmonizer's, under the
    names scripts/harmonize_training_sopranos.py writes) adds one fake of kind mst per piece that has one."""
    data, _, judge = trained
    table = pd.read_csv(data / "music21-corpus.csv")
    train = table[(table["split"] == "train") & (table["canonical_composer"] == rj.COMPOSER)].head(3)
    for rel, title in zip(train["midi_filename"], train["canonical_title"]):
        harmonize(quiet_read_melody(data / rel)).dump_midi(str(tmp_path / mst_fake_name(title)))
    with_mst = RealJudge.train(data, models=("random forest",), mst_fakes=tmp_path)
    r = with_mst.report
    assert r["n_mst_fakes"] == 3 and r["fake_kinds"][-1] == MST
    assert int((with_mst.rows.kind == KINDS.index(MST)).sum()) == 3
    assert r["n_train_rows"] == judge.report["n_train_rows"] + 3


def test_an_mst_fakes_folder_without_settings_is_one_line(trained, tmp_path, capsys):
    data, _, _ = trained
    for folder, said in ((tmp_path / "missing", "not a folder"), (tmp_path, "holds no mst setting")):
        code, _, err = run_cli(["eval", "real-judge", "train", "--data", data, "--out", tmp_path / "judge",
                                "--mst-fakes", folder], capsys)
        assert_one_line_error(code, err, said)
    assert not (tmp_path / "judge").exists()
