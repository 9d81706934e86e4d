"""The melody constraint: the plan's bars, the rules, the coarse mask, budgets, windows and the state."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from symusic import TimeSignature

from styletransfer.config import ModelConfig
from styletransfer.model.build import build_model
from styletransfer.tokens import tokenizer as tk
from styletransfer.tokens.grammar import decode_base
from styletransfer.tokens.skyline import melody_base_ids
from styletransfer.transfer.constraint import MelodyConstraint
from styletransfer.transfer.hurry import HurryPath
from styletransfer.transfer.plan import NO_PITCH, MelodyPlan
from styletransfer.transfer.rules import MelodyRules
from styletransfer.transfer.sampler import PLAIN, MaskConstraint, Sampling, next_tokens, sample
from styletransfer.transfer.state import ConstraintState
from support.transfer import one_thread, tok, GRID, SATB, bpe_tokenizer, melodies, melody_score, random_melody, tiny_model  # noqa: F401  (fixtures too)


@pytest.fixture(scope="module")
def grammar(tok):
    return tok.grammar


@pytest.fixture(scope="module")
def model(tok):
    return tiny_model(tok, context=256)


@pytest.fixture(scope="module")
def setups(tok, model):
    """(tokenizer, model, texture) by name: with parts, a piano's texture and a chorale's; before parts."""
    legacy = bpe_tokenizer(parts=False)
    return {"piano": (tok, model, None), "satb": (tok, model, SATB),
            "legacy": (legacy, tiny_model(legacy, context=256), None)}


def check_parts(grammar, texture, row) -> None:
    """With parts: every note's part is within the texture, part 0 holds only the melody (checked by the
    caller), and when the parts are lines, a part strikes once its last note has ended, once per onset."""
    if not grammar.parts:
        return
    count = texture.count if texture else 2
    decoded = decode_base(grammar, base_of(grammar, row))
    ends = {}
    for (on, _, _, _, d), part in zip(decoded.notes, decoded.note_part):
        assert 0 <= part < count
        if texture is not None and texture.monophonic and part:
            assert ends.get(part, 0) <= on, f"part {part} strikes at {on} while its last note sounds"
        ends[part] = on + d


def plan_of(tok, score) -> MelodyPlan:
    return MelodyPlan(tok.grammar, melody_base_ids(score, tok))


def prompt_of(tok, plan) -> list[int]:
    ids, _ = tk.bpe_encode_bars(tok, [plan.ids])
    sp = [tk.special_id(tok, n) for n in ("BOS", "MELODY", "TEXTURE")]
    return [sp[0], sp[1]] + ids.tolist() + [sp[2]]


def base_of(grammar, ids) -> list[int]:
    return [b for i in ids if i != grammar.eos for b in grammar.expansions[i]]


def placed_melody(grammar, plan, ids) -> bool:
    got = {(on, p, d) for on, p, _, _, d in decode_base(grammar, base_of(grammar, ids)).notes}
    return all((on, p, d) in got for on, p, _, _, d in plan.notes)


# ---------------------------------------------------------------- the plan


def test_bars_follow_time_signatures(tok):
    score = melody_score([(0, 480, 60, 80), (3 * 480, 480, 62, 80), (10 * 480, 480, 64, 80)], ts=(3, 4))
    plan = plan_of(tok, score)
    assert plan.bar_ticks[:4] == [0, 48, 96, 144]  # 16 ticks per quarter note
    assert plan.n_bars == 4  # the note at beat 10 lies in bar 4 (index 3)
    score = melody_score([(0, 480, 60, 80), (6 * 480, 480, 62, 80)], ts=(6, 8))
    assert plan_of(tok, score).bar_ticks[:3] == [0, 48, 96]


# ---------------------------------------------------------------- the rules, property-tested


@pytest.mark.parametrize("setup", ["piano", "satb", "legacy"])
@settings(max_examples=25, deadline=None)
@given(melody=melodies(max_notes=12), seed=st.integers(0, 10_000), temperature=st.sampled_from([0.5, 1.0, 2.0]))
def test_sampled_texture_keeps_the_melody(setups, setup, melody, seed, temperature):
    tok, model, texture = setups[setup]
    grammar = tok.grammar
    score, _ = melody
    plan = plan_of(tok, score)
    constraint = MelodyConstraint(plan, batch=4, budgets=[600] * 4, texture=texture)
    rows = sample(model, [prompt_of(tok, plan)] * 4, 600, sampling=Sampling(temperature, 0, 1.0), seed=seed,
                  eos_id=grammar.eos, constraint=constraint)
    melody = sorted((on, p, d) for on, p, _, _, d in plan.notes)
    for row in rows:
        assert row[-1] == grammar.eos and len(row) <= 600  # EOS within the budget
        decoded = tk.decode_ids(tok, row)  # miditok's decoder, not ours
        notes = sorted((n.time, n.pitch, n.duration) for t in decoded.tracks for n in t.notes)
        assert set(melody) <= set(notes)
        mel_keys = {(on, p) for on, p, _ in melody}
        if grammar.parts:  # part 0 is the melody, note for note
            assert sorted((n.time, n.pitch, n.duration) for t in decoded.tracks if t.program == 0
                          for n in t.notes) == melody
        check_parts(grammar, texture, row)
        for on, p, d in notes:
            if (on, p) in mel_keys:
                continue
            for m_on, m_p, m_d in melody:
                if m_on < on + d and on < m_on + m_d:
                    assert p < m_p
        assert max(on for on, _, _ in notes) <= plan.end  # nothing starts after the melody's end
        assert [(ts.numerator, ts.denominator) for ts in decoded.time_signatures] == \
               [(ts.numerator, ts.denominator) for ts in score.time_signatures]


@pytest.mark.parametrize("setup", ["piano", "satb", "legacy"])
@settings(max_examples=20, deadline=None)
@given(melody=melodies(max_notes=8), seed=st.integers(0, 10_000))
def test_coarse_mask_holds_every_allowed_id(setups, setup, melody, seed):
    """The vectorized first-token mask is a superset of the exact rule, and choose/allowed agree."""
    tok, model, texture = setups[setup]
    grammar = tok.grammar
    score, _ = melody
    plan = plan_of(tok, score)
    constraint = MelodyConstraint(plan, batch=2, budgets=[300] * 2, texture=texture)
    rng = random.Random(seed)
    probes = set(rng.sample(range(60), 6))

    class Probe:  # the sampler's Constraint protocol, around the melody constraint
        def mask(self, step, logits):
            return constraint.mask(step, logits)

        def choose(self, logits, filtered, step, generator):
            exact = None
            if step in probes:
                coarse = constraint.coarse_mask("cpu")
                exact = constraint.allowed(step)
                assert not (exact & ~coarse).any()
                for r in range(2):
                    if not constraint.finished[r]:
                        ids = [i for i in range(grammar.size) if constraint.check(r, i) is not None]
                        assert exact[r].nonzero().flatten().tolist() == ids
                        assert ids  # never stuck
            tokens = constraint.choose(logits, filtered, step, generator).tolist()
            for r, t in enumerate(tokens):
                assert constraint.finished[r] or constraint.check(r, t) is not None
                assert exact is None or exact[r, t]
            return torch.tensor(tokens)

        def advance(self, tokens):
            constraint.advance(tokens)

    rows = sample(model, [prompt_of(tok, plan)] * 2, 300, seed=seed, eos_id=grammar.eos, constraint=Probe())
    assert all(placed_melody(grammar, plan, r) for r in rows)


def test_mask_only_sampler_path(tok, grammar, model):
    """A constraint used through allowed() (a MaskConstraint: no choose of its own) keeps the melody too."""
    score, _ = random_melody(3, 6)
    plan = plan_of(tok, score)
    inner = MelodyConstraint(plan, batch=2, budgets=[200] * 2)

    class MaskOnly(MaskConstraint):
        def allowed(self, step):
            return inner.allowed(step)

        def advance(self, tokens):
            inner.advance(tokens)

    rows = sample(model, [prompt_of(tok, plan)] * 2, 200, seed=1, eos_id=grammar.eos, constraint=MaskOnly())
    assert all(r[-1] == grammar.eos and placed_melody(grammar, plan, r) for r in rows)


@pytest.mark.parametrize("top_k,top_p", [(1, 1.0), (5, 1.0), (0, 0.5)])
def test_greedy_and_filters(tok, grammar, model, top_k, top_p):
    score, _ = random_melody(4, 8)
    plan = plan_of(tok, score)
    constraint = MelodyConstraint(plan, batch=3, budgets=[300] * 3)
    rows = sample(model, [prompt_of(tok, plan)] * 3, 300, sampling=Sampling(1.0, top_k, top_p), seed=2, eos_id=grammar.eos,
                  constraint=constraint)
    assert all(placed_melody(grammar, plan, r) for r in rows)
    if top_k == 1:
        assert rows[0] == rows[1] == rows[2]  # greedy: no randomness


@settings(max_examples=15, deadline=None)
@given(melody=melodies(max_notes=10), seed=st.integers(0, 1000), slack=st.integers(0, 3))
def test_tight_budget_still_places_every_note(tok, grammar, model, melody, seed, slack):
    score, _ = melody
    plan = plan_of(tok, score)
    need = MelodyConstraint(plan, batch=1).hurry_cost(plan.initial_state())
    budget = need + slack
    constraint = MelodyConstraint(plan, batch=2, budgets=[budget] * 2)
    rows = sample(model, [prompt_of(tok, plan)] * 2, budget, seed=seed, eos_id=grammar.eos, constraint=constraint)
    for row in rows:
        assert len(row) <= budget and row[-1] == grammar.eos
        assert placed_melody(grammar, plan, row)


def test_hurry_token_always_fits(tok, grammar, model):
    """From states met while sampling, the hurry token is allowed and costs exactly one step."""
    score, _ = random_melody(5, 10, ts=(6, 8))
    plan = plan_of(tok, score)
    constraint = MelodyConstraint(plan, batch=4, budgets=[400] * 4)
    seen = []
    original = constraint.advance

    def advance(tokens):
        original(tokens)
        seen.extend(s for s, f in zip(constraint.states, constraint.finished) if not f)

    constraint.advance = advance
    sample(model, [prompt_of(tok, plan)] * 4, 400, seed=0, eos_id=grammar.eos, constraint=constraint)
    probe = MelodyConstraint(plan, batch=1, budgets=[10**6], texture=SATB)
    for state in seen:
        cost = probe.hurry_cost(state)
        probe.states[0] = state
        token = probe.hurry_token(state)
        if token == grammar.eos:
            assert cost == 1 and probe.eos_ok(state)
            continue
        new = probe.check(0, token)
        assert new is not None and probe.hurry_cost(new) == cost - 1


def test_window_stops_at_its_end(tok, grammar, model):
    score, _ = random_melody(6, 24, ts=(3, 4))
    plan = plan_of(tok, score)
    end_tick = plan.bar_ticks[3]
    constraint = MelodyConstraint(plan, batch=4, window_end=end_tick, budgets=[300] * 4)
    rows = sample(model, [prompt_of(tok, plan)] * 4, 300, seed=3, eos_id=grammar.eos, constraint=constraint)
    before = {(on, p, d) for on, p, _, _, d in plan.notes if on < end_tick}
    for row, state in zip(rows, constraint.states):
        assert row[-1] == grammar.eos
        assert state.tick >= end_tick  # time reached the window's end
        got = {(on, p, d) for on, p, _, _, d in decode_base(grammar, base_of(grammar, row)).notes}
        assert before <= got
        assert all(on < end_tick for on, *_ in decode_base(grammar, base_of(grammar, row)).notes)
        assert state.next_event == sum(1 for t in plan.ev_tick if t < end_tick)  # every event before the end placed


def test_time_signature_changes_are_repeated(tok, grammar, model):
    """4/4 -> 6/8 -> 3/4: the texture repeats the melody's TimeSig tokens, so both decode on one grid."""
    score = melody_score([(i * 480, 480, 60 + i, 80) for i in range(4)] + [(4 * 480 + i * 720, 720, 70 - i, 80)
                                                                              for i in range(4)]
                         + [(10 * 480 + i * 480, 480, 65, 80) for i in range(3)])
    score.time_signatures.append(TimeSignature(4 * 480, 6, 8))
    score.time_signatures.append(TimeSignature(10 * 480, 3, 4))
    plan = plan_of(tok, score)
    assert [grammar.dens[d] for d in plan.ev_den][-1] == 4 and 8 in [grammar.dens[d] for d in plan.ev_den]
    constraint = MelodyConstraint(plan, batch=3, budgets=[400] * 3)
    rows = sample(model, [prompt_of(tok, plan)] * 3, 400, seed=4, eos_id=grammar.eos, constraint=constraint)
    for row in rows:
        decoded = tk.decode_ids(tok, row)
        assert [(t.time, t.numerator, t.denominator) for t in decoded.time_signatures] == \
               [(0, 4, 4), (64, 6, 8), (160, 3, 4)]
        assert placed_melody(grammar, plan, row)


