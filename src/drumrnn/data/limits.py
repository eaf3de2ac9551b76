"""Bounds on the work one MIDI file may cause, whatever its header and delta times claim.

A file's length in steps or events must be justified by its hits. Two rules make it so:

- A silence longer than ``max_gap_bars`` empty bars (before the first hit or between two
  hits) is shortened to ``max_gap_bars`` bars by removing whole bars, so that every bar
  line and every position in the bar stays where it was. (Magenta's Drums RNN splits
  pieces at 1-bar gaps; drumrnn keeps one piece per file, so that a file stays one track,
  and only shortens the silence. A silence after the last hit is dropped.)
- A piece is cut after ``max_bars`` bars; the hits after that are dropped.

Together, a kept file is at most ``min(max_bars, (hits + 1) * (max_gap_bars + 1))`` bars
long. A file whose tempo or time-signature events are too many, whose bars are absurd, or
whose time division is too coarse to hold a 16th note is refused. What is shortened or cut
is counted in :attr:`DrumHits.trimmed` and reported by ``prepare``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drumrnn.core.configs import StoredConfig, check_at_least_one, check_not_negative
from drumrnn.data.hits import DrumHits
from drumrnn.data.timing import TimeMap


@dataclass(frozen=True)
class ReadLimits(StoredConfig):
    """Limits applied to every MIDI file read.

    Attributes
    ----------
    max_bars : int
        Longest piece kept, in bars (default 4096, over two hours at 120 bpm in 4/4; the
        longest Groove MIDI Dataset file has 639; no GMD file is shortened or cut).
    max_gap_bars : int
        Longest silence kept, in empty bars (default 8); longer ones are shortened to this.
    min_ticks_per_quarter : int
        Coarsest time division accepted (default 24, the MIDI clock's, enough for 16ths and
        triplets); a coarser one marks a damaged header.
    max_tempo_events, max_time_signatures : int
        Most tempo / time-signature changes in one file (default 10,000 each).
    max_events : int
        Most MIDI events of any kind read when note-ons are scanned directly (default
        5,000,000: a 16 MB file of 3-byte events).
    """

    _what = "reading limits"

    max_bars: int = 4096
    max_gap_bars: int = 8
    min_ticks_per_quarter: int = 24
    max_tempo_events: int = 10_000
    max_time_signatures: int = 10_000
    max_events: int = 5_000_000

    def __post_init__(self) -> None:
        check_at_least_one(self, ("max_bars", "min_ticks_per_quarter", "max_tempo_events",
                                  "max_time_signatures", "max_events"))
        check_not_negative(self, ("max_gap_bars",))


#: Bar lengths (quarters) outside this range mark a broken time signature.
BAR_QUARTERS = (1 / 16, 64.0)


def bound_hits(hits: DrumHits, limits: ReadLimits) -> DrumHits:
    """``hits`` with long silences shortened and the piece cut at ``limits.max_bars``.

    The tempo and time-signature changes move with the music; those inside a removed
    silence take effect where it was cut. ``trimmed`` of the result counts the empty bars
    removed (``silent_bars``) and the hits dropped past the limit (``cut_hits``).
    """
    time_map = hits.time_map
    if not len(hits):
        return hits
    bars = time_map.bar_index(hits.quarters)
    previous = np.concatenate([[-1], bars[:-1]])
    excess = np.maximum(bars - previous - 1 - limits.max_gap_bars, 0)
    gaps = np.flatnonzero(excess)
    trimmed = dict(hits.trimmed)
    if len(gaps):
        cut_from = time_map.bar_start(previous[gaps] + 1 + limits.max_gap_bars)
        cut_to = time_map.bar_start(bars[gaps])
        removed = np.cumsum(cut_to - cut_from)

        def move(q: np.ndarray) -> np.ndarray:
            q = np.asarray(q, dtype=np.float64)
            i = np.searchsorted(cut_from, q, side="right") - 1
            before = np.where(i > 0, removed[np.maximum(i - 1, 0)], 0.0)
            inside = np.clip(q - cut_from[np.maximum(i, 0)], 0.0,
                             (cut_to - cut_from)[np.maximum(i, 0)])
            return q - np.where(i >= 0, before + inside, 0.0)

        tempos = _moved(time_map.tempos, move)
        signatures = _moved(time_map.time_signatures, move)
        time_map = TimeMap(tempos, signatures)
        quarters = move(hits.quarters)
        trimmed["silent_bars"] = trimmed.get("silent_bars", 0) + int(excess.sum())
        bars = time_map.bar_index(quarters)
    else:
        quarters = hits.quarters
    keep = bars < limits.max_bars
    if not keep.all():
        trimmed["cut_hits"] = trimmed.get("cut_hits", 0) + int((~keep).sum())
    last_bar = int(bars[keep][-1]) if keep.any() else 0
    end_limit = float(time_map.bar_start(np.array([last_bar + 1]))[0])
    end = min(hits.end_quarter - (hits.quarters[-1] - quarters[-1]), end_limit)
    if time_map.tempos[-1][0] > end or time_map.time_signatures[-1][0] > end:
        # changes past the end would only stretch the piece's time map
        time_map = TimeMap(
            tuple(t for t in time_map.tempos if t[0] <= end) or time_map.tempos[:1],
            tuple(s for s in time_map.time_signatures if s[0] <= end)
            or time_map.time_signatures[:1])
    return DrumHits(quarters[keep], hits.pitches[keep], hits.velocities[keep], time_map,
                    max(end, 0.0), trimmed=trimmed)


def _moved(changes: tuple, move) -> tuple:
    """Changes at their moved positions; of several landing on one position, the last."""
    if not changes:
        return changes
    positions = move(np.array([c[0] for c in changes]))
    by_position = {float(q): (float(q), *c[1:]) for q, c in zip(positions.tolist(), changes)}
    return tuple(by_position.values())
