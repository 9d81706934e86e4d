"""An independent style judge: a composer classifier on symbolic features.

It shares nothing with the generator (no tokenizer, no model): it reads MIDI with symusic, describes a
piece with ~80 key-invariant numbers (pitch-class and interval histograms, rhythm, polyphony, register,
metre), and a scikit-learn classifier trained on the catalog's training split turns them into
P(composer). So it can judge what the generator writes.

    judge = StyleJudge().train(load_catalog("data/music21"))
    judge.report                       # test-split accuracy, balanced accuracy, confusion matrix
    judge.proba("out.mid")             # {"Johann Sebastian Bach": 0.91, ...}
    judge.save("runs/judge"); StyleJudge.load("runs/judge")

All features are in quarter notes (score.ticks_per_quarter), never seconds, tempo or velocity: the
bundled corpus has one velocity and a fixed tempo. Every non-drum track is merged, so a two-track
generated piece (Melody + Accompaniment) is read as the one piano part it sounds like.
"""
from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import __version__ as sklearn_version
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ..data.catalog import find_composer, load_catalog
from ..errors import UserError
from ..io import atomic_write_text, replace_dir
from ..tokens.tokenizer import load_score
from ..keys import key_correlations

OTHER = "other"
FEATURES_FILE = "features.npz"  # the training rows: the judge is saved as data and refitted on load
META_FILE = "judge.json"
FORMAT_VERSION = 2  # 1 pickled the model with joblib: a planted folder could run code
CHECK_ROWS = 8  # training rows whose P(composer) is saved, to tell whether a refit is the same model

# Melodic interval bins (semitones, absolute): each entry is the set of sizes counted in the bin.
TOP_BINS = [("0", (0,)), ("1", (1,)), ("2", (2,)), ("3", (3,)), ("4", (4,)), ("5", (5,)), ("6", (6,)),
            ("7", (7,)), ("8_9", (8, 9)), ("10_11", (10, 11)), ("12", (12,)), ("gt12", None)]
BASS_BINS = [("repeat", (0,)), ("step", (1, 2)), ("third", (3, 4)), ("fourth_fifth", (5, 7)), ("tritone", (6,)),
             ("sixth_seventh", (8, 9, 10, 11)), ("octave", (12,)), ("gt12", None)]
# Duration / inter-onset bins: log2(quarters) rounded, so a bin per note value (32nd and shorter ... longer
# than a whole note).
TIME_BINS = ("le32nd", "16th", "8th", "quarter", "half", "whole", "gt_whole")
_TIME_EDGES = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])

FEATURE_NAMES: tuple[str, ...] = tuple(
    [f"pc_{i}" for i in range(12)] + ["key_minor", "key_clarity"]
    + [f"top_int_{name}" for name, _ in TOP_BINS] + ["top_up_share"]
    + [f"bass_int_{name}" for name, _ in BASS_BINS]
    + [f"vert_above_bass_{i}" for i in range(12)] + ["vert_dissonance"]
    + [f"dur_{name}" for name in TIME_BINS] + ["dur_dotted", "dur_triplet"]
    + [f"ioi_{name}" for name in TIME_BINS]
    + ["poly_mean", "poly_1", "poly_2", "poly_3", "poly_4", "poly_5plus", "silence_share"]
    + ["pitch_mean", "pitch_std", "pitch_range"]
    + ["notes_per_quarter", "onsets_per_quarter", "notes_per_onset"]
    + ["onset_beat", "onset_eighth", "onset_sixteenth", "onset_downbeat", "syncopation"]
)
# Features that follow the register, so a transposition moves them; every other one is key-invariant.
REGISTER_FEATURES = ("pitch_mean",)


# ---------------------------------------------------------------- features


def _norm(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, np.float64)
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts)


