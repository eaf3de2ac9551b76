"""Held-out likelihood of a model file on a prepared dataset, with the NumPy runtime.

Every track of the split is run from a zero state over its whole length (no windows), so
the figures use all the context a generating model would have. No torch needed.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.dataset import Dataset
from drumrnn.data.kits import kit_from_dict
from drumrnn.generation.runtime import NumpyDrumModel
from drumrnn.generation.sampling import log_softmax
from drumrnn.model.figures import figures
from drumrnn.model.labels import LabelVocab
from drumrnn.model.model_file import ModelFile
from drumrnn.model.tracks import TrackArrays, model_tracks


def check_compatible(model: ModelFile, dataset: Dataset) -> None:
    """A :class:`DrumrnnError` unless the model reads the dataset's encoding and kit."""
    config = dataset.manifest["config"]
    if model.header["kit"]["name"] != config["kit"]["name"]:
        raise DrumrnnError(f"the model plays kit {model.header['kit']['name']} but the data is "
                           f"prepared with kit {config['kit']['name']}")
    enc_m, enc_d = model.header["encoding"], config["encoding"]
    keys = ("encoding", "steps_per_quarter", "bar_tokens") if enc_d["encoding"] == "steps" else (
        "encoding", "ticks_per_quarter", "max_delta")
    differ = [k for k in keys if enc_m.get(k) != enc_d.get(k)]
    if differ:
        raise DrumrnnError("the model and the data use different encodings ("
                           + ", ".join(f"{k}: {enc_m.get(k)} vs {enc_d.get(k)}" for k in differ) + ")")


def evaluate_model(model: ModelFile, dataset: Dataset, split: str = "test",
                   batch: int = 32, labels: str = "given") -> dict:
    """Likelihood and accuracy of ``model`` on a split.

    Returns a dict: ``tokens`` predicted, ``loss`` (nats per token), ``bits`` (per token),
    ``perplexity``, ``accuracy``; for steps ``event_accuracy`` (targets with hits) and
    ``no_event_accuracy``; for events ``drum_accuracy`` and ``delta_accuracy``; and
    ``per_class``: precision, recall and support of each drum class in the argmax prediction
    (None where undefined: a drum never played or never predicted).
    A model that reads labels gets each track's labels (``labels="given"``) or none
    (``"unknown"``). A model with feel heads adds ``feel``: per struck drum of the real next
    step, the NLL (nats, in the heads' bins) of its velocity and of its offset, next to the
    same under the per-position profile baseline (the training split's histogram of the bins
    for each drum and position in the bar); events models: the velocity, against each drum's
    histogram.
    """
    if labels not in ("given", "unknown"):
        raise DrumrnnError(f"labels must be given or unknown, got {labels!r}")
    check_compatible(model, dataset)
    runtime = NumpyDrumModel(model)
    cfg, vocab = runtime.config, runtime.vocab
    label_vocab = LabelVocab.from_dict(model.header["labels"]) if cfg.labels else None
    tracks = model_tracks(dataset, split, vocab, cfg, label_vocab)
    if tracks.labels is not None and labels == "unknown":
        tracks.labels = np.zeros_like(tracks.labels)
    kit = kit_from_dict(model.header["kit"])
    sums = _Sums(kit.n_classes)
    baseline = None
    if cfg.feel:
        train = model_tracks(dataset, "train", vocab,
                             dataclasses.replace(cfg, labels=0, label_bias=False))
        baseline = _profile_baseline(train, vocab, cfg.feel_bins)
    _run_all(runtime, tracks, batch, kit.n_classes, sums, baseline)
    result = sums.result(runtime.vocab.encoding, kit.class_names)
    if cfg.labels:
        result["labels"] = labels
    return result


def _feel_quantities(tracks: TrackArrays, at) -> tuple[np.ndarray, ...]:
    """The velocity (and, for steps, offset) bins of the tokens ``at``."""
    vel = tracks.velocity_bins[at]
    return (vel,) if tracks.offset_bins is None else (vel, tracks.offset_bins[at])


