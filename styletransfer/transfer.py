"""Melody in, accompanied piece out: constrained sampling of the texture, in windows, then ranking.

The prompt is the training pair's: ``[BOS][MELODY] melody [TEXTURE]`` (the melody encoded with the
tokenizer, its skyline taken in token space by ``melody.melody_ids``, BPE-encoded per bar), and the model
writes the texture under ``constraint.MelodyConstraint``, which keeps every melody note in it, note for
note, with nothing sounding above it.

Long melodies: when the melody and its texture would not fit the model's context, the bars are done in
windows. Window [s, e) generates the texture of bars [i, e) from the prompt
``[BOS][MELODY] melody(s..e) [TEXTURE] texture(s..i)`` — the texture already written for the k = i - s
previous bars is carried forward, so the model continues its own accompaniment. The constraint's state
(time, held notes, next melody event) carries over from window to window, so there is no seam in the
melody: windows only change what the model sees. Bars are ticks from the melody's time signatures; a
token belongs to the bar where it starts (as miditok splits bars for BPE and training pairs).

Ranking: mean model log-likelihood per texture token (the model's own distribution at temperature 1,
unfiltered: how well the candidate fits the style), minus a penalty for degenerate accompaniment (none at
all, or one repeated pitch), plus ``harmony_weight`` times the candidate's consonance with the melody: the
pitch consistency score of Yeh et al. 2021 (``metrics.harmony_metrics``'s PCS, in [-1, 1]: +1 for
unisons, thirds, fifths and sixths between a melody note and the accompaniment sounding with it, 0 for
fourths, -1 for seconds, sevenths and tritones, sampled every sixteenth). The likelihood alone cannot see
a clash with the melody — the melody is in the prompt, but a model this small often writes a plausible
chorale texture in a neighbouring key — and the weight (``transfer.harmony_weight`` in the recipe, default 1) was chosen
on Bach's validation chorales (docs/results.md).
"""
from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from symusic import Note, Score, Track

from .constraint import MelodyConstraint, MelodyPlan, decode_base, token_table
from .errors import UserError
from .melody import TokenTypes, melody_ids
from .sampling import model_context, sample
from .tokenizer import base_ids_per_bar, bpe_encode_bars, decode_ids, normalize_score, special_id

PENALTY_NO_ACCOMPANIMENT = 10.0
PENALTY_ONE_PITCH = 5.0
HARMONY_WEIGHT = 1.0
GENERATE_SHARE = 0.6  # of the context, for a window's new texture when the piece needs several windows


@dataclass
class Candidate:
    """One harmonization: the melody on track 0 ("Melody"), the accompaniment on track 1 ("Accompaniment").

    The melody's notes are the input's (quantized to the tokenizer's grid); their velocities are the ones the
    model wrote. Ticks are the input's ``ticks_per_quarter``.
    """

    score: Score
    log_likelihood: float  # mean per sampled texture id
    penalty: float
    rank_score: float  # log_likelihood - penalty + harmony_weight * consonance: candidates come best first
    accompaniment_notes: int
    texture_ids: list[int] = field(repr=False)  # the sampled model ids, all windows, without EOS
    seed: int = 0
    consonance: float = 0.0  # PCS of melody against accompaniment (0 when nothing sounds with the melody)


def melody_base_ids(melody_score: Score, tokenizer) -> np.ndarray:
    """The melody's base token ids, as a training pair's melody: encoded, then its skyline in token space."""
    score = normalize_score(melody_score, tokenizer)
    bars = base_ids_per_bar(tokenizer, score)
    if not bars:
        raise UserError("the melody has no notes in the piano range")
    ids = melody_ids(np.concatenate([np.asarray(b, np.int64) for b in bars]), TokenTypes(tokenizer))
    return ids


def _bpe_per_bar(tokenizer, bars: list[list[int]]) -> list[list[int]]:
    """BPE ids of each bar (BPE never merges across bars, as in training)."""
    ids, starts = bpe_encode_bars(tokenizer, bars)
    ids = ids.tolist()
    bounds = list(starts.tolist()) + [len(ids)]
    return [ids[bounds[k]:bounds[k + 1]] for k in range(len(bars))]


