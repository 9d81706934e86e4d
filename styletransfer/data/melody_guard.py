"""The edge between a user's melody file and everything after it: limits, and a score checked before use.

``check_file`` runs before anything parses the file (its size, and a compressed MusicXML's contents);
``parse_bounded`` runs music21 in a forked worker with a time and a memory limit, because music21 cannot be
bounded otherwise (an ABC metre of a million beats, a 50,000-note file); ``check_score`` runs on what was
built (ticks per quarter, notes, bars, times inside int32) and ``clean_meta`` drops what no later step can
use (a tempo that is not a finite positive number, a time signature miditok cannot hold), saying so.
Every refusal is one ``UserError`` naming the limit and how to raise it.
"""
from __future__ import annotations

import math
import multiprocessing as mp
import os
import resource
import warnings
import zipfile
from pathlib import Path

from symusic import Score, Tempo, TimeSignature

from ..config import LimitsConfig
from ..errors import UserError

INT32 = 2**31 - 1
MAX_QPM = 1000.0
DENOMINATORS = (1, 2, 4, 8, 16, 32, 64)
MAX_NUMERATOR = 64


class MelodyWarning(UserWarning):
    """Something read_melody changed in the user's melody (a track chosen, a line reduced, notes moved)."""


def _raise(limit: str, value, what: str) -> None:
    raise UserError(f"{what}, more than limits.{limit}={value} (raise it with --set limits.{limit}=N)")


def check_file(path: Path, limits: LimitsConfig) -> None:
    size = path.stat().st_size
    cap = limits.max_file_mb * 1e6
    if size > cap:
        _raise("max_file_mb", f"{limits.max_file_mb:g}", f"{path}: {size / 1e6:.1f} MB")
    if path.suffix.lower() == ".mxl":
        try:
            with zipfile.ZipFile(path) as archive:
                inflated = sum(info.file_size for info in archive.infolist())
        except Exception as exc:  # noqa: BLE001 - zipfile raises BadZipFile, NotImplementedError, EOFError...
            raise UserError(f"{path}: not a readable compressed MusicXML file ({type(exc).__name__})") from None
        if inflated > cap:
            _raise("max_file_mb", f"{limits.max_file_mb:g}", f"{path}: {inflated / 1e6:.1f} MB uncompressed")


def _parse_child(conn, parse, path: str, memory_bytes: int) -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)  # music21 prints its parsers' complaints: the parent says one line
        os.dup2(devnull, 2)
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/statm") as fh:  # what the fork already maps (torch and all) plus the allowance
            mapped = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = mapped + memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
        conn.send(("ok", parse(path).dumps_midi()))
    except UserError as exc:
        conn.send(("user", str(exc)))
    except MemoryError:
        conn.send(("memory", ""))
    except BaseException as exc:  # noqa: BLE001 - reported as one line by the parent
        conn.send(("error", f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:80]}"))
    finally:
        conn.close()


def parse_bounded(parse, path: Path, limits: LimitsConfig) -> Score:
    """``parse(path)`` -> Score, run in a forked worker that is stopped after ``limits.parse_seconds`` and may
    use ``limits.parse_memory_mb`` more memory; the Score comes back as MIDI bytes (no pickled objects)."""
    if "fork" not in mp.get_all_start_methods():  # pragma: no cover - Linux and macOS have fork
        return parse(path)
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    worker = ctx.Process(target=_parse_child, args=(child, parse, str(path), limits.parse_memory_mb * 2**20),
                         daemon=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: the child only parses
        worker.start()
    child.close()
    try:
        if not parent.poll(limits.parse_seconds):
            _raise("parse_seconds", f"{limits.parse_seconds:g}", f"{path}: reading it took longer than "
                   f"{limits.parse_seconds:g} s")
        try:
            kind, payload = parent.recv()
        except EOFError:  # killed by the memory limit before it could say so
            kind, payload = "memory", ""
    finally:
        worker.kill()
        worker.join(5)
        parent.close()
    if kind == "ok":
        return Score.from_midi(payload)
    if kind == "user":
        raise UserError(payload)
    if kind == "memory":
        _raise("parse_memory_mb", limits.parse_memory_mb, f"{path}: reading it needs more memory")
    raise UserError(f"{path}: not a readable file ({payload})")


def check_score(score: Score, limits: LimitsConfig, path: Path) -> None:
    tpq = score.ticks_per_quarter
    if tpq < limits.min_ticks_per_quarter:
        raise UserError(f"{path}: {tpq} ticks per quarter note, fewer than limits.min_ticks_per_quarter="
                        f"{limits.min_ticks_per_quarter}: too coarse to hold a melody's rhythm")
    if tpq > limits.max_ticks_per_quarter:
        _raise("max_ticks_per_quarter", limits.max_ticks_per_quarter, f"{path}: {tpq} ticks per quarter note")
    notes = sum(len(t.notes) for t in score.tracks)
    if notes > limits.max_notes:
        _raise("max_notes", limits.max_notes, f"{path}: {notes:,} notes")
    end = max((int(n.time) + int(n.duration) for t in score.tracks for n in t.notes), default=0)
    if end > INT32 or any(n.time < 0 or n.duration < 0 for t in score.tracks for n in t.notes):
        raise UserError(f"{path}: note times or lengths outside what MIDI can hold")
    bars = end / (tpq * 4)  # in 4/4 bars: the limit is on length, whatever the metre
    if bars > limits.max_bars:
        _raise("max_bars", limits.max_bars, f"{path}: {bars:,.0f} bars of 4/4")


def valid_time_signature(numerator, denominator) -> bool:
    return isinstance(numerator, int) and isinstance(denominator, int) and 1 <= numerator <= MAX_NUMERATOR \
        and denominator in DENOMINATORS


def clean_meta(score: Score, path: Path) -> None:
    """Tempos that are not finite and positive (at most MAX_QPM) and time signatures outside 1..64 over a
    power of two up to 64 are dropped, with a warning (4/4 and 120 qpm are what the rest then assume)."""
    tempos = [t for t in score.tempos if math.isfinite(t.qpm) and 0 < t.qpm <= MAX_QPM]
    if len(tempos) != len(score.tempos):
        warnings.warn(f"{path.name}: {len(score.tempos) - len(tempos)} tempo(s) that are no playable tempo dropped",
                      MelodyWarning, stacklevel=3)
        score.tempos = [Tempo(t.time, t.qpm) for t in tempos]
    signatures = [ts for ts in score.time_signatures if valid_time_signature(int(ts.numerator), int(ts.denominator))]
    if len(signatures) != len(score.time_signatures):
        warnings.warn(f"{path.name}: {len(score.time_signatures) - len(signatures)} time signature(s) that no "
                      "score can hold dropped (4/4 assumed)", MelodyWarning, stacklevel=3)
        score.time_signatures = [TimeSignature(ts.time, ts.numerator, ts.denominator) for ts in signatures]
