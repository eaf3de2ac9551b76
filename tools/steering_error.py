"""How well a model's style label steers its cymbals, against the training data.

Plays each of six styles (beat mode, temperature 1, no primer, ``--sets`` x 64 patterns of 8
bars, seeds 0..) and compares its closed hi-hat and ride hits per bar with the **train**
split's beats of that style, what the model learns from (the test split is not looked at).
The steering error is the mean over the styles of |hi-hat - real| + |ride - real|; single
snapshots swing by about 0.3, so compare runs by the mean over several snapshots.

Run: ``python tools/steering_error.py MODEL.npz [MODEL.npz ...] --data data/gmd``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from drumrnn.generation.generate import DrumGenerator, GenerateConfig
from drumrnn.measure.compare import (
    PatternSet,
    hits_per_bar,
    kind_subsets,
    load_patterns,
    patterns_from_hits,
)
from drumrnn.model.model_file import load_model_file

STYLES = ("funk", "hiphop", "jazz", "rock", "soul", "latin")
CYMBALS = ("closed hi-hat", "ride")


def cymbals(patterns: PatternSet) -> np.ndarray:
    """Closed hi-hat and ride hits per bar."""
    return np.array([hits_per_bar(patterns, (drum,)).mean() for drum in CYMBALS])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--data", type=Path, required=True, help="a prepared GMD folder")
    parser.add_argument("--sets", type=int, default=2, help="sets of 64 patterns per style")
    args = parser.parse_args()
    beats = kind_subsets(load_patterns(args.data, "train"))["beat"]
    real = {s: cymbals(PatternSet(s, [p for p in beats.pieces if p.style == s]))
            for s in STYLES}
    print("train beats (hi-hat/ride): "
          + " ".join(f"{s} {h:.2f}/{r:.2f}" for s, (h, r) in real.items()))
    for path in args.models:
        generator = DrumGenerator(load_model_file(path))
        played = {s: cymbals(patterns_from_hits(s, [
            hits for seed in range(args.sets)
            for hits in generator.generate(GenerateConfig(bars=8, num=64, seed=seed, style=s))]))
            for s in STYLES}
        error = np.mean([np.abs(played[s] - real[s]).sum() for s in STYLES])
        print(f"{path}: steering error {error:.2f} | "
              + " ".join(f"{s} {h:.2f}/{r:.2f}" for s, (h, r) in played.items()))


if __name__ == "__main__":
    main()
