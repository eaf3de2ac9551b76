"""Coverage-guided fuzzing of the MIDI reader with atheris (not run by pytest or CI).

Every input must end in drum hits whose length their count justifies, or in a
MidiReadError with a one-line reason; anything else (another exception, a crash, a hang,
memory past the limit) is a finding, saved by libFuzzer as ``crash-*`` / ``timeout-*`` /
``oom-*`` in the current folder.

    pip install atheris
    mkdir -p /tmp/midi-corpus && cp examples/midi/*.mid /tmp/midi-corpus/
    PYTHONPATH=src:. python tests/fuzz/fuzz_reader.py /tmp/midi-corpus \\
        -max_total_time=600 -timeout=10 -rss_limit_mb=1024 -max_len=65536

``-max_total_time`` is the run length in seconds (600: ten minutes); add ``-jobs=N
-workers=N`` for N parallel fuzzers. The hostile cases of tests/hostile.py and GMD files
make good seeds. Reproduce a finding with ``python tests/fuzz/fuzz_reader.py crash-...``.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from drumrnn.core.errors import MidiReadError
    from drumrnn.data.encoding import EncodingConfig, encode_track
    from drumrnn.data.limits import ReadLimits
    from drumrnn.data.midi_read import DrumSource, parse_drum_hits

LIMITS = ReadLimits()
SOURCES = (DrumSource(), DrumSource(channel=1), DrumSource(track=0))
ENCODINGS = (EncodingConfig(), EncodingConfig("events"))


def test_one_input(data: bytes) -> None:
    source = SOURCES[data[-1] % len(SOURCES)] if data else SOURCES[0]
    try:
        hits = parse_drum_hits(data, source, LIMITS)
    except MidiReadError as exc:
        if "\n" in str(exc) or not str(exc):
            raise AssertionError(f"reason is not one line: {exc!r}") from None
        return
    bars = int(hits.time_map.bar_index(hits.quarters[-1:])[0]) + 1
    bound = min(LIMITS.max_bars, (len(hits) + 1) * (LIMITS.max_gap_bars + 1))
    if bars > bound:
        raise AssertionError(f"{len(hits)} hits kept over {bars} bars (at most {bound})")
    for encoding in ENCODINGS:
        encode_track(hits, encoding)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
