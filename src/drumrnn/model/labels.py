"""The labels a conditioned model reads (style, kind, tempo bucket) and their vocabularies.

Id 0 of every label is "unknown": a model trained with label dropout plays with any label
left out. The vocabularies are stored in the model file's header (``labels``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.labels import KINDS, clean_style

UNKNOWN = "unknown"
#: Tempo buckets (bpm): below 70, 70-85, ..., 180 and above (the GMD's median is 110).
TEMPO_EDGES = (70.0, 85.0, 100.0, 115.0, 130.0, 150.0, 180.0)


@dataclass(frozen=True)
class LabelVocab:
    """Label values a model knows; id 0 of each label is unknown.

    Attributes
    ----------
    styles : tuple of str
        Known styles (ids 1..n).
    kinds : tuple of str
        ``beat``, ``fill`` (ids 1, 2).
    tempo_edges : tuple of float
        Bucket edges in bpm: bucket id 1 is below the first edge, the last is at or above
        the last edge.
    """

    styles: tuple[str, ...]
    kinds: tuple[str, ...] = KINDS
    tempo_edges: tuple[float, ...] = TEMPO_EDGES

    @property
    def sizes(self) -> tuple[int, int, int]:
        """Number of ids of style, kind and tempo (unknown included)."""
        return len(self.styles) + 1, len(self.kinds) + 1, len(self.tempo_edges) + 2

    def style_id(self, style: str | None, strict: bool = False) -> int:
        """A style's id; unknown names are 0, or (``strict``) an error listing the known."""
        name = clean_style(style)
        if name is None or name == UNKNOWN:
            return 0
        if name in self.styles:
            return self.styles.index(name) + 1
        if strict:
            raise DrumrnnError(f"unknown style {style!r}; this model knows: "
                               + ", ".join(self.styles))
        return 0

    def kind_id(self, kind: str | None) -> int:
        if kind is None or kind == UNKNOWN:
            return 0
        if kind not in self.kinds:
            raise DrumrnnError(f"unknown kind {kind!r}; choose {', '.join(self.kinds)} or unknown")
        return self.kinds.index(kind) + 1

    def tempo_id(self, bpm: float | None) -> int:
        if bpm is None or not bpm > 0:
            return 0
        return int(np.searchsorted(self.tempo_edges, bpm, side="right")) + 1

    def ids(self, style: str | None = None, kind: str | None = None, bpm: float | None = None,
            strict: bool = False) -> np.ndarray:
        """The (3,) int64 ids of one set of labels (None = unknown)."""
        return np.array([self.style_id(style, strict), self.kind_id(kind), self.tempo_id(bpm)],
                        dtype=np.int64)

    def to_dict(self) -> dict:
        return {"styles": list(self.styles), "kinds": list(self.kinds),
                "tempo_edges": list(self.tempo_edges)}

    @classmethod
    def from_dict(cls, data: dict) -> LabelVocab:
        try:
            return cls(tuple(data["styles"]), tuple(data["kinds"]),
                       tuple(float(e) for e in data["tempo_edges"]))
        except (KeyError, TypeError) as exc:
            raise DrumrnnError(f"invalid label vocabulary ({exc})") from None

    def describe(self) -> str:
        edges = self.tempo_edges
        return (f"style ({len(self.styles)}: {', '.join(self.styles)}), kind "
                f"({', '.join(self.kinds)}), tempo ({len(edges) + 1} buckets, edges "
                f"{', '.join(f'{e:g}' for e in edges)} bpm); each may be unknown")


def label_vocab_of(manifest: dict) -> LabelVocab:
    """The label vocabulary of a prepared dataset: the styles of its training split, by
    decreasing number of files (ties by name)."""
    counts = Counter(e.get("labels", {}).get("style") for e in manifest["files"]
                     if e["split"] == "train")
    counts.pop(None, None)
    return LabelVocab(tuple(sorted(counts, key=lambda s: (-counts[s], s))))


def track_label_ids(manifest: dict, split: str, vocab: LabelVocab) -> np.ndarray:
    """(n_tracks, 3) int64 label ids of a split's tracks, in track order."""
    entries = sorted((e for e in manifest["files"] if e["split"] == split),
                     key=lambda e: e["index"])
    out = np.zeros((len(entries), 3), dtype=np.int64)
    for row, e in zip(out, entries):
        labels = e.get("labels", {})
        row[:] = vocab.ids(labels.get("style"), labels.get("kind"), labels.get("bpm"))
    return out
