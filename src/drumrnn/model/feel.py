"""Feel as a model sees it: each struck drum's velocity and offset from the grid, in bins.

(Events models predict the velocity of each event's drum only: its timing is its delta.)

A conditioned model predicts, for every drum class struck on a step, a categorical
distribution over ``bins`` velocity bins (equal widths over 0..127) and ``bins`` offset bins
(equal widths over [-0.5, 0.5) steps), and reads the previous step's velocities and
offsets (bin centres, scaled to about +-1; 0 where a class is silent) as inputs. Sampled
values are drawn uniformly inside the sampled bin, so that the output is not quantized to
the bins. A model with ``feel_context`` also reads the piece's feel so far
(:func:`running_feel`): a running mean of the struck drums' velocity and offset inputs,
recent steps weighted more, so that a piece keeps its own push, pull and dynamics.
"""

from __future__ import annotations

import numpy as np

VELOCITY_TOP = 128.0
#: Each struck step moves the running feel this far towards its own mean (half-life: 22
#: struck steps, about two bars of a groove): the default of ``ModelConfig.feel_rate``.
CONTEXT_RATE = 1 / 32
_TINY = 1e-300  # RunningFeel's weight before the first struck step


def velocity_bins(velocities: np.ndarray, bins: int) -> np.ndarray:
    """Bin of each velocity (1..127)."""
    v = np.clip(np.asarray(velocities, dtype=np.float64), 0, VELOCITY_TOP - 1e-6)
    return (v * bins / VELOCITY_TOP).astype(np.int64)


def offset_bins(offsets: np.ndarray, bins: int) -> np.ndarray:
    """Bin of each offset from the grid (in steps; outside [-0.5, 0.5) clipped into it)."""
    o = np.clip(np.asarray(offsets, dtype=np.float64) + 0.5, 0.0, 1.0 - 1e-9)
    return (o * bins).astype(np.int64)


