"""The Groove MIDI Dataset (GMD): its info.csv, official splits and metadata filters.

Gillick, Roberts, Engel, Eck, Bamman: "Learning to Groove with Inverse Sequence
Transformations", ICML 2019. CC BY 4.0.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

from drumrnn.core.errors import DrumrnnError

INFO_CSV = "info.csv"
SPLITS = ("train", "validation", "test")
_REQUIRED_COLUMNS = {"drummer", "style", "bpm", "beat_type", "time_signature",
                     "midi_filename", "split"}


def is_groove_folder(folder: str | Path) -> bool:
    """Whether ``folder`` looks like a GMD release (it holds an info.csv)."""
    return (Path(folder) / INFO_CSV).is_file()


@dataclass(frozen=True)
class GrooveEntry:
    """One row of info.csv."""

    path: Path
    drummer: str
    style: str
    bpm: float
    beat_type: str
    time_signature: str
    split: str


@dataclass(frozen=True)
class GrooveFilter:
    """Which GMD files to keep; an empty field keeps everything.

    Attributes
    ----------
    styles : tuple of str
        Style prefixes by path segment: ``rock`` keeps ``rock`` and ``rock/halftime``;
        ``funk/groove1`` keeps only that style.
    beat_type : str or None
        ``beat`` or ``fill``.
    time_signatures : tuple of str
        As written in info.csv, e.g. ``4-4``.
    drummers : tuple of str
        e.g. ``drummer1``.
    bpm_range : (float, float) or None
        Inclusive bounds.
    """

    styles: tuple[str, ...] = ()
    beat_type: str | None = None
    time_signatures: tuple[str, ...] = ()
    drummers: tuple[str, ...] = ()
    bpm_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.beat_type not in (None, "beat", "fill"):
            raise DrumrnnError(f"beat type must be 'beat' or 'fill', got {self.beat_type!r}")
        if self.bpm_range is not None and self.bpm_range[0] > self.bpm_range[1]:
            raise DrumrnnError(f"bpm range {self.bpm_range[0]:g}-{self.bpm_range[1]:g} is empty")

    def is_empty(self) -> bool:
        return not (self.styles or self.beat_type or self.time_signatures or self.drummers
                    or self.bpm_range)

    def accepts(self, entry: GrooveEntry) -> bool:
        if self.styles and not any(entry.style == s or entry.style.startswith(s + "/")
                                   for s in self.styles):
            return False
        if self.beat_type and entry.beat_type != self.beat_type:
            return False
        if self.time_signatures and entry.time_signature not in self.time_signatures:
            return False
        if self.drummers and entry.drummer not in self.drummers:
            return False
        return not (self.bpm_range and not self.bpm_range[0] <= entry.bpm <= self.bpm_range[1])

    def to_dict(self) -> dict:
        return asdict(self)


def parse_bpm_range(text: str) -> tuple[float, float]:
    """``"80-120"`` -> (80.0, 120.0); a single number is a range of one."""
    try:
        low, _, high = text.partition("-")
        return float(low), float(high or low)
    except ValueError:
        raise DrumrnnError(f"bpm range must look like 80-120, got {text!r}") from None


def read_info(folder: str | Path) -> list[GrooveEntry]:
    """All rows of a GMD folder's info.csv, paths resolved inside ``folder``."""
    folder = Path(folder)
    try:
        with open(folder / INFO_CSV, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = _REQUIRED_COLUMNS - set(reader.fieldnames or ())
            if missing:
                raise DrumrnnError(f"{folder / INFO_CSV} lacks columns: {', '.join(sorted(missing))}")
            rows = list(reader)
    except OSError as exc:
        raise DrumrnnError(f"cannot read {folder / INFO_CSV}: {exc.strerror or exc}") from None
    entries = []
    for number, row in enumerate(rows, start=2):
        if row["split"] not in SPLITS:
            raise DrumrnnError(f"{INFO_CSV} line {number}: unknown split {row['split']!r}")
        try:
            bpm = float(row["bpm"])
        except ValueError:
            raise DrumrnnError(f"{INFO_CSV} line {number}: bpm {row['bpm']!r} is not a number") from None
        entries.append(GrooveEntry(folder / row["midi_filename"], row["drummer"], row["style"],
                                   bpm, row["beat_type"], row["time_signature"], row["split"]))
    return entries
