"""`mst generate`: unconditional samples in a composer's style from a base run and its adapters."""
from __future__ import annotations

import pytest
from symusic import Score

from support.train import BACH, STYLED, assert_one_line_error, run_cli
from styletransfer.model.runs import slug
from styletransfer.tokens import tokenizer as tk



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


@pytest.mark.parametrize("parts", [True, False])
def test_the_note_grammar_lets_through_only_whole_notes(parts):
    """``mst generate``'s constraint: from a random model, every sampled Pitch decodes to a note."""
    import torch

    from styletransfer.tokens.grammar import K_PITCH, decode_base
    from styletransfer.transfer.note_grammar import NoteGrammar
    from styletransfer.transfer.sampler import Sampling, sample
    from support.transfer import bpe_tokenizer, tiny_model

    tok = bpe_tokenizer(parts=parts)
    g = tok.grammar
    bos, eos = tk.special_id(tok, "BOS"), tk.special_id(tok, "EOS")
    rows = sample(tiny_model(tok), [[bos]] * 4, 200, sampling=Sampling(1.5, 0, 1.0), seed=3, eos_id=eos,
                  constraint=NoteGrammar(g, [[bos]] * 4))
    for row in rows:
        base = [b for i in row if i != eos for b in g.expansions[i]]
        pitches = sum(1 for b in base if g.kind[b] == K_PITCH)
        unfinished = pitches - len(decode_base(g, base).notes)
        assert pitches and unfinished <= (row[-1] != eos)  # only the budget may end a row inside its last note
    torch.manual_seed(0)
    unconstrained = sample(tiny_model(tok), [[bos]] * 4, 200, sampling=Sampling(1.5, 0, 1.0), seed=3, eos_id=eos)
    lost = [sum(1 for i in row if i != eos for b in g.expansions[i] if g.kind[b] == K_PITCH)
            - len(decode_base(g, [b for i in row if i != eos for b in g.expansions[i]]).notes) for row in unconstrained]
    assert any(n > 1 for n in lost)  # without it, a random model writes pitches that decode to nothing
