"""The ``steps`` encoding (Magenta Drums RNN, LSTMetallica): one token per grid step.

A step's token is the set of drum classes struck there, as the integer sum of
``2**class_index`` (for the 9-piece kit these are Magenta's MultiDrumOneHotEncoding indices,
0..511). With ``bar_tokens`` a BAR token (``2**n_classes``) precedes every bar. Each kept hit
also keeps its velocity and its microtiming offset from the grid, in fractions of a step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import Kit
from drumrnn.data.timing import TimeMap


@dataclass(frozen=True)
class StepsConfig:
    """Settings of the steps encoding.

    Attributes
    ----------
    steps_per_quarter : int
        Grid resolution: 4 gives 16th notes (default), 3 or 6 suit triplet feels.
    bar_tokens : bool
        Insert a BAR token at every bar line (LSTMetallica), default False.
    """

    steps_per_quarter: int = 4
    bar_tokens: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.steps_per_quarter <= 96:
            raise ValueError(f"steps_per_quarter must be 1..96, got {self.steps_per_quarter}")

    def to_dict(self) -> dict:
        return {"encoding": "steps", **asdict(self)}


def bar_token(kit: Kit) -> int:
    """The BAR token's value for ``kit``: one past the largest step token."""
    return 1 << kit.n_classes


@dataclass
class StepSequence:
    """A piece in the steps encoding.

    Attributes
    ----------
    tokens : int64 array, shape (n_tokens,)
        Step tokens (bit sets of classes), with BAR tokens if the config asks for them.
    positions : int16 array, shape (n_tokens,)
        Each token's step index within its bar (a BAR token gets 0, like the step after it).
    hit_steps, hit_classes : int32 / int16 arrays, shape (n_hits,)
        The grid step (not token index) and class of each kept hit, sorted by step and class.
    hit_velocities : int16 array, shape (n_hits,)
    hit_offsets : float32 array, shape (n_hits,)
        Onset minus grid step, in steps; within [-0.5, 0.5) except for hits before time 0.
    n_steps : int
        Number of grid steps (whole bars, ending with the bar of the last hit).
    merged : int
        Hits of one class on one step merged into one (the loudest is kept).
    """

    tokens: np.ndarray
    positions: np.ndarray
    hit_steps: np.ndarray
    hit_classes: np.ndarray
    hit_velocities: np.ndarray
    hit_offsets: np.ndarray
    n_steps: int
    merged: int = 0


def bar_start_steps(time_map: TimeMap, end_quarter: float, steps_per_quarter: int) -> np.ndarray:
    """Grid steps at which bars start, from 0 to at least the step of ``end_quarter``."""
    starts = np.round(time_map.bar_starts(end_quarter) * steps_per_quarter).astype(np.int64)
    return np.unique(starts)


def quantize(quarters: np.ndarray, steps_per_quarter: int) -> tuple[np.ndarray, np.ndarray]:
    """Nearest grid step of each onset (halfway goes to the later step) and the offset.

    Returns ``(steps, offsets)``: int64 steps, never negative, and float64 offsets in steps
    (``quarters * steps_per_quarter - steps``).
    """
    x = np.asarray(quarters, dtype=np.float64) * steps_per_quarter
    # Round 0.49999999 from float noise (e.g. 1/3 * 3 steps) like the exact value would.
    steps = np.maximum(np.floor(np.round(x, 9) + 0.5), 0).astype(np.int64)
    return steps, x - steps


