"""The search over partial accompaniments (transfer/search.py) and the hard rules (transfer/rules.py)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from styletransfer.model.runs import SHIPPED, style_recipe
from styletransfer.transfer.faults import Teacher
from styletransfer.transfer.plan import MelodyPlan
from styletransfer.transfer.rules import MelodyRules
from styletransfer.transfer.search import resampled_rows, window_stop
from styletransfer.tokens.skyline import melody_base_ids
from support.transfer import TPQ, check_guarantee, harmonize, melodies, melody_score, one_thread, random_melody, tiny_model, tok, transfer_settings  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def model(tok):
    return tiny_model(tok, context=256)


def teacher(plan, tok, *overrides: str, fermatas=None) -> Teacher:
    """The teacher of the shipped default recipe's search, with ``search.KEY=VALUE`` overrides."""
    settings = transfer_settings(*(f"search.{o}" for o in overrides)).search
    return Teacher(settings, plan, tok.grammar, 1.0, ((0.0, 4, 4),), fermatas, settings.parts or 4)


def semitone_clashes_on_beats(score, beat_ticks: int) -> int:
    """Accompaniment notes attacked on a beat a semitone (mod octaves) from the melody note sounding then."""
    melody, accompaniment = score.tracks[0].notes, score.tracks[1].notes
    clashes = 0
    for note in accompaniment:
        if note.time % beat_ticks:
            continue
        for m in melody:
            if m.time <= note.time < m.time + m.duration and (m.pitch - note.pitch) % 12 in (1, 11):
                clashes += 1
    return clashes


def test_unknown_hard_rule_is_refused(tok):
    score, _ = random_melody(1, 4)
    plan = MelodyPlan(tok.grammar, melody_base_ids(score, tok))
    with pytest.raises(ValueError, match="unknown hard rules"):
        MelodyRules(plan, hard_rules=frozenset({"no_fun"}))


def test_the_recipe_knows_every_hard_rule_and_refuses_others():
    from styletransfer.config import HARD_RULES as RECIPE_RULES
    from styletransfer.config import load_recipe
    from styletransfer.errors import UserError
    from styletransfer.transfer.rules import HARD_RULES

    assert set(RECIPE_RULES) == set(HARD_RULES)
    with pytest.raises(UserError, match="transfer.hard_rules"):
        load_recipe(None, ["transfer.hard_rules=[no_fun]"])


def test_semitone_rule_forbids_the_clash_and_only_it(tok, model):
    """Sampled many times, the unconstrained model writes semitone clashes on beats; with the rule, none,
    and the melody is kept either way."""
    score, expected = random_melody(21, 16)
    # the first seed whose free candidates clash: the rule has something to forbid
    seed = next((seed for seed in range(3, 13)
                 if sum(semitone_clashes_on_beats(c.score, TPQ)
                        for c in harmonize(score, model, tok, "temperature=1.5", candidates=8, seed=seed)) > 0), None)
    assert seed is not None
    ruled = harmonize(score, model, tok, "temperature=1.5", "hard_rules=[semitone_on_beat]", candidates=8, seed=seed)
    for c in ruled:
        check_guarantee(c.score, expected)
        assert semitone_clashes_on_beats(c.score, TPQ) == 0


@settings(max_examples=8, deadline=None)
@given(melody=melodies(max_notes=12), seed=st.integers(0, 1000))
def test_search_keeps_the_melody(tok, model, melody, seed):
    score, expected = melody
    found = harmonize(score, model, tok, "search.bars_per_step=1", candidates=6, seed=seed, free=False)
    assert found and len({tuple(c.texture_ids) for c in found}) == len(found)  # resampled copies merged
    for c in found:
        check_guarantee(c.score, expected)
    assert [c.rank_score for c in found] == sorted((c.rank_score for c in found), reverse=True)


def test_resampling_follows_the_faults():
    """A row that just made many faults is replaced by copies of rows that made none; rows are copied in
    proportion to exp(-strength * new faults)."""
    faults = np.array([0.0, 5.0, 0.0, 5.0])
    keep = resampled_rows(faults, None, 10.0, seed=0)
    assert sorted(set(keep)) == [0, 2] and len(keep) == 4
    # only the new faults count: the rows kept carry their faults, so equal new faults weigh equally
    carried = faults[keep]
    assert sorted(resampled_rows(carried + 1.0, carried, 10.0, seed=1)) == [0, 1, 2, 3]
    # at strength 0 the faults do not matter: every row goes on once
    assert resampled_rows(faults, None, 0.0, seed=2) == [0, 1, 2, 3]


