"""Drum kits: how General MIDI percussion pitches reduce to a small set of drum classes.

A kit is a list of classes, each a list of MIDI pitches; the first pitch of a class is the
one written back out. Pitches outside the kit are dropped (and counted by the reader).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from drumrnn.core.errors import DrumrnnError

#: General MIDI percussion names (GM Level 1: 35-81, GM Level 2 additions: 27-34, 82-87).
GM_PERCUSSION_NAMES: dict[int, str] = {
    27: "high Q", 28: "slap", 29: "scratch push", 30: "scratch pull", 31: "sticks",
    32: "square click", 33: "metronome click", 34: "metronome bell",
    35: "acoustic bass drum", 36: "bass drum 1", 37: "side stick", 38: "acoustic snare",
    39: "hand clap", 40: "electric snare", 41: "low floor tom", 42: "closed hi-hat",
    43: "high floor tom", 44: "pedal hi-hat", 45: "low tom", 46: "open hi-hat",
    47: "low-mid tom", 48: "hi-mid tom", 49: "crash cymbal 1", 50: "high tom",
    51: "ride cymbal 1", 52: "chinese cymbal", 53: "ride bell", 54: "tambourine",
    55: "splash cymbal", 56: "cowbell", 57: "crash cymbal 2", 58: "vibraslap",
    59: "ride cymbal 2", 60: "hi bongo", 61: "low bongo", 62: "mute hi conga",
    63: "open hi conga", 64: "low conga", 65: "high timbale", 66: "low timbale",
    67: "high agogo", 68: "low agogo", 69: "cabasa", 70: "maracas", 71: "short whistle",
    72: "long whistle", 73: "short guiro", 74: "long guiro", 75: "claves",
    76: "hi wood block", 77: "low wood block", 78: "mute cuica", 79: "open cuica",
    80: "mute triangle", 81: "open triangle", 82: "shaker", 83: "jingle bell",
    84: "belltree", 85: "castanets", 86: "mute surdo", 87: "open surdo",
}

# Roland TD-11 (Groove MIDI Dataset) pitches that are not General MIDI.
_ROLAND_NAMES = {22: "hi-hat closed edge (Roland)", 26: "hi-hat open edge (Roland)"}

_NINE_CLASS_NAMES = (
    "kick", "snare", "closed hi-hat", "open hi-hat",
    "low tom", "mid tom", "high tom", "crash", "ride",
)


def pitch_name(pitch: int) -> str:
    """A readable name for a MIDI percussion pitch (GM, GM2 or Roland), else ``note N``."""
    return GM_PERCUSSION_NAMES.get(pitch) or _ROLAND_NAMES.get(pitch) or f"note {pitch}"


@dataclass(frozen=True)
class Kit:
    """A reduction of MIDI percussion pitches to drum classes.

    Attributes
    ----------
    name : str
        The kit's name as given on the command line (``9``, ``roland``, ``one-drum``, ``full``).
    class_names : tuple of str, shape (n_classes,)
    class_pitches : tuple of tuple of int, shape (n_classes, *)
        The pitches of each class; the first one is written back out.
    """

    name: str
    class_names: tuple[str, ...]
    class_pitches: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        seen: set[int] = set()
        for pitches in self.class_pitches:
            if not pitches or seen & set(pitches):
                raise ValueError(f"kit {self.name!r}: every class needs pitches, none shared")
            seen |= set(pitches)

    @property
    def n_classes(self) -> int:
        return len(self.class_pitches)

    @cached_property
    def lookup(self) -> np.ndarray:
        """int16 array of shape (128,): the class of each MIDI pitch, -1 when not in the kit."""
        table = np.full(128, -1, dtype=np.int16)
        for index, pitches in enumerate(self.class_pitches):
            table[list(pitches)] = index
        return table

    @cached_property
    def output_pitches(self) -> np.ndarray:
        """int16 array of shape (n_classes,): the pitch written out for each class."""
        return np.array([p[0] for p in self.class_pitches], dtype=np.int16)

    def classes_of(self, pitches: np.ndarray) -> np.ndarray:
        """Map MIDI pitches (any int array) to class indices; -1 marks pitches not in the kit."""
        pitches = np.asarray(pitches)
        if pitches.size and (pitches.min() < 0 or pitches.max() > 127):
            raise ValueError("MIDI pitches must lie in 0..127")
        return self.lookup[pitches]

    def to_dict(self) -> dict:
        return {"name": self.name, "class_names": list(self.class_names),
                "class_pitches": [list(p) for p in self.class_pitches]}


KITS: dict[str, Kit] = {
    # note_seq's DEFAULT_DRUM_TYPE_PITCHES, the kit of Magenta's Drums RNN.
    "9": Kit("9", _NINE_CLASS_NAMES, (
        (36, 35),
        (38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85),
        (42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22),
        (46, 67, 72, 74, 79, 81, 26),
        (45, 29, 41, 43, 61, 64, 84),
        (48, 47, 60, 63, 77, 86, 87),
        (50, 30, 62, 76, 83),
        (49, 52, 55, 57, 58),
        (51, 53, 59, 82),
    )),
    # GrooVAE's map for the Groove MIDI Dataset's Roland TD-11; differs from "9" on 45, 48, 58.
    "roland": Kit("roland", _NINE_CLASS_NAMES, (
        (36,), (38, 37, 40), (42, 22, 44), (46, 26), (43, 58), (47, 45), (50, 48),
        (49, 52, 55, 57), (51, 53, 59),
    )),
    "one-drum": Kit("one-drum", ("drum",), (tuple([36] + [p for p in range(128) if p != 36]),)),
    "full": Kit("full", tuple(GM_PERCUSSION_NAMES.values()),
                tuple((p,) for p in GM_PERCUSSION_NAMES)),
}


def get_kit(name: str) -> Kit:
    """The kit called ``name``; a :class:`DrumrnnError` lists the choices otherwise."""
    try:
        return KITS[str(name)]
    except KeyError:
        raise DrumrnnError(f"unknown kit {name!r}; choose one of: {', '.join(KITS)}") from None


def kit_from_dict(data: dict) -> Kit:
    """Rebuild a kit stored in an artifact (the inverse of :meth:`Kit.to_dict`)."""
    return Kit(data["name"], tuple(data["class_names"]),
               tuple(tuple(p) for p in data["class_pitches"]))
