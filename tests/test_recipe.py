"""Recipes: strict keys, --set overrides, and the resolved recipe written beside an output."""
from __future__ import annotations

import pytest
import yaml

from styletransfer.errors import UserError
from styletransfer.config import DEFAULT_RECIPE, RECIPES_DIR, Recipe, load_recipe, parse_override, recipe_from_dict, save_recipe


def write(tmp_path, data, name="r.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def test_shipped_recipes_load():
    default = load_recipe(None)
    assert default.name == "default"
    assert default.data.source == "music21"
    assert default.data.augment.pitch_offsets == [-2, 2]
    maestro = load_recipe("maestro")  # a shipped name, without path or suffix
    assert maestro.data.source == "maestro"
    assert maestro.data.bpe_vocab_size == 30000
    assert len(maestro.data.augment.pitch_offsets) == 24 and 0 not in maestro.data.augment.pitch_offsets
    assert (RECIPES_DIR / "default.yaml") == DEFAULT_RECIPE


def test_tiny_recipe_fixture(tiny_recipe, maestro_dir):
    r = load_recipe(tiny_recipe)
    assert r.data.path == str(maestro_dir)
    assert r.data.bpe_vocab_size == 400
    assert r.data.augment.pitch_offsets == [-2, 2]
    assert r.model.n_embd == 32  # sections a recipe leaves out keep their defaults
    assert r.train.lr == Recipe().train.lr


@pytest.mark.parametrize("data, key", [
    ({"data": {"bpe_vocab": 100}}, "data.bpe_vocab"),
    ({"modle": {"n_layer": 2}}, "modle"),
    ({"data": {"augment": {"pitch_offset": [1]}}}, "data.augment.pitch_offset"),
    ({"train": {"max_steps": 5, "learning_rate": 0.1}}, "train.learning_rate"),
])
def test_unknown_key_is_an_error_naming_it(tmp_path, data, key):
    path = write(tmp_path, data)
    with pytest.raises(UserError) as exc:
        load_recipe(path)
    message = str(exc.value)
    assert f"unknown recipe key '{key}'" in message
    assert str(path) in message
    assert "\n" not in message


@pytest.mark.parametrize("data, key", [
    ({"data": {"bpe_vocab_size": "many"}}, "data.bpe_vocab_size"),
    ({"data": {"bpe_vocab_size": -1}}, "data.bpe_vocab_size"),
    ({"data": {"source": "spotify"}}, "data.source"),
    ({"model": {"n_embd": 100, "n_head": 3}}, "model"),
])
def test_bad_value_is_an_error_naming_it(tmp_path, data, key):
    with pytest.raises(UserError, match=f"bad value for '{key}'"):
        load_recipe(write(tmp_path, data))


def test_not_yaml_or_not_a_mapping(tmp_path):
    with pytest.raises(UserError, match="not valid YAML"):
        load_recipe(write(tmp_path, "data: [unclosed\n"))
    with pytest.raises(UserError, match="mapping of sections"):
        load_recipe(write(tmp_path, "- a\n- b\n"))


def test_missing_recipe_names_the_shipped_ones(tmp_path):
    with pytest.raises(UserError) as exc:
        load_recipe(tmp_path / "nope.yaml")
    assert "recipe not found" in str(exc.value)
    assert "default" in str(exc.value) and "maestro" in str(exc.value)


def test_parse_override_reads_values_as_yaml():
    assert parse_override("train.lr=0.5") == (["train", "lr"], 0.5)
    assert parse_override("train.max_steps=10") == (["train", "max_steps"], 10)
    assert parse_override("finetune.target_modules=[q_proj]") == (["finetune", "target_modules"], ["q_proj"])
    assert parse_override("data.augment.pitch_offsets=[-1, 1]") == (["data", "augment", "pitch_offsets"], [-1, 1])
    assert parse_override("data.path=/a/b=c") == (["data", "path"], "/a/b=c")
    assert parse_override("name=") == (["name"], "")
    for bad in ("train.lr", "=3"):
        with pytest.raises(UserError, match="section.key=value"):
            parse_override(bad)


def test_set_overrides(tiny_recipe, tmp_path):
    r = load_recipe(tiny_recipe, ["data.bpe_vocab_size=123", "train.lr=3e-4", "model.n_layer=3",
                                  "data.augment.pitch_offsets=[-1, 1, 5]", f"data.out={tmp_path / 'o'}"])
    assert r.data.bpe_vocab_size == 123
    assert r.train.lr == pytest.approx(3e-4)
    assert r.model.n_layer == 3
    assert r.data.augment.pitch_offsets == [-1, 1, 5]
    assert r.data.out == str(tmp_path / "o")
    # later overrides win, untouched keys keep the file's values
    r2 = load_recipe(tiny_recipe, ["data.bpe_vocab_size=10", "data.bpe_vocab_size=20"])
    assert r2.data.bpe_vocab_size == 20
    assert r2.data.augment.pitch_offsets == [-2, 2]
    # overrides on the default recipe reach sections the YAML file lists
    assert load_recipe(None, ["finetune.lora_r=4"]).finetune.lora_r == 4


@pytest.mark.parametrize("override, expected", [
    ("data.bpe_vocab=3", "unknown recipe key 'data.bpe_vocab'"),
    ("dtaa.path=x", "unknown recipe key 'dtaa'"),
    ("train.lr=fast", "bad value for 'train.lr'"),
    ("data.bpe_vocab_size.x=1", "'bpe_vocab_size' is not a section"),
])
def test_bad_override_is_an_error_naming_it(tiny_recipe, override, expected):
    with pytest.raises(UserError) as exc:
        load_recipe(tiny_recipe, [override])
    assert expected in str(exc.value)
    assert override in str(exc.value)


def test_saved_recipe_round_trips(tiny_recipe, tmp_path):
    r = load_recipe(tiny_recipe, ["train.max_steps=7", "data.augment.velocity_offsets=[-4, 4]"])
    path = save_recipe(r, tmp_path / "run")
    assert path == tmp_path / "run" / "recipe.yaml"
    assert not [p for p in path.parent.iterdir() if p.name != "recipe.yaml"]  # no temporary left behind
    raw = yaml.safe_load(path.read_text())
    assert raw["train"]["max_steps"] == 7
    assert set(raw) == {"name", "data", "model", "train", "finetune", "sample", "transfer"}  # resolved: every section
    again = load_recipe(path)
    assert again == r
    assert recipe_from_dict(raw) == r


def test_recipe_from_dict_rejects_unknown_keys():
    with pytest.raises(UserError, match="unknown recipe key 'sample.temp'"):
        recipe_from_dict({"sample": {"temp": 0.5}}, source="checkpoint")