def test_search_lowers_the_faults_of_the_kept_candidate(tok, model):
    """Over a few melodies, the searched candidates carry fewer weighted faults than best-of-N's."""
    searched, independent = [], []
    for k in range(4):
        score, _ = random_melody(30 + k, 16)
        plan = MelodyPlan(tok.grammar, melody_base_ids(score, tok))
        run = teacher(plan, tok)
        faults = lambda c: run.faults([b for t in c.texture_ids for b in tok.grammar.expansions[t]])  # noqa: E731
        searched.append(faults(harmonize(score, model, tok, "search.strength=3.0", candidates=12, seed=k, free=False)[0]))
        independent.append(np.mean([faults(c) for c in harmonize(score, model, tok, "search.enabled=false",
                                                                 candidates=12, seed=k, free=False)]))
    assert np.mean(searched) < np.mean(independent)


def test_the_search_knows_where_cadences_are_due(tok):
    """An inner phrase end costs nothing closed by V-I, more closed by V-vi; it is scored once the next
    phrase has begun, or once a window has written its last note to the end, and the last phrase is left
    to the final ranking."""
    # C major: E D C(half) | G F E D | C(whole): a phrase ends on the half note, the next starts at beat 4
    notes = [(0, 1, 64), (1, 2, 62), (2, 4, 60), (4, 5, 67), (5, 6, 65), (6, 7, 64), (7, 8, 62), (8, 12, 60)]
    score = melody_score([(int(a * TPQ), int((b - a) * TPQ), p, 80) for a, b, p in notes])
    plan = MelodyPlan(tok.grammar, melody_base_ids(score, tok))
    run = teacher(plan, tok, "cadence_weight=1.0")
    assert run.phrase_ends.tolist() == [2.0]
    mel = np.asarray(notes[:4], float)
    start = [(0, 1, 48), (0, 1, 55), (1, 2, 43), (1, 2, 55), (1, 2, 59)]  # I, then V under D
    authentic = np.asarray(start + [(2, 4, 36), (2, 4, 52), (2, 4, 55)], float)  # -> I
    deceptive = np.asarray(start + [(2, 4, 45), (2, 4, 57), (2, 4, 52)], float)  # -> vi
    assert run._cadence_faults(mel, authentic) == 0.0
    assert run._cadence_faults(mel, deceptive) == 0.5
    assert run._cadence_faults(mel[:3], deceptive) == 0.0  # the next phrase not begun: not yet due
    # a window ending at beat 4 has written the half note C to its end: due, before the next phrase begins
    assert run._cadence_faults(mel[:3], deceptive, written_to=4.0) == 0.5
    assert run._cadence_faults(mel[:3], deceptive, written_to=3.0) == 0.0  # C held on past the window
    assert run._faults(mel, deceptive) > run._faults(mel, authentic)
    at_fermatas = teacher(plan, tok, fermatas=[1.0, 4.0])
    assert at_fermatas.phrase_ends.tolist() == [1.0, 4.0]  # a chorale's fermatas, not the half note
    heavier = teacher(plan, tok, "cadence_weight=3.0")
    assert heavier._cadence_faults(mel, deceptive) == 1.5 and heavier._cadence_faults(mel, authentic) == 0.0
    no_half = teacher(plan, tok, "cadence_weight=3.0", "cadence_faults.deceptive=0.0")
    assert no_half._cadence_faults(mel, deceptive) == 0.0  # the recipe's cost of each kind



def test_a_beat_not_in_the_style_s_parts_costs_its_weight(tok):
    """C5 over a four-part C major triad, then over five parts (the root doubled): one voice_count fault,
    counted at its weight; with ``parts=5`` the first beat is the fault instead."""
    notes = [(0, 1, 72), (1, 2, 72)]
    score = melody_score([(int(a * TPQ), int((b - a) * TPQ), p, 80) for a, b, p in notes])
    plan = MelodyPlan(tok.grammar, melody_base_ids(score, tok))
    mel = np.asarray(notes, float)
    acc = np.asarray([(0, 1, 48), (0, 1, 55), (0, 1, 64), (1, 2, 48), (1, 2, 55), (1, 2, 60), (1, 2, 64)], float)

    def cost(w: float, parts: int = 4) -> float:
        return teacher(plan, tok, f"fault_weights.voice_count={w}", f"parts={parts}")._faults(mel, acc)

    assert cost(0.5) - cost(0.0) == pytest.approx(0.5)  # one beat in five parts
    assert cost(2.0, parts=5) - cost(0.0, parts=5) == pytest.approx(2.0)  # one beat in four


