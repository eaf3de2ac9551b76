"""The weights a model config implies, and the one check every loaded set of weights passes.

:func:`expected_shapes` derives the name and shape of every network array from a
:class:`ModelConfig` and :class:`Vocabulary` (PyTorch's state-dict names, which the NumPy
runtime reads too); a test holds it equal to the PyTorch module's state dict for every
preset. :func:`check_weights` is the validation model files and checkpoints share.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from drumrnn.core.errors import DrumrnnError
from drumrnn.model.feel import feel_layout
from drumrnn.model.model_config import ModelConfig, Vocabulary

_GATES = {"rnn": 1, "gru": 3, "lstm": 4}
#: Position-in-bar embeddings have this many rows (positions are clamped to it).
POSITIONS = 64
#: Integer arrays of a network (batch-norm's step counter); every other array is float.
_INTEGER = ("num_batches_tracked",)


def expected_shapes(config: ModelConfig, vocab: Vocabulary) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every network array of a model with ``config`` over ``vocab``."""
    events = vocab.encoding == "events"
    n_in = vocab.n_drums if events else vocab.size
    n_deltas = len(vocab.deltas)
    shapes: dict[str, tuple[int, ...]] = {}
    size = 0
    if config.embedding:
        shapes["embed.weight"] = (n_in, config.embedding)
        size += config.embedding
        if events:
            shapes["embed_delta.weight"] = (n_deltas, config.embedding)
            size += config.embedding
    else:
        size += n_in + (n_deltas if events else 0)
    if config.position_embedding:
        shapes["embed_position.weight"] = (POSITIONS, config.position_embedding)
        size += config.position_embedding
    size += config.counter_bits + (2 if config.lookback else 0)
    if config.labels:
        if len(vocab.label_sizes) != 3:
            raise DrumrnnError("a model that reads labels needs the vocabulary's label sizes")
        for i, n in enumerate(vocab.label_sizes):
            shapes[f"embed_labels.{i}.weight"] = (n, config.labels)
        size += 3 * config.labels
    n_classes = vocab.n_classes
    quantities, groups = feel_layout(vocab.encoding, n_classes)  # events: velocity only
    if config.feel:
        size += quantities * groups + (2 if config.feel_context else 0)
    if config.bar_ago:
        size += 2 * config.embedding
    hidden, gates = config.hidden, _GATES[config.cell] * config.hidden
    for layer in range(config.layers):
        shapes[f"rnn.weight_ih_l{layer}"] = (gates, size if layer == 0 else hidden)
        shapes[f"rnn.weight_hh_l{layer}"] = (gates, hidden)
        shapes[f"rnn.bias_ih_l{layer}"] = (gates,)
        shapes[f"rnn.bias_hh_l{layer}"] = (gates,)
    if config.attention:
        shapes["attention.query.weight"] = (hidden, hidden)
        shapes["attention.key.weight"] = (hidden, hidden)
        shapes["attention.out.weight"] = (hidden, 2 * hidden)
        shapes["attention.out.bias"] = (hidden,)
    width = hidden
    if config.dense:
        d = config.dense
        shapes.update({"dense.0.weight": (d, width), "dense.0.bias": (d,),
                       "dense.1.weight": (d,), "dense.1.bias": (d,),
                       "dense.1.running_mean": (d,), "dense.1.running_var": (d,),
                       "dense.1.num_batches_tracked": ()})
        width = d
    shapes["head.weight"] = (n_in, width)
    shapes["head.bias"] = (n_in,)
    if config.label_bias:
        for i, n in enumerate(vocab.label_sizes):
            shapes[f"label_bias.{i}.weight"] = (n, n_in)
    if config.bar_copy:
        shapes["copy_gate.weight"] = (2, width)
        shapes["copy_gate.bias"] = (2,)
    if config.drum_copy:
        shapes["drum_gate.weight"] = (2 * n_classes, width)
        shapes["drum_gate.bias"] = (2 * n_classes,)
    if events:
        shapes["delta_head.weight"] = (n_deltas, width)
        shapes["delta_head.bias"] = (n_deltas,)
    if config.feel:
        f = config.feel
        shapes.update({"feel_hidden.weight": (f, width), "feel_hidden.bias": (f,),
                       "feel_drums.weight": (f, n_in if events else n_classes),
                       "feel_out.weight": (quantities * groups * config.feel_bins, f),
                       "feel_out.bias": (quantities * groups * config.feel_bins,)})
    return shapes


def check_weights(weights: dict[str, np.ndarray], config: ModelConfig, vocab: Vocabulary,
                  where: str) -> None:
    """Raise a one-line :class:`DrumrnnError` (prefixed with ``where``) unless ``weights``
    holds every array ``config`` needs, with its shape, a float dtype (integer for
    batch-norm counters), and only finite values. Further arrays (a profile) must be
    finite numbers too."""
    for name, shape in expected_shapes(config, vocab).items():
        if name not in weights:
            raise DrumrnnError(f"{where}: weight {name!r} is missing")
        array = np.asarray(weights[name])
        if tuple(array.shape) != shape:
            raise DrumrnnError(f"{where}: weight {name!r} has shape {tuple(array.shape)}, "
                               f"the model config needs {shape}")
        integer = name.rsplit(".", 1)[-1] in _INTEGER
        kind = "i" if integer else "f"
        if array.dtype.kind not in ((kind, "u") if integer else (kind,)):
            raise DrumrnnError(f"{where}: weight {name!r} has dtype {array.dtype}, expected "
                               f"{'an integer' if integer else 'a float'} type")
    for name, array in weights.items():
        array = np.asarray(array)
        if array.dtype.kind not in "fiub":
            raise DrumrnnError(f"{where}: array {name!r} has dtype {array.dtype}, not numbers")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise DrumrnnError(f"{where}: weight {name!r} holds NaN or infinite values")


def payload_digest(header: dict, arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of a header (its ``payload_sha256`` left out) and arrays: names, dtypes,
    shapes and bytes, in name order."""
    digest = hashlib.sha256()
    content = {k: v for k, v in header.items() if k != "payload_sha256"}
    digest.update(json.dumps(content, sort_keys=True).encode("utf-8"))
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"\0{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
