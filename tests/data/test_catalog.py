"""The catalog: Maestro folders (.csv and .json), joint composers, per-split tables, composer lookup."""
from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from support.maestro import BAD, GOOD, PIECES
from styletransfer.data.catalog import (canonical_name, composer_table, composers, find_composer, load_catalog, select,
                                        split_composers)
from styletransfer.errors import UserError

ROOT = Path(__file__).resolve().parents[2]

ALL_COMPOSERS = ["Carl Philipp Emanuel Bach", "Claude Debussy", "Ferruccio Busoni", "Franz Liszt",
                 "Franz Schubert", "Frédéric Chopin", "Johann Sebastian Bach", "Ludwig van Beethoven"]


@pytest.fixture(scope="module")
def catalog(maestro_dir):
    return load_catalog(maestro_dir)


def test_load_maestro_csv(catalog, maestro_dir):
    assert len(catalog) == GOOD + len(BAD)
    assert list(catalog.columns) == ["composer", "title", "split", "midi", "duration", "composers"]
    assert catalog["title"].tolist() == [p[1] for p in PIECES] + [b[2] for b in BAD]
    assert catalog["split"].value_counts().to_dict() == {"train": 10, "validation": 3, "test": 2}
    # midi paths are absolute paths into the folder, and exist
    assert all(Path(p).is_absolute() and Path(p).is_relative_to(maestro_dir) for p in catalog["midi"])
    assert all(Path(p).exists() for p in catalog["midi"])
    assert catalog["duration"].dtype.kind == "f" and (catalog["duration"] > 0).all()


def test_load_maestro_json(maestro_json_dir, maestro_dir, catalog):
    assert not (maestro_json_dir / "maestro-v3.0.0.csv").exists()
    js = load_catalog(maestro_json_dir)
    assert len(js) == GOOD
    good = catalog.iloc[:GOOD]
    assert js["composer"].tolist() == good["composer"].tolist()
    assert js["split"].tolist() == good["split"].tolist()
    assert js["composers"].tolist() == good["composers"].tolist()
    assert [Path(p).relative_to(maestro_json_dir) for p in js["midi"]] == \
        [Path(p).relative_to(maestro_dir) for p in good["midi"]]
    assert js["duration"].round(6).tolist() == good["duration"].round(6).tolist()


def test_joint_composers(catalog):
    assert split_composers("Johann Sebastian Bach / Ferruccio Busoni") == ("Johann Sebastian Bach", "Ferruccio Busoni")
    assert split_composers(" Franz Liszt ") == ("Franz Liszt",)
    assert split_composers("Franz Liszt/ Ferruccio Busoni") == ("Franz Liszt", "Ferruccio Busoni")
    # a slash inside a name (a manuscript's shelf marks) is no joint work
    assert split_composers("Gratiosus I-Pu 684/1475?") == ("Gratiosus I-Pu 684/1475?",)
    joint = catalog[catalog["title"] == "Chaconne in D Minor"].iloc[0]
    assert joint["composer"] == "Johann Sebastian Bach / Ferruccio Busoni"
    assert joint["composers"] == ("Johann Sebastian Bach", "Ferruccio Busoni")
    assert composers(catalog) == ALL_COMPOSERS
    # a joint work belongs to each of its composers
    assert "Chaconne in D Minor" in select(catalog, "Johann Sebastian Bach")["title"].tolist()
    assert select(catalog, "Ferruccio Busoni")["title"].tolist() == ["Chaconne in D Minor"]
    # no half-name ends up as a composer of its own
    assert "Johann Sebastian Bach / Ferruccio Busoni" not in composers(catalog)


def test_select_by_split(catalog):
    assert select(catalog, "Johann Sebastian Bach", "train")["title"].tolist() == \
        ["Prelude in C Major", "Fugue in C Minor", "Chaconne in D Minor"]
    assert select(catalog, "Johann Sebastian Bach", "validation")["title"].tolist() == ["Invention No. 1"]
    assert select(catalog, "Johann Sebastian Bach", "test").empty
    assert select(catalog, split="test")["title"].tolist() == ["Etude Op. 10 No. 3", "Consolation No. 3"]


