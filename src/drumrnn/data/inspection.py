"""A readable summary of one drum MIDI file: timing, hits per class, what the kit drops."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drumrnn.data.encoding import EncodingConfig
from drumrnn.data.kits import pitch_name
from drumrnn.data.midi_read import DrumSource, read_drum_hits
from drumrnn.data.steps import bar_start_steps, encode_steps


@dataclass
class FileSummary:
    """What :func:`inspect_midi` found in a file."""

    path: Path
    source: str
    tempos: list[tuple[float, float]]
    time_signatures: list[tuple[float, int, int]]
    bars: int
    seconds: float
    n_hits: int
    hits_per_class: dict[str, int]
    dropped: dict[int, int]
    merged: int
    kit: str
    steps_per_quarter: int

    def format(self) -> str:
        tempo = ", ".join(f"{qpm:.1f} bpm at quarter {q:g}" for q, qpm in self.tempos)
        signature = ", ".join(f"{n}/{d} at quarter {q:g}" for q, n, d in self.time_signatures)
        lines = [
            f"file: {self.path}",
            f"tempo: {tempo}",
            f"time signature: {signature}",
            f"length: {self.bars} bars, {self.seconds:.1f} s, {self.n_hits} drum hits on "
            f"{self.source}",
            f"hits per class (kit {self.kit}):",
        ]
        width = max(len(n) for n in self.hits_per_class)
        lines += [f"  {name:<{width}}  {n}" for name, n in self.hits_per_class.items()]
        if self.dropped:
            lines.append(f"dropped (not in kit {self.kit}): " + ", ".join(
                f"{p} {pitch_name(p)} x{n}" for p, n in sorted(self.dropped.items())))
        else:
            lines.append("dropped: none")
        if self.merged:
            lines.append(f"merged: {self.merged} hits fell on a step already struck by the same "
                         f"class ({self.steps_per_quarter} steps per quarter)")
        return "\n".join(lines)


def inspect_midi(path: str | Path, encoding: EncodingConfig = EncodingConfig(),
                 source: DrumSource = DrumSource()) -> FileSummary:
    """Summarize a drum MIDI file for the given kit and grid."""
    hits = read_drum_hits(path, source)
    kit = encoding.kit_obj
    classes = kit.classes_of(hits.pitches)
    counts = Counter(classes[classes >= 0].tolist())
    steps = encode_steps(hits, kit, encoding.steps)
    spq = encoding.steps_per_quarter
    bars = int((bar_start_steps(hits.time_map, hits.end_quarter, spq) < steps.n_steps).sum())
    seconds = float(hits.time_map.seconds(np.array([hits.end_quarter]))[0])
    return FileSummary(
        Path(path), source.describe(), list(hits.time_map.tempos),
        list(hits.time_map.time_signatures), bars, seconds, len(hits),
        {kit.class_names[c]: counts[c] for c in range(kit.n_classes) if counts[c]},
        dict(Counter(hits.pitches[classes < 0].tolist())), steps.merged, kit.name,
        encoding.steps_per_quarter)