def _plan_window(i: int, n_bars: int, mel_len: list[int], carried_len: list[int], est: list[float],
                 ctx: int) -> tuple[int, int]:
    """(s, e): generate bars [i, e) with the texture of bars [s, i) carried forward."""
    if i == 0 and 3 + sum(mel_len[:n_bars]) + sum(est[:n_bars]) <= ctx:
        return 0, n_bars  # the whole piece in one window
    e, gen = i + 1, est[i]
    while e < n_bars:
        m, g = sum(mel_len[i:e + 1]), gen + est[e]
        if 3 + m + g > GENERATE_SHARE * ctx or m > ctx // 2:
            break
        gen, e = g, e + 1
    s = i
    while s > 0:
        m, carried = sum(mel_len[s - 1:e]), sum(carried_len[s - 1:i])
        if 3 + m + carried + gen > ctx or m > ctx // 2:
            break
        s -= 1
    return s, e


def transfer(melody_score: Score, model, tokenizer, candidates: int = 8, seed: int = 0, temperature: float = 1.0,
             top_k: int = 0, top_p: float = 1.0, context: int | None = None,
             progress: Callable[[int, int], None] | None = None,
             harmony_weight: float = HARMONY_WEIGHT) -> list[Candidate]:
    """``candidates`` accompaniments of the melody, sampled in one batch, best first.

    ``context`` may shrink the model's own context (``max_position_embeddings`` / ``n_positions``) to force
    smaller windows; ``progress(bars_done, bars)`` is called after each window. Every candidate holds every
    melody note (onset, pitch, duration on the tokenizer's grid) with nothing sounding above it; the output
    keeps the input's tempos, time and key signatures. Raises UserError for a melody without notes.
    """
    if candidates < 1:
        raise UserError("candidates must be at least 1")
    table = token_table(tokenizer)
    ids = melody_base_ids(melody_score, tokenizer)
    plan = MelodyPlan(table, ids)
    bos, eos = special_id(tokenizer, "BOS"), special_id(tokenizer, "EOS")
    mel_tok, tex_tok = special_id(tokenizer, "MELODY"), special_id(tokenizer, "TEXTURE")
    ctx = min(context or model_context(model), model_context(model))
    n = candidates

    n_bars = plan.n_bars
    mel_bars = _bpe_per_bar(tokenizer, plan.split_bars(plan.ids, plan.starts, 0, n_bars))
    mel_len = [len(b) for b in mel_bars]
    bar_len = [plan.bar_ticks[b + 1] - plan.bar_ticks[b] for b in range(n_bars)]
    est = [max(4.0, 3.0 * m) for m in mel_len]  # a first guess, replaced by what the model writes

    states = [plan.initial_state()] * n
    texture: list[list[int]] = [[] for _ in range(n)]  # base ids
    tex_starts: list[list[int]] = [[] for _ in range(n)]  # their start ticks
    tex_bar_len = [[] for _ in range(n)]  # BPE length of each finished bar of the texture
    sampled: list[list[int]] = [[] for _ in range(n)]  # model ids
    ll_sum, n_scored = [0.0] * n, [0] * n
    i, window = 0, 0
    while True:
        carried_len = [max(lengths[b] for lengths in tex_bar_len) for b in range(i)]
        s, e = _plan_window(i, n_bars, mel_len, carried_len, est, ctx)
        final = e >= n_bars
        window_end = None if final else plan.bar_ticks[e]
        melody_part = [t for bar in mel_bars[s:e] for t in bar]
        prompts = []
        for r in range(n):
            first = bisect_left(tex_starts[r], plan.bar_ticks[s]) if s else 0
            carried = plan.split_bars(texture[r][first:], tex_starts[r][first:], s, i)
            prompts.append([bos, mel_tok] + melody_part + [tex_tok] +
                           [t for bar in _bpe_per_bar(tokenizer, carried) for t in bar])
        constraint = MelodyConstraint(plan, states, window_end=window_end)
        constraint.budgets = [max(ctx - len(p), constraint.hurry_cost(st) + 8) for p, st in zip(prompts, states)]
        if not all(constraint.eos_ok(st) for st in states) or final:
            sample(model, prompts, max(constraint.budgets), temperature=temperature, top_k=top_k, top_p=top_p,
                   seed=seed * 1_000_003 + window, eos_id=eos, constraint=constraint)
        ll = constraint.ll_sum.tolist() if constraint.ll_sum is not None else [0.0] * n
        generated_ticks = []
        for r in range(n):
            tokens = constraint.tokens[r]
            if tokens and tokens[-1] == eos:
                tokens = tokens[:-1]
            ll_sum[r] += ll[r]
            n_scored[r] += len(constraint.tokens[r]) if final else len(tokens)
            sampled[r] += tokens
            new = [b for t in tokens for b in table.expansions[t]]
            texture[r] += new
            tex_starts[r] += decode_base(table, new, states[r]).starts
            generated_ticks.append(len(tokens))
        states = constraint.states
        if progress is not None:
            progress(e, n_bars)
        if final:
            break
        for r in range(n):  # bars [i, e) of the texture are finished: their BPE lengths, for window planning
            first = bisect_left(tex_starts[r], plan.bar_ticks[i])
            bars = plan.split_bars(texture[r][first:], tex_starts[r][first:], i, e)
            tex_bar_len[r] += [len(b) for b in _bpe_per_bar(tokenizer, bars)]
        # what the model actually writes per tick, for the next windows' size
        ticks = max(1, plan.bar_ticks[e] - plan.bar_ticks[i])
        rate = float(np.mean(generated_ticks)) / ticks
        est = est[:e] + [max(4.0, rate * bar_len[b]) for b in range(e, n_bars)]
        i, window = e, window + 1

    out = []
    for r in range(n):
        score, n_acc, penalty = _to_score(tokenizer, plan, sampled[r], melody_score)
        mean_ll = ll_sum[r] / max(1, n_scored[r])
        consonance = melody_consonance(score)
        out.append(Candidate(score, mean_ll, penalty, mean_ll - penalty + harmony_weight * consonance, n_acc,
                             sampled[r], seed, consonance))
    out.sort(key=lambda c: -c.rank_score)
    return out