def test_composer_table_counts_per_split(catalog):
    table = composer_table(catalog).set_index("composer")
    assert sorted(table.index) == ALL_COMPOSERS
    bach = table.loc["Johann Sebastian Bach"]
    assert (bach["pieces"], bach["train_pieces"], bach["validation_pieces"], bach["test_pieces"]) == (4, 3, 1, 0)
    liszt = table.loc["Franz Liszt"]  # the drums-only file is listed by the catalog, it is the dataset that skips it
    assert (liszt["pieces"], liszt["train_pieces"], liszt["validation_pieces"], liszt["test_pieces"]) == (2, 0, 1, 1)
    assert table.loc["Ferruccio Busoni", "pieces"] == 1
    assert table["pieces"].tolist() == sorted(table["pieces"], reverse=True)  # most pieces first
    # every piece counts once per composer: joint works once for each
    assert table["pieces"].sum() == len(catalog) + 1
    for split in ("train", "validation", "test"):
        assert (table[f"{split}_pieces"].sum()
                == catalog[catalog["split"] == split]["composers"].map(len).sum())


def test_composer_table_hours(tmp_path):
    """Hours per split from the duration column (the MIDI files need not exist to read the table)."""
    pd.DataFrame({
        "canonical_composer": ["A Composer", "A Composer / B Composer", "B Composer", "A Composer"],
        "canonical_title": ["a", "ab", "b", "a2"],
        "split": ["train", "train", "validation", "test"],
        "year": [2004] * 4,
        "midi_filename": ["x.midi"] * 4,
        "audio_filename": ["x.wav"] * 4,
        "duration": [3600.0, 1800.0, 900.0, 7200.0],
    }).to_csv(tmp_path / "maestro-v3.0.0.csv", index=False)
    table = composer_table(load_catalog(tmp_path)).set_index("composer")
    assert table.loc["A Composer", "pieces"] == 3
    assert table.loc["A Composer", "hours"] == pytest.approx(3.5)
    assert table.loc["A Composer", "train_hours"] == pytest.approx(1.5)
    assert table.loc["A Composer", "validation_hours"] == pytest.approx(0.0)
    assert table.loc["A Composer", "test_hours"] == pytest.approx(2.0)
    assert table.loc["B Composer", "hours"] == pytest.approx(0.75)
    assert table.loc["B Composer", "validation_pieces"] == 1
    assert table.index[0] == "A Composer"


@pytest.mark.parametrize("name", ["bach", "Bach", "BACH", "J. S. Bach", "J.S. Bach", "JS Bach",
                                  "Johann Sebastian Bach", "johann sebastian bach", " Johann  Sebastian Bach "])
def test_find_js_bach(catalog, name):
    # the catalog also has C.P.E. Bach, so "Bach" alone must still mean Johann Sebastian
    assert "Carl Philipp Emanuel Bach" in composers(catalog)
    assert find_composer(catalog, name) == "Johann Sebastian Bach"


@pytest.mark.parametrize("name, expected", [
    ("C.P.E. Bach", "Carl Philipp Emanuel Bach"),
    ("CPE Bach", "Carl Philipp Emanuel Bach"),
    ("Carl Philipp Emanuel Bach", "Carl Philipp Emanuel Bach"),
    ("chopin", "Frédéric Chopin"),
    ("Frederic Chopin", "Frédéric Chopin"),  # accents optional
    ("FRÉDÉRIC CHOPIN", "Frédéric Chopin"),
    ("beethoven", "Ludwig van Beethoven"),
    ("van Beethoven", "Ludwig van Beethoven"),
    ("busoni", "Ferruccio Busoni"),  # known only through a joint work
    ("Schubert", "Franz Schubert"),
])
def test_find_other_composers(catalog, name, expected):
    assert find_composer(catalog, name) == expected


def test_ambiguous_composer_lists_the_candidates(catalog):
    with pytest.raises(UserError) as exc:
        find_composer(catalog, "Franz")
    message = str(exc.value)
    assert "ambiguous" in message
    assert "Franz Liszt" in message and "Franz Schubert" in message
    assert "\n" not in message


@pytest.mark.parametrize("name, close", [("Chopen", "Frédéric Chopin"), ("Bethoven", "Ludwig van Beethoven"),
                                         ("Debusy", "Claude Debussy")])
def test_unknown_composer_suggests_close_names(catalog, name, close):
    with pytest.raises(UserError) as exc:
        find_composer(catalog, name)
    message = str(exc.value)
    assert message.startswith(f"unknown composer '{name}'")
    assert f"closest: {close}" in message
    assert "mst data composers" in message


