"""The tokenizer: the original TSD configuration, our additions, what a round trip keeps, its grammar and bars."""
from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from miditok import TSD, TokenizerConfig, TokSequence
from miditok.utils import get_bars_ticks
from symusic import Note, Score, TimeSignature, Track

from styletransfer.errors import UserError
from styletransfer.tokens import tokenizer as tk
from styletransfer.tokens.bars import bar_ticks, score_bar_ticks
from styletransfer.tokens.grammar import INF, K_DUR, K_REST, K_SHIFT, K_TIMESIG, Grammar, decode_base
from support.scores import QPM, TPQ, beats, chord_piece, notes_in_beats, one_track_score


def tokens_of(tok, score: Score) -> list[str]:
    seq = tok.encode(tk.normalize_score(score, tok), encode_ids=False)
    # one stream: every part in it, or (without parts) the one merged track's
    assert not isinstance(seq, list) if tk.uses_parts(tok) else len(seq) == 1
    return tk.token_sequence(tok, tk.normalize_score(score, tok), encode_ids=False).tokens


@pytest.fixture(scope="module")
def legacy():
    """The tokenizer before parts (a model trained then still loads it): every part merged in one track."""
    return tk.build_tokenizer(parts=False)


def round_trip(tok, score: Score) -> Score:
    bars = tk.base_ids_per_bar(tok, tk.normalize_score(score, tok))
    return tk.decode_ids(tok, [i for bar in bars for i in bar])


# ---------------------------------------------------------------- configuration


def test_tsd_params_are_the_original_configuration():
    assert tk.TSD_PARAMS == dict(
        pitch_range=(21, 109), beat_res={(0, 4): 8, (4, 12): 4}, num_velocities=16, use_chords=True,
        use_rests=True, use_tempos=True, use_time_signatures=True, num_tempos=16, tempo_range=(40, 250),
    )
    # the parts: a Program token per note, every part in one stream, parts 0..7 from the top
    assert tk.PART_PARAMS == dict(use_programs=True, one_token_stream_for_programs=True, program_changes=False,
                                  programs=list(range(8)))


def test_built_tokenizer_config(tokenizer):
    cfg = tokenizer.config
    assert isinstance(tokenizer, TSD) and isinstance(tokenizer, tk.MstTSD)
    assert cfg.pitch_range == (21, 109)
    assert cfg.beat_res == {(0, 4): 8, (4, 12): 4}
    assert cfg.num_velocities == 16
    assert (cfg.use_chords, cfg.use_rests, cfg.use_tempos, cfg.use_time_signatures) == (True, True, True, True)
    assert cfg.use_programs is True and cfg.one_token_stream_for_programs and not cfg.program_changes
    assert (cfg.num_tempos, cfg.tempo_range) == (16, (40, 250))
    assert tokenizer.is_trained is False and tk.uses_parts(tokenizer)
    assert not tk.uses_parts(tk.build_tokenizer(parts=False))


def test_vocabulary(tokenizer):
    vocab = tokenizer.vocab
    kinds = {}
    for token in vocab:
        kinds.setdefault(token.split("_")[0], []).append(token.split("_", 1)[1])
    # miditok 3 reads pitch_range=(21, 109) as inclusive bounds: 89 pitches, A0 to the C# above C8
    assert sorted(int(p) for p in kinds["Pitch"]) == list(range(21, 110))
    assert len(kinds["Velocity"]) == 16 and max(int(v) for v in kinds["Velocity"]) == 127
    tempos = sorted(float(t) for t in kinds["Tempo"])
    assert len(tempos) == 16 and tempos[0] == 40 and tempos[-1] == 250
    assert {"4/4", "3/4", "6/8", "3/8", "6/4"} <= set(kinds["TimeSig"])
    assert {"maj", "min", "7dom"} <= set(kinds["Chord"])
    assert len(kinds["Rest"]) > 0 and len(kinds["TimeShift"]) > 0
    assert sorted(int(p) for p in kinds["Program"]) == list(range(8))
    # durations go up to 12 beats: 8 positions per beat below 4 beats, 4 above
    assert "Duration_12.0.4" in vocab and "Duration_0.1.8" in vocab and "Duration_4.1.8" not in vocab


def test_special_tokens(tokenizer):
    for name in ("PAD", "BOS", "EOS", "MASK", "MELODY", "TEXTURE"):
        assert f"{name}_None" in tokenizer.vocab
    ids = [tk.special_id(tokenizer, name) for name in tk.SPECIAL_TOKENS]
    assert len(set(ids)) == len(ids)
    assert sorted(ids) == sorted(tokenizer.special_tokens_ids)
    assert tk.special_id(tokenizer, "PAD") == 0