def _profile_baseline(train: TrackArrays, vocab, bins: int) -> np.ndarray:
    """(quantities, groups, period, bins) log-probabilities of each bin by drum and bar
    position in the training split (add-half smoothing); events: by drum only."""
    events = vocab.encoding == "events"
    period = 1 if events else vocab.steps_per_bar
    groups = vocab.n_drums if events else vocab.n_classes
    pos = np.zeros(len(train.ids), np.int64) if events else np.asarray(train.position) % period
    out = []
    for quantity in _feel_quantities(train, slice(None)):
        step, col = np.nonzero(quantity >= 0)
        group = train.ids[step] if events else col
        cell = (group * period + pos[step]) * bins + quantity[step, col]
        counts = np.bincount(cell, minlength=groups * period * bins).reshape(
            groups, period, bins) + 0.5
        out.append(np.log(counts / counts.sum(-1, keepdims=True)))
    return np.stack(out)


class _Sums:
    def __init__(self, n_classes: int):
        self.values = {"nll": 0.0, "count": 0, "right": 0, "event": 0, "event_right": 0,
                       "silent": 0, "silent_right": 0, "drum_right": 0, "delta_right": 0}
        self.tp = np.zeros(n_classes)
        self.fp = np.zeros(n_classes)
        self.fn = np.zeros(n_classes)

    def result(self, encoding: str, names) -> dict:
        common = figures(encoding, self.values)
        feel = {}
        if self.values.get("feel_hits"):
            n = self.values["feel_hits"]
            feel = {"feel": {"hits": int(n), **{k: self.values[k] / n for k in (
                "velocity_nll", "offset_nll", "profile_velocity_nll", "profile_offset_nll")
                if k in self.values}}}
        out = {"tokens": self.values["count"], "loss": common["loss"],
               "bits": common["loss"] / math.log(2), **common}
        out["per_class"] = {
            name: {"precision": float(tp / (tp + fp)) if tp + fp else None,
                   "recall": float(tp / (tp + fn)) if tp + fn else None,
                   "support": int(tp + fn)}
            for name, tp, fp, fn in zip(names, self.tp, self.fp, self.fn)}
        out.update(feel)
        return out


def _run_all(runtime: NumpyDrumModel, tracks: TrackArrays, batch: int, n_classes: int,
             sums: _Sums, baseline: np.ndarray | None = None) -> None:
    """Run every track through ``batch`` rows; a row that finishes its track starts the
    next one from a zero state, so no row waits for the longest track."""
    vocab = runtime.vocab
    events = vocab.encoding == "events"
    queue = [int(t) for t in np.argsort(-tracks.lengths, kind="stable") if tracks.lengths[t] > 1]
    B = min(batch, len(queue))
    if B == 0:
        raise DrumrnnError("the split has no track longer than one token")
    pos = np.zeros(B, np.int64)  # global index of each row's current input token
    end = np.zeros(B, np.int64)
    live = np.ones(B, bool)
    state = runtime.start(B)

    def load(row: int) -> None:
        if queue:
            track = queue.pop(0)
            pos[row], end[row] = tracks.starts[track], tracks.starts[track + 1]
            runtime.reset_rows(state, np.arange(B) == row)
        else:
            live[row] = False

    for row in range(B):
        load(row)
    bits = np.arange(n_classes)
    rows = np.arange(B)
    while live.any():
        now = np.where(live, pos, 0)
        nxt = np.where(live, pos + 1, 1)
        if events:
            logits = runtime.step(state, tracks.ids[now], index=tracks.index[now],
                                  deltas=tracks.delta_ids[now],
                                  feel_in=None if tracks.feel_in is None else tracks.feel_in[now])
        else:
            logits = runtime.step(
                state, tracks.ids[now], index=tracks.index[now], lookback=tracks.lookback[now],
                next_position=tracks.position[nxt],
                labels=None if tracks.labels is None else runtime.label_rows(tracks.labels[now]),
                bias=None if tracks.labels is None else runtime.label_bias_rows(tracks.labels[now]),
                feel_in=None if tracks.feel_in is None else tracks.feel_in[now],
                bar_ago=None if tracks.bar_ago is None else tracks.bar_ago[now])
        target = tracks.ids[nxt]
        v = sums.values
        if baseline is not None:
            _feel_sums(runtime, state, tracks, target, nxt, live, baseline, v)
        if events:
            n_out = runtime.n_out
            drum_lp = log_softmax(logits[:, :n_out])
            delta_lp = log_softmax(logits[:, n_out:])
            delta_target = tracks.delta_ids[nxt]
            nll = -(drum_lp[rows, target] + delta_lp[rows, delta_target])
            drum_pred, delta_pred = drum_lp.argmax(1), delta_lp.argmax(1)
            right = (drum_pred == target) & (delta_pred == delta_target)
            v["drum_right"] += int(((drum_pred == target) & live).sum())
            v["delta_right"] += int(((delta_pred == delta_target) & live).sum())
            pred_hits = (drum_pred[:, None] == bits) & live[:, None]
            true_hits = (target[:, None] == bits) & live[:, None]
        else:
            lp = log_softmax(logits)
            nll = -lp[rows, target]
            pred = lp.argmax(1)
            right = pred == target
            silent = target == 0
            event = ~silent & (target != vocab.bar_token)
            v["event"] += int((event & live).sum())
            v["event_right"] += int((event & right & live).sum())
            v["silent"] += int((silent & live).sum())
            v["silent_right"] += int((silent & right & live).sum())
            step_pred = np.where(pred == vocab.bar_token, 0, pred)
            step_true = np.where(target == vocab.bar_token, 0, target)
            pred_hits = (((step_pred[:, None] >> bits) & 1) == 1) & live[:, None]
            true_hits = (((step_true[:, None] >> bits) & 1) == 1) & live[:, None]
        v["nll"] += float(nll[live].sum())
        v["count"] += int(live.sum())
        v["right"] += int((right & live).sum())
        sums.tp += (pred_hits & true_hits).sum(0)
        sums.fp += (pred_hits & ~true_hits).sum(0)
        sums.fn += (~pred_hits & true_hits).sum(0)
        pos += live
        for row in np.flatnonzero(live & (pos + 1 >= end)):
            load(int(row))


