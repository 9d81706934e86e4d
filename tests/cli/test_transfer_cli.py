"""`mst transfer` and `mst quickstart` on a tiny run with two adapters; style blends (blend.py)."""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys

import pytest
import torch

from rich.console import Console
from symusic import Note, Score, Tempo, TimeSignature, Track

from support.console import use_console
from support.scores import QPM, TPQ, beats, drums_score, empty_score
from support.train import BACH, STYLED, assert_one_line_error, copy_run, run_cli, sets, snapshot
from support.transfer import one_thread  # noqa: F401  (fixtures)
from styletransfer import cli
from styletransfer.model.adapters import parse_style
from styletransfer.errors import UserError
from styletransfer.model.runs import slug




@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    """No wrapping, no colour: the output as a user reads it in a wide terminal."""
    use_console(monkeypatch, width=250, force_terminal=False, color_system=None)


# (onset in beats, duration in beats, pitch): a 3/4 tune with a one-beat pickup, as Happy Birthday
TUNE = [(2, 0.5, 67), (2.5, 0.5, 67), (3, 1, 69), (4, 1, 67), (5, 1, 72), (6, 2, 71), (8, 0.5, 67), (8.5, 0.5, 67),
        (9, 1, 69), (10, 1, 67), (11, 1, 74), (12, 3, 72)]


def tune_score(extra_track: bool = False) -> Score:
    score = Score(TPQ)
    melody = Track("Tune", program=0, is_drum=False)
    for onset, duration, pitch in TUNE:
        melody.notes.append(Note(beats(onset), beats(duration), pitch, 90))
    score.tracks.append(melody)
    if extra_track:  # a bass line under it: read_melody takes the tune and says so
        bass = Track("Bass", program=32, is_drum=False)
        for bar in range(5):
            bass.notes.append(Note(beats(bar * 3), beats(3), 43 + random.Random(bar).choice((0, 5, 7)), 70))
        score.tracks.append(bass)
    score.tempos.append(Tempo(0, QPM))
    score.time_signatures.append(TimeSignature(0, 3, 4))
    return score


