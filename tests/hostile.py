"""Hostile MIDI files built in code: the regression corpus of the reliability campaign.

Each entry is raw bytes, written byte by byte so that damage no MIDI library would produce
(over-long delta times, bogus meta lengths, running status abuse) can be expressed.
"""

from __future__ import annotations


def vlq(value: int) -> bytes:
    """``value`` as a MIDI variable-length quantity (any length, as hostile files use)."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def header(fmt: int = 0, n_tracks: int = 1, division: int = 480) -> bytes:
    return b"MThd" + (6).to_bytes(4, "big") + b"".join(
        v.to_bytes(2, "big") for v in (fmt, n_tracks, division))


def track(body: bytes, end: bool = True) -> bytes:
    body += b"\x00\xff\x2f\x00" if end else b""
    return b"MTrk" + len(body).to_bytes(4, "big") + body


def hit(delta: int, pitch: int = 36, velocity: int = 100, channel: int = 10) -> bytes:
    return vlq(delta) + bytes([0x90 | (channel - 1), pitch, velocity])


def tempo(delta: int, us_per_quarter: int = 500000) -> bytes:
    return vlq(delta) + b"\xff\x51\x03" + us_per_quarter.to_bytes(3, "big")


def beat(n: int = 16, step: int = 240, channel: int = 10) -> bytes:
    """``n`` alternating kick/snare hits ``step`` ticks apart."""
    return b"".join(hit(0 if i == 0 else step, 36 if i % 2 == 0 else 38, channel=channel)
                    for i in range(n))


def corpus() -> dict[str, bytes]:
    """Name -> bytes of every hostile case."""
    huge = 0x0FFFFFFF  # the largest 4-byte delta
    cases = {
        "one byte": b"M",
        "header only": header(),
        "no tracks": header(n_tracks=0),
        "format 2": header(fmt=2) + track(beat()),
        "smpte division": header(division=0xE728) + track(beat()),
        "ppq 1": header(division=1) + track(beat(step=1)),
        "ppq 1 huge deltas": header(division=1) + track(
            b"".join(hit(huge if i else 0) for i in range(16))),
        "maximal deltas": header() + track(b"".join(hit(huge if i else 0) for i in range(16))),
        "maximal deltas channel 1": header() + track(
            b"".join(hit(huge if i else 0, channel=1) for i in range(16))),
        "over-long delta": header() + track(hit(0) + b"\xff" * 40 + b"\x7f\x90\x26\x64"),
        "over-long delta channel 1": header() + track(
            hit(0, channel=1) + b"\xff" * 40 + b"\x7f\x90\x26\x64"),
        "thousands of tempo events": header() + track(
            b"".join(tempo(1, 400000 + i) for i in range(20000)) + beat()),
        "thousands of time signatures": header() + track(
            b"".join(b"\x01\xff\x58\x04\x07\x03\x18\x08" for _ in range(20000)) + beat()),
        "bogus end-of-track length": header() + track(beat() + b"\x00\xff\x2f\x58", end=False),
        "bogus meta length": header() + track(beat(4) + b"\x00\xff\x01\x8f\xff\xff\x7f"),
        "running status abuse": header() + track(b"\x00\x26\x64" + beat(4)),
        "running status after meta": header() + track(
            hit(0) + b"\x00\xff\x01\x01a" + b"\x10\x26\x64" * 500),
        "track chunk past the end": header() + b"MTrk\x7f\xff\xff\xff" + beat(),
        "truncated track": header() + track(beat())[:-9],
        "absurd tempo": header() + track(tempo(0, 1) + beat()),
        "absurd time signature": header() + track(b"\x00\xff\x58\x04\xff\x00\x18\x08" + beat()),
        "giant header length": b"MThd\xff\xff\xff\xff" + header()[8:] + track(beat()),
        "lone hit after a huge gap": header() + track(hit(0) + hit(huge) + hit(huge)),
    }
    return cases
