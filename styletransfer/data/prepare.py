"""Prepared data: augmented training split, BPE tokenizer and the token cache.

``prepare`` turns a catalog into a folder holding everything training needs:

    <out>/tokenizer.json            miditok, BPE trained on the training split
    <out>/catalog.csv               the catalog the cache was built from
    <out>/augmented/...             pitch/velocity/duration-shifted copies of training pieces only
    <out>/cache/<split>.npz-like    token ids (.npy, memory-mapped) + piece and bar offsets
    <out>/cache/manifest.json       cache key, counts, skipped files and why

Splits come first and augmentation only touches the training split, so no shifted copy of a
validation or test piece can leak into training.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from miditok.data_augmentation import augment_score
from tqdm import tqdm

from ..config import DataConfig, resolve_data_path
from ..errors import UserError
from ..io import atomic_write_text, inside, replace_dir
from ..keys import reference_shift
from ..tokens import tokenizer as tk
from ..tokens.parts import note_arrays
from ..tokens.skyline import melody_per_bar
from .catalog import SPLITS, load_catalog

# 2: Chord tokens (tokenizer.MstTSD detected none before), skyline across bar lines; 3: skyline times a Rest
# from the end of the sounding notes, as miditok does; 4: parts (a Program token per note, tokens/parts.py)
CACHE_VERSION = 4
MIN_TOKENS = 4  # fewer base tokens than this means no note in the piano range survived


# Piece table columns, one row per cached piece (originals and augmented copies).
PIECE_COLUMNS = ("row", "augmented", "tex_start", "tex_end", "tex_bar0", "mel_start", "mel_end", "mel_bar0", "n_bars")
_worker_tokenizer = None
_worker_types = None


def _init_worker(parts: bool = True):
    global _worker_tokenizer, _worker_types
    warnings.filterwarnings("ignore")
    _worker_tokenizer = tk.build_tokenizer(parts)
    _worker_types = _worker_tokenizer.grammar  # the skyline's base-token tables: the same before and after BPE


def _variants(score, split: str, augment, out_dir: str | None, rel: str):
    """The piece itself, plus its augmented copies when it is a training piece."""
    yield 0, score
    if split != "train" or out_dir is None:
        return
    notes = note_arrays(score.tracks)
    low, high = int(notes["pitch"].min()), int(notes["pitch"].max())
    offsets = [(p, 0, 0.0) for p in augment["pitch"] if 21 <= low + p and high + p <= 108]
    offsets += [(0, v, 0.0) for v in augment["velocity"]] + [(0, 0, d) for d in augment["duration"]]
    for pitch, velocity, duration in offsets:
        copy = augment_score(score, pitch_offset=pitch, velocity_offset=velocity, duration_offset=duration)
        target = Path(out_dir) / f"{rel}.p{pitch:+d}v{velocity:+d}d{duration:+g}.mid"
        if not inside(target, out_dir):  # the catalog keeps rows inside
            raise UserError(f"{rel}: its augmented copy would be written outside {out_dir}")
        target.parent.mkdir(parents=True, exist_ok=True)
        copy.dump_midi(str(target))
        yield 1, copy


def to_reference_key(score):
    """The score moved to C major or A minor (its estimated key, keys.reference_shift); None if that
    leaves the piano range."""
    notes = note_arrays(score.tracks)
    shift = reference_shift(notes["pitch"], notes["duration"])
    return None if shift is None else score.shift_pitch(shift)


def encode_file(task):
    """(row, path, split, augment, augmented_dir, rel, key_normalize) -> (row, [(augmented, bars, melody_bars)],
    error)."""
    row, path, split, augment, out_dir, rel, key_normalize = task
    tok = _worker_tokenizer
    try:
        score = tk.normalize_score(tk.load_score(path), tok)
        score = tok.preprocess_score(score)
        if not sum(len(t.notes) for t in score.tracks):
            return row, [], "no notes in the piano range"
        if key_normalize and (score := to_reference_key(score)) is None:
            return row, [], "its transposition to C major / A minor leaves the piano range"
        out = []
        for augmented, variant in _variants(score, split, augment, out_dir, rel):
            # the piece itself is preprocessed already; shifted copies may leave the grid/bins
            bars = [np.asarray(b, np.int16) for b in tk.base_ids_per_bar(tok, variant, preprocessed=not augmented)]
            if sum(len(b) for b in bars) >= MIN_TOKENS:
                out.append((augmented, bars, melody_per_bar(bars, _worker_types)))
        return row, out, None if out else "no notes in the piano range"
    except UserError as exc:
        return row, [], str(exc)
    except Exception as exc:  # a corrupt file must not stop the whole dataset
        return row, [], f"unreadable ({type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''})"


def encode_files(tasks: list, workers: int, desc: str = "encoding", parts: bool = True):
    """Encode files in parallel with a progress bar; results in task order (``parts``: the tokenizer writes
    each note's part)."""
    workers = workers or os.cpu_count() or 1
    bar = tqdm(total=len(tasks), desc=desc, unit="file", dynamic_ncols=True, disable=None)
    results = []
    if workers == 1:
        _init_worker(parts)
        for task in tasks:
            results.append(encode_file(task))
            bar.update()
    else:
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(parts,)) as pool:
            for result in pool.map(encode_file, tasks, chunksize=4):
                results.append(result)
                bar.update()
    bar.close()
    return results