@pytest.fixture
def tune(tmp_path, monkeypatch):
    """A melody file in an empty working folder (default outputs land there)."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "tune.mid"
    tune_score().dump_midi(str(path))
    return path


def written(folder) -> set[str]:
    return {p.name for p in folder.iterdir()}


def midi_notes(track) -> list[tuple[int, int, int]]:
    return [(n.time, n.duration, n.pitch) for n in track.notes]


def test_transfer_writes_midi_and_png_and_never_overwrites(adapted_run, tune, capsys):
    args = ["transfer", tune.name, "--style", "bach", "--base", adapted_run, "--candidates", "3"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    midi, png = tune.parent / "tune.bach.mid", tune.parent / "tune.bach.png"
    assert written(tune.parent) == {"tune.mid", midi.name, png.name, "tune.bach.musicxml", "tune.bach.svg"}
    score = Score(str(midi))
    # the fixture's Bach pieces are chorales in four parts: the style writes in them, the melody the soprano
    assert [t.name for t in score.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert midi_notes(score.tracks[0]) == [(beats(on), beats(d), p) for on, d, p in TUNE]  # note for note
    for track in list(score.tracks)[1:]:
        for note in track.notes:  # nothing above a sounding melody note
            assert all(note.pitch < p for on, d, p in TUNE
                       if beats(on) < note.time + note.duration and note.time < beats(on + d))
        ends = [n.time + n.duration for n in track.notes]
        assert all(n.time >= end for n, end in zip(list(track.notes)[1:], ends))  # each part one line
    assert "Soprano 12" in out and "a chorale" in out
    assert [(t.numerator, t.denominator) for t in score.time_signatures] == [(3, 4)]
    assert [round(t.qpm, 2) for t in score.tempos] == [QPM]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {midi.name}" in out and f"wrote {png.name}" in out and "done in" in out
    assert "3 candidates" in out and "log-likelihood" in out

    # Any existing output stops the run before any work, and nothing is touched.
    before = snapshot(tune.parent)
    code, _, err = run_cli(args, capsys)
    assert_one_line_error(code, err, midi.name, "--force")
    midi.unlink()
    code, _, err = run_cli(args, capsys)
    assert_one_line_error(code, err, png.name, "--force")
    assert not midi.exists() and snapshot(tune.parent) == {k: v for k, v in before.items() if k != midi.name}

    code, _, err = run_cli([*args, "--force", "--seed", "3", "--set", "transfer.temperature=0.8"], capsys)
    assert code == 0, err
    assert midi.exists() and png.read_bytes() != b""


def test_sampling_and_ranking_come_from_the_recipe(adapted_run, tune, tmp_path, monkeypatch, capsys):
    import styletransfer.transfer.pipeline as pipeline

    seen = []
    real = pipeline.accompany

    def spy(melody, model, tokenizer, settings, seed, *args, **kwargs):
        seen.append({**{k: getattr(settings, k) for k in ("temperature", "top_p", "top_k", "harmony_weight")},
                     "seed": seed})
        return real(melody, model, tokenizer, settings, seed, *args, **kwargs)

    monkeypatch.setattr(pipeline, "accompany", spy)
    base = ["transfer", tune, "--style", slug(STYLED), "--base", adapted_run, "--candidates", "2", "--force"]
    assert run_cli([*base, "--out", tmp_path / "a.mid"], capsys)[0] == 0
    assert seen[-1] == {"temperature": 0.6, "top_p": 0.9, "top_k": 0, "harmony_weight": 1.0, "seed": 0}
    code, _, err = run_cli([*base, "--out", tmp_path / "b.mid", "--set", "transfer.temperature=0.7",
                            "--set", "transfer.harmony_weight=0", "--set", "sample.seed=4"], capsys)
    assert code == 0, err
    assert seen[-1] == {"temperature": 0.7, "top_p": 0.9, "top_k": 0, "harmony_weight": 0.0, "seed": 4}


def test_keep_all_writes_every_candidate_best_first(adapted_run, tune, capsys):
    out = tune.parent / "sub" / "harmonized.mid"
    code, stdout, err = run_cli(["transfer", tune, "--style", slug(STYLED), "--base", adapted_run, "--candidates", "3",
                                 "--keep-all", "--out", out], capsys)
    assert code == 0, err
    names = {"harmonized.mid", "harmonized.png", "harmonized.musicxml", "harmonized.svg"} | \
        {f"harmonized.cand-{k}.mid" for k in (1, 2, 3)}
    assert written(out.parent) == names
    assert (out.parent / "harmonized.cand-1.mid").read_bytes() == out.read_bytes()
    for k in (1, 2, 3):
        score = Score(str(out.parent / f"harmonized.cand-{k}.mid"))
        assert midi_notes(score.tracks[0]) == [(beats(on), beats(d), p) for on, d, p in TUNE]
        assert f"harmonized.cand-{k}.mid" in stdout


def test_style_none_uses_the_base_alone(adapted_run, tune, capsys):
    code, out, err = run_cli(["transfer", tune, "--style", "none", "--base", adapted_run, "--candidates", "2"], capsys)
    assert code == 0, err
    assert (tune.parent / "tune.base.mid").exists() and "base model" in out


def test_blend_of_two_adapters(adapted_run, tune, capsys):
    style = f"bach=0.7,{slug(STYLED)}=0.3"
    code, out, err = run_cli(["transfer", tune, "--style", style, "--base", adapted_run, "--candidates", "2"], capsys)
    assert code == 0, err
    midi = tune.parent / f"tune.bach0.7+{slug(STYLED)}0.3.mid"
    assert midi.exists() and midi.with_suffix(".png").exists()
    assert f"0.7 {slug(BACH)} + 0.3 {slug(STYLED)}" in out


def test_blend_weights_combine_the_adapters_linearly(adapted_run):
    """The merged blend is the base plus w1 * delta1 + w2 * delta2 (peft 'cat' is exact)."""
    from styletransfer.model.adapters import load_styled

    def weights(style):
        model, _, _ = load_styled(str(adapted_run), style)
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    base, bach, styled = weights("none"), weights("bach"), weights(slug(STYLED))
    blend = weights(f"bach=0.7,{slug(STYLED)}=0.3")
    changed = 0
    for key, value in base.items():
        expected = value + 0.7 * (bach[key] - value) + 0.3 * (styled[key] - value)
        torch.testing.assert_close(blend[key], expected, atol=1e-5, rtol=1e-4)
        changed += not torch.equal(blend[key], value)
    assert changed > 0
    equal = weights(f"bach,{slug(STYLED)}")  # no weights: equal shares
    for key, value in base.items():
        torch.testing.assert_close(equal[key], value + 0.5 * (bach[key] - value) + 0.5 * (styled[key] - value),
                                   atol=1e-5, rtol=1e-4)


def test_parse_style():
    assert parse_style("none").is_base and parse_style("None").slug == "base"
    assert parse_style("bach").parts == (("bach", None),) and not parse_style("bach").is_blend
    blend = parse_style(" bach = 0.7 , chopin=0.3")
    assert blend.parts == (("bach", 0.7), ("chopin", 0.3)) and blend.is_blend and blend.slug == "bach0.7+chopin0.3"
    assert parse_style("bach,chopin").parts == (("bach", 0.5), ("chopin", 0.5))
    assert parse_style("J. S. Bach=1").slug == "j-s-bach1"
    for bad in ("", "  ", "bach=x", "bach=0.5,chopin", "bach=-1", "bach=nan", "bach=0,chopin=0", "=1", "bach=1,,",
                "none=1,bach=1"):
        with pytest.raises(UserError):
            parse_style(bad)


@pytest.mark.parametrize("style, fragments", [
    ("bach=0.7,mozart=0.3", ["unknown style 'mozart'", slug(BACH), slug(STYLED)]),
    ("bach=lots,scarlatti=0.3", ["not a number", "'lots'"]),
    ("bach=0.5,scarlatti", ["every style a weight"]),
    ("bach=1,bach=1", ["same adapter"]),
    ("", ["empty --style"]),
    ("mozart", ["unknown style 'mozart'", slug(BACH)]),
])
def test_bad_styles_are_one_line_and_write_nothing(adapted_run, tune, capsys, style, fragments):
    code, _, err = run_cli(["transfer", tune, "--style", style, "--base", adapted_run], capsys)
    assert_one_line_error(code, err, *fragments)
    assert written(tune.parent) == {"tune.mid"}


def test_generate_accepts_blends(adapted_run, tmp_path, capsys):
    out = tmp_path / "g.mid"
    code, stdout, err = run_cli(["generate", "--style", f"bach=0.5,{slug(STYLED)}=0.5", "--base", adapted_run,
                                 "--bars", "2", "--out", out], capsys)
    assert code == 0, err
    assert Score(str(out)).note_num() > 0
    code, _, err = run_cli(["generate", "--style", "bach=0.5,chopin=0.5", "--base", adapted_run,
                            "--out", tmp_path / "h.mid"], capsys)
    assert_one_line_error(code, err, "unknown style 'chopin'")
    assert not (tmp_path / "h.mid").exists()


def bad_melody(kind: str, folder):
    path = folder / f"{kind}.mid"
    if kind == "corrupt":
        path.write_bytes(b"MThd" + random.Random(3).randbytes(300))
    elif kind == "garbage":
        path.write_bytes(random.Random(4).randbytes(300))
    elif kind == "zero-bytes":
        path.write_bytes(b"")
    elif kind == "no-notes":
        empty_score().dump_midi(str(path))
    elif kind == "drums":
        drums_score().dump_midi(str(path))
    return path


@pytest.mark.parametrize("kind, fragment", [
    ("missing", "file not found"),
    ("corrupt", "not a readable MIDI file"),
    ("garbage", "not a readable MIDI file"),
    ("zero-bytes", "not a readable MIDI file"),
    ("no-notes", "no notes"),
    ("drums", "drums only"),
])
def test_bad_melody_files(adapted_run, tmp_path, monkeypatch, capsys, kind, fragment):
    monkeypatch.chdir(tmp_path)
    path = bad_melody(kind, tmp_path)
    before = written(tmp_path)
    code, _, err = run_cli(["transfer", path.name, "--style", "bach", "--base", adapted_run], capsys)
    assert_one_line_error(code, err, fragment)
    assert written(tmp_path) == before


def test_other_mistakes(adapted_run, tune, capsys):
    for args, fragment in [
        (["--base", adapted_run], "give --style"),
        (["--style", "bach", "--base", adapted_run, "--candidates", "0"], "--candidates"),
        (["--style", "bach", "--base", adapted_run, "--track", "3"], "no track 3"),
        (["--style", "bach", "--base", adapted_run, "--set", "sample.temprature=1"], "unknown recipe key"),
        (["--style", "bach", "--base", adapted_run, "--set", "transfer.harmony_weight=-1"], "transfer.harmony_weight"),
        (["--style", "bach", "--base", tune.parent / "nowhere"], "base model not found"),
        (["--style", "bach", "--base", adapted_run, "--out", tune.name, "--force"], "would overwrite the melody"),
    ]:
        code, _, err = run_cli(["transfer", tune, *args], capsys)
        assert_one_line_error(code, err, fragment)
        assert written(tune.parent) == {"tune.mid"}


def test_wav_without_its_synthesizer_fails_before_any_work(adapted_run, tune, capsys, monkeypatch):
    import styletransfer.render.audio as audio

    for args, fragment in [(["--soundfont", tune.parent / "missing.sf2"], "soundfont not found"),
                           (["--synth", "organ"], "unknown synthesizer")]:
        code, _, err = run_cli(["transfer", tune, "--style", "bach", "--base", adapted_run, "--wav", *args], capsys)
        assert_one_line_error(code, err, fragment)
    monkeypatch.setattr(audio, "tinysoundfont", None)
    code, _, err = run_cli(["transfer", tune, "--style", "bach", "--base", adapted_run, "--wav"], capsys)
    assert_one_line_error(code, err, "pip install --no-deps tinysoundfont")
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    code, _, err = run_cli(["transfer", tune, "--style", "bach", "--base", adapted_run, "--wav", "--synth", "fluidsynth"],
                           capsys)
    assert_one_line_error(code, err, "fluidsynth program")
    assert written(tune.parent) == {"tune.mid"}


def test_every_output_file(adapted_run, tune, capsys):
    """MIDI, piano roll, score and engraving, and a WAV as long as the music plus its release."""
    import wave

    from symusic import Score

    from styletransfer.render.audio import RELEASE_SECONDS

    code, out, err = run_cli(["transfer", tune, "--style", "bach", "--base", adapted_run, "--candidates", "1",
                              "--wav"], capsys)
    assert code == 0, err
    files = {suffix: tune.parent / f"tune.bach{suffix}" for suffix in (".mid", ".png", ".musicxml", ".svg", ".wav")}
    for suffix, path in files.items():
        assert path.exists() and path.name in out, suffix
    music = Score(str(files[".mid"])).to("second").end()
    with wave.open(str(files[".wav"])) as w:
        assert w.getnframes() / w.getframerate() == pytest.approx(music + RELEASE_SECONDS, abs=0.01)
        assert w.getnchannels() == 2
    assert '<svg' in files[".svg"].read_text()


def test_melody_warnings_are_one_yellow_line_each(adapted_run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    tune_score(extra_track=True).dump_midi(str(tmp_path / "duet.mid"))
    use_console(monkeypatch, width=250, force_terminal=True, color_system="standard")
    code, out, err = run_cli(["transfer", "duet.mid", "--style", "bach", "--base", adapted_run, "--candidates", "2"],
                             capsys)
    assert code == 0, err
    lines = [line for line in out.splitlines() if "warning:" in line]
    assert len(lines) == 1 and "taking track 0" in lines[0] and "\x1b[33m" in lines[0]
    # --track 1 takes the bass, as asked, without a word
    code, out, err = run_cli(["transfer", "duet.mid", "--style", "bach", "--base", adapted_run, "--candidates", "2",
                              "--track", "1", "--out", "bass.mid"], capsys)
    assert code == 0, err and "warning:" not in out
    assert min(p for _, _, p in midi_notes(Score("bass.mid").tracks[0])) < 50


def test_the_console_script_fails_in_one_line(tmp_path):
    """As a user runs it: exit status 2, one line on stderr, no traceback."""
    exe = shutil.which("mst", path=os.path.dirname(sys.executable)) or shutil.which("mst")
    cmd = [exe] if exe else [sys.executable, "-m", "styletransfer"]
    proc = subprocess.run([*cmd, "transfer", "missing.mid", "--style", "bach"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300, env=dict(os.environ, COLUMNS="200"))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["mst: error: file not found: missing.mid"]
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ quickstart


def test_quickstart_end_to_end_on_a_tiny_recipe(style_data, tmp_path, monkeypatch, capsys):
    """Every step for real (tiny recipe, a few steps): prepare -> pretrain -> finetune -> transfer, in order."""
    recipe, _ = style_data
    monkeypatch.chdir(tmp_path)
    tune_score().dump_midi(str(tmp_path / "tune.mid"))
    work = tmp_path / "qs"
    args = ["quickstart", "--workdir", work, "--steps", "6", "--melody", "tune.mid", "--composer", "bach",
            "--recipe", recipe, *sets("finetune.min_pieces=1", "data.workers=1")]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    order = [out.index(f"{k}/4 ") for k in (1, 2, 3, 4)]
    assert order == sorted(order)
    run = work / "runs" / "base"
    assert (work / "data" / "tokenizer.json").exists() and (run / "config.json").exists()
    assert (run / "adapters" / slug(BACH) / "adapter_config.json").exists()
    midi = work / "tune.bach.mid"
    assert midi.exists() and midi.with_suffix(".png").exists()
    assert midi_notes(Score(str(midi)).tracks[0]) == [(beats(on), beats(d), p) for on, d, p in TUNE]
    for path in (work / "data", run, run / "adapters" / slug(BACH), midi, midi.with_suffix(".png")):
        assert str(path) in out
    assert "quickstart done" in out

    # A second quickstart in the same folder refuses to clobber the run, before any work.
    before = snapshot(work)
    code, _, err = run_cli(args, capsys)
    assert_one_line_error(code, err, str(run), "--force")
    assert snapshot(work) == before


def test_quickstart_checks_its_arguments_before_any_work(tmp_path, monkeypatch, capsys):
    import styletransfer.quickstart as quickstart

    def no_prepare(*args, **kwargs):
        raise AssertionError("prepare must not run")

    monkeypatch.setattr(quickstart, "prepare", no_prepare)
    monkeypatch.chdir(tmp_path)
    tune_score().dump_midi(str(tmp_path / "t.mid"))
    for args, fragment in [
        (["--steps", "0"], "--steps"),
        (["--melody", "nowhere.mid"], "melody not found"),
        (["--composer", "Nobody At All", "--melody", str(bad_melody("drums", tmp_path))], "drums only"),
        (["--melody", "t.mid", "--set", "train.nope=1"], "unknown recipe key"),
    ]:
        code, _, err = run_cli(["quickstart", "--workdir", tmp_path / "w", *args], capsys)
        assert_one_line_error(code, err, fragment)
    code, _, err = run_cli(["quickstart", "--workdir", tmp_path / "w", "--melody", "t.mid", "--composer",
                            "Nobody At All"], capsys)
    assert_one_line_error(code, err, "Nobody At All")
    assert not (tmp_path / "w").exists()


def test_quickstart_runs_the_four_steps_in_order(tmp_path, monkeypatch, capsys):
    """With the step functions replaced: the default recipe, --steps, the workdir layout, the order."""
    import styletransfer.cli.quickstart as quickstart_cli
    import styletransfer.quickstart as quickstart
    from styletransfer.data.prepare import PrepareReport

    calls = []

    def prepare(data, *args, **kwargs):
        calls.append(("prepare", data.out, data.source))
        return PrepareReport(out=data.out, cached=False, seconds=1.0, vocab_size=2000)

    def pretrain(recipe, out, **kwargs):
        calls.append(("pretrain", str(out), recipe.train.max_steps, recipe.finetune.max_steps, kwargs.get("force")))
        out.mkdir(parents=True)
        recipe_path = out / "recipe.yaml"
        import yaml

        recipe_path.write_text(yaml.safe_dump(recipe.model_dump()))
        return {"eval_loss": 5.0, "seconds": 1.0}

    def finetune(recipe, base, composer, force=False):
        calls.append(("finetune", str(base), composer, recipe.finetune.max_steps))
        return {"adapter": str(base / "adapters" / slug(composer))}

    def transfer(request):
        calls.append(("transfer", request.melody.name, request.style, request.base, str(request.out)))

    monkeypatch.setattr(quickstart, "prepare", prepare)
    monkeypatch.setattr(quickstart, "pretrain", pretrain)
    monkeypatch.setattr(quickstart, "finetune", finetune)
    monkeypatch.setattr(quickstart_cli, "report_transfer", transfer)
    monkeypatch.chdir(tmp_path)
    tune_score().dump_midi(str(tmp_path / "t.mid"))
    code, out, err = run_cli(["quickstart", "--workdir", "w", "--steps", "90", "--melody", "t.mid"], capsys)
    assert code == 0, err
    run = os.path.join("w", "runs", "base")
    assert calls == [
        ("prepare", os.path.join("w", "data"), "music21"),
        ("pretrain", run, 90, 30, False),
        ("finetune", run, BACH, 30),
        ("transfer", "t.mid", slug(BACH), run, os.path.join("w", "t.bach.mid")),
    ]


def test_quickstart_help_states_the_trade_off(capsys):
    code, out, _ = run_cli(["quickstart", "--help"], capsys)
    assert code == 0
    assert "150" in out and "rough" in out


def test_a_style_sets_its_own_transfer_rules(adapted_run, tmp_path):
    """One adapter: its own recipe.yaml's transfer section governs (e.g. its hard rules); a blend or the
    base alone: the base's."""
    import yaml

    from styletransfer.transfer.pipeline import load_style

    run = copy_run(adapted_run, tmp_path / "run")
    recipe_path = run / "adapters" / slug(STYLED) / "recipe.yaml"
    raw = yaml.safe_load(recipe_path.read_text())
    raw.setdefault("transfer", {})["hard_rules"] = []
    raw["transfer"]["temperature"] = 0.8
    recipe_path.write_text(yaml.safe_dump(raw))
    styled = load_style(run, slug(STYLED)).recipe.transfer
    assert styled.hard_rules == [] and styled.temperature == 0.8
    for other in ("none", f"{slug(STYLED)}=0.5,bach=0.5"):
        base = load_style(run, other).recipe.transfer
        assert base.hard_rules == ["semitone_on_beat"] and base.temperature == 0.6