# ---------------------------------------------------------------- note order, chords


def test_notes_at_one_onset_are_pitch_descending(tokenizer):
    score = chord_piece(5, bars=2)
    tokens = tokens_of(tokenizer, score)
    groups, current = [], []
    for token in tokens:
        if token.startswith(("TimeShift", "Rest")):
            groups.append(current)
            current = []
        elif token.startswith("Pitch_"):
            current.append(int(token[6:]))
    groups.append(current)
    chords = [g for g in groups if len(g) > 1]
    assert len(chords) == 2  # a block chord + melody note at each bar start
    for group in groups:
        assert group == sorted(group, reverse=True)
    # the first pitch at each bar start is the melody (top) note
    tpq = score.ticks_per_quarter
    tops = [max(n.pitch for n in score.tracks[0].notes if n.time == bar * 4 * tpq) for bar in range(2)]
    assert [g[0] for g in chords] == tops
    # miditok itself orders them ascending: the descending order is ours
    plain = TSD(TokenizerConfig(**tk.TSD_PARAMS)).encode(score, encode_ids=False)[0].tokens
    plain_first = [int(t[6:]) for t in plain if t.startswith("Pitch_")][:4]
    assert plain_first == sorted(plain_first)


def test_chords_are_detected(legacy):
    """use_chords is on: a triad gets its Chord token, before its notes, as plain miditok TSD does (without
    parts: with them a triad's top note is the melody's part, and a chord of a part is rarer)."""
    score = one_track_score([(0, p, 2, 79) for p in (60, 64, 67)] + [(2, p, 2, 79) for p in (62, 65, 69)])
    tokens = tokens_of(legacy, score)
    plain = TSD(TokenizerConfig(**tk.TSD_PARAMS)).encode(score, encode_ids=False)[0].tokens  # notes ascending
    assert [t for t in tokens if t.startswith("Chord")] == [t for t in plain if t.startswith("Chord")] == ["Chord_maj", "Chord_min"]
    first = tokens.index("Chord_maj")
    assert tokens[first + 1] == "Pitch_67"  # chord token, then the notes highest first
    assert sorted(tokens) == sorted(plain)  # same tokens, only the note order differs


# ---------------------------------------------------------------- time signatures


@pytest.mark.parametrize("ts, mapped", [
    ((4, 4), (4, 4)), ((3, 4), (3, 4)), ((6, 8), (6, 8)),
    ((2, 2), (4, 4)), ((3, 2), (6, 4)), ((4, 2), (4, 4)), ((9, 8), (3, 8)),
    ((7, 8), None), ((5, 8), None),
])
def test_map_time_signature(tokenizer, ts, mapped):
    assert tk.map_time_signature(*ts, tk.supported_time_signatures(tokenizer)) == mapped


def test_time_signatures_are_never_dropped(tokenizer):
    changes = [(0, 4, 4), (4, 9, 8), (8.5, 3, 2), (14.5, 2, 2), (18.5, 9, 8), (23, 4, 2)]
    score = one_track_score([(b / 2, 72, 0.5, 79) for b in range(62)])
    score.time_signatures.clear()
    for time, num, den in changes:
        score.time_signatures.append(TimeSignature(beats(time), num, den))
    normal = tk.normalize_score(score, tokenizer)
    assert [(ts.time / TPQ, ts.numerator, ts.denominator) for ts in normal.time_signatures] == [
        (0, 4, 4), (4, 3, 8), (8.5, 6, 4), (14.5, 4, 4), (18.5, 3, 8), (23, 4, 4)]
    tokens = tokens_of(tokenizer, score)
    assert [t for t in tokens if t.startswith("TimeSig")] == [
        "TimeSig_4/4", "TimeSig_3/8", "TimeSig_6/4", "TimeSig_4/4", "TimeSig_3/8", "TimeSig_4/4"]
    decoded = round_trip(tokenizer, score)
    tpq = decoded.ticks_per_quarter
    assert [ts.time / tpq for ts in decoded.time_signatures] == [c[0] for c in changes]
    # bar lines stay where they were: 1 + 3 + 1 + 1 + 3 + 2 bars
    assert len(tk.base_ids_per_bar(tokenizer, normal)) == 11
    # plain miditok drops every time signature it has no token for
    plain = TSD(TokenizerConfig(**tk.TSD_PARAMS)).encode(score, encode_ids=False)[0].tokens
    assert [t for t in plain if t.startswith("TimeSig")] == ["TimeSig_4/4"]


