"""Read drum hits from Standard MIDI Files.

symusic (C++ core) parses every file; drums are its channel-10 tracks. When a file has no
channel-10 notes, or the user names another channel or a track, mido re-reads it: it keeps
the channel and track of every note-on and also sees note-ons that are never closed, which
symusic drops (drum-machine exports often send note-ons only).
"""

from __future__ import annotations

import io
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drumrnn.core.errors import MidiReadError
from drumrnn.data.hits import DrumHits
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


def read_bytes_checked(path: str | Path, max_mb: float = MAX_FILE_MB) -> bytes:
    """A file's bytes, or a :class:`MidiReadError` saying why they are not a MIDI file."""
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
    if not data:
        raise MidiReadError("empty file")
    if not data.startswith(b"MThd"):
        raise MidiReadError("not a MIDI file (no MThd header)")
    return data


def read_drum_hits(path: str | Path, source: DrumSource = DrumSource(),
                   max_mb: float = MAX_FILE_MB) -> DrumHits:
    """Read the drum onsets of a MIDI file (format 0 or 1, any PPQ).

    Raises :class:`MidiReadError` with a one-line reason for an unreadable, corrupt or
    drumless file; when drums are absent, the reason names the channels that do hold notes.
    """
    return parse_drum_hits(read_bytes_checked(path, max_mb), source)


def parse_drum_hits(data: bytes, source: DrumSource = DrumSource()) -> DrumHits:
    """Drum onsets of MIDI file contents; see :func:`read_drum_hits`."""
    import symusic

    try:
        score = symusic.Score.from_midi(data)
    except Exception as exc:  # symusic raises plain RuntimeError/ValueError on corrupt data
        raise MidiReadError(f"corrupt MIDI: {_first_line(exc)}") from None
    tpq = score.ticks_per_quarter
    if tpq <= 0:
        raise MidiReadError(f"unsupported time division ({tpq} ticks per quarter)")
    time_map = _time_map(score, tpq)
    end_quarter = score.end() / tpq

    if source.track is None and source.channel == GM_DRUM_CHANNEL:
        notes = [t.notes.numpy() for t in score.tracks if t.is_drum and t.note_num()]
        if notes:
            ticks = np.concatenate([n["time"] for n in notes])
            pitches = np.concatenate([n["pitch"] for n in notes])
            velocities = np.concatenate([n["velocity"] for n in notes])
            return DrumHits(ticks / tpq, pitches, velocities, time_map, end_quarter)
    ticks, pitches, velocities = _note_ons_with_mido(data, source)
    return DrumHits(np.asarray(ticks, dtype=np.float64) / tpq, pitches, velocities,
                    time_map, end_quarter)


def _time_map(score, tpq: int) -> TimeMap:
    tempos = []
    for tempo in score.tempos:
        qpm = float(tempo.qpm)
        if not math.isfinite(qpm) or not QPM_RANGE[0] <= qpm <= QPM_RANGE[1]:
            raise MidiReadError(f"absurd tempo {qpm:g} quarter notes per minute at tick "
                                f"{tempo.time}")
        tempos.append((tempo.time / tpq, qpm))
    signatures = []
    for sig in score.time_signatures:
        if sig.numerator <= 0 or sig.denominator <= 0:
            raise MidiReadError(f"invalid time signature {sig.numerator}/{sig.denominator}")
        signatures.append((sig.time / tpq, int(sig.numerator), int(sig.denominator)))
    # Keep the last of several events at one position (DAWs often write duplicates).
    tempos = list({q: (q, t) for q, t in tempos}.values())
    signatures = list({s[0]: s for s in signatures}.values())
    return TimeMap(tuple(tempos), tuple(signatures))


def _note_ons_with_mido(data: bytes, source: DrumSource):
    import mido

    try:
        midi = mido.MidiFile(file=io.BytesIO(data), clip=True)
    except Exception as exc:
        raise MidiReadError(f"corrupt MIDI: {_first_line(exc)}") from None
    wanted_track = _track_index(midi, source.track) if source.track is not None else None
    hits: list[tuple[int, int, int]] = []
    channels: Counter[int] = Counter()
    for index, track in enumerate(midi.tracks):
        tick = 0
        for message in track:
            tick += message.time
            if message.type != "note_on" or message.velocity == 0:
                continue
            channels[message.channel + 1] += 1
            if wanted_track is not None:
                if index == wanted_track:
                    hits.append((tick, message.note, message.velocity))
            elif message.channel + 1 == source.channel:
                hits.append((tick, message.note, message.velocity))
    if not hits:
        raise MidiReadError(_no_drums_reason(source, channels))
    ticks, pitches, velocities = zip(*hits)
    return ticks, pitches, velocities


def _track_index(midi, wanted: int | str) -> int:
    names = [next((m.name for m in t if m.type == "track_name"), "") for t in midi.tracks]
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