def centers(bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The model's input values of each velocity bin and each offset bin (float32)."""
    mid = (np.arange(bins) + 0.5) / bins
    return mid.astype(np.float32), (2 * mid - 1).astype(np.float32)


def feel_inputs(vel_bins: np.ndarray, off_bins: np.ndarray | None, bins: int) -> np.ndarray:
    """Inputs (..., 2C) float32 from per-class bins (..., C), -1 = not struck (events:
    ``off_bins`` None, (..., C) velocity inputs only)."""
    vel, off = centers(bins)
    parts = [np.where(vel_bins >= 0, vel[np.maximum(vel_bins, 0)], 0)]
    if off_bins is not None:
        parts.append(np.where(off_bins >= 0, off[np.maximum(off_bins, 0)], 0))
    return np.concatenate(parts, axis=-1).astype(np.float32)


def feel_layout(encoding: str, n_classes: int) -> tuple[int, int]:
    """(quantities, groups) the feel heads predict: steps (velocity and offset) x classes;
    events: (velocity) x the event's one drum."""
    return (2, n_classes) if encoding == "steps" else (1, 1)


def sample_values(vel_bins: np.ndarray, off_bins: np.ndarray, bins: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Velocities (float, 0..128) and offsets (steps) drawn uniformly inside their bins."""
    width_v = VELOCITY_TOP / bins
    velocity = (vel_bins + rng.random(np.shape(vel_bins))) * width_v
    offset = (off_bins + rng.random(np.shape(off_bins))) / bins - 0.5
    return velocity, offset


def step_feel(feel_in: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per step of feel inputs (..., >= 2C): the mean velocity and offset input of its
    struck drums (..., 2) and whether any drum is struck (...) (a struck velocity input is
    a bin centre, > 0; a silent one is 0)."""
    C = n_classes
    vel, off = feel_in[..., :C], feel_in[..., C:2 * C]
    count = (vel > 0).sum(-1)
    means = np.stack([vel.sum(-1), off.sum(-1)], -1) / np.maximum(count, 1)[..., None]
    return means, count > 0


def half_life(rate: float) -> float:
    """Struck steps after which a step weighs half in a running feel kept at ``rate`` (0 < rate
    <= 1; a rate of 1 keeps only the last step: 0)."""
    return float(np.log(0.5) / np.log1p(-rate)) if rate < 1 else 0.0


def feel_step(v: float, o: float, w: float, mv: float, mo: float,
              rate: float = CONTEXT_RATE) -> tuple[float, float, float]:
    """One struck step of the running feel in Python numbers: the weighted sums of velocity
    ``v`` and offset ``o`` and their weight ``w`` moved ``rate`` of the way towards the
    step's means; the running feel is ``(v / w, o / w)``."""
    return v + rate * (mv - v), o + rate * (mo - o), w + rate * (1.0 - w)


def running_feel(means: np.ndarray, struck: np.ndarray, restart: np.ndarray | None = None,
                 rate: float = CONTEXT_RATE) -> np.ndarray:
    """(T, 2) float32 running feel after each of T steps in order: a mean of the struck
    steps' ``means`` (T, 2) so far, each weighted ``(1 - rate) ** (struck steps since)``; 0
    before the first struck step. ``restart`` (T,) bool: a new piece begins there (the
    concatenated tracks of a split)."""
    out = np.zeros((len(means), 2), dtype=np.float32)
    v = o = d = 0.0
    fresh = np.zeros(len(means), bool) if restart is None else np.asarray(restart, bool)
    for t, (hit, (mv, mo), new) in enumerate(zip(struck.tolist(), means.tolist(),
                                                 fresh.tolist())):
        if new:
            v = o = d = 0.0
        if hit:
            v, o, d = feel_step(v, o, d, mv, mo, rate)
        if d:
            out[t] = v / d, o / d
    return out


class RunningFeel:
    """The running feel of B pieces kept step by step (:func:`feel_step` on arrays):
    ``value`` (B, 2) float32, the input a ``feel_context`` model reads; ``sums`` (B, 3) the
    weighted sums of velocity and offset and their weight; ``rate``: the model's
    ``feel_rate``."""

    def __init__(self, batch: int, rate: float = CONTEXT_RATE):
        self.rate = rate
        # the weight starts at TINY, not 0, so that ``value`` reads 0 before the first struck
        # step without a guard; that step rounds it away (TINY + RATE * (1 - TINY) == RATE)
        self.sums = np.zeros((batch, 3))
        self.sums[:, 2] = _TINY
        self.value = np.zeros((batch, 2), dtype=np.float32)
        self._target = np.ones((batch, 3))  # the step's means, and weight 1
        self._delta = np.empty((batch, 3))

    def add(self, means: np.ndarray, struck: np.ndarray) -> None:
        """One step of each piece: its struck drums' mean inputs (B, 2), whether any is
        struck (B,)."""
        self._target[:, :2] = means
        self._move(np.multiply(struck, self.rate))

    def add_totals(self, totals: np.ndarray, counts: np.ndarray, rate: np.ndarray) -> None:
        """:meth:`add` from the struck drums' summed inputs (B, 2), their number, at least 1
        (B,), and each piece's rate (B,): ``rate`` where struck, else 0."""
        np.divide(totals, counts[:, None], out=self._target[:, :2])
        self._move(rate)

    def _move(self, rate: np.ndarray) -> None:
        """:func:`feel_step` towards ``_target`` at each piece's rate (0: unchanged)."""
        np.subtract(self._target, self.sums, out=self._delta)
        self._delta *= rate[:, None]
        self.sums += self._delta
        np.divide(self.sums[:, :2], self.sums[:, 2:], out=self.value)

    def select(self, rows: np.ndarray) -> RunningFeel:
        """The running feel of the given pieces (beam search reorders its beams)."""
        out = RunningFeel(len(rows), self.rate)
        out.sums, out.value = self.sums[rows], self.value[rows]
        return out
