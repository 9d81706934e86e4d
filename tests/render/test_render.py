"""The score (MusicXML read back with music21, the engraving's bars) and the audio (length, level, errors)."""
from __future__ import annotations

import re
import threading
import wave
from fractions import Fraction

import numpy as np
import pytest
from music21 import converter
from symusic import KeySignature, Note, Score, Tempo, TimeSignature, Track

from styletransfer.errors import UserError
from styletransfer.render import audio
from styletransfer.render.score import engrave_svg, musicxml_bytes
from support.engraving import sounding, source

TPQ = 480


def harmonization(ts=(3, 4), pickup_beats: int = 2, bars: int = 4, sharps: int = 1) -> Score:
    """A melody starting ``pickup_beats`` into bar 0 (a pickup), quarter notes, with an accompaniment that
    holds notes over bar lines and overlaps within a hand (a half note under moving quarters)."""
    score = Score(TPQ)
    melody, accompaniment = Track("Melody"), Track("Accompaniment")
    beats_per_bar = ts[0] * 4 // ts[1]
    start = pickup_beats * TPQ
    end = beats_per_bar * TPQ * (bars + 1)
    for k, t in enumerate(range(start, end, TPQ)):
        melody.notes.append(Note(t, TPQ, 67 + (k % 5), 80))
        if k % 2 == 0 and t + 2 * TPQ <= end:
            accompaniment.notes.append(Note(t, 2 * TPQ, 43 + k % 3, 70))  # held over the next beat (and bar lines)
        accompaniment.notes.append(Note(t, TPQ, 59 + k % 2, 70))  # moving under it: overlaps in the left hand
        accompaniment.notes.append(Note(t, TPQ, 62, 70))  # right hand
    score.tracks.extend([melody, accompaniment])
    score.time_signatures.append(TimeSignature(0, *ts))
    score.key_signatures.append(KeySignature(0, sharps, 0))
    score.tempos.append(Tempo(0, 100.0))
    return score


@pytest.mark.parametrize("ts,pickup", [((3, 4), 2), ((4, 4), 0), ((6, 8), 1)])
def test_musicxml_reads_back_with_every_note_and_the_metre_on_every_staff(ts, pickup):
    score = harmonization(ts, pickup)
    parsed = converter.parse(musicxml_bytes(score, "test"), format="musicxml", forceSource=True)
    melody, right, left = parsed.parts
    for part in parsed.parts:
        assert [t.ratioString for t in part.recurse().getElementsByClass("TimeSignature")] == [f"{ts[0]}/{ts[1]}"]
        assert [k.sharps for k in part.recurse().getElementsByClass("KeySignature")] == [1]
        first = part.getElementsByClass("Measure")[0]
        if pickup:  # a pickup bar: only the music, measure 0, the rest of the bar as padding
            assert first.number == 0 and first.paddingLeft == pickup
        else:
            assert first.number == 1 and first.paddingLeft == 0
    # music21 counts offsets from the first (pickup) bar's start: the input's, less the silent beats
    shift = Fraction(pickup)
    assert sounding(melody) == source(score.tracks[0], shift, TPQ)
    accompaniment = sounding(right) + sounding(left)
    # overlapping notes of one hand are tied chords: their onsets and pitches are the input's, and each note
    # sounds exactly as long (its tied pieces summed)
    assert sorted(accompaniment) == source(score.tracks[1], shift, TPQ)
    assert all(p.midi >= 60 for n in right.flatten().notes for p in n.pitches)
    assert all(p.midi < 60 for n in left.flatten().notes for p in n.pitches)


def test_the_engraving_shows_every_bar():
    score = harmonization((3, 4), pickup_beats=2, bars=4)
    engraved = {}
    worker = threading.Thread(target=lambda: engraved.update(svg=engrave_svg(musicxml_bytes(score))))
    worker.start()  # in a thread, as the studio engraves (verovio loads its fonts per thread)
    worker.join()
    svg = engraved["svg"]
    assert svg.startswith("<?xml") or svg.startswith("<svg")
    assert len(re.findall(r'class="measure"', svg)) == 5  # the pickup bar and four more


def test_audio_lasts_as_long_as_the_music_plus_its_release(tmp_path):
    score = harmonization((4, 4), pickup_beats=0, bars=2)
    path = audio.render_wav(score, tmp_path / "out.wav")
    with wave.open(str(path)) as w:
        seconds = w.getnframes() / w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    assert seconds == pytest.approx(score.to("second").end() + audio.RELEASE_SECONDS, abs=1e-3)
    assert np.abs(pcm).max() == pytest.approx(audio.PEAK * 32767, rel=0.01)  # normalized
    tail = pcm[-int(0.05 * 44100):]
    assert np.abs(tail).max() < np.abs(pcm).max() / 4  # the release has died away at the end
    first_note = int(0.01 * 44100)
    assert np.abs(pcm[first_note:first_note + 4410]).max() > 0  # sound from the first note on


def test_audio_refusals_are_one_line(tmp_path, monkeypatch):
    score = harmonization((4, 4), 0, 1)
    (tmp_path / "bad.sf2").write_bytes(b"not a soundfont")
    with pytest.raises(UserError, match="not a readable soundfont"):
        audio.render_wav(score, tmp_path / "out.wav", soundfont=tmp_path / "bad.sf2")
    with pytest.raises(UserError, match="soundfont not found"):
        audio.check_audio(tmp_path / "missing.sf2")
    assert not (tmp_path / "out.wav").exists()
    assert audio.default_soundfont().name == "TimGM6mb.sf2"
    monkeypatch.setattr(audio, "default_soundfont", lambda: None)
    with pytest.raises(UserError, match="--soundfont PATH"):
        audio.check_audio()
