"""Per-track labels a model can be conditioned on: style, kind (beat or fill), tempo, drummer.

``prepare`` stores them in each manifest entry under ``labels``. The Groove MIDI Dataset
gives all four (its style's top level, e.g. ``rock`` for ``rock/halftime``); other folders
get the tempo from the file and style / kind from a CSV (``file,style,kind``) or the
parent folder's name. A label nobody gave is None (the model reads it as "unknown").
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from drumrnn.core.errors import DrumrnnError

KINDS = ("beat", "fill")


@dataclass(frozen=True)
class LabelSource:
    """Where a plain folder's style and kind labels come from.

    Attributes
    ----------
    labels_csv : str or None
        A CSV with columns ``file,style,kind`` (file: the path inside the folder, or the
        bare file name); empty cells are unknown.
    style_from_folder : bool
        The style is the name of the file's parent folder (files at the top: unknown).
    """

    labels_csv: str | None = None
    style_from_folder: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def clean_style(text: str | None) -> str | None:
    """A style label as stored: lower case, trimmed, its top level (``rock/halftime`` ->
    ``rock``); None for empty text."""
    if text is None:
        return None
    text = text.strip().lower().split("/")[0].strip()
    return text or None


def clean_kind(text: str | None, where: str = "") -> str | None:
    """``beat``, ``fill`` or None (empty); anything else is an error naming ``where``."""
    text = (text or "").strip().lower()
    if not text:
        return None
    if text not in KINDS:
        raise DrumrnnError(f"{where}kind must be beat or fill, got {text!r}")
    return text


def groove_labels(metadata: dict) -> dict:
    """The labels of a GMD info.csv row (as ``prepare`` keeps its metadata)."""
    return {"style": clean_style(metadata.get("style")),
            "kind": clean_kind(metadata.get("beat_type")),
            "bpm": float(metadata["bpm"]) if metadata.get("bpm") else None,
            "drummer": metadata.get("drummer") or None}


def read_labels_csv(path: str | Path) -> dict[str, tuple[str | None, str | None]]:
    """``file -> (style, kind)`` from a labels CSV; the header row must name ``file``."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if "file" not in (reader.fieldnames or ()):
                raise DrumrnnError(f"{path}: a labels CSV needs a header row with columns "
                                   "file,style,kind")
            table = {}
            for number, row in enumerate(reader, start=2):
                name = (row.get("file") or "").strip()
                if name:
                    table[PurePosixPath(name.replace("\\", "/")).as_posix()] = (
                        clean_style(row.get("style")),
                        clean_kind(row.get("kind"), f"{path.name} line {number}: "))
            return table
    except OSError as exc:
        raise DrumrnnError(f"cannot read labels file {path}: {exc.strerror or exc}") from None


def folder_labels(relpath: str, source: LabelSource,
                  table: dict[str, tuple[str | None, str | None]] | None) -> dict:
    """Style and kind of a plain folder's file (tempo and drummer are filled in later)."""
    style = kind = None
    if source.style_from_folder:
        parent = PurePosixPath(relpath).parent.name
        style = clean_style(parent) if parent else None
    if table:
        given = table.get(relpath) or table.get(PurePosixPath(relpath).name)
        if given:
            style = given[0] or style
            kind = given[1]
    return {"style": style, "kind": kind, "bpm": None, "drummer": None}
