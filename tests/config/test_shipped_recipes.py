"""Every recipe that ships (the package's recipes, the shipped base's and each adapter's recipe.yaml) reads
through the schema, and its search weighs only what the analysis counts."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import styletransfer.config as config
from styletransfer.analysis.cadences import KINDS as CADENCE_KINDS
from styletransfer.analysis.theory import FAULT_KINDS, fault_counts
from styletransfer.config import RECIPES_DIR, load_recipe, recipe_from_dict
from styletransfer.errors import UserError
from styletransfer.transfer.faults import Teacher

SHIPPED_RUN = Path(config.__file__).parent / "pretrained" / "default"
RECIPE_FILES = sorted(RECIPES_DIR.glob("*.yaml")) + [SHIPPED_RUN / "recipe.yaml"] + sorted(
    SHIPPED_RUN.glob("adapters/*/recipe.yaml"))


def test_the_shipped_files_are_found():
    names = {p.parent.name if p.name == "recipe.yaml" else p.stem for p in RECIPE_FILES}
    assert {"default", "maestro", "johann-sebastian-bach", "giovanni-pierluigi-da-palestrina"} <= names


@pytest.mark.parametrize("path", RECIPE_FILES, ids=lambda p: str(p.relative_to(p.parents[2])))
def test_every_shipped_recipe_reads_through_the_schema(path):
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    recipe = load_recipe(path) if path.parent == RECIPES_DIR else recipe_from_dict(raw, str(path))
    search = recipe.transfer.search
    # every weight it writes down (not only the ones read over default.yaml) names a fault the analysis counts
    written = (raw.get("transfer") or {}).get("search", {}).get("fault_weights", {}) or {}
    assert set(written) <= set(FAULT_KINDS), f"{path}: {sorted(set(written) - set(FAULT_KINDS))}"
    assert set(search.fault_weights.model_dump()) == set(FAULT_KINDS)
    assert set(search.cadence_faults.model_dump()) == set(CADENCE_KINDS)


def _chorale_bar() -> tuple[np.ndarray, np.ndarray]:
    """A soprano and three voices under it with a parallel octave (bass and soprano C-D)."""
    mel = np.array([[0, 1, 72], [1, 2, 74], [2, 3, 76], [3, 4, 72]], float)
    acc = np.array([[0, 1, 48], [1, 2, 50], [2, 3, 48], [3, 4, 48],
                    [0, 1, 64], [1, 2, 65], [2, 3, 67], [3, 4, 64],
                    [0, 1, 55], [1, 2, 57], [2, 3, 55], [3, 4, 55]], float)
    return mel, acc


def test_the_analysis_counts_every_fault_kind():
    mel, acc = _chorale_bar()
    counts = fault_counts(mel, acc, 1.0, ((0.0, 4, 4),), (0, "major"), parts=4)
    assert list(counts) == list(FAULT_KINDS)
    assert counts["parallels_melody_bass"] >= 1  # C-D in soprano and bass, an octave apart


def test_a_fault_weight_the_analysis_does_not_count_is_refused():
    with pytest.raises(UserError, match="fault_weights"):
        load_recipe(None, ["transfer.search.fault_weights.parallel_fifths=1"])
    settings = load_recipe(None).transfer.search  # past the schema, the teacher refuses it too
    bad = settings.model_copy(update={"fault_weights": _Weights({**settings.fault_weights.model_dump(),
                                                                 "parallel_fifths": 1.0})})
    with pytest.raises(ValueError, match="parallel_fifths"):
        Teacher(bad, _Plan(), _Grammar(), 1.0, ((0.0, 4, 4),), None, 4)


class _Weights:
    """Fault weights as a mapping the schema would not allow."""

    def __init__(self, weights: dict):
        self.weights = weights

    def model_dump(self) -> dict:
        return dict(self.weights)


class _Plan:
    notes: list = []


class _Grammar:
    tpq = 8
