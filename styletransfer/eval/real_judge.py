"""The real-or-generated judge: P(real) that a harmonization is Bach's own, in the spirit of "Bach or Mock".

The style judge (``eval/judge.py``) asks *whose* music a piece sounds like. This one asks a harder
question of a harmonized melody: is the accompaniment under this soprano the composer's own, or a fake?
It is a binary classifier trained on the composer's training chorales only (the catalog's training
split; validated on the validation split; the test split, the benchmark's melodies, is never read), each
chorale against fakes made from it (``eval/fakes.py``), so that the melodies of the real and the fake
pieces are the same:

- ``rule_based``: the rule-based triad harmonization of its soprano (``baselines.harmonize``);
- ``transposed``: the accompaniment (everything but the soprano, ``notes.split_melody``) of a passage
  (a random run of bars, 30% to all of the piece, as in the kinds below that say "a passage")
  transposed by ±1..±5 semitones under the untouched melody;
- ``shifted``: the accompaniment a beat early or late (cut to the melody's span);
- ``bass_walk``: the bass line of a passage (the lowest accompaniment note at each of its onsets)
  replaced by a random walk on the key's scale, in the bass's own range and rhythm;
- ``inner_moves``: 10% to 35% of the inner-voice notes (accompaniment notes above the bass) moved by ±1
  or ±2 semitones;
- ``bar_swap``: the accompaniment's bars shuffled under the melody's bars (each bar's own voice leading
  kept, its harmony no longer under its melody);
- ``octaves``: 15% to 40% of a passage's accompaniment notes an octave up or down (under the melody):
  wide leaps, a lost register;
- ``block_chords``: the figuration removed (what sounds at each beat held for the beat: no passing or
  neighbour notes);
- ``density``: an uneven texture: 10% to 30% of a passage's accompaniment notes dropped and as many
  octave doublings added.

A fake identical to its real piece (a chorale without figuration has no ``block_chords`` fake) is left
out. The judge has to tell harmony and voice leading, not one artefact. Real and fake rows are balanced by
sample weights (each real counts as many times as the fakes made from it).

It shares nothing with the generator (no tokenizer, no model): a piece is a pair (melody, accompaniment)
of note arrays (``eval/harmonized_pair.py``), and its features (``FEATURE_NAMES``,
``eval/harmony_features.py``) are the style judge's ``features`` of the whole texture (82, prefix
``style_``), the teacher's numbers (``theory.theory_rates``, prefix ``vl_``), Yeh et al.'s harmony metrics
(``harmony.harmony_metrics``, prefix ``yeh_``) and the harmony and voice leading histograms of
``harmony_features.harmony_features`` (prefix ``hv_``: melody–accompaniment and melody–bass interval classes
on the beats, chord qualities and inversions of the full texture per beat, root motion, bass motion and
bass degrees, outer-voice motion types, inner-voice smoothness, key agreement of melody and accompaniment,
rhythmic alignment). Every feature but the style judge's mean pitch is invariant to transposition.

The model is scikit-learn's (gradient boosting or a random forest, the better by validation AUC). It is
saved without a pickle: the training features, labels and weights as ``features.npz`` (read with
``allow_pickle=False``) and the model's name and parameters in ``real_judge.json``; ``load`` refits the
same model on the same rows (deterministic, a few seconds). A saved folder is data, never code.

    judge = RealJudge.train("data/music21")      # about two minutes on two cores
    judge.report                                 # validation accuracy, AUC, per fake kind, P(real)
    judge.p_real(output)                         # a two-track output (melody, accompaniment)
    judge.p_real(bach_score)                     # a one-track original: its top line is the melody
    judge.p_real(output, melody=melody)          # split by the input melody, as every metric does
    judge.save("runs/real-judge"); RealJudge.load("runs/real-judge")
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn import __version__ as sklearn_version
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import log_loss, roc_auc_score
from symusic import Score

from ..data.catalog import find_composer, load_catalog, select
from ..errors import UserError
from ..io import atomic_write_bytes, atomic_write_text, replace_dir
from ..tokens.tokenizer import load_score
from .fakes import FAKE_KINDS, MST, REAL, mst_fake_name, piece_pairs
from .harmonized_pair import Pair, pair_of
from .harmony_features import FEATURE_NAMES, pair_features
from .judge import one_openmp_thread, warn_if_refit_moved

COMPOSER = "Johann Sebastian Bach"
FEATURES_FILE = "features.npz"
META_FILE = "real_judge.json"
FORMAT_VERSION = 1
KINDS = (REAL, *FAKE_KINDS, MST)
HINT = "(train one with RealJudge.train or load_or_train_real_judge)"


# ------------------------------------------------------------------------------------- the dataset


def _piece_task(args: tuple[str, int, str | None]) -> tuple[list[tuple[int, np.ndarray]], str | None]:
    """([(kind index, features)] of a piece and its fakes, or [] and why it was skipped)."""
    path, seed, mst_fake = args
    try:
        rows = []
        for kind, pair in piece_pairs(path, seed, mst_fake):
            try:
                rows.append((KINDS.index(kind), pair_features(pair)))
            except UserError:
                if kind == REAL:
                    raise
        return rows, None
    except UserError as exc:
        return [], str(exc)
    except Exception as exc:  # noqa: BLE001 - a bad file never stops the whole run
        return [], f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:80]}"


class Rows(NamedTuple):
    X: np.ndarray
    kind: np.ndarray  # index into KINDS
    piece: np.ndarray  # index into the paths
    skipped: list[tuple[str, str]]

    @property
    def y(self) -> np.ndarray:
        return (self.kind == 0).astype(np.int8)

    @property
    def weight(self) -> np.ndarray:
        """Reals weighted by the number of fakes of their piece: real and fake weigh the same."""
        w = np.ones(len(self.kind))
        real = self.kind == 0
        fakes = np.bincount(self.piece[~real], minlength=int(self.piece.max(initial=0)) + 1)
        w[real] = np.maximum(fakes[self.piece[real]], 1)
        return w


def _workers(n_tasks: int, workers: int | None) -> int:
    return max(1, min(workers or os.cpu_count() or 1, n_tasks // 4 or 1))


def piece_rows(paths, seed: int = 0, workers: int | None = None, mst_fakes: dict[str, str] | None = None) -> Rows:
    """Features of every piece of ``paths`` and of its fakes, in parallel (a ProcessPoolExecutor);
    ``mst_fakes``: a piece's path -> mst's own harmonization of its tune (one more fake, kind ``MST``)."""
    paths = [str(p) for p in paths]
    tasks = [(p, seed, (mst_fakes or {}).get(p)) for p in paths]
    n = _workers(len(tasks), workers)
    if n <= 1:
        results = [_piece_task(t) for t in tasks]
    else:
        with ProcessPoolExecutor(n) as pool:
            results = list(pool.map(_piece_task, tasks, chunksize=4))
    X, kind, piece, skipped = [], [], [], []
    for i, (p, (rows, why)) in enumerate(zip(paths, results)):
        if why is not None:
            skipped.append((p, why))
        for k, x in rows:
            X.append(x), kind.append(k), piece.append(i)
    X = np.stack(X) if X else np.zeros((0, len(FEATURE_NAMES)))
    return Rows(X, np.array(kind, np.int8), np.array(piece, np.int32), skipped)


# ------------------------------------------------------------------------------------- the model

MODELS: dict[str, tuple[type, dict]] = {
    "gradient boosting": (HistGradientBoostingClassifier, {
        "max_iter": 150, "learning_rate": 0.1, "max_leaf_nodes": 15, "min_samples_leaf": 10, "l2_regularization": 1.0,
        "max_bins": 63, "early_stopping": False, "random_state": 0}),
    "random forest": (RandomForestClassifier, {
        "n_estimators": 300, "min_samples_leaf": 2, "max_features": "sqrt", "n_jobs": 1, "random_state": 0}),
}


def fit_model(name: str, X: np.ndarray, y: np.ndarray, w: np.ndarray, params: dict | None = None):
    """The named model fitted on (X, y, w): deterministic, so a refit on the same rows is the same model."""
    cls, defaults = MODELS[name]
    model = cls(**{**defaults, **(params or {})})
    with one_openmp_thread():  # gradient boosting spins on shared cores; one thread is deterministic
        model.fit(X, y, sample_weight=w)
    return model


def _p_real(model, X: np.ndarray) -> np.ndarray:
    with one_openmp_thread():  # gradient boosting spins on shared cores; one thread is deterministic
        P = model.predict_proba(X)
    return P[:, list(model.classes_).index(1)]


def evaluate(p: np.ndarray, rows: Rows) -> dict:
    """Validation numbers of P(real) ``p`` on ``rows``: balanced accuracy at 0.5, weighted AUC and log
    loss, accuracy and mean P(real) per kind."""
    y, w = rows.y, rows.weight
    out: dict = {"n": len(y), "n_real": int(y.sum())}
    if len(set(y.tolist())) == 2:
        out["auc"] = round(float(roc_auc_score(y, p, sample_weight=w)), 4)
        out["log_loss"] = round(float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), sample_weight=w)), 4)
    correct = (p >= 0.5) == (y == 1)
    out["accuracy"] = round(float((correct * w).sum() / w.sum()), 4) if len(y) else math.nan
    per_kind = {}
    for k, kind in enumerate(KINDS):
        m = rows.kind == k
        if m.any():
            per_kind[kind] = {"n": int(m.sum()), "accuracy": round(float(correct[m].mean()), 4),
                              "mean_p_real": round(float(p[m].mean()), 4)}
    out["per_kind"] = per_kind
    return out


def _mst_fakes(train: pd.DataFrame, folder: str | os.PathLike) -> dict[str, str]:
    """Training piece path -> its mst fake in ``folder``, for the pieces that have one; UserError for none."""
    folder = Path(os.path.expanduser(str(folder)))
    if not folder.is_dir():
        raise UserError(f"--mst-fakes: not a folder: {folder}")
    found = {str(path): str(folder / mst_fake_name(title)) for path, title in zip(train["midi"], train["title"])
             if (folder / mst_fake_name(title)).is_file()}
    if not found:
        raise UserError(f"--mst-fakes: {folder} holds no mst setting of a training piece "
                        "(scripts/harmonize_training_sopranos.py writes them)")
    return found


class RealJudge:
    """P(real) of a harmonization: the composer's own or a fake; ``report`` says how well it tells."""

    def __init__(self, model=None, model_name: str | None = None, rows: Rows | None = None,
                 report: dict | None = None):
        self.model = model
        self.model_name = model_name
        self.rows = rows  # the training rows: what ``save`` writes and ``load`` refits on
        self.report = report or {}

    # ---- training

    @classmethod
    def train(cls, data, composer: str = COMPOSER, seed: int = 0, workers: int | None = None,
              models=tuple(MODELS), mst_fakes: str | os.PathLike | None = None) -> RealJudge:
        """Fit on the composer's training pieces of ``data`` (a catalog folder, or a catalog table) and
        their fakes; pick the model by AUC on the validation pieces' (when there are any); report on them.
        The test split is never read. ``mst_fakes``: a folder of mst's own settings of training pieces'
        tunes (``fakes.mst_fake_name``; scripts/harmonize_training_sopranos.py), each one more fake."""
        started = time.time()
        models = tuple(models)
        unknown = [m for m in models if m not in MODELS]
        if unknown or not models:
            raise UserError(f"unknown model {', '.join(unknown) or '(none)'}; choose from {', '.join(MODELS)}")
        catalog = data if isinstance(data, pd.DataFrame) else load_catalog(data)
        if catalog.empty:
            raise UserError("the catalog lists no pieces")
        composer = find_composer(catalog, composer)
        train = select(catalog, composer, "train")
        train_paths = list(train["midi"])
        mst_paths = _mst_fakes(train, mst_fakes) if mst_fakes is not None else {}
        valid_paths = list(select(catalog, composer, "validation")["midi"])
        if not train_paths:
            raise UserError(f"no training pieces by {composer}")
        tr = piece_rows(train_paths, seed, workers, mst_paths)
        if int(tr.y.sum()) < 2:
            raise UserError(f"need at least two usable training pieces by {composer}; "
                            f"found {int(tr.y.sum())}")
        va = piece_rows(valid_paths, seed, workers) if valid_paths else None
        has_valid = va is not None and len(set(va.y.tolist())) == 2
        fitted, scores = {}, {}
        for name in models:
            fitted[name] = fit_model(name, tr.X, tr.y, tr.weight)
            if has_valid:
                scores[name] = evaluate(_p_real(fitted[name], va.X), va)
        if has_valid:
            # the best AUC; ties (both perfect on easy fakes): the lower log loss
            winner = max(models, key=lambda n: (scores[n]["auc"], -scores[n]["log_loss"]))
        else:
            winner = models[0]
        model = fitted[winner]
        train_eval = evaluate(_p_real(model, tr.X), tr)
        judge = cls(model, winner, tr)
        judge.report = {
            "composer": composer,
            "model": winner,
            "selection": {"split": "validation" if has_valid else None, "metric": "auc",
                          "scores": {n: {k: s.get(k) for k in ("auc", "accuracy", "log_loss")}
                                     for n, s in scores.items()}},
            "validation": scores.get(winner),
            "validation_all_models": scores,
            "train": {k: train_eval.get(k) for k in ("auc", "accuracy")},
            "p_real": _p_real_summary(scores.get(winner)),
            "n_train_pieces": int(tr.y.sum()), "n_train_rows": len(tr.y),
            "n_validation_pieces": int(va.y.sum()) if va is not None else 0,
            "fake_kinds": list(FAKE_KINDS) + ([MST] if mst_paths else []),
            "n_mst_fakes": len(mst_paths),
            "skipped": {"count": len(tr.skipped) + (len(va.skipped) if va else 0),
                        "examples": [f"{p}: {why}" for p, why in (tr.skipped + (va.skipped if va else []))[:10]]},
            "n_features": len(FEATURE_NAMES),
            "seed": int(seed),
            "sklearn_version": sklearn_version,
            "seconds": round(time.time() - started, 1),
        }
        return judge

    # ---- judging

    def _check(self):
        if self.model is None:
            raise UserError(f"the real-or-generated judge is not trained {HINT}")

    def p_real(self, score: Score | str | os.PathLike, melody: Score | None = None) -> float:
        """P(real) of a harmonization: a Score (or a MIDI path) with track 0 the melody and track 1 the
        accompaniment, or a one-track original (its top line is the melody); with ``melody``, the notes
        are split by it instead (``notes.split_melody``). UserError for an unusable piece."""
        self._check()
        if not isinstance(score, Score):
            score = load_score(score)
        return float(_p_real(self.model, pair_features(pair_of(score, melody))[None, :])[0])

    def p_real_many(self, scores, melodies=None, workers: int | None = None) -> list[float]:
        """``p_real`` of many Scores (features in parallel); nan where a piece is unusable."""
        self._check()
        scores = list(scores)
        melodies = list(melodies) if melodies is not None else [None] * len(scores)
        pairs = []
        for s, m in zip(scores, melodies):
            try:
                pairs.append(pair_of(s if isinstance(s, Score) else load_score(s), m))
            except UserError:
                pairs.append(None)
        ok = [i for i, p in enumerate(pairs) if p is not None]
        n = _workers(len(ok), workers)
        todo = [pairs[i] for i in ok]
        if n <= 1:
            feats = [_features_or_none(p) for p in todo]
        else:
            with ProcessPoolExecutor(n) as pool:
                feats = list(pool.map(_features_or_none, todo, chunksize=4))
        out = [math.nan] * len(scores)
        good = [(i, f) for i, f in zip(ok, feats) if f is not None]
        if good:
            p = _p_real(self.model, np.stack([f for _, f in good]))
            for (i, _), v in zip(good, p):
                out[i] = float(v)
        return out

    # ---- files

    def save(self, folder: str | os.PathLike) -> Path:
        """Write features.npz (the training rows) and real_judge.json into ``folder`` (created; files
        replaced atomically). No pickle: ``load`` refits the model from them."""
        self._check()
        if self.rows is None:
            raise UserError("this judge has no training rows to save")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{FEATURES_FILE}.tmp{os.getpid()}.npz"
        try:
            np.savez_compressed(tmp, X=self.rows.X.astype(np.float64), kind=self.rows.kind.astype(np.int8),
                                piece=self.rows.piece.astype(np.int32))
            data = tmp.read_bytes()
        finally:
            tmp.unlink(missing_ok=True)
        atomic_write_bytes(folder / FEATURES_FILE, data)
        check_rows = self.rows.X[:8]
        meta = {"format_version": FORMAT_VERSION, "model": self.model_name,
                "params": MODELS[self.model_name][1], "kinds": list(KINDS), "feature_names": list(FEATURE_NAMES),
                "features_sha256": hashlib.sha256(data).hexdigest(),
                "check_p_real": [float(v) for v in _p_real(self.model, check_rows)],
                "sklearn_version": sklearn_version, "report": self.report}
        atomic_write_text(folder / META_FILE, json.dumps(meta, indent=1, ensure_ascii=False))
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> RealJudge:
        """A saved judge: its rows read without pickles (``allow_pickle=False``), the model refitted."""
        folder = Path(os.path.expanduser(str(folder)))
        if not folder.is_dir():
            raise UserError(f"real-or-generated judge not found: {folder} {HINT}")
        for name in (META_FILE, FEATURES_FILE):
            if not (folder / name).is_file():
                raise UserError(f"{folder}: not a real-or-generated judge, {name} is missing {HINT}")
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            names, kinds, model_name = list(meta["feature_names"]), list(meta["kinds"]), str(meta["model"])
            params, digest = dict(meta["params"]), str(meta["features_sha256"])
        except Exception as exc:  # noqa: BLE001
            raise UserError(f"{folder / META_FILE}: corrupt ({type(exc).__name__}) {HINT}") from None
        if meta.get("format_version") != FORMAT_VERSION or names != list(FEATURE_NAMES) or kinds != list(KINDS):
            raise UserError(f"{folder}: this judge was trained with other features; retrain it {HINT}")
        if model_name not in MODELS or params != MODELS[model_name][1]:
            raise UserError(f"{folder / META_FILE}: unknown model {model_name!r} or parameters {HINT}")
        data = (folder / FEATURES_FILE).read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise UserError(f"{folder / FEATURES_FILE}: corrupt (its checksum does not match {META_FILE}) {HINT}")
        try:
            with np.load(folder / FEATURES_FILE, allow_pickle=False) as z:
                X, kind, piece = z["X"], z["kind"], z["piece"]
            X = np.asarray(X, np.float64)
            kind, piece = np.asarray(kind, np.int8), np.asarray(piece, np.int32)
            if X.ndim != 2 or X.shape[1] != len(FEATURE_NAMES) or not (len(X) == len(kind) == len(piece)):
                raise ValueError("shapes do not match")
            if not np.isfinite(X).all() or kind.min() < 0 or kind.max() >= len(KINDS) or len(set(kind.tolist())) < 2:
                raise ValueError("bad values")
        except Exception as exc:  # noqa: BLE001
            raise UserError(f"{folder / FEATURES_FILE}: corrupt ({type(exc).__name__}) {HINT}") from None
        rows = Rows(X, kind, piece, [])
        model = fit_model(model_name, X, rows.y, rows.weight)
        saved = meta.get("check_p_real") or []
        warn_if_refit_moved(folder, meta, saved, _p_real(model, X[:len(saved)]), "P(real)", 1e-6)
        return cls(model, model_name, rows, meta.get("report") or {})


