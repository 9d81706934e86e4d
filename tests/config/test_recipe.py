"""Recipes: defaults in the shipped default recipe only, strict keys, --set overrides, and the resolved
recipe written beside an output; data paths for the bundled data."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import styletransfer.config as config
from styletransfer.errors import UserError
from styletransfer.config import (DEFAULT_RECIPE, RECIPES_DIR, ModelConfig, Recipe, Section, default_recipe, load_recipe,
                                  parse_override, recipe_from_dict, resolve_data_path, save_recipe)

SHIPPED_RUN = Path(config.__file__).parent / "pretrained" / "default"


def write(tmp_path, data, name="r.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def test_shipped_recipes_load():
    default = load_recipe(None)
    assert default.name == "default"
    assert default.data.source == "music21"
    assert default.data.augment.pitch_offsets == [-12, 12] and default.data.key_normalize and default.transfer.key_normalize
    maestro = load_recipe("maestro")  # a shipped name, without path or suffix
    assert maestro.data.source == "maestro"
    assert maestro.data.bpe_vocab_size == 30000
    assert len(maestro.data.augment.pitch_offsets) == 24 and 0 not in maestro.data.augment.pitch_offsets
    assert not maestro.data.key_normalize  # the original project's configuration: every key, by augmentation
    assert (RECIPES_DIR / "default.yaml") == DEFAULT_RECIPE
    assert RECIPES_DIR == Path(config.__file__).parent / "recipes"  # package data, not the checkout's


def schema_keys(model: type[Section], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, Section):
            keys |= schema_keys(field.annotation, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def yaml_keys(raw: dict, prefix: str = "") -> set[str]:
    keys = set()
    for name, value in raw.items():
        keys |= yaml_keys(value, f"{prefix}{name}.") if isinstance(value, dict) else {prefix + name}
    return keys


def test_defaults_live_in_the_default_recipe_only():
    # the schema holds types and bounds, no default: every field of every section is required ...
    for section in [Recipe, *Section.__subclasses__()]:
        for name, field in section.model_fields.items():
            assert field.is_required(), f"{section.__name__}.{name} has a default in the schema"
    # ... and default.yaml states every key (maestro.yaml too: it pins the original setup)
    for name in ("default", "maestro"):
        raw = yaml.safe_load((RECIPES_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
        assert yaml_keys(raw) == schema_keys(Recipe), name
    assert default_recipe() == load_recipe(None) == Recipe()
    assert default_recipe().model == ModelConfig()


def test_default_recipe_is_a_fresh_copy():
    first = default_recipe()
    first.model.n_layer = 9
    first.data.augment.pitch_offsets.append(7)
    assert default_recipe().model.n_layer == 4
    assert default_recipe().data.augment.pitch_offsets == [-12, 12]


def test_a_recipe_states_only_what_differs(tmp_path):
    default = default_recipe().model_dump()
    r = load_recipe(write(tmp_path, {"train": {"max_steps": 7}, "data": {"augment": {"pitch_offsets": [1]}}}))
    expected = default
    expected["train"]["max_steps"] = 7
    expected["data"]["augment"]["pitch_offsets"] = [1]  # a deep merge: the other offsets keep default.yaml's
    assert r.model_dump() == expected
    assert recipe_from_dict({"train": {"max_steps": 7}, "data": {"augment": {"pitch_offsets": [1]}}}) == r
    # the values the old schema defaults disagreed on come from default.yaml
    assert (r.train.batch_size, r.train.warmup_steps, r.sample.top_p) == (16, 40, 0.95)
    # sections built in code take default.yaml's values for the keys they leave out
    assert ModelConfig(n_layer=2).model_dump() == {**default["model"], "n_layer": 2}
    assert Recipe(name="x", model=ModelConfig(n_layer=2)).train == default_recipe().train
    # overrides reach keys the recipe leaves out, and still tell a value from a section
    r = load_recipe(write(tmp_path, {"name": "mine"}), ["transfer.top_p=0.5", "data.augment.velocity_offsets=[1]"])
    assert (r.name, r.transfer.top_p, r.data.augment.velocity_offsets, r.data.augment.pitch_offsets) == ("mine", 0.5, [1], [-12, 12])
    with pytest.raises(UserError, match="'bpe_vocab_size' is not a section"):
        load_recipe(write(tmp_path, {"name": "mine"}), ["data.bpe_vocab_size.x=1"])


OLD_SHIPPED_RECIPE = """name: default
data:
  source: music21
  path: data/music21
  out: data/prepared/music21
  bpe_vocab_size: 2000
  augment:
    pitch_offsets:
    - -2
    - 2
    velocity_offsets:
    - -4
    - 4
    duration_offsets: []
  workers: 0
model:
  arch: llama
  n_layer: 4
  n_head: 4
  n_embd: 256
  context: 256
  dropout: 0.0
