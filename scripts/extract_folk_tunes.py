"""Copy a few folk tunes from music21's bundled Essen collection into data/melodies/folk/ as ABC files.

    python scripts/extract_folk_tunes.py [--count 8] [--out data/melodies/folk] [--sources kinder0.abc erk10.abc]

They are the "melodies the model never saw" of the evaluation (docs/results.md): the bundled training
corpus (data/music21) holds no Essen tunes. The rule is fixed so the choice is reproducible: from
``kinder0.abc`` (children's songs) and ``erk10.abc`` (Erk's German folk songs), in file order, every tune
in 2/4, 3/4, 4/4 or 6/8 with 16 to 64 notes that ``read_melody`` reads without any change (one variant per title), until
``count`` are found, alternating between the two files. The ABC text of each tune is copied as it is.
Other ``--sources`` give tunes the benchmark never sees, to choose settings on (docs/results.md used
``--sources erk20.abc altdeu10.abc --count 12``).
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
import warnings
from pathlib import Path

import music21

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from styletransfer.io import atomic_write_text  # noqa: E402
from styletransfer.data.melody_file import MelodyWarning, read_melody  # noqa: E402

SOURCES = ("kinder0.abc", "erk10.abc")
README = """# Folk tunes from music21's Essen collection

Melodies the model never saw, for the evaluation (`mst eval bach-chorales`, docs/results.md). Copied as
they are (ABC) from the Essen Folksong Collection bundled with music21 (`music21/corpus/essenFolksong`)
by `scripts/extract_folk_tunes.py`, whose docstring gives the selection rule; run it again to rebuild
this folder.

| file | tune | metre | notes | source |
|---|---|---|---|---|
"""
METRES = {"2/4", "3/4", "4/4", "6/8"}


def tunes(name: str):
    """(number, title, text) of every tune in one Essen ABC file."""
    path = Path(music21.__file__).parent / "corpus" / "essenFolksong" / name
    text = path.read_text(encoding="latin-1")
    for block in re.split(r"\n(?=X:)", text):
        number = re.match(r"X:\s*(\d+)", block.strip())
        title = re.search(r"^T:\s*(.+)$", block, re.M)
        metre = re.search(r"^M:\s*(\S+)", block, re.M)
        if number and title and metre and metre.group(1) in METRES:
            yield int(number.group(1)), title.group(1).strip(), block.strip() + "\n"


def usable(text: str) -> int:
    """The tune's note count if read_melody takes it as it is, else 0."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tune.abc"
        path.write_text(text, encoding="utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("error", MelodyWarning)
            try:
                score = read_melody(path)
            except Exception:  # noqa: BLE001 - a tune read_melody would change or refuse is skipped
                return 0
    n = len(score.tracks[0].notes)
    return n if 16 <= n <= 64 else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "melodies" / "folk")
    parser.add_argument("--sources", nargs="+", default=list(SOURCES), help="Essen ABC files, in turn")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    streams = [(name, tunes(name)) for name in args.sources]
    found, k, titles, listing = 0, 0, set(), []
    while found < args.count and streams:
        name, stream = streams[k % len(streams)]
        k += 1
        for number, title, text in stream:
            if title in titles:  # Essen often holds several variants of one song
                continue
            notes = usable(text)
            if notes:
                titles.add(title)
                stem = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:40]
                target = args.out / f"{Path(name).stem}_{number:03d}_{stem}.abc"
                atomic_write_text(target, text)
                metre = re.search(r"^M:\s*(\S+)", text, re.M).group(1)
                listing.append(f"| `{target.name}` | {title.title()} | {metre} | {notes} | `{name}` X:{number} |")
                print(f"{target.name}: {title} ({notes} notes)")
                found += 1
                break
        else:
            streams.remove((name, stream))
    atomic_write_text(args.out / "README.md", README + "\n".join(listing) + "\n")

if __name__ == "__main__":
    main()
