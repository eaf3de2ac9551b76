"""The drum machine's grid: rows of drums by columns of grid steps, and its conversions to and
from :class:`~drumrnn.data.hits.DrumHits`.

A grid is what the page shows and edits: one row per drum (a name and the MIDI pitch it
writes), one column per step (a 16th with 4 steps per quarter), a velocity per cell (0 = no
hit) and each hit's offset from its step in fractions of a step (the feel). Swing is a
property of playback: it delays every second step and is applied when a grid becomes hits to
play or export, never stored in the cells, so that what the model reads stays on the grid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import Kit
from drumrnn.data.steps import quantize
from drumrnn.data.timing import TimeMap

SWING_RANGE = (50.0, 75.0)
TEMPO_RANGE = (20.0, 300.0)
MAX_BARS = 32
MAX_ROWS = 128
DENOMINATORS = (2, 4, 8, 16)
OFFSET_MAX = 0.4999  # offsets lie in [-0.5, 0.5): +0.5 belongs to the next step


def swing_delay(swing: float) -> float:
    """Delay, in steps, of every second step at ``swing`` percent.

    Drum machines' swing: the first step of each pair lasts ``swing`` % of the pair, so 50 is
    straight, 66.7 a triplet feel and 75 a dotted feel (a delay of half a step).
    """
    return swing / 50.0 - 1.0


def check_meter(meter, steps_per_quarter: int | None = None) -> tuple[int, int]:
    """``meter`` as ``(numerator, denominator)`` if a grid can hold it: numerator 1..16,
    denominator one of :data:`DENOMINATORS` and, with ``steps_per_quarter``, a bar of whole
    steps; a :class:`DrumrnnError` with a one-line message otherwise."""
    numerator, denominator = (int(x) for x in meter)
    if not 1 <= numerator <= 16 or denominator not in DENOMINATORS:
        raise DrumrnnError(f"time signature {numerator}/{denominator}: the numerator must "
                           f"lie in 1..16 and the denominator be one of {DENOMINATORS}")
    if steps_per_quarter and (numerator * 4 * steps_per_quarter) % denominator:
        raise DrumrnnError(f"a {numerator}/{denominator} bar is not a whole number of steps")
    return numerator, denominator


@dataclass(frozen=True)
class Grid:
    """A drum pattern as the page edits it.

    Attributes
    ----------
    names : tuple of str, shape (rows,)
    pitches : tuple of int, shape (rows,)
        The MIDI pitch each row writes (0..127).
    velocities : int16 array, shape (rows, steps)
        0 = no hit, else 1..127.
    offsets : float64 array, shape (rows, steps)
        Each hit's offset from its step in steps, in [-0.5, 0.5); 0 where there is no hit.
    tempo : float
        Quarter notes per minute.
    swing : float
        Percent, 50 (straight) .. 75.
    meter : (numerator, denominator)
    steps_per_quarter : int
    """

    names: tuple[str, ...]
    pitches: tuple[int, ...]
    velocities: np.ndarray
    offsets: np.ndarray
    tempo: float = 120.0
    swing: float = 50.0
    meter: tuple[int, int] = (4, 4)
    steps_per_quarter: int = 4

    def __post_init__(self) -> None:
        velocities = np.asarray(self.velocities, dtype=np.int16)
        offsets = np.asarray(self.offsets, dtype=np.float64)
        object.__setattr__(self, "velocities", velocities)
        object.__setattr__(self, "offsets", offsets)
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "pitches", tuple(int(p) for p in self.pitches))
        object.__setattr__(self, "meter", (int(self.meter[0]), int(self.meter[1])))
        rows = len(self.names)
        if not 1 <= rows <= MAX_ROWS or len(self.pitches) != rows:
            raise DrumrnnError(f"a grid needs 1..{MAX_ROWS} rows, each with a name and a pitch")
        if velocities.ndim != 2 or velocities.shape[0] != rows or offsets.shape != velocities.shape:
            raise DrumrnnError("every row needs as many velocities (and offsets) as the grid "
                               "has steps")
        if any(not 0 <= p <= 127 for p in self.pitches):
            raise DrumrnnError("pitches must lie in 0..127")
        if len(set(self.pitches)) != rows:
            raise DrumrnnError("two rows write the same pitch")
        if velocities.size and (velocities.min() < 0 or velocities.max() > 127):
            raise DrumrnnError("velocities must lie in 0..127")
        if offsets.size and not (np.isfinite(offsets).all() and offsets.min() >= -0.5
                                 and offsets.max() < 0.5):
            raise DrumrnnError("offsets must lie in [-0.5, 0.5) steps")
        if not TEMPO_RANGE[0] <= self.tempo <= TEMPO_RANGE[1]:
            raise DrumrnnError(f"tempo must lie in {TEMPO_RANGE[0]:g}..{TEMPO_RANGE[1]:g} bpm, "
                               f"got {self.tempo:g}")
        if not SWING_RANGE[0] <= self.swing <= SWING_RANGE[1]:
            raise DrumrnnError(f"swing must lie in {SWING_RANGE[0]:g}..{SWING_RANGE[1]:g} %, "
                               f"got {self.swing:g}")
        if not 1 <= self.steps_per_quarter <= 8:
            raise DrumrnnError("steps per quarter must lie in 1..8")
        check_meter(self.meter, self.steps_per_quarter)
        steps = velocities.shape[1]
        if steps == 0 or steps % self.steps_per_bar:
            raise DrumrnnError(f"a grid holds whole bars of {self.steps_per_bar} steps; "
                               f"got {steps} steps")
        if self.bars > MAX_BARS:
            raise DrumrnnError(f"a grid holds at most {MAX_BARS} bars, got {self.bars}")

    @property
    def steps_per_bar(self) -> int:
        numerator, denominator = self.meter
        return numerator * 4 * self.steps_per_quarter // denominator

    @property
    def bars(self) -> int:
        return self.velocities.shape[1] // self.steps_per_bar

    @property
    def n_hits(self) -> int:
        return int(np.count_nonzero(self.velocities))

    def time_map(self) -> TimeMap:
        return TimeMap(((0.0, float(self.tempo)),), ((0.0, *self.meter),))

    def bar_range(self, start: int, end: int) -> Grid:
        """The bars ``start`` .. ``end - 1`` as a grid of their own."""
        if not 0 <= start < end <= self.bars:
            raise DrumrnnError(f"bars {start + 1}..{end} are not within the grid's 1..{self.bars}")
        cut = slice(start * self.steps_per_bar, end * self.steps_per_bar)
        return replace(self, velocities=self.velocities[:, cut], offsets=self.offsets[:, cut])

    def join(self, *others: Grid) -> Grid:
        """This grid followed by ``others`` (which must have the same rows and meter)."""
        for other in others:
            if other.pitches != self.pitches or other.steps_per_bar != self.steps_per_bar:
                raise DrumrnnError("only grids with the same rows and meter can be joined")
        return replace(self, velocities=np.hstack([self.velocities] + [o.velocities for o in others]),
                       offsets=np.hstack([self.offsets] + [o.offsets for o in others]))

    def to_dict(self) -> dict:
        """The grid as the page's JSON (see :func:`grid_from_dict`)."""
        return {
            "tempo": float(self.tempo), "swing": float(self.swing), "meter": list(self.meter),
            "steps_per_quarter": self.steps_per_quarter, "bars": self.bars,
            "rows": [{"name": name, "pitch": pitch, "velocities": v.tolist(),
                      "offsets": np.minimum(np.round(o, 4), OFFSET_MAX).tolist()}
                     for name, pitch, v, o in zip(self.names, self.pitches, self.velocities,
                                                  self.offsets)],
        }


