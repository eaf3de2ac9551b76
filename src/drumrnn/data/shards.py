"""Shards: a split's tracks in memory-mappable pieces of bounded size.

A shard is a folder of ``.npy`` files holding a run of consecutive tracks. Arrays are grouped
by the offsets array that cuts them into tracks: an array named in a group is concatenated
over the tracks and the group's ``<name>_starts`` array (int64, n_tracks + 1) says where each
track begins. ``track_starts`` cuts the sequence arrays (tokens, positions, ...),
``hit_starts`` the per-hit arrays; any other group (``<x>_starts``) travels the same way, and
arrays given per track (one row per track) need no offsets. The set of arrays is not fixed:
whatever the tracks carry is written.

A shard folder appears complete or not at all (written beside, then renamed), so a crashed
preparation keeps its finished shards. :class:`ShardedArray` reads a split that spans
several shards as one array without loading it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from drumrnn.core.errors import DrumrnnError

#: A shard is closed once its arrays reach this many bytes (memory maps stay a few hundred MB).
SHARD_BYTES = 256 * 2**20
SHARD_INFO = "shard.json"


def is_offsets(name: str) -> bool:
    """Whether an array named ``name`` holds per-track offsets into other arrays."""
    return name.endswith("_starts")


class _ArrayAppender:
    """A .npy file written as its rows arrive: a header with room for any shape first,
    filled in with the final shape on :meth:`close`, so no row is held in memory."""

    HEADER = 128  # bytes, a multiple of 64 as numpy aligns them

    def __init__(self, path: Path):
        self.path = path
        self.file = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.file.write(b"\0" * self.HEADER)
        self.dtype: np.dtype | None = None
        self.rows = 0
        self.row_shape: tuple = ()

    def append(self, array: np.ndarray) -> None:
        if self.dtype is None:
            self.dtype, self.row_shape = array.dtype, array.shape[1:]
        elif array.dtype != self.dtype or array.shape[1:] != self.row_shape:
            raise DrumrnnError(f"{self.path.stem}: tracks disagree on dtype or shape "
                               f"({array.dtype}{array.shape[1:]} after "
                               f"{self.dtype}{self.row_shape})")
        self.file.write(np.ascontiguousarray(array).tobytes())
        self.rows += len(array)

    def close(self) -> None:
        header = repr({"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                       "shape": (self.rows, *self.row_shape)}).encode("latin1")
        room = self.HEADER - 10 - 1
        self.file.seek(0)
        self.file.write(b"\x93NUMPY\x01\x00" + (room + 1).to_bytes(2, "little")
                        + header.ljust(room) + b"\n")
        self.file.close()


class ShardWriter:
    """Writes the tracks of one split as numbered shards into ``folder``, streaming: each
    track's arrays go to disk as it is added, so memory holds no shard.

    ``add`` takes one track as ``{starts_name: {array_name: array}}`` (offset groups) and
    ``per_track`` values (one row each), with the JSON ``entry`` describing it. Once
    :attr:`full` (``max_bytes`` reached), the owner calls :meth:`flush`, which completes the
    shard with its entries and any ``extra`` JSON values and renames it into place.
    """

    def __init__(self, folder: Path, max_bytes: int = SHARD_BYTES, first: int = 0):
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.number = first
        self._reset()

    @property
    def full(self) -> bool:
        return self.bytes >= self.max_bytes

    @property
    def _tmp(self) -> Path:
        return self.folder / f".{self.number:05d}.tmp"

    def _reset(self) -> None:
        self.files: dict[str, _ArrayAppender] = {}
        self.lengths: dict[str, list[int]] = {}
        self.per_track: dict[str, list] = {}
        self.entries: list[dict] = []
        self.bytes = 0

    def add(self, groups: dict[str, dict[str, np.ndarray]], entry: dict,
            per_track: dict | None = None) -> None:
        names = {n for arrays in groups.values() for n in arrays}
        if not self.entries:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp.mkdir(parents=True)
            self.files = {n: _ArrayAppender(self._tmp / f"{n}.npy") for n in sorted(names)}
            self.lengths = {starts: [] for starts in groups}
            self.per_track = {n: [] for n in per_track or {}}
        if (names != set(self.files) or set(groups) != set(self.lengths)
                or set(per_track or {}) != set(self.per_track)):
            raise DrumrnnError("tracks of one split must carry the same arrays")
        for starts, arrays in groups.items():
            self.lengths[starts].append(len(next(iter(arrays.values()))))
            for name, array in arrays.items():
                self.files[name].append(array)
                self.bytes += array.nbytes
        for name, value in (per_track or {}).items():
            self.per_track[name].append(value)
        self.entries.append(entry)

    def flush(self, extra: dict | None = None) -> dict | None:
        """Complete the shard being written; returns its description (name, tracks, bytes),
        or None when it holds no track."""
        if not self.entries:
            return None
        name, tmp = f"{self.number:05d}", self._tmp
        for appender in self.files.values():
            appender.close()
        for starts, lengths in self.lengths.items():
            np.save(tmp / f"{starts}.npy", np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
        for array_name, values in self.per_track.items():
            np.save(tmp / f"{array_name}.npy", np.asarray(values))
        described = {"name": name, "tracks": len(self.entries), "bytes": self.bytes}
        info = {**described, "entries": self.entries, **(extra or {})}
        (tmp / SHARD_INFO).write_text(json.dumps(info) + "\n", encoding="utf-8")
        os.replace(tmp, self.folder / name)
        self.number += 1
        self._reset()
        return described


def finished_shards(folder: Path, clean: bool = True):
    """The complete shards in ``folder`` (each ``shard.json``, with its entries), in order,
    one at a time; with ``clean``, half-written ones are removed."""
    if not folder.is_dir():
        return
    for path in sorted(folder.iterdir()):
        try:
            if path.name.startswith("."):
                raise ValueError("unfinished")
            yield json.loads((path / SHARD_INFO).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            if clean:
                shutil.rmtree(path, ignore_errors=True)


def open_shard(folder: Path) -> dict[str, np.ndarray]:
    """A shard's arrays, memory-mapped."""
    arrays = {}
    for p in sorted(Path(folder).glob("*.npy")):
        try:
            arrays[p.stem] = np.load(p, mmap_mode="r", allow_pickle=False)
        except Exception as exc:  # numpy raises several types on damaged headers
            text = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise DrumrnnError(f"{p}: damaged array file ({text})") from None
    return arrays


