"""Training checkpoint files: written atomically, checksummed, validated in one place.

A checkpoint is ``MAGIC`` (16 bytes, which end in the format version), the SHA-256 of the
rest (32 bytes), then a ``torch.save`` payload of tensors and plain values (loaded with
``weights_only=True``: no code is unpickled). The checksum catches bit rot that the zip
container underneath lets through. Checkpoints written before the checksum (a bare zip,
starting ``PK``) still load, unchecked.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import torch

from drumrnn.core.atomic import write_bytes_atomic
from drumrnn.core.errors import DrumrnnError
from drumrnn.model.model_config import ModelConfig, Vocabulary
from drumrnn.model.weights import check_weights

FORMAT = "drumrnn-checkpoint"
FORMAT_VERSION = 2
MAGIC = b"drumrnn-ckpt\x00\x00\x00" + bytes([FORMAT_VERSION])
_LEGACY = b"PK"
#: Entries every checkpoint holds, with their type.
REQUIRED = {"format": str, "model_config": str, "train_config": str, "preset": str,
            "data_dir": str, "model": dict, "optimizer": dict, "scheduler": str,
            "rng": torch.Tensor, "carried": dict, "step": int, "epoch": int,
            "batch_in_epoch": int, "elapsed": float, "tokens": int, "best": str,
            "evals_since_best": int, "history": str}


def save_checkpoint(path: str | Path, payload: dict) -> None:
    """Write ``payload`` (tensors and plain values) as a checkpoint file, atomically."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    write_bytes_atomic(path, MAGIC + hashlib.sha256(data).digest() + data)


def load_checkpoint(path: str | Path) -> dict:
    """A checkpoint's payload, checked: checksum, format, the entries resuming needs and
    their types. A :class:`DrumrnnError` names the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise DrumrnnError(f"no checkpoint at {path}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DrumrnnError(f"cannot read {path}: {exc.strerror or exc}") from None
    if data.startswith(MAGIC):
        digest, data = data[len(MAGIC):len(MAGIC) + 32], data[len(MAGIC) + 32:]
        if hashlib.sha256(data).digest() != digest:
            raise DrumrnnError(f"{path} is damaged: its checksum does not match its contents")
    elif data[:len(MAGIC) - 1] == MAGIC[:-1]:
        raise DrumrnnError(f"{path}: checkpoint format version {data[len(MAGIC) - 1]} is not "
                           f"supported (this drumrnn reads version {FORMAT_VERSION})")
    elif not data.startswith(_LEGACY):
        raise DrumrnnError(f"{path} is not a readable drumrnn checkpoint "
                           f"({'empty file' if not data else 'unknown contents'})")
    try:
        ckpt = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged files
        text = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise DrumrnnError(f"{path} is not a readable drumrnn checkpoint ({text})") from None
    _check(ckpt, path)
    return ckpt


def _check(ckpt, path: Path) -> None:
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise DrumrnnError(f"{path} is not a readable drumrnn checkpoint (no format mark)")
    for key, kind in REQUIRED.items():
        if key not in ckpt:
            raise DrumrnnError(f"{path}: checkpoint lacks {key!r}")
        value = ckpt[key]
        ok = isinstance(value, (int, float) if kind is float else kind)
        if not ok or (kind in (int, float) and isinstance(value, bool)):
            raise DrumrnnError(f"{path}: checkpoint entry {key!r} is a {type(value).__name__}, "
                               f"expected {kind.__name__}")
    try:
        for key in ("model_config", "train_config", "scheduler", "best", "history"):
            json.loads(ckpt[key])
        ModelConfig.from_dict(json.loads(ckpt["model_config"]))
    except (ValueError, TypeError, DrumrnnError) as exc:
        raise DrumrnnError(f"{path}: checkpoint settings are damaged ({exc})") from None
    for name, tensor in ckpt["model"].items():
        if not isinstance(tensor, torch.Tensor):
            raise DrumrnnError(f"{path}: model entry {name!r} is not a tensor")


def check_model_state(ckpt: dict, vocab: Vocabulary, path: str | Path) -> None:
    """Raise a one-line :class:`DrumrnnError` unless the checkpoint's model weights are the
    ones its model config implies over ``vocab``, finite."""
    model_cfg = ModelConfig.from_dict(json.loads(ckpt["model_config"]))
    weights = {k: v.detach().cpu().numpy() for k, v in ckpt["model"].items()}
    check_weights(weights, model_cfg, vocab, f"{path}")
