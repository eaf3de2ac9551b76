"""Choose a training snapshot by how it plays: issue 10's groove and feel figures against the
validation split's real beats.

Validation loss hardly moves late in a run while what the model plays still changes from one
validation to the next (pieces holding a kick or snare pattern for 4 bars: 16% to 40%
between snapshots 300 apart of one run), so ``drumrnn train --snapshots true`` keeps the
model of every validation and this script plays each (3 x 64 patterns of 8 bars,
temperature 1, no primer, seeds 100-102: not the seeds the benchmarks report; in beat mode
with the labels unknown, in beat mode with the labels of validation pieces (style and tempo,
written at that tempo), and with the fill label) and measures it with
``drumrnn.measure.compare.figures`` beside the validation beats and fills. It picks the
snapshot that meets most of the targets below, then (a tie) the one with the lowest
validation loss: a share of 192 pieces moves a point or two by chance, the
loss does not. The test split is not looked at. Offer it a few runs, not dozens: the more
snapshots it sees, the more the winner's margins are validation noise.

Run: ``python tools/pick_snapshot.py RUN/snapshots/*.npz --data data/gmd [--copy-to FILE]``
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from drumrnn.generation.generate import DrumGenerator, GenerateConfig
from drumrnn.measure.compare import (
    TOMS,
    cut_pieces,
    figures,
    hits_per_bar,
    kind_subsets,
    label_mix,
    load_patterns,
    patterns_from_hits,
    play_label_mix,
)
from drumrnn.model.model_file import load_model_file

SEEDS = (100, 101, 102)
SHOWN = {"similarity to the bar before": "bar sim", "pieces holding a kick or snare pattern":
         "holding", "pieces without a groove bar": "no groove", "hits per bar": "hits",
         "closed hi-hat hits per bar": "hi-hat", "labelled: closed hi-hat hits per bar":
         "hi-hat, labels given", "labelled: ride hits per bar": "ride, labels given",
         "kick on beat 1": "kick on 1", "feel sd between pieces (ms)": "feel sd",
         "labelled: feel sd between pieces (ms)": "feel sd, labels given",
         "timing sd within a drum and bar position (ms)": "timing sd",
         "fill: tom hits per bar": "fill toms", "fill: snare hits per bar": "fill snare"}
VELOCITY = ("kick velocity sd", "snare velocity sd", "closed hi-hat velocity sd")


def targets(real: dict, fill_bars: dict) -> dict:
    """Issue 10's targets, the relative ones against ``real`` (the reference beats) and
    ``fill_bars`` (tom and snare hits of each reference fill bar)."""
    out = {"similarity to the bar before": lambda x: x >= 0.55,
           "pieces holding a kick or snare pattern": lambda x: x >= 0.30,
           "pieces without a groove bar": lambda x: x <= 0.15,
           "kick on beat 1": lambda x: x >= 0.70,
           # in ms at the reference pieces' tempos, as the real figure is
           "labelled: feel sd between pieces (ms)": lambda x: x >= 8,
           "timing sd within a drum and bar position (ms)": lambda x: x >= 20}
    for key in ("hits per bar", "closed hi-hat hits per bar"):
        out[key] = lambda x, r=real[key]: abs(x - r) <= 0.15 * r
    # the style label steers: with the reference's labels, its hi-hat
    key = "closed hi-hat hits per bar"
    out["labelled: " + key] = lambda x, r=real[key]: abs(x - r) <= 0.15 * r
    for key in VELOCITY:
        out[key] = lambda x, r=real[key]: x >= 0.8 * r
    for name, hits in fill_bars.items():  # with the fill label: inside the real fill bars' IQR
        lo, hi = np.percentile(hits, [25, 75])
        out[f"fill: {name} hits per bar"] = lambda x, lo=lo, hi=hi: lo <= x <= hi
    return out


def play(path: Path, mix: list, bars: int = 8, patterns: int = 64) -> dict:
    """The mean figures of a model over :data:`SEEDS`: beat mode; beat mode with the labels
    of ``mix`` ((style, tempo) per pattern, :func:`~drumrnn.measure.compare.label_mix`;
    ``labelled: ...``); and the fill label (``fill: ...``)."""
    generator = DrumGenerator(load_model_file(path))

    plays = {"": lambda seed: generator.generate(GenerateConfig(bars=bars, num=patterns,
                                                                seed=seed, kind="beat")),
             "labelled: ": lambda seed: play_label_mix(generator, mix, bars, seed),
             "fill: ": lambda seed: generator.generate(GenerateConfig(bars=bars, num=patterns,
                                                                      seed=seed, kind="fill"))}
    out = {}
    for prefix, make in plays.items():
        runs = [figures(patterns_from_hits(path.name, make(seed)), piece_bars=bars)
                for seed in SEEDS]
        out.update({prefix + key: float(np.mean([r[key] for r in runs])) for key in runs[0]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("snapshots", type=Path, nargs="+", help="model files of one run")
    parser.add_argument("--data", type=Path, required=True, help="the prepared dataset")
    parser.add_argument("--copy-to", type=Path, default=None, help="copy the chosen file here")
    args = parser.parse_args()
    validation = kind_subsets(load_patterns(args.data, "validation"))
    real = figures(validation["beat"], piece_bars=8)
    pieces = cut_pieces(validation["beat"], 8)
    checks = targets(real, {name: hits_per_bar(validation["fill"], drums)
                            for name, drums in (("tom", TOMS), ("snare", ("snare",)))})
    print("| snapshot | " + " | ".join(SHOWN.values()) + " | validation loss | targets met |")
    print("|---|" + "---|" * (len(SHOWN) + 2))
    shown_real = [real.get(k.removeprefix("labelled: ")) for k in SHOWN]  # fills: no bar
    print("| real validation beats | " + " | ".join("" if r is None else f"{r:.2f}"
                                                    for r in shown_real) + " | | |")
    scored = []
    for path in sorted(args.snapshots):
        labels = DrumGenerator(load_model_file(path)).labels
        figs = play(path, label_mix(pieces, 64, labels.styles))
        met = sum(bool(check(figs[key])) for key, check in checks.items())
        loss = load_model_file(path).header["metrics"]["val_loss"]
        scored.append((met, -loss, path))
        name = f"{path.parent.parent.name}/{path.name}" if path.parent.name == "snapshots" \
            else path.name
        print(f"| {name} | " + " | ".join(f"{figs[k]:.2f}" for k in SHOWN)
              + f" | {loss:.4f} | {met} of {len(checks)} |", flush=True)
    met, _, chosen = max(scored, key=lambda s: s[:2])
    print(f"\nchosen: {chosen} ({met} of {len(checks)} targets met on validation)")
    if args.copy_to:
        shutil.copyfile(chosen, args.copy_to)


if __name__ == "__main__":
    main()
