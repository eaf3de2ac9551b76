"""Musical time: tempo changes (quarters -> seconds) and time signatures (bar lines)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DEFAULT_QPM = 120.0


@dataclass(frozen=True)
class TimeMap:
    """Tempo and time-signature changes of a piece, positioned in quarter notes.

    Attributes
    ----------
    tempos : tuple of (quarter, qpm)
        Sorted by position; the first tempo also holds before its position.
    time_signatures : tuple of (quarter, numerator, denominator)
        Sorted by position; a change starts a new bar even when it falls mid-bar.
    """

    tempos: tuple[tuple[float, float], ...] = ((0.0, DEFAULT_QPM),)
    time_signatures: tuple[tuple[float, int, int], ...] = ((0.0, 4, 4),)
    _tempo_starts: np.ndarray = field(init=False, repr=False, compare=False)
    _grid: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tempos = tuple(sorted(self.tempos)) or ((0.0, DEFAULT_QPM),)
        signatures = tuple(sorted(self.time_signatures)) or ((0.0, 4, 4),)
        object.__setattr__(self, "tempos", tempos)
        object.__setattr__(self, "time_signatures", signatures)
        # Seconds at each tempo change, so that conversion is one searchsorted.
        quarters = np.array([q for q, _ in tempos], dtype=np.float64)
        spq = 60.0 / np.array([t for _, t in tempos], dtype=np.float64)
        starts = np.concatenate([[0.0], np.cumsum(np.diff(quarters) * spq[:-1])])
        object.__setattr__(self, "_tempo_starts", starts)
        object.__setattr__(self, "_grid", self._bar_grid())

    @property
    def qpm(self) -> float:
        """The first tempo, in quarter notes per minute."""
        return self.tempos[0][1]

    def seconds(self, quarters: np.ndarray) -> np.ndarray:
        """Seconds at the given positions in quarter notes (float64, same shape)."""
        quarters = np.asarray(quarters, dtype=np.float64)
        change_q = np.array([q for q, _ in self.tempos])
        spq = 60.0 / np.array([t for _, t in self.tempos])
        i = np.clip(np.searchsorted(change_q, quarters, side="right") - 1, 0, None)
        return self._tempo_starts[i] + (quarters - change_q[i]) * spq[i]

    def _bar_grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(starts, lengths, first_bars)`` of each time-signature segment: where it starts
        (quarters), its bar length (quarters) and the index of its first bar."""
        signatures = list(self.time_signatures)
        if signatures[0][0] > 0:
            signatures.insert(0, (0.0, 4, 4))
        starts = np.array([q for q, _, _ in signatures], dtype=np.float64)
        lengths = np.array([n * 4.0 / d for _, n, d in signatures], dtype=np.float64)
        # a change starts a new bar even mid-bar: a segment holds ceil(span / length) bars
        spans = np.diff(starts)
        bars = np.ceil(np.round(spans / lengths[:-1], 9)).astype(np.int64)
        first = np.concatenate([[0], np.cumsum(bars)]).astype(np.int64)
        return starts, lengths, first

    def bar_index(self, quarters: np.ndarray) -> np.ndarray:
        """Index (int64) of the bar holding each position (quarters >= 0)."""
        starts, lengths, first = self._grid
        quarters = np.asarray(quarters, dtype=np.float64)
        seg = np.clip(np.searchsorted(starts, quarters, side="right") - 1, 0, None)
        within = np.floor(np.round((quarters - starts[seg]) / lengths[seg], 9))
        return first[seg] + np.maximum(within, 0).astype(np.int64)

    def bar_start(self, index: np.ndarray) -> np.ndarray:
        """Position (quarters, float64) where each bar ``index`` starts."""
        starts, lengths, first = self._grid
        index = np.asarray(index, dtype=np.int64)
        seg = np.clip(np.searchsorted(first, index, side="right") - 1, 0, None)
        # zero-length segments share their first bar index with the next: take the last
        return starts[seg] + (index - first[seg]) * lengths[seg]

    def bar_starts(self, end_quarter: float) -> np.ndarray:
        """Positions (quarters, float64) of every bar line from 0 up to ``end_quarter``.

        The list always starts at 0 and includes the first bar line at or after
        ``end_quarter``, so that bar ``i`` spans ``[starts[i], starts[i + 1])``. Its cost
        is one array operation, whatever the number of bars.
        """
        last = int(self.bar_index(np.array([max(end_quarter, 0.0)]))[0])
        lines = self.bar_start(np.arange(last + 2))
        # keep lines up to the first one at or after end_quarter
        stop = int(np.searchsorted(lines, end_quarter - 1e-9, side="left"))
        return lines[:stop + 1]

    def to_dict(self) -> dict:
        return {"tempos": [list(t) for t in self.tempos],
                "time_signatures": [list(s) for s in self.time_signatures]}

    @classmethod
    def from_dict(cls, data: dict) -> TimeMap:
        return cls(tuple((float(q), float(t)) for q, t in data["tempos"]),
                   tuple((float(q), int(n), int(d)) for q, n, d in data["time_signatures"]))
