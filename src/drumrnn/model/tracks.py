"""A prepared split as model inputs: token ids, positions, lookback flags, delta ids.

Shared by training (windows are cut from it), evaluation and generation (primers and
events deltas), so it lives below all three. No torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.dataset import Dataset, Split
from drumrnn.model.model_config import Vocabulary


@dataclass
class TrackArrays:
    """A split's tracks concatenated, in model ids, with per-token features.

    ``ids``: input/target ids; ``delta_ids`` (events); ``index``: position in the track;
    ``position``: position in the bar (steps); ``lookback``: (n, 2) repeat flags (steps).
    ``starts``: int64 (n_tracks + 1,) track offsets.
    """

    ids: np.ndarray
    starts: np.ndarray
    index: np.ndarray
    position: np.ndarray | None = None
    lookback: np.ndarray | None = None
    delta_ids: np.ndarray | None = None

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.starts)

    @property
    def n_targets(self) -> int:
        """Tokens that are predicted: all but the first of each track."""
        return int(np.maximum(self.lengths - 1, 0).sum())


def vocabulary_of(dataset: Dataset) -> Vocabulary:
    """The model vocabulary of a prepared dataset."""
    enc = dataset.encoding
    vocab = dataset.manifest["vocabulary"]
    if enc.encoding == "steps":
        return Vocabulary("steps", size=int(vocab["size"]),
                          steps_per_bar=4 * enc.steps_per_quarter,
                          bar_token=int(vocab["size"]) - 1 if enc.bar_tokens else -1)
    if not vocab["deltas"]:
        raise DrumrnnError("the training split has no events to build a delta vocabulary from")
    return Vocabulary("events", n_drums=int(vocab["drums"]), deltas=tuple(vocab["deltas"]))


def delta_ids(deltas: np.ndarray, vocab: Vocabulary) -> np.ndarray:
    """Index of the nearest vocabulary delta for each delta (ticks)."""
    table = np.asarray(vocab.deltas)
    right = np.clip(np.searchsorted(table, deltas), 1, len(table) - 1) if len(table) > 1 else 0
    if len(table) == 1:
        return np.zeros(len(deltas), dtype=np.int64)
    left = right - 1
    nearer_left = np.abs(deltas - table[left]) <= np.abs(table[right] - deltas)
    return np.where(nearer_left, left, right).astype(np.int64)


def track_arrays(split: Split, vocab: Vocabulary) -> TrackArrays:
    """Load a split into model ids and features."""
    if split.n_tracks == 0:
        raise DrumrnnError(f"the {split.name} split is empty")
    starts = np.asarray(split.arrays["track_starts"], dtype=np.int64)
    n = int(starts[-1])
    track_of = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
    index = np.arange(n, dtype=np.int64) - starts[track_of]
    if vocab.encoding == "steps":
        ids = np.asarray(split.arrays["tokens"], dtype=np.int64)
        if ids.max(initial=0) >= vocab.size:
            raise DrumrnnError(f"the {split.name} split has tokens beyond the model's "
                               f"vocabulary of {vocab.size}")
        lookback = np.zeros((n, 2), dtype=np.float32)
        for k, distance in enumerate((vocab.steps_per_bar, 2 * vocab.steps_per_bar)):
            same = np.zeros(n, dtype=bool)
            same[distance:] = ids[distance:] == ids[:-distance]
            lookback[:, k] = same & (index >= distance)
        return TrackArrays(ids, starts, index, np.asarray(split.arrays["positions"],
                                                          dtype=np.int64), lookback)
    drums = np.asarray(split.arrays["drums"], dtype=np.int64)
    return TrackArrays(drums, starts, index,
                       delta_ids=delta_ids(np.asarray(split.arrays["deltas"]), vocab))
