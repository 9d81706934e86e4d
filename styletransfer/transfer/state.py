"""Where a texture row stands under the melody constraint, after the base tokens written so far."""
from __future__ import annotations

from typing import NamedTuple


class ConstraintState(NamedTuple):
    """One row's state (transfer/rules.py moves it on, token by token).

    A NamedTuple, so a plain tuple to the rules: ``step``, the sampling hot loop, unpacks it once per checked
    id. It carries over between windows; ``grammar.decode_base`` continues a sequence from its first three.
    """

    tick: int
    """The decoder's time, in ticks."""
    notes_end: int
    """Where the notes so far (and any TimeSig/Tempo/Chord token) end: where miditok starts a Rest."""
    den: int
    """The time signature denominator in effect, as an index into ``Grammar.dens``."""
    next_event: int
    """Index of the next melody event to place (``MelodyPlan.ev_*``); ``n_ev`` once all are placed."""
    note_part: int
    """Inside a note: 0 between notes, 1 after its Pitch (a Velocity is due), 2 after it (a Duration is due),
    3 after its Program token (with parts: its Pitch is due)."""
    melody_note: bool
    """The note being written is the due melody note (so its Duration must be the melody's)."""
    max_dur: int
    """Ticks the accompaniment note being written may last: it ends before any melody note as low starts."""
    ceiling: int
    """Every further note at this onset must be below this pitch (``plan.NO_PITCH`` after a time move)."""
    chord_ok: bool
    """An optional Chord token may still come before this onset's notes."""
    voice: int
    """With parts: the part of the note being written, else of the last note at this onset (-1 after a time
    move): parts come from the top at an onset, each once when they are lines."""
    voice_ends: tuple
    """With parts: where each part's last note ends (a line strikes again only then); () without parts."""
