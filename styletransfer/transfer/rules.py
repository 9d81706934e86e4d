"""The melody guarantee's rules: a state machine over base tokens that the sampled texture must follow.

While the model writes the texture after ``[BOS][MELODY] melody [TEXTURE]``, every sampled id (a BPE id
expands to several base tokens) must keep these promises, checked base token by base token with
miditok's own decoding rules (TimeShift adds; Rest starts at max(now, end of the notes so far); a Pitch
makes a note only when a Velocity and a Duration follow):

- time never moves past the next melody event (a melody note, or a TimeSig/Tempo token of the melody,
  which the texture repeats at the same tick so that both decode on the same beat grid);
- at a melody onset the melody note comes first (an optional Chord token may precede it): exactly its
  Pitch token, any Velocity, exactly its Duration token;
- notes at one onset are written highest first (the canonical order), so everything after the melody
  note at its onset lies below it, and no pitch repeats at one onset;
- an accompaniment note sounds only below every melody note sounding during it: its Pitch must be below
  the melody notes sounding at its onset and its Duration ends before any melody note as low or lower
  starts;
- Velocity and Duration tokens come only after a Pitch (and Velocity before Duration), so every Pitch
  decodes to a note; other TimeSig/Tempo tokens, other specials and empty BPE ids are never sampled;
- EOS only once every melody note is placed; after the last melody note the texture may go on until the
  melody's end, then only EOS remains. A non-final window (see transfer/accompany.py) instead ends with EOS
  as a stop signal once time reaches the window's end tick.

With parts (a tokenizer that writes each note's part as a Program token before its Pitch, tokens/parts.py)
the melody is part 0 and the style's texture (``Texture``: how many parts, whether each is one line) says
what the others may do:

- every note starts with its part's Program token; the melody note's is ``Program_0``, and no other note is
  in part 0;
- the other parts are ``Program_1`` .. the style's last; at one onset they come from the top, each once
  when the style's parts are lines, and a line strikes a new note only once its last one has ended (one
  note at a time); an accompaniment part of a piano texture may hold chords (pitch-descending);
- no Chord tokens (miditok writes them per part; a line has none).

Time is kept in the decoder's ticks (16 per quarter note whatever the time signature), so 6/8 (whose
token beats are eighths) and time-signature changes need no special case beyond reading the TimeSig
tokens.
"""
from __future__ import annotations

from ..tokens.grammar import K_CHORD, K_DUR, K_PITCH, K_PROGRAM, K_REST, K_SHIFT, K_TIMESIG, K_VEL
from ..tokens.parts import Texture
from .plan import NO_PITCH, MelodyPlan
from .state import ConstraintState

# Rules a style's recipe may add (``transfer.hard_rules``): what that style never allows.
HARD_RULES = {
    "semitone_on_beat": "no accompaniment note a semitone (or a major seventh, minor ninth...) from the melody "
                        "note sounding on a beat",
}

# a ConstraintState made at C speed: its generated __new__ would add a Python call to every accepted step
_new_state = tuple.__new__


