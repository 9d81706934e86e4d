"""The tokenizer: miditok TSD with exactly the original project's configuration, plus BPE.

Additions to the original: special tokens for melody conditioning (MELODY, TEXTURE); each note's part as a
MidiTok Program token, every part in one token stream (tokens/parts.py: ``Program_0`` is the top part, the
melody); time signatures outside the vocabulary mapped deliberately; notes sharing an onset written part by
part from the top, each part's pitch-descending, so the melody note comes first.

A tokenizer.json saved before parts (``use_programs`` false: the model shipped before them) still loads and
works: its scores are read with the parts merged into one stream (``uses_parts``).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from miditok import TSD, TokenizerConfig
from miditok.utils import detect_chords
from symusic import Note, Score, TimeSignature

from ..errors import UserError
from .grammar import Grammar
from .parts import MAX_PARTS, in_parts, merge_parts

# The original project's configuration, verbatim.
TSD_PARAMS = dict(
    pitch_range=(21, 109),
    beat_res={(0, 4): 8, (4, 12): 4},
    num_velocities=16,
    use_chords=True,
    use_rests=True,
    use_tempos=True,
    use_time_signatures=True,
    num_tempos=16,
    tempo_range=(40, 250),
)
# Parts: a Program token before every note, its part's number (measured against a token only where the part
# changes: scripts/part_tokens_report.py, docs/data.md)
PART_PARAMS = dict(
    use_programs=True,
    one_token_stream_for_programs=True,
    program_changes=False,
    programs=list(range(MAX_PARTS)),
)
SPECIAL_TOKENS = ["PAD", "BOS", "EOS", "MASK", "MELODY", "TEXTURE"]
TOKENIZER_FILE = "tokenizer.json"


class MstTSD(TSD):
    """TSD whose notes at one onset come highest pitch first (miditok sorts them ascending), and which owns
    its token grammar (``grammar``), as miditok's own tokenizations own theirs."""

    _grammar: Grammar | None = None

    @property
    def grammar(self) -> Grammar:
        """The token grammar (tokens/grammar.py), built on first use and kept: one per tokenizer."""
        if self._grammar is None:
            self._grammar = Grammar(self)
        return self._grammar

    def train(self, *args, **kwargs):
        """miditok's BPE training; the model ids change, so the grammar is built anew on next use."""
        self._grammar = None
        super().train(*args, **kwargs)

    def _preprocess_notes(self, track, *args, **kwargs):
        super()._preprocess_notes(track, *args, **kwargs)
        track.notes.sort(key=lambda n: (n.time, -n.pitch, n.duration, n.velocity))

    def _create_track_events(self, track, ticks_per_beat, *args, **kwargs):
        """miditok's events, with chords detected on ascending pitches.

        miditok's detect_chords reads intervals upward from the first note of an onset, so on our
        pitch-descending order it found no chord at all (use_chords was silently off).
        """
        if not self.config.use_chords or track.is_drum or not len(track.notes):
            return super()._create_track_events(track, ticks_per_beat, *args, **kwargs)
        self.config.use_chords = False  # miditok's pass would find none, at the cost of a second detection
        try:
            events = super()._create_track_events(track, ticks_per_beat, *args, **kwargs)
        finally:
            self.config.use_chords = True
        soa = track.notes.numpy()
        order = np.lexsort((soa["velocity"], soa["duration"], soa["pitch"], soa["time"]))
        ascending = Note.from_numpy(**{k: v[order] for k, v in soa.items()})
        chords = detect_chords(
            ascending, ticks_per_beat, chord_maps=self.config.chord_maps, program=track.program,
            specify_root_note=self.config.chord_tokens_with_root_note, beat_res=self._first_beat_res,
            unknown_chords_num_notes_range=self.config.chord_unknown,
        )
        # Chords first: the events are then stably sorted by time, so a chord precedes its notes.
        return chords + events


def build_tokenizer(parts: bool = True) -> MstTSD:
    """A new tokenizer (before BPE); ``parts=False``: the one before parts, every part merged in one stream."""
    params = {**TSD_PARAMS, **PART_PARAMS} if parts else {**TSD_PARAMS, "use_programs": False}
    return MstTSD(TokenizerConfig(special_tokens=list(SPECIAL_TOKENS), **params))


def uses_parts(tokenizer) -> bool:
    """Whether the tokenizer writes each note's part (a Program token per note)."""
    return bool(tokenizer.config.use_programs)