def test_redo_bars_keeps_every_other_bar_and_the_melody(adapted_run, tune, capsys):
    from styletransfer.tokens.bars import score_bar_ticks

    code, _, err = run_cli(["transfer", tune, "--style", "bach", "--base", adapted_run, "--candidates", "2",
                            "--out", "first.mid"], capsys)
    assert code == 0, err
    first = tune.parent / "first.mid"
    before = first.read_bytes()
    code, _, err = run_cli(["transfer", tune, "--style", "bach", "--base", adapted_run, "--candidates", "2",
                            "--seed", "7", "--keep", first, "--redo-bars", "2-3", "--out", "second.mid"], capsys)
    assert code == 0, err
    assert first.read_bytes() == before  # the kept file is only read
    old, new = Score(str(first)), Score(str(tune.parent / "second.mid"))
    ticks = score_bar_ticks(old)
    lo, hi = ticks[2], ticks[4]  # the tune starts on beat 3: bar 0 is its pickup

    def outside(score):
        return sorted((n.time, n.duration, n.pitch) for t in score.tracks for n in t.notes if not lo <= n.time < hi)

    assert outside(new) == outside(old) and len(outside(old)) > 0
    assert midi_notes(new.tracks[0]) == midi_notes(old.tracks[0])  # the melody, note for note
    melody = tune_score().tracks[0]
    assert sorted((n.time, n.pitch) for n in new.tracks[0].notes) == sorted((n.time, n.pitch) for n in melody.notes)
    for note in new.tracks[1].notes:  # nothing above the melody across both seams
        for m in new.tracks[0].notes:
            if m.time <= note.time < m.time + m.duration:
                assert note.pitch < m.pitch