def test_the_last_window_holds_the_final_cadence():
    """A window stops ``bars_per_step`` bars on, except that the last one holds the last two bars at least
    (the dominant and the tonic), and a window whose prompt ends before the melody does is cut as usual."""
    one, two = (transfer_settings(f"search.bars_per_step={n}").search for n in (1, 2))
    assert [window_stop(i, 8, 8, one) for i in range(7)] == [1, 2, 3, 4, 5, 6, 8]
    assert window_stop(6, 8, 8, one) == 8 and window_stop(5, 8, 8, one) == 6
    assert [window_stop(i, 8, 8, two) for i in (0, 2, 4, 6)] == [2, 4, 6, 8] and window_stop(5, 8, 8, two) == 7
    assert window_stop(6, 7, 10, one) == 7 and window_stop(5, 7, 10, one) == 6  # the prompt ends at bar 7 of 10
    three_last = transfer_settings("search.bars_per_step=1", "search.final_bars=3").search
    assert window_stop(5, 8, 8, three_last) == 8  # the recipe's final_bars
    off = transfer_settings("search.enabled=false").search
    assert window_stop(0, 8, 8, off) == 8  # best-of-N: the window as planned


def test_time_not_in_the_style_s_parts_costs_its_weight(tok):
    """C5 for two beats over a held four-part triad, with a tenor eighth struck between the beats: half a
    beat in five parts, which no beat onset sees (voice_count), costs half the voice_count_time weight."""
    notes = [(0, 2, 72)]
    score = melody_score([(int(a * TPQ), int((b - a) * TPQ), p, 80) for a, b, p in notes])
    plan = MelodyPlan(tok.grammar, melody_base_ids(score, tok))
    mel = np.asarray(notes, float)
    acc = np.asarray([(0, 2, 48), (0, 2, 55), (0, 2, 64), (0.5, 1, 60)], float)

    def cost(**weights: float) -> float:
        return teacher(plan, tok, *(f"fault_weights.{k}={w}" for k, w in weights.items()))._faults(mel, acc)

    assert cost(voice_count_time=2.0) - cost() == pytest.approx(1.0)
    assert cost(voice_count=2.0) == cost()  # between the beats: unseen by the beat-onset count


def test_a_static_or_leaping_bass_costs_its_weight(tok):
    """C5 held over a bass C3, C3 again (a repeat), then C2 (an octave: allowed), then D3 (a leap of 14):
    one bass_repeat and one bass_leap, each counted at its weight."""
    notes = [(q, q + 1, 72) for q in range(4)]
    score = melody_score([(int(a * TPQ), int((b - a) * TPQ), p, 80) for a, b, p in notes])
    plan = MelodyPlan(tok.grammar, melody_base_ids(score, tok))
    mel = np.asarray(notes, float)
    acc = np.asarray([(0, 1, 48), (1, 2, 48), (2, 3, 36), (3, 4, 50)], float)

    def cost(repeat: float = 0.0, leap: float = 0.0) -> float:
        return teacher(plan, tok, f"fault_weights.bass_repeat={repeat}", f"fault_weights.bass_leap={leap}")._faults(mel, acc)

    assert cost(repeat=0.5) - cost() == pytest.approx(0.5)
    assert cost(leap=2.0) - cost() == pytest.approx(2.0)


