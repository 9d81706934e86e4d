"""Convert music21's bundled corpus to MIDI with one named track per part, plus a Maestro-format CSV.

Run once (music21's parsers are slow: 6 minutes on 2 cores with music21 10.5); the output ships in data/music21/.

    python scripts/convert_music21_corpus.py --out data/music21 --workers 2

Traps handled (each measured on this corpus):
- ABC parsing reuses one TimeSignature object across measures: time signatures are copied, not moved.
- Malformed repeats make ``expandRepeats`` fail, and a few tunes blow up when expanded: we keep the
  unexpanded score when expansion fails or multiplies the notes by more than MAX_EXPANSION.
- Pickup bars start at tick 0: the score is shifted so the first full bar starts on a bar line.
- Parts are kept, one named track each, ordered from the top down (by median pitch). Inside one part a
  doubled note (same pitch, same onset) is kept once, the longest; between parts a unison stays in both.
- Time signatures are written as they are; the tokenizer maps those outside its vocabulary.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

TPQ = 480
MAX_EXPANSION = 4.0
# expandRepeats deep-copies the whole score: on a complete multi-movement quartet it runs for minutes
# and then usually fails or blows up anyway (opus18no4: 5 minutes, x4.5). Such scores stay as written.
MAX_EXPAND_NOTES = 12000
# Folders of the corpus that are collections of monophonic folk tunes, exercises or demos: they stay
# out of training (the folk tunes serve as melodies to transfer and evaluate on).
EXCLUDED_DIRS = {
    "essenFolksong", "ryansMammoth", "oneills1850", "airdsAirs", "miscFolk", "nottingham-dataset",
    "demos", "theoryExercises", "leadSheet",
}
MUSIC_SUFFIXES = {".mxl", ".xml", ".musicxml", ".krn", ".abc", ".mid", ".midi"}
# Folder -> canonical composer name (Maestro's spelling where Maestro has the composer).
FOLDER_COMPOSERS = {
    "bach": "Johann Sebastian Bach",
    "beach": "Amy Beach",
    "beethoven": "Ludwig van Beethoven",
    "chopin": "Frédéric Chopin",
    "ciconia": "Johannes Ciconia",
    "corelli": "Arcangelo Corelli",
    "cpebach": "Carl Philipp Emanuel Bach",
    "handel": "George Frideric Handel",
    "haydn": "Joseph Haydn",
    "johnson_j_r": "J. Rosamond Johnson",
    "joplin": "Scott Joplin",
    "josquin": "Josquin des Prez",
    "liliuokalani": "Liliuokalani",
    "luca": "Luca Marenzio",
    "lusitano": "Vicente Lusitano",
    "monteverdi": "Claudio Monteverdi",
    "mozart": "Wolfgang Amadeus Mozart",
    "palestrina": "Giovanni Pierluigi da Palestrina",
    "schoenberg": "Arnold Schoenberg",
    "schubert": "Franz Schubert",
    "schumann_clara": "Clara Schumann",
    "schumann_robert": "Robert Schumann",
    "trecento": "Trecento (various)",
    "verdi": "Giuseppe Verdi",
    "weber": "Carl Maria von Weber",
    "webern": "Anton Webern",
}


class Timeout(Exception):
    pass


def _alarm(signum, frame):  # noqa: ARG001
    raise Timeout


def split_of(title: str) -> str:
    """Stable split from a hash of the title: 80% train, 10% validation, 10% test."""
    bucket = int(hashlib.sha1(title.encode("utf-8")).hexdigest(), 16) % 100
    return "train" if bucket < 80 else "validation" if bucket < 90 else "test"


def _has_repeats(score) -> bool:
    from music21 import bar, repeat, spanner

    kinds = (bar.Repeat, repeat.RepeatMark, repeat.RepeatExpression, spanner.RepeatBracket)
    return any(True for _ in score.recurse().getElementsByClass(kinds))


def _expand(score, log):
    """Repeats expanded when that is sane; otherwise the score as written."""
    if not _has_repeats(score):  # expandRepeats deep-copies the score even when there is nothing to do
        return score
    n_before = len(score.recurse().notes)
    if n_before > MAX_EXPAND_NOTES:
        log.append(f"{n_before} notes, too large to expand repeats; kept as written")
        return score
    try:
        expanded = score.expandRepeats()
    except Exception as exc:  # music21 raises many types on malformed repeats
        log.append(f"expandRepeats failed ({type(exc).__name__}); kept as written")
        return score
    n_after = len(expanded.recurse().notes)
    if n_before and n_after / n_before > MAX_EXPANSION:
        log.append(f"expandRepeats x{n_after / n_before:.1f} notes; kept as written")
        return score
    return expanded


def score_to_symusic(score, log):
    """Every part of a music21 score as one named track of a symusic Score, the parts from the top down."""
    import copy

    from music21 import meter, tempo
    from symusic import Note, Score, Tempo, TimeSignature, Track

    score = _expand(score, log)
    parts = list(score.parts) or [score]
    # Pickup: music21 puts the anacrusis at offset 0; shift so the first full bar starts on a bar line.
    shift_ql = 0.0
    first_measure = parts[0].getElementsByClass("Measure").first()
    if first_measure is not None and first_measure.paddingLeft:
        shift_ql = float(first_measure.paddingLeft)

    def tick(ql) -> int:
        return int(round((float(ql) + shift_ql) * TPQ))

    tracks = []
    for index, part in enumerate(parts):
        notes, velocities = _part_notes(part, tick)
        if notes:
            name = (part.partName or "").strip() or f"Part {index + 1}"
            tracks.append((name, notes, velocities))
    # from the top down, by median pitch: a score lists its parts that way, but not every file does
    # (a continuo written above its bass, a piano's hands in one part); ties keep the score's order
    order = sorted(range(len(tracks)), key=lambda k: -float(np.median([p for _, p in tracks[k][1]])))
    out = Score(TPQ)
    n_notes = 0
    for k in order:
        name, notes, velocities = tracks[k]
        track = Track(name, program=0, is_drum=False)
        for (onset, pitch), dur in sorted(notes.items()):
            track.notes.append(Note(onset, dur, pitch, velocities.get((onset, pitch), 80)))
        out.tracks.append(track)
        n_notes += len(notes)
    if order != sorted(order):
        log.append("parts reordered from the top down")
    flat_first = parts[0].flatten()
    seen_ts = set()
    for ts in flat_first.getElementsByClass(meter.TimeSignature):
        ts = copy.deepcopy(ts)  # the ABC parser shares one object between measures
        at = 0 if ts.offset == 0 else tick(ts.offset)
        if at in seen_ts:
            continue
        seen_ts.add(at)
        out.time_signatures.append(TimeSignature(at, int(ts.numerator), int(ts.denominator)))
    for mark in score.flatten().getElementsByClass(tempo.MetronomeMark):
        qpm = mark.getQuarterBPM()
        if qpm:
            out.tempos.append(Tempo(0 if mark.offset == 0 else tick(mark.offset), qpm=float(qpm)))
    if not len(out.tempos):
        out.tempos.append(Tempo(0, qpm=100.0))
    return out, n_notes


def _part_notes(part, tick) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], int]]:
    """One part's notes: (onset, pitch) -> duration (the longest of a doubled note), and their velocities."""
    notes: dict[tuple[int, int], int] = {}  # (onset, pitch) -> longest duration
    velocities: dict[tuple[int, int], int] = {}
    # Ties merged by hand in one pass: music21's stripTies deep-copies and re-sorts the stream
    # (two thirds of the conversion time on a Beethoven quartet).
    open_ties: dict[int, tuple[int, int]] = {}  # pitch -> (onset, end) of the note being tied
    for element in part.flatten().notes:
        if element.duration.isGrace or element.quarterLength <= 0:
            continue
        start, end = tick(element.offset), tick(element.offset + element.quarterLength)
        velocity = element.volume.velocity or 80
        members = element.notes if element.isChord else [element]
        for member in members:
            pitch = int(member.pitch.midi)
            tie = (member.tie or element.tie).type if (member.tie or element.tie) else None
            if tie in ("stop", "continue") and pitch in open_ties:
                onset, _ = open_ties[pitch]
                open_ties[pitch] = (onset, end)
                if tie == "stop":
                    del open_ties[pitch]
                key = (onset, pitch)
                notes[key] = max(notes.get(key, 0), end - onset)
                continue
            key = (start, pitch)
            if end - start > notes.get(key, 0):
                notes[key] = max(1, end - start)
                velocities[key] = int(velocity)
            if tie == "start":
                open_ties[pitch] = (start, end)
    return notes, velocities


