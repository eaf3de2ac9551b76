"""Feel as a model sees it: each struck drum's velocity and offset from the grid, in bins.

(Events models predict the velocity of each event's drum only: its timing is its delta.)

A conditioned model predicts, for every drum class struck on a step, a categorical
distribution over ``bins`` velocity bins (equal widths over 0..127) and ``bins`` offset bins
(equal widths over [-0.5, 0.5) steps), and reads the previous step's velocities and
offsets (bin centres, scaled to about +-1; 0 where a class is silent) as inputs. Sampled
values are drawn uniformly inside the sampled bin, so that the output is not quantized to
the bins.
"""

from __future__ import annotations

import numpy as np

VELOCITY_TOP = 128.0


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
