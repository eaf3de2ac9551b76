"""The model file users exchange: weights and everything needed to use them, without pickle.

A NumPy ``.npz`` archive (loaded with ``allow_pickle=False``): one array per weight, named as
in the PyTorch state dict, plus ``__header__``, a UTF-8 JSON document stored as uint8 bytes:
format and version, model config, vocabulary, encoding and kit, the dataset manifest's hash,
the training config and metrics, and (since format version 2) ``payload_sha256``, a checksum
of the header and every array, so that bit rot is caught. Reading needs NumPy only.

:func:`load_model_file` is the one place a model file is validated: the archive, the
header and its configs, the checksum, and the arrays the config implies
(:func:`drumrnn.model.weights.check_weights`). Version 1 files (no checksum) still load,
their payload unchecked.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drumrnn import __version__
from drumrnn.core.atomic import atomic_path
from drumrnn.core.errors import DrumrnnError
from drumrnn.data.encoding import EncodingConfig
from drumrnn.data.kits import kit_from_dict
from drumrnn.model.feel import half_life
from drumrnn.model.labels import LabelVocab
from drumrnn.model.model_config import ModelConfig, Vocabulary
from drumrnn.model.weights import check_weights, payload_digest

FORMAT = "drumrnn-model"
FORMAT_VERSION = 2
#: Versions this drumrnn reads: 1 had no checksum.
READ_VERSIONS = (1, 2)
HEADER = "__header__"


@dataclass
class ModelFile:
    """A loaded model file: its header (a JSON dict) and its weights (float32 arrays)."""

    path: Path
    header: dict
    weights: dict[str, np.ndarray]

    @property
    def config(self) -> ModelConfig:
        return ModelConfig.from_dict(self.header["model"])

    @property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary.from_dict(self.header["vocabulary"])


def save_model_file(path: str | Path, header: dict, weights: dict[str, np.ndarray],
                    dtype=np.float32) -> Path:
    """Write a model file atomically; ``dtype`` float16 halves the size."""
    path = Path(path)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION,
              "created_by": f"drumrnn {__version__}",
              **{k: v for k, v in header.items() if k != "payload_sha256"},
              "weights_dtype": np.dtype(dtype).name}
    arrays = {name: (w.astype(dtype) if np.issubdtype(w.dtype, np.floating) else w)
              for name, w in weights.items()}
    header = json.loads(json.dumps(header))  # the digest covers the header as read back
    header["payload_sha256"] = payload_digest(header, arrays)
    blob = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **{HEADER: blob}, **arrays)
    return path


def content_header(header: dict) -> dict:
    """A loaded header without the entries :func:`save_model_file` writes itself, ready to be
    saved again (with new weights, metrics or dtype)."""
    return {k: v for k, v in header.items()
            if k not in ("format", "format_version", "created_by", "weights_dtype",
                         "payload_sha256")}


def load_model_file(path: str | Path) -> ModelFile:
    """Read and validate a model file; a :class:`DrumrnnError` names what is wrong."""
    path = Path(path)
    if path.is_dir():
        hint = (f"; its model file is {path / 'model.npz'}" if (path / "model.npz").is_file()
                else "")
        raise DrumrnnError(f"{path} is a folder, not a model file{hint}")
    if not path.is_file():
        raise DrumrnnError(f"no model file at {path}")
    if path.stat().st_size == 0:
        raise DrumrnnError(f"{path} is empty (0 bytes): not a drumrnn model file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if any(name.endswith("data.pkl") for name in archive.files):
                raise DrumrnnError(f"{path} is a training checkpoint, not a model file; "
                                   f"generate from {path.parent / 'model.npz'}")
            if HEADER not in archive.files:
                raise DrumrnnError(f"{path} is not a drumrnn model file (no header)")
            header = json.loads(archive[HEADER].tobytes().decode("utf-8"))
            weights = {name: archive[name] for name in archive.files if name != HEADER}
    except (zipfile.BadZipFile, EOFError) as exc:
        raise DrumrnnError(f"{path} is truncated or damaged ({_short(exc)})") from None
    except DrumrnnError:
        raise
    except Exception as exc:  # zip and npy readers raise many types on damaged bytes
        # NumPy's own message for pickles advises allow_pickle=True: drumrnn never does that
        reason = "it holds pickled data" if "pickle" in str(exc) else _short(exc)
        raise DrumrnnError(f"{path} is not a drumrnn model file ({reason})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise DrumrnnError(f"{path} is not a drumrnn model file (format "
                           f"{header.get('format') if isinstance(header, dict) else None!r})")
    if header.get("format_version") not in READ_VERSIONS:
        raise DrumrnnError(f"{path}: model format version {header.get('format_version')} is "
                           f"not supported (this drumrnn reads versions "
                           f"{', '.join(map(str, READ_VERSIONS))})")
    if header["format_version"] >= 2 and header.get("payload_sha256") != payload_digest(
            header, weights):
        raise DrumrnnError(f"{path} is damaged: its checksum does not match its contents")
    for key in ("model", "vocabulary", "encoding", "kit"):
        if key not in header:
            raise DrumrnnError(f"{path}: model header lacks {key!r}")
    if header["model"].get("labels") and "labels" not in header:
        raise DrumrnnError(f"{path}: model header lacks 'labels' (the model reads labels)")
    try:  # the configs must rebuild, or nothing downstream can use the file
        config = ModelConfig.from_dict(header["model"])
        vocabulary = Vocabulary.from_dict(header["vocabulary"])
        EncodingConfig.from_dict(header["encoding"])
        kit_from_dict(header["kit"])
        if "labels" in header:
            LabelVocab.from_dict(header["labels"])
    except (KeyError, TypeError, ValueError, AttributeError, DrumrnnError) as exc:
        raise DrumrnnError(f"{path}: invalid model header ({type(exc).__name__}: "
                           f"{_short(exc)})") from None
    check_weights(weights, config, vocabulary, str(path))
    weights = {k: (v.astype(np.float32) if v.dtype == np.float16 else v)
               for k, v in weights.items()}
    return ModelFile(path, header, weights)


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def describe(model: ModelFile) -> str:
    """A readable summary of a model file (``drumrnn info``)."""
    h = model.header
    cfg, vocab = model.config, model.vocabulary
    n_params = sum(int(w.size) for w in model.weights.values())
    enc = h["encoding"]
    lines = [
        f"model file: {model.path} ({model.path.stat().st_size / 1e6:.2f} MB, "
        f"{h.get('weights_dtype', 'float32')}, {h['created_by']})",
        f"network: {cfg.layers} x {cfg.hidden} {cfg.cell.upper()}, {n_params:,} parameters"
        + (f", preset {h['preset']}" if h.get("preset") else ""),
        "inputs: " + ", ".join(filter(None, [
            f"embedding {cfg.embedding}" if cfg.embedding else "one-hot",
            f"bar position embedding {cfg.position_embedding}" if cfg.position_embedding else "",
            f"{cfg.counter_bits}-bit counters" if cfg.counter_bits else "",
            "lookback flags" if cfg.lookback else "",
            f"attention over {cfg.attention} steps" if cfg.attention else "",
            f"dense {cfg.dense}" if cfg.dense else "",
            f"label embeddings {cfg.labels}" if cfg.labels else "",
            "label biases on the token scores" if cfg.label_bias else "",
            "the steps one and two bars back" if cfg.bar_ago else "",
            "copy gates onto them (" + " and ".join(filter(None, [
                "whole steps" if cfg.bar_copy else "", "per drum" if cfg.drum_copy else ""]))
            + ")" if cfg.bar_copy or cfg.drum_copy else "",
            f"feel heads {cfg.feel} ({cfg.feel_bins} velocity and {cfg.feel_bins} offset bins "
            "per drum)" if cfg.feel else "",
            f"the running feel (half-life {half_life(cfg.feel_rate):.0f} struck steps)"
            if cfg.feel_context else ""])),
        f"encoding: {enc['encoding']}, kit {h['kit']['name']} ({len(h['kit']['class_names'])} "
        f"classes), " + (f"{enc['steps_per_quarter']} steps per quarter, vocabulary {vocab.size}"
                         if vocab.encoding == "steps" else
                         f"{enc['ticks_per_quarter']} ticks per quarter, {vocab.n_drums} drums "
                         f"x {len(vocab.deltas)} deltas"),
    ]
    if cfg.labels and "labels" in h:
        lines.append("labels: " + LabelVocab.from_dict(h["labels"]).describe())
    data = h.get("dataset", {})
    if data:
        lines.append(f"data: {data.get('path')} (manifest sha256 {data.get('manifest_sha256', '')[:12]}"
                     f", {data.get('train_tokens', '?')} training tokens)")
    metrics = h.get("metrics", {})
    if metrics:
        shown = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                          for k, v in metrics.items())
        lines.append(f"metrics: {shown}")
    train = h.get("training", {})
    if train:
        lines.append(f"training: {train.get('optimizer')} lr {train.get('lr')}, batch "
                     f"{train.get('batch')} x {train.get('window')} ({train.get('mode')}), "
                     f"seed {train.get('seed')}")
    return "\n".join(lines)
