import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import get_kit
from drumrnn.data.midi_read import read_drum_hits
from drumrnn.data.steps import (
    StepsConfig,
    bar_token,
    decode_steps,
    encode_steps,
    quantize,
    sequence_from_tokens,
)
from drumrnn.data.timing import TimeMap
from drumrnn.render.midi_write import write_midi

NINE = get_kit("9")


def hits(quarters, pitches, velocities=None, time_map=TimeMap()):
    velocities = velocities if velocities is not None else [100] * len(pitches)
    return DrumHits(np.array(quarters, dtype=float), pitches, velocities, time_map)


def test_token_is_the_bit_set_of_classes_struck():
    seq = encode_steps(hits([0, 0, 0.25, 1.0], [36, 42, 38, 60]), NINE)
    # kick + closed hat = 1 + 4; snare = 2; pitch 60 is mid tom (class 5) = 32
    assert seq.tokens[:5].tolist() == [5, 2, 0, 0, 32]
    assert seq.n_steps == 16 and len(seq.tokens) == 16  # one whole 4/4 bar
    assert encode_steps(hits([0], [36]), get_kit("one-drum")).tokens[0] == 1


def test_quantization_halfway_goes_later_and_keeps_offsets():
    steps, offsets = quantize(np.array([0.125, 0.1249, 0.3, -0.05]), 4)
    assert steps.tolist() == [1, 0, 1, 0]
    np.testing.assert_allclose(offsets, [-0.5, 0.4996, 0.2, -0.2])


def test_triplet_grid_is_exact():
    seq = encode_steps(hits([1 / 3, 2 / 3, 1.0], [36, 38, 42]), NINE, StepsConfig(3))
    assert seq.hit_steps.tolist() == [1, 2, 3]
    np.testing.assert_allclose(seq.hit_offsets, 0, atol=1e-6)


def test_same_class_on_one_step_keeps_the_loudest():
    seq = encode_steps(hits([1.0, 1.02, 1.01], [38, 40, 38], [60, 120, 90]), NINE)
    assert seq.hit_steps.tolist() == [4] and seq.hit_velocities.tolist() == [120]
    assert seq.merged == 2


def test_non_four_four_bars_and_bar_tokens():
    time_map = TimeMap(time_signatures=((0.0, 3, 4), (3.0, 7, 8)))
    seq = encode_steps(hits([0, 3.0, 7.0], [36, 36, 36], time_map=time_map), NINE,
                       StepsConfig(4, bar_tokens=True))
    bar = bar_token(NINE)
    assert bar == 512
    # 3/4 bar = 12 steps, 7/8 bars = 14 steps (3.5 quarters); quarter 7 lies in a third bar
    step_tokens = seq.tokens[seq.tokens != bar]
    assert seq.n_steps == 12 + 14 + 14 == len(step_tokens)
    assert np.flatnonzero(seq.tokens == bar).tolist() == [0, 13, 28]
    positions = seq.positions[seq.tokens != bar]
    assert positions[:12].tolist() == list(range(12))
    assert positions[12:26].tolist() == list(range(14))


def test_tempo_changes_do_not_move_steps_but_change_seconds(midi_file):
    # two quarters at 120 bpm, then 60 bpm: hits on every quarter
    path = midi_file([(i * 480, 36, 100, 10) for i in range(4)],
                     tempos=((0, 500000), (960, 1000000)))
    h = read_drum_hits(path)
    np.testing.assert_allclose(h.seconds, [0, 0.5, 1.0, 2.0])
    assert encode_steps(h, NINE).hit_steps.tolist() == [0, 4, 8, 12]


def test_hits_before_time_zero_go_to_step_zero():
    seq = encode_steps(hits([-0.1, 0.0], [36, 38]), NINE)
    assert seq.hit_steps.tolist() == [0, 0]
    assert seq.hit_offsets[0] == pytest.approx(-0.4)


def test_empty_and_out_of_kit_only():
    seq = encode_steps(hits([0.5], [12]), NINE)
    assert seq.n_steps == 0 and len(seq.tokens) == 0


bars_of_tokens = st.integers(1, 4).flatmap(
    lambda bars: st.lists(st.integers(0, 511), min_size=16 * bars, max_size=16 * bars))


@settings(max_examples=40, deadline=None)
@given(tokens=bars_of_tokens, qpm=st.floats(40, 240), bar_tokens=st.booleans())
def test_tokens_midi_tokens_round_trip_is_exact(tmp_path_factory, tokens, qpm, bar_tokens):
    tokens = np.array(tokens)
    last_bar = (np.flatnonzero(tokens)[-1] // 16 + 1) if tokens.any() else 0
    expected = tokens[:16 * last_bar]
    config = StepsConfig(4, bar_tokens)
    time_map = TimeMap(((0.0, qpm),))
    with_bars = np.insert(expected, np.arange(0, len(expected), 16), 512) if bar_tokens else expected
    seq = sequence_from_tokens(with_bars, NINE, time_map, config)
    path = write_midi(decode_steps(seq, NINE, time_map, config),
                      tmp_path_factory.mktemp("rt") / "t.mid")
    if not expected.any():
        return  # a silent pattern writes no notes; the reader rightly refuses it
    again = encode_steps(read_drum_hits(path), NINE, config)
    assert again.tokens.tolist() == with_bars.tolist()
    assert again.positions.tolist() == seq.positions.tolist()


@settings(max_examples=40, deadline=None)
@given(onsets=st.lists(st.tuples(st.floats(0, 32, allow_nan=False),
                                 st.sampled_from([36, 38, 42, 46, 45, 48, 50, 49, 51]),
                                 st.integers(1, 127)), min_size=1, max_size=60),
       spq=st.sampled_from([3, 4, 6]))
def test_human_performance_round_trip_error_is_bounded(tmp_path_factory, onsets, spq):
    quarters, pitches, velocities = map(np.array, zip(*onsets))
    original = hits(quarters, pitches, velocities)
    config = StepsConfig(spq)
    seq = encode_steps(original, NINE, config)
    # grid alone: within half a step of every kept onset
    decoded = decode_steps(seq, NINE, TimeMap(), config)
    for q, step in zip(decoded.quarters, seq.hit_steps):
        assert abs(q - step / spq) <= 0.5 / spq + 1e-6
    # with the stored offsets, MIDI round trip restores each onset to a tick; an onset
    # within a tick of a halfway point may land on the other step (MIDI's resolution)
    _, offsets = quantize(quarters, spq)
    assume(np.all(np.abs(np.abs(offsets) - 0.5) > spq / 480 + 1e-9))
    path = write_midi(decoded, tmp_path_factory.mktemp("hp") / "h.mid")
    again = encode_steps(read_drum_hits(path), NINE, config)
    assert again.tokens.tolist() == seq.tokens.tolist()
    np.testing.assert_allclose(again.hit_offsets, seq.hit_offsets, atol=spq / 480 + 1e-4)
    assert again.hit_velocities.tolist() == seq.hit_velocities.tolist()