def test_each_shipped_style_has_its_own_texture():
    """Four parts are Bach's chorales' texture, not every style's: each shipped style's parts come from its
    texture.json (measured on its training pieces), not from a recipe key; only the Bach adapter's recipe
    weighs a beat not in its parts, the default (the base, blends, a user's own adapter) leaves it out."""
    from styletransfer.model.runs import style_texture

    def search(slug=None):
        return style_recipe(SHIPPED, [SHIPPED / "adapters" / slug] if slug else []).transfer.search

    def texture(slug):
        return style_texture(SHIPPED, [(SHIPPED / "adapters" / slug, None)])

    assert texture("johann-sebastian-bach").names == ("Soprano", "Alto", "Tenor", "Bass")
    assert texture("trecento-various").count == 2
    assert texture("claudio-monteverdi").count == 5
    assert texture("ludwig-van-beethoven").names[0] == "Violin I"
    for slug in ("johann-sebastian-bach", "trecento-various", "giovanni-pierluigi-da-palestrina"):
        assert search(slug).parts is None  # the recipe no longer says how many parts a style has
    assert search("johann-sebastian-bach").fault_weights.voice_count == 0.5
    assert search().fault_weights.voice_count == 0.0
    assert search("trecento-various").fault_weights.voice_count == 0.0
    assert search("giovanni-pierluigi-da-palestrina").fault_weights.voice_count == 0.0


def test_a_parallel_against_the_melody_costs_its_weight(tok):
    """C-D-E-F over C-D in octaves, then contrary motion: one parallel octave, counted at its weight; the
    same bass with B instead of D has none."""
    notes = [(0, 1, 72), (1, 2, 74), (2, 3, 76), (3, 4, 77)]
    score = melody_score([(int(a * TPQ), int((b - a) * TPQ), p, 80) for a, b, p in notes])
    plan = MelodyPlan(tok.grammar, melody_base_ids(score, tok))
    mel = np.asarray(notes, float)
    parallel = np.asarray([(0, 1, 48), (1, 2, 50), (2, 3, 45), (3, 4, 50)], float)  # octaves C-D, then contrary
    contrary = np.asarray([(0, 1, 48), (1, 2, 47), (2, 3, 45), (3, 4, 50)], float)
    def run(w: float) -> Teacher:
        return teacher(plan, tok, f"fault_weights.parallels_melody_bass={w}")

    costs = {w: run(w)._faults(mel, parallel) for w in (1.0, 4.0)}
    clean = run(4.0)._faults(mel, contrary)
    assert costs[4.0] - costs[1.0] == pytest.approx(3.0)  # one parallel, three faults more
    assert clean < costs[1.0]


def test_the_last_window_is_tried_again_while_no_candidate_ends_authentic(tok, model, monkeypatch):
    """With no candidate ending V-I, the last window is sampled ``final_tries`` times and every try's
    candidates are ranked together, the best ``candidates`` kept (each keeps the melody); once one ends
    V-I, no more tries."""
    score, expected = random_melody(5, 8)
    endings = []

    def never_authentic(self, texture, notes=None):
        if notes is None:  # the retry's check (the ranking reads the notes it has decoded already)
            endings.append(texture)
        return False

    monkeypatch.setattr(Teacher, "ends_authentic", never_authentic)
    search = ("search.bars_per_step=2", "search.final_tries=3")
    found = harmonize(score, model, tok, *search, candidates=4, seed=1, free=False)
    assert len(endings) == 2 * 4  # tries 1 and 2 were checked; the third is the last
    assert 0 < len(found) <= 4
    for c in found:
        check_guarantee(c.score, expected)
    once = harmonize(score, model, tok, "search.bars_per_step=2", "search.final_tries=1", candidates=4, seed=1,
                     free=False)
    assert found[0].rank_score >= once[0].rank_score  # the first try is the same: more to choose from
    assert {tuple(c.texture_ids) for c in found} != {tuple(c.texture_ids) for c in once}
    endings.clear()
    monkeypatch.setattr(Teacher, "ends_authentic", lambda self, texture, notes=None: True)
    harmonize(score, model, tok, *search, candidates=4, seed=1, free=False)
    assert not endings  # one ends V-I at the first try: no second


def test_a_finished_texture_s_cadence_is_read_once(tok, monkeypatch):
    """The retry check and the final ranking read a finished texture's last cadence once between them."""
    score, _ = random_melody(4, 4)
    plan = MelodyPlan(tok.grammar, melody_base_ids(score, tok))
    run = teacher(plan, tok)
    reads = []
    monkeypatch.setattr(run, "_ends_authentic", lambda mel, acc: reads.append(len(acc)) or True)
    texture = [b for b in plan.ids]  # the melody alone is a texture with no accompaniment
    assert run.ends_authentic(texture) and run.final_score(texture) == pytest.approx(
        -run.settings.rank_strength * run.faults(texture) + run.settings.cadence_bonus)
    assert len(reads) == 1
    run.ends_authentic(texture + [texture[-1]])
    assert len(reads) == 2  # another texture is read anew