def _interval_hist(intervals: np.ndarray, bins) -> np.ndarray:
    sizes = np.abs(intervals)
    out = np.zeros(len(bins))
    covered = np.zeros(len(sizes), bool)
    for i, (_, members) in enumerate(bins):
        if members is not None:
            hit = np.isin(sizes, members)
            out[i] = hit.sum()
            covered |= hit
    out[[i for i, (_, m) in enumerate(bins) if m is None]] = (~covered).sum()
    return _norm(out)


def _time_hist(quarters: np.ndarray) -> np.ndarray:
    if not len(quarters):
        return np.zeros(len(TIME_BINS))
    bins = np.searchsorted(_TIME_EDGES, np.log2(np.maximum(quarters, 1e-6)), side="right")
    return _norm(np.bincount(bins, minlength=len(TIME_BINS)))


def _key(pc_hist: np.ndarray) -> tuple[int, bool, float]:
    """(tonic, minor, clarity) of the best-correlated Krumhansl-Kessler key; clarity is its correlation."""
    scores = key_correlations(pc_hist)
    best = int(np.argmax(scores))
    return best % 12, best >= 12, float(scores[best])


def _note_arrays(score) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Onsets and ends in ticks, pitches, and ticks per quarter, of every non-drum track merged."""
    if "tick" not in str(score.ttype).lower():
        score = score.to("tick")
    tpq = int(score.ticks_per_quarter) or 480
    parts = [t.notes.numpy() for t in score.tracks if not t.is_drum and len(t.notes)]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), tpq
    start = np.concatenate([p["time"] for p in parts]).astype(np.int64)
    dur = np.maximum(np.concatenate([p["duration"] for p in parts]).astype(np.int64), 1)
    pitch = np.clip(np.concatenate([p["pitch"] for p in parts]).astype(np.int64), 0, 127)
    order = np.lexsort((pitch, start))
    return start[order], (start + dur)[order], pitch[order], tpq


def _first_bar_quarters(score) -> float:
    if len(score.time_signatures):
        ts = score.time_signatures[0]
        if ts.numerator > 0 and ts.denominator > 0:
            return ts.numerator * 4 / ts.denominator
    return 4.0


def features(score) -> np.ndarray:
    """The feature vector (len(FEATURE_NAMES) floats) of a symusic Score; UserError when it has no notes."""
    start, end, pitch, tpq = _note_arrays(score)
    if not len(start):
        raise UserError("no notes outside drum tracks")
    bar_q = _first_bar_quarters(score)
    q_dur = (end - start) / tpq
    first, last = start.min(), end.max()
    span_q = max((last - first) / tpq, 1e-6)

    # Time slices: between consecutive distinct onsets/ends, with the pitches sounding in each.
    cuts = np.unique(np.concatenate([start, end]))
    n_slices = len(cuts) - 1
    s_idx = np.searchsorted(cuts, start)
    e_idx = np.searchsorted(cuts, end)
    roll = np.zeros((n_slices + 1, 128), np.int32)
    np.add.at(roll, (s_idx, pitch), 1)
    np.add.at(roll, (e_idx, pitch), -1)
    roll = np.cumsum(roll, axis=0)[:-1] > 0  # [slice, pitch] sounding
    attacked = np.zeros((n_slices, 128), bool)
    attacked[s_idx, pitch] = True
    slice_q = np.diff(cuts) / tpq
    voices = roll.sum(axis=1)
    sounding = voices > 0

    # Pitch classes, duration-weighted, seen from the tonic of the best-matching key.
    pc_hist = _norm(np.bincount(pitch % 12, weights=q_dur, minlength=12))
    tonic, minor, clarity = _key(pc_hist)
    pc_rot = np.roll(pc_hist, -tonic)

    # Top line and bass: the highest / lowest sounding pitch, a new event when it changes or is re-struck.
    idx = np.arange(128)
    top = np.where(roll, idx, -1).max(axis=1)[sounding]
    bass = np.where(roll, idx, 128).min(axis=1)[sounding]
    att = attacked[sounding]

    def line_intervals(line):
        if len(line) < 2:
            return np.zeros(0, np.int64)
        rows = np.arange(len(line))
        new = np.ones(len(line), bool)
        new[1:] = (line[1:] != line[:-1]) | att[rows[1:], line[1:]]
        events = line[new]
        return np.diff(events)

    top_iv, bass_iv = line_intervals(top), line_intervals(bass)
    moves = top_iv[top_iv != 0]
    top_up = float((moves > 0).mean()) if len(moves) else 0.5

    # Vertical intervals: each sounding pitch above the bass, as a pitch class (0 = bass doubled in octaves).
    w = slice_q[sounding]
    rows = roll[sounding]
    pc_counts = np.zeros((len(rows), 12))
    for pc in range(12):
        pc_counts[:, pc] = rows[:, pc::12].sum(axis=1)
    above = pc_counts[np.arange(len(rows))[:, None], (np.arange(12)[None, :] + (bass % 12)[:, None]) % 12]
    above[:, 0] -= 1  # the bass itself
    vert = _norm((above * w[:, None]).sum(axis=0))
    present = pc_counts > 0
    dissonant = np.zeros(len(rows), bool)
    for ic in (1, 2, 6):  # minor/major seconds (and their sevenths), tritones
        dissonant |= (present & np.roll(present, -ic, axis=1)).any(axis=1)
    vert_diss = float((w * dissonant).sum() / w.sum()) if w.sum() > 0 else 0.0

    # Rhythm: note values and the gaps between distinct onsets, in quarters.
    onsets = np.unique(start)
    ioi = np.diff(onsets) / tpq
    dur_hist = _time_hist(q_dur)
    grid = q_dur * 12  # in 48th notes: dotted values are 3 * 2^k of them, triplets not divisible by 3
    whole = np.abs(grid - np.round(grid)) < 0.05
    g = np.round(grid).astype(np.int64)
    dotted = whole & (g % 9 == 0) & (g > 0) & (((g // 9) & (g // 9 - 1)) == 0)  # 3/4, 3/2, 3 ... quarters
    triplet = whole & (g % 3 != 0)

    # Polyphony: distinct pitches sounding, over the time something sounds.
    sound_q = slice_q[sounding].sum()
    v = voices[sounding]
    poly_mean = float((v * slice_q[sounding]).sum() / sound_q) if sound_q > 0 else 0.0
    poly = [float(slice_q[sounding][(v == k) if k < 5 else (v >= 5)].sum() / sound_q) if sound_q > 0 else 0.0
            for k in range(1, 6)]
    silence = float(1 - sound_q / span_q) if span_q > 0 else 0.0

    # Metre: where onsets fall in the beat and the bar; syncopation = an off-beat note held over the next beat.
    frac = (onsets % tpq) / tpq
    tol = 1 / 24

    def near(x, target):
        return np.abs(x - target) < tol

    on_beat = near(frac, 0) | near(frac, 1)
    on_eighth = near(frac, 0.5)
    on_16th = near(frac, 0.25) | near(frac, 0.75)
    bar_ticks = bar_q * tpq
    bar_pos = onsets % bar_ticks / tpq
    downbeat = near(bar_pos, 0) | near(bar_pos, bar_q)
    note_frac = (start % tpq) / tpq
    offbeat = ~(near(note_frac, 0) | near(note_frac, 1))
    next_beat = (start // tpq + 1) * tpq
    syncop = float((offbeat & (end > next_beat + tpq * tol)).mean())

    out = np.concatenate([
        pc_rot, [float(minor), clarity],
        _interval_hist(top_iv, TOP_BINS), [top_up],
        _interval_hist(bass_iv, BASS_BINS),
        vert, [vert_diss],
        dur_hist, [float(dotted.mean()), float(triplet.mean())],
        _time_hist(ioi),
        [poly_mean, *poly, silence],
        [float(pitch.mean()), float(pitch.std()), float(pitch.max() - pitch.min())],
        [len(pitch) / span_q, len(onsets) / span_q, len(pitch) / len(onsets)],
        [float(on_beat.mean()), float(on_eighth.mean()), float(on_16th.mean()), float(downbeat.mean()), syncop],
    ]).astype(np.float64)
    assert len(out) == len(FEATURE_NAMES)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def _features_task(path: str) -> tuple[np.ndarray | None, str | None]:
    """(features, None) or (None, why it was skipped): a bad file never stops the whole run."""
    try:
        return features(load_score(path)), None
    except UserError as exc:
        return None, str(exc)
    except Exception as exc:
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''}"


def extract_features(paths, workers: int | None = None) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """(X of the usable files, boolean mask of which paths were usable, [(path, why)] of those skipped)."""
    paths = [str(p) for p in paths]
    workers = min(workers or os.cpu_count() or 1, max(len(paths) // 8, 1))
    if workers <= 1:
        results = [_features_task(p) for p in paths]
    else:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_features_task, paths, chunksize=16))
    ok = np.array([x is not None for x, _ in results], bool)
    X = np.stack([x for x, _ in results if x is not None]) if ok.any() else np.zeros((0, len(FEATURE_NAMES)))
    skipped = [(p, why) for p, (x, why) in zip(paths, results) if x is None]
    return X, ok, skipped


# ---------------------------------------------------------------- the classifier


def _candidates(workers: int | None) -> dict:
    return {
        "logistic regression": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(C=0.5, class_weight="balanced", max_iter=5000)),
        "random forest": lambda: make_pipeline(
            StandardScaler(), RandomForestClassifier(n_estimators=400, min_samples_leaf=2, n_jobs=workers or None,
                                                     class_weight="balanced_subsample", random_state=0)),
        "gradient boosting": lambda: make_pipeline(
            StandardScaler(), HistGradientBoostingClassifier(max_iter=200, learning_rate=0.08, class_weight="balanced",
                                                             random_state=0)),
    }


def _labels(catalog: pd.DataFrame, classes: set[str]) -> np.ndarray:
    """A piece's label: its composer as the catalog writes it ("A / B" for joint works), or OTHER."""
    return np.array([c if c in classes else OTHER for c in catalog["composer"]], dtype=object)


