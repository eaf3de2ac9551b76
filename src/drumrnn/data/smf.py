"""A strict, bounded look at Standard MIDI File bytes: the header, and every note-on.

symusic parses files in C++ but drops note-ons that are never closed, which drum-machine
exports often write; this scanner finds those. It replaces mido for that job because mido
reads variable-length quantities of any length (the MIDI spec allows 4 bytes) and builds a
Python object per event, so one hostile kilobyte could cost seconds and gigabytes. Here
every length is checked against the bytes that remain, a delta time longer than 4 bytes is
an error, and only note-ons are kept (as compact arrays).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np

from drumrnn.core.errors import MidiReadError

#: Data bytes after a channel status byte, by the status's high nibble.
_DATA_BYTES = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}
_TRACK_NAME = 0x03


@dataclass(frozen=True)
class Header:
    """The ``MThd`` chunk: file format (0, 1, 2), number of tracks, ticks per quarter."""

    format: int
    n_tracks: int
    ticks_per_quarter: int


def read_header(data: bytes) -> Header:
    """The header of MIDI file bytes; :class:`MidiReadError` for what drumrnn cannot read
    (no header, format 2, SMPTE time division, no tracks)."""
    if data[:4] != b"MThd":
        raise MidiReadError("not a MIDI file (no MThd header)")
    if len(data) < 14:
        raise MidiReadError(f"corrupt MIDI: header cut off after {len(data)} bytes")
    length = int.from_bytes(data[4:8], "big")
    if length < 6:
        raise MidiReadError(f"corrupt MIDI: header chunk of {length} bytes (at least 6)")
    fmt = int.from_bytes(data[8:10], "big")
    n_tracks = int.from_bytes(data[10:12], "big")
    division = int.from_bytes(data[12:14], "big")
    if fmt == 2:
        raise MidiReadError("MIDI format 2 (independent sequences) is not supported")
    if fmt > 2:
        raise MidiReadError(f"corrupt MIDI: unknown format {fmt}")
    if n_tracks == 0:
        raise MidiReadError("the file declares no tracks")
    if division & 0x8000:
        raise MidiReadError("SMPTE time division is not supported (only ticks per quarter)")
    return Header(fmt, n_tracks, division)


@dataclass
class NoteOns:
    """Every note-on with a non-zero velocity: ``ticks`` (int64), ``tracks``, ``channels``
    (1-16), ``pitches``, ``velocities``; and each track's name (``""`` when unnamed)."""

    ticks: np.ndarray
    tracks: np.ndarray
    channels: np.ndarray
    pitches: np.ndarray
    velocities: np.ndarray
    track_names: list[str]


def scan_note_ons(data: bytes, max_events: int) -> NoteOns:
    """Scan the ``MTrk`` chunks of MIDI file bytes for note-ons.

    Raises :class:`MidiReadError` on any structural damage, and when the file holds more
    than ``max_events`` events in all (the caller's bound on work).
    """
    header = read_header(data)
    view = memoryview(data)
    pos = 8 + int.from_bytes(data[4:8], "big")
    columns = [array("q"), array("i"), array("b"), array("b"), array("b")]
    names: list[str] = []
    budget = max_events
    while len(names) < header.n_tracks and pos + 8 <= len(data):
        kind, size = bytes(view[pos:pos + 4]), int.from_bytes(view[pos + 4:pos + 8], "big")
        pos += 8
        if pos + size > len(data):
            raise MidiReadError(f"corrupt MIDI: chunk of {size} bytes runs past the end "
                                f"of the file ({len(data)} bytes)")
        if kind == b"MTrk":
            budget = _scan_track(view[pos:pos + size], len(names), columns, names, budget)
        pos += size
    if not names:
        raise MidiReadError("corrupt MIDI: no track chunk")
    ticks, tracks, channels, pitches, velocities = (np.frombuffer(c, dtype=c.typecode).copy()
                                                    if len(c) else np.zeros(0, np.int64)
                                                    for c in columns)
    return NoteOns(ticks.astype(np.int64), tracks.astype(np.int64), channels.astype(np.int64),
                   pitches.astype(np.int64), velocities.astype(np.int64), names)


def _scan_track(track: memoryview, index: int, columns, names: list[str], budget: int) -> int:
    ticks, tracks, channels, pitches, velocities = columns
    end, pos, tick, status, name = len(track), 0, 0, 0, ""
    while pos < end:
        budget -= 1
        if budget < 0:
            raise MidiReadError("too many MIDI events (over the reading limit)")
        delta, pos = _vlq(track, pos, end)
        tick += delta
        if pos >= end:
            raise MidiReadError("corrupt MIDI: event without data at the end of a track")
        byte = track[pos]
        if byte >= 0x80:
            pos += 1
            if byte < 0xF0:
                status = byte  # running status applies to channel messages only
        elif status == 0:
            raise MidiReadError("corrupt MIDI: running status with no previous status")
        else:
            byte = status
        if byte == 0xFF:
            if pos >= end:
                raise MidiReadError("corrupt MIDI: meta event cut off")
            meta = track[pos]
            length, pos = _vlq(track, pos + 1, end)
            if pos + length > end:
                raise MidiReadError(f"corrupt MIDI: meta event of {length} bytes runs past "
                                    "the end of its track")
            if meta == _TRACK_NAME and not name:
                name = bytes(track[pos:pos + length]).decode("latin-1")
            pos += length
            if meta == 0x2F:
                break
            continue
        if byte in (0xF0, 0xF7):
            length, pos = _vlq(track, pos, end)
            if pos + length > end:
                raise MidiReadError(f"corrupt MIDI: sysex of {length} bytes runs past the "
                                    "end of its track")
            pos += length
            continue
        if byte >= 0xF0:
            raise MidiReadError(f"corrupt MIDI: system message 0x{byte:02X} inside a track")
        size = _DATA_BYTES[byte >> 4]
        if pos + size > end:
            raise MidiReadError("corrupt MIDI: channel message cut off")
        if byte >> 4 == 0x9 and track[pos + 1] & 0x7F:
            ticks.append(tick)
            tracks.append(index)
            channels.append((byte & 0x0F) + 1)
            pitches.append(track[pos] & 0x7F)
            velocities.append(track[pos + 1] & 0x7F)
        pos += size
    names.append(name)
    return budget


def _vlq(data: memoryview, pos: int, end: int) -> tuple[int, int]:
    """A variable-length quantity at ``pos``: ``(value, next position)``; at most 4 bytes."""
    value = 0
    for i in range(4):
        if pos + i >= end:
            raise MidiReadError("corrupt MIDI: variable-length number cut off")
        byte = data[pos + i]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos + i + 1
    raise MidiReadError("corrupt MIDI: variable-length number longer than 4 bytes")
