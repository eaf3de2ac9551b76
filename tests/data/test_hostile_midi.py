"""The regression corpus of hostile MIDI: every case ends in bounded work and a reason."""

import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drumrnn.cli import main
from drumrnn.core.errors import MidiReadError
from drumrnn.data.dataset import INTERNAL_ERROR, PrepareConfig, load_dataset, prepare
from drumrnn.data.encoding import EncodingConfig, encode_track
from drumrnn.data.limits import ReadLimits, bound_hits
from drumrnn.data.midi_read import DrumSource, parse_drum_hits
from drumrnn.data.smf import scan_note_ons
from drumrnn.data.timing import TimeMap
from tests.conftest import write_midi_file
from tests.hostile import beat, corpus, header, track

LIMITS = ReadLimits()
#: What one hostile file may cost at most (the bugs it guards against cost 24-60 s and GBs).
SECONDS, MEGABYTES = 5.0, 200

#: Each case's outcome: a regex of the skip reason, or "kept".
EXPECTED = {
    "one byte": "not a MIDI file",
    "header only": "no track chunk",
    "no tracks": "declares no tracks",
    "format 2": "format 2",
    "smpte division": "SMPTE",
    "ppq 1": "below the minimum of 24",
    "ppq 1 huge deltas": "below the minimum",
    "maximal deltas": "kept",
    "maximal deltas channel 1": "kept|no drum hits on channel 10",
    "over-long delta": "corrupt MIDI",
    "over-long delta channel 1": "corrupt MIDI",
    "thousands of tempo events": "tempo changes, over the limit",
    "thousands of time signatures": "time-signature changes, over the limit",
    "bogus end-of-track length": "corrupt MIDI",
    "bogus meta length": "corrupt MIDI",
    "running status abuse": "corrupt MIDI",
    "running status after meta": "kept",
    "track chunk past the end": "corrupt MIDI",
    "truncated track": "corrupt MIDI",
    "absurd tempo": "absurd tempo",
    "absurd time signature": "invalid time signature",
    "giant header length": "corrupt MIDI",
    "lone hit after a huge gap": "kept",
}


def justified(hits, limits=LIMITS) -> int:
    return min(limits.max_bars, (len(hits) + 1) * (limits.max_gap_bars + 1))


def test_every_case_has_an_expected_outcome():
    assert set(EXPECTED) == set(corpus())


@pytest.mark.parametrize("name", sorted(corpus()))
@pytest.mark.parametrize("channel", [10, 1])
def test_hostile_file_costs_little_and_ends_in_hits_or_a_reason(name, channel):
    data = corpus()[name]
    tracemalloc.start()
    started = time.perf_counter()
    try:
        hits = parse_drum_hits(data, DrumSource(channel=channel))
        steps = encode_track(hits, EncodingConfig())
        events = encode_track(hits, EncodingConfig("events"))
        outcome = "kept"
    except MidiReadError as exc:
        outcome = str(exc)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    assert seconds < SECONDS and peak < MEGABYTES, (seconds, peak)
    expected = EXPECTED[name] if channel == 10 else EXPECTED[name] + "|no drum hits on channel 1"
    assert __import__("re").search(expected, outcome), outcome
    if outcome == "kept":
        bars = int((steps.sequence["positions"] == 0).sum())
        assert bars <= justified(hits)
        assert len(events.sequence["drums"]) <= (len(hits) + 1) * (LIMITS.max_gap_bars + 1) * 16


def test_a_long_silence_is_shortened_to_whole_bars_keeping_positions(midi_file):
    # 2 bars of beat, a silence, 2 bars of beat; inside the silence a 3/4 change at quarter
    # 200 and 4/4 again at 204 (mid-bar: it starts a new bar), so the beat at quarter 408
    # is in bar 50 + 2 + 51 = 103, after 101 empty bars
    notes = [(b * 1920 + i * 480, 36, 100, 10) for b in (0, 1, 102, 103) for i in range(4)]
    path = midi_file(notes, time_signatures=((0, 4, 4), (1920 * 50, 3, 4), (1920 * 51, 4, 4)))
    hits = parse_drum_hits(path.read_bytes(), limits=ReadLimits(max_gap_bars=2))
    assert hits.trimmed == {"silent_bars": 99}
    bars = hits.time_map.bar_index(hits.quarters)
    assert bars.tolist() == [0] * 4 + [1] * 4 + [4] * 4 + [5] * 4
    # every hit stays on its beat; the 3/4 bar inside the silence took effect at the cut
    starts = hits.time_map.bar_start(bars)
    assert np.allclose(hits.quarters - starts, [0, 1, 2, 3] * 4)
    assert {s[1:] for s in hits.time_map.time_signatures} == {(4, 4)}


def test_the_piece_is_cut_at_max_bars_and_the_cut_counted(midi_file):
    notes = [(b * 1920, 36, 100, 10) for b in range(20)]
    hits = parse_drum_hits(midi_file(notes).read_bytes(), limits=ReadLimits(max_bars=8))
    assert len(hits) == 8 and hits.trimmed == {"cut_hits": 12}
    assert hits.end_quarter == 32.0


