"""What a model learns besides its weights: how hard and how late each drum is played where,
and how pieces begin. Learned from the training split, stored in the model file, used by
generation so that velocities are never one flat constant (Drums RNN writes everything at 100).
"""

from __future__ import annotations

import numpy as np

from drumrnn.data.dataset import Dataset
from drumrnn.data.steps import bar_token

PREFIX = "profile."


def learn_profile(dataset: Dataset, split: str = "train") -> dict[str, np.ndarray]:
    """Profile arrays, named ``profile.*``, of a prepared dataset's split.

    ``velocity_mean``, ``velocity_std``, ``offset_mean``: float32 (n_classes, P), by class and
    16th-grid position in the bar (P = one 4/4 bar); cells with no hits fall back to the
    class's mean (or 90 / 0). ``first_tokens`` (steps) or ``first_drums``/``first_deltas``
    (events, raw ticks as found): counts of how training tracks begin.
    """
    enc = dataset.encoding
    kit = enc.kit_obj
    n = kit.n_classes
    P = 4 * enc.steps_per_quarter if enc.encoding == "steps" else 16
    count = total = square = shift = 0.0
    extra: dict[str, np.ndarray] = {}
    # a few thousand tracks at a time: memory holds their hits, not the corpus's
    for arrays in (chunk for shard in dataset.shards(split) for chunk in _chunks(shard)):
        classes, pos, velocities, offsets, firsts = _shard_hits(arrays, enc, kit, P)
        cell = classes * P + pos
        count = count + np.bincount(cell, minlength=n * P).reshape(n, P)
        total = total + np.bincount(cell, weights=velocities, minlength=n * P).reshape(n, P)
        square = square + np.bincount(cell, weights=velocities ** 2,
                                      minlength=n * P).reshape(n, P)
        shift = shift + np.bincount(cell, weights=offsets, minlength=n * P).reshape(n, P)
        for name, value in firsts.items():
            if name not in extra:
                extra[name] = value
            elif name == "first_deltas":  # one value per track, not counts
                extra[name] = np.concatenate([extra[name], value])
            else:
                extra[name] = extra[name] + value
    count, total, square, shift = (np.broadcast_to(np.asarray(x, np.float64), (n, P))
                                   for x in (count, total, square, shift))
    class_count = count.sum(1, keepdims=True)
    class_mean = np.where(class_count > 0, total.sum(1, keepdims=True) / np.maximum(class_count, 1), 90.0)
    safe = np.maximum(count, 1)
    mean = np.where(count > 0, total / safe, class_mean)
    std = np.where(count > 1, np.sqrt(np.maximum(square / safe - (total / safe) ** 2, 0)), 8.0)
    offset = np.where(count > 0, shift / safe, 0.0)
    return {PREFIX + k: v for k, v in {
        "velocity_mean": mean.astype(np.float32), "velocity_std": std.astype(np.float32),
        "offset_mean": offset.astype(np.float32), **extra}.items()}


#: Tracks whose hits are summed at a time.
CHUNK_TRACKS = 4096
SEQUENCE_ARRAYS = ("tokens", "positions", "drums", "deltas", "velocities")


def _chunks(arrays: dict):
    """One shard's arrays, CHUNK_TRACKS tracks at a time (offsets made relative)."""
    size = CHUNK_TRACKS
    starts = np.asarray(arrays["track_starts"])
    hit_starts = np.asarray(arrays["hit_starts"]) if "hit_starts" in arrays else None
    for a in range(0, len(starts) - 1, size):
        b = min(a + size, len(starts) - 1)
        chunk = {"track_starts": starts[a:b + 1] - starts[a]}
        chunk.update({k: arrays[k][starts[a]:starts[b]] for k in SEQUENCE_ARRAYS if k in arrays})
        if hit_starts is not None:
            chunk["hit_starts"] = hit_starts[a:b + 1] - hit_starts[a]
            chunk.update({k: v[hit_starts[a]:hit_starts[b]] for k, v in arrays.items()
                          if k.startswith("hit_") and k != "hit_starts"})
        yield chunk


def _shard_hits(arrays: dict, enc, kit, P: int):
    """(class, position, velocity, offset) of every hit of some tracks, and how they
    begin."""
    starts = np.asarray(arrays["track_starts"])
    if enc.encoding == "steps":
        tokens = np.asarray(arrays["tokens"], dtype=np.int64)
        positions = np.asarray(arrays["positions"], dtype=np.int64)
        hit_starts = np.asarray(arrays["hit_starts"])
        # each hit's position: the positions array of its track, at its step (BAR tokens skipped)
        track_of_hit = np.repeat(np.arange(len(starts) - 1), np.diff(hit_starts))
        step_positions = positions[tokens != bar_token(kit)] if enc.bar_tokens else positions
        step_starts = (np.concatenate([[0], np.cumsum([np.sum(tokens[a:b] != bar_token(kit))
                                                       for a, b in zip(starts[:-1], starts[1:])])])
                       if enc.bar_tokens else starts)
        pos = step_positions[step_starts[track_of_hit] + np.asarray(arrays["hit_steps"])] % P
        classes = np.asarray(arrays["hit_classes"], dtype=np.int64)
        velocities = np.asarray(arrays["hit_velocities"], dtype=np.float64)
        offsets = np.asarray(arrays["hit_offsets"], dtype=np.float64)
        first = np.bincount(tokens[starts[:-1]], minlength=1 << kit.n_classes)
        extra = {"first_tokens": first.astype(np.float32)}
    else:
        drums = np.asarray(arrays["drums"], dtype=np.int64)
        deltas = np.asarray(arrays["deltas"], dtype=np.int64)
        track_of = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
        ticks = np.cumsum(deltas)
        ticks -= np.concatenate([[0], ticks[starts[1:-1] - 1]])[track_of]
        hit = drums < kit.n_classes
        sixteenth = max(enc.ticks_per_quarter // 4, 1)
        pos = (np.round(ticks[hit] / sixteenth).astype(np.int64)) % P
        classes, velocities = drums[hit], np.asarray(arrays["velocities"], np.float64)[hit]
        offsets = np.zeros(len(classes))
        extra = {"first_drums": np.bincount(drums[starts[:-1]],
                                            minlength=kit.n_classes + 1).astype(np.float32),
                 "first_deltas": deltas[starts[:-1]].astype(np.float32)}
    return classes, pos, velocities, offsets, extra


def split_profile(weights: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """(network weights, profile arrays without the prefix) of a model file's arrays."""
    network = {k: v for k, v in weights.items() if not k.startswith(PREFIX)}
    profile = {k[len(PREFIX):]: v for k, v in weights.items() if k.startswith(PREFIX)}
    return network, profile