def test_unknown_composer_without_close_names(catalog):
    with pytest.raises(UserError) as exc:
        find_composer(catalog, "Mozart")
    assert "unknown composer 'Mozart'" in str(exc.value)
    assert "closest" not in str(exc.value)
    with pytest.raises(UserError, match="empty composer name"):
        find_composer(catalog, "  ")


def test_bach_alias_needs_the_composer_in_the_catalog(catalog):
    """With only C.P.E. Bach in the catalog, "Bach" is him: the alias never invents a composer."""
    cpe_only = catalog[catalog["composers"].map(lambda names: "Johann Sebastian Bach" not in names)]
    assert find_composer(cpe_only, "bach") == "Carl Philipp Emanuel Bach"
    with pytest.raises(UserError, match="unknown composer 'J. S. Bach'"):
        find_composer(cpe_only, "J. S. Bach")


def test_missing_folder_is_one_clear_line(tmp_path):
    with pytest.raises(UserError) as exc:
        load_catalog(tmp_path / "maestro-v9")
    assert str(exc.value).startswith("data folder not found:")
    assert "maestro-v3.0.0.csv" in str(exc.value) and "\n" not in str(exc.value)


def test_folder_without_metadata(tmp_path):
    (tmp_path / "2004").mkdir()
    with pytest.raises(UserError) as exc:
        load_catalog(tmp_path)
    assert "no metadata found" in str(exc.value) and "maestro-v3.0.0.csv" in str(exc.value)


def test_bad_metadata(tmp_path):
    (tmp_path / "maestro-v3.0.0.csv").write_text("canonical_composer,split\nA,train\n")
    with pytest.raises(UserError, match="missing columns canonical_title, midi_filename, duration"):
        load_catalog(tmp_path)
    (tmp_path / "maestro-v3.0.0.csv").write_text(
        "canonical_composer,canonical_title,split,midi_filename,duration\nA,t,training,a.midi,1\n")
    with pytest.raises(UserError, match="unknown split values \\['training'\\]"):
        load_catalog(tmp_path)
    (tmp_path / "maestro-v3.0.0.csv").unlink()
    (tmp_path / "maestro-v3.0.0.json").write_bytes(b"\x00{not json")
    with pytest.raises(UserError, match="unreadable metadata"):
        load_catalog(tmp_path)


# ---------------------------------------------------------------- prepared folders

def test_prepared_folder_reads_its_catalog_csv(prepared, maestro_dir, catalog):
    """A folder made by `mst data prepare` is read from the catalog.csv its cache was built from."""
    _, out, _ = prepared
    assert (out / "catalog.csv").exists() and not (out / "maestro-v3.0.0.csv").exists()
    table = load_catalog(out)
    assert table.attrs["read_from"] == str(out / "catalog.csv")
    assert list(table.columns) == list(catalog.columns)
    for column in ("composer", "title", "split", "midi", "composers"):
        assert table[column].tolist() == catalog[column].tolist(), column
    assert table["duration"].round(6).tolist() == catalog["duration"].round(6).tolist()
    assert composer_table(table).equals(composer_table(catalog))
    assert find_composer(table, "busoni") == "Ferruccio Busoni"


def test_prepared_folder_needs_no_source(tmp_path):
    """The table is what the cache holds: the source named in the manifest is not read (it may be gone)."""
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "manifest.json").write_text('{"source": "%s"}' % (tmp_path / "gone"))
    pd.DataFrame({"composer": ["A Composer", "A Composer / B Composer"], "title": ["a", "ab"],
                  "split": ["train", "test"], "midi": ["gone/a.mid", "gone/ab.mid"], "duration": [60.0, 30.0],
                  "composers": ["A Composer", "A Composer / B Composer"]}).to_csv(tmp_path / "catalog.csv", index=False)
    table = load_catalog(tmp_path)
    assert table["composers"].tolist() == [("A Composer",), ("A Composer", "B Composer")]
    assert table["midi"].tolist() == ["gone/a.mid", "gone/ab.mid"]
    assert composer_table(table).set_index("composer")["test_pieces"].to_dict() == {"A Composer": 1, "B Composer": 1}


