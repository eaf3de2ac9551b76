import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from drumrnn.data.events import EventsConfig, EventSequence, decode_events, encode_events, rest_drum
from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import get_kit
from drumrnn.data.midi_read import read_drum_hits
from drumrnn.data.timing import TimeMap
from drumrnn.render.midi_write import write_midi

NINE = get_kit("9")


def test_events_are_drum_delta_pairs_with_simultaneous_hits_at_delta_zero():
    hits = DrumHits([0.0, 0.0, 0.5, 1.0], [42, 36, 42, 38], [80, 100, 80, 110])
    ev = encode_events(hits, NINE, EventsConfig(ticks_per_quarter=48))
    assert ev.drums.tolist() == [0, 2, 2, 1]
    assert ev.deltas.tolist() == [0, 0, 24, 24]
    assert ev.velocities.tolist() == [100, 80, 80, 110]


def test_long_gaps_become_rest_events():
    config = EventsConfig(ticks_per_quarter=4, max_delta=8)
    ev = encode_events(DrumHits([0.0, 5.0], [36, 36], [100, 100]), NINE, config)
    # 20 ticks: REST 8, REST 8, then the hit 4 later
    assert ev.drums.tolist() == [0, rest_drum(NINE), rest_drum(NINE), 0]
    assert ev.deltas.tolist() == [0, 8, 8, 4]
    back = decode_events(ev, NINE, TimeMap(), config)
    assert back.quarters.tolist() == [0.0, 5.0]
    # a gap of exactly max_delta needs no REST
    assert len(encode_events(DrumHits([0.0, 2.0], [36, 36], [1, 1]), NINE, config)) == 2


def test_full_kit_event_drums_are_one_per_gm_note():
    full = get_kit("full")
    ev = encode_events(DrumHits([0.0, 0.0], [81, 27], [9, 9]), full)
    assert full.output_pitches[ev.drums].tolist() == [27, 81]


event_lists = st.lists(st.tuples(st.integers(0, 8), st.integers(0, 400)), min_size=1,
                       max_size=80)


@settings(max_examples=40, deadline=None)
@given(events=event_lists)
def test_events_midi_events_round_trip_is_exact(tmp_path_factory, events):
    config = EventsConfig()
    # canonical order: a hit's class must rise within one onset, deltas bounded
    ticks = np.cumsum([d for _, d in events])
    pairs = sorted({(int(t), c) for t, (c, _) in zip(ticks, events)})
    t = np.array([p[0] for p in pairs])
    drums = np.array([p[1] for p in pairs], dtype=np.int16)
    deltas = np.diff(t, prepend=0)
    seq = encode_events(DrumHits(t / 48, NINE.output_pitches[drums], np.full(len(t), 90)),
                        NINE, config)
    hits = decode_events(seq, NINE, TimeMap(), config)
    path = write_midi(hits, tmp_path_factory.mktemp("ev") / "e.mid")
    again = encode_events(read_drum_hits(path), NINE, config)
    assert again.drums.tolist() == seq.drums.tolist()
    assert again.deltas.tolist() == seq.deltas.tolist()
    assert np.cumsum(seq.deltas).tolist()[-1] == int(deltas.sum())


@settings(max_examples=40, deadline=None)
@given(onsets=st.lists(st.floats(0, 40, allow_nan=False), min_size=1, max_size=50),
       tpq=st.sampled_from([12, 24, 48, 96]))
def test_human_onsets_are_kept_within_half_a_grid_tick(onsets, tpq):
    config = EventsConfig(ticks_per_quarter=tpq)
    quarters = np.array(onsets)
    ev = encode_events(DrumHits(quarters, [38] * len(quarters), [100] * len(quarters)), NINE,
                       config)
    back = decode_events(ev, NINE, TimeMap(), config)
    for q in back.quarters:  # every decoded onset is within half a tick of some input onset
        assert np.min(np.abs(quarters - q)) <= 0.5 / tpq + 1e-9
    for q in quarters:  # and every input onset is represented
        assert np.min(np.abs(back.quarters - q)) <= 0.5 / tpq + 1e-9


def test_decode_rejects_drums_outside_the_kit():
    bad = EventSequence(np.array([12], dtype=np.int16), np.array([0]), np.array([1]))
    try:
        decode_events(bad, NINE, TimeMap())
    except ValueError as exc:
        assert "0..9" in str(exc)
    else:
        raise AssertionError("no error")
