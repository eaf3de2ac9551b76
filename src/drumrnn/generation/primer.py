"""Primers: the opening a generated pattern continues, from a MIDI file or a readable pattern.

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

import numpy as np

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import Kit
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