class MelodyRules:
    """The rules for one window of a melody: ``window_end`` is the tick where a non-final window stops
    (None for the final window, which EOS ends); ``texture``: the style's parts (with a tokenizer that
    writes parts; None: a piano texture, the melody and one accompaniment part)."""

    def __init__(self, plan: MelodyPlan, window_end: int | None = None, hard_rules: frozenset[str] = frozenset(),
                 texture: Texture | None = None):
        unknown = set(hard_rules) - set(HARD_RULES)
        if unknown:  # a recipe cannot name one (config.HARD_RULES); a caller in code can
            raise ValueError(f"unknown hard rules {sorted(unknown)} (known: {', '.join(HARD_RULES)})")
        self.plan, self.grammar, self.window_end = plan, plan.grammar, window_end
        g = self.grammar
        # semitone_on_beat: ticks per beat for each time-signature denominator (a beat = one denominator unit)
        self.beat_ticks = [g.tpq * 4 // den for den in g.dens] if "semitone_on_beat" in hard_rules else None
        texture = texture or Texture.piano()
        # with parts: the number of parts a note may take (the melody's included), whether each is a line
        self.n_parts = min(texture.count, len(g.program_token)) if g.parts else 0
        self.lines = texture.monophonic

    def eos_ok(self, s: ConstraintState) -> bool:
        """May EOS come now: no note half written, and the window's end reached (or every melody event placed)."""
        if s.note_part:
            return False
        if self.window_end is not None:
            return s.tick >= self.window_end
        return s.next_event >= self.plan.n_ev

    def step(self, s: ConstraintState, ids) -> ConstraintState | None:
        """The state after base tokens ``ids`` (no EOS among them), or None if one breaks a rule."""
        # the sampling hot loop: plain locals, unpacked once
        g, p = self.grammar, self.plan
        kind = g.kind
        now, notes_end, den, ev, part, melody_note, max_dur, ceiling, chord_ok, voice, voice_ends = s
        w = self.window_end
        n_ev = p.n_ev
        n_parts = self.n_parts
        for b in ids:
            k = kind[b]
            if part == 1:
                if k != K_VEL:
                    return None
                part = 2
                continue
            if part == 2:
                if k != K_DUR:
                    return None
                if melody_note:
                    if b != p.ev_dur[ev]:
                        return None
                    d = g.ticks[den][b]
                    ev += 1
                    melody_note = False
                else:
                    d = g.ticks[den][b]
                    if d > max_dur:
                        return None
                if now + d > notes_end:
                    notes_end = now + d
                if n_parts:
                    voice_ends = voice_ends[:voice] + (now + d,) + voice_ends[voice + 1:]
                part = 0
                continue
            if part == 3:  # after a Program token: the note's Pitch
                if k != K_PITCH:
                    return None
                if melody_note:
                    if b != p.ev_tok[ev]:
                        return None
                    part, ceiling = 1, g.pitch[b]
                    continue
                pitch = g.pitch[b]
                if pitch >= ceiling or not self._fits(pitch, now, den):
                    return None
                max_dur = p.limit(pitch, now)
                part, ceiling = 1, pitch
                continue
            # a new event
            if w is not None and now >= w:
                return None  # the window is over: only the stop token
            due = ev < n_ev and p.ev_tick[ev] == now  # a melody event is due now
            if due and p.ev_kind[ev] == 0:  # a TimeSig/Tempo of the melody: exactly that token
                if b != p.ev_tok[ev]:
                    return None
                if k == K_TIMESIG:
                    den = g.ts_den[b]
                if now > notes_end:
                    notes_end = now
                ev += 1
                continue
            if ev >= n_ev and now >= p.end:
                return None  # the melody is over: only EOS
            if k == K_CHORD and chord_ok and not n_parts:  # an optional Chord token before an onset's notes
                chord_ok = False
                if now > notes_end:
                    notes_end = now
                continue
            if n_parts:
                if k != K_PROGRAM:
                    if k == K_PITCH or k == K_CHORD:
                        return None  # with parts, a note starts with its Program token
                else:
                    v = g.program[b]
                    if due:  # the melody note: its part, then exactly its Pitch
                        if v != 0:
                            return None
                        part, melody_note, voice, ceiling, chord_ok = 3, True, 0, NO_PITCH, False
                        continue
                    if not 0 < v < n_parts or v < voice or (v == voice and self.lines):
                        return None
                    if self.lines and voice_ends[v] > now:
                        return None  # the line still sounds its last note
                    if v == voice and ceiling <= g.lowest_pitch + 1:
                        return None  # no lower note for this part's chord
                    if not (self._fits(g.lowest_pitch, now, den) or self._fits(g.lowest_pitch + 1, now, den)):
                        return None  # no note fits under the melody here (the hurry path takes the lowest)
                    if v != voice:
                        ceiling = NO_PITCH
                    part, melody_note, voice, chord_ok = 3, False, v, False
                    continue
            elif due:  # a melody note: exactly its Pitch first
                if b != p.ev_tok[ev]:
                    return None
                part, melody_note, ceiling, chord_ok = 1, True, g.pitch[b], False
                continue
            elif k == K_PITCH:
                pitch = g.pitch[b]
                if pitch >= ceiling or not self._fits(pitch, now, den):
                    return None
                max_dur = p.limit(pitch, now)
                part, melody_note, ceiling, chord_ok = 1, False, pitch, False
                continue
            if k == K_SHIFT or k == K_REST:
                if k == K_SHIFT:
                    new = now + g.ticks[den][b]
                else:
                    new = (notes_end if notes_end > now else now) + g.rest_ticks[den][b]
                barrier = p.ev_tick[ev] if ev < n_ev else p.end
                if new > barrier:
                    return None
                now, ceiling, chord_ok, voice = new, NO_PITCH, True, -1
                continue
            return None
        return _new_state(ConstraintState, (now, notes_end, den, ev, part, melody_note, max_dur, ceiling, chord_ok,
                                            voice, voice_ends))

    def _fits(self, pitch: int, now: int, den: int) -> bool:
        """An accompaniment note of this pitch may start now: the hard rules allow it, and it can sound for
        the shortest Duration before a melody note as low starts (so never above the melody)."""
        p = self.plan
        if self.beat_ticks is not None and now % self.beat_ticks[den] == 0:
            sounding = p.sounding_min(now)  # the melody note sounding on this beat
            if sounding != NO_PITCH and (sounding - pitch) % 12 in (1, 11):
                return False
        return p.limit(pitch, now) >= self.grammar.min_dur[den]
