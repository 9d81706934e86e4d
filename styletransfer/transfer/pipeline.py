"""The one transfer pipeline: a melody file in, the harmonized files out.

``run_transfer(TransferRequest(...))`` is what `mst transfer`, `mst quickstart` (and the studio) call; the
evaluation calls its two inner steps, ``load_style`` and ``harmonize``, once per system and melody.

    request  ->  check every input and output name (nothing is loaded or written on a mistake)
             ->  read the melody file                      data/melody_file.py
             ->  load the base model + style adapter(s)    model/adapters.py
             ->  sample candidates under the constraint    transfer/accompany.py (on the free cores: runtime.py)
             ->  rank them, write the best                 transfer/ranking.py
             ->  piano roll, score (MusicXML + SVG), WAV   render/
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from symusic import Score
from transformers.utils import logging as hf_logging

from ..analysis.harmony import NOTE_NAMES
from ..config import Recipe, TransferConfig
from ..data.melody_file import read_melody_noting
from ..errors import UserError
from ..io import atomic_write_bytes, refuse_to_overwrite
from ..keys import final_pitch, reference_shift
from ..model.adapters import (
    Style,
    file_slug,
    load_with_adapters,
    parse_style,
    resolve_style,
    style_label,
)
from ..model.runs import resolve_base, style_recipe, style_texture
from ..render.audio import check_audio, render_wav
from ..render.piano_roll import piano_roll
from ..render.score import LAYOUTS, resolve_layout, write_score
from ..tokens.parts import Texture
from ..tokens.tokenizer import uses_parts
from .accompany import transfer as accompany
from .ranking import Candidate
from .redo import Redo, parse_span, read_kept
from .runtime import decoding_threads, for_decoding

MIDI_SUFFIXES = (".mid", ".midi")


@dataclass(frozen=True)
class OutputFiles:
    """Every file one transfer writes."""

    midi: Path
    png: Path  # the piano roll
    musicxml: Path  # the score
    svg: Path  # the score engraved
    wav: Path | None = None  # only with --wav
    candidates: tuple[Path, ...] = ()  # only with --keep-all, best first

    @property
    def all(self) -> list[Path]:
        return [self.midi, self.png, self.musicxml, self.svg, *([self.wav] if self.wav else []), *self.candidates]


def output_files(melody: Path, style_slug: str, out: Path | None = None, wav: bool = False,
                 keep_all: bool = False, candidates: int = 0) -> OutputFiles:
    """``<melody stem>.<style>.mid`` here unless ``out`` says otherwise; the PNG, MusicXML, SVG, WAV and
    candidates beside it."""
    out = Path(out) if out is not None else Path(f"{melody.stem}.{style_slug}.mid")
    is_midi = out.suffix.lower() in MIDI_SUFFIXES
    suffix = out.suffix if is_midi else ".mid"
    stem = out.name[: -len(out.suffix)] if is_midi else out.name
    return OutputFiles(
        midi=out, png=out.with_name(f"{stem}.png"), musicxml=out.with_name(f"{stem}.musicxml"),
        svg=out.with_name(f"{stem}.svg"), wav=out.with_name(f"{stem}.wav") if wav else None,
        candidates=tuple(out.with_name(f"{stem}.cand-{k}{suffix}") for k in range(1, candidates + 1)) if keep_all else ())


RANGE_SLACK = 2  # semitones a melody may go past its style's melody range before it is moved


@dataclass
class TransferRequest:
    """What `mst transfer` was asked for (its options, one for one)."""

    melody: Path
    style: str | None
    base: str | None = None
    candidates: int | None = None  # None: the recipe's transfer.candidates
    seed: int | None = None  # None: the base recipe's sample.seed
    out: Path | None = None
    track: int | None = None
    wav: bool = False
    soundfont: Path | None = None  # None: pretty-midi's TimGM6mb.sf2 (render/audio.py)
    synth: str = "tinysoundfont"  # or "fluidsynth"
    keep_all: bool = False
    force: bool = False
    score: str = "auto"  # the score's layout (render/score.LAYOUTS)
    keep: Path | None = None  # an earlier result of this melody: with redo_bars, only those bars change
    redo_bars: str | None = None  # "5-8": bars as the score numbers them (a pickup is bar 0)
    overrides: list[str] = field(default_factory=list)  # --set section.key=value


@dataclass
class LoadedStyle:
    """A base model with its style merged in, and the recipe its transfer settings come from (the style's own
    recipe for one adapter, else the base's: ``runs.style_recipe``)."""

    model: object
    tokenizer: object
    base_dir: Path
    style: Style
    label: str  # 'johann-sebastian-bach', '0.7 a + 0.3 b', 'base model'
    recipe: Recipe
    texture: Texture  # the parts the style writes (its texture.json, runs.style_texture)


@dataclass
class TransferResult:
    files: OutputFiles
    candidates: list[Candidate]  # best first; candidates[0] is what files.midi holds
    label: str
    seed: int
    melody_warnings: list[str]
    load_seconds: float
    sample_seconds: float
    seconds: float
    texture: Texture  # the parts the style wrote
    layout: str  # the score's layout (render/score.LAYOUTS, ``auto`` resolved)


def load_style(base: str | Path | None, style: str, overrides: list[str] | None = None,
               recipe: Recipe | None = None, adapters: list[tuple[Path, float | None]] | None = None) -> LoadedStyle:
    """The model for ``style`` (an adapter, a blend or 'none'), every name checked before weights load;
    ``recipe``, ``adapters``: the style's recipe and resolved adapters when the caller has them already."""
    base_dir = resolve_base(base)
    parsed = parse_style(style)
    adapters = resolve_style(base_dir, parsed) if adapters is None else adapters
    recipe = recipe or style_recipe(base_dir, [folder for folder, _ in adapters], overrides)  # a bad --set fails here
    hf_logging.disable_progress_bar()  # the weight-loading bar of a 20 MB model is noise
    model, tokenizer = load_with_adapters(base_dir, adapters)
    model = for_decoding(model, recipe.transfer.dtype)  # merged in float32
    texture = style_texture(base_dir, adapters) if uses_parts(tokenizer) else Texture.piano(
        "the model was trained without parts")
    return LoadedStyle(model, tokenizer, base_dir, parsed, style_label(parsed, adapters), recipe, texture)


def reference_key_shift(melody: Score, loaded: LoadedStyle, settings: TransferConfig) -> int:
    """Semitones that move the melody to where the model harmonizes it: ``key_shift``, then by octaves into
    the style's melody range (``register_shift``)."""
    pitches, key = _melody_pitches(melody), key_shift(melody, loaded, settings)
    return key + register_shift([p + key for p in pitches], loaded.texture, _model_range(loaded))[0]


def key_shift(melody: Score, loaded: LoadedStyle, settings: TransferConfig) -> int:
    """Semitones that move the melody's key (a melody ends on its tonic: ``keys.estimate_key``) to the
    reference key (C major / A minor) the model was trained in, in the octave nearest ``melody_register``;
    0 when it was trained in every key (data.key_normalize off) or the settings say not to."""
    if not (settings.key_normalize and loaded.recipe.data.key_normalize):
        return 0
    notes = [note for track in melody.tracks for note in track.notes]
    pitches = [n.pitch for n in notes]
    shift = reference_shift(pitches, [n.duration for n in notes], _model_range(loaded), settings.melody_register,
                            last=final_pitch([n.time for n in notes], pitches))
    return shift or 0  # None: no shift keeps the melody in the model's range, so it is harmonized where it is


def melody_range_note(melody: Score, loaded: LoadedStyle, settings: TransferConfig) -> str | None:
    """``register_shift``'s line for this melody, once in the reference key: None when it fits the style."""
    key = key_shift(melody, loaded, settings)
    return register_shift([p + key for p in _melody_pitches(melody)], loaded.texture, _model_range(loaded))[1]


def _melody_pitches(melody: Score) -> list[int]:
    return [note.pitch for track in melody.tracks for note in track.notes]


def _model_range(loaded: LoadedStyle) -> tuple[int, int]:
    low, high = loaded.tokenizer.config.pitch_range
    return low, high - 1


def register_shift(pitches: list[int], texture: Texture, pitch_range: tuple[int, int]) -> tuple[int, str | None]:
    """Octaves (in semitones) that move a melody into the style's melody range (its soprano's, measured on
    its training pieces), and what to tell the user; (0, None) when it lies there already (within a whole
    tone) or the style has no measured range."""
    if not texture.melody_range or not pitches:
        return 0, None
    low, high = texture.melody_range
    def outside(c: int) -> int:  # semitones the melody's notes go past the range, moved by c
        return sum(max(0, low - RANGE_SLACK - p - c) + max(0, p + c - high - RANGE_SLACK) for p in pitches)

    if not outside(0):
        return 0, None
    fits = [c for c in (0, 12, -12, 24, -24) if pitch_range[0] <= min(pitches) + c and max(pitches) + c <= pitch_range[1]]
    best = min(fits, key=lambda c: (outside(c), abs(c)))
    where = "above" if max(pitches) > high + RANGE_SLACK and min(pitches) >= low else \
        "below" if min(pitches) < low - RANGE_SLACK and max(pitches) <= high else "beyond"
    span = f"{_name(min(pitches))}-{_name(max(pitches))}"
    said = (f"the melody ({span}) lies {where} the range of this style's {texture.names[0].lower()} "
            f"({_name(low)}-{_name(high)})")
    if best:
        octaves = abs(best) // 12
        said += (f": harmonized {'an octave' if octaves == 1 else 'two octaves'} {'higher' if best > 0 else 'lower'}"
                 " and moved back")
    else:
        said += ": harmonized where it is, the parts under it have less room"
    return best, said


def _name(pitch: int) -> str:
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def harmonize(melody: Score, loaded: LoadedStyle, seed: int, candidates: int | None = None,
              progress: Callable[[int, int], None] | None = None, settings: TransferConfig | None = None,
              redo: Redo | None = None) -> list[Candidate]:
    """Accompaniments of ``melody``, best first, with the recipe's transfer settings (``settings``: others,
    e.g. for an ablation; ``candidates``: the batch, by default the settings' ``candidates``; ``redo``:
    write only those bars of its kept result again, transfer/redo.py). A model
    trained in the reference key harmonizes the melody there; the candidates come back in the melody's key
    (their ``texture_ids`` stay in the reference key)."""
    cfg = settings or loaded.recipe.transfer
    shift = reference_key_shift(melody, loaded, cfg)
    if redo is not None and shift:
        redo = Redo(redo.kept.shift_pitch(shift), redo.first, redo.last)
    with decoding_threads(loaded.model):
        results = accompany(melody.shift_pitch(shift) if shift else melody, loaded.model, loaded.tokenizer, cfg,
                            seed, candidates or cfg.candidates, progress=progress, redo=redo, texture=loaded.texture)
    for candidate in results if shift else ():
        candidate.score = candidate.score.shift_pitch(-shift)
    return results


def run_transfer(request: TransferRequest, progress: Callable[[int, int], None] | None = None,
                 on_melody: Callable[[list[str]], None] | None = None,
                 on_loaded: Callable[[LoadedStyle], None] | None = None) -> TransferResult:
    """Melody file -> written MIDI, piano roll (and WAV, candidates). Every check first: a mistake is a
    UserError before anything is loaded or written. ``on_melody(warnings)`` hears what the reader changed
    in the melody as soon as it is read, ``on_loaded`` that the model is ready, ``progress(bars_done,
    bars)`` how the sampling goes."""
    started = time.perf_counter()
    if request.candidates is not None and request.candidates < 1:
        raise UserError(f"--candidates must be at least 1, got {request.candidates}")
    if request.style is None:
        raise UserError("give --style NAME (an adapter of the base, e.g. bach), a blend "
                        "(bach=0.7,chopin=0.3) or --style none")
    style = parse_style(request.style)
    base_dir = resolve_base(request.base)
    adapters = resolve_style(base_dir, style)  # an unknown style fails before any work
    recipe = style_recipe(base_dir, [folder for folder, _ in adapters], request.overrides)
    candidates = request.candidates or recipe.transfer.candidates
    files = output_files(request.melody, file_slug(style), request.out, request.wav, request.keep_all, candidates)
    melody_path = request.melody
    if melody_path.exists() and any(p.exists() and p.samefile(melody_path) for p in files.all):
        raise UserError(f"the output would overwrite the melody {melody_path}: choose another --out")
    if (request.keep is None) != (request.redo_bars is None):
        raise UserError("--keep and --redo-bars go together: --keep OUT.mid --redo-bars 5-8")
    span = parse_span(request.redo_bars) if request.redo_bars is not None else None
    if request.keep is not None and request.keep.exists() and any(p.exists() and p.samefile(request.keep)
                                                                   for p in files.all):
        raise UserError(f"the output would overwrite the kept file {request.keep}: choose another --out")
    refuse_to_overwrite(files.all, request.force)
    if request.wav:
        check_audio(request.soundfont, request.synth)
    if request.score not in LAYOUTS:
        raise UserError(f"--score {request.score}: choose one of {', '.join(LAYOUTS)}")
    melody, warnings = read_melody_noting(melody_path, request.track, recipe.limits)
    redo = Redo(read_kept(request.keep, melody), *span) if span is not None else None
    if on_melody is not None:
        on_melody(warnings)

    loading = time.perf_counter()
    loaded = load_style(base_dir, request.style, recipe=recipe, adapters=adapters)
    load_seconds = time.perf_counter() - loading
    said = melody_range_note(melody, loaded, loaded.recipe.transfer)
    if said is not None:
        warnings.append(said)
        if on_melody is not None:
            on_melody([said])
    seed = loaded.recipe.sample.seed if request.seed is None else request.seed
    if on_loaded is not None:
        on_loaded(loaded)
    sampling = time.perf_counter()
    results = harmonize(melody, loaded, seed, candidates, progress, redo=redo)
    sample_seconds = time.perf_counter() - sampling

    best = results[0].score
    atomic_write_bytes(files.midi, best.dumps_midi())
    title = f"{melody_path.name}: {loaded.label}"
    piano_roll(best, files.png, melody_track=0, title=title)
    write_score(best, files.musicxml, files.svg, title=title, layout_name=request.score)
    if files.wav is not None:
        render_wav(best, files.wav, request.soundfont, request.synth)
    for path, candidate in zip(files.candidates, results):
        atomic_write_bytes(path, candidate.score.dumps_midi())
    return TransferResult(files, results, loaded.label, seed, warnings, load_seconds, sample_seconds,
                          time.perf_counter() - started, loaded.texture,
                          resolve_layout(best, request.score))
