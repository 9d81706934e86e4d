"""The melody guarantee: a state machine over base tokens that constrains texture sampling.

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
  melody's end, then only EOS remains. A non-final window (see transfer.py) instead ends with EOS as a stop
  signal once time reaches the window's end tick.
- a token budget per row: a candidate is taken only if the cheapest way to finish (one base token per id,
  time moved by the largest TimeShifts, ``hurry_cost``) still fits, so a row never runs out of tokens
  before the melody is placed, whatever the model wants.

Time is kept in the decoder's ticks (16 per quarter note whatever the time signature), so 6/8 (whose
token beats are eighths) and time-signature changes need no special case beyond reading the TimeSig
tokens.

Speed: ``select`` builds one coarse mask per step with a few vectorized numpy ops — each id is classified
by its first base token (pitch / time shift / rest / chord / velocity / duration / other) with a value
(pitch, or ticks per time signature denominator) compared against a per-row threshold for its class, and
the ids starting with a forced token are let through — which is exact for the first base token. It then
applies temperature/top-k/top-p, adds Gumbel noise and walks the best candidates in order, running the
exact base-token check on each until one passes (about two checks per id with a random-weight model).
Without top-k/top-p that is an exact sample from the model's distribution renormalized over the allowed
ids (Gumbel-max over the allowed set); with them the filter is applied to the coarse set, and only if
every filtered candidate breaks a rule is the rest of the coarse set sampled (then, at worst, the hurry
token is taken).
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

import numpy as np
import torch

from .tokenizer import special_id

INF = 10**9
NO_PITCH = 999  # "no ceiling" for pitches
# id classes by first base token
T_PITCH, T_SHIFT, T_REST, T_CHORD, T_VEL, T_DUR, T_OTHER = range(7)
N_CLASSES = 7
# base token kinds (finer than the classes)
K_PITCH, K_SHIFT, K_REST, K_CHORD, K_VEL, K_DUR, K_TEMPO, K_TIMESIG, K_EOS, K_OTHER = range(10)
_KIND_OF_TYPE = {"Pitch": K_PITCH, "TimeShift": K_SHIFT, "Rest": K_REST, "Chord": K_CHORD, "Velocity": K_VEL,
                 "Duration": K_DUR, "Tempo": K_TEMPO, "TimeSig": K_TIMESIG}
_CLASS_OF_KIND = {K_PITCH: T_PITCH, K_SHIFT: T_SHIFT, K_REST: T_REST, K_CHORD: T_CHORD, K_VEL: T_VEL, K_DUR: T_DUR}
TOP_CANDIDATES = 8  # candidates walked per row before the slow path


class TokenTable:
    """Per-tokenizer tables: what every (BPE) id expands to, and what every base token does to time.

    Built once per tokenizer (``token_table``). Ticks are the decoder's: ``tokenizer.time_division`` per
    quarter note; a token's ticks depend on the time signature's denominator, hence one row per denominator.
    """

    def __init__(self, tokenizer):
        base = tokenizer.vocab  # base vocabulary (before BPE): token string -> id
        n_base = len(base)
        self.n_base, self.size = n_base, len(tokenizer)
        self.eos = special_id(tokenizer, "EOS")
        self.tpq = int(tokenizer.time_division)
        tpb_per_ts = tokenizer._tpb_per_ts  # {denominator: ticks per beat}
        self.dens = sorted(tpb_per_ts)
        self.den_index = {den: i for i, den in enumerate(self.dens)}
        self.default_den = self.den_index[4]  # miditok decodes with 4/4 until a TimeSig token says otherwise
        nd = len(self.dens)
        self.kind = [K_OTHER] * n_base
        self.pitch = [-1] * n_base
        self.ticks = [[0] * n_base for _ in range(nd)]  # TimeShift and Duration ticks
        self.rest_ticks = [[0] * n_base for _ in range(nd)]
        self.ts_den = [-1] * n_base  # TimeSig tokens: the denominator's index
        self.names = [""] * n_base
        for token, i in base.items():
            self.names[i] = token
            kind, _, value = token.partition("_")
            k = _KIND_OF_TYPE.get(kind, K_OTHER)
            if token == "EOS_None":
                k = K_EOS
            self.kind[i] = k
            if k == K_PITCH:
                self.pitch[i] = int(value)
            elif k in (K_SHIFT, K_DUR):
                for d, den in enumerate(self.dens):
                    self.ticks[d][i] = int(tokenizer._tpb_tokens_to_ticks[tpb_per_ts[den]][value])
            elif k == K_REST:
                for d, den in enumerate(self.dens):
                    self.rest_ticks[d][i] = int(tokenizer._tpb_rests_to_ticks[tpb_per_ts[den]][value])
            elif k == K_TIMESIG:
                self.ts_den[i] = self.den_index[int(value.split("/")[1])]
        self.min_dur = [min(t[i] for i in range(n_base) if self.kind[i] == K_DUR) for t in self.ticks]
        self.min_dur_token = [min((i for i in range(n_base) if self.kind[i] == K_DUR), key=lambda i: t[i])
                              for t in self.ticks]
        velocities = [i for i in range(n_base) if self.kind[i] == K_VEL]
        self.default_velocity = sorted(velocities, key=lambda i: int(tokenizer[i].split("_")[1]))[len(velocities) // 2]

        # Expansion of every model id into base ids.
        self.expansions: list[tuple[int, ...]] = []
        if tokenizer.is_trained:
            model = tokenizer._model
            learned = tokenizer._vocab_learned_bytes_to_tokens
            for i in range(self.size):
                tokens = learned.get(model.id_to_token(i), [])
                self.expansions.append(tuple(base[t] for t in tokens))
        else:
            self.expansions = [(i,) for i in range(n_base)]
        self.single = {}  # base id -> the model id made of it alone
        for i, exp in enumerate(self.expansions):
            if len(exp) == 1:
                self.single.setdefault(exp[0], i)
        missing = [b for b in range(n_base) if b not in self.single and self.kind[b] != K_OTHER]
        if missing:
            raise ValueError(f"BPE vocabulary lacks base tokens {missing[:5]}: cannot guarantee the melody")

        # Coarse-mask vectors: class and value of every id's first base token (value per denominator).
        cls = np.full(self.size, T_OTHER, np.int64)
        first = np.full(self.size, -1, np.int64)
        value = np.zeros((nd, self.size), np.int64)
        for i, exp in enumerate(self.expansions):
            if not exp:
                continue
            b = exp[0]
            first[i] = b
            k = self.kind[b]
            cls[i] = _CLASS_OF_KIND.get(k, T_OTHER)
            for d in range(nd):
                if k == K_PITCH:
                    value[d, i] = self.pitch[b]
                elif k in (K_SHIFT, K_DUR):
                    value[d, i] = self.ticks[d][b]
                elif k == K_REST:
                    value[d, i] = self.rest_ticks[d][b]
        self.cls_np, self.first_np, self.value_np = cls, first.astype(np.int32), value.astype(np.int32)

        # Fewest TimeShift tokens covering g ticks (g < 2 * largest + 1), and the first of them, per denominator.
        self.max_shift, self.gap_cost, self.gap_step = [], [], []
        for d in range(nd):
            shifts = sorted(((self.ticks[d][i], i) for i in range(n_base) if self.kind[i] == K_SHIFT), reverse=True)
            top = shifts[0][0]
            size = 2 * top + 1
            cost, step = [INF] * size, [-1] * size
            cost[0] = 0
            for g in range(1, size):
                for t, i in shifts:
                    if t <= g and cost[g - t] + 1 < cost[g]:
                        cost[g], step[g] = cost[g - t] + 1, i
            self.max_shift.append(top)
            self.gap_cost.append(cost)
            self.gap_step.append(step)
        self.max_shift_token = [self.gap_step[d][self.max_shift[d]] for d in range(nd)]

    def gap(self, g: int, den: int) -> int:
        """Fewest TimeShift tokens moving time by exactly ``g`` ticks (INF if impossible)."""
        if g <= 0:
            return 0 if g == 0 else INF
        cost = self.gap_cost[den]
        if g < len(cost):
            return cost[g]
        top = self.max_shift[den]
        return g // top - 1 + cost[g % top + top]

    def gap_token(self, g: int, den: int) -> int:
        """The base id of the first TimeShift of ``gap``'s path."""
        if g < len(self.gap_cost[den]):
            return self.gap_step[den][g]
        return self.max_shift_token[den]