def _features_or_none(pair: Pair) -> np.ndarray | None:
    try:
        return pair_features(pair)
    except UserError:
        return None


def _p_real_summary(validation: dict | None) -> dict:
    """Mean P(real) of the validation reals and of the rule-based harmonizer on the validation sopranos."""
    if not validation:
        return {}
    per = validation.get("per_kind", {})
    return {"validation_real": per.get(REAL, {}).get("mean_p_real"),
            "validation_rule_based": per.get("rule_based", {}).get("mean_p_real")}


def train_real_judge(data_folder: str | os.PathLike, out_folder: str | os.PathLike, force: bool = False,
                     workers: int | None = None, composer: str = COMPOSER, models=tuple(MODELS),
                     mst_fakes: str | os.PathLike | None = None) -> dict:
    """Train a judge on a catalog folder and save it to ``out_folder``; return its report. Refuses to
    replace an existing judge without ``force``; the folder appears complete or not at all. ``models``:
    the candidates (``MODELS``' names), e.g. ``("random forest",)`` for its less extreme probabilities."""
    out = Path(os.path.expanduser(str(out_folder)))
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise UserError(f"{out} already exists (use --force to replace it)")
    judge = RealJudge.train(data_folder, composer=composer, workers=workers, models=models, mst_fakes=mst_fakes)
    judge.report["data"] = str(Path(os.path.expanduser(str(data_folder))).resolve())
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        judge.save(tmp)
        replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return judge.report


