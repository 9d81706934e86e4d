"""`mst generate`: unconditional samples in a composer's style from a base run and its adapters."""
from __future__ import annotations

from symusic import Score

from support.train import BACH, STYLED, assert_one_line_error, run_cli
from styletransfer.model.runs import slug



def bars_of(score: Score) -> int:
    from miditok.utils import get_bars_ticks

    return len(get_bars_ticks(score))


def test_generate_writes_a_midi_and_refuses_to_overwrite(adapted_run, tmp_path, capsys):
    out = tmp_path / "x.mid"
    args = ["generate", "--style", slug(STYLED), "--base", adapted_run, "--bars", "4", "--out", out]
    code, stdout, err = run_cli(args, capsys)
    assert code == 0, err
    assert f"wrote {out}" in stdout
    score = Score(str(out))
    assert score.note_num() > 0
    assert 1 <= bars_of(score) <= 4
    first = out.read_bytes()

    code, _, err = run_cli(args, capsys)
    assert_one_line_error(code, err, str(out), "--force")
    assert out.read_bytes() == first

    code, _, err = run_cli([*args, "--force", "--set", "sample.seed=1"], capsys)
    assert code == 0, err
    assert Score(str(out)).note_num() > 0 and out.read_bytes() != first  # another seed, another sample


def test_generate_finds_styles_by_name_and_writes_n_files(adapted_run, tmp_path, capsys):
    out = tmp_path / "s.mid"
    code, stdout, err = run_cli(["generate", "--style", "scarlatti", "--base", adapted_run, "--bars", "2",
                                 "--out", out, "--n", "2"], capsys)
    assert code == 0, err
    for i in (1, 2):
        path = tmp_path / f"s-{i}.mid"
        assert f"wrote {path}" in stdout and Score(str(path)).note_num() > 0
    assert not out.exists()
    # The base alone ('none') samples differently from the styled model with the same seed.
    code, _, err = run_cli(["generate", "--style", "none", "--base", adapted_run, "--bars", "2",
                            "--out", tmp_path / "plain.mid"], capsys)
    assert code == 0, err
    assert (tmp_path / "plain.mid").read_bytes() != (tmp_path / "s-1.mid").read_bytes()


def test_unknown_style_lists_the_adapters(adapted_run, base_run, tmp_path, capsys):
    code, _, err = run_cli(["generate", "--style", "Wolfgang Amadeus Mozart", "--base", adapted_run,
                            "--out", tmp_path / "m.mid"], capsys)
    line = assert_one_line_error(code, err, "unknown style 'Wolfgang Amadeus Mozart'", slug(BACH), slug(STYLED))
    assert str(adapted_run) in line
    code, _, err = run_cli(["generate", "--style", "bach", "--base", base_run, "--out", tmp_path / "b.mid"], capsys)
    assert_one_line_error(code, err, "unknown style 'bach'", "mst finetune")
    assert not any(tmp_path.iterdir())


def test_generate_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    code, _, err = run_cli(["generate", "--base", tmp_path, "--out", tmp_path / "x.mid"], capsys)
    assert_one_line_error(code, err, "is not an mst run")
