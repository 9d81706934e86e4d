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

Time is kept in the decoder's ticks (16 per quarter note whatever the time signature), so 6/8 (whose
token beats are eighths) and time-signature changes need no special case beyond reading the TimeSig
tokens.
"""
from __future__ import annotations

from ..tokens.grammar import K_CHORD, K_DUR, K_PITCH, K_REST, K_SHIFT, K_TIMESIG, K_VEL
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
    (None for the final window, which EOS ends)."""

    def __init__(self, plan: MelodyPlan, window_end: int | None = None, hard_rules: frozenset[str] = frozenset()):
        unknown = set(hard_rules) - set(HARD_RULES)
        if unknown:  # a recipe cannot name one (config.HARD_RULES); a caller in code can
            raise ValueError(f"unknown hard rules {sorted(unknown)} (known: {', '.join(HARD_RULES)})")
        self.plan, self.grammar, self.window_end = plan, plan.grammar, window_end
        g = self.grammar
        # semitone_on_beat: ticks per beat for each time-signature denominator (a beat = one denominator unit)
        self.beat_ticks = [g.tpq * 4 // den for den in g.dens] if "semitone_on_beat" in hard_rules else None

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
        now, notes_end, den, ev, part, melody_note, max_dur, ceiling, chord_ok = s
        w = self.window_end
        n_ev = p.n_ev
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
                part = 0
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
            if k == K_CHORD and chord_ok:  # an optional Chord token before an onset's notes
                chord_ok = False
                if now > notes_end:
                    notes_end = now
                continue
            if due:  # a melody note: exactly its Pitch first
                if b != p.ev_tok[ev]:
                    return None
                part, melody_note, ceiling, chord_ok = 1, True, g.pitch[b], False
                continue
            if k == K_PITCH:
                pitch = g.pitch[b]
                if pitch >= ceiling:
                    return None
                if self.beat_ticks is not None and now % self.beat_ticks[den] == 0:
                    sounding = p.sounding_min(now)  # the melody note sounding on this beat
                    if sounding != NO_PITCH and (sounding - pitch) % 12 in (1, 11):
                        return None
                max_dur = p.limit(pitch, now)
                if max_dur < g.min_dur[den]:
                    return None
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
                now, ceiling, chord_ok = new, NO_PITCH, True
                continue
            return None
        return _new_state(ConstraintState, (now, notes_end, den, ev, part, melody_note, max_dur, ceiling, chord_ok))