def token_table(tokenizer) -> TokenTable:
    """The tokenizer's TokenTable, built on first use and kept on the tokenizer."""
    table = getattr(tokenizer, "_mst_token_table", None)
    if table is None or table.size != len(tokenizer):
        table = TokenTable(tokenizer)
        tokenizer._mst_token_table = table
    return table


# --------------------------------------------------------------------- reading base token sequences


@dataclass
class Decoded:
    notes: list[tuple[int, int, int, int, int]]  # (onset tick, pitch, velocity id, duration id, duration ticks)
    note_token: list[int]  # index of each note's Pitch token in the sequence
    starts: list[int]  # start tick of every token (a Rest starts where miditok starts it)
    end: int  # time after the last token


def decode_base(table: TokenTable, ids, start: tuple[int, int, int] | None = None) -> Decoded:
    """Follow miditok's TSD decoder over base ids: notes and each token's start tick.

    ``start``: (time, end of the notes so far, denominator index) to continue a sequence from (a
    MelodyConstraint state begins with exactly these three).
    """
    kind, pitch, ticks, rest_ticks, ts_den = table.kind, table.pitch, table.ticks, table.rest_ticks, table.ts_den
    ids = [int(i) for i in ids]
    now, prev_end, den = start[:3] if start is not None else (0, 0, table.default_den)
    notes, note_token, starts = [], [], []
    n = len(ids)
    for i, b in enumerate(ids):
        k = kind[b]
        if k == K_SHIFT:
            starts.append(now)
            now += ticks[den][b]
            continue
        if k == K_REST:
            now = max(prev_end, now)
            starts.append(now)
            now += rest_ticks[den][b]
            continue
        starts.append(now)
        if k == K_PITCH:
            if i + 2 < n and kind[ids[i + 1]] == K_VEL and kind[ids[i + 2]] == K_DUR:
                d = ticks[den][ids[i + 2]]
                notes.append((now, pitch[b], ids[i + 1], ids[i + 2], d))
                note_token.append(i)
                prev_end = max(prev_end, now + d)
        elif k in (K_TEMPO, K_TIMESIG, K_CHORD):
            prev_end = max(prev_end, now)
            if k == K_TIMESIG:
                den = ts_den[b]
    return Decoded(notes, note_token, starts, now)


