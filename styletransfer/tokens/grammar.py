"""The TSD token grammar, in one place: what every base token is and does to time, what every BPE id
expands to, and how miditok's decoder reads a base-token sequence.

The constraint (transfer/) and the skyline (tokens/skyline.py) both read tokens through these tables,
built once per tokenizer from the tokenizer's own vocabulary and tick tables.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tokenizer import special_id

INF = 10**9


# id classes by first base token
T_PITCH, T_SHIFT, T_REST, T_CHORD, T_VEL, T_DUR, T_OTHER = range(7)


N_CLASSES = 7


# base token kinds (finer than the classes)
K_PITCH, K_SHIFT, K_REST, K_CHORD, K_VEL, K_DUR, K_TEMPO, K_TIMESIG, K_EOS, K_OTHER = range(10)


_KIND_OF_TYPE = {"Pitch": K_PITCH, "TimeShift": K_SHIFT, "Rest": K_REST, "Chord": K_CHORD, "Velocity": K_VEL,
                 "Duration": K_DUR, "Tempo": K_TEMPO, "TimeSig": K_TIMESIG}


_CLASS_OF_KIND = {K_PITCH: T_PITCH, K_SHIFT: T_SHIFT, K_REST: T_REST, K_CHORD: T_CHORD, K_VEL: T_VEL, K_DUR: T_DUR}


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


def bar_starts(ts_events, end: int, tpq: int) -> list[int]:
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


TIME_TYPES = ("TimeShift", "Rest")


DROPPED_TYPES = ("Chord",)


class TokenTypes:
    """Per base-token-id lookup tables of the token types the skyline needs."""

    def __init__(self, tokenizer):
        size = len(tokenizer.vocab)  # base vocabulary (before BPE)
        types = np.array([tokenizer[i].split("_")[0] for i in range(size)])
        self.is_time = np.isin(types, TIME_TYPES)
        self.is_rest = types == "Rest"
        self.is_pitch = types == "Pitch"
        self.is_velocity = types == "Velocity"
        self.is_duration = types == "Duration"
        self.is_dropped = np.isin(types, DROPPED_TYPES)
        self.pitch_of = np.full(size, -1, np.int16)
        self.beats_of = np.zeros(size)  # TimeShift/Rest/Duration values in beats
        for i in range(size):
            kind, _, value = tokenizer[i].partition("_")
            if kind == "Pitch":
                self.pitch_of[i] = int(value)
            elif kind in (*TIME_TYPES, "Duration"):
                beats, pos, res = (int(x) for x in value.split("."))
                self.beats_of[i] = beats + pos / res