def grid_from_dict(data: dict) -> Grid:
    """A grid from the page's JSON: ``tempo``, ``swing``, ``meter`` ([4, 4]),
    ``steps_per_quarter`` (4) and ``rows``, each ``{name, pitch, velocities, offsets?}``.
    Offsets on cells without a hit are ignored."""
    rows = data["rows"]
    velocities = [row["velocities"] for row in rows]
    if len({len(v) for v in velocities}) > 1:
        raise DrumrnnError("every row needs as many velocities as the grid has steps")
    offsets = [row.get("offsets") or [0.0] * len(row["velocities"]) for row in rows]
    if any(len(o) != len(v) for o, v in zip(offsets, velocities)):
        raise DrumrnnError("a row's offsets must be as many as its velocities")
    velocities_array = np.array(velocities, dtype=np.int64).reshape(len(rows), -1)
    if velocities_array.size and (velocities_array.min() < 0 or velocities_array.max() > 127):
        raise DrumrnnError("velocities must lie in 0..127")
    offsets_array = np.array(offsets, dtype=np.float64).reshape(len(rows), -1)
    offsets_array[velocities_array == 0] = 0.0
    return Grid(tuple(row["name"] for row in rows), tuple(row["pitch"] for row in rows),
                velocities_array, offsets_array, float(data.get("tempo", 120.0)),
                float(data.get("swing", 50.0)), tuple(data.get("meter", (4, 4))),
                int(data.get("steps_per_quarter", 4)))


