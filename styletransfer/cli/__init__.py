"""The `mst` command: one module per command group, each command thin (parse, call one function, print).

    cli/app.py         the typer app, shared options, the console
    cli/data.py        mst data prepare | composers
    cli/train.py       mst pretrain | finetune
    cli/generate.py    mst generate
    cli/transfer.py    mst transfer
    cli/quickstart.py  mst quickstart
    cli/hub.py         mst push | import-nanogpt
    cli/eval.py        mst eval transfer | perplexity | bach-chorales | style-judge train
    cli/studio.py      mst studio
"""
from __future__ import annotations

import atexit
import os
import sys
import warnings

from ..errors import UserError
from . import data, eval, generate, hub, quickstart, studio, train, transfer  # noqa: F401  (each adds its commands)
from .app import app


def _quiet_libraries() -> None:
    """Library deprecation chatter and weight-loading bars are not for our users."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str] | None = None) -> None:
    """Entry point: a mistake the user can make is one line on stderr and exit status 2."""
    _quiet_libraries()
    try:
        app(args=argv)
        code = 0
    except UserError as exc:
        print(f"mst: error: {exc}", file=sys.stderr)
        code = 2
    except SystemExit as exc:  # typer ends every command this way
        code = exc.code
    _leave_process_group()
    if argv is None and int(os.environ.get("WORLD_SIZE", "1")) == 1 and isinstance(code, int):
        _exit_now(code)
    sys.exit(code)


def _leave_process_group() -> None:
    """Under torchrun, close the process group the Trainer opened before the interpreter ends: left to
    exit, gloo's threads can abort a rank ("terminate called without an active exception") after
    training has finished. torch is not imported for commands that never loaded it."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def _exit_now(code: int) -> None:
    """Exit without Python's module teardown: once torch and transformers are loaded it costs ~1.5 s,
    15% of a transfer. Every output is written and closed by now (atomic writes); exit handlers still run
    and the streams are flushed. Only for the console script, single process (tests call main(argv))."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
