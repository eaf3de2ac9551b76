"""The one validation of a prepared dataset: its manifest's schema, and each split's arrays.

:func:`check_manifest` runs when a dataset is opened, :func:`check_split` when a split is
loaded (array checks read the arrays once). Every failure is one line naming the file and
what is wrong, so that a damaged dataset never reaches training or evaluation as an
IndexError deep inside.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from drumrnn.core.errors import DrumrnnError

SPLIT_NAMES = ("train", "validation", "test")
#: Arrays of each encoding: (name, dtype kind) aligned with the tokens, then with the hits.
SEQUENCE_ARRAYS = {"steps": (("tokens", "iu"), ("positions", "iu")),
                   "events": (("drums", "iu"), ("deltas", "iu"), ("velocities", "iu"))}
HIT_ARRAYS = {"steps": (("hit_steps", "iu"), ("hit_classes", "iu"), ("hit_velocities", "iu"),
                        ("hit_offsets", "f")),
              "events": ()}


def _need(obj, key: str, kind, where: str):
    if not isinstance(obj, dict) or key not in obj:
        raise DrumrnnError(f"{where} lacks {key!r}")
    value = obj[key]
    # bool is an int in Python, but never a count
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise DrumrnnError(f"{where}: {key!r} is a {type(value).__name__}, expected {names}")
    return value


def check_manifest(manifest, path: Path) -> None:
    """Raise a one-line :class:`DrumrnnError` unless ``manifest`` (the parsed
    manifest.json at ``path``) has the keys and types drumrnn reads, consistently."""
    from drumrnn.data.encoding import EncodingConfig

    where = str(path)
    config = _need(manifest, "config", dict, where)
    try:
        encoding = EncodingConfig.from_dict(_need(config, "encoding", dict, f"{where}: config"))
    except (TypeError, ValueError, DrumrnnError) as exc:
        raise DrumrnnError(f"{where}: invalid encoding config ({exc})") from None
    _need(config, "kit", dict, f"{where}: config")
    splits = _need(manifest, "splits", dict, where)
    for name in SPLIT_NAMES:
        split = _need(splits, name, dict, f"{where}: splits")
        for key in ("files", "tokens", "hits"):
            if _need(split, key, int, f"{where}: splits.{name}") < 0:
                raise DrumrnnError(f"{where}: splits.{name}.{key} is negative")
    vocab = _need(manifest, "vocabulary", dict, where)
    if encoding.encoding == "steps":
        _need(vocab, "size", int, f"{where}: vocabulary")
    else:
        _need(vocab, "drums", int, f"{where}: vocabulary")
        deltas = _need(vocab, "deltas", list, f"{where}: vocabulary")
        if not all(isinstance(d, int) and not isinstance(d, bool) for d in deltas):
            raise DrumrnnError(f"{where}: vocabulary.deltas holds something other than integers")
    files = _need(manifest, "files", list, where)
    seen = {name: set() for name in SPLIT_NAMES}
    for i, entry in enumerate(files):
        at = f"{where}: files[{i}]"
        _need(entry, "path", str, at)
        _need(entry, "sha256", str, at)
        split = _need(entry, "split", str, at)
        if split not in seen:
            raise DrumrnnError(f"{at}: unknown split {split!r}")
        index = _need(entry, "index", int, at)
        for key in ("tokens", "hits", "merged"):
            _need(entry, key, int, at)
        _need(entry, "dropped", dict, at)
        if index in seen[split]:
            raise DrumrnnError(f"{at}: index {index} of split {split} appears twice")
        seen[split].add(index)
    for name in SPLIT_NAMES:
        if seen[name] != set(range(splits[name]["files"])):
            raise DrumrnnError(f"{where}: the files listed for split {name} do not match its "
                               f"count of {splits[name]['files']}")
    for i, entry in enumerate(_need(manifest, "skipped", list, where)):
        _need(entry, "path", str, f"{where}: skipped[{i}]")
        _need(entry, "reason", str, f"{where}: skipped[{i}]")


def check_split(name: str, arrays: dict[str, np.ndarray], manifest: dict, folder: Path) -> None:
    """Raise a one-line :class:`DrumrnnError` unless the arrays of split ``name`` (loaded
    from ``folder``) are the ones the manifest describes: present, 1-D, of integer (or
    float) type, aligned with their offsets, offsets in bounds, tokens in the vocabulary."""
    from drumrnn.data.encoding import EncodingConfig

    encoding = EncodingConfig.from_dict(manifest["config"]["encoding"])
    n_files = manifest["splits"][name]["files"]
    if n_files == 0:
        return
    groups = (("track_starts", SEQUENCE_ARRAYS.get(encoding.encoding, ())),
              ("hit_starts", HIT_ARRAYS.get(encoding.encoding, ())))
    for starts_name, members in groups:
        if not members:
            continue
        starts = _array(arrays, starts_name, "iu", folder)
        if len(starts) != n_files + 1:
            raise DrumrnnError(f"{folder / starts_name}.npy: {len(starts)} offsets for "
                               f"{n_files} tracks (expected {n_files + 1})")
        if starts[0] != 0 or np.any(np.diff(starts) < 0):
            raise DrumrnnError(f"{folder / starts_name}.npy: offsets must start at 0 and "
                               "never decrease")
        for member, kind in members:
            array = _array(arrays, member, kind, folder)
            if len(array) != starts[-1]:
                raise DrumrnnError(f"{folder / member}.npy: {len(array)} values, but "
                                   f"{starts_name} ends at {int(starts[-1])}")
    kit = encoding.kit_obj
    vocab = manifest["vocabulary"]
    if encoding.encoding == "steps":
        _in_range(arrays, "tokens", 0, vocab["size"], folder)
        _in_range(arrays, "positions", 0, None, folder)
        _in_range(arrays, "hit_steps", 0, None, folder)
        _in_range(arrays, "hit_classes", 0, kit.n_classes, folder)
        if not np.isfinite(arrays["hit_offsets"]).all():
            raise DrumrnnError(f"{folder / 'hit_offsets'}.npy holds NaN or infinite values")
    elif encoding.encoding == "events":
        _in_range(arrays, "drums", 0, vocab["drums"], folder)
        _in_range(arrays, "deltas", 0, None, folder)


def _array(arrays: dict, name: str, kinds: str, folder: Path) -> np.ndarray:
    if name not in arrays:
        raise DrumrnnError(f"{folder}: {name}.npy is missing")
    array = arrays[name]
    if array.ndim != 1:
        raise DrumrnnError(f"{folder / name}.npy has shape {array.shape}, expected one axis")
    if array.dtype.kind not in kinds:
        raise DrumrnnError(f"{folder / name}.npy has dtype {array.dtype}, expected "
                           f"{'an integer' if 'i' in kinds else 'a float'} type")
    return array


def _in_range(arrays: dict, name: str, low: int, high: int | None, folder: Path) -> None:
    array = arrays[name]
    if not len(array):
        return
    if array.min() < low or (high is not None and array.max() >= high):
        bound = f"{low}..{high - 1}" if high is not None else f">= {low}"
        raise DrumrnnError(f"{folder / name}.npy holds values outside {bound}")