# --------------------------------------------------------------------- the melody's schedule


class MelodyPlan:
    """A melody (base ids: its TimeSig/Tempo tokens and notes) as a schedule of events in ticks.

    Events, in sequence order: the melody's TimeSig and Tempo tokens (repeated verbatim by the texture at
    their tick) and its notes. ``bar_ticks`` are bar starts from the time signatures (4/4 until the first).
    """

    def __init__(self, table: TokenTable, melody_base_ids):
        self.table = table
        ids = [int(i) for i in melody_base_ids]
        self.ids = ids
        dec = decode_base(table, ids)
        self.starts = dec.starts
        kind = table.kind
        note_at = dict(zip(dec.note_token, dec.notes))
        ev_tick, ev_kind, ev_tok, ev_dur, ev_vel, ev_den = [], [], [], [], [], []
        den = table.default_den
        ts_events = []  # (tick, numerator, denominator)
        for i, b in enumerate(ids):
            k = kind[b]
            if k in (K_TEMPO, K_TIMESIG):
                ev_tick.append(dec.starts[i]), ev_kind.append(0), ev_tok.append(b), ev_dur.append(-1), ev_vel.append(-1)
                if k == K_TIMESIG:
                    den = table.ts_den[b]
                    num = int(table.names[b].partition("_")[2].split("/")[0])
                    ts_events.append((dec.starts[i], num, table.dens[den]))
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
        self.bar_ticks = _bar_ticks(ts_events, self.end, table.tpq)
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

    def initial_state(self) -> tuple:
        # (now, prev_end, den, ev, gpos, mel, lim, top, chord_ok)
        return (0, 0, self.table.default_den, 0, 0, False, 0, NO_PITCH, True)

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


