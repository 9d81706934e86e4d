"""The studio's requests without the browser (studio/session.py): files only in the studio's folder, the
CLI's result for the same settings, "redo bars", one-line refusals."""
from __future__ import annotations

from pathlib import Path

import pytest
from symusic import Score

from styletransfer.errors import UserError
from styletransfer.studio.session import MAX_UPLOAD_BYTES, bundled_melodies, harmonize_file, inside
from styletransfer.tokens.bars import score_bar_ticks
from styletransfer.transfer.pipeline import TransferRequest, run_transfer

ROOT = Path(__file__).resolve().parents[2]
HAPPY_BIRTHDAY = ROOT / "data" / "melodies" / "happy_birthday.mid"


def test_a_request_writes_one_folder_and_matches_the_cli(adapted_run, tmp_path):
    out = tmp_path / "studio"
    result = harmonize_file(HAPPY_BIRTHDAY, out, "bach", candidates=3, seed=2, temperature=0.7, base=str(adapted_run))
    assert inside(result.folder, out) and result.folder.parent == out.resolve()
    for path in (result.midi, result.musicxml, result.svg, result.png, result.wav, *(c.wav for c in result.candidates)):
        assert path.is_file() and inside(path, result.folder), path
    assert len(result.candidates) == 3 and result.candidates[0].metrics["melody kept (recall)"] == 1.0
    cli = run_transfer(TransferRequest(HAPPY_BIRTHDAY, "bach", base=str(adapted_run), candidates=3, seed=2,
                                       out=tmp_path / "cli.mid", overrides=["transfer.temperature=0.7"]))
    assert result.midi.read_bytes() == cli.files.midi.read_bytes()
    assert "happy_birthday.mid" in bundled_melodies()


def test_redo_bars_in_the_studio(adapted_run, tmp_path):
    out = tmp_path / "studio"
    first = harmonize_file(HAPPY_BIRTHDAY, out, "bach", 2, 0, 0.6, base=str(adapted_run))
    again = harmonize_file(first.melody, out, "bach", 2, 5, 0.6, base=str(adapted_run), keep=first.midi,
                           redo_bars="3-4")
    old, new = Score(str(first.midi)), Score(str(again.midi))
    ticks = score_bar_ticks(old)

    def outside(score):  # Happy Birthday has a pickup: bars 3-4 start at bar lines 3 and 5
        return sorted((n.time, n.pitch, n.duration) for t in score.tracks for n in t.notes
                      if not ticks[3] <= n.time < ticks[5])

    assert outside(new) == outside(old)
    with pytest.raises(UserError, match="not one of this studio's"):
        harmonize_file(first.melody, out, "bach", 2, 5, 0.6, base=str(adapted_run), keep=HAPPY_BIRTHDAY,
                       redo_bars="3-4")


def test_bad_requests_are_one_line_and_write_nothing(adapted_run, tmp_path):
    out = tmp_path / "studio"
    out.mkdir()
    text = tmp_path / "notes.txt"
    text.write_text("not music")
    huge = tmp_path / "huge.mid"
    huge.write_bytes(b"MThd" + b"\0" * MAX_UPLOAD_BYTES)
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    for melody, style, fragment in [(text, "bach", "not a melody file"), (huge, "bach", "more than a melody file"),
                                    (corrupt, "bach", "corrupt"), (HAPPY_BIRTHDAY, "bach=x", "weight"),
                                    (HAPPY_BIRTHDAY, "chopin", "unknown style")]:
        with pytest.raises(UserError, match=fragment):
            harmonize_file(melody, out, style, 2, 0, 0.6, base=str(adapted_run))
    assert list(out.iterdir()) == []  # a refused request leaves no folder behind