def test_bar_lines_of_a_huge_span_cost_one_array_operation():
    time_map = TimeMap(time_signatures=((0.0, 4, 4), (10.0, 3, 4)))
    started = time.perf_counter()
    lines = time_map.bar_starts(3e6)
    assert time.perf_counter() - started < SECONDS
    assert lines[:5].tolist() == [0, 4, 8, 10, 13] and lines[-1] >= 3e6
    assert np.all(np.diff(lines) > 0)


def test_bound_hits_keeps_a_normal_piece_unchanged(midi_file):
    notes = [(i * 240, 36 + i % 3, 100, 10) for i in range(64)]
    path = midi_file(notes)
    raw = parse_drum_hits(path.read_bytes(), limits=ReadLimits(max_gap_bars=10**6))
    bounded = bound_hits(raw, LIMITS)
    assert bounded.trimmed == {}
    assert np.array_equal(bounded.quarters, raw.quarters)


def test_scanner_limits_its_events():
    data = header() + track(beat(64))
    with pytest.raises(MidiReadError, match="too many MIDI events"):
        scan_note_ons(data, max_events=10)
    assert len(scan_note_ons(data, max_events=100).ticks) == 64


def test_scanner_agrees_with_symusic_on_valid_files(tmp_path):
    notes = [(i * 37 % 1900, 35 + i % 40, 1 + i % 127, 10 if i % 3 else 2) for i in range(300)]
    path = write_midi_file(tmp_path / "a.mid", notes, midi_type=1)
    scanned = scan_note_ons(path.read_bytes(), LIMITS.max_events)
    on_ten = scanned.channels == 10
    hits = parse_drum_hits(path.read_bytes())
    order = np.lexsort((scanned.pitches[on_ten], scanned.ticks[on_ten]))
    assert np.array_equal(scanned.ticks[on_ten][order] / 480, hits.quarters)
    assert np.array_equal(scanned.pitches[on_ten][order], hits.pitches)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_any_bytes_give_hits_or_a_reason(data):
    _read_bounded(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 0x0FFFFFFF), st.integers(0, 255), st.integers(0, 255),
                          st.integers(0, 255)), max_size=40),
       st.integers(1, 0xFFFF), st.integers(0, 3), st.booleans())
def test_any_event_stream_gives_hits_or_a_reason(events, division, fmt, end):
    """Well-framed chunks of arbitrary events: the damage reaches the event parsers."""
    body = b"".join(_vlq(d) + bytes([a, b, c]) for d, a, b, c in events)
    data = header(fmt, 1, division) + track(body, end=end)
    _read_bounded(data)


def _vlq(value: int) -> bytes:
    from tests.hostile import vlq

    return vlq(value)


def _read_bounded(data: bytes) -> None:
    for source in (DrumSource(), DrumSource(track=0)):
        try:
            hits = parse_drum_hits(data, source)
        except MidiReadError as exc:
            assert str(exc) and "\n" not in str(exc)
            continue
        assert len(hits) > 0
        assert hits.time_map.bar_index(hits.quarters[-1:])[0] < justified(hits)
        tokens = encode_track(hits, EncodingConfig()).sequence["tokens"]
        assert len(tokens) <= justified(hits) * 16 * 16  # bars of at most 64 quarters


def test_prepare_of_the_whole_corpus_keeps_what_it_can_and_names_every_skip(tmp_path, capsys):
    src = tmp_path / "midi"
    src.mkdir()
    for i, data in enumerate(corpus().values()):
        (src / f"case{i:02d}.mid").write_bytes(data)
    assert main(["prepare", str(src), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    manifest = load_dataset(tmp_path / "out").manifest
    assert len(manifest["files"]) + len(manifest["skipped"]) == len(corpus())
    assert not [s for s in manifest["skipped"] if s["reason"].startswith(INTERNAL_ERROR)]
    assert "shortened long silences in" in capsys.readouterr().out


def test_an_unexpected_exception_is_an_internal_error_skip_not_an_abort(tmp_path, monkeypatch):
    import drumrnn.data.dataset as dataset_module

    src = tmp_path / "midi"
    src.mkdir()
    write_midi_file(src / "good.mid", [(i * 480, 36, 100, 10) for i in range(16)])
    write_midi_file(src / "bad.mid", [(i * 480, 38, 100, 10) for i in range(16)])
    real = dataset_module.encode_track

    def flaky(hits, config):
        if 38 in hits.pitches:
            raise IndexError("index -9223372036854775808 is out of bounds")
        return real(hits, config)

    monkeypatch.setattr(dataset_module, "encode_track", flaky)
    report = prepare(src, tmp_path / "out", PrepareConfig(split_fractions=(1, 0, 0)))
    [skip] = report.manifest["skipped"]
    assert skip["path"] == "bad.mid"
    assert skip["reason"] == "internal error: IndexError: index -9223372036854775808 is out of bounds"
    assert "1 internal errors" in report.summary()