def test_redo_bars_mistakes_are_one_line(adapted_run, tune, tmp_path, capsys):
    code, _, err = run_cli(["transfer", tune, "--style", "bach", "--base", adapted_run, "--candidates", "1",
                            "--out", "first.mid"], capsys)
    assert code == 0, err
    other = tmp_path / "other.mid"
    other_score = tune_score()
    other_score.tracks[0].notes[0].pitch += 1
    other_score.tracks.append(other_score.tracks[0].copy())
    other_score.dump_midi(str(other))
    base = ["transfer", tune, "--style", "bach", "--base", adapted_run, "--candidates", "1"]
    for args, fragment in [(["--redo-bars", "2-3"], "go together"),
                           (["--keep", "first.mid"], "go together"),
                           (["--keep", "first.mid", "--redo-bars", "three"], "FIRST-LAST"),
                           (["--keep", "first.mid", "--redo-bars", "3-2"], "before the first"),
                           (["--keep", "first.mid", "--redo-bars", "2-40"], "this melody has bars 0-"),
                           (["--keep", other, "--redo-bars", "2-3", "--out", "x.mid"], "not this melody"),
                           (["--keep", "first.mid", "--redo-bars", "2-3", "--out", "first.mid", "--force"],
                            "overwrite the kept file")]:
        code, _, err = run_cli([*base, *args], capsys)
        assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "x.mid").exists()