def test_unmappable_time_signature_falls_back_to_4_4(tokenizer):
    score = one_track_score([(b, 60, 1, 79) for b in range(8)], ts=(5, 8))
    normal = tk.normalize_score(score, tokenizer)
    assert [(ts.time, ts.numerator, ts.denominator) for ts in normal.time_signatures] == [(0, 4, 4)]


# ---------------------------------------------------------------- tracks


def test_tracks_merge_into_one_piano_track(legacy):
    """Without parts (a tokenizer saved before them), every pitched track is merged into one."""
    tokenizer = legacy
    right = [(b, 72 + b % 5, 1, 95) for b in range(8)]
    left = [(b * 2, 48 + b, 2, 63) for b in range(4)]
    score = one_track_score(right)
    lh = Track("Left hand", program=0, is_drum=False)
    strings = Track("Strings", program=48, is_drum=False)
    drums = Track("Drums", program=0, is_drum=True)
    for onset, pitch, dur, vel in left:
        lh.notes.append(Note(beats(onset), beats(dur), pitch, vel))
    strings.notes.append(Note(beats(1), beats(2), 64, 79))
    for b in range(8):
        drums.notes.append(Note(beats(b), beats(0.5), 36, 111))
    score.tracks.extend([lh, strings, drums])
    normal = tk.normalize_score(score, tokenizer)
    assert len(normal.tracks) == 1
    assert normal.tracks[0].program == 0 and not normal.tracks[0].is_drum
    assert len(normal.tracks[0].notes) == len(right) + len(left) + 1
    expected = sorted(right + left + [(1, 64, 2, 79)])
    assert notes_in_beats(round_trip(tokenizer, score)) == expected


def test_empty_or_drums_only_is_a_user_error(tokenizer):
    empty = one_track_score([])
    with pytest.raises(UserError, match="no pitched notes"):
        tk.normalize_score(empty, tokenizer)
    drums = Score(TPQ)
    track = Track("Drums", program=0, is_drum=True)
    track.notes.append(Note(0, 240, 36, 100))
    drums.tracks.append(track)
    with pytest.raises(UserError, match="drums only"):
        tk.normalize_score(drums, tokenizer)