def test_low_melody_note_leaves_no_room_below(tok, grammar, model):
    """A melody note at A0 (21): nothing may sound while it does."""
    score = melody_score([(0, 960, 60, 80), (960, 1920, 21, 80), (2880, 480, 72, 80)])
    plan = plan_of(tok, score)
    constraint = MelodyConstraint(plan, batch=4, budgets=[300] * 4)
    rows = sample(model, [prompt_of(tok, plan)] * 4, 300, seed=5, eos_id=grammar.eos, constraint=constraint)
    for row in rows:
        notes = decode_base(grammar, base_of(grammar, row)).notes
        low_on, low_end = 2 * 16, 6 * 16  # ticks at 16 per quarter
        assert all(not (on < low_end and low_on < on + d) or (on, p) == (low_on, 21) for on, p, _, _, d in notes)


def test_padded_model_vocabulary(tok, grammar):
    """A model whose vocabulary is larger than the tokenizer's never samples the extra ids."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(n_layer=1, n_head=2, n_embd=32, context=128), len(tok) + 37, 0, 1, 2).eval()
    score, _ = random_melody(7, 5)
    plan = plan_of(tok, score)
    constraint = MelodyConstraint(plan, batch=2, budgets=[200] * 2)
    rows = sample(model, [prompt_of(tok, plan)] * 2, 200, seed=0, eos_id=grammar.eos, constraint=constraint)
    assert all(t < len(tok) for r in rows for t in r) and all(placed_melody(grammar, plan, r) for r in rows)


def test_plan_of_an_odd_start(tok):
    """A melody starting off the beat, with long rests: events and ticks as miditok decodes them."""
    score = melody_score([(3 * GRID, 5 * GRID, 64, 80), (40 * GRID, 2 * GRID, 62, 80)], ts=(2, 4))
    plan = plan_of(tok, score)
    assert [(on, p, d) for on, p, _, _, d in plan.notes] == [(6, 64, 10), (80, 62, 4)]
    assert plan.end == 84 and plan.ev_kind.count(1) == 2
    assert np.all(np.diff(plan.ev_tick) >= 0)


def test_next_tokens_samples_the_renormalized_distribution(tok, grammar):
    """Gumbel-max over the coarse set, walked until the exact rule accepts: an exact sample from the model's
    distribution restricted to the allowed ids (no top-k/top-p)."""
    score, _ = random_melody(8, 6)
    plan = plan_of(tok, score)
    probe = MelodyConstraint(plan, batch=1, budgets=[10**6], texture=SATB)
    state = plan.initial_state()
    while state.next_event < 3 or state.note_part:  # place the TimeSig, Tempo and first melody note the cheapest way
        probe.states[0] = state
        state = probe.check(0, probe.hurry_token(state))
    probe.states[0] = state
    state = probe.check(0, grammar.single[grammar.program_token[1]])  # an alto note: its pitch is due
    probe.states[0] = state
    allowed = [i for i in range(grammar.size) if probe.check(0, i) is not None]
    assert len(allowed) > 20
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(grammar.size, generator=gen) * 3
    n = 20000
    big = MelodyConstraint(plan, [state] * n, budgets=[10**6] * n, texture=SATB)
    tokens = next_tokens(logits.expand(n, -1), 0, PLAIN, big, gen).tolist()
    counts = np.bincount(tokens, minlength=grammar.size) / n
    expected = np.zeros(grammar.size)
    expected[allowed] = torch.softmax(logits[allowed], 0).numpy()
    assert set(np.flatnonzero(counts)) <= set(allowed)
    assert 0.5 * np.abs(counts - expected).sum() < 0.05


# ---------------------------------------------------------------- the state and the parts on their own


def test_initial_state_names_its_fields(tok, grammar):
    state = plan_of(tok, random_melody(9, 4)[0]).initial_state()
    assert isinstance(state, ConstraintState) and isinstance(state, tuple)  # a tuple to the hot loop
    assert state == ConstraintState(tick=0, notes_end=0, den=grammar.default_den, next_event=0, note_part=0,
                                    melody_note=False, max_dur=0, ceiling=NO_PITCH, chord_ok=True, voice=-1,
                                    voice_ends=(0,) * 8)
    assert decode_base(grammar, [], state).end == state.tick  # a sequence continues from a state's first three


@pytest.mark.parametrize("window_bars", [None, 2])
def test_rules_and_hurry_path_alone_place_the_melody(tok, grammar, window_bars):
    """Without a constraint around them: following the hurry path with the rules costs exactly
    ``hurry.cost`` ids, one base token each, and places every melody note (before a window's end)."""
    score, _ = random_melody(10, 8, ts=(3, 4))
    plan = plan_of(tok, score)
    window_end = None if window_bars is None else plan.bar_ticks[window_bars]
    rules, hurry = MelodyRules(plan, window_end), HurryPath(plan, window_end)
    state, written = plan.initial_state(), []
    cost = hurry.cost(state)
    for _ in range(cost - 1):
        token = hurry.token(state)
        assert token != grammar.eos and len(grammar.expansions[token]) == 1
        state = rules.step(state, grammar.expansions[token])
        assert state is not None and hurry.cost(state) == cost - 1 - len(written)
        written.append(grammar.expansions[token][0])
    assert hurry.token(state) == grammar.eos and rules.eos_ok(state)
    notes = {(on, p, d) for on, p, _, _, d in decode_base(grammar, written).notes}
    assert notes == {(on, p, d) for on, p, _, _, d in plan.notes if window_end is None or on < window_end}