def load_or_train_real_judge(folder: str | os.PathLike, data: str | os.PathLike,
                             say: Callable[[str], None] = print) -> RealJudge:
    """The judge saved at ``folder``; trained there on ``data``'s training split when missing."""
    folder = Path(os.path.expanduser(str(folder)))
    if not (folder / META_FILE).exists():
        say(f"no real-or-generated judge at {folder}: training one on {data} (about two minutes)")
        train_real_judge(data, folder, force=True)
    return RealJudge.load(folder)


def format_real_report(report: dict) -> str:
    """The report as Markdown: the model choice, validation AUC and accuracy, and each kind's accuracy
    and mean P(real)."""
    sel = (report.get("selection") or {}).get("scores") or {}
    lines = [f"Real-or-generated judge ({report.get('composer', '?')}): **{report.get('model', '?')}**"
             + (" (validation AUC: " + ", ".join(f"{n} {s['auc']:.4f}" for n, s in sel.items()) + ")" if sel else
                " (no validation split: default model)"), ""]
    lines.append(f"{report.get('n_features', len(FEATURE_NAMES))} features; {report.get('n_train_pieces', 0)} "
                 f"training pieces ({report.get('n_train_rows', 0)} rows with their fakes), "
                 f"{report.get('n_validation_pieces', 0)} validation pieces; "
                 f"{(report.get('skipped') or {}).get('count', 0)} unusable files skipped.")
    val = report.get("validation")
    if not val:
        return "\n".join(lines) + "\n"
    lines += ["", "| validation AUC | validation accuracy (balanced) | log loss |", "|---:|---:|---:|",
              f"| {val.get('auc', math.nan):.3f} | {val['accuracy']:.3f} | {val.get('log_loss', math.nan):.3f} |", "",
              "| kind | validation pieces | accuracy | mean P(real) |", "|---|---:|---:|---:|"]
    for kind, v in val["per_kind"].items():
        lines.append(f"| {kind} | {v['n']} | {v['accuracy']:.3f} | {v['mean_p_real']:.3f} |")
    return "\n".join(lines) + "\n"
