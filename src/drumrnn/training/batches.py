"""Training windows over a prepared split: stateful streams (TBPTT) or random windows.

Stateful: every track is cut into consecutive windows of T steps; tracks are dealt to B
parallel streams, so the hidden state carries from one window of a track to the next and is
reset where a stream starts a new track. Random: B independent windows at random places,
each starting from a zero state. Both are a pure function of (seed, epoch), which makes
resumed training identical to uninterrupted training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drumrnn.core.errors import DrumrnnError
from drumrnn.model.feel import running_feel, step_feel
from drumrnn.model.tracks import TrackArrays
from drumrnn.training.train_config import MODES


@dataclass
class EpochPlan:
    """The batches of one epoch.

    ``rows``: int64 (n_batches, batch, 3) of (track, offset, reset), track -1 = padding;
    reset 2 marks a piece start (:func:`epoch_plan`), whose offset may be -1.
    ``lengths``: each batch's window length. ``independent``: bool per batch; such a batch
    starts from a zero state and leaves the carried state of the other batches alone.
    """

    rows: np.ndarray
    lengths: np.ndarray
    independent: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


def epoch_plan(tracks: TrackArrays, batch: int, window: int, mode: str, seed: int,
               epoch: int, whole_tracks: bool = False, piece_starts: float = 0.0,
               style_balance: float = 0.0) -> EpochPlan:
    """The windows of one epoch, a pure function of ``seed`` and ``epoch``.

    Stateful: tracks longer than a window are cut into pieces of consecutive windows that
    carry the state, dealt to the ``batch`` streams (longest first, to the least loaded); tracks
    that fit in one window are grouped by length into independent batches with a window just
    as long as their longest track (GMD's median track is 2 bars: padding every fill to a
    long window would make two thirds of each batch padding). Random: independent windows at
    random places, tracks drawn in proportion to their length.

    ``piece_starts`` (random mode, steps encodings): this share of the windows starts as a
    generated piece does, after a silent lead step at a bar line (:func:`gather`), where the
    labels are all the model has to go on; each such window moves back to the bar line at or
    before the step it would have predicted first (offset -1: the track's first bar).
    ``style_balance`` (random mode, tracks with labels): each track's weight is also
    multiplied by its style's share of the steps to the power ``-style_balance``.
    """
    if mode not in MODES:
        raise DrumrnnError(f"unknown window mode {mode!r}; choose stateful or random")
    rng = np.random.default_rng([seed, epoch])
    lengths = tracks.lengths
    usable = np.flatnonzero(lengths >= 2)
    if mode == "random":
        n_batches = max(1, tracks.n_targets // (batch * window))
        weights = (lengths[usable] - 1).astype(np.float64)
        if style_balance:
            if tracks.labels is None:
                raise DrumrnnError("style balance needs a model that reads labels")
            style = tracks.labels[tracks.starts[usable], 0]
            share = np.bincount(style, weights) / weights.sum()
            weights *= share[style] ** -style_balance
        weights /= weights.sum()
        chosen = rng.choice(usable, size=(n_batches, batch), p=weights)
        # a window reads window + 1 tokens: offsets 0 .. length - window - 1
        offsets = rng.integers(0, np.maximum(lengths[chosen] - window, 1))
        reset = np.ones_like(chosen)
        if piece_starts:
            if tracks.position is None:
                raise DrumrnnError("piece starts need a steps encoding (bar positions)")
            lead = rng.random(chosen.shape) < piece_starts
            first = tracks.starts[chosen] + offsets + 1  # the step each window predicts first
            # (a track that opens mid-bar: its first step, at offset -1)
            offsets = np.where(lead, np.maximum(offsets - np.asarray(tracks.position[first]),
                                                -1), offsets)
            reset = reset + lead
        rows = np.stack([chosen, offsets, reset], axis=-1)
        return EpochPlan(rows, np.full(n_batches, window, dtype=np.int64),
                         np.ones(n_batches, dtype=bool))
    targets = lengths - 1
    short = usable[targets[usable] <= window]
    long = usable[targets[usable] > window]

    rows, sizes = [], []
    # short tracks: blocks of similar length, one independent batch each
    by_length = short[np.lexsort((rng.random(len(short)), lengths[short]))]
    short_batches = []
    for i in range(0, len(by_length), batch):
        block = by_length[i:i + batch]
        row = np.full((batch, 3), -1, dtype=np.int64)
        row[:, 2] = 1
        row[: len(block), 0], row[: len(block), 1] = block, 0
        short_batches.append((row, int(targets[block].max())))
    # long tracks: cut into pieces of at most half a balanced stream's load (one 10,000-step
    # jam would otherwise keep one stream busy while the others idle), then longest first to
    # the least loaded stream, then each stream's pieces shuffled
    n_windows = -(-targets // window)
    cap = int(n_windows.max(initial=1)) if whole_tracks else \
        max(1, int(n_windows[long].sum()) // batch // 2)
    pieces = [(t, k, min(cap, int(n_windows[t]) - k)) for t in long.tolist()
              for k in range(0, int(n_windows[t]), cap)]
    streams: list[list[tuple[int, int, int]]] = [[] for _ in range(batch)]
    loads = np.zeros(batch, dtype=np.int64)
    sizes_of = np.array([p[2] for p in pieces], dtype=np.int64)
    for i in np.lexsort((rng.random(len(pieces)), -sizes_of)).tolist():
        s = int(np.argmin(loads))
        streams[s].append(pieces[i])
        loads[s] += pieces[i][2]
    long_rows = np.full((int(loads.max(initial=0)), batch, 3), -1, dtype=np.int64)
    long_rows[..., 2] = 1
    for s, queue in enumerate(streams):
        at = 0
        for i in rng.permutation(len(queue)).tolist():
            track, first, count = queue[i]
            for k in range(first, first + count):
                long_rows[at, s] = (track, k * window, int(k == first))
                at += 1
    # interleave: short batches at random places among the long ones
    kinds = rng.permutation(np.r_[np.zeros(len(long_rows), bool), np.ones(len(short_batches), bool)])
    long_iter, short_iter = iter(long_rows), iter(short_batches)
    for independent in kinds:
        if independent:
            row, size = next(short_iter)
            rows.append(row)
            sizes.append(size)
        else:
            rows.append(next(long_iter))
            sizes.append(window)
    return EpochPlan(np.stack(rows), np.array(sizes, dtype=np.int64), kinds.astype(bool))


def gather(tracks: TrackArrays, windows: np.ndarray, window: int, label_dropout: float = 0.0,
           rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """NumPy arrays of one batch from its (track, offset, reset) rows.

    With ``label_dropout`` each label of each window is replaced by unknown (0) with that
    probability (draws from ``rng``), so that the model also plays with labels left out.

    A window read from a zero state (``reset``) sees nothing before its first token, as a
    generated piece sees nothing before its start: its lookback flags and bar-ago inputs
    that would look back past that token read as "not there" (0 and ``none_id``). Otherwise
    a model learns to copy the history its state never saw and, generating from nothing,
    meets starts it was hardly trained on.

    A piece start (reset 2, see :func:`epoch_plan`) reads a silent lead step as its first
    input, with no feel and step index -1, and counts its steps from there, exactly as
    conditioned generation begins a piece.
    """
    track, offset, reset = windows[:, 0], windows[:, 1], windows[:, 2]
    pad = track < 0
    track = np.where(pad, 0, track)
    start, length = tracks.starts[track], tracks.lengths[track]
    steps = np.arange(window + 1)
    local = offset[:, None] + steps[None, :]
    real = (local < length[:, None]) & ~pad[:, None]
    at = start[:, None] + np.clip(local, 0, length[:, None] - 1)
    out = {"inputs": tracks.ids[at[:, :-1]], "targets": tracks.ids[at[:, 1:]],
           "mask": real[:, 1:].astype(np.float32), "reset": (reset > 0) | pad,
           "index": tracks.index[at[:, :-1]]}
    lead = (reset == 2) & ~pad
    # rows that see nothing before their window: inside a track, or at a piece start
    fresh = (((reset > 0) & (offset > 0)) | lead)[:, None]
    # a piece start's counts begin one step later: its first input is the lead step
    late = lead[:, None].astype(np.int64)
    if lead.any():
        out["inputs"][lead, 0] = 0  # the silent step
        out["index"][lead] = steps[:-1] - 1
    if tracks.position is not None:
        out["next_position"] = tracks.position[at[:, 1:]]
        lookback = tracks.lookback[at[:, :-1]]
        if fresh.any():  # the input at t compares with the one k + 1 bars before it
            for k in (0, 1):
                lookback[..., k] *= ~(fresh & (steps[None, :-1] < (k + 1) * tracks.bar_steps
                                               + late))
        out["lookback"] = lookback
    if tracks.delta_ids is not None:
        out["delta_inputs"] = tracks.delta_ids[at[:, :-1]]
        out["delta_targets"] = tracks.delta_ids[at[:, 1:]]
    if tracks.bar_ago is not None:
        ago = tracks.bar_ago[at[:, :-1]]
        if fresh.any():  # the step predicted at t + 1 reads the ones k + 1 bars before it
            for k in (0, 1):
                ago[..., k] = np.where(fresh & (steps[None, 1:] < (k + 1) * tracks.bar_slots
                                                + late),
                                       tracks.none_id, ago[..., k])
        out["bar_ago"] = ago
    if tracks.labels is not None:
        labels = tracks.labels[at[:, :-1]]
        if label_dropout:
            keep = rng.random((len(labels), 1, labels.shape[-1])) >= label_dropout
            labels = labels * keep
        out["labels"] = labels
    if tracks.feel_in is not None:
        feel = tracks.feel_in[at[:, :-1]]
        feel[lead, 0] = 0.0  # the lead step strikes nothing
        if tracks.feel_context:  # a fresh window's running feel starts with the window
            C = tracks.velocity_bins.shape[1]
            for row in np.flatnonzero(fresh[:, 0]):
                feel[row, :, 2 * C:] = running_feel(*step_feel(feel[row], C),
                                                     rate=tracks.feel_rate)
        out["feel_inputs"] = feel
        # padding and steps past a track's end predict no feel
        gone = ~real[:, 1:, None]
        out["velocity_targets"] = np.where(gone, -1, tracks.velocity_bins[at[:, 1:]])
        if tracks.offset_bins is not None:  # events have no offsets
            out["offset_targets"] = np.where(gone, -1, tracks.offset_bins[at[:, 1:]])
    return out