def test_redo_bar_numbers_are_the_scores():
    from styletransfer.errors import UserError
    from styletransfer.transfer.redo import plan_bars

    def melody(first_beat: int) -> Score:
        score = Score(TPQ)
        score.tracks.append(Track("Tune"))
        score.tracks[0].notes.extend(Note(beats(b), beats(1), 60, 80) for b in range(first_beat, 12))
        score.time_signatures.append(TimeSignature(0, 4, 4))
        return score

    assert plan_bars(melody(0), 1, 2, n_bars=3) == (0, 2)  # no pickup: the first bar is bar 1
    assert plan_bars(melody(0), 3, 3, n_bars=3) == (2, 3)
    assert plan_bars(melody(2), 0, 1, n_bars=3) == (0, 2)  # a pickup is bar 0
    assert plan_bars(melody(6), 1, 1, n_bars=3) == (2, 3)  # an empty bar before the music is not counted
    with pytest.raises(UserError, match="bars 1-3"):
        plan_bars(melody(0), 0, 1, n_bars=3)


def test_out_naming_a_folder_is_one_line_even_with_force(adapted_run, tune, capsys):
    (tune.parent / "results").mkdir()
    (tune.parent / "results" / "mine.txt").write_text("keep me")
    for extra in ([], ["--force"]):
        code, _, err = run_cli(["transfer", tune, "--style", "bach", "--base", adapted_run, "--out", "results",
                                *extra], capsys)
        assert_one_line_error(code, err, "is a folder")
    assert (tune.parent / "results" / "mine.txt").read_text() == "keep me"


