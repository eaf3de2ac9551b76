"""Read drum hits from Standard MIDI Files.

symusic (C++ core) parses every file; drums are its channel-10 tracks. When a file has no
channel-10 notes, or the user names another channel or a track, :mod:`drumrnn.data.smf`
scans it for note-ons: it keeps the channel and track of every note-on and also sees
note-ons that are never closed, which symusic drops (drum-machine exports often send
note-ons only). Both paths check the header first and apply the same
:class:`~drumrnn.data.limits.ReadLimits`, so that no file costs more than its size and hits
justify.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drumrnn.core.errors import MidiReadError
from drumrnn.data.hits import DrumHits
from drumrnn.data.limits import BAR_QUARTERS, ReadLimits, bound_hits
from drumrnn.data.smf import read_header, scan_note_ons
from drumrnn.data.timing import TimeMap

GM_DRUM_CHANNEL = 10
MAX_FILE_MB = 16.0
#: Tempi outside this range (quarter notes per minute) mark a broken file.
QPM_RANGE = (5.0, 1500.0)


@dataclass(frozen=True)
class DrumSource:
    """Where the drums of a MIDI file are.

    Attributes
    ----------
    channel : int
        MIDI channel 1-16 (10 is General MIDI's drum channel). Ignored when ``track`` is set.
    track : int or str or None
        A track by index (0-based, in file order) or by name (case-insensitive); all of its
        note-ons are taken as drum hits whatever their channel.
    """

    channel: int = GM_DRUM_CHANNEL
    track: int | str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.channel <= 16:
            raise MidiReadError(f"MIDI channel must be 1..16, got {self.channel}")

    def describe(self) -> str:
        if self.track is not None:
            return f"track {self.track!r}"
        return f"channel {self.channel}"

    def to_dict(self) -> dict:
        return {"channel": self.channel, "track": self.track}


def read_bytes_checked(path: str | Path, max_mb: float = MAX_FILE_MB, midi: bool = True) -> bytes:
    """A file's bytes, or a :class:`MidiReadError` saying why they are not a MIDI file (or,
    with ``midi`` False, why they cannot be read)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_mb * 1e6:
            raise MidiReadError(f"file is {size / 1e6:.1f} MB, over the {max_mb:g} MB limit")
        data = path.read_bytes()
    except PermissionError:
        raise MidiReadError("permission denied") from None
    except FileNotFoundError:
        raise MidiReadError("no such file") from None
    except IsADirectoryError:
        raise MidiReadError("is a folder, not a MIDI file") from None
    except OSError as exc:
        raise MidiReadError(f"cannot read file: {exc.strerror or exc}") from None
    return check_midi_bytes(data, midi)


def check_midi_bytes(data: bytes, midi: bool = True) -> bytes:
    """``data``, or a :class:`MidiReadError` if it is empty or (with ``midi``) has no MIDI
    header."""
    if not data:
        raise MidiReadError("empty file")
    if midi and not data.startswith(b"MThd"):
        raise MidiReadError("not a MIDI file (no MThd header)")
    return data


def read_drum_hits(path: str | Path, source: DrumSource = DrumSource(),
                   max_mb: float = MAX_FILE_MB, limits: ReadLimits = ReadLimits()) -> DrumHits:
    """Read the drum onsets of a MIDI file (format 0 or 1, at least
    ``limits.min_ticks_per_quarter`` ticks per quarter), bounded by ``limits``.

    Raises :class:`MidiReadError` with a one-line reason for an unreadable, corrupt or
    drumless file; when drums are absent, the reason names the channels that do hold notes.
    """
    try:
        return parse_drum_hits(read_bytes_checked(path, max_mb), source, limits)
    except MidiReadError as exc:  # alone, a reason must name its file
        raise MidiReadError(f"{path}: {exc}") from None


