"""Write the small example drum MIDI files in examples/midi (run once; the files are committed).

Eight short grooves of our own making, written with drumrnn's own MIDI writer: enough for the
quick start's `drumrnn prepare` to show a complete dataset without downloading anything.
"""

from pathlib import Path

import numpy as np

from drumrnn.data.hits import DrumHits
from drumrnn.data.timing import TimeMap
from drumrnn.render.midi_write import write_midi

# One line per drum, one character per 16th step: x = hit, o = accent, . = rest.
PATTERNS = {
    "rock_4-4": (120, (4, 4), {36: "x.......x.x.....", 38: "....o.......o...",
                              42: "x.x.x.x.x.x.x.x."}),
    "funk_4-4": (96, (4, 4), {36: "x..x......x..x..", 38: "....o..x.x..o...",
                             42: "xxxxxxxxxxxxxxxx"}),
    "disco_4-4": (124, (4, 4), {36: "x...x...x...x...", 38: "....o.......o...",
                               42: "x.x.x.x.x.x.x.x.", 46: "..x...x...x...x."}),
    "halftime_4-4": (140, (4, 4), {36: "x.........x.....", 38: "........o.......",
                                  51: "x.x.x.x.x.x.x.x."}),
    "waltz_3-4": (150, (3, 4), {36: "x...........", 38: "....x...x...", 42: "x.x.x.x.x.x."}),
    # 12/8: one character per 8th note.
    "shuffle_12-8": (80, (12, 8), {36: "x.....x.....", 38: "...o.....o..",
                                   42: "xxxxxxxxxxxx"}),
    "fill_4-4": (110, (4, 4), {38: "x.x.xxx.........", 50: "........x.x.....",
                              45: "............x.x."}),
    "bossa_4-4": (130, (4, 4), {36: "x..xx..xx..xx..x", 37: "x..x..x...x..x..",
                               42: "x.x.x.x.x.x.x.x."}),
}


def groove_hits(qpm: float, signature: tuple[int, int], lines: dict[int, str],
                bars: int = 8, seed: int = 0) -> DrumHits:
    """Repeat a one-bar pattern with a little human velocity and timing variation."""
    rng = np.random.default_rng(seed)
    steps_per_quarter = 4 if signature[1] == 4 else 2
    quarters, pitches, velocities = [], [], []
    bar_quarters = signature[0] * 4 / signature[1]
    for bar in range(bars):
        for pitch, line in lines.items():
            for step, char in enumerate(line):
                if char == ".":
                    continue
                base = 110 if char == "o" else 85 - 15 * (step % 2)
                quarters.append(bar * bar_quarters + step / steps_per_quarter
                                + rng.normal(0, 0.01))
                pitches.append(pitch)
                velocities.append(int(np.clip(base + rng.normal(0, 6), 30, 127)))
    quarters = np.clip(quarters, 0, None)
    time_map = TimeMap(((0.0, float(qpm)),), ((0.0, *signature),))
    return DrumHits(quarters, pitches, velocities, time_map, bars * bar_quarters)


def main() -> None:
    out = Path(__file__).parent / "midi"
    out.mkdir(exist_ok=True)
    for seed, (name, (qpm, signature, lines)) in enumerate(PATTERNS.items()):
        hits = groove_hits(qpm, signature, lines, seed=seed)
        write_midi(hits, out / f"{name}_{qpm}bpm.mid", track_name=name)


if __name__ == "__main__":
    main()
