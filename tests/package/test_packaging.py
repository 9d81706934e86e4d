"""The wheel: the recipes and the shipped model inside the package; the bundled data, the tests and the
other folders of the repository outside. Then the package installed from it, run away from the checkout."""
from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "styletransfer"
SHIPPED = "styletransfer/pretrained/default"
# Not copied for the build: ignored or generated at the top of a checkout (venvs, runs, caches, builds,
# the prepared data). Everything else, tests/, bench/, data/music21 and all, goes in, as in a checkout.
SKIP_AT_TOP = {"runs", "build", "dist", "quickstart"}


def _copy_ignore(folder: str, names: list[str]) -> set[str]:
    skip = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".egg-info"))}
    if Path(folder) == ROOT:
        skip |= {n for n in names if n.startswith(".") or n in SKIP_AT_TOP}
    if Path(folder) == ROOT / "data":
        skip.add("prepared")
    return skip


def _build_isolation_flags() -> list[str]:
    """Build with the installed setuptools when it is recent enough (offline, quicker), else as
    `pip install` does, in an isolated environment from the package index."""
    needed = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    try:
        from packaging.requirements import Requirement

        have = importlib.metadata.version("setuptools")
        if all(Requirement(r).specifier.contains(have) for r in needed if Requirement(r).name == "setuptools"):
            return ["--no-build-isolation"]
    except (ImportError, importlib.metadata.PackageNotFoundError):
        pass
    return []


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # A copy of the working tree: an in-place build would leave build/ and egg-info in the checkout.
    src = tmp_path_factory.mktemp("src") / "mst"
    shutil.copytree(ROOT, src, ignore=_copy_ignore)
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(out),
                           *_build_isolation_flags()], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (found,) = out.glob("mst-*.whl")
    return found


def test_the_wheel_holds_the_package_its_recipes_and_the_shipped_model(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    # nothing at the top but the package and its metadata: no recipes/, tests/, bench/, data/, scripts/
    top = {name.split("/")[0] for name in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert top - dist_info == {"styletransfer"} and len(dist_info) == 1, sorted(top)
    assert "mst = styletransfer.cli:main" in zipfile.ZipFile(wheel).read(f"{dist_info.pop()}/entry_points.txt").decode()
    # every module of every subpackage
    modules = {p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    assert modules <= names, sorted(modules - names)
    # the recipes (package data: the defaults live in default.yaml)
    assert {"styletransfer/recipes/default.yaml", "styletransfer/recipes/maestro.yaml"} <= names
    # the shipped model: base and every adapter
    assert {f"{SHIPPED}/{f}" for f in ("model.safetensors", "config.json", "tokenizer.json", "recipe.yaml",
                                       "texture.json")} <= names
    adapters = [p.name for p in (ROOT / SHIPPED / "adapters").iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert "johann-sebastian-bach" in adapters
    for name in adapters:
        assert {f"{SHIPPED}/adapters/{name}/{f}" for f in ("adapter_model.safetensors", "adapter_config.json",
                                                           "texture.json")} <= names  # the style's parts
    # no caches, no adapter working folders, none of the bundled corpus or melodies (they stay in the repository)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/." in n]
    assert not [n for n in names if n.lower().endswith((".mid", ".midi", ".mxl", ".musicxml", ".krn", ".abc"))]


def test_installed_from_the_wheel_it_runs_away_from_the_checkout(wheel, tmp_path):
    """The wheel's files only (dependencies from this environment), in a folder that is not a checkout."""
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
                           str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(target), COLUMNS="250", NO_COLOR="1")
    check = textwrap.dedent(f"""
        from pathlib import Path
        import styletransfer.config as config
        from styletransfer.model.runs import SHIPPED
        assert Path(config.__file__).is_relative_to({str(target)!r}), config.__file__
        assert config.CHECKOUT is None
        assert config.load_recipe(None) == config.default_recipe() and config.default_recipe().name == "default"
        assert config.load_recipe("maestro").model.arch == "gpt2"
        assert (SHIPPED / "model.safetensors").is_file() and (SHIPPED / "adapters" / "johann-sebastian-bach").is_dir()
        """)
    proc = subprocess.run([sys.executable, "-c", check], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the bundled corpus is not there: one line that says what to do
    proc = subprocess.run([sys.executable, "-m", "styletransfer", "data", "prepare"], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=120)
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("mst: error: data/music21: the bundled corpus ships with the mst repository")
    assert "run mst in a clone of the repository" in lines[0] and "data.path=" in lines[0]