def parse_drum_hits(data: bytes, source: DrumSource = DrumSource(),
                    limits: ReadLimits = ReadLimits()) -> DrumHits:
    """Drum onsets of MIDI file contents; see :func:`read_drum_hits`."""
    import symusic

    header = read_header(data)
    if header.ticks_per_quarter < limits.min_ticks_per_quarter:
        raise MidiReadError(f"time division of {header.ticks_per_quarter} ticks per quarter "
                            f"is below the minimum of {limits.min_ticks_per_quarter}")
    try:
        score = symusic.Score.from_midi(data)
    except Exception as exc:  # symusic raises plain RuntimeError/ValueError on corrupt data
        raise MidiReadError(f"corrupt MIDI: {_first_line(exc)}") from None
    tpq = score.ticks_per_quarter
    if tpq != header.ticks_per_quarter:
        raise MidiReadError(f"corrupt MIDI: time division read as {tpq}, header says "
                            f"{header.ticks_per_quarter}")
    time_map = _time_map(score, tpq, limits)
    end_quarter = score.end() / tpq

    if source.track is None and source.channel == GM_DRUM_CHANNEL:
        notes = [t.notes.numpy() for t in score.tracks if t.is_drum and t.note_num()]
        if notes:
            ticks = np.concatenate([n["time"] for n in notes])
            pitches = np.concatenate([n["pitch"] for n in notes])
            velocities = np.concatenate([n["velocity"] for n in notes])
            return bound_hits(DrumHits(ticks / tpq, pitches, velocities, time_map,
                                       end_quarter), limits)
    ticks, pitches, velocities = _scanned_note_ons(data, source, limits)
    return bound_hits(DrumHits(ticks / tpq, pitches, velocities, time_map, end_quarter),
                      limits)


def _time_map(score, tpq: int, limits: ReadLimits) -> TimeMap:
    if len(score.tempos) > limits.max_tempo_events:
        raise MidiReadError(f"{len(score.tempos)} tempo changes, over the limit of "
                            f"{limits.max_tempo_events}")
    if len(score.time_signatures) > limits.max_time_signatures:
        raise MidiReadError(f"{len(score.time_signatures)} time-signature changes, over the "
                            f"limit of {limits.max_time_signatures}")
    tempos = []
    for tempo in score.tempos:
        qpm = float(tempo.qpm)
        if not math.isfinite(qpm) or not QPM_RANGE[0] <= qpm <= QPM_RANGE[1]:
            raise MidiReadError(f"absurd tempo {qpm:g} quarter notes per minute at tick "
                                f"{tempo.time}")
        tempos.append((tempo.time / tpq, qpm))
    signatures = []
    for sig in score.time_signatures:
        if sig.numerator <= 0 or sig.denominator <= 0 or not (
                BAR_QUARTERS[0] <= sig.numerator * 4 / sig.denominator <= BAR_QUARTERS[1]):
            raise MidiReadError(f"invalid time signature {sig.numerator}/{sig.denominator}")
        signatures.append((sig.time / tpq, int(sig.numerator), int(sig.denominator)))
    # Keep the last of several events at one position (DAWs often write duplicates).
    tempos = list({q: (q, t) for q, t in tempos}.values())
    signatures = list({s[0]: s for s in signatures}.values())
    return TimeMap(tuple(tempos), tuple(signatures))


def _scanned_note_ons(data: bytes, source: DrumSource, limits: ReadLimits):
    notes = scan_note_ons(data, limits.max_events)
    if source.track is not None:
        wanted = notes.tracks == _track_index(notes.track_names, source.track)
    else:
        wanted = notes.channels == source.channel
    if not wanted.any():
        channels = Counter(notes.channels.tolist())
        raise MidiReadError(_no_drums_reason(source, channels))
    return (notes.ticks[wanted].astype(np.float64), notes.pitches[wanted],
            notes.velocities[wanted])


def _track_index(names: list[str], wanted: int | str) -> int:
    if isinstance(wanted, int) or str(wanted).isdigit():
        index = int(wanted)
        if not 0 <= index < len(names):
            raise MidiReadError(f"no track {index}: the file has tracks 0..{len(names) - 1}")
        return index
    matches = [i for i, n in enumerate(names) if n.strip().lower() == str(wanted).lower()]
    if not matches:
        shown = ", ".join(f"{i}: {n!r}" for i, n in enumerate(names))
        raise MidiReadError(f"no track named {wanted!r}; tracks are {shown}")
    return matches[0]


def _no_drums_reason(source: DrumSource, channels: Counter) -> str:
    if not channels:
        return "no notes at all"
    found = ", ".join(f"channel {c} ({n} notes)" for c, n in channels.most_common())
    hint = "" if source.track is not None else (
        "; if the drums are there, select them with --channel N or --track NAME")
    return f"no drum hits on {source.describe()}; notes found on {found}{hint}"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
