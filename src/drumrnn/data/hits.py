"""Drum hits: the kit-independent onsets read from MIDI, the hub of every conversion."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from drumrnn.data.timing import TimeMap


@dataclass
class DrumHits:
    """Drum onsets of one piece, sorted by time then pitch.

    Attributes
    ----------
    quarters : float64 array, shape (n,)
        Onset positions in quarter notes from the start of the piece.
    pitches : int16 array, shape (n,)
        MIDI percussion pitches (General MIDI numbering).
    velocities : int16 array, shape (n,)
        MIDI velocities, 1..127.
    time_map : TimeMap
        Tempo and time-signature changes; gives seconds and bar lines.
    end_quarter : float
        Where the piece ends (at least the last onset).
    trimmed : dict
        What reading left out to bound the work (see :mod:`drumrnn.data.limits`):
        ``silent_bars`` removed from long silences, ``cut_hits`` past the length limit.
    """

    quarters: np.ndarray
    pitches: np.ndarray
    velocities: np.ndarray
    time_map: TimeMap = field(default_factory=TimeMap)
    end_quarter: float = 0.0
    trimmed: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.quarters = np.asarray(self.quarters, dtype=np.float64)
        self.pitches = np.asarray(self.pitches, dtype=np.int16)
        self.velocities = np.asarray(self.velocities, dtype=np.int16)
        if not (self.quarters.shape == self.pitches.shape == self.velocities.shape):
            raise ValueError("quarters, pitches and velocities must have the same length")
        order = np.lexsort((self.pitches, self.quarters))
        self.quarters, self.pitches, self.velocities = (
            self.quarters[order], self.pitches[order], self.velocities[order])
        if len(self.quarters):
            self.end_quarter = max(self.end_quarter, float(self.quarters[-1]))

    def __len__(self) -> int:
        return len(self.quarters)

    @property
    def seconds(self) -> np.ndarray:
        """Onset times in seconds (float64, shape (n,)), from the tempo map."""
        return self.time_map.seconds(self.quarters)