def load_tokenizer(path: str | os.PathLike) -> MstTSD:
    """Load miditok's tokenizer.json (a file, or a folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / TOKENIZER_FILE
    if not path.exists():
        raise UserError(f"no tokenizer at {path} (run `mst data prepare` first)")
    try:
        return MstTSD(params=path)
    except Exception as exc:  # miditok raises bare KeyErrors/JSON errors on bad files
        raise UserError(f"{path}: not a miditok tokenizer ({type(exc).__name__})") from None


def special_id(tokenizer, name: str) -> int:
    return tokenizer.vocab[f"{name}_None"]


def supported_time_signatures(tokenizer) -> set[tuple[int, int]]:
    return {(num, den) for den, nums in tokenizer.config.time_signature_range.items() for num in nums}


def map_time_signature(num: int, den: int, supported: set[tuple[int, int]]) -> tuple[int, int] | None:
    """A supported time signature whose bars tile the original's exactly, or None.

    Same bar length first (2/2 -> 4/4, 3/2 -> 6/4), else the longest supported bar that divides the
    original bar (4/2 -> 4/4: two bars per bar; 9/8 -> 3/8: three bars per bar), so beats and bar
    lines stay where they were.
    """
    if (num, den) in supported:
        return num, den
    length = num * 4 / den  # in quarter notes
    same = [ts for ts in supported if ts[0] * 4 / ts[1] == length]
    if same:
        return min(same, key=lambda ts: (ts[1] != 4, ts[1]))
    dividing = [ts for ts in supported if (length / (ts[0] * 4 / ts[1])).is_integer()]
    if dividing:
        return max(dividing, key=lambda ts: (ts[0] * 4 / ts[1], ts[1] == 4))
    return None


def normalize_score(score: Score, tokenizer) -> Score:
    """The score's parts as the tokenizer reads them (tokens/parts.py: one track per part, its number as its
    program; or, for a tokenizer without parts, every part merged in one track), drums dropped, time
    signatures mapped. Raises UserError if nothing is left.

    Unmappable time signatures (e.g. 5/8) fall back to 4/4 rather than being dropped: miditok would
    otherwise silently drop them and shift every bar line after.
    """
    tracks = in_parts(score) if uses_parts(tokenizer) else [merge_parts(score)]
    if not sum(len(t.notes) for t in tracks):
        raise UserError("no pitched notes (empty or drums only)")
    out = Score(score.ticks_per_quarter)
    for track in tracks:
        track.notes.sort(key=lambda n: (n.time, -n.pitch))
        out.tracks.append(track)
    out.tempos = score.tempos.copy()
    out.key_signatures = score.key_signatures.copy()
    supported = supported_time_signatures(tokenizer)
    for ts in score.time_signatures:
        mapped = map_time_signature(ts.numerator, ts.denominator, supported) or (4, 4)
        out.time_signatures.append(TimeSignature(ts.time, *mapped))
    return out


def load_score(path: str | os.PathLike) -> Score:
    """Read a MIDI file; a missing or corrupt one is a UserError."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"file not found: {path}")
    try:
        return Score(str(path))
    except Exception as exc:
        raise UserError(f"{path}: not a readable MIDI file ({str(exc).splitlines()[0][:80] or type(exc).__name__})") from None


def token_sequence(tokenizer, score: Score, **encode_options):
    """miditok's TokSequence of a normalized score: every part in one stream, or (a tokenizer without parts)
    the one merged track's."""
    seq = tokenizer.encode(score, **encode_options)
    return seq[0] if isinstance(seq, list) else seq


def base_ids_per_bar(tokenizer, score: Score, preprocessed: bool = False) -> list[list[int]]:
    """Base (pre-BPE) token ids of a normalized score, one list per bar, empty bars dropped.

    ``preprocessed``: the score already went through ``tokenizer.preprocess_score`` (skip a second pass).
    """
    seq = token_sequence(tokenizer, score, encode_ids=False, no_preprocess_score=preprocessed)
    return [bar.ids for bar in seq.split_per_bars() if len(bar.ids)]


def bpe_encode_bars(tokenizer, bars: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """BPE ids of a piece given per bar, and where each bar starts in them.

    BPE never merges across bars (miditok's encode_ids_split="bar"), so encoding bars separately
    gives the same ids as encoding the piece, and the bar boundaries for melody/texture pairs.
    """
    if not bars:
        return np.zeros(0, np.int32), np.zeros(0, np.int64)
    if not tokenizer.is_trained:
        lengths = [len(b) for b in bars]
        return np.concatenate([np.asarray(b, np.int32) for b in bars]), np.cumsum([0] + lengths[:-1])
    words = [tokenizer._ids_to_bytes(b, as_one_str=True) for b in bars]
    enc = tokenizer._model.encode(words, is_pretokenized=True)
    ids = np.asarray(enc.ids, np.int32)
    word_ids = np.asarray(enc.word_ids, np.int64)
    starts = np.searchsorted(word_ids, np.arange(len(bars)))
    return ids, starts


def bpe_encode_pieces(tokenizer, pieces: list[list]) -> list[tuple[np.ndarray, np.ndarray]]:
    """``bpe_encode_bars`` for many pieces in one call: HF tokenizers encodes a batch on all cores."""
    if not tokenizer.is_trained:
        return [bpe_encode_bars(tokenizer, bars) for bars in pieces]
    to_bytes = tokenizer._vocab_base_id_to_byte
    batch = [["".join(to_bytes[i] for i in np.asarray(bar).tolist()) for bar in bars] for bars in pieces]
    out = []
    for bars, enc in zip(pieces, tokenizer._model.encode_batch(batch, is_pretokenized=True)):
        ids = np.asarray(enc.ids, np.int32)
        starts = np.searchsorted(np.asarray(enc.word_ids, np.int64), np.arange(len(bars)))
        out.append((ids, starts))
    return out


def train_bpe(tokenizer, bars_per_piece: list[list[list[int]]], vocab_size: int) -> None:
    """Train BPE (miditok's trainer, HF tokenizers) on base token ids already split per bar."""
    if vocab_size <= len(tokenizer.vocab):
        return
    iterator = [[tokenizer._ids_to_bytes(bar, as_one_str=True) for bar in piece] for piece in bars_per_piece]
    tokenizer.train(vocab_size=vocab_size, model="BPE", iterator=iterator)


def decode_ids(tokenizer, ids) -> Score:
    """BPE ids (special tokens ignored) back to a Score."""
    specials = set(tokenizer.special_tokens_ids)
    ids = [int(i) for i in ids if int(i) not in specials]
    return tokenizer.decode(ids if uses_parts(tokenizer) else [ids])  # one stream for every part, or one per track