def melody_consonance(score: Score) -> float:
    """PCS (``metrics``) of a candidate's melody track against its accompaniment track; 0 when no
    accompaniment sounds with the melody."""
    from .metrics import notes_of, pitch_consistency

    tpq = score.ticks_per_quarter
    value = pitch_consistency(notes_of(score.tracks[0], tpq), notes_of(score.tracks[1], tpq))
    return 0.0 if math.isnan(value) else value


def _to_score(tokenizer, plan: MelodyPlan, ids: list[int], melody_score: Score) -> tuple[Score, int, float]:
    """Decode the texture (miditok's decoder) into melody + accompaniment tracks at the input's resolution."""
    decoded = decode_ids(tokenizer, ids)
    src_tpq = decoded.ticks_per_quarter
    tpq = melody_score.ticks_per_quarter
    melody_keys = {(on, p) for on, p, _, _, _ in plan.notes}
    melody = Track("Melody", program=0, is_drum=False)
    accompaniment = Track("Accompaniment", program=0, is_drum=False)

    def scale(t: int) -> int:
        return int(round(t * tpq / src_tpq))

    # The accompaniment starts with the melody: nothing in the silent space before a pickup.
    first_onset = min((on for on, _, _, _, _ in plan.notes), default=0)
    pitches = set()
    for track in decoded.tracks:
        for note in track.notes:
            new = Note(scale(note.time), max(1, scale(note.duration)), note.pitch, note.velocity)
            if (note.time, note.pitch) in melody_keys:
                melody.notes.append(new)
            elif note.time >= first_onset:
                accompaniment.notes.append(new)
                pitches.add(note.pitch)
    melody.notes.sort(key=lambda x: (x.time, -x.pitch))
    accompaniment.notes.sort(key=lambda x: (x.time, -x.pitch))
    _cut_same_pitch_overlaps(accompaniment)
    score = Score(tpq)
    score.tracks.append(melody)
    score.tracks.append(accompaniment)
    score.tempos = melody_score.tempos.copy()
    score.time_signatures = melody_score.time_signatures.copy()
    score.key_signatures = melody_score.key_signatures.copy()
    n_acc = len(accompaniment.notes)
    penalty = PENALTY_NO_ACCOMPANIMENT if n_acc == 0 else PENALTY_ONE_PITCH if len(pitches) == 1 else 0.0
    return score, n_acc, penalty


def _cut_same_pitch_overlaps(track: Track) -> None:
    """A note re-struck while the same pitch still sounds ends where the new one starts (in MIDI
    the first note-off would otherwise cut the second note short)."""
    last: dict[int, Note] = {}
    for note in track.notes:  # sorted by onset
        previous = last.get(note.pitch)
        if previous is not None and previous.time + previous.duration > note.time:
            previous.duration = max(1, note.time - previous.time)
        last[note.pitch] = note