def test_bad_prepared_catalog_is_one_line(tmp_path):
    (tmp_path / "catalog.csv").write_text("composer,title\nA,a\n")
    with pytest.raises(UserError) as exc:
        load_catalog(tmp_path)
    assert str(exc.value) == f"{tmp_path / 'catalog.csv'}: missing columns split, midi, duration"
    (tmp_path / "catalog.csv").write_text("composer,title,split,midi,duration\nA,a,dev,a.mid,1\n")
    with pytest.raises(UserError, match="unknown split values \\['dev'\\]"):
        load_catalog(tmp_path)


def test_no_metadata_names_the_prepared_catalog_too(tmp_path):
    with pytest.raises(UserError) as exc:
        load_catalog(tmp_path)
    assert "catalog.csv" in str(exc.value) and "\n" not in str(exc.value)


# ---------------------------------------------------------------- spelling variants of one name

VITRY = "Philippe de Vitry (1291-1361)"


def test_canonical_name():
    for variant in ("Philippe de Vitry (1291 - 1361)", "Philippe de Vitry (1291 -1361)", "Philippe de Vitry (1291- 1361)",
                    "Philippe de Vitry ( 1291–1361 )", " Philippe  de\u00a0Vitry (1291 \u2014 1361)", VITRY):
        assert canonical_name(variant) == VITRY, variant
    decomposed = unicodedata.normalize("NFD", "Frédéric Chopin")
    assert decomposed != "Frédéric Chopin" and canonical_name(decomposed) == "Frédéric Chopin"
    # names already spelled so are left alone
    for name in ("Jean-Philippe Rameau", "Johannes Ciconia (opus dubium)", "Anonymous I-Pu 1475", "J. S. Bach",
                 "Trecento (various)", "Mediolano ? 324"):
        assert canonical_name(name) == name
    assert canonical_name(canonical_name(" A  -  B ( c ) ")) == canonical_name(" A  -  B ( c ) ") == "A-B (c)"


def test_spelling_variants_are_one_composer(tmp_path):
    names = ["Philippe de Vitry (1291 - 1361)", "Philippe de Vitry (1291 -1361)", VITRY,
             "Johann Sebastian Bach / Philippe de Vitry (1291 - 1361)", unicodedata.normalize("NFD", "Frédéric Chopin"),
             "Frédéric Chopin", "Franz  Liszt", "Franz Liszt /Ferruccio Busoni", "Gratiosus I-Pu 684/1475?"]
    pd.DataFrame({
        "canonical_composer": names, "canonical_title": [f"t{i}" for i in range(len(names))],
        "split": ["train", "train", "test", "validation", "train", "test", "train", "train", "train"],
        "midi_filename": ["x.midi"] * len(names), "duration": [360.0] * len(names),
    }).to_csv(tmp_path / "maestro-v3.0.0.csv", index=False)
    catalog = load_catalog(tmp_path)
    assert composers(catalog) == ["Ferruccio Busoni", "Franz Liszt", "Frédéric Chopin", "Gratiosus I-Pu 684/1475?",
                                  "Johann Sebastian Bach", VITRY]
    assert catalog["composer"].tolist()[:4] == [VITRY, VITRY, VITRY, f"Johann Sebastian Bach / {VITRY}"]
    assert catalog["composer"].tolist()[7] == "Franz Liszt / Ferruccio Busoni"  # joined as Maestro writes it
    table = composer_table(catalog).set_index("composer")
    assert table.loc[VITRY, ["pieces", "train_pieces", "validation_pieces", "test_pieces"]].tolist() == [4, 2, 1, 1]
    assert table.loc[VITRY, "hours"] == pytest.approx(0.4)
    assert table.loc["Frédéric Chopin", "pieces"] == 2 and table.loc["Franz Liszt", "pieces"] == 2
    # any spelling finds the one composer; before the merge "vitry" was ambiguous
    for query in ("vitry", "Philippe de Vitry (1291 - 1361)", VITRY, "philippe de vitry"):
        assert find_composer(catalog, query) == VITRY
    assert len(select(catalog, VITRY)) == 4