@dataclass
class PrepareReport:
    out: Path
    cached: bool
    seconds: float
    pieces: dict = field(default_factory=dict)  # split -> pieces (augmented copies included)
    tokens: dict = field(default_factory=dict)  # split -> texture tokens
    skipped: list = field(default_factory=list)  # (path, reason)
    vocab_size: int = 0
    warnings: list = field(default_factory=list)  # e.g. an empty split


def cache_key(catalog: pd.DataFrame, data: DataConfig) -> str:
    """Changes when the data, the tokenizer configuration or the preparation settings change."""
    h = hashlib.sha256()
    h.update(json.dumps({"v": CACHE_VERSION, "tsd": repr(tk.TSD_PARAMS),
                         "parts": repr(tk.PART_PARAMS), "special": tk.SPECIAL_TOKENS,
                         "bpe": data.bpe_vocab_size, "augment": data.augment.model_dump(),
                         "key_normalize": data.key_normalize}).encode())
    if data.tokenizer:
        h.update(Path(resolve_data_path(data.tokenizer)).read_bytes() if Path(resolve_data_path(data.tokenizer)).is_file()
                 else str(data.tokenizer).encode())
    for path, split, composer in zip(catalog["midi"], catalog["split"], catalog["composer"]):
        st = os.stat(path) if os.path.exists(path) else None
        h.update(f"{path}|{split}|{composer}|{st.st_size if st else -1}|{st.st_mtime_ns if st else -1}\n".encode())
    return h.hexdigest()[:16]


def source_catalog(data: DataConfig) -> pd.DataFrame:
    return load_catalog(resolve_data_path(data.path))


def prepare(data: DataConfig, out: str | os.PathLike | None = None, force: bool = False) -> PrepareReport:
    """Build (or find up to date) the tokenizer and token cache for ``data``."""
    started = time.time()
    out = Path(out or data.out)
    catalog = source_catalog(data)
    if catalog.empty:
        raise UserError(f"{data.path}: the catalog lists no pieces")
    key = cache_key(catalog, data)
    manifest_path = out / "cache" / "manifest.json"
    if not force and manifest_path.exists() and (out / tk.TOKENIZER_FILE).exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("key") == key:
            return _report(out, manifest, cached=True, seconds=time.time() - started)

    out.mkdir(parents=True, exist_ok=True)
    augmented_dir = out / "augmented"
    shutil.rmtree(augmented_dir, ignore_errors=True)  # ours alone: regenerated from the source
    root = Path(os.path.commonpath(list(catalog["midi"]))) if len(catalog) > 1 else Path(catalog["midi"].iloc[0]).parent
    augment = {"pitch": data.augment.pitch_offsets, "velocity": data.augment.velocity_offsets,
               "duration": data.augment.duration_offsets}
    tasks = [(i, path, split, augment, str(augmented_dir), Path(path).relative_to(root).with_suffix("").as_posix(),
              data.key_normalize)
             for i, (path, split) in enumerate(zip(catalog["midi"], catalog["split"]))]
    reused = tk.load_tokenizer(resolve_data_path(data.tokenizer)) if data.tokenizer else None
    results = encode_files(tasks, data.workers, parts=tk.uses_parts(reused) if reused is not None else True)
    # the catalog's own refusals (rows outside the dataset folder, bad paths, durations) come first
    skipped = list(catalog.attrs.get("problems", [])) + [(catalog["midi"][row], reason) for row, _, reason in results
                                                          if reason]

    train_bars = [bars for row, variants, _ in results if catalog["split"][row] == "train"
                  for augmented, bars, _ in variants if not augmented]
    if not train_bars:
        raise UserError(f"{data.path}: no usable training piece (all {len(skipped)} files skipped)")
    if reused is not None:  # reuse a trained tokenizer (e.g. a base model's) instead of training BPE
        tokenizer = reused
    else:
        tokenizer = tk.build_tokenizer()
        tk.train_bpe(tokenizer, train_bars, data.bpe_vocab_size)
    types = tokenizer.grammar

    tmp = out / f".cache.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    counts = {}
    for split in SPLITS:
        counts[split] = _write_split(tmp, split, tokenizer, types, catalog, results)
    empty = [split for split in SPLITS if counts[split]["pieces"] == 0]
    manifest = {"key": key, "vocab_size": len(tokenizer), "splits": counts, "skipped": skipped,
                "warnings": [f"the {split} split is empty" + (": nothing to measure the training by"
                                                             if split == "validation" else "") for split in empty],
                "source": str(resolve_data_path(data.path)), "built": time.strftime("%Y-%m-%d %H:%M:%S")}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    tokenizer.save(out / f".{tk.TOKENIZER_FILE}.tmp")
    os.replace(out / f".{tk.TOKENIZER_FILE}.tmp", out / tk.TOKENIZER_FILE)
    catalog_out = catalog.assign(composers=catalog["composers"].map(" / ".join))
    atomic_write_text(out / "catalog.csv", catalog_out.to_csv(index=False))
    replace_dir(tmp, out / "cache")
    return _report(out, manifest, cached=False, seconds=time.time() - started)