def warn_if_refit_moved(folder: Path, meta: dict, saved, now: np.ndarray, what: str, tolerance: float) -> None:
    """A judge saved as data is refitted on load: warn when the refit's probabilities on the saved check rows
    moved (another scikit-learn version can fit another model)."""
    saved = np.asarray(saved, np.float64)
    if saved.size and saved.shape == now.shape and np.abs(saved - now).max() > tolerance:
        warnings.warn(f"{folder}: refitted with scikit-learn {sklearn_version} (saved with "
                      f"{meta.get('sklearn_version')}): {what} moved by up to {np.abs(saved - now).max():.3g}",
                      RuntimeWarning, stacklevel=3)


def one_openmp_thread():
    """Gradient boosting's OpenMP threads spin badly on a busy machine (20x slower on two shared
    cores); the data is small, so one thread is as fast, and files are read in parallel anyway."""
    return threadpool_limits(limits=1, user_api="openmp")


def _balanced_accuracy(y_true, y_pred) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # predicted classes absent from a small split's true labels
        return float(balanced_accuracy_score(y_true, y_pred))


class StyleJudge:
    """P(composer) of any MIDI, from a classifier on ``features``; ``report`` says how well it does."""

    def __init__(self, model=None, classes=(), report: dict | None = None, rows=None, model_name: str | None = None):
        self.model = model
        self.classes = list(classes)
        self.report = report or {}
        self.rows = rows  # (X, y) it was fitted on: what ``save`` writes and ``load`` refits
        self.model_name = model_name

    # ---- training

    def train(self, catalog: pd.DataFrame, min_pieces: int = 10, workers: int | None = None) -> "StyleJudge":
        """Fit on the train split, pick the model by validation balanced accuracy, report on the test split.

        Composers with fewer than ``min_pieces`` usable training pieces are pooled as "other".
        """
        started = time.time()
        if catalog.empty:
            raise UserError("the catalog lists no pieces")
        X_all, ok, skipped = extract_features(catalog["midi"], workers)
        usable = catalog[ok].reset_index(drop=True)
        split = usable["split"].to_numpy()
        train_rows = usable[split == "train"]
        counts = train_rows["composer"].value_counts()
        classes = {c for c, n in counts.items() if n >= min_pieces}
        y_all = _labels(usable, classes)
        train = split == "train"
        labels_train = sorted(set(y_all[train]))
        if len(labels_train) < 2:
            raise UserError(f"need at least two composers with {min_pieces}+ usable training pieces "
                            f"(or one plus others); found {', '.join(labels_train) or 'none'}")
        X_tr, y_tr = X_all[train], y_all[train]

        candidates = _candidates(workers)
        valid = split == "validation"
        selection, fitted = {}, {}
        if valid.any():
            for name, make in candidates.items():
                with one_openmp_thread():
                    fitted[name] = make().fit(X_tr, y_tr)
                    pred = fitted[name].predict(X_all[valid])
                selection[name] = round(_balanced_accuracy(y_all[valid], pred), 4)
            winner = max(selection, key=lambda n: (selection[n], -list(candidates).index(n)))  # ties: the simpler
        else:
            winner = "logistic regression"
        with one_openmp_thread():
            model = fitted.get(winner) or candidates[winner]().fit(X_tr, y_tr)
        self.model, self.classes = model, [str(c) for c in model.classes_]
        self.rows, self.model_name = (X_tr, y_tr), winner

        test = split == "test"
        y_te = y_all[test]
        if test.any():
            with one_openmp_thread():
                pred = model.predict(X_all[test])
            labels = self.classes + sorted(set(y_te) - set(self.classes))
            matrix = confusion_matrix(y_te, pred, labels=labels)
            support = matrix.sum(axis=1)
            recall = {lab: (round(float(matrix[i, i] / support[i]), 4) if support[i] else None)
                      for i, lab in enumerate(labels)}
            test_report = {"accuracy": round(float(accuracy_score(y_te, pred)), 4),
                           "balanced_accuracy": round(_balanced_accuracy(y_te, pred), 4),
                           "recall": recall, "support": {lab: int(n) for lab, n in zip(labels, support)},
                           "confusion": {"labels": labels, "matrix": matrix.tolist()}}
        else:
            test_report = None
        self.report = {
            "model": winner,
            "selection": {"split": "validation" if valid.any() else None, "metric": "balanced_accuracy",
                          "scores": selection},
            "classes": self.classes,
            "min_pieces": int(min_pieces),
            "n_train": int(train.sum()), "n_validation": int(valid.sum()), "n_test": int(test.sum()),
            "train_counts": {lab: int((y_tr == lab).sum()) for lab in self.classes},
            "other_composers": sorted(set(train_rows["composer"]) - classes),
            "test": test_report,
            "skipped": {"count": len(skipped), "examples": [f"{p}: {why}" for p, why in skipped[:10]]},
            "n_features": len(FEATURE_NAMES),
            "sklearn_version": sklearn_version,
            "seconds": round(time.time() - started, 1),
        }
        return self

    # ---- judging

    def _check(self):
        if self.model is None:
            raise UserError("the style judge is not trained (train it or load a saved one)")

    def _proba_rows(self, X: np.ndarray) -> list[dict[str, float]]:
        with one_openmp_thread():
            P = self.model.predict_proba(X)
        order = np.argsort(-P, axis=1, kind="stable")
        return [{self.classes[j]: float(p[j]) for j in o} for p, o in zip(P, order)]

    def proba(self, score_or_path) -> dict[str, float]:
        """P(composer) for a symusic Score or a MIDI path, most likely first; UserError for an unusable file."""
        self._check()
        score = score_or_path if hasattr(score_or_path, "tracks") else load_score(score_or_path)
        return self._proba_rows(features(score)[None, :])[0]

    def proba_many(self, items, workers: int | None = None) -> list[dict[str, float] | None]:
        """``proba`` of many paths (features in parallel) or Scores; None where a file is unusable."""
        self._check()
        items = list(items)
        out: list = [None] * len(items)
        paths = [(i, x) for i, x in enumerate(items) if not hasattr(x, "tracks")]
        rows, X = [], []
        if paths:
            Xp, ok, _ = extract_features([p for _, p in paths], workers)
            rows += [i for (i, _), good in zip(paths, ok) if good]
            X += list(Xp)
        for i, x in enumerate(items):
            if hasattr(x, "tracks"):
                try:
                    X.append(features(x))
                    rows.append(i)
                except UserError:
                    pass
        if rows:
            for i, p in zip(rows, self._proba_rows(np.stack(X))):
                out[i] = p
        return out

    def class_for(self, composer: str) -> str:
        """The class a composer name means ("bach" -> "Johann Sebastian Bach"); UserError if not one."""
        self._check()
        if composer in self.classes:
            return composer
        table = pd.DataFrame({"composers": [(c,) for c in self.classes]})
        try:
            return find_composer(table, composer)
        except UserError as exc:
            raise UserError(f"{exc}; the judge knows: {', '.join(self.classes)}") from None

    def p(self, score_or_path, composer: str) -> float:
        """P(composer) of one piece, for a composer the judge knows."""
        return self.proba(score_or_path)[self.class_for(composer)]

    # ---- files

    def save(self, folder: str | os.PathLike) -> Path:
        """Write features.npz (the training rows, no pickle) and judge.json (the model's name, classes, the
        report) into ``folder`` (created; files replaced atomically). ``load`` refits the model on the rows."""
        self._check()
        if self.rows is None or self.model_name is None:
            raise UserError("this judge has no training rows to save")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        X, y = self.rows
        labels = sorted(set(map(str, y)))
        tmp = folder / f".{FEATURES_FILE}.tmp{os.getpid()}.npz"
        np.savez_compressed(tmp, X=np.asarray(X, np.float64), y=np.array([labels.index(str(v)) for v in y], np.int32))
        os.replace(tmp, folder / FEATURES_FILE)
        with one_openmp_thread():
            check = self.model.predict_proba(np.asarray(X[:CHECK_ROWS], np.float64)).round(6).tolist()
        meta = {"format_version": FORMAT_VERSION, "model": self.model_name, "classes": self.classes, "labels": labels,
                "feature_names": list(FEATURE_NAMES), "sklearn_version": sklearn_version, "check": check,
                "report": self.report}
        atomic_write_text(folder / META_FILE, json.dumps(meta, indent=1, ensure_ascii=False))
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "StyleJudge":
        """A saved judge: its rows read without pickles (``allow_pickle=False``), the model refitted
        (deterministic: the same model, checked on a few rows)."""
        folder = Path(os.path.expanduser(str(folder)))
        hint = "(train one with `mst eval style-judge train`)"
        if not folder.is_dir():
            raise UserError(f"style judge not found: {folder} {hint}")
        if not (folder / META_FILE).is_file():
            raise UserError(f"{folder}: not a style judge, {META_FILE} is missing {hint}")
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            version, names = meta.get("format_version"), list(meta["feature_names"])
        except Exception as exc:
            raise UserError(f"{folder / META_FILE}: corrupt ({type(exc).__name__}) {hint}") from None
        if version != FORMAT_VERSION or names != list(FEATURE_NAMES):
            raise UserError(f"{folder}: a judge saved by an older mst (or with other features); retrain it {hint}")
        if not (folder / FEATURES_FILE).is_file():
            raise UserError(f"{folder}: not a style judge, {FEATURES_FILE} is missing {hint}")
        try:
            labels, name = [str(x) for x in meta["labels"]], str(meta["model"])
            with np.load(folder / FEATURES_FILE, allow_pickle=False) as z:
                X, codes = np.asarray(z["X"], np.float64), np.asarray(z["y"], np.int64)
            if X.ndim != 2 or X.shape[1] != len(FEATURE_NAMES) or len(codes) != len(X) or \
                    codes.min(initial=0) < 0 or codes.max(initial=0) >= len(labels):
                raise ValueError("rows and labels do not match")
            make = _candidates(None)[name]
            y = np.array([labels[c] for c in codes], dtype=object)
            with one_openmp_thread():
                model = make().fit(X, y)
                now = model.predict_proba(X[:CHECK_ROWS])
        except Exception as exc:  # noqa: BLE001 - a bad folder is one line
            raise UserError(f"{folder}: unreadable style judge ({type(exc).__name__}) {hint}") from None
        if [str(c) for c in model.classes_] != list(meta["classes"]):
            raise UserError(f"{folder}: its classes do not match {META_FILE} {hint}")
        warn_if_refit_moved(folder, meta, meta.get("check") or now, now, "P(composer)", 1e-4)
        return cls(model, model.classes_, meta.get("report") or {}, (X, y), name)