def empty_grid(kit: Kit, bars: int, tempo: float = 120.0, swing: float = 50.0,
               meter: tuple[int, int] = (4, 4), steps_per_quarter: int = 4) -> Grid:
    """A grid with no hits, one row per class of ``kit``."""
    steps = bars * meter[0] * 4 * steps_per_quarter // meter[1]
    shape = (kit.n_classes, steps)
    return Grid(kit.class_names, tuple(kit.output_pitches.tolist()), np.zeros(shape, np.int16),
                np.zeros(shape), tempo, swing, meter, steps_per_quarter)


def grid_to_hits(grid: Grid, apply_swing: bool = True) -> DrumHits:
    """The grid's hits at their steps plus offsets (plus the swing delay of every second
    step unless ``apply_swing`` is false), with the grid's tempo and meter; the piece ends on
    the last bar line."""
    rows, steps = np.nonzero(grid.velocities)
    positions = steps + grid.offsets[rows, steps]
    if apply_swing:
        positions = positions + (steps % 2 == 1) * swing_delay(grid.swing)
    quarters = np.maximum(positions / grid.steps_per_quarter, 0.0)
    return DrumHits(quarters, np.asarray(grid.pitches)[rows], grid.velocities[rows, steps],
                    grid.time_map(), end_quarter=grid.velocities.shape[1] / grid.steps_per_quarter)


def hits_to_grid(hits: DrumHits, kit: Kit, bars: int, tempo: float = 120.0,
                 swing: float = 50.0, meter: tuple[int, int] = (4, 4),
                 steps_per_quarter: int = 4) -> Grid:
    """``bars`` bars of ``hits`` on a grid with one row per class of ``kit``.

    Each hit goes to its nearest step, keeping its offset; when a drum strikes a step twice
    the louder hit is kept. Hits outside the kit or after the last bar are left out.
    """
    grid = empty_grid(kit, bars, tempo, swing, meter, steps_per_quarter)
    classes = kit.classes_of(hits.pitches).astype(np.int64)
    steps, offsets = quantize(hits.quarters, steps_per_quarter)
    keep = (classes >= 0) & (steps < grid.velocities.shape[1])
    classes, steps, offsets = classes[keep], steps[keep], offsets[keep]
    velocities = np.clip(hits.velocities[keep], 1, 127)
    order = np.argsort(velocities, kind="stable")  # the loudest is written last and wins
    grid.velocities[classes[order], steps[order]] = velocities[order]
    grid.offsets[classes[order], steps[order]] = np.clip(offsets[order], -0.5, OFFSET_MAX)
    return grid
