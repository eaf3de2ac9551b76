"""LSTMetallica's text corpus: one word per 16th step, ``0b`` + 9 binary digits, and BAR.

The digits stand, left to right, for GM pitches 36, 38, 42, 46, 41, 45, 48, 51, 49 (kick,
snare, closed hi-hat, open hi-hat, floor tom, low tom, hi-mid tom, ride, crash). Reading turns
words into drum hits (then reduced through any kit); writing maps kit classes to digits.
"""

from __future__ import annotations

import re

import numpy as np

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import Kit
from drumrnn.data.steps import StepsConfig, hits_from_step_tokens, step_tokens_only
from drumrnn.data.timing import TimeMap

CORPUS_PITCHES = (36, 38, 42, 46, 41, 45, 48, 51, 49)
#: LSTMetallica's reductions of other GM pitches onto its nine.
CORPUS_REDUCTION = {35: 36, 37: 38, 40: 38, 43: 41, 47: 45, 50: 48, 44: 42,
                    57: 49, 52: 49, 59: 51, 53: 51, 55: 51}
BAR_WORD = "BAR"
STEPS_PER_QUARTER = 4
# The nine-class kits' classes by role: low/mid/high tom -> floor/low/hi-mid tom.
_NINE_CLASS_PITCHES = (36, 38, 42, 46, 41, 45, 48, 49, 51)


def read_words(text: str) -> DrumHits:
    """Drum hits of a corpus text, 16th steps at 120 bpm, bars as the BAR words place them.

    Bars of other lengths than 16 steps get their own time signature. Raises
    :class:`DrumrnnError` naming the first word that is neither BAR nor ``0b`` + 9 digits.
    """
    quarters, pitches, bar_lengths = [], [], []
    step = 0
    bar_start = 0
    seen_bar = False
    for number, word in enumerate(text.split(), start=1):
        if word == BAR_WORD:
            if seen_bar or step > bar_start:
                bar_lengths.append((bar_start, step - bar_start))
            bar_start, seen_bar = step, True
            continue
        if len(word) != 11 or not word.startswith("0b") or set(word[2:]) - {"0", "1"}:
            raise DrumrnnError(f"word {number} ({word[:20]!r}) is not BAR or 0b + 9 binary digits")
        for digit, pitch in zip(word[2:], CORPUS_PITCHES):
            if digit == "1":
                quarters.append(step / STEPS_PER_QUARTER)
                pitches.append(pitch)
        step += 1
    if step > bar_start:
        bar_lengths.append((bar_start, step - bar_start))
    signatures = []
    for start, length in bar_lengths:
        if length == 0:
            continue
        denominator = 4 if length % 4 == 0 else 8 if length % 2 == 0 else 16
        signature = (start / STEPS_PER_QUARTER, length * denominator // 16, denominator)
        if not signatures or signatures[-1][1:] != signature[1:]:
            signatures.append(signature)
    time_map = TimeMap(time_signatures=tuple(signatures) or ((0.0, 4, 4),))
    return DrumHits(np.array(quarters), np.array(pitches), np.full(len(pitches), 100),
                    time_map, end_quarter=step / STEPS_PER_QUARTER)


def class_digits(kit: Kit) -> np.ndarray:
    """Digit index (0..8) of each kit class in a corpus word, -1 for classes it cannot hold."""
    if kit.n_classes == 9 and kit.name in ("9", "roland"):
        pitches = _NINE_CLASS_PITCHES
    else:
        pitches = [CORPUS_REDUCTION.get(int(p), int(p)) for p in kit.output_pitches]
    return np.array([CORPUS_PITCHES.index(p) if p in CORPUS_PITCHES else -1 for p in pitches])


def write_words(tokens: np.ndarray, kit: Kit, positions: np.ndarray | None = None,
                config: StepsConfig = StepsConfig(steps_per_quarter=4)) -> str:
    """Corpus text of 16th-step tokens: one word per step, BAR where ``positions`` is 0.

    ``tokens`` may contain BAR tokens (from a ``bar_tokens`` encoding), or ``positions``
    (each step's index in its bar) places the BAR words. Kit classes that the corpus has no
    digit for are left out.
    """
    if config.steps_per_quarter != STEPS_PER_QUARTER:
        raise DrumrnnError("the text corpus format needs 4 steps per quarter (16th notes)")
    step_tokens = step_tokens_only(tokens, kit)
    steps, classes = hits_from_step_tokens(tokens, kit)
    digits = class_digits(kit)[classes]
    grid = np.zeros((len(step_tokens), 9), dtype=np.uint8)
    grid[steps[digits >= 0], digits[digits >= 0]] = 1
    bar_at = np.zeros(len(step_tokens), dtype=bool)
    if positions is not None:
        positions = np.asarray(positions)
        if len(positions) == len(tokens) and len(tokens) != len(step_tokens):
            positions = positions[np.asarray(tokens) != (1 << kit.n_classes)]
        bar_at = positions == 0
    words = []
    for row, bar in zip(grid, bar_at):
        if bar:
            words.append(BAR_WORD)
        words.append("0b" + "".join("1" if d else "0" for d in row))
    return " ".join(words) + "\n"


#: A corpus without blank lines between pieces is cut into pieces of this many bars, so that
#: a single corpus file still splits into train, validation and test.
PIECE_BARS = 16
#: Without BAR words, pieces of this many steps.
PIECE_STEPS = 256


def corpus_pieces(text: str) -> list[str]:
    """The pieces of a corpus text: its blank-line separated blocks, each cut into pieces
    of :data:`PIECE_BARS` bars (or :data:`PIECE_STEPS` words without BAR words)."""
    pieces = []
    for block in re.split(r"\n\s*\n", text):
        words = block.split()
        if not words:
            continue
        cuts = [i for i, w in enumerate(words) if w == BAR_WORD][PIECE_BARS::PIECE_BARS] \
            if BAR_WORD in words else list(range(PIECE_STEPS, len(words), PIECE_STEPS))
        for a, b in zip([0, *cuts], [*cuts, len(words)]):
            pieces.append(" ".join(words[a:b]))
    return pieces
