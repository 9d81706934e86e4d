"""Helpers of the training, finetuning and generation tests: the tiny model and loop settings, `mst` run
in-process, one-line errors, folder snapshots, Alberti-bass pieces and run copies. The session's runs they
build on (``style_data``, ``base_run``, ``adapted_run``) are fixtures in tests/conftest.py."""
from __future__ import annotations

import random
import shutil
from pathlib import Path

from symusic import Note, Score, Tempo, TimeSignature, Track

from styletransfer import cli

from .scores import QPM, TPQ, beats

# The model and loop settings every training test uses: small enough for two busy cores.
TINY = ["model.arch=llama", "model.n_layer=2", "model.n_head=2", "model.n_embd=32", "model.context=64",
        "train.batch_size=4", "train.grad_accum=1", "train.threads=1", "train.warmup_steps=2", "train.eval_batches=2",
        "train.pair_ratio=0.5", "train.seed=0",
        "sample.top_p=1.0"]  # the sampling the tests were written for (default.yaml: 0.95)
BASE_STEPS = 160
BACH = "Johann Sebastian Bach"  # 3 training pieces (one a joint work), 1 validation piece in the fixture
STYLED = "Domenico Scarlatti"  # style_data's composer with a style: 3 training pieces, 1 validation piece
ADAPTER_SETS = ["finetune.max_steps=40", "finetune.lr=0.01", "finetune.min_pieces=1", "finetune.lora_dropout=0.0"]
STYLED_STEPS = 80  # with lr 0.01: the adapter lowers his validation loss by ~0.2 nats (0.12 with 40 steps)


def sets(*overrides: str) -> list[str]:
    """``--set`` arguments for the tiny recipe plus ``overrides``."""
    out = []
    for item in [*TINY, *overrides]:
        out += ["--set", item]
    return out


def call_mst(args) -> int:
    """cli.main in-process; returns the exit status (typer exits 0 on success)."""
    try:
        cli.main([str(a) for a in args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def run_cli(args, capsys) -> tuple[int, str, str]:
    """cli.main in-process with captured output: (exit status, stdout, stderr)."""
    capsys.readouterr()
    code = call_mst(args)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> str:
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("mst: error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """relative path -> (size, mtime_ns) of every file under ``folder``."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def alberti_piece(seed: int, bars: int = 4, root: int = 60) -> Score:
    """Eighth-note Alberti bass (low, high, middle, high) under a half-note melody, fixed velocities."""
    rng = random.Random(seed)
    score = Score(TPQ)
    track = Track("Piano", program=0, is_drum=False)
    for bar in range(bars):
        base = root + rng.choice((0, 5, 7, -5))
        for k, offset in enumerate((0, 7, 4, 7) * 2):
            track.notes.append(Note(beats(bar * 4 + k * 0.5), beats(0.5), base - 12 + offset, 79))
        for k in range(2):
            track.notes.append(Note(beats(bar * 4 + k * 2), beats(2), base + 12 + rng.choice((0, 4, 7)), 95))
    score.tracks.append(track)
    score.tempos.append(Tempo(0, QPM))
    score.time_signatures.append(TimeSignature(0, 4, 4))
    return score


def copy_run(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest, ignore=shutil.ignore_patterns("checkpoints"))
    return dest
