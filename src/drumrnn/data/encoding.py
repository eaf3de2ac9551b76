"""One configuration for both encodings, and the arrays a dataset stores for each."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from drumrnn.core.configs import StoredConfig
from drumrnn.core.errors import DrumrnnError
from drumrnn.data.events import EventsConfig, encode_events, rest_drum
from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import Kit, get_kit
from drumrnn.data.steps import StepsConfig, bar_token, encode_steps

ENCODINGS = ("steps", "events")


@dataclass(frozen=True)
class EncodingConfig(StoredConfig):
    """How drum hits become tokens.

    Attributes
    ----------
    encoding : str
        ``steps`` (one token per grid step, default) or ``events`` ((drum, delta) pairs).
    kit : str
        ``9`` (Magenta, default), ``roland`` (GrooVAE's GMD map), ``one-drum`` or ``full``.
    steps_per_quarter : int
        steps: grid resolution, default 4 (16th notes).
    bar_tokens : bool
        steps: a BAR token at every bar line, default False.
    ticks_per_quarter : int
        events: delta grid, default 48.
    max_delta : int
        events: longest delta in ticks before REST events split a gap, default 384.
    """

    _what = "encoding"

    encoding: str = "steps"
    kit: str = "9"
    steps_per_quarter: int = 4
    bar_tokens: bool = False
    ticks_per_quarter: int = 48
    max_delta: int = 384

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise DrumrnnError(f"unknown encoding {self.encoding!r}; choose steps or events")
        get_kit(self.kit)
        try:
            self.steps, self.events  # noqa: B018 - validates the sub-configs
        except ValueError as exc:
            raise DrumrnnError(str(exc)) from None

    @property
    def kit_obj(self) -> Kit:
        return get_kit(self.kit)

    @property
    def steps(self) -> StepsConfig:
        return StepsConfig(self.steps_per_quarter, self.bar_tokens)

    @property
    def events(self) -> EventsConfig:
        return EventsConfig(self.ticks_per_quarter, self.max_delta)


def token_dtype(config: EncodingConfig) -> np.dtype:
    """The smallest integer type that holds every token of ``config``."""
    top = bar_token(config.kit_obj) if config.encoding == "steps" else rest_drum(config.kit_obj)
    for dtype in (np.int16, np.int32, np.int64):
        if top <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise DrumrnnError(f"kit {config.kit} has too many classes for the steps encoding")


@dataclass
class EncodedTrack:
    """The arrays a dataset stores for one file.

    ``sequence`` arrays are aligned with the tokens (steps: tokens, positions; events:
    drums, deltas, velocities); ``hits`` arrays (steps only) give each kept hit's step,
    class, velocity and microtiming offset. ``bpm``: the file's first tempo.
    ``trimmed``: what reading left out to bound the work (:attr:`DrumHits.trimmed`).
    """

    sequence: dict[str, np.ndarray]
    hits: dict[str, np.ndarray]
    n_hits: int
    merged: int
    dropped: Counter = field(default_factory=Counter)
    bpm: float = 120.0
    trimmed: dict = field(default_factory=dict)


def encode_track(hits: DrumHits, config: EncodingConfig) -> EncodedTrack:
    """Encode one piece's hits (already read from MIDI) for a dataset.

    ``dropped`` counts the hits whose pitch is not in the kit, by pitch.
    """
    kit = config.kit_obj
    dropped = Counter(hits.pitches[kit.classes_of(hits.pitches) < 0].tolist())
    if config.encoding == "steps":
        seq = encode_steps(hits, kit, config.steps)
        return EncodedTrack(
            {"tokens": seq.tokens.astype(token_dtype(config)), "positions": seq.positions},
            {"hit_steps": seq.hit_steps, "hit_classes": seq.hit_classes.astype(np.int8),
             "hit_velocities": seq.hit_velocities.astype(np.uint8),
             "hit_offsets": seq.hit_offsets},
            len(seq.hit_steps), seq.merged, dropped, hits.time_map.qpm,
            dict(hits.trimmed))
    ev = encode_events(hits, kit, config.events)
    n_hits = int((ev.drums != rest_drum(kit)).sum())
    return EncodedTrack(
        {"drums": ev.drums.astype(token_dtype(config)), "deltas": ev.deltas,
         "velocities": ev.velocities.astype(np.uint8)}, {}, n_hits, ev.merged, dropped,
        hits.time_map.qpm, dict(hits.trimmed))
