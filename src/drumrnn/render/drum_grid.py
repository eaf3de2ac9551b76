"""Draw drum hits as a grid picture: one row per kit class, one column per step, numbered
bars, louder hits darker. Long pieces wrap onto several lines of ``bars_per_line`` bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from drumrnn.core.atomic import atomic_path
from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import Kit
from drumrnn.data.steps import bar_start_steps, quantize

CELL_W, CELL_H, LABEL_W, GAP, NUMBER_H = 12, 16, 110, 14, 12
BACKGROUND, EMPTY, BEAT, LINE, TEXT = "#ffffff", "#eef0f3", "#dfe3e8", "#30343a", "#30343a"


def velocity_grid(hits: DrumHits, kit: Kit, steps_per_quarter: int, n_steps: int) -> np.ndarray:
    """(n_classes, n_steps) uint8: the loudest velocity of each class on each step, 0 = none."""
    grid = np.zeros((kit.n_classes, n_steps), dtype=np.uint8)
    classes = kit.classes_of(hits.pitches)
    steps, _ = quantize(hits.quarters, steps_per_quarter)
    keep = (classes >= 0) & (steps < n_steps)
    np.maximum.at(grid, (classes[keep], steps[keep]), hits.velocities[keep].astype(np.uint8))
    return grid


def draw_grid(hits: DrumHits, kit: Kit, path: str | Path, bars: int,
              steps_per_quarter: int = 4, bars_per_line: int = 8, title: str = "") -> Path:
    """Write a PNG drum grid of ``bars`` bars to ``path`` (atomically): a ``title`` line,
    then lines of ``bars_per_line`` bars, each bar numbered; bars follow the hits' meter."""
    from PIL import Image, ImageDraw

    longest = max(num * 4 / den for _, num, den in hits.time_map.time_signatures)
    starts = bar_start_steps(hits.time_map, bars * longest, steps_per_quarter)[:bars + 1]
    n_steps = int(starts[-1])
    grid = velocity_grid(hits, kit, steps_per_quarter, n_steps)
    used = [c for c in range(kit.n_classes) if kit.n_classes <= 12 or grid[c].any()] or [0]
    lines = [starts[i:i + bars_per_line + 1] for i in range(0, bars, bars_per_line)]
    line_steps = max(int(line[-1] - line[0]) for line in lines)
    top = 22 if title else 4
    line_h = NUMBER_H + len(used) * CELL_H + GAP
    image = Image.new("RGB", (max(LABEL_W + line_steps * CELL_W + 4, 8 * len(title) + 8),
                              top + len(lines) * line_h), BACKGROUND)
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((4, 4), title, fill=TEXT)
    for index, line in enumerate(lines):
        y0 = top + index * line_h + NUMBER_H
        first, width = int(line[0]), int(line[-1] - line[0])
        for row, c in enumerate(used):
            y = y0 + row * CELL_H
            draw.text((4, y + 2), kit.class_names[c][:16], fill=TEXT)
            for col in range(width):
                v = int(grid[c, first + col])
                x = LABEL_W + col * CELL_W
                if v:
                    shade = int(200 - 190 * v / 127)  # louder = darker
                    fill = (shade, int(shade * 0.85), 255 - int(0.6 * (255 - shade)))
                else:
                    fill = BEAT if (first + col) % steps_per_quarter == 0 else EMPTY
                draw.rectangle([x + 1, y + 1, x + CELL_W - 1, y + CELL_H - 1], fill=fill)
        for k, start in enumerate(line):
            x = LABEL_W + int(start - first) * CELL_W
            draw.line([x, y0, x, y0 + len(used) * CELL_H], fill=LINE, width=2)
            if k + 1 < len(line):
                draw.text((x + 3, y0 - NUMBER_H), str(index * bars_per_line + k + 1), fill=TEXT)
    path = Path(path)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
    return path
