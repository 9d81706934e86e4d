"""A WAV of a score, from pip packages alone: tinysoundfont's synthesizer and a General MIDI soundfont.

The default soundfont is TimGM6mb.sf2 (6 MB, GPL v2), which the pretty-midi package installs; ``--soundfont``
takes a better one (any .sf2/.sf3). ``synth="fluidsynth"`` renders with the fluidsynth program instead
(Debian: the packages fluidsynth and fluid-soundfont-gm), as mst did before.

tinysoundfont declares pyaudio as a dependency, for live playback only; pyaudio does not build without
portaudio's headers, so mst installs tinysoundfont with ``pip install --no-deps tinysoundfont``.
"""
from __future__ import annotations

import importlib.util
import io
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
from symusic import Score

from ..errors import UserError
from ..io import atomic_write_bytes

try:  # installed with --no-deps (above); without it, --wav says how to get it
    import tinysoundfont
except ImportError:  # pragma: no cover - the README's install has it
    tinysoundfont = None

SAMPLE_RATE = 44100
RELEASE_SECONDS = 1.0  # after the last note ends: the piano's decay
SYNTHS = ("tinysoundfont", "fluidsynth")
FLUIDSYNTH_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
TSF_HINT = "pip install --no-deps tinysoundfont"
FLUIDSYNTH_HINT = "apt-get install fluidsynth fluid-soundfont-gm"
DRUM_CHANNEL = 9


def default_soundfont() -> Path | None:
    """pretty-midi's TimGM6mb.sf2, found without importing pretty-midi; None when it is not installed."""
    spec = importlib.util.find_spec("pretty_midi")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "TimGM6mb.sf2"
        if path.is_file():
            return path
    return None


def check_audio(soundfont: str | os.PathLike | None = None, synth: str = "tinysoundfont") -> Path:
    """The soundfont a WAV will be rendered with; a UserError naming what to install when something is
    missing (called before any work, so a transfer never runs only to fail at its last step)."""
    if synth not in SYNTHS:
        raise UserError(f"unknown synthesizer {synth!r}: choose {' or '.join(SYNTHS)}")
    if synth == "fluidsynth" and shutil.which("fluidsynth") is None:
        raise UserError(f"--synth fluidsynth needs the fluidsynth program: {FLUIDSYNTH_HINT}")
    if synth == "tinysoundfont" and tinysoundfont is None:
        raise UserError(f"--wav needs the tinysoundfont synthesizer: {TSF_HINT}")
    if soundfont is not None:
        path = Path(soundfont)
        if not path.is_file():
            raise UserError(f"soundfont not found: {path}")
        return path
    found = FLUIDSYNTH_SOUNDFONT if synth == "fluidsynth" else default_soundfont()
    if found is None or not found.is_file():
        hint = FLUIDSYNTH_HINT if synth == "fluidsynth" else "pip install pretty-midi (it ships TimGM6mb.sf2)"
        raise UserError(f"--wav needs a General MIDI soundfont: {hint}, or give --soundfont PATH")
    return found


def synthesize(score: Score, soundfont: str | os.PathLike, sample_rate: int = SAMPLE_RATE,
               release: float = RELEASE_SECONDS) -> np.ndarray:
    """[frames, 2] float32 stereo: every track on its own channel with its General MIDI program, the music's
    length plus ``release`` seconds."""
    timed = score.to("second")
    synth = tinysoundfont.Synth(samplerate=sample_rate)
    try:
        sfid = synth.sfload(str(soundfont))
    except Exception as exc:  # noqa: BLE001 - the binding raises several types for a bad file
        raise UserError(f"{soundfont}: not a readable soundfont ({type(exc).__name__})") from None
    events = []  # (seconds, order, channel, pitch, velocity): note-offs sort before note-ons at one time
    channels = [c for c in range(16) if c != DRUM_CHANNEL]
    for k, track in enumerate(timed.tracks):
        channel = DRUM_CHANNEL if track.is_drum else channels[k % len(channels)]
        synth.program_select(channel, sfid, 128 if track.is_drum else 0, 0 if track.is_drum else track.program,
                             is_drums=track.is_drum)
        for note in track.notes:
            events.append((note.time, 1, channel, note.pitch, max(1, min(127, note.velocity))))
            events.append((note.time + note.duration, 0, channel, note.pitch, 0))
    events.sort()
    end = max((e[0] for e in events), default=0.0) + release
    total = round(end * sample_rate)
    out = np.zeros((total, 2), np.float32)
    done = 0
    for seconds, is_on, channel, pitch, velocity in events:
        frame = min(total, round(seconds * sample_rate))
        if frame > done:
            out[done:frame] = np.frombuffer(synth.generate(frame - done), np.float32).reshape(-1, 2)
            done = frame
        if is_on:
            synth.noteon(channel, pitch, velocity)
        else:
            synth.noteoff(channel, pitch)
    if total > done:
        out[done:] = np.frombuffer(synth.generate(total - done), np.float32).reshape(-1, 2)
    return out


PEAK = 0.89  # -1 dBFS: the soundfont's own level is quiet (Happy Birthday peaks near -19 dBFS)


def wav_bytes(frames: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """16-bit PCM WAV of float frames, scaled to peak at ``PEAK``."""
    peak = float(np.abs(frames).max()) if frames.size else 0.0
    scaled = frames * (PEAK / peak) if peak > 0 else frames
    pcm = (np.clip(scaled, -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(frames.shape[1])
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return buffer.getvalue()


def render_wav(score: Score, path: str | os.PathLike, soundfont: str | os.PathLike | None = None,
               synth: str = "tinysoundfont", sample_rate: int = SAMPLE_RATE) -> Path:
    """Write ``score`` as a WAV to ``path`` (atomically) with ``synth``; see ``check_audio``."""
    font = check_audio(soundfont, synth)
    path = Path(path)
    if synth == "fluidsynth":
        data = _fluidsynth(score, font, sample_rate)
    else:
        data = wav_bytes(synthesize(score, font, sample_rate), sample_rate)
    atomic_write_bytes(path, data)
    return path


def _fluidsynth(score: Score, soundfont: Path, sample_rate: int, gain: float = 0.6) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        midi, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        score.dump_midi(str(midi))
        cmd = [shutil.which("fluidsynth") or "fluidsynth", "-ni", "-g", str(gain), "-r", str(sample_rate),
               "-F", str(wav), "-T", "wav", str(soundfont), str(midi)]
        try:
            proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UserError(f"fluidsynth failed ({type(exc).__name__})") from None
        if proc.returncode != 0 or not wav.exists() or wav.stat().st_size == 0:
            lines = (proc.stderr or proc.stdout or "").strip().splitlines()
            raise UserError(f"fluidsynth failed: {lines[-1][:120] if lines else f'exit code {proc.returncode}'}")
        return wav.read_bytes()
