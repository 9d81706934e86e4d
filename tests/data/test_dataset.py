"""prepare: bad files skipped and reported, split before augment, the BPE tokenizer, the token cache."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from symusic import Score

from support.maestro import BAD, GOOD, PIECES, recipe_dict, write_maestro
from support.scores import part_notes_in_beats, notes_in_beats, one_track_score
from styletransfer.tokens import tokenizer as tk
from styletransfer.data.prepare import PIECE_COLUMNS, TokenCache, prepare
from styletransfer.errors import UserError
from styletransfer.keys import reference_shift
from styletransfer.config import recipe_from_dict

TRAIN_ROWS = [i for i, p in enumerate(PIECES) if p[2] == "train"]
OFFSETS = (-2, 2)


def transposed(notes, offset):
    return sorted((t, p + offset, d, v) for t, p, d, v in notes)


def source_notes(path) -> list[tuple]:
    return notes_in_beats(Score(str(path)))


def in_reference_key(notes) -> list[tuple]:
    """A fixture piece as the default recipe caches it: moved to C major / A minor (data.key_normalize)."""
    shift = reference_shift([p for _, p, _, _ in notes], [d for _, _, d, _ in notes])
    assert shift is not None
    return transposed(notes, shift)


@pytest.fixture(scope="module")
def caches(prepared):
    _, out, _ = prepared
    return {split: TokenCache(out, split) for split in ("train", "validation", "test")}


@pytest.fixture(scope="module")
def trained_tokenizer(prepared):
    return tk.load_tokenizer(prepared[1])


# ---------------------------------------------------------------- report, skipped files, tokenizer


def test_report(prepared):
    report, out, _ = prepared
    assert report.cached is False
    assert report.out == out
    n_train = len(TRAIN_ROWS)
    assert report.pieces == {"train": n_train * (1 + len(OFFSETS)), "validation": 2, "test": 2}
    assert all(report.tokens[s] > 0 for s in report.tokens)
    assert report.vocab_size == 400


def test_bad_files_are_skipped_and_reported(prepared, maestro_dir):
    report, out, _ = prepared
    skipped = dict(report.skipped)
    assert sorted(skipped) == sorted(str(maestro_dir / f"{year}/MIDI-{kind}.midi") for kind, *_, year in BAD)
    assert "not a readable MIDI file" in skipped[str(maestro_dir / "2004/MIDI-corrupt.midi")]
    assert "no pitched notes" in skipped[str(maestro_dir / "2006/MIDI-empty.midi")]
    assert "no pitched notes" in skipped[str(maestro_dir / "2008/MIDI-drums.midi")]
    assert all("\n" not in reason for reason in skipped.values())
    manifest = json.loads((out / "cache" / "manifest.json").read_text())
    assert [tuple(x) for x in manifest["skipped"]] == report.skipped
    # skipped files are not in any cache
    cached_rows = set()
    for split in ("train", "validation", "test"):
        cached_rows |= set(TokenCache(out, split).pieces["row"])
    assert cached_rows == set(range(GOOD))


def test_tokenizer_saved_and_bpe_trained(prepared, trained_tokenizer):
    _, out, _ = prepared
    assert (out / tk.TOKENIZER_FILE).exists()
    assert isinstance(trained_tokenizer, tk.MstTSD)
    assert trained_tokenizer.is_trained and len(trained_tokenizer) == 400
    assert tk.special_id(trained_tokenizer, "MELODY") == tk.special_id(tk.build_tokenizer(), "MELODY")
    # the cache is written with that vocabulary, and BPE ids are in use
    train = np.load(out / "cache" / "train.texture.npy")
    assert train.max() < 400 and train.max() >= len(trained_tokenizer.vocab)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_catalog_written_beside_the_cache(prepared, maestro_dir):
    _, out, _ = prepared
    import pandas as pd

    table = pd.read_csv(out / "catalog.csv", keep_default_na=False)
    assert len(table) == GOOD + len(BAD)
    assert table.loc[9, "composers"] == "Johann Sebastian Bach / Ferruccio Busoni"
    assert table.loc[0, "midi"] == str(next(maestro_dir.glob("2004/MIDI-Unprocessed_00_*.midi")))


# ---------------------------------------------------------------- split before augmentation


def test_augmented_copies_only_of_training_pieces(prepared, maestro_dir):
    _, out, _ = prepared
    files = sorted((out / "augmented").rglob("*.mid"))
    assert len(files) == len(TRAIN_ROWS) * len(OFFSETS)
    rel_to_row = {Path(f"{year}/MIDI-Unprocessed_{i:02d}_R1_{year}_wav--{i % 3 + 1}").as_posix(): i
                  for i, (_, _, _, year, _, _) in enumerate(PIECES)}
    seen = set()
    for path in files:
        rel, _, tag = path.relative_to(out / "augmented").as_posix().partition(".p")
        row = rel_to_row[rel]
        assert PIECES[row][2] == "train", path
        offset = int(tag.split("v")[0])
        assert offset in OFFSETS
        seen.add((row, offset))
        original = next(maestro_dir.glob(f"{rel}.midi"))
        # the piece in the reference key, pitch-shifted, nothing else
        assert source_notes(path) == transposed(in_reference_key(source_notes(original)), offset)
    assert seen == {(row, o) for row in TRAIN_ROWS for o in OFFSETS}


def test_source_folder_is_never_written(prepared, maestro_dir):
    files = sorted(p.relative_to(maestro_dir).as_posix() for p in maestro_dir.rglob("*") if p.is_file())
    assert len(files) == 1 + GOOD + len(BAD)
    assert "maestro-v3.0.0.csv" in files
    assert all(f.endswith(".midi") for f in files if f != "maestro-v3.0.0.csv")
    assert not list(maestro_dir.rglob("*.mid"))


def test_piece_tables_follow_the_catalog_split(caches):
    for split, cache in caches.items():
        pieces = cache.pieces
        assert list(pieces.columns) == list(PIECE_COLUMNS)
        assert set(cache.catalog.loc[pieces["row"], "split"]) == {split}
        if split != "train":
            assert pieces["augmented"].tolist() == [0] * len(pieces)  # never an augmented copy
    train = caches["train"].pieces
    counts = train.groupby("row")["augmented"].agg(["size", "sum"])
    assert counts.index.tolist() == TRAIN_ROWS
    assert counts["size"].tolist() == [1 + len(OFFSETS)] * len(TRAIN_ROWS)
    assert counts["sum"].tolist() == [len(OFFSETS)] * len(TRAIN_ROWS)
    assert sorted(caches["validation"].pieces["row"]) == [2, 7]
    assert sorted(caches["test"].pieces["row"]) == [5, 10]


def test_no_transposed_copy_of_a_held_out_piece_in_training(caches, trained_tokenizer, maestro_dir):
    """By content: no training sequence decodes to a validation/test piece, transposed or not."""
    held_out = []
    for split in ("validation", "test"):
        cache = caches[split]
        for row in cache.pieces["row"]:
            notes = source_notes(cache.catalog.loc[row, "midi"])
            held_out += [transposed(notes, o) for o in range(-12, 13)]
    train = caches["train"]
    train_notes = [notes_in_beats(tk.decode_ids(trained_tokenizer, train.piece_texture(i))) for i in range(len(train))]
    assert all(len(n) > 0 for n in train_notes)
    assert not any(notes in held_out for notes in train_notes)


# ---------------------------------------------------------------- the cache


def test_cached_texture_decodes_to_the_piece(caches, trained_tokenizer):
    for split, cache in caches.items():
        for i, p in cache.pieces.iterrows():
            original = source_notes(cache.catalog.loc[p.row, "midi"])
            decoded = notes_in_beats(tk.decode_ids(trained_tokenizer, cache.piece_texture(i)))
            if not p.augmented:
                assert decoded == in_reference_key(original), (split, p.row)
            else:
                assert any(decoded == transposed(in_reference_key(original), o) for o in OFFSETS), (split, p.row)


def test_bar_spans_line_up(caches, trained_tokenizer):
    for cache in caches.values():
        for i, p in cache.pieces.iterrows():
            tex, mel = cache.bar_spans(i, "texture"), cache.bar_spans(i, "melody")
            assert len(tex) == len(mel) == p.n_bars + 1 == 5  # four bars per fixture piece
            assert tex[0] == p.tex_start and tex[-1] == p.tex_end and (np.diff(tex) > 0).all()
            assert mel[0] == p.mel_start and mel[-1] == p.mel_end and (np.diff(mel) > 0).all()
            whole = notes_in_beats(tk.decode_ids(trained_tokenizer, cache.piece_texture(i)))
            num, den = PIECES[p.row][4]
            bar_len = num * 4 / den
            for j in range(p.n_bars):
                texture_bar = notes_in_beats(tk.decode_ids(trained_tokenizer, cache.texture[tex[j]:tex[j + 1]]))
                melody_bar = notes_in_beats(tk.decode_ids(trained_tokenizer, cache.melody[mel[j]:mel[j + 1]]))
                assert melody_bar and set(melody_bar) < set(texture_bar)
                # bar j of both streams is bar j of the piece: same notes as the piece's bar j, shifted
                in_bar = [n for n in whole if j * bar_len <= n[0] < (j + 1) * bar_len]
                shift = in_bar[0][0] - texture_bar[0][0]
                assert [(t + shift, *rest) for t, *rest in texture_bar] == in_bar
                # the melody of a bar is its part 0 (tokens/parts.py: a piano piece's top line, a chorale's soprano)
                texture_score = tk.decode_ids(trained_tokenizer, cache.texture[tex[j]:tex[j + 1]])
                assert melody_bar == part_notes_in_beats(texture_score, 0)


def test_melody_stream_of_a_piece_is_its_skyline(caches, trained_tokenizer):
    """A piano piece's melody is its top line (the highest note of each onset); a chorale's is its soprano."""
    cache = caches["validation"]
    for i in range(len(cache)):
        texture_score = tk.decode_ids(trained_tokenizer, cache.piece_texture(i))
        texture = notes_in_beats(texture_score)
        melody = notes_in_beats(tk.decode_ids(trained_tokenizer, cache.piece_melody(i)))
        assert melody == part_notes_in_beats(texture_score, 0)
        if len({t.program for t in texture_score.tracks}) == 2:  # one track in the piece: melody and the rest
            onsets = sorted({n[0] for n in texture})
            assert melody == [max((n for n in texture if n[0] == t), key=lambda n: n[1]) for t in onsets]


def test_pieces_of_composer(caches):
    train = caches["train"]
    bach = train.pieces_of("Johann Sebastian Bach")
    assert sorted(set(train.pieces.loc[bach, "row"])) == [0, 1, 9]
    assert len(bach) == 3 * (1 + len(OFFSETS))
    originals = train.pieces_of("Johann Sebastian Bach", originals_only=True)
    assert len(originals) == 3 and (train.pieces.loc[originals, "augmented"] == 0).all()
    assert sorted(set(train.pieces.loc[train.pieces_of("Ferruccio Busoni"), "row"])) == [9]
    assert len(caches["test"].pieces_of("Johann Sebastian Bach")) == 0


def test_token_cache_without_prepare(tmp_path):
    with pytest.raises(UserError, match="run `mst data prepare` first"):
        TokenCache(tmp_path, "train")


# ---------------------------------------------------------------- caching and rebuilding


def cache_state(out: Path) -> dict:
    return {p.name: p.stat().st_mtime_ns for p in sorted((out / "cache").iterdir())} | {
        "tokenizer": (out / tk.TOKENIZER_FILE).stat().st_mtime_ns}


def test_second_prepare_is_cached(prepared):
    report, out, recipe = prepared
    before = cache_state(out)
    again = prepare(recipe.data, out=out)
    assert again.cached is True
    assert cache_state(out) == before
    assert (again.pieces, again.tokens, again.skipped, again.vocab_size) == \
        (report.pieces, report.tokens, report.skipped, report.vocab_size)


def test_changes_rebuild(maestro_dir, tmp_path):
    data = shutil.copytree(maestro_dir, tmp_path / "data")
    out = tmp_path / "out"

    def run(bpe=390, **kwargs):
        return prepare(recipe_from_dict(recipe_dict(data, out, bpe=bpe)).data, out=out, **kwargs)

    first = run()
    assert not first.cached and first.vocab_size == 390
    assert run().cached
    changed = run(bpe=410)  # a different recipe
    assert not changed.cached and changed.vocab_size == 410
    assert len(tk.load_tokenizer(out)) == 410
    assert run(bpe=410).cached
    assert not run(bpe=410, force=True).cached
    # a changed source file rebuilds, and its new notes are in the cache
    piece = next(data.glob("2004/MIDI-Unprocessed_00_*.midi"))
    one_track_score([(b, 70, 1, 79) for b in range(8)]).dump_midi(str(piece))
    os.utime(piece, ns=(1, 1))
    rebuilt = run(bpe=410)
    assert not rebuilt.cached
    cache = TokenCache(out, "train")
    first_piece = cache.pieces.index[(cache.pieces["row"] == 0) & (cache.pieces["augmented"] == 0)][0]
    assert notes_in_beats(tk.decode_ids(tk.load_tokenizer(out), cache.piece_texture(first_piece))) == \
        in_reference_key([(float(b), 70, 1.0, 79) for b in range(8)])
    # augmented copies are regenerated from the source, never accumulated
    assert len(list((out / "augmented").rglob("*.mid"))) == len(TRAIN_ROWS) * len(OFFSETS)


def test_soprano_held_over_a_bar_line_hides_the_inner_voice_in_the_cache(tmp_path):
    """The cached melody is the skyline of the whole piece, not of each bar on its own."""
    import pandas as pd

    soprano = [(0, 76, 2, 95), (2, 79, 6, 95), (8, 72, 4, 95)]  # 79 sounds from beat 2 to beat 8
    inner = [(b, p, 1, 63) for b, p in enumerate([60, 62, 64, 65, 67, 65, 64, 62])]
    bass = [(0, 48, 4, 63), (4, 43, 4, 63), (8, 41, 4, 63)]
    (tmp_path / "m").mkdir()
    one_track_score(soprano + inner + bass).dump_midi(str(tmp_path / "m" / "held.midi"))
    one_track_score([(b, 60 + b, 1, 79) for b in range(8)]).dump_midi(str(tmp_path / "m" / "other.midi"))
    pd.DataFrame({"canonical_composer": ["A", "B"], "canonical_title": ["held", "other"],
                  "split": ["validation", "train"], "year": [2004, 2004],
                  "midi_filename": ["held.midi", "other.midi"], "audio_filename": ["", ""],
                  "duration": [6.0, 4.0]}).to_csv(tmp_path / "m" / "maestro-v3.0.0.csv", index=False)
    out = tmp_path / "out"
    prepare(recipe_from_dict(recipe_dict(tmp_path / "m", out, bpe=0)).data, out=out)
    cache = TokenCache(out, "validation")
    assert len(cache) == 1 and cache.pieces.loc[0, "n_bars"] == 3
    melody = notes_in_beats(tk.decode_ids(tk.load_tokenizer(out), cache.piece_melody(0)))
    assert melody == sorted(soprano)


# ---------------------------------------------------------------- bad input


def test_missing_maestro_folder_or_csv(tmp_path):
    with pytest.raises(UserError, match="data folder not found"):
        prepare(recipe_from_dict(recipe_dict(tmp_path / "nowhere", tmp_path / "out")).data)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no metadata found"):
        prepare(recipe_from_dict(recipe_dict(tmp_path / "empty", tmp_path / "out")).data)
    assert not (tmp_path / "out").exists()


def test_only_bad_training_files(tmp_path):
    folder = write_maestro(tmp_path / "m")
    csv = folder / "maestro-v3.0.0.csv"
    import pandas as pd

    table = pd.read_csv(csv)
    table = table[table["midi_filename"].str.contains("MIDI-(corrupt|empty|drums)") | (table["split"] != "train")]
    table.to_csv(csv, index=False)
    with pytest.raises(UserError) as exc:
        prepare(recipe_from_dict(recipe_dict(folder, tmp_path / "out")).data)
    assert "no usable training piece" in str(exc.value) and "3 files skipped" in str(exc.value)


def test_empty_catalog(tmp_path):
    (tmp_path / "maestro-v3.0.0.csv").write_text(
        "canonical_composer,canonical_title,split,year,midi_filename,audio_filename,duration\n")
    with pytest.raises(UserError, match="lists no pieces"):
        prepare(recipe_from_dict(recipe_dict(tmp_path, tmp_path / "out")).data)


def test_missing_midi_file_is_skipped(tmp_path):
    folder = write_maestro(tmp_path / "m", bad=False)
    missing = next(folder.glob("2009/*.midi"))
    missing.unlink()
    report = prepare(recipe_from_dict(recipe_dict(folder, tmp_path / "out", bpe=0)).data)
    assert len(report.skipped) == 1
    path, reason = report.skipped[0]
    assert path == str(missing) and "file not found" in reason
    assert report.pieces["train"] == (len(TRAIN_ROWS) - 1) * (1 + len(OFFSETS))
