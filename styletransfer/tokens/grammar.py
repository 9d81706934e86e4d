"""The TSD token grammar, in one place: what every base token is and does to time, what every BPE id
expands to, and how miditok's decoder reads a base-token sequence.

One ``Grammar`` per tokenizer, owned by it (``MstTSD.grammar``, tokens/tokenizer.py) and built from the
tokenizer's own vocabulary and tick tables: this module is the only reader of miditok's private tick and
BPE tables. The constraint (transfer/) reads it token by token, the skyline (tokens/skyline.py) through
its numpy tables.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INF = 10**9


# id classes by first base token
T_PITCH, T_SHIFT, T_REST, T_CHORD, T_VEL, T_DUR, T_OTHER, T_PROGRAM = range(8)
N_CLASSES = 8


# base token kinds (finer than the classes)
K_PITCH, K_SHIFT, K_REST, K_CHORD, K_VEL, K_DUR, K_TEMPO, K_TIMESIG, K_EOS, K_OTHER, K_PROGRAM = range(11)
_KIND_OF_TYPE = {"Pitch": K_PITCH, "TimeShift": K_SHIFT, "Rest": K_REST, "Chord": K_CHORD, "Velocity": K_VEL,
                 "Duration": K_DUR, "Tempo": K_TEMPO, "TimeSig": K_TIMESIG, "Program": K_PROGRAM}
# a Program token (a note's part, tokens/parts.py) opens a note; its value is the part's number
_CLASS_OF_KIND = {K_PITCH: T_PITCH, K_SHIFT: T_SHIFT, K_REST: T_REST, K_CHORD: T_CHORD, K_VEL: T_VEL, K_DUR: T_DUR,
                  K_PROGRAM: T_PROGRAM}


class Grammar:
    """One tokenizer's TSD grammar: per base token, per model (BPE) id and per time signature denominator.

    Ticks are the decoder's: ``tpq`` (the tokenizer's ``time_division``) per quarter note; a token's ticks
    depend on the time signature's denominator, hence one row per denominator (``dens``; a ``den`` is an
    index into it).

    ``parts``: the tokenizer writes each note's part, a Program token before its Pitch (``program_token[v]``
    is part v's).

    Per base id, lists (the constraint reads them one token at a time, where list indexing is several times
    faster than numpy's): ``names``, ``kind`` (K_*), ``pitch`` (-1 if none), ``program`` (a Program token's
    part, -1 otherwise), ``ticks[den]`` (TimeShift and
    Duration), ``rest_ticks[den]``, ``ts_num`` and ``ts_den`` (TimeSig tokens; -1 otherwise).

    Per base id, numpy arrays (the skyline's masks): ``is_time`` (TimeShift or Rest), ``is_rest``,
    ``is_pitch``, ``is_velocity``, ``is_duration``, ``is_dropped`` (Chord: not melody), ``pitch_of`` and
    ``beats_of`` (TimeShift/Rest/Duration values in beats, whatever the denominator).

    Per model id: ``expansions`` (its base ids) and the coarse mask's vectors ``cls_np``, ``first_np``,
    ``value_np``; ``single[b]``: the model id made of base id b alone (``unwritable``: base ids without one).

    Per denominator: the shortest Duration (``min_dur``, ``min_dur_token``) and the fewest TimeShifts for a
    time move (``gap``, ``gap_token``).
    """

    def __init__(self, tokenizer):
        base = tokenizer.vocab  # base vocabulary (before BPE): token string -> id
        self.n_base, self.size = len(base), len(tokenizer)
        self.eos = base["EOS_None"]
        self.tpq = int(tokenizer.time_division)
        tpb_per_ts = tokenizer._tpb_per_ts  # {denominator: ticks per beat}
        self.dens = sorted(tpb_per_ts)
        self.den_index = {den: i for i, den in enumerate(self.dens)}
        self.default_den = self.den_index[4]  # miditok decodes with 4/4 until a TimeSig token says otherwise
        beats = self._read_base_tokens(tokenizer, base, tpb_per_ts)
        self._read_expansions(tokenizer, base)
        self._coarse_vectors()
        self._gap_tables()
        self._skyline_arrays(beats)

    def _read_base_tokens(self, tokenizer, base: dict[str, int], tpb_per_ts: dict[int, int]) -> list[float]:
        """The per-base-id lists; returns each TimeShift/Rest/Duration value in beats (for the skyline)."""
        n_base, nd = self.n_base, len(self.dens)
        self.kind = [K_OTHER] * n_base
        self.pitch = [-1] * n_base
        self.program = [-1] * n_base
        self.program_token: dict[int, int] = {}
        self.ticks = [[0] * n_base for _ in range(nd)]  # TimeShift and Duration ticks
        self.rest_ticks = [[0] * n_base for _ in range(nd)]
        beats = [0.0] * n_base
        self.ts_num = [-1] * n_base  # TimeSig tokens: the numerator
        self.ts_den = [-1] * n_base  # TimeSig tokens: the denominator's index
        self.names = [""] * n_base
        for token, i in base.items():
            self.names[i] = token
            kind, _, value = token.partition("_")
            k = K_EOS if token == "EOS_None" else _KIND_OF_TYPE.get(kind, K_OTHER)
            self.kind[i] = k
            if k == K_PITCH:
                self.pitch[i] = int(value)
            elif k == K_PROGRAM:
                self.program[i] = int(value)
                self.program_token[int(value)] = i
            elif k in (K_SHIFT, K_DUR):
                for d, den in enumerate(self.dens):
                    self.ticks[d][i] = int(tokenizer._tpb_tokens_to_ticks[tpb_per_ts[den]][value])
            elif k == K_REST:
                for d, den in enumerate(self.dens):
                    self.rest_ticks[d][i] = int(tokenizer._tpb_rests_to_ticks[tpb_per_ts[den]][value])
            elif k == K_TIMESIG:
                num, den = value.split("/")
                self.ts_num[i], self.ts_den[i] = int(num), self.den_index[int(den)]
            if k in (K_SHIFT, K_REST, K_DUR):
                whole, pos, res = (int(x) for x in value.split("."))
                beats[i] = whole + pos / res
        self.parts = bool(self.program_token)
        self.lowest_pitch = min(p for p in self.pitch if p >= 0)
        self.pitch_ascending = sorted((i for i in range(n_base) if self.kind[i] == K_PITCH), key=self.pitch.__getitem__)
        durations = [i for i in range(n_base) if self.kind[i] == K_DUR]
        self.min_dur = [min(t[i] for i in durations) for t in self.ticks]
        self.min_dur_token = [min(durations, key=lambda i: t[i]) for t in self.ticks]
        velocities = [i for i in range(n_base) if self.kind[i] == K_VEL]
        self.default_velocity = sorted(velocities, key=lambda i: int(self.names[i].split("_")[1]))[len(velocities) // 2]
        return beats

    def _read_expansions(self, tokenizer, base: dict[str, int]) -> None:
        """Expansion of every model id into base ids, and the model id writing each base token alone."""
        self.expansions: list[tuple[int, ...]] = []
        if tokenizer.is_trained:
            model = tokenizer._model
            learned = tokenizer._vocab_learned_bytes_to_tokens
            for i in range(self.size):
                tokens = learned.get(model.id_to_token(i), [])
                self.expansions.append(tuple(base[t] for t in tokens))
        else:
            self.expansions = [(i,) for i in range(self.n_base)]
        self.single = {}  # base id -> the model id made of it alone
        for i, exp in enumerate(self.expansions):
            if len(exp) == 1:
                self.single.setdefault(exp[0], i)
        # base tokens no model id writes alone: the constraint's hurry path needs every one (MelodyPlan refuses)
        self.unwritable = [b for b in range(self.n_base) if b not in self.single and self.kind[b] != K_OTHER]

    def _coarse_vectors(self) -> None:
        """Class and value of every id's first base token (value per denominator), for the coarse mask."""
        nd = len(self.dens)
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
                elif k == K_PROGRAM:
                    value[d, i] = self.program[b]
                elif k in (K_SHIFT, K_DUR):
                    value[d, i] = self.ticks[d][b]
                elif k == K_REST:
                    value[d, i] = self.rest_ticks[d][b]
        self.cls_np, self.first_np, self.value_np = cls, first.astype(np.int32), value.astype(np.int32)

    def _gap_tables(self) -> None:
        """Fewest TimeShift tokens covering g ticks (g < 2 * largest + 1), and the first of them, per denominator."""
        self.max_shift, self.gap_cost, self.gap_step = [], [], []
        for d in range(len(self.dens)):
            shifts = sorted(((self.ticks[d][i], i) for i in range(self.n_base) if self.kind[i] == K_SHIFT),
                            reverse=True)
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
        self.max_shift_token = [self.gap_step[d][self.max_shift[d]] for d in range(len(self.dens))]

    def _skyline_arrays(self, beats: list[float]) -> None:
        kind = np.array(self.kind)
        self.is_time = np.isin(kind, (K_SHIFT, K_REST))
        self.is_rest = kind == K_REST
        self.is_pitch = kind == K_PITCH
        self.is_program = kind == K_PROGRAM
        self.program_of = np.array(self.program, np.int16)
        self.is_velocity = kind == K_VEL
        self.is_duration = kind == K_DUR
        self.is_dropped = kind == K_CHORD
        self.pitch_of = np.array(self.pitch, np.int16)
        self.beats_of = np.array(beats, np.float64)

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


@dataclass
class Decoded:
    notes: list[tuple[int, int, int, int, int]]  # (onset tick, pitch, velocity id, duration id, duration ticks)
    note_token: list[int]  # index of each note's Pitch token in the sequence
    note_part: list[int]  # each note's part (its Program token's; 0 without parts)
    starts: list[int]  # start tick of every token (a Rest starts where miditok starts it)
    end: int  # time after the last token


def decode_base(grammar: Grammar, ids, start: tuple[int, int, int] | None = None) -> Decoded:
    """Follow miditok's TSD decoder over base ids: notes and each token's start tick.

    ``start``: (time, end of the notes so far, denominator index) to continue a sequence from (a
    transfer/state.ConstraintState begins with exactly these three).
    """
    g = grammar
    kind, pitch, ticks, rest_ticks, ts_den, program = g.kind, g.pitch, g.ticks, g.rest_ticks, g.ts_den, g.program
    ids = [int(i) for i in ids]
    now, prev_end, den = start[:3] if start is not None else (0, 0, g.default_den)
    notes, note_token, note_part, starts = [], [], [], []
    part = 0
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
                note_part.append(part)
                prev_end = max(prev_end, now + d)
        elif k == K_PROGRAM:
            part = program[b]
        elif k in (K_TEMPO, K_TIMESIG, K_CHORD):
            prev_end = max(prev_end, now)
            if k == K_TIMESIG:
                den = ts_den[b]
    return Decoded(notes, note_token, note_part, starts, now)
