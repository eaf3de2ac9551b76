"""The ``events`` encoding (RNN Drummer): a sequence of (drum, delta) pairs.

``drum`` is the kit class of a hit (with the ``full`` kit each class is one GM note) and
``delta`` the time since the previous onset in ticks of a fine grid (default 48 per quarter,
12 per 16th note), simultaneous hits as delta 0. Gaps longer than ``max_delta`` are split by
REST events (drum ``n_classes``, no hit) of ``max_delta`` ticks each, so the delta vocabulary
stays bounded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import Kit
from drumrnn.data.timing import TimeMap


@dataclass(frozen=True)
class EventsConfig:
    """Settings of the events encoding.

    Attributes
    ----------
    ticks_per_quarter : int
        The delta grid (default 48: 12 ticks per 16th note, about 10 ms at 120 bpm).
    max_delta : int
        Longest delta in ticks (default 384, two 4/4 bars at 48); longer gaps get REST events.
    """

    ticks_per_quarter: int = 48
    max_delta: int = 384

    def __post_init__(self) -> None:
        if not 1 <= self.ticks_per_quarter <= 960:
            raise ValueError(f"ticks_per_quarter must be 1..960, got {self.ticks_per_quarter}")
        if self.max_delta < 1:
            raise ValueError(f"max_delta must be positive, got {self.max_delta}")

    def to_dict(self) -> dict:
        return {"encoding": "events", **asdict(self)}


def rest_drum(kit: Kit) -> int:
    """The drum value of a REST event for ``kit``."""
    return kit.n_classes


@dataclass
class EventSequence:
    """A piece in the events encoding.

    Attributes
    ----------
    drums : int16 array, shape (n_events,)
        Kit class of each event, or ``rest_drum(kit)`` for a REST.
    deltas : int32 array, shape (n_events,)
        Ticks since the previous event (the first: since time 0).
    velocities : int16 array, shape (n_events,)
        0 for REST events.
    merged : int
        Hits of one class on one tick merged into one (the loudest is kept).
    """

    drums: np.ndarray
    deltas: np.ndarray
    velocities: np.ndarray
    merged: int = 0

    def __len__(self) -> int:
        return len(self.drums)


def encode_events(hits: DrumHits, kit: Kit, config: EventsConfig = EventsConfig()
                  ) -> EventSequence:
    """Encode drum hits as (drum, delta) events; pitches outside ``kit`` are left out."""
    classes = kit.classes_of(hits.pitches)
    keep = classes >= 0
    x = np.round(hits.quarters[keep] * config.ticks_per_quarter, 9)
    ticks = np.maximum(np.floor(x + 0.5), 0).astype(np.int64)
    classes, velocities = classes[keep].astype(np.int64), hits.velocities[keep]

    order = np.lexsort((-velocities.astype(np.int64), classes, ticks))
    key = ticks[order] * kit.n_classes + classes[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    chosen = order[first]
    ticks, classes, velocities = ticks[chosen], classes[chosen], velocities[chosen]

    deltas = np.diff(ticks, prepend=0)
    n_rests = np.maximum(deltas - 1, 0) // config.max_delta
    # Each REST takes max_delta ticks off the gap that follows it.
    deltas = deltas - n_rests * config.max_delta
    total = len(ticks) + int(n_rests.sum())
    drums = np.full(total, rest_drum(kit), dtype=np.int16)
    out_deltas = np.full(total, config.max_delta, dtype=np.int32)
    out_velocities = np.zeros(total, dtype=np.int16)
    hit_at = np.arange(len(ticks)) + np.cumsum(n_rests)
    drums[hit_at], out_deltas[hit_at], out_velocities[hit_at] = classes, deltas, velocities
    return EventSequence(drums, out_deltas, out_velocities, merged=int(keep.sum() - len(chosen)))


def decode_events(sequence: EventSequence, kit: Kit, time_map: TimeMap,
                  config: EventsConfig = EventsConfig()) -> DrumHits:
    """Drum hits of an event sequence, at each class's output pitch."""
    ticks = np.cumsum(sequence.deltas.astype(np.int64))
    is_hit = sequence.drums != rest_drum(kit)
    if np.any((sequence.drums < 0) | (sequence.drums > rest_drum(kit))):
        raise ValueError(f"event drums must lie in 0..{rest_drum(kit)} for kit {kit.name}")
    end = ticks[-1] / config.ticks_per_quarter if len(ticks) else 0.0
    return DrumHits(ticks[is_hit] / config.ticks_per_quarter,
                    kit.output_pitches[sequence.drums[is_hit]],
                    sequence.velocities[is_hit], time_map, end_quarter=end)