def test_load_score_errors(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        tk.load_score(tmp_path / "missing.mid")
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd this is not midi" * 10)
    with pytest.raises(UserError) as exc:
        tk.load_score(bad)
    assert "not a readable MIDI file" in str(exc.value) and "\n" not in str(exc.value)


# ---------------------------------------------------------------- round trip: what survives


def survival(original: list[tuple], decoded: list[tuple]) -> dict[str, float]:
    """Share of original notes whose onset / pitch / duration / velocity come back unchanged.

    Notes are matched by order (the decoded notes are the originals, quantized, in the same order
    when no note is lost, which the caller checks).
    """
    assert len(original) == len(decoded)
    out = {}
    for i, name in enumerate(("onset", "pitch", "duration", "velocity")):
        out[name] = sum(abs(a[i] - b[i]) < 1e-9 for a, b in zip(original, decoded)) / len(original)
    out["note"] = sum(a == b for a, b in zip(original, decoded)) / len(original)
    return out


def test_round_trip_on_grid_is_lossless(tokenizer):
    """Synthetic piano pieces on the 1/8-beat grid, velocities on the 16 bins: every note survives."""
    for seed in range(4):
        score = chord_piece(seed, bars=4, ts=(3, 4) if seed % 2 else (4, 4))
        original = notes_in_beats(score)
        decoded = round_trip(tokenizer, score)
        assert notes_in_beats(decoded) == original
        assert survival(original, notes_in_beats(decoded)) == dict.fromkeys(
            ("onset", "pitch", "duration", "velocity", "note"), 1.0)
        assert [round(t.qpm, 3) for t in decoded.tempos] == [QPM]


def test_round_trip_loses_triplets_long_notes_and_off_bin_velocities(tokenizer):
    on_grid = [(b / 2, 60 + b, 0.5, 79) for b in range(8)] + [(4 + b * 0.25, 72, 0.25, 95) for b in range(4)]
    triplets = [(8 + i / 3, 84 + 2 * i, 1 / 3, 63) for i in range(3)]
    long_note = [(9, 40, 14.0, 63)]  # longer than the longest duration token (12 beats)
    loud = [(10, 76, 1.0, 100)]  # between the velocity bins 95 and 103
    original = sorted(on_grid + triplets + long_note + loud)
    decoded = notes_in_beats(round_trip(tokenizer, one_track_score(original)))
    assert len(decoded) == len(original)  # nothing dropped, only quantized
    lost = {a for a, b in zip(original, decoded) if a != b}
    assert lost == set(triplets + long_note + loud)
    assert set(on_grid) <= set(decoded)
    by_pitch = {n[1]: n for n in decoded}
    assert [by_pitch[p][0] for p in (84, 86, 88)] == [8.0, 8.375, 8.625]  # onsets snap to 1/8 beat
    assert [by_pitch[p][2] for p in (84, 86, 88)] == [0.375] * 3
    assert by_pitch[40][:2] == (9.0, 40) and by_pitch[40][2] == 12.0  # clipped to 12 beats
    assert by_pitch[76][3] == 103
    n = len(original)
    assert survival(original, decoded) == {
        "onset": (n - 2) / n,  # the two off-beat triplet notes
        "pitch": 1.0,
        "duration": (n - 4) / n,  # three triplet notes and the long note
        "velocity": (n - 1) / n,
        "note": (n - 5) / n,
    }


def test_notes_outside_the_piano_range_are_dropped(tokenizer):
    notes = [(0, 20, 1, 79), (0, 21, 1, 79), (0, 60, 1, 79), (1, 109, 1, 79), (1, 110, 1, 79)]
    decoded = notes_in_beats(round_trip(tokenizer, one_track_score(notes)))
    assert decoded == [(0.0, 21, 1.0, 79), (0.0, 60, 1.0, 79), (1.0, 109, 1.0, 79)]


# ---------------------------------------------------------------- BPE, save and load


@pytest.fixture(scope="module")
def trained():
    tok = tk.build_tokenizer()
    pieces = [tk.base_ids_per_bar(tok, tk.normalize_score(chord_piece(s, bars=4), tok)) for s in range(10)]
    tk.train_bpe(tok, pieces, 420)
    return tok


def test_train_bpe(trained):
    assert trained.is_trained
    assert len(trained) == 420
    assert len(trained.vocab) == len(tk.build_tokenizer().vocab)  # the base vocabulary is unchanged


def test_train_bpe_noop_when_vocab_not_larger():
    tok = tk.build_tokenizer()
    tk.train_bpe(tok, [[[1, 2, 3]]], 0)
    assert not tok.is_trained


def test_bpe_per_bar_matches_miditok_and_decodes(trained):
    score = tk.normalize_score(chord_piece(42, bars=4), trained)
    bars = tk.base_ids_per_bar(trained, score)
    ids, starts = tk.bpe_encode_bars(trained, bars)
    assert ids.dtype == np.int32 and len(starts) == len(bars) and starts[0] == 0
    assert len(ids) < sum(len(b) for b in bars)  # BPE compresses
    seq = tk.token_sequence(trained, score)  # miditok's own BPE encoding of the whole piece
    assert ids.tolist() == list(seq.ids)
    # bar starts: the ids of bar i decode to the base ids of bar i
    ends = list(starts[1:]) + [len(ids)]
    for bar, s, e in zip(bars, starts, ends):
        assert notes_in_beats(tk.decode_ids(trained, ids[s:e])) == notes_in_beats(tk.decode_ids(tk.build_tokenizer(), bar))
    assert notes_in_beats(tk.decode_ids(trained, ids)) == notes_in_beats(chord_piece(42, bars=4))


def test_untrained_bpe_encode_is_identity(tokenizer):
    bars = [[5, 6, 7], [8, 9]]
    ids, starts = tk.bpe_encode_bars(tokenizer, bars)
    assert ids.tolist() == [5, 6, 7, 8, 9] and starts.tolist() == [0, 3]
    ids, starts = tk.bpe_encode_bars(tokenizer, [])
    assert len(ids) == 0 and len(starts) == 0


def test_decode_ignores_special_tokens(trained):
    score = tk.normalize_score(chord_piece(1, bars=2), trained)
    ids, _ = tk.bpe_encode_bars(trained, tk.base_ids_per_bar(trained, score))
    wrapped = [tk.special_id(trained, "BOS"), tk.special_id(trained, "TEXTURE"), *ids.tolist(),
               tk.special_id(trained, "EOS")]
    assert notes_in_beats(tk.decode_ids(trained, wrapped)) == notes_in_beats(chord_piece(1, bars=2))


def test_save_and_load(trained, tmp_path):
    trained.save(tmp_path / tk.TOKENIZER_FILE)
    for where in (tmp_path, tmp_path / tk.TOKENIZER_FILE):
        loaded = tk.load_tokenizer(where)
        assert isinstance(loaded, tk.MstTSD)
        assert loaded.is_trained and len(loaded) == len(trained)
        assert loaded.config.beat_res == {(0, 4): 8, (4, 12): 4}
        assert tuple(loaded.config.pitch_range) == (21, 109)
        assert loaded.config.use_chords and loaded.config.use_programs
        assert tk.special_id(loaded, "MELODY") == tk.special_id(trained, "MELODY")
        score = tk.normalize_score(chord_piece(3), loaded)
        assert tk.token_sequence(loaded, score).ids == tk.token_sequence(trained, score).ids


def test_load_tokenizer_errors(tmp_path):
    with pytest.raises(UserError, match="run `mst data prepare` first"):
        tk.load_tokenizer(tmp_path)
    (tmp_path / tk.TOKENIZER_FILE).write_text("{not a tokenizer")
    with pytest.raises(UserError, match="not a miditok tokenizer"):
        tk.load_tokenizer(tmp_path)


# ---------------------------------------------------------------- the grammar (tokens/grammar.py)


@pytest.fixture(scope="module")
def grammar(trained):
    return trained.grammar


def test_one_grammar_per_tokenizer():
    tok = tk.build_tokenizer()
    base = tok.grammar
    assert isinstance(base, Grammar) and tok.grammar is base  # built once, kept
    assert base.size == base.n_base == len(tok.vocab) and base.expansions[5] == (5,)
    pieces = [tk.base_ids_per_bar(tok, tk.normalize_score(chord_piece(s, bars=4), tok)) for s in range(4)]
    tk.train_bpe(tok, pieces, 400)
    assert tok.grammar is not base and tok.grammar.size == len(tok) == 400  # BPE: new model ids, new grammar
    assert tok.grammar.kind == base.kind and tok.grammar.ticks == base.ticks  # the base tokens are the same


def test_expansions_match_miditok(trained, grammar):
    assert grammar.size == len(trained) and grammar.n_base == len(trained.vocab)
    for i in range(grammar.size):
        seq = TokSequence(ids=[i], are_ids_encoded=True)
        trained.decode_token_ids(seq)
        assert list(grammar.expansions[i]) == list(seq.ids), i
    # every base token can be written alone (the hurry path relies on it); BPE ids are longer
    assert all(grammar.expansions[grammar.single[b]] == (b,) for b in grammar.single)
    assert max(len(e) for e in grammar.expansions) > 2
    assert grammar.tpq == trained.time_division


def test_gap_paths(grammar):
    rng = random.Random(0)
    for den in range(len(grammar.dens)):
        step = min(grammar.ticks[den][i] for i in range(grammar.n_base) if grammar.kind[i] == K_SHIFT)
        for g in [0, step, 3 * step] + [rng.randint(1, 2000) * step for _ in range(50)]:
            cost, moved = grammar.gap(g, den), 0
            for _ in range(cost):
                token = grammar.gap_token(g - moved, den)
                moved += grammar.ticks[den][token]
                assert grammar.gap(g - moved, den) < INF
            assert moved == g
    if len(grammar.dens) > 1:  # an odd number of ticks cannot be reached with quarter-note-beat shifts
        assert grammar.gap(1, grammar.den_index[4]) == INF and grammar.gap(1, grammar.den_index[8]) == 1


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_decode_base_follows_miditok(trained, grammar, seed):
    """Rests start at the end of the sounding notes, TimeSig changes the beat: the same notes as miditok's."""
    rng = random.Random(seed)
    by_kind = {}
    for b in range(grammar.n_base):
        by_kind.setdefault(trained[b].split("_")[0], []).append(b)
    ids = []
    for _ in range(rng.randint(1, 40)):
        roll = rng.random()
        if roll < 0.45:
            ids += [rng.choice(by_kind["Pitch"]), rng.choice(by_kind["Velocity"]), rng.choice(by_kind["Duration"])]
        elif roll < 0.65:
            ids.append(rng.choice(by_kind["TimeShift"]))
        elif roll < 0.85:
            ids.append(rng.choice(by_kind["Rest"]))
        else:
            ids.append(rng.choice(by_kind[rng.choice(["Chord", "TimeSig", "Tempo"])]))
    ours = sorted((on, p, d) for on, p, _, _, d in decode_base(grammar, ids).notes)
    theirs = tk.decode_ids(trained, ids)
    assert ours == sorted((n.time, n.pitch, n.duration) for t in theirs.tracks for n in t.notes)


def test_time_tables_follow_miditoks_decoder(tokenizer):
    """Every TimeShift, Rest and Duration, in every time signature denominator: the grammar's ticks (read
    from miditok's private tables) are what miditok's decoder makes of the token."""
    g = tokenizer.grammar
    vocab = tokenizer.vocab
    for d, den in enumerate(g.dens):
        ts = vocab[next(name for name in vocab if name.startswith("TimeSig_") and name.endswith(f"/{den}"))]
        assert g.ts_den[ts] == d
        note = [vocab["Pitch_60"], vocab["Velocity_79"]]
        shortest = g.min_dur_token[d]
        for b in range(g.n_base):
            if g.kind[b] == K_DUR:
                ids, onset, duration = [ts] + note + [b], 0, g.ticks[d][b]
            elif g.kind[b] == K_SHIFT:
                ids, onset, duration = [ts, b] + note + [shortest], g.ticks[d][b], g.min_dur[d]
            elif g.kind[b] == K_REST:
                ids, onset, duration = [ts, b] + note + [shortest], g.rest_ticks[d][b], g.min_dur[d]
            else:
                continue
            decoded = tk.decode_ids(tokenizer, ids)
            assert [(n.time, n.duration) for n in decoded.tracks[0].notes] == [(onset, duration)], g.names[b]
            assert decode_base(g, ids).notes[0][::4] == (onset, duration)


def test_skyline_tables_agree_with_the_token_tables(tokenizer):
    """The skyline's numpy tables (beats, parsed from the token names) and the constraint's lists (ticks,
    from miditok's tables) are one grammar: a beat is ticks per quarter note at denominator 4."""
    g = tokenizer.grammar
    d4 = g.default_den
    assert g.dens[d4] == 4
    for b in range(g.n_base):
        ticks = g.rest_ticks[d4][b] if g.kind[b] == K_REST else g.ticks[d4][b]
        assert g.beats_of[b] * g.tpq == ticks, g.names[b]
        assert g.pitch_of[b] == g.pitch[b]
        assert g.is_time[b] == (g.kind[b] in (K_SHIFT, K_REST))
        if g.kind[b] == K_TIMESIG:
            assert g.names[b] == f"TimeSig_{g.ts_num[b]}/{g.dens[g.ts_den[b]]}"
    assert g.eos == tk.special_id(tokenizer, "EOS") and not g.unwritable


# ---------------------------------------------------------------- bars (tokens/bars.py)


time_signatures = st.lists(st.tuples(st.integers(0, 400), st.integers(0, 12), st.sampled_from([0, 2, 4, 8, 16, 32])),
                           max_size=4)


@settings(max_examples=200, deadline=None)
@given(signatures=time_signatures, end=st.integers(0, 600), tpq=st.sampled_from([1, 16, 96, 100, 480]))
def test_score_bar_ticks_are_miditoks(signatures, end, tpq):
    """Whatever the time signatures (late, repeated at a tick, unsorted, invalid): miditok's bar lines."""
    score = Score(tpq)
    track = Track("Piano", program=0, is_drum=False)
    if end:
        track.notes.append(Note(end - 1, 1, 60, 80))
    score.tracks.append(track)
    for tick, num, den in signatures:
        score.time_signatures.append(TimeSignature(tick, num, den))
    try:
        expected = [int(t) for t in get_bars_ticks(score)]
    except ZeroDivisionError:  # a bar of no ticks (1 tick per quarter note in 3/8)
        expected = ZeroDivisionError
    try:
        got = score_bar_ticks(score)
    except ZeroDivisionError:
        got = ZeroDivisionError
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(signatures=time_signatures, end=st.integers(1, 600))
def test_closed_bar_ticks_cover_the_end(signatures, end):
    """The melody plan's bars: the bars before ``end``, then every bar through ``end``, closed by its end."""
    signatures = sorted((t, n, d) for t, n, d in signatures if n > 0 and d in (4, 8))
    bars = bar_ticks(signatures, 16, end, closed=True)
    assert bars[:-1] == bar_ticks(signatures, 16, end + 1)
    assert bars == sorted(set(bars)) and bars[0] == 0 and bars[-1] > end
    assert [t for t in bar_ticks(signatures, 16, end) if t < end] == [t for t in bars if t < end]