def convert_one(args):
    path, rel, out_dir, timeout = args
    from music21 import converter, metadata  # noqa: F401  (imported in the worker)

    log: list[str] = []
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    started = time.time()
    try:
        parsed = converter.parse(path, forceSource=True)
        # An ABC file of the training folders (Josquin) holds one voice per tune: merge them as parts.
        scores = [parsed.mergeScores()] if hasattr(parsed, "mergeScores") else [parsed]
        rows = []
        folder = rel.split("/")[0]
        for index, score in enumerate(scores):
            sym, n_notes = score_to_symusic(score, log)
            if n_notes == 0:
                log.append("no notes")
                continue
            stem = Path(rel).with_suffix("").as_posix() + (f"-{index + 1}" if len(scores) > 1 else "")
            title = (score.metadata.title if score.metadata and score.metadata.title else None) or Path(stem).name
            composer = FOLDER_COMPOSERS.get(folder, folder)
            if folder == "trecento" and score.metadata and score.metadata.composer:
                composer = " ".join(score.metadata.composer.split())  # some carry line breaks
            midi_rel = f"midi/{stem}.mid"
            target = Path(out_dir) / midi_rel
            target.parent.mkdir(parents=True, exist_ok=True)
            sym.dump_midi(str(target))
            seconds = float(sym.to("second").end()) if n_notes else 0.0
            # Hash the corpus path, not only the title: many chorales share a title.
            rows.append({
                "canonical_composer": composer,
                "canonical_title": f"{title} ({stem})" if title != Path(stem).name else stem,
                "split": split_of(stem),
                "year": "",
                "midi_filename": midi_rel,
                "audio_filename": "",
                "duration": round(seconds, 3),
                "notes": n_notes,
            })
        return rel, rows, log, time.time() - started
    except Timeout:
        return rel, [], [f"timed out after {timeout}s"], time.time() - started
    except Exception as exc:
        return rel, [], [f"failed: {type(exc).__name__}: {exc}".splitlines()[0][:200]], time.time() - started
    finally:
        signal.alarm(0)