class ShardedArray:
    """Several arrays read as their concatenation along the first axis, without copying it.

    Supports ``len``, ``shape``, ``dtype``, integer, slice and integer-array indexing, and
    ``np.asarray`` (which does load everything).
    """

    def __init__(self, parts: Sequence[np.ndarray]):
        if not parts:
            raise DrumrnnError("a sharded array needs at least one part")
        self.parts = list(parts)
        self.ends = np.cumsum([len(p) for p in self.parts], dtype=np.int64)
        self.dtype = self.parts[0].dtype
        self.shape = (int(self.ends[-1]), *self.parts[0].shape[1:])
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        out = np.concatenate(self.parts)
        return out if dtype is None else out.astype(dtype, copy=False)

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            i = int(key) + (len(self) if key < 0 else 0)
            part = int(np.searchsorted(self.ends, i, side="right"))
            return self.parts[part][i - (self.ends[part - 1] if part else 0)]
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step != 1:
                return self[np.arange(start, stop, step)]
            return self[np.arange(start, max(start, stop))]
        index = np.asarray(key)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        flat = index.reshape(-1).astype(np.int64)
        flat = np.where(flat < 0, flat + len(self), flat)
        part = np.searchsorted(self.ends, flat, side="right")
        out = np.empty((len(flat), *self.shape[1:]), dtype=self.dtype)
        begins = np.concatenate([[0], self.ends[:-1]])
        for p in np.unique(part).tolist():
            chosen = part == p
            out[chosen] = self.parts[p][flat[chosen] - begins[p]]
        return out.reshape(*index.shape, *self.shape[1:])


def concatenate_shards(shards: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One split's arrays from its shards: a single shard's memory maps as they are; for
    several, offsets shifted into one array and every other array a :class:`ShardedArray`."""
    if len(shards) == 1:
        return shards[0]
    names = shards[0].keys()
    out: dict[str, np.ndarray] = {}
    for name in names:
        parts = [s[name] for s in shards]
        if is_offsets(name):
            shift = 0
            pieces = [np.zeros(1, dtype=np.int64)]
            for part in parts:
                pieces.append(np.asarray(part[1:], dtype=np.int64) + shift)
                shift += int(part[-1])
            out[name] = np.concatenate(pieces)
        else:
            out[name] = ShardedArray(parts)
    return out