def _write_split(folder: Path, split: str, tokenizer, types, catalog, results) -> dict:
    variants = [(row, augmented, bars, melody) for row, found, _ in results if catalog["split"][row] == split
                for augmented, bars, melody in found]
    textures = tk.bpe_encode_pieces(tokenizer, [v[2] for v in variants])
    melodies = tk.bpe_encode_pieces(tokenizer, [v[3] for v in variants])
    tex_ids, mel_ids, tex_bars, mel_bars, pieces = [], [], [], [], []
    n_tex = n_mel = n_tex_bars = n_mel_bars = 0
    for (row, augmented, bars, _), (t_ids, t_starts), (m_ids, m_starts) in zip(variants, textures, melodies):
        pieces.append((row, augmented, n_tex, n_tex + len(t_ids), n_tex_bars, n_mel, n_mel + len(m_ids),
                       n_mel_bars, len(bars)))
        tex_ids.append(t_ids), mel_ids.append(m_ids)
        tex_bars.append(t_starts + n_tex), mel_bars.append(m_starts + n_mel)
        n_tex, n_mel = n_tex + len(t_ids), n_mel + len(m_ids)
        n_tex_bars, n_mel_bars = n_tex_bars + len(bars), n_mel_bars + len(bars)
    dtype = np.uint16 if len(tokenizer) < 2**16 else np.int32

    def cat(parts, dt):
        return np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt)

    np.save(folder / f"{split}.texture.npy", cat(tex_ids, dtype))
    np.save(folder / f"{split}.melody.npy", cat(mel_ids, dtype))
    np.save(folder / f"{split}.texture_bars.npy", cat(tex_bars, np.int64))
    np.save(folder / f"{split}.melody_bars.npy", cat(mel_bars, np.int64))
    np.save(folder / f"{split}.pieces.npy", np.asarray(pieces, np.int64).reshape(-1, len(PIECE_COLUMNS)))
    return {"pieces": len(pieces), "originals": sum(1 for p in pieces if not p[1]), "tokens": int(n_tex),
            "melody_tokens": int(n_mel)}


def _report(out: Path, manifest: dict, cached: bool, seconds: float) -> PrepareReport:
    splits = manifest["splits"]
    return PrepareReport(out=out, cached=cached, seconds=seconds,
                         pieces={s: splits[s]["pieces"] for s in splits},
                         tokens={s: splits[s]["tokens"] for s in splits},
                         skipped=[tuple(x) for x in manifest["skipped"]], vocab_size=manifest["vocab_size"],
                         warnings=list(manifest.get("warnings", [])))


class TokenCache:
    """One split of a prepared folder, memory-mapped: texture and melody ids per piece and bar."""

    def __init__(self, folder: str | os.PathLike, split: str):
        self.folder = Path(folder)
        cache = self.folder / "cache"
        if not (cache / "manifest.json").exists():
            raise UserError(f"{self.folder}: no token cache (run `mst data prepare` first)")
        self.split = split
        self.texture = np.load(cache / f"{split}.texture.npy", mmap_mode="r")
        self.melody = np.load(cache / f"{split}.melody.npy", mmap_mode="r")
        self.texture_bars = np.load(cache / f"{split}.texture_bars.npy")
        self.melody_bars = np.load(cache / f"{split}.melody_bars.npy")
        self.pieces = pd.DataFrame(np.load(cache / f"{split}.pieces.npy"), columns=list(PIECE_COLUMNS))
        self.catalog = pd.read_csv(self.folder / "catalog.csv", keep_default_na=False)
        self.catalog["composers"] = self.catalog["composers"].map(lambda s: tuple(s.split(" / ")))

    def __len__(self) -> int:
        return len(self.pieces)

    def piece_texture(self, i: int) -> np.ndarray:
        p = self.pieces.iloc[i]
        return np.asarray(self.texture[p.tex_start:p.tex_end])

    def piece_melody(self, i: int) -> np.ndarray:
        p = self.pieces.iloc[i]
        return np.asarray(self.melody[p.mel_start:p.mel_end])

    def bar_spans(self, i: int, stream: str = "texture") -> np.ndarray:
        """[n_bars + 1] positions (into the flat stream) where piece i's bars start, plus its end."""
        p = self.pieces.iloc[i]
        bars = self.texture_bars if stream == "texture" else self.melody_bars
        first = p.tex_bar0 if stream == "texture" else p.mel_bar0
        end = p.tex_end if stream == "texture" else p.mel_end
        return np.append(bars[first:first + p.n_bars], end)

    def pieces_of(self, composer: str, originals_only: bool = False) -> np.ndarray:
        """Indices of the cached pieces by ``composer`` (joint works included)."""
        rows = self.catalog["composers"].map(lambda names: composer in names).to_numpy()
        mask = rows[self.pieces["row"].to_numpy()]
        if originals_only:
            mask &= self.pieces["augmented"].to_numpy() == 0
        return np.flatnonzero(mask)
