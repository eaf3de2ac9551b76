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

    def bar_starts(self, end_quarter: float) -> np.ndarray:
        """Positions (quarters, float64) of every bar line from 0 up to ``end_quarter``.

        The list always starts at 0 and includes the first bar line at or after
        ``end_quarter``, so that bar ``i`` spans ``[starts[i], starts[i + 1])``.
        """
        starts: list[float] = []
        signatures = list(self.time_signatures)
        if signatures[0][0] > 0:
            signatures.insert(0, (0.0, 4, 4))
        for i, (q, num, den) in enumerate(signatures):
            until = signatures[i + 1][0] if i + 1 < len(signatures) else float("inf")
            length = num * 4.0 / den
            position = q
            while position < until:
                starts.append(position)
                if position >= end_quarter:
                    return np.array(starts)
                position += length
        return np.array(starts)

    def to_dict(self) -> dict:
        return {"tempos": [list(t) for t in self.tempos],
                "time_signatures": [list(s) for s in self.time_signatures]}

    @classmethod
    def from_dict(cls, data: dict) -> TimeMap:
        return cls(tuple((float(q), float(t)) for q, t in data["tempos"]),
                   tuple((float(q), int(n), int(d)) for q, n, d in data["time_signatures"]))