def train_judge(data_folder: str | os.PathLike, out_folder: str | os.PathLike, min_pieces: int = 10,
                force: bool = False, workers: int | None = None) -> dict:
    """Train a judge on a Maestro-format folder and save it to ``out_folder``; return its report.

    Refuses to replace an existing judge without ``force``; the folder appears complete or not at all.
    """
    out = Path(os.path.expanduser(str(out_folder)))
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise UserError(f"{out} already exists (use --force to replace it)")
    catalog = load_catalog(data_folder)
    judge = StyleJudge().train(catalog, min_pieces=min_pieces, workers=workers)
    judge.report["data"] = str(Path(os.path.expanduser(str(data_folder))).resolve())
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        judge.save(tmp)
        replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return judge.report


# ---------------------------------------------------------------- the report


def format_report(report: dict) -> str:
    """The report as Markdown: the model choice, accuracy and per-class recall, and the confusion matrix."""
    lines = []
    sel = report.get("selection") or {}
    scores = sel.get("scores") or {}
    chosen = f"**{report.get('model', '?')}**"
    if scores:
        chosen += " (validation balanced accuracy: " + ", ".join(f"{n} {s:.3f}" for n, s in scores.items()) + ")"
    else:
        chosen += " (no validation split: default model)"
    lines.append(f"Style judge: {chosen}")
    lines.append("")
    skipped = (report.get("skipped") or {}).get("count", 0)
    lines.append(f"{len(FEATURE_NAMES) if not report.get('n_features') else report['n_features']} features; "
                 f"{report.get('n_train', 0)} training, {report.get('n_validation', 0)} validation, "
                 f"{report.get('n_test', 0)} test pieces; {skipped} unusable files skipped; "
                 f"composers with fewer than {report.get('min_pieces', '?')} training pieces pooled as \"{OTHER}\".")
    test = report.get("test")
    if not test:
        lines += ["", "No test split: no test accuracy."]
        return "\n".join(lines) + "\n"
    lines += ["", "| test accuracy | test balanced accuracy |", "|---:|---:|",
              f"| {test['accuracy']:.3f} | {test['balanced_accuracy']:.3f} |", ""]
    labels = test["confusion"]["labels"]
    train_counts = report.get("train_counts", {})
    lines += ["| # | composer | train | test | test recall |", "|---:|---|---:|---:|---:|"]
    for i, lab in enumerate(labels, 1):
        r = test["recall"].get(lab)
        lines.append(f"| {i} | {lab} | {train_counts.get(lab, 0)} | {test['support'].get(lab, 0)} | "
                     f"{'—' if r is None else f'{r:.2f}'} |")
    lines += ["", "Confusion matrix on the test split (rows: true composer, columns: predicted, numbered as above):", ""]
    lines.append("| true \\ predicted | " + " | ".join(str(i) for i in range(1, len(labels) + 1)) + " |")
    lines.append("|---|" + "---:|" * len(labels))
    for i, (lab, row) in enumerate(zip(labels, test["confusion"]["matrix"]), 1):
        lines.append(f"| {i} {lab} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"
