"""A melody as a schedule of events in ticks: what the constraint must place, and when."""
from __future__ import annotations

from bisect import bisect_left

import numpy as np

from ..tokens.bars import bar_ticks
from ..tokens.grammar import INF, K_TEMPO, K_TIMESIG, Grammar, decode_base
from .state import ConstraintState

NO_PITCH = 999  # "no ceiling" for pitches


class MelodyPlan:
    """A melody (base ids: its TimeSig/Tempo tokens and notes) as a schedule of events in ticks.

    Events, in sequence order: the melody's TimeSig and Tempo tokens (repeated verbatim by the texture at
    their tick) and its notes. ``bar_ticks`` are bar starts from the time signatures (4/4 until the first),
    closed: through the melody's end and the end of its last bar.
    """

    def __init__(self, grammar: Grammar, melody_base_ids):
        self.grammar = grammar
        ids = [int(i) for i in melody_base_ids]
        self.ids = ids
        dec = decode_base(grammar, ids)
        self.starts = dec.starts
        kind = grammar.kind
        note_at = dict(zip(dec.note_token, dec.notes))
        ev_tick, ev_kind, ev_tok, ev_dur, ev_vel, ev_den = [], [], [], [], [], []
        den = grammar.default_den
        ts_events = []  # (tick, numerator, denominator)
        for i, b in enumerate(ids):
            k = kind[b]
            if k in (K_TEMPO, K_TIMESIG):
                ev_tick.append(dec.starts[i]), ev_kind.append(0), ev_tok.append(b), ev_dur.append(-1), ev_vel.append(-1)
                if k == K_TIMESIG:
                    den = grammar.ts_den[b]
                    ts_events.append((dec.starts[i], grammar.ts_num[b], grammar.dens[den]))
                ev_den.append(den)
            elif i in note_at:
                onset, _, vel, dur, _ = note_at[i]
                ev_tick.append(onset), ev_kind.append(1), ev_tok.append(b), ev_dur.append(dur), ev_vel.append(vel)
                ev_den.append(den)
        self.ev_tick, self.ev_kind, self.ev_tok, self.ev_dur, self.ev_vel = ev_tick, ev_kind, ev_tok, ev_dur, ev_vel
        self.ev_den = ev_den  # denominator in effect after each event
        self.n_ev = len(ev_tick)
        self.notes = dec.notes  # (onset, pitch, vel id, dur id, dur ticks)
        if not self.notes:
            raise ValueError("the melody has no notes")
        self.end = max(on + d for on, _, _, _, d in self.notes)  # E: the melody's end
        self._build_note_tables()
        self.bar_ticks = bar_ticks(sorted(ts_events), grammar.tpq, self.end, closed=True)
        # bars that hold melody events; the texture may run on into the next after the last note
        self.n_bars = max(1, bisect_left(self.bar_ticks, max(self.ev_tick) + 1))

    def _build_note_tables(self):
        """Per tick: lowest melody pitch sounding, index of the next onset; per note and pitch: next onset as low."""
        notes = sorted(self.notes)
        onsets = [n[0] for n in notes]
        span = self.end + 2
        sound = np.full(span + 1, NO_PITCH, np.int64)
        for on, p, _, _, d in notes:
            seg = sound[on:on + d]
            np.minimum(seg, p, out=seg)
        self.sound_min = sound.tolist()
        idx = np.searchsorted(np.asarray(onsets), np.arange(span + 1), side="right")
        self.next_idx = idx.tolist()  # first note with onset > t
        m = len(notes)
        table = np.full((m + 1, 128), INF, np.int64)
        for k in range(m - 1, -1, -1):
            table[k] = table[k + 1]
            on, p = notes[k][0], notes[k][1]
            table[k, p:] = on  # (onsets ascending: the later notes' onsets are >= on)
        self.next_le = table.tolist()  # next_le[k][p]: earliest onset of notes k.. with pitch <= p
        self.span = span

    def sounding_min(self, t: int) -> int:
        return self.sound_min[t] if t <= self.span else NO_PITCH

    def limit(self, p: int, t: int) -> int:
        """Ticks an accompaniment note of pitch p starting at t may last (0: none)."""
        if t > self.span:
            return INF
        if self.sound_min[t] <= p:
            return 0
        nxt = self.next_le[self.next_idx[t]][p]
        return INF if nxt >= INF else nxt - t

    def initial_state(self) -> ConstraintState:
        return ConstraintState(tick=0, notes_end=0, den=self.grammar.default_den, next_event=0, note_part=0,
                               melody_note=False, max_dur=0, ceiling=NO_PITCH, chord_ok=True, voice=-1,
                               voice_ends=(0,) * len(self.grammar.program_token))

    def split_bars(self, ids, starts, first_bar: int = 0, last_bar: int | None = None) -> list[list[int]]:
        """Tokens grouped by the bar their start tick falls in (bars first_bar..last_bar-1)."""
        last_bar = len(self.bar_ticks) if last_bar is None else last_bar
        out = [[] for _ in range(first_bar, last_bar)]
        ticks = self.bar_ticks
        for b, t in zip(ids, starts):
            bar = bisect_left(ticks, t + 1) - 1
            if first_bar <= bar < last_bar:
                out[bar - first_bar].append(int(b))
        return out