FORMAT_PREFERENCE = (".mxl", ".musicxml", ".xml", ".krn", ".abc", ".mid", ".midi")


def corpus_files(limit_dirs=None):
    """(path, corpus-relative path) of each piece; a piece stored in several formats is taken once."""
    by_stem: dict[str, tuple[str, str]] = {}
    for path, rel in _all_corpus_files(limit_dirs):
        stem = str(Path(rel).with_suffix(""))
        kept = by_stem.get(stem)
        if kept is None or FORMAT_PREFERENCE.index(Path(path).suffix.lower()) < FORMAT_PREFERENCE.index(Path(kept[0]).suffix.lower()):
            by_stem[stem] = (path, rel)
    return sorted(by_stem.values())


def _all_corpus_files(limit_dirs=None):
    from music21 import corpus

    root = None
    for path in corpus.getCorePaths():
        path = Path(path)
        if root is None:
            root = Path(str(path).split("/corpus/")[0]) / "corpus"
        rel = path.relative_to(root).as_posix()
        folder = rel.split("/")[0]
        if folder in EXCLUDED_DIRS or path.suffix.lower() not in MUSIC_SUFFIXES:
            continue
        if limit_dirs and folder not in limit_dirs:
            continue
        yield str(path), rel


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/music21")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=900, help="seconds per file before it is skipped")
    parser.add_argument("--only", nargs="*", help="corpus folders to convert (default: all but folk)")
    parser.add_argument("--limit", type=int, default=0, help="convert at most this many files (testing)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = list(corpus_files(set(args.only) if args.only else None))
    if args.limit:
        files = files[: args.limit]
    # Slowest first (big quartets), so the pool does not end waiting on one straggler.
    files.sort(key=lambda f: -Path(f[0]).stat().st_size)
    rows, report = [], []
    started = time.time()
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(convert_one, (p, rel, str(out), args.timeout)) for p, rel in files]
        for done, future in enumerate(as_completed(futures), 1):
            rel, file_rows, log, seconds = future.result()
            rows.extend(file_rows)
            report.append((rel, round(seconds, 1), "; ".join(log)))
            print(f"[{done}/{len(files)}] {rel} {seconds:.1f}s {'; '.join(log)}", flush=True)
    rows.sort(key=lambda r: r["midi_filename"])
    fields = ["canonical_composer", "canonical_title", "split", "year", "midi_filename", "audio_filename", "duration"]
    with open(out / "music21-corpus.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with open(out / "conversion-report.tsv", "w", encoding="utf-8") as fh:
        fh.write("file\tseconds\tnotes\n")
        for rel, seconds, note in sorted(report):
            fh.write(f"{rel}\t{seconds}\t{note}\n")
    print(f"{len(rows)} pieces from {len(files)} files in {time.time() - started:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
