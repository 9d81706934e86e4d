"""The reference key: key finding's shift to C major / A minor, in the data and in the transfer."""
import numpy as np
from symusic import Note, Score, Track

from styletransfer.data.prepare import to_reference_key
from styletransfer.keys import estimate_key, final_pitch, key_correlations, pitch_class_weights, reference_shift

MAJOR_SCALE = [0, 2, 4, 5, 7, 9, 11, 12, 7, 4, 0]
MINOR_SCALE = [0, 2, 3, 5, 7, 8, 11, 12, 7, 3, 0]


def scale(tonic: int, steps=MAJOR_SCALE) -> list[int]:
    return [tonic + s for s in steps]


def test_shift_is_the_smallest_move_to_c_major_or_a_minor():
    assert reference_shift(scale(67)) == 5  # G major: up a fourth (not down a fifth)
    assert reference_shift(scale(65)) == -5  # F major: down a fourth
    assert reference_shift(scale(60)) == 0
    assert reference_shift(scale(64, MINOR_SCALE)) == 5  # E minor -> A minor
    assert reference_shift(scale(62, MINOR_SCALE)) == -5  # D minor -> A minor
    assert reference_shift(scale(66)) in (6, -6)  # F sharp: a tritone either way
    for tonic in range(55, 67):
        for steps, mode in ((MAJOR_SCALE, "major"), (MINOR_SCALE, "minor")):
            shift = reference_shift(scale(tonic, steps))
            assert -6 <= shift <= 6
            assert estimate_key(np.array(scale(tonic, steps)) + shift) == ({"major": 0, "minor": 9}[mode], mode)


def test_shift_keeps_the_notes_in_range():
    high_g = [91, 95, 98, 103, 105, 107, 103, 98]  # G major up to B7
    assert estimate_key(high_g) == (7, "major") and reference_shift(high_g) == 5 - 12  # not up: down a fifth
    low_f = [21, 29, 33, 36, 41, 46, 45, 41, 24]  # F major down to A0
    assert estimate_key(low_f) == (5, "major") and reference_shift(low_f) == -5 + 12
    assert reference_shift([21, 108, 64, 67, 71]) is None  # the whole keyboard in E minor: nowhere to go
    assert reference_shift([]) == 0


def test_register_picks_the_octave_of_the_shift_nearest_the_melody_register():
    low_f = scale(53)  # F major around C4, median C4: a folk tune's register, an octave under a soprano's
    assert reference_shift(low_f) == -5  # the smallest shift
    assert reference_shift(low_f, register=72) == 7  # up a fifth instead: median G4, nearer C5
    high_g = scale(79)  # G major around D6
    assert reference_shift(high_g, register=72) == -7 and reference_shift(high_g) == 5
    assert reference_shift(scale(67), register=74) == 5 and reference_shift(scale(67), register=66) == -7
    assert reference_shift(low_f, pitch_range=(21, 62), register=72) == -5  # the register never leaves the range
    assert estimate_key(np.array(low_f) + 7) == (0, "major")


def test_a_melody_that_ends_on_a_nearly_as_likely_tonic_is_in_that_key():
    """Profiles alone name C major for a tune without B or B flat that ends on F; F major correlates nearly
    as well, and a melody ends on its tonic, so with its last note it is in F. A last note whose key is far
    behind changes nothing."""
    tune = [60, 62, 64, 65, 67, 69, 67, 65, 64, 62, 60, 65]
    correlations = key_correlations(pitch_class_weights(tune))
    assert estimate_key(tune) == (0, "major") and correlations[0] - correlations[5] < 0.1
    assert estimate_key(tune, last=tune[-1]) == (5, "major")
    assert estimate_key(scale(60), last=61) == (0, "major")  # C sharp is no key of a C major scale
    assert estimate_key([], last=60) == (0, "major")  # no evidence: C major, whatever the last note
    tonic_shift = reference_shift(tune, last=tune[-1])
    assert tonic_shift == -5 and reference_shift(tune) == 0  # F major -> C major: down a fourth


def test_the_final_pitch_is_the_top_of_the_last_onset():
    assert final_pitch([0, 4, 8, 8], [60, 62, 55, 64]) == 64
    assert final_pitch([], []) is None


def test_a_piece_moves_to_the_reference_key():
    score = Score(480)
    track = Track("Piano")
    for k, p in enumerate(scale(62)):  # D major
        track.notes.append(Note(k * 480, 480, p, 80))
        track.notes.append(Note(k * 480, 480, p - 12, 80))
    score.tracks.append(track)
    moved = to_reference_key(score)
    pitches = moved.tracks[0].notes.numpy()["pitch"]
    assert sorted(pitches) == sorted(np.array(scale(62) + scale(50)) - 2)
    assert estimate_key(pitches) == (0, "major")
    high = Score(480)
    high.tracks.append(Track("Piano"))
    high.tracks[0].notes.extend([Note(0, 480, p, 80) for p in (21, 108, 64, 67, 71)])
    assert to_reference_key(high) is None