def test_a_piano_style_writes_one_accompaniment_part_and_says_why(adapted_run, tune, capsys):
    """The fixture's Scarlatti pieces are in one track: his style is the melody and one accompaniment part."""
    code, out, err = run_cli(["transfer", tune, "--style", slug(STYLED), "--base", adapted_run, "--candidates", "2"],
                             capsys)
    assert code == 0, err
    score = Score(str(tune.parent / f"tune.{slug(STYLED)}.mid"))
    assert [t.name for t in score.tracks] == ["Melody", "Accompaniment"]
    assert "one accompaniment part under the melody: its training pieces are not written in parts" in out
    assert "melody staff + piano grand staff" in out


def test_the_score_layout_can_be_chosen_and_a_bad_one_is_one_line(adapted_run, tune, capsys):
    from music21 import converter

    base = ["transfer", tune, "--style", "bach", "--base", adapted_run, "--candidates", "2", "--force"]
    for layout, staves in (("open", 4), ("piano", 3), ("chorale", 2)):
        code, out, err = run_cli([*base, "--score", layout], capsys)
        assert code == 0, err
        parsed = converter.parse(str(tune.parent / "tune.bach.musicxml"))
        assert len(parsed.parts) == staves
    before = snapshot(tune.parent)
    code, _, err = run_cli([*base, "--score", "hymnal"], capsys)
    assert_one_line_error(code, err, "--score hymnal", "chorale, open")
    assert snapshot(tune.parent) == before  # refused before any work


def test_a_melody_below_its_style_s_soprano_is_harmonized_where_the_parts_fit_and_said_so(adapted_run, tmp_path,
                                                                                        capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    low = tune_score()
    low = low.shift_pitch(-24)  # the tune two octaves down, in the bass's register
    low.dump_midi(str(tmp_path / "low.mid"))
    code, out, err = run_cli(["transfer", "low.mid", "--style", "bach", "--base", adapted_run, "--candidates", "2",
                              "--set", "transfer.key_normalize=false"], capsys)
    assert code == 0, err
    assert "lies below the range of this style's soprano" in out and "higher and moved back" in out
    score = Score(str(tmp_path / "low.bach.mid"))
    assert [(n.time, n.pitch) for n in score.tracks[0].notes] == [(beats(on), p - 24) for on, _, p in TUNE]
    for track in list(score.tracks)[1:]:  # the parts were written under it, and moved back with it
        assert all(n.pitch < max(p - 24 for _, _, p in TUNE) for n in track.notes)
