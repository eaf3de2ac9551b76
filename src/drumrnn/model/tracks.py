"""A prepared split as model inputs: token ids, positions, lookback flags, delta ids.

Shared by training (windows are cut from it), evaluation and generation (primers and
events deltas), so it lives below all three. No torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.dataset import Dataset, Split
from drumrnn.data.shards import ShardedArray
from drumrnn.model.feel import (
    CONTEXT_RATE,
    feel_inputs,
    offset_bins,
    running_feel,
    step_feel,
    velocity_bins,
)
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
    ``feel_in`` (n, 2 * n_classes), the feel inputs they make (:mod:`drumrnn.model.feel`;
    with ``feel_context``, two more columns: the track's running feel after each token,
    kept at ``feel_rate``);
    ``bar_ago`` (n, 2): the tokens one and two bars before the step each token predicts (the
    vocabulary size where that lies before the track). ``bar_steps``: the lookback distance
    (steps per bar), ``bar_slots``: the bar-ago distance (slots per bar), ``none_id``: the
    bar-ago id of "before the track"; 0 where unused.
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
    feel_context: bool = False
    feel_rate: float = CONTEXT_RATE
    bar_steps: int = 0
    bar_slots: int = 0
    none_id: int = 0

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
    """Load a split into model ids and features.

    A split of one shard is loaded into memory; a split of several shards (a large corpus)
    gets views that compute ids and features of the rows they are indexed with, from the
    memory-mapped shards, so memory does not grow with the corpus.
    """
    if split.n_tracks == 0:
        raise DrumrnnError(f"the {split.name} split is empty")
    starts = np.asarray(split.arrays["track_starts"], dtype=np.int64)
    lazy = any(isinstance(a, ShardedArray) for a in split.arrays.values())
    if vocab.encoding == "steps":
        tokens = split.arrays["tokens"]
        top = max((int(p.max(initial=0)) for p in getattr(tokens, "parts", [tokens])),
                  default=0)
        if top >= vocab.size:
            raise DrumrnnError(f"the {split.name} split has tokens beyond the model's "
                               f"vocabulary of {vocab.size}")
        if lazy:
            ids, index = _Int64View(tokens), _TrackIndex(starts)
            return TrackArrays(ids, starts, index, _Int64View(split.arrays["positions"]),
                               _Lookback(ids, index, vocab.steps_per_bar),
                               bar_steps=vocab.steps_per_bar)
        ids = np.asarray(tokens, dtype=np.int64)
        index = _index(starts)
        n = len(ids)
        lookback = np.zeros((n, 2), dtype=np.float32)
        for k, distance in enumerate((vocab.steps_per_bar, 2 * vocab.steps_per_bar)):
            same = np.zeros(n, dtype=bool)
            same[distance:] = ids[distance:] == ids[:-distance]
            lookback[:, k] = same & (index >= distance)
        return TrackArrays(ids, starts, index, np.asarray(split.arrays["positions"],
                                                          dtype=np.int64), lookback,
                           bar_steps=vocab.steps_per_bar)
    if lazy:
        return TrackArrays(_Int64View(split.arrays["drums"]), starts, _TrackIndex(starts),
                           delta_ids=_DeltaIds(split.arrays["deltas"], vocab))
    drums = np.asarray(split.arrays["drums"], dtype=np.int64)
    return TrackArrays(drums, starts, _index(starts),
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
        tracks.labels = (_PerTrack(per_track, tracks.starts) if isinstance(tracks.ids, _View)
                         else np.repeat(per_track, tracks.lengths, axis=0))
    if config.feel:  # built in memory, also for a split of several shards
        attach_feel(tracks, data, vocab, config.feel_bins, config.feel_context,
                    config.feel_rate)
    if config.bar_ago:
        tracks.bar_slots, tracks.none_id = vocab.bar_slots, vocab.size
        tracks.bar_ago = (_BarAgo(tracks.ids, tracks.index, vocab)
                          if isinstance(tracks.ids, _View)
                          else bar_ago_ids(tracks.ids, tracks.index, vocab))
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


def drum_signs(vocab: Vocabulary) -> np.ndarray:
    """(V + 1, C) float32: +1 where a step strikes a drum class, -1 where it does not; zero
    rows for the BAR token and for "none" (id V, before the track). The drum copy gates'
    agreement of two steps on class c is the product of their signs."""
    C = vocab.n_classes
    signs = ((np.arange(vocab.size)[:, None] >> np.arange(C)) & 1) * 2.0 - 1.0
    if vocab.bar_token >= 0:
        signs[vocab.bar_token] = 0.0
    return np.vstack([signs, np.zeros((1, C))]).astype(np.float32)


def attach_feel(tracks: TrackArrays, split: Split, vocab: Vocabulary, bins: int,
                context: bool = False, rate: float = CONTEXT_RATE) -> None:
    """Fill ``tracks``' feel arrays from a steps split's per-hit velocities and offsets (an
    events split: each event's velocity, -1 for REST; no offsets); ``context``: with each
    track's running feel at ``rate`` (steps only)."""
    if vocab.encoding == "events":
        hit = tracks.ids != vocab.n_drums - 1
        tracks.velocity_bins = np.where(hit, velocity_bins(split.arrays["velocities"], bins),
                                        -1)[:, None]
        tracks.feel_in = feel_inputs(tracks.velocity_bins, None, bins)
        return
    C = vocab.n_classes
    ids = np.asarray(tracks.ids)
    n = len(ids)
    hit_starts = np.asarray(split.arrays["hit_starts"], dtype=np.int64)
    track_of_hit = np.repeat(np.arange(len(hit_starts) - 1), np.diff(hit_starts))
    steps = np.asarray(split.arrays["hit_steps"], dtype=np.int64)
    if vocab.bar_token >= 0:  # a hit's grid step -> its token (BAR tokens skipped)
        step_tokens = np.flatnonzero(ids != vocab.bar_token)
        before = np.concatenate([[0], np.cumsum(ids != vocab.bar_token)])[tracks.starts]
        at = step_tokens[before[track_of_hit] + steps]
    else:
        at = tracks.starts[track_of_hit] + steps
    classes = np.asarray(split.arrays["hit_classes"], dtype=np.int64)
    tracks.velocity_bins = np.full((n, C), -1, dtype=np.int64)
    tracks.offset_bins = np.full((n, C), -1, dtype=np.int64)
    tracks.velocity_bins[at, classes] = velocity_bins(split.arrays["hit_velocities"], bins)
    tracks.offset_bins[at, classes] = offset_bins(split.arrays["hit_offsets"], bins)
    tracks.feel_in = feel_inputs(tracks.velocity_bins, tracks.offset_bins, bins)
    if context:
        restart = np.zeros(n, bool)
        restart[tracks.starts[:-1]] = True
        means, struck = step_feel(tracks.feel_in, C)
        tracks.feel_in = np.hstack([tracks.feel_in, running_feel(means, struck, restart,
                                                                 rate)])
        tracks.feel_context, tracks.feel_rate = True, rate


def _index(starts: np.ndarray) -> np.ndarray:
    track_of = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
    return np.arange(int(starts[-1]), dtype=np.int64) - starts[track_of]


class _View:
    """An array computed on demand for the rows it is indexed with (integer arrays)."""

    def __init__(self, length: int):
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __array__(self, dtype=None, copy=None):
        out = self[np.arange(self.length)]
        return out if dtype is None else out.astype(dtype, copy=False)


class _Int64View(_View):
    def __init__(self, values):
        super().__init__(len(values))
        self.values = values

    def __getitem__(self, at):
        return np.asarray(self.values[at], dtype=np.int64)


class _TrackIndex(_View):
    """Each token's position in its track."""

    def __init__(self, starts: np.ndarray):
        super().__init__(int(starts[-1]))
        self.starts = starts

    def __getitem__(self, at):
        at = np.asarray(at, dtype=np.int64)
        return at - self.starts[np.searchsorted(self.starts, at, side="right") - 1]


class _Lookback(_View):
    """Whether each token repeats the token one and two bars before it in its track."""

    def __init__(self, ids: _Int64View, index: _TrackIndex, steps_per_bar: int):
        super().__init__(len(ids))
        self.ids, self.index, self.steps_per_bar = ids, index, steps_per_bar

    def __getitem__(self, at):
        at = np.asarray(at, dtype=np.int64)
        now, index = self.ids[at], self.index[at]
        flags = np.zeros((*at.shape, 2), dtype=np.float32)
        for k, distance in enumerate((self.steps_per_bar, 2 * self.steps_per_bar)):
            inside = index >= distance
            before = self.ids[np.where(inside, at - distance, at)]
            flags[..., k] = inside & (before == now)
        return flags


class _DeltaIds(_View):
    def __init__(self, deltas, vocab: Vocabulary):
        super().__init__(len(deltas))
        self.deltas, self.vocab = deltas, vocab

    def __getitem__(self, at):
        at = np.asarray(at, dtype=np.int64)
        return delta_ids(np.asarray(self.deltas[at.reshape(-1)]), self.vocab).reshape(at.shape)


class _PerTrack(_View):
    """A per-track array read as one row per token."""

    def __init__(self, values: np.ndarray, starts: np.ndarray):
        super().__init__(int(starts[-1]))
        self.values, self.starts = values, starts

    def __getitem__(self, at):
        at = np.asarray(at, dtype=np.int64)
        return self.values[np.searchsorted(self.starts, at, side="right") - 1]


class _BarAgo(_View):
    """:func:`bar_ago_ids` of the rows asked for."""

    def __init__(self, ids: _Int64View, index: _TrackIndex, vocab: Vocabulary):
        super().__init__(len(ids))
        self.ids, self.index, self.vocab = ids, index, vocab

    def __getitem__(self, at):
        at = np.asarray(at, dtype=np.int64)
        index = self.index[at]
        out = np.full((*at.shape, 2), self.vocab.size, dtype=np.int64)
        for k in (0, 1):
            back = (k + 1) * self.vocab.bar_slots
            ok = index + 1 >= back
            out[..., k] = np.where(ok, self.ids[np.where(ok, at + 1 - back, at)], self.vocab.size)
        return out