def test_harmonize_works_in_the_reference_key_and_gives_the_melody_back(monkeypatch):
    from support.transfer import GRID, bpe_tokenizer, check_guarantee, melody_score, tiny_model

    from styletransfer.config import default_recipe
    from styletransfer.model.adapters import parse_style
    from styletransfer.tokens.parts import Texture
    from styletransfer.transfer import pipeline

    tok = bpe_tokenizer()
    notes = [(k * 8 * GRID, 8 * GRID, p, 80) for k, p in enumerate(scale(67))]  # G major, quarter notes
    melody = melody_score(notes)
    recipe = default_recipe()
    loaded = pipeline.LoadedStyle(tiny_model(tok), tok, None, parse_style("none"), "base model", recipe,
                                  Texture.piano())
    seen = []
    real_accompany = pipeline.accompany
    monkeypatch.setattr(pipeline, "accompany", lambda m, *a, **k: seen.append(m) or real_accompany(m, *a, **k))

    results = pipeline.harmonize(melody, loaded, seed=0, candidates=2)
    # harmonized in C, up a fourth: median C5 -> F5 is nearer melody_register (C5) than down a fifth (F4)
    assert recipe.transfer.melody_register == 72
    assert [n.pitch for n in seen[-1].tracks[0].notes] == [p + 5 for p in scale(67)]
    for candidate in results:  # and handed back in G, note for note
        check_guarantee(candidate.score, [(on, d, p) for on, d, p, _ in notes])
    assert results[0].score.key_signatures == melody.key_signatures
    loaded.recipe = recipe.model_copy(update={"transfer": recipe.transfer.model_copy(update={"melody_register": 60})})
    results = pipeline.harmonize(melody, loaded, seed=0, candidates=2)
    assert [n.pitch for n in seen[-1].tracks[0].notes] == [p - 7 for p in scale(67)]  # nearer C4: down a fifth
    for candidate in results:
        check_guarantee(candidate.score, [(on, d, p) for on, d, p, _ in notes])

    for off in (recipe.model_copy(update={"data": recipe.data.model_copy(update={"key_normalize": False})}),
                recipe.model_copy(update={"transfer": recipe.transfer.model_copy(update={"key_normalize": False})})):
        loaded.recipe = off  # a model trained in every key, or the ablation: the melody stays where it is
        pipeline.harmonize(melody, loaded, seed=0, candidates=2)
        assert [n.pitch for n in seen[-1].tracks[0].notes] == scale(67)


def test_a_run_saved_before_key_normalization_was_trained_in_every_key(tmp_path):
    import yaml

    from styletransfer.config import default_recipe
    from styletransfer.model.runs import base_recipe

    saved = default_recipe().model_dump()
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(saved), encoding="utf-8")
    assert base_recipe(tmp_path).data.key_normalize
    del saved["data"]["key_normalize"], saved["transfer"]["key_normalize"]
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(saved), encoding="utf-8")
    assert not base_recipe(tmp_path).data.key_normalize  # so its transfers are not transposed
    assert base_recipe(tmp_path, ["data.key_normalize=true"]).data.key_normalize  # --set still wins


def test_a_melody_outside_its_style_s_soprano_range_is_moved_by_octaves_and_said_so():
    from styletransfer.tokens.parts import Texture
    from styletransfer.transfer.pipeline import register_shift

    satb = Texture(("Soprano", "Alto", "Tenor", "Bass"), True, "", (), (62, 81))
    shift, said = register_shift([40, 43, 45, 47], satb, (21, 108))  # a tune written in the bass's octave
    assert shift == 24 and "lies below" in said and "soprano (D4-A5)" in said and "two octaves higher" in said
    shift, said = register_shift([86, 88, 91], satb, (21, 108))
    assert shift == -12 and "lies above" in said and "an octave lower and moved back" in said
    assert register_shift([64, 72, 79], satb, (21, 108)) == (0, None)  # inside: left where it is
    assert register_shift([60, 83], satb, (21, 108)) == (0, None)  # within a whole tone of the range
    shift, said = register_shift([50, 90], satb, (21, 108))  # wider than any soprano: harmonized where it is
    assert shift == 0 and "lies beyond" in said and "where it is" in said
    assert register_shift([40], Texture.piano(), (21, 108)) == (0, None)  # no range measured: nothing to say