def _feel_sums(runtime, state, tracks, target, nxt, live, baseline, v) -> None:
    """Add the feel heads' and the baseline's NLL of the struck drums of ``target``."""
    logp = runtime.feel(state, target)  # (2, C, bins, B); events (1, 1, bins, B)
    logp = logp - logp.max(axis=2, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(axis=2, keepdims=True))
    events = tracks.position is None
    period = baseline.shape[2]
    position = np.zeros(len(nxt), np.int64) if events else np.asarray(tracks.position[nxt]) % period
    for q, bins in enumerate(_feel_quantities(tracks, nxt)):
        row, col = np.nonzero((bins >= 0) & live[:, None])
        b = bins[row, col]
        group = target[row] if events else col  # the baseline's: the event's drum
        name = ("velocity_nll", "offset_nll")[q]
        v[name] = v.get(name, 0.0) - float(logp[q, col, b, row].sum())
        v["profile_" + name] = v.get("profile_" + name, 0.0) \
            - float(baseline[q, group, position[row], b].sum())
        if q == 0:
            v["feel_hits"] = v.get("feel_hits", 0) + len(row)


def format_evaluation(result: dict) -> str:
    """A readable table of :func:`evaluate_model`'s result."""
    lines = [f"tokens predicted: {result['tokens']}",
             f"loss: {result['loss']:.4f} nats/token ({result['bits']:.4f} bits), "
             f"perplexity {result['perplexity']:.3f}",
             f"accuracy: {result['accuracy']:.4f}"]
    if "event_accuracy" in result:
        lines.append(f"event accuracy: {result['event_accuracy']:.4f}, no-event accuracy: "
                     f"{result['no_event_accuracy']:.4f}")
    else:
        lines.append(f"drum accuracy: {result['drum_accuracy']:.4f}, delta accuracy: "
                     f"{result['delta_accuracy']:.4f}")
    if "labels" in result:
        lines.append(f"labels: {result['labels']}")
    if "feel" in result:
        f = result["feel"]
        lines.append(f"feel NLL per struck drum ({f['hits']} hits, nats in the heads' bins): "
                     f"velocity {f['velocity_nll']:.4f} (per-position profile "
                     f"{f['profile_velocity_nll']:.4f})"
                     + (f", offset {f['offset_nll']:.4f} (profile {f['profile_offset_nll']:.4f})"
                        if "offset_nll" in f else ""))
    lines.append("per class (argmax prediction): precision / recall / support")
    width = max(len(n) for n in result["per_class"])
    for name, c in result["per_class"].items():
        lines.append(f"  {name:<{width}}  {_figure(c['precision'])} / {_figure(c['recall'])} / "
                     f"{c['support']}")
    return "\n".join(lines)


def _figure(value: float | None) -> str:
    """A ratio to 3 places, or ``-`` where it is undefined (None: a drum never played or
    never predicted, 0 / 0)."""
    return "-" if value is None else f"{value:.3f}"
