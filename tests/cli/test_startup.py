"""`mst --help` answers at once: the CLI's modules import none of the heavy libraries (each command imports
what it needs when it runs), so asking for help does not wait seconds for torch or music21."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = {"torch", "music21", "transformers", "miditok", "gradio", "pandas"}

# `mst ARGS` as the console script runs it (main() with no argv, so it ends through its own exit path);
# the modules loaded by then are printed on stderr at exit, after the help on stdout.
PROBE = """
import atexit, json, sys
atexit.register(lambda: print("MODULES " + json.dumps(sorted(sys.modules)), file=sys.stderr))
from styletransfer.cli import main
sys.argv = ["mst", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize("args", [["--help"], ["transfer", "--help"], ["eval", "--help"]], ids=" ".join)
def test_help_imports_no_heavy_library(args):
    run = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Usage" in run.stdout
    line = next(line for line in run.stderr.splitlines() if line.startswith("MODULES "))
    loaded = {name.split(".")[0] for name in json.loads(line.removeprefix("MODULES "))}
    assert not loaded & HEAVY, f"mst {' '.join(args)} imported {sorted(loaded & HEAVY)}"
