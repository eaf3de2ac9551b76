"""Does the model groove? Issue 10's "Targets" table: a model against real drumming.

Generates ``--patterns`` x ``--bars`` bars (beat mode, temperature 1, no primer, seed 0) and
measures them with ``drumrnn.measure.compare.figures`` beside the GMD test split's beats (cut
into pieces of ``--bars`` bars) and fills (as they are), against issue 10's targets. When the
generator takes a kind label (a ``kind`` field of GenerateConfig), it also generates with the
fill label (tom and snare hits per bar against the real fills' interquartile range) and with
``fill_every=4`` (bar 5 against bar 3); otherwise those rows say n/a. The copy check: the
share of generated 4-bar runs found verbatim in the train split (the test split's own share
beside it). ``--write`` puts the table into RESULTS.md's ``groove`` section (atomically).

Run: ``python bench/groove.py [--model FILE] [--write]``
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import DEFAULT_GROOVE, REPO, machine, require_groove, write_section

from drumrnn.data.dataset import PrepareConfig, prepare
from drumrnn.generation.generate import DrumGenerator, GenerateConfig, bundled_model_path
from drumrnn.measure.compare import (
    TOMS,
    copied_share,
    cut_pieces,
    figures,
    hits_per_bar,
    kind_subsets,
    load_patterns,
    patterns_from_hits,
)
from drumrnn.model.model_file import load_model_file

NA = "n/a"
VELOCITY_DRUMS = ("kick", "snare", "closed hi-hat")  # the targets


def generator_options() -> set[str]:
    """The GenerateConfig fields this version has (the feature check for labels)."""
    return {f.name for f in dataclasses.fields(GenerateConfig)}


def generate(generator: DrumGenerator, args, **labels) -> object | None:
    """64 x 8 bars as a pattern set, or None when the generator lacks one of ``labels``."""
    options = generator_options()
    if any(name not in options for name in labels):
        return None
    if args.style:
        labels["style"] = args.style
    config = GenerateConfig(bars=args.bars, num=args.patterns, seed=args.seed, **labels)
    return patterns_from_hits("model", generator.generate(config))


def pct(x: float) -> str:
    return NA if x is None or np.isnan(x) else f"{x:.0%}"


def num(x: float, digits: int = 2) -> str:
    return NA if x is None or np.isnan(x) else f"{x:.{digits}f}"


def verdict(ok: bool | None) -> str:
    return NA if ok is None else ("yes" if ok else "**no**")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="default: the bundled model")
    parser.add_argument("--groove", type=Path, default=DEFAULT_GROOVE)
    parser.add_argument("--patterns", type=int, default=64)
    parser.add_argument("--bars", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--style", default=None, help="style label, when the model takes one")
    parser.add_argument("--write", action="store_true", help="write the table into RESULTS.md")
    args = parser.parse_args()
    groove = require_groove(args.groove)
    if args.style and "style" not in generator_options():
        sys.exit("--style: this version's generator takes no style label")
    model_path = args.model or bundled_model_path()
    generator = DrumGenerator(load_model_file(model_path))

    with tempfile.TemporaryDirectory(prefix="drumrnn-groove-") as tmp:
        data = prepare(groove, Path(tmp) / "data", PrepareConfig()).out
        test = kind_subsets(load_patterns(data, "test"))
        train = load_patterns(data, "train")
    beats, fills = test["beat"], test["fill"]
    beat_labels = {"kind": "beat"} if "kind" in generator_options() else {}
    model = generate(generator, args, **beat_labels)
    fill_mode = generate(generator, args, kind="fill")
    fill_every = generate(generator, args, kind="beat", fill_every=4)

    fig = figures(model, piece_bars=args.bars, seed=args.seed)
    real = figures(beats, piece_bars=args.bars, seed=args.seed)
    real_fills = figures(fills, piece_bars=args.bars, seed=args.seed)
    fill_fig = figures(fill_mode, piece_bars=args.bars) if fill_mode else None
    every_fig = figures(fill_every, piece_bars=args.bars) if fill_every else None
    copied = copied_share(model, train)
    test_copied = copied_share(cut_pieces(beats, args.bars), train)

    rows = []

    def row(name, got, beat, fill, target, ok, fmt=num):
        rows.append(f"| {name} | {fmt(got)} | {fmt(beat)} | {fmt(fill)} | {target} | "
                    f"{verdict(ok)} |")

    def share_row(name, key, target, ok):
        row(name, fig[key], real[key], real_fills[key], target, ok(fig[key]), pct)

    rows.append("| **groove** (beat mode) | | | | | |")
    key = "similarity to the bar before"
    row("a bar's similarity to the bar before (Jaccard of struck step x drum cells)",
        fig[key], real[key], real_fills[key], ">= 0.55", fig[key] >= 0.55)
    key = "similarity, density-matched control"
    row("the same with a bar of another piece of equal hit count (control)", fig[key],
        real[key], real_fills[key], "", None)
    key = "similarity beyond the control"
    row("similarity beyond the control", fig[key], real[key], real_fills[key], "", None)
    share_row("pieces where kick or snare holds a 1- or 2-bar pattern for >= 4 bars",
              "pieces holding a kick or snare pattern", ">= 30%", lambda x: x >= 0.30)
    share_row("pieces without a groove bar (hi-hat/ride on >= 4 eighths, snare on 2 or 4, kick)",
              "pieces without a groove bar", "<= 15%", lambda x: x <= 0.15)
    for key, name in (("hits per bar", "hits per bar"),
                      ("closed hi-hat hits per bar", "closed hi-hat hits per bar")):
        lo, hi = 0.85 * real[key], 1.15 * real[key]
        row(name, fig[key], real[key], real_fills[key], f"{lo:.1f}-{hi:.1f} (real beats +-15%)",
            lo <= fig[key] <= hi)
    share_row("bars with a kick on beat 1", "kick on beat 1", ">= 70%", lambda x: x >= 0.70)
    row("4-bar runs found verbatim in the train split (real: the test beats')", copied,
        test_copied, None, "<= 2%", copied <= 0.02, pct)
    rows.append("| **feel** | | | | | |")
    key = "timing sd within a drum and bar position (ms)"
    row("timing sd of one drum at one bar position (ms)", fig[key], real[key], real_fills[key],
        ">= 20", fig[key] >= 20, lambda x: num(x, 1))
    key = "feel sd between pieces (ms)"
    row("feel sd between pieces (sd of a piece's mean offset, ms)", fig[key], real[key],
        real_fills[key], ">= 8", fig[key] >= 8, lambda x: num(x, 1))
    key = "timing sd (ms)"
    row("timing sd of all hits (ms)", fig[key], real[key], real_fills[key], "", None,
        lambda x: num(x, 1))
    for drum in VELOCITY_DRUMS:
        key = f"{drum} velocity sd"
        row(f"{drum} velocity sd", fig[key], real[key], real_fills[key],
            f">= {0.8 * real[key]:.1f} (0.8 x real beats)", fig[key] >= 0.8 * real[key],
            lambda x: num(x, 1))
    rows.append("| **fills** | | | | | |")
    fill_bars = {name: hits_per_bar(fills, drums) for name, drums in
                 (("tom", TOMS), ("snare", ("snare",)))}
    for name in ("tom", "snare"):
        key = f"{name} hits per bar"
        lo, hi = np.percentile(fill_bars[name], [25, 75])
        got = fill_fig[key] if fill_fig else None
        row(f"{name} hits per bar with the fill label", got, real[key], real_fills[key],
            f"{lo:g}-{hi:g} (real fill bars' quartiles)",
            None if got is None else bool(lo <= got <= hi))
    key = "similarity of bar 5 to bar 3"
    got = every_fig[key] if every_fig else None
    row("similarity of bar 5 to bar 3 with a fill every 4 bars (beat mode: "
        f"{num(fig[key])})", got, real[key], None, f"{fig[key] - 0.1:.2f}-{fig[key] + 0.1:.2f} "
        "(beat mode +-0.1)", None if got is None else bool(abs(got - fig[key]) <= 0.1))

    n_beats, n_fills = len(beats.pieces), len(fills.pieces)
    labels = sorted(generator_options() & {"style", "kind", "fill_every"})
    text = "\n".join([
        f"Model: `{model_path.name if args.model else 'bundled model'}`; {args.patterns} "
        f"patterns of {args.bars} bars, beat mode, temperature 1, no primer, seed {args.seed}"
        f" (label options of the generator: {', '.join(labels) or 'none'}). Real drumming: "
        f"the GMD test split, {n_beats} beat files cut into {args.bars}-bar pieces and "
        f"{n_fills} fill files as they are. Timing in ms at each piece's tempo "
        "(`drumrnn.measure.compare.figures` defines every figure).", "",
        "| figure | model | real beats (GMD test) | real fills (GMD test) | target | met |",
        "|---|---|---|---|---|---|", *rows, "",
        f"Reproduce: `python bench/groove.py{' --model ' + str(args.model) if args.model else ''}"
        " --write`. Machine: " + machine("numpy")])
    print(text)
    if args.write:
        write_section("groove", "## Groove, feel and fills\n\n" + text, REPO / "RESULTS.md")


if __name__ == "__main__":
    main()