train:
  max_steps: 2000
  batch_size: 64
  grad_accum: 1
  lr: 0.001
  min_lr: 0.0001
  warmup_steps: 100
  weight_decay: 0.1
  eval_interval: 500
  eval_batches: 20
  save_interval: 500
  pair_ratio: 0.5
  seed: 0
  threads: 0
finetune:
  lora_r: 8
  lora_alpha: 16
  lora_dropout: 0.05
  target_modules:
  - q_proj
  - k_proj
  - v_proj
  - o_proj
  max_steps: 300
  lr: 0.001
  min_pieces: 5
sample:
  temperature: 1.0
  top_k: 0
  top_p: 0.95
  seed: 0
"""  # the recipe.yaml of the model shipped before the retraining


def test_an_old_saved_recipe_loads_as_before(tmp_path):
    # A run's recipe that predates the transfer section and data.tokenizer: they take the values the schema
    # defaulted to when it was saved (and, saved before data.key_normalize, it was trained in every key).
    path = tmp_path / "recipe.yaml"
    path.write_text(OLD_SHIPPED_RECIPE, encoding="utf-8")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert "transfer" not in raw and "tokenizer" not in raw["data"]
    for r in (load_recipe(path), recipe_from_dict(raw)):
        kept = {k: v for k, v in r.transfer.model_dump().items() if k in ("temperature", "top_k", "top_p", "harmony_weight")}
        assert kept == {"temperature": 0.6, "top_k": 0, "top_p": 0.9, "harmony_weight": 1.0}
        assert r.transfer == default_recipe().transfer  # the keys added since (search, rules) come from default.yaml
        assert r.data.tokenizer is None
        assert (r.train.max_steps, r.train.batch_size, r.data.augment.velocity_offsets) == (2000, 64, [-4, 4])  # its own


def test_old_recipes_path_still_names_the_shipped_recipe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_recipe("recipes/default.yaml") == load_recipe(None)
    assert load_recipe("recipes/maestro.yaml") == load_recipe("maestro")


def test_tiny_recipe_fixture(tiny_recipe, maestro_dir):
    r = load_recipe(tiny_recipe)
    assert r.data.path == str(maestro_dir)
    assert r.data.bpe_vocab_size == 400
    assert r.data.augment.pitch_offsets == [-2, 2]
    assert r.model.n_embd == 32
    assert r.train.lr == default_recipe().train.lr  # keys a recipe leaves out take default.yaml's values


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
    assert set(raw) == {"name", "data", "model", "train", "finetune", "sample", "transfer", "limits"}  # every section
    again = load_recipe(path)
    assert again == r
    assert recipe_from_dict(raw) == r


def test_recipe_from_dict_rejects_unknown_keys():
    with pytest.raises(UserError, match="unknown recipe key 'sample.temp'"):
        recipe_from_dict({"sample": {"temp": 0.5}}, source="checkpoint")


def test_bundled_data_from_a_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config.CHECKOUT is not None  # the tests run from the source tree
    assert resolve_data_path("data/music21") == config.CHECKOUT / "data" / "music21"
    assert resolve_data_path("data/melodies/happy_birthday.mid").is_file()
    assert resolve_data_path("mine/corpus") == Path("mine/corpus")  # missing: the caller reports it
    (tmp_path / "data" / "music21").mkdir(parents=True)
    assert resolve_data_path("data/music21") == Path("data/music21")  # the working directory first


def test_bundled_data_from_an_installed_package(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(config, "CHECKOUT", None)  # as installed from a wheel
    for path, hint in (("data/music21", "data.path="), ("./data/melodies/happy_birthday.mid", "melodies of your own")):
        with pytest.raises(UserError) as exc:
            resolve_data_path(path)
        message = str(exc.value)
        assert "with the mst repository, not the installed package" in message and hint in message
        assert "run mst in a clone of the repository" in message and "\n" not in message
        assert resolve_data_path(path, missing_ok=True) == Path(path)
    # paths that are not the bundled data come back as given, absolute or not, present or not
    assert resolve_data_path("mine/corpus") == Path("mine/corpus")
    assert resolve_data_path(tmp_path / "nowhere") == tmp_path / "nowhere"
    (tmp_path / "data" / "music21").mkdir(parents=True)
    assert resolve_data_path("data/music21") == Path("data/music21")


def test_a_recipe_that_is_no_text_file_is_one_line(tmp_path):
    (tmp_path / "folder.yaml").mkdir()
    with pytest.raises(UserError, match="this is a folder"):
        load_recipe(tmp_path / "folder.yaml")
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(UserError, match="not a text file"):
        load_recipe(tmp_path / "latin1.yaml")
    (tmp_path / "huge.yaml").write_text("# " + "x" * 1_000_001)
    with pytest.raises(UserError, match="is no recipe"):
        load_recipe(tmp_path / "huge.yaml")
