"""A prepared split as model inputs: token ids, positions, lookback flags, delta ids.

Shared by training (windows are cut from it), evaluation and generation (primers and
events deltas), so it lives below all three. No torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.dataset import Dataset, Split
from drumrnn.model.feel import feel_inputs, offset_bins, velocity_bins
from drumrnn.model.labels import LabelVocab, track_label_ids
from drumrnn.model.model_config import ModelConfig, Vocabulary


@dataclass
class TrackArrays:
    """A split's tracks concatenated, in model ids, with per-token features.

    ``ids``: input/target ids; ``delta_ids`` (events); ``index``: position in the track;
    ``position``: position in the bar (steps); ``lookback``: (n, 2) repeat flags (steps).
    ``starts``: int64 (n_tracks + 1,) track offsets. Conditioned models also read
    ``labels`` (n, 3) label ids of each token's track, and ``velocity_bins`` /
    ``offset_bins`` (n, n_classes) of each token's struck classes (-1 = silent) with
    ``feel_in`` (n, 2 * n_classes), the feel inputs they make (:mod:`drumrnn.model.feel`);
    ``bar_ago`` (n, 2): the tokens one and two bars before the step each token predicts (the
    vocabulary size where that lies before the track).
    """

    ids: np.ndarray
    starts: np.ndarray
    index: np.ndarray
    position: np.ndarray | None = None
    lookback: np.ndarray | None = None
    delta_ids: np.ndarray | None = None
    labels: np.ndarray | None = None
    velocity_bins: np.ndarray | None = None
    offset_bins: np.ndarray | None = None
    feel_in: np.ndarray | None = None
    bar_ago: np.ndarray | None = None

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


def model_tracks(dataset: Dataset, split: str, vocab: Vocabulary, config: ModelConfig,
                 labels: LabelVocab | None = None) -> TrackArrays:
    """A split as the inputs of a model of ``config``: :func:`track_arrays`, with the label
    ids (when the model reads labels) and the feel bins (when it has feel heads)."""
    data = dataset.split(split)
    tracks = track_arrays(data, vocab)
    if config.labels:
        if labels is None:
            raise DrumrnnError("a model that reads labels needs their vocabulary")
        per_track = track_label_ids(dataset.manifest, split, labels)
        tracks.labels = np.repeat(per_track, tracks.lengths, axis=0)
    if config.feel:
        attach_feel(tracks, data, vocab, config.feel_bins)
    if config.bar_ago:
        tracks.bar_ago = bar_ago_ids(tracks.ids, tracks.index, vocab)
    return tracks


def bar_ago_ids(ids: np.ndarray, index: np.ndarray, vocab: Vocabulary) -> np.ndarray:
    """(n, 2) the tokens one and two bars before the step after each token (vocab.size where
    that lies before the track's start)."""
    n = len(ids)
    out = np.full((n, 2), vocab.size, dtype=np.int64)
    for k in (0, 1):
        back = (k + 1) * vocab.bar_slots
        ok = index + 1 >= back
        at = np.flatnonzero(ok)
        out[at, k] = ids[at + 1 - back]
    return out


def attach_feel(tracks: TrackArrays, split: Split, vocab: Vocabulary, bins: int) -> None:
    """Fill ``tracks``' feel arrays from a steps split's per-hit velocities and offsets."""
    if vocab.encoding != "steps":
        raise DrumrnnError("feel heads need the steps encoding")
    C = vocab.n_classes
    n = len(tracks.ids)
    hit_starts = np.asarray(split.arrays["hit_starts"], dtype=np.int64)
    track_of_hit = np.repeat(np.arange(len(hit_starts) - 1), np.diff(hit_starts))
    steps = np.asarray(split.arrays["hit_steps"], dtype=np.int64)
    if vocab.bar_token >= 0:  # a hit's grid step -> its token (BAR tokens skipped)
        step_tokens = np.flatnonzero(tracks.ids != vocab.bar_token)
        before = np.concatenate([[0], np.cumsum(tracks.ids != vocab.bar_token)])[tracks.starts]
        at = step_tokens[before[track_of_hit] + steps]
    else:
        at = tracks.starts[track_of_hit] + steps
    classes = np.asarray(split.arrays["hit_classes"], dtype=np.int64)
    tracks.velocity_bins = np.full((n, C), -1, dtype=np.int64)
    tracks.offset_bins = np.full((n, C), -1, dtype=np.int64)
    tracks.velocity_bins[at, classes] = velocity_bins(split.arrays["hit_velocities"], bins)
    tracks.offset_bins[at, classes] = offset_bins(split.arrays["hit_offsets"], bins)
    tracks.feel_in = feel_inputs(tracks.velocity_bins, tracks.offset_bins, bins)