def encode_steps(hits: DrumHits, kit: Kit, config: StepsConfig = StepsConfig()) -> StepSequence:
    """Encode drum hits as step tokens; pitches outside ``kit`` are left out."""
    spq = config.steps_per_quarter
    classes = kit.classes_of(hits.pitches)
    keep = classes >= 0
    steps, offsets = quantize(hits.quarters[keep], spq)
    classes, velocities = classes[keep].astype(np.int64), hits.velocities[keep]

    # One hit per (step, class): the loudest, then the earliest.
    order = np.lexsort((offsets, -velocities.astype(np.int64), classes, steps))
    key = steps[order] * kit.n_classes + classes[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    chosen = order[first]
    steps, classes = steps[chosen], classes[chosen]
    velocities, offsets = velocities[chosen], offsets[chosen]

    last_step = int(steps[-1]) if len(steps) else -1
    bars = bar_start_steps(hits.time_map, (last_step + 1) / spq, spq)
    n_steps = int(bars[np.searchsorted(bars, last_step, side="right")]) if len(steps) else 0
    bars = bars[bars < n_steps]

    tokens = np.zeros(n_steps, dtype=np.int64)
    np.bitwise_or.at(tokens, steps, np.left_shift(1, classes))
    bar_of_step = np.searchsorted(bars, np.arange(n_steps), side="right") - 1
    positions = (np.arange(n_steps) - bars[bar_of_step]).astype(np.int16)
    if config.bar_tokens:
        tokens = np.insert(tokens, bars, bar_token(kit))
        positions = np.insert(positions, bars, 0)
    return StepSequence(tokens, positions, steps.astype(np.int32), classes.astype(np.int16),
                        velocities.astype(np.int16), offsets.astype(np.float32), n_steps,
                        merged=int(keep.sum() - len(chosen)))


def step_tokens_only(tokens: np.ndarray, kit: Kit) -> np.ndarray:
    """The step tokens of a token sequence, BAR tokens removed."""
    tokens = np.asarray(tokens, dtype=np.int64)
    return tokens[tokens != bar_token(kit)]


def step_layout(bars: int, steps_per_bar: int, bar_tokens: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(is_bar, position)`` of every token slot of a ``bars``-bar token stream: whether the
    slot holds a BAR token, and its step's position in the bar (a BAR token: 0)."""
    return meter_layout(np.full(bars, steps_per_bar), bar_tokens)[:2]


def meter_layout(bar_lengths: np.ndarray, bar_tokens: bool
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(is_bar, position, bar_length)`` of every token slot of bars of the given lengths
    (steps): whether the slot holds a BAR token, its step's position in the bar (a BAR
    token: 0) and the length of its bar."""
    bar_lengths = np.asarray(bar_lengths, dtype=np.int64)
    starts = np.r_[0, np.cumsum(bar_lengths)[:-1]]
    bar_of = np.repeat(np.arange(len(bar_lengths)), bar_lengths)
    position = np.arange(int(bar_lengths.sum())) - starts[bar_of]
    length = bar_lengths[bar_of]
    is_bar = np.zeros(len(position), bool)
    if bar_tokens:
        position = np.insert(position, starts, 0)
        length = np.insert(length, starts, bar_lengths)
        is_bar = np.insert(is_bar, starts, True)
    return is_bar, position, length


def hits_from_step_tokens(tokens: np.ndarray, kit: Kit) -> tuple[np.ndarray, np.ndarray]:
    """Expand step tokens (BAR tokens allowed) into ``(steps, classes)`` of every hit."""
    steps_tokens = step_tokens_only(tokens, kit)
    if len(steps_tokens) and (steps_tokens.min() < 0 or steps_tokens.max() >= bar_token(kit)):
        raise ValueError(f"step tokens must lie in 0..{bar_token(kit) - 1} for kit {kit.name}")
    bits = (steps_tokens[:, None] >> np.arange(kit.n_classes)) & 1
    steps, classes = np.nonzero(bits)
    return steps.astype(np.int32), classes.astype(np.int16)


def sequence_from_tokens(tokens: np.ndarray, kit: Kit, time_map: TimeMap,
                         config: StepsConfig = StepsConfig(), velocity: int = 100
                         ) -> StepSequence:
    """A :class:`StepSequence` for bare tokens (e.g. generated): hits on the grid at one velocity."""
    steps, classes = hits_from_step_tokens(tokens, kit)
    n_steps = len(step_tokens_only(tokens, kit))
    bars = bar_start_steps(time_map, n_steps / config.steps_per_quarter,
                           config.steps_per_quarter)
    bars = bars[bars < max(n_steps, 1)]
    bar_of_step = np.searchsorted(bars, np.arange(n_steps), side="right") - 1
    positions = (np.arange(n_steps) - bars[bar_of_step]).astype(np.int16)
    if config.bar_tokens:
        positions = np.insert(positions, bars[bars < n_steps], 0)
    return StepSequence(np.asarray(tokens, dtype=np.int64), positions, steps, classes,
                        np.full(len(steps), velocity, dtype=np.int16),
                        np.zeros(len(steps), dtype=np.float32), n_steps)


def decode_steps(sequence: StepSequence, kit: Kit, time_map: TimeMap,
                 config: StepsConfig = StepsConfig()) -> DrumHits:
    """Drum hits of a step sequence: each class's output pitch, at step + offset."""
    quarters = (sequence.hit_steps + sequence.hit_offsets.astype(np.float64))
    quarters = quarters / config.steps_per_quarter
    return DrumHits(quarters, kit.output_pitches[sequence.hit_classes],
                    sequence.hit_velocities, time_map,
                    end_quarter=sequence.n_steps / config.steps_per_quarter)