def test_bundled_corpus_has_one_spelling_per_composer():
    """The real list: no two composers differ only in case, spacing or punctuation, no part of a name
    ("1475?", "I-Fol.") is a composer, and the names the shipped adapters use are unchanged."""
    catalog = load_catalog(ROOT / "data" / "music21")
    names = composers(catalog)
    keys = [re.sub(r"[\W_]", "", name.casefold()) for name in names]
    assert len(set(keys)) == len(keys), sorted(n for n, k in zip(names, keys) if keys.count(k) > 1)
    assert VITRY in names
    assert "1475?" not in names and "I-Fol." not in names and "Gratiosus I-Pu 684/1475?" in names
    table = composer_table(catalog).set_index("composer")
    assert table.loc[VITRY, "pieces"] == 4
    assert table["pieces"].sum() == len(catalog)  # the bundled corpus has no joint works
    for finetune in sorted((ROOT / "styletransfer" / "pretrained" / "default" / "adapters").glob("*/finetune.json")):
        name = json.loads(finetune.read_text())["composer"]
        assert name in names and canonical_name(name) == name and find_composer(catalog, name) == name


def test_rows_outside_the_dataset_folder_are_skipped_and_reported(maestro_dir, tmp_path):
    """A row may only name a file inside the dataset folder; a path that is no path, or a duration that is no
    number, is reported (not silently zeroed)."""
    import shutil

    from styletransfer.config import recipe_from_dict
    from styletransfer.data.prepare import prepare
    from support.maestro import recipe_dict

    data = shutil.copytree(maestro_dir, tmp_path / "data")
    outside = tmp_path / "x" / "outside.mid"
    outside.parent.mkdir()
    shutil.copy(next(data.glob("2004/*.midi")), outside)
    table = pd.read_csv(data / "maestro-v3.0.0.csv")
    extra = [dict(table.iloc[0], midi_filename="../x/outside.mid", split="train"),
             dict(table.iloc[0], midi_filename=str(outside), split="train"),
             dict(table.iloc[1], duration="long")]
    pd.concat([table, pd.DataFrame(extra)]).to_csv(data / "maestro-v3.0.0.csv", index=False)
    catalog = load_catalog(data)
    assert len(catalog) == len(table) + 1  # the two rows outside dropped, the one with a bad duration kept
    assert all(Path(p).resolve().is_relative_to(data.resolve()) for p in catalog["midi"])
    problems = dict((what, why) for what, why in catalog.attrs["problems"])
    assert "outside the dataset folder" in problems["../x/outside.mid"]
    assert "outside the dataset folder" in problems[str(outside)]
    assert any("'long' is not a number" in why for why in problems.values())
    assert catalog["duration"].isna().sum() == 1

    out = tmp_path / "prepared"
    report = prepare(recipe_from_dict(recipe_dict(data, out)).data, out=out)
    assert {what for what, _ in report.skipped} >= {"../x/outside.mid", str(outside)}
    written = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(out) and not p.is_relative_to(data)]
    assert written == [outside]  # nothing written beside the dataset but under --out


def test_a_path_that_is_not_a_string_is_refused_by_row(maestro_dir, tmp_path):
    import shutil

    data = shutil.copytree(maestro_dir, tmp_path / "data")
    table = pd.read_csv(data / "maestro-v3.0.0.csv")
    table["midi_filename"] = table["midi_filename"].astype(object)
    table.loc[0, "midi_filename"] = 42
    (data / "maestro-v3.0.0.csv").unlink()
    payload = {col: {str(i): v for i, v in enumerate(table[col].tolist())} for col in table.columns}
    (data / "maestro-v3.0.0.json").write_text(json.dumps(payload), encoding="utf-8")
    catalog = load_catalog(data)
    assert len(catalog) == len(table) - 1
    assert ("42", "midi_filename is not a path") in catalog.attrs["problems"]


def test_an_empty_split_is_a_warning(maestro_dir, tmp_path):
    import shutil

    from styletransfer.config import recipe_from_dict
    from styletransfer.data.prepare import prepare
    from support.maestro import recipe_dict

    data = shutil.copytree(maestro_dir, tmp_path / "data")
    table = pd.read_csv(data / "maestro-v3.0.0.csv")
    table.loc[table["split"] == "test", "split"] = "train"
    table.to_csv(data / "maestro-v3.0.0.csv", index=False)
    report = prepare(recipe_from_dict(recipe_dict(data, tmp_path / "out")).data, out=tmp_path / "out")
    assert report.warnings == ["the test split is empty"]
