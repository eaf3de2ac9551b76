"""Primers: the opening a generated pattern continues, from a MIDI file, a readable pattern
or a window of real drumming in a prepared dataset (:func:`primer_from_dataset`).

A pattern has one line per drum, one character per grid step (lines may also be separated by
``;``)::

    kick:  x.......x.x.....
    snare: ....X.......X...
    hh:    x.x.x.x.x.x.x.x.

``x`` is a hit, ``X`` an accent, ``.`` or ``-`` a rest; ``|`` and spaces are ignored. A drum is
a kit class name (``kick``, ``snare``, ``closed hi-hat`` ...), a short alias (``hh``, ``hat``,
``oh``, ``tom1``...) or a MIDI note number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.dataset import Dataset, load_dataset
from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import Kit
from drumrnn.data.steps import bar_token
from drumrnn.data.timing import TimeMap

ALIASES = {
    "kick": 36, "bd": 36, "bass": 36, "snare": 38, "sd": 38, "rim": 37,
    "hh": 42, "hat": 42, "hihat": 42, "hi-hat": 42, "closed": 42, "ch": 42,
    "oh": 46, "open": 46, "open-hat": 46, "pedal": 44,
    "tom": 45, "low-tom": 45, "tom3": 45, "floor": 41, "mid-tom": 48, "tom2": 48,
    "high-tom": 50, "tom1": 50, "crash": 49, "cr": 49, "ride": 51, "rd": 51, "bell": 53,
    "clap": 39, "cowbell": 56, "tambourine": 54,
}
HIT, ACCENT = 96, 120


def _pitch(name: str, kit: Kit) -> int:
    key = name.strip().lower()
    if key.isdigit() and 0 <= int(key) <= 127:
        return int(key)
    for index, class_name in enumerate(kit.class_names):
        if key in (class_name.lower(), class_name.lower().replace(" ", "-")):
            return int(kit.output_pitches[index])
    if key in ALIASES:
        return ALIASES[key]
    raise DrumrnnError(f"unknown drum {name.strip()!r} in the primer pattern; use a kit class "
                       f"name ({', '.join(kit.class_names)}), an alias such as hh or oh, "
                       "or a MIDI note number")


def parse_pattern(text: str, kit: Kit, steps_per_quarter: int, time_map: TimeMap) -> DrumHits:
    """Drum hits of a readable pattern (see the module docstring)."""
    quarters, pitches, velocities = [], [], []
    longest = 0
    lines = [line for line in re.split(r"[;\n]", text) if line.strip()]
    if not lines:
        raise DrumrnnError("the primer pattern is empty")
    for line in lines:
        name, sep, steps = line.partition(":")
        if not sep:
            raise DrumrnnError(f"primer pattern line {line.strip()!r} needs 'drum: x...x...'")
        pitch = _pitch(name, kit)
        cells = [c for c in steps if c not in " |\t"]
        bad = set(cells) - set("xXo.-")
        if bad:
            raise DrumrnnError(f"primer pattern: unexpected {''.join(sorted(bad))!r} in line "
                               f"{line.strip()!r}; use x, X, . or -")
        longest = max(longest, len(cells))
        for step, cell in enumerate(cells):
            if cell in "xXo":
                quarters.append(step / steps_per_quarter)
                pitches.append(pitch)
                velocities.append(ACCENT if cell == "X" else HIT)
    if not quarters:
        raise DrumrnnError("the primer pattern has no hits")
    return DrumHits(np.array(quarters), pitches, velocities, time_map,
                    end_quarter=longest / steps_per_quarter)


#: Manifest entry fields that are bookkeeping, not a description of the track.
_BOOKKEEPING = {"path", "sha256", "split", "index", "tokens", "hits", "merged", "dropped"}


@dataclass(frozen=True)
class PrimerWindow:
    """Whole bars of real drumming cut from a dataset track, and where they came from.

    ``hits`` start at quarter 0 and keep the drummer's velocities and microtiming (a hit
    played just before the window's first bar line is moved onto it). ``first_bar`` counts
    from 1. ``metadata`` holds what the manifest says about the track besides bookkeeping
    (for the Groove MIDI Dataset: drummer, style, bpm, beat_type, time_signature, labels).
    """

    hits: DrumHits
    dataset: str
    split: str
    path: str
    index: int
    first_bar: int
    bars: int
    metadata: dict = field(default_factory=dict)

    def describe(self) -> str:
        """One line: which file and bars."""
        last = self.first_bar + self.bars - 1
        where = f"bar {self.first_bar}" if self.bars == 1 else f"bars {self.first_bar}-{last}"
        return f"{self.path} ({self.split} track {self.index}), {where}"

    @property
    def labels(self) -> dict:
        """The track's ``style`` and ``kind`` labels (None where the dataset has none): the
        defaults for generating from this primer."""
        labels = self.metadata.get("labels") or {}
        return {"style": labels.get("style"), "kind": labels.get("kind")}

    def to_dict(self) -> dict:
        """The record stored with the generated patterns."""
        return {"dataset": self.dataset, "split": self.split, "path": self.path,
                "index": self.index, "first_bar": self.first_bar, "bars": self.bars,
                "metadata": self.metadata}


def _window_starts(positions: np.ndarray, hit_steps: np.ndarray, per_bar: int,
                   bars: int) -> np.ndarray:
    """Bar indices at which ``bars`` whole bars of ``per_bar`` steps follow, each with a hit;
    and (second array) the step at which every bar starts."""
    starts = np.flatnonzero(positions == 0)
    lengths = np.diff(np.r_[starts, len(positions)])
    counts = np.diff(np.searchsorted(hit_steps, np.r_[starts, len(positions)]))
    good = (lengths == per_bar) & (counts > 0)
    run = np.convolve(good.astype(np.int64), np.ones(bars, np.int64), "valid")
    return np.flatnonzero(run == bars), starts


def primer_from_dataset(dataset: str | Path | Dataset, bars: int = 2, split: str = "validation",
                        seed: int | None = None, tempo: float = 120.0) -> PrimerWindow:
    """``bars`` whole 4/4 bars of a random track of a prepared steps dataset, cut at a bar
    line: the seed picks the track (uniformly among those with such a window), then the
    window. Only windows whose every bar has a hit are candidates."""
    if bars < 1:
        raise DrumrnnError(f"primer bars must be at least 1, got {bars}")
    data = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    encoding = data.encoding
    if encoding.encoding != "steps":
        raise DrumrnnError(f"{data.path} is an {encoding.encoding} dataset; a primer window "
                           "needs a steps dataset")
    kit, spq = encoding.kit_obj, encoding.steps.steps_per_quarter
    per_bar = 4 * spq
    part = data.split(split)
    arrays = part.arrays
    candidates = []  # (track, window starts in bars, bar start steps)
    for track in range(part.n_tracks):
        s, e = arrays["track_starts"][track:track + 2]
        positions = np.asarray(arrays["positions"][s:e])
        if encoding.bar_tokens:
            positions = positions[np.asarray(arrays["tokens"][s:e]) != bar_token(kit)]
        hs, he = arrays["hit_starts"][track:track + 2]
        found, bar_steps = _window_starts(positions, np.asarray(arrays["hit_steps"][hs:he]),
                                          per_bar, bars)
        if len(found):
            candidates.append((track, found, bar_steps))
    if not candidates:
        raise DrumrnnError(f"no {split} track of {data.path} ({part.n_tracks} tracks) has "
                           f"{bars} whole 4/4 bars of drumming in a row; ask for fewer "
                           "--primer-bars or another --split")
    rng = np.random.default_rng(seed)
    track, found, bar_steps = candidates[rng.integers(len(candidates))]
    first = int(found[rng.integers(len(found))])
    start = int(bar_steps[first])
    hs, he = arrays["hit_starts"][track:track + 2]
    steps = np.asarray(arrays["hit_steps"][hs:he], dtype=np.int64)
    keep = (steps >= start) & (steps < start + bars * per_bar)
    sl = slice(hs, he)
    offsets = np.asarray(arrays["hit_offsets"][sl], dtype=np.float64)[keep]
    classes = np.asarray(arrays["hit_classes"][sl], dtype=np.int64)[keep]
    quarters = np.maximum((steps[keep] - start + offsets) / spq, 0.0)
    hits = DrumHits(quarters, kit.output_pitches[classes],
                    np.asarray(arrays["hit_velocities"][sl])[keep],
                    TimeMap(((0.0, float(tempo)),), ((0.0, 4, 4),)), end_quarter=4.0 * bars)
    entry = next((f for f in data.manifest["files"]
                  if f["split"] == split and f["index"] == track), {})
    return PrimerWindow(hits, str(data.path), split, entry.get("path", f"track {track}"), track,
                        first + 1, bars, {k: v for k, v in entry.items() if k not in _BOOKKEEPING})
