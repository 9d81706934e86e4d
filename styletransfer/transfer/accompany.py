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
pitch consistency score of Yeh et al. 2021 (``harmony.harmony_metrics``'s PCS, in [-1, 1]: +1 for
unisons, thirds, fifths and sixths between a melody note and the accompaniment sounding with it, 0 for
fourths, -1 for seconds, sevenths and tritones, sampled every sixteenth). The likelihood alone cannot see
a clash with the melody — the melody is in the prompt, but a model this small often writes a plausible
chorale texture in a neighbouring key — and the weight (``transfer.harmony_weight`` in the recipe, default 1) was chosen
on Bach's validation chorales (docs/results.md).
"""
from __future__ import annotations

from bisect import bisect_left
from typing import Callable

import numpy as np
from symusic import Score

from ..data.melody_file import fermata_quarters
from ..errors import UserError
from ..analysis.beats import beat_of, time_signatures_of
from ..tokens.bars import score_bar_ticks
from ..tokens.grammar import decode_base
from ..tokens.skyline import melody_base_ids
from ..tokens.tokenizer import special_id
from .constraint import MelodyConstraint
from .plan import MelodyPlan
from .ranking import HARMONY_WEIGHT, Candidate, decode_candidate, melody_consonance
from .redo import Redo, kept_texture, merge, plan_bars, replay
from .sampler import model_context, sample
from .search import Search
from .windows import bpe_per_bar, plan_window


def transfer(melody_score: Score, model, tokenizer, candidates: int = 8, seed: int = 0, temperature: float = 1.0,
             top_k: int = 0, top_p: float = 1.0, context: int | None = None,
             progress: Callable[[int, int], None] | None = None,
             harmony_weight: float = HARMONY_WEIGHT, search: Search | None = None,
             hard_rules: frozenset[str] = frozenset(), redo: Redo | None = None) -> list[Candidate]:
    """``candidates`` accompaniments of the melody, sampled in one batch, best first.

    ``context`` may shrink the model's own context (``max_position_embeddings`` / ``n_positions``) to force
    smaller windows; ``progress(bars_done, bars)`` is called after each window. ``search`` (transfer/search.py)
    stops the batch every few bars and resamples it by the analysis of what is written so far; without it
    the candidates are independent samples (best-of-N). ``hard_rules`` (transfer/rules.HARD_RULES) are
    added to the melody constraint. ``redo`` (transfer/redo.py) writes only its bars again and keeps the
    rest of its kept result. Every candidate holds every melody note (onset,
    pitch, duration on the tokenizer's grid) with nothing sounding above it; the output keeps the input's
    tempos, time and key signatures. Raises UserError for a melody without notes.
    """
    if candidates < 1:
        raise UserError("candidates must be at least 1")
    grammar = tokenizer.grammar
    ids = melody_base_ids(melody_score, tokenizer)
    plan = MelodyPlan(grammar, ids)
    bos, eos = special_id(tokenizer, "BOS"), special_id(tokenizer, "EOS")
    mel_tok, tex_tok = special_id(tokenizer, "MELODY"), special_id(tokenizer, "TEXTURE")
    ctx = min(context or model_context(model), model_context(model))
    n = candidates

    n_bars = plan.n_bars
    searching = None if search is None else search.begin(plan, grammar, beat_of(melody_score),
                                                         time_signatures_of(melody_score),
                                                         fermata_quarters(melody_score))
    mel_bars = bpe_per_bar(tokenizer, plan.split_bars(plan.ids, plan.starts, 0, n_bars))
    mel_len = [len(b) for b in mel_bars]
    bar_len = [plan.bar_ticks[b + 1] - plan.bar_ticks[b] for b in range(n_bars)]
    est = [max(4.0, 3.0 * m) for m in mel_len]  # a first guess, replaced by what the model writes

    states = [plan.initial_state()] * n
    texture: list[list[int]] = [[] for _ in range(n)]  # base ids
    tex_starts: list[list[int]] = [[] for _ in range(n)]  # their start ticks
    tex_bar_len = [[] for _ in range(n)]  # BPE length of each finished bar of the texture
    sampled: list[list[int]] = [[] for _ in range(n)]  # model ids
    ll_sum, n_scored = [0.0] * n, [0] * n
    i, window, stop_bar = 0, 0, n_bars
    tries, tried = 1, []  # tries of the last window; the candidates of the earlier ones
    if redo is not None:  # the kept bars before the span are the texture written so far
        i, stop_bar = redo_span = plan_bars(melody_score, redo.first, redo.last, n_bars)
        kept_ids = kept_texture(redo.kept, tokenizer)
        kept_starts = decode_base(grammar, kept_ids).starts
        cut = bisect_left(kept_starts, plan.bar_ticks[i])
        start_state = replay(plan, kept_ids[:cut], hard_rules)
        kept_bpe = bpe_per_bar(tokenizer, plan.split_bars(kept_ids[:cut], kept_starts[:cut], 0, i))
        states = [start_state] * n
        texture = [list(kept_ids[:cut]) for _ in range(n)]
        tex_starts = [list(kept_starts[:cut]) for _ in range(n)]
        tex_bar_len = [[len(b) for b in kept_bpe] for _ in range(n)]
        sampled = [[t for bar in kept_bpe for t in bar] for _ in range(n)]
    while True:
        carried_len = [max(lengths[b] for lengths in tex_bar_len) for b in range(i)]
        s, e = plan_window(i, stop_bar, mel_len, carried_len, est, ctx)
        melody_part = [t for bar in mel_bars[s:e] for t in bar]
        if search is not None:  # the prompt still holds melody bars [s, e): sampling stops earlier
            e = search.stop(i, e, n_bars)
        final = e >= n_bars
        window_end = None if final else plan.bar_ticks[e]
        prompts = []
        for r in range(n):
            first = bisect_left(tex_starts[r], plan.bar_ticks[s]) if s else 0
            carried = plan.split_bars(texture[r][first:], tex_starts[r][first:], s, i)
            prompts.append([bos, mel_tok] + melody_part + [tex_tok] +
                           [t for bar in bpe_per_bar(tokenizer, carried) for t in bar])
        constraint = MelodyConstraint(plan, states, window_end=window_end, hard_rules=hard_rules)
        constraint.budgets = [max(ctx - len(p), constraint.hurry_cost(st) + 8) for p, st in zip(prompts, states)]
        if final and searching is not None:  # the rows as they were, for another try of the last window
            before = ([list(row) for row in texture], [list(row) for row in tex_starts],
                      [list(row) for row in sampled], list(ll_sum), list(n_scored), list(states))
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
            new = [b for t in tokens for b in grammar.expansions[t]]
            texture[r] += new
            tex_starts[r] += decode_base(grammar, new, states[r]).starts
            generated_ticks.append(len(tokens))
        states = constraint.states
        if (final and searching is not None and tries < search.final_tries
                and not any(searching.ends_authentic(t) for t in texture)):
            # no candidate closes V-I: keep them all for the ranking, and sample the last window again
            tried += list(zip(texture, sampled, ll_sum, n_scored))
            texture, tex_starts, sampled, ll_sum, n_scored, states = before
            tries, window = tries + 1, window + 1
            continue
        if progress is not None:
            progress(e, n_bars)
        if final or e >= stop_bar:
            break
        for r in range(n):  # bars [i, e) of the texture are finished: their BPE lengths, for window planning
            first = bisect_left(tex_starts[r], plan.bar_ticks[i])
            bars = plan.split_bars(texture[r][first:], tex_starts[r][first:], i, e)
            tex_bar_len[r] += [len(b) for b in bpe_per_bar(tokenizer, bars)]
        # what the model actually writes per tick, for the next windows' size
        ticks = max(1, plan.bar_ticks[e] - plan.bar_ticks[i])
        rate = float(np.mean(generated_ticks)) / ticks
        est = est[:e] + [max(4.0, rate * bar_len[b]) for b in range(e, n_bars)]
        if search is not None:
            keep = searching.select(texture, seed * 1_000_003 + window, plan.bar_ticks[e] / grammar.tpq)
            # copies: a row kept twice goes on as two rows, each extended in place by its own tokens
            texture, tex_starts, tex_bar_len, sampled = (
                [list(rows[k]) for k in keep] for rows in (texture, tex_starts, tex_bar_len, sampled))
            states, ll_sum, n_scored = ([rows[k] for k in keep] for rows in (states, ll_sum, n_scored))
        i, window = e, window + 1

    out = []
    for row in tried:  # the earlier tries' candidates, after this try's
        for rows, value in zip((texture, sampled, ll_sum, n_scored), row):
            rows.append(value)
    rows = range(n) if searching is None else _distinct(sampled)  # resampled copies are one candidate
    bar_starts = score_bar_ticks(melody_score) + [2**62]
    for r in rows:
        score, n_acc, penalty = decode_candidate(tokenizer, plan, sampled[r], melody_score)
        if redo is not None:  # the new bars into the kept result
            first, stop = redo_span
            score = merge(redo.kept, score, bar_starts[first], bar_starts[min(stop, len(bar_starts) - 1)])
            n_acc = len(score.tracks[1].notes)
        mean_ll = ll_sum[r] / max(1, n_scored[r])
        consonance = melody_consonance(score)
        analysis = searching.final_score(texture[r]) if searching is not None else 0.0
        out.append(Candidate(score, mean_ll, penalty, mean_ll - penalty + harmony_weight * consonance + analysis,
                             n_acc, sampled[r], seed, consonance))
    out.sort(key=lambda c: -c.rank_score)
    return out[:n]  # the best n, over every try of the last window


def _distinct(rows: list[list[int]]) -> list[int]:
    """The index of the first of each distinct row."""
    seen: dict[tuple[int, ...], int] = {}
    for r, ids in enumerate(rows):
        seen.setdefault(tuple(ids), r)
    return list(seen.values())