def _bar_ticks(ts_events, end: int, tpq: int) -> list[int]:
    """Bar start ticks up to past ``end`` (with a spare bar), from (tick, num, den) time signatures."""
    events = sorted(ts_events) or [(0, 4, 4)]
    if events[0][0] > 0:
        events.insert(0, (0, 4, 4))
    bars = []
    for j, (tick, num, den) in enumerate(events):
        length = max(1, num * tpq * 4 // den)
        t = tick
        if j + 1 < len(events):
            while t < events[j + 1][0]:
                bars.append(t)
                t += length
        else:
            while t <= end:
                bars.append(t)
                t += length
            bars.append(t)  # the first bar start after the melody's end
    return sorted(set(bars))


# --------------------------------------------------------------------- the constraint


class MelodyConstraint:
    """Constrains a batch of texture rows to a melody (see the module docstring).

    ``states`` carry over between windows; ``window_end`` is the tick where a non-final window stops (the
    row then samples EOS, to be dropped), None for the final window (EOS ends the piece). ``budgets[r]`` is
    how many ids row r may sample in this call, its stop/EOS included.
    """

    def __init__(self, plan: MelodyPlan, states: list[tuple] | None = None, batch: int | None = None,
                 window_end: int | None = None, budgets: list[int] | None = None):
        self.plan, self.table = plan, plan.table
        if states is None:
            states = [plan.initial_state()] * (batch or 1)
        self.states = list(states)
        self.batch = len(self.states)
        self.window_end = window_end
        self.end_ev = plan.n_ev if window_end is None else bisect_left(plan.ev_tick, window_end)
        self._suffix_costs()
        if budgets is None:
            budgets = [self.hurry_cost(s) + 4096 for s in self.states]
        self.budgets = list(budgets)
        self.used = [0] * self.batch
        self.finished = [False] * self.batch
        self.tokens: list[list[int]] = [[] for _ in range(self.batch)]
        self._ll: list[torch.Tensor] = []  # per step: [B] log-likelihood of the chosen ids
        self._scored: list[list[bool]] = []
        self.stats = {"steps": 0, "checks": 0, "slow": 0, "hurry": 0}
        self._next: list[tuple | None] = [None] * self.batch
        self._chosen: list[int] = [-1] * self.batch

    # ---- costs

    def _suffix_costs(self):
        """suffix[k]: hurry cost of events k..end_ev-1 of this window (plus the final stop/EOS)."""
        p, t = self.plan, self.table
        end = self.end_ev
        suffix = [0] * (end + 1)
        if self.window_end is not None and end > 0:
            tail = t.gap(self.window_end - p.ev_tick[end - 1], p.ev_den[end - 1]) + 1
        else:
            tail = 1
        suffix[end] = tail
        for k in range(end - 1, -1, -1):
            cost = 1 if p.ev_kind[k] == 0 else 3
            if k + 1 < end:
                cost += t.gap(p.ev_tick[k + 1] - p.ev_tick[k], p.ev_den[k]) + suffix[k + 1]
            else:
                cost += tail
            suffix[k] = cost
        self.suffix = suffix

    def hurry_cost(self, s: tuple) -> int:
        """Ids needed to finish this window from state ``s`` the cheapest way (INF if it cannot)."""
        now, _, den, ev, gpos, mel, _, _, _ = s
        c = 0
        if gpos:
            c = 3 - gpos
            if mel:
                ev += 1
        w = self.window_end
        if w is not None and now >= w:
            return c + 1
        if ev < self.end_ev:
            return c + self.table.gap(self.plan.ev_tick[ev] - now, den) + self.suffix[ev]
        if w is not None:
            return c + self.table.gap(w - now, den) + 1
        return c + 1

    def hurry_token(self, s: tuple) -> int:
        """The first id of ``hurry_cost``'s path (a single base token, or EOS)."""
        t, p = self.table, self.plan
        now, _, den, ev, gpos, mel, _, _, _ = s
        if gpos == 1:
            return t.single[p.ev_vel[ev] if mel else t.default_velocity]
        if gpos == 2:
            return t.single[p.ev_dur[ev] if mel else t.min_dur_token[den]]
        w = self.window_end
        if w is not None and now >= w:
            return t.eos
        if ev < self.end_ev:
            if p.ev_tick[ev] == now:
                return t.single[p.ev_tok[ev]]
            return t.single[t.gap_token(p.ev_tick[ev] - now, den)]
        if w is not None:
            return t.single[t.gap_token(w - now, den)]
        return t.eos

    # ---- the exact check

    def eos_ok(self, s: tuple) -> bool:
        now, _, _, ev, gpos, _, _, _, _ = s
        if gpos:
            return False
        if self.window_end is not None:
            return now >= self.window_end
        return ev >= self.plan.n_ev

    def step(self, s: tuple, ids) -> tuple | None:
        """The state after base tokens ``ids`` (no EOS among them), or None if one breaks a rule."""
        t, p = self.table, self.plan
        kind = t.kind
        now, prev_end, den, ev, gpos, mel, lim, top, chord_ok = s
        w = self.window_end
        n_ev = p.n_ev
        for b in ids:
            k = kind[b]
            if gpos == 1:
                if k != K_VEL:
                    return None
                gpos = 2
                continue
            if gpos == 2:
                if k != K_DUR:
                    return None
                if mel:
                    if b != p.ev_dur[ev]:
                        return None
                    d = t.ticks[den][b]
                    ev += 1
                    mel = False
                else:
                    d = t.ticks[den][b]
                    if d > lim:
                        return None
                if now + d > prev_end:
                    prev_end = now + d
                gpos = 0
                continue
            # a new event
            if w is not None and now >= w:
                return None  # the window is over: only the stop token
            due = ev < n_ev and p.ev_tick[ev] == now  # a melody event is due now
            if due and p.ev_kind[ev] == 0:  # a TimeSig/Tempo of the melody: exactly that token
                if b != p.ev_tok[ev]:
                    return None
                if k == K_TIMESIG:
                    den = t.ts_den[b]
                if now > prev_end:
                    prev_end = now
                ev += 1
                continue
            if ev >= n_ev and now >= p.end:
                return None  # the melody is over: only EOS
            if k == K_CHORD and chord_ok:  # an optional Chord token before an onset's notes
                chord_ok = False
                if now > prev_end:
                    prev_end = now
                continue
            if due:  # a melody note: exactly its Pitch first
                if b != p.ev_tok[ev]:
                    return None
                gpos, mel, top, chord_ok = 1, True, t.pitch[b], False
                continue
            if k == K_PITCH:
                pitch = t.pitch[b]
                if pitch >= top:
                    return None
                lim = p.limit(pitch, now)
                if lim < t.min_dur[den]:
                    return None
                gpos, mel, top, chord_ok = 1, False, pitch, False
                continue
            if k == K_SHIFT or k == K_REST:
                if k == K_SHIFT:
                    new = now + t.ticks[den][b]
                else:
                    new = (prev_end if prev_end > now else now) + t.rest_ticks[den][b]
                barrier = p.ev_tick[ev] if ev < n_ev else p.end
                if new > barrier:
                    return None
                now, top, chord_ok = new, NO_PITCH, True
                continue
            return None
        return (now, prev_end, den, ev, gpos, mel, lim, top, chord_ok)

    def check(self, row: int, token: int) -> tuple | None:
        """The row's state after model id ``token`` if it keeps every rule and the budget, else None."""
        s = self.states[row]
        rem = self.budgets[row] - self.used[row]
        if token == self.table.eos:
            return s if self.eos_ok(s) and rem >= 1 else None
        exp = self.table.expansions[token] if 0 <= token < self.table.size else ()
        if not exp:
            return None
        new = self.step(s, exp)
        if new is None or 1 + self.hurry_cost(new) > rem:
            return None
        return new

    # ---- the coarse mask

    def _row_thresholds(self, row: int) -> tuple[list[int], int, bool, int]:
        """(per-class threshold, forced first base id, EOS allowed, denominator index) for one row."""
        off = [-1] * N_CLASSES
        if self.finished[row]:
            return off, -1, True, 0
        s = self.states[row]
        now, prev_end, den, ev, gpos, mel, lim, top, chord_ok = s
        p, t = self.plan, self.table
        eos = self.eos_ok(s) and self.budgets[row] - self.used[row] >= 1
        if gpos == 1:
            off[T_VEL] = 0
            return off, -1, False, den
        if gpos == 2:
            if mel:
                return off, p.ev_dur[ev], False, den
            off[T_DUR] = lim
            return off, -1, False, den
        w = self.window_end
        if w is not None and now >= w:
            return off, -1, eos, den
        if ev < p.n_ev and p.ev_tick[ev] == now:
            if p.ev_kind[ev] == 0:
                return off, p.ev_tok[ev], False, den
            if chord_ok:
                off[T_CHORD] = 0
            return off, p.ev_tok[ev], False, den
        if ev >= p.n_ev and now >= p.end:
            return off, -1, eos, den
        ceiling = top
        for tick in range(now, now + t.min_dur[den]):
            ceiling = min(ceiling, p.sounding_min(tick))
        off[T_PITCH] = ceiling - 1
        barrier = p.ev_tick[ev] if ev < p.n_ev else p.end
        off[T_SHIFT] = barrier - now
        off[T_REST] = barrier - max(prev_end, now)
        off[T_CHORD] = 0 if chord_ok else -1
        return off, -1, eos, den

    def coarse_mask(self, device, vocab: int | None = None) -> torch.Tensor:
        """[B, V] bool: ids whose first base token is allowed (a superset of the allowed ids).

        ``vocab`` > the tokenizer's size (a model with a padded vocabulary): the extra ids are never allowed.
        """
        # numpy: for [B, V] with B ~ 8 its ops cost a third of torch's on CPU
        t = self.table
        rows = [self._row_thresholds(r) for r in range(self.batch)]
        thr = np.array([r[0] for r in rows], np.int32)
        forced = np.array([r[1] for r in rows], np.int32)
        den = np.array([r[3] for r in rows], np.intp)
        mask = t.value_np[den] <= thr[:, t.cls_np]
        mask |= t.first_np[None] == forced[:, None]
        mask[:, t.eos] = [r[2] for r in rows]
        if vocab is not None and vocab != mask.shape[1]:
            if vocab < mask.shape[1]:
                raise ValueError(f"the model's vocabulary ({vocab}) is smaller than the tokenizer's ({mask.shape[1]})")
            mask = np.concatenate([mask, np.zeros((self.batch, vocab - mask.shape[1]), bool)], 1)
        return torch.from_numpy(mask).to(device, non_blocking=True)

    # ---- the sampler hooks

    def allowed(self, step: int) -> torch.Tensor:
        """Exact [B, V] mask (slow: every coarse candidate is checked). For samplers without ``select``."""
        mask = self.coarse_mask("cpu")
        for r in range(self.batch):
            mask[r, self.table.eos] = mask[r, self.table.eos] or self.finished[r]
            if self.finished[r]:
                continue
            for i in mask[r].nonzero().flatten().tolist():
                if self.check(r, i) is None:
                    mask[r, i] = False
        return mask

    def select(self, logits: torch.Tensor, step: int, temperature: float = 1.0, top_k: int = 0,
               top_p: float = 1.0, generator=None) -> torch.Tensor:
        """Pick one allowed id per row: Gumbel-max over the (filtered) coarse-masked logits, walked in order."""
        from .sampling import filter_logits

        device = logits.device
        self.stats["steps"] += 1
        coarse = self.coarse_mask(device, logits.shape[-1])
        masked = logits.masked_fill(~coarse, float("-inf"))
        noise = None
        if top_k == 1:
            perturbed = masked
        else:
            filtered = filter_logits(masked, temperature, top_k, top_p)
            # Gumbel-max: argmax(logit + Gumbel) = argmax(logit - log E), E ~ Exp(1)
            noise = torch.empty_like(filtered).exponential_(generator=generator).clamp_(min=1e-30).log_()
            perturbed = filtered - noise
        k = min(TOP_CANDIDATES, perturbed.shape[-1])
        values, order = perturbed.topk(k, dim=-1)
        values, order = values.tolist(), order.tolist()
        chosen = []
        for r in range(self.batch):
            if self.finished[r]:
                chosen.append(self.table.eos)
                self._next[r] = self.states[r]
                continue
            pick = None
            for v, i in zip(values[r], order[r]):
                if v == float("-inf"):
                    break
                self.stats["checks"] += 1
                new = self.check(r, i)
                if new is not None:
                    pick = (i, new)
                    break
            if pick is None:
                rest = masked[r] if noise is None else masked[r] / temperature - noise[r]
                pick = self._slow_pick(r, perturbed[r], rest)
            chosen.append(pick[0])
            self._next[r] = pick[1]
        tokens = torch.tensor(chosen, device=device)
        # the model's log-likelihood of the choice, kept on the device (summed once, in ll_sum)
        self._ll.append(logits.gather(1, tokens[:, None]).squeeze(1) - torch.logsumexp(logits, -1))
        # scored: rows still writing, except a non-final window's stop token (not the model's choice)
        stop = self.window_end is not None
        self._scored.append([not f and not (stop and c == self.table.eos) for f, c in zip(self.finished, chosen)])
        self._chosen = chosen
        return tokens

    @property
    def ll_sum(self) -> torch.Tensor | None:
        """[B] model log-likelihood of the ids chosen so far (a non-final window's stop token excluded)."""
        if not self._ll:
            return None
        ll = torch.stack(self._ll, 1)
        return (ll * torch.tensor(self._scored, device=ll.device, dtype=ll.dtype).T).sum(1)

    def _slow_pick(self, r: int, perturbed: torch.Tensor, unfiltered: torch.Tensor):
        """Every candidate in order (filtered, then the whole coarse set); the hurry token as a last resort."""
        self.stats["slow"] += 1
        for scores in (perturbed, unfiltered):
            finite = torch.isfinite(scores)
            ids = finite.nonzero().flatten()
            if len(ids) == 0:
                continue
            ids = ids[scores[ids].argsort(descending=True)].tolist()
            for i in ids:
                new = self.check(r, i)
                if new is not None:
                    return i, new
        self.stats["hurry"] += 1
        token = self.hurry_token(self.states[r])
        new = self.check(r, token)
        if new is None:  # cannot happen while hurry_cost <= budget (checked when the state was reached)
            raise RuntimeError(f"melody constraint stuck at state {self.states[r]} (budget {self.budgets[r]}, "
                               f"used {self.used[r]})")
        return token, new

    def advance(self, tokens: torch.Tensor) -> None:
        for r, token in enumerate(tokens.tolist()):
            if self.finished[r]:
                continue
            if token == self._chosen[r] and self._next[r] is not None:
                new = self._next[r]
            else:  # a sampler without select (allowed() masks): check it now
                new = self.check(r, token)
                if new is None:
                    raise ValueError(f"token {token} breaks the melody constraint in row {r}")
            self.states[r] = new
            self.used[r] += 1
            self.tokens[r].append(token)
            if token == self.table.eos:
                self.finished[r] = True
            self._next[r] = None
        self._chosen = [-1] * self.batch
