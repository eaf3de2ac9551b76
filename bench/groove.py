"""Does the model groove? Issue 10's "Targets" table: a model against real drumming.

Generates ``--sets`` sets of ``--patterns`` x ``--bars`` bars (beat mode, temperature 1, no
primer, seeds 0-9 by default: about 8 minutes), pooled, and measures them with
``drumrnn.measure.compare.figures`` beside the GMD test split's beats (cut into pieces of
``--bars`` bars) and fills (as they are), against issue 10's targets. When the generator
takes a kind label (a ``kind`` field of GenerateConfig), it also generates with the fill
label (tom and snare hits per bar against the real fills' interquartile range) and with
``fill_every=4`` (bar 5 against bar 3); otherwise those rows say n/a. The copy check: the
share of generated 4-bar runs found verbatim in the train split (the test split's own share
beside it). A model that reads style labels is also played with the test beats' tempos (each
pattern generated with the tempo label of one test piece, style unknown, and written at that
tempo) and with their styles and tempos, beside the first column's unknown labels (120 bpm).
``--write`` puts the table into RESULTS.md's ``groove`` section (atomically).

Run: ``python bench/groove.py [--model FILE] [--write]``
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from common import DEFAULT_GROOVE, REPO, machine, require_groove, write_section

from drumrnn.data.dataset import PrepareConfig, prepare
from drumrnn.generation.generate import DrumGenerator, GenerateConfig, bundled_model_path
from drumrnn.measure.compare import (
    TOMS,
    PatternSet,
    copied_share,
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

NA = "n/a"
SETS = 10  # pooled sets of patterns: 3 x 64 left the figures a few points to chance
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
    hits = []
    for seed in seeds(args):
        hits += generator.generate(GenerateConfig(bars=args.bars, num=args.patterns, seed=seed,
                                                  **labels))
    return patterns_from_hits("model", hits)


def seeds(args) -> range:
    """The seeds of the ``--sets`` sets of patterns, pooled into one set."""
    return range(args.seed, args.seed + args.sets)


def generate_mix(generator: DrumGenerator, args, mix: list, name: str) -> object:
    """The patterns of :func:`label_mix` (beat mode), over the seeds, as one set."""
    hits = [h for seed in seeds(args) for h in play_label_mix(generator, mix, args.bars, seed)]
    return patterns_from_hits(name, hits)


def steering(generator: DrumGenerator, args, train_beats, test_beats, styles) -> list[str]:
    """Table rows: closed hi-hat and ride hits per bar with each style label, beside the
    real beats of that style (train and test): whether the label makes a funk groove funk."""
    rows = []
    for style in styles:
        sets = [generate(generator, args, kind="beat", style=style)] + [
            of_style(real, style) for real in (train_beats, test_beats)]
        cells = [num(float(hits_per_bar(s, (drum,)).mean()))
                 for s in sets for drum in ("closed hi-hat", "ride")]
        rows.append(f"| {style} | " + " | ".join(cells) + " |")
    return rows


def styled_hi_hat(train_beats, styles: Counter) -> float:
    """Closed hi-hat hits per bar of a model true to the train beats of each style, playing
    ``styles`` (style -> patterns; unknown: all the train beats)."""
    def per_bar(style):
        beats = train_beats if style is None else of_style(train_beats, style)
        return float(hits_per_bar(beats, ("closed hi-hat",)).mean())
    return sum(k * per_bar(style) for style, k in styles.items()) / sum(styles.values())


def of_style(patterns, style: str):
    """The pieces of ``patterns`` with that style label."""
    return PatternSet(style, [p for p in patterns.pieces if p.style == style])


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
    parser.add_argument("--sets", type=int, default=SETS,
                        help="sets of --patterns patterns (seeds seed, seed + 1, ...), pooled: "
                             "one set of 64 leaves a share like 'pieces holding a pattern' "
                             "+-6 points to chance; 3 sets still moved it by 7 points")
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
        valid_beats = kind_subsets(load_patterns(data, "validation"))["beat"]
        labels = generator.labels
    beats, fills = test["beat"], test["fill"]
    mix = (label_mix(cut_pieces(beats, args.bars), args.patterns, labels.styles)
           if labels is not None and not args.style else None)
    styles_of_mix = Counter(style for style, _ in mix or [])
    tempos = np.array([t for _, t in mix or [] if t is not None])
    beat_labels = {"kind": "beat"} if "kind" in generator_options() else {}
    model = generate(generator, args, **beat_labels)
    # with the test pieces' tempos alone (style unknown), and with their styles too
    matched = [generate_mix(generator, args, [(None, t) for _, t in mix], "test tempos"),
               generate_mix(generator, args, mix, "test labels")] if mix else []
    fill_mode = generate(generator, args, kind="fill")
    fill_every = generate(generator, args, kind="beat", fill_every=4)
    # the test's five largest styles (by pieces of its beats) that the model knows
    styles = [s for s, _ in styles_of_mix.most_common() if s][:5]
    train_beats = kind_subsets(train)["beat"]
    steer = steering(generator, args, train_beats, beats, styles)
    train_fig = figures(train_beats, piece_bars=args.bars, seed=args.seed)
    valid_hh = float(hits_per_bar(valid_beats, ("closed hi-hat",)).mean())
    faithful = styled_hi_hat(train_beats, styles_of_mix) if mix else None

    fig = figures(model, piece_bars=args.bars, seed=args.seed)
    mfigs = [figures(m, piece_bars=args.bars, seed=args.seed) for m in matched]
    real = figures(beats, piece_bars=args.bars, seed=args.seed)
    # the same offsets (as shares of a step) in ms as if every piece were played at 120 bpm
    at_120 = figures(PatternSet("at 120", [dataclasses.replace(p, qpm=120.0)
                                           for p in beats.pieces]), piece_bars=args.bars)
    real_fills = figures(fills, piece_bars=args.bars, seed=args.seed)
    fill_fig = figures(fill_mode, piece_bars=args.bars) if fill_mode else None
    every_fig = figures(fill_every, piece_bars=args.bars) if fill_every else None
    copied = copied_share(model, train)
    test_copied = copied_share(cut_pieces(beats, args.bars), train)

    rows = []
    matched_copied = [copied_share(m, train) for m in matched]

    def row(name, got, beat, fill, target, ok, fmt=num, also=()):
        """``also``: the figures of the label-matched patterns (judged too, where given)."""
        judged = verdict(None if ok is None else ok(got))
        if matched:
            if also and ok is not None:
                judged += "".join(" / " + verdict(ok(x)) for x in also)
            shown = " | ".join(fmt(x) for x in (got, *(also or [None] * len(matched))))
        else:
            shown = fmt(got)
        rows.append(f"| {name} | {shown} | {fmt(beat)} | {fmt(fill)} | {target} | {judged} |")

    def fig_row(name, key, target, ok, fmt=num):
        row(name, fig[key], real[key], real_fills[key], target, ok, fmt,
            [f[key] for f in mfigs])

    blank = "| " * (6 + len(matched)) + "|"
    rows.append(blank.replace("| ", "| **groove** (beat mode) ", 1))
    fig_row("a bar's similarity to the bar before (Jaccard of struck step x drum cells)",
            "similarity to the bar before", ">= 0.55", lambda x: x >= 0.55,
            lambda x: num(x, 3))  # a third digit: 0.547 is not 0.55
    fig_row("the same with a bar of another piece of equal hit count (control)",
            "similarity, density-matched control", "", None)
    fig_row("similarity beyond the control", "similarity beyond the control", "", None)
    fig_row("pieces where kick or snare holds a 1- or 2-bar pattern for >= 4 bars",
            "pieces holding a kick or snare pattern", ">= 30%", lambda x: x >= 0.30, pct)
    fig_row("pieces without a groove bar (hi-hat/ride on >= 4 eighths, snare on 2 or 4, kick)",
            "pieces without a groove bar", "<= 15%", lambda x: x <= 0.15, pct)
    for key in ("hits per bar", "closed hi-hat hits per bar", "ride hits per bar"):
        if key == "ride hits per bar":
            fig_row(key, key, "", None)
            continue
        lo, hi = 0.85 * real[key], 1.15 * real[key]
        fig_row(key, key, f"{lo:.1f}-{hi:.1f} (real beats +-15%)",
                lambda x, lo=lo, hi=hi: lo <= x <= hi)
    fig_row("bars with a kick on beat 1", "kick on beat 1", ">= 70%", lambda x: x >= 0.70, pct)
    row("4-bar runs found verbatim in the train split (real: the test beats')", copied,
        test_copied, None, "<= 2%", lambda x: x <= 0.02, pct, matched_copied)
    rows.append(blank.replace("| ", "| **feel** ", 1))
    ms = lambda x: num(x, 1)  # noqa: E731
    fig_row("timing sd of one drum at one bar position (ms)",
            "timing sd within a drum and bar position (ms)", ">= 20", lambda x: x >= 20, ms)
    fig_row("feel sd between pieces (sd of a piece's mean offset, ms)",
            "feel sd between pieces (ms)", ">= 8", lambda x: x >= 8, ms)
    fig_row("timing sd of all hits (ms)", "timing sd (ms)", "", None, ms)
    for drum in VELOCITY_DRUMS:
        key = f"{drum} velocity sd"
        least = 0.8 * real[key]
        fig_row(key, key, f">= {least:.1f} (0.8 x real beats)",
                lambda x, least=least: x >= least, ms)
    rows.append(blank.replace("| ", "| **fills** ", 1))
    fill_bars = {name: hits_per_bar(fills, drums) for name, drums in
                 (("tom", TOMS), ("snare", ("snare",)))}
    for name in ("tom", "snare"):
        key = f"{name} hits per bar"
        lo, hi = np.percentile(fill_bars[name], [25, 75])
        got = fill_fig[key] if fill_fig else None
        row(f"{name} hits per bar with the fill label", got, real[key], real_fills[key],
            f"{lo:g}-{hi:g} (real fill bars' quartiles)",
            None if got is None else (lambda x, lo=lo, hi=hi: bool(lo <= x <= hi)))
    key = "similarity of bar 5 to bar 3"
    got = every_fig[key] if every_fig else None
    row("similarity of bar 5 to bar 3 with a fill every 4 bars (beat mode: "
        f"{num(fig[key])})", got, real[key], None, f"{fig[key] - 0.1:.2f}-{fig[key] + 0.1:.2f} "
        "(beat mode +-0.1)", None if got is None else (lambda x: bool(abs(x - fig[key]) <= 0.1)))

    n_beats, n_fills = len(beats.pieces), len(fills.pieces)
    labels = sorted(generator_options() & {"style", "kind", "fill_every"})
    text = "\n".join([
        f"Model: `{model_path.name if args.model else 'bundled model'}`; {args.patterns} "
        f"patterns of {args.bars} bars x {args.sets} sets (seeds {args.seed}-"
        f"{args.seed + args.sets - 1}, pooled), beat mode, temperature 1, no primer"
        f" (label options of the generator: {', '.join(labels) or 'none'}). Real drumming: "
        f"the GMD test split, {n_beats} beat files cut into {args.bars}-bar pieces and "
        f"{n_fills} fill files as they are. Timing in ms at each piece's tempo "
        "(`drumrnn.measure.compare.figures` defines every figure): the test beats' offsets, "
        "played at 120 bpm, would give a timing sd within a drum and bar position of "
        f"{num(at_120['timing sd within a drum and bar position (ms)'], 1)} ms and a feel sd "
        f"between pieces of {num(at_120['feel sd between pieces (ms)'], 1)} ms. "
        "The train split's beats, "
        "which the model learns from, have " + ", ".join(
            f"{num(train_fig[key])} {key}" for key in (
                "hits per bar", "closed hi-hat hits per bar", "ride hits per bar"))
        + f" (the validation split's beats {num(valid_hh)} closed hi-hat hits per bar)"
        ": with the style unknown, a model true to them plays "
        f"{num(train_fig['closed hi-hat hits per bar'] / real['closed hi-hat hits per bar'])} x "
        "the test beats' closed hi-hat" + ("" if faithful is None else
                                             f"; with the test beats' styles, {num(faithful)} "
                                             "closed hi-hat hits per bar") + ".", "",
        *([f"Second and third model columns: {args.patterns} patterns (per set) that mirror "
           f"{args.patterns} of the test beats' pieces spread evenly over them, each written "
           "at that piece's tempo and generated with its tempo label (style unknown), or with "
           "its style and tempo labels (styles: "
           + ", ".join(f"{style or 'unknown'} {k}" for style, k in styles_of_mix.most_common())
           + (f"; tempos {tempos.min():.0f}-{tempos.max():.0f} bpm, median "
              f"{np.median(tempos):.0f}" if len(tempos) else "; tempos unknown")
           + "). The first column leaves style and tempo unknown, as `drumrnn generate` does "
           "by default: the training split's mix of styles (whose beats have fewer closed "
           "hi-hat and more ride hits than the test split's), written at 120 bpm, faster "
           "than most test beats, so that the same offsets (shares of a step) come out fewer "
           "ms. Met: labels unknown / test tempos / test labels.", ""] if matched else []),
        ("| figure | model, labels unknown (120 bpm) | model, test tempos | "
         "model, test labels | real beats (GMD test) | "
         "real fills (GMD test) | target | met |" if matched else
         "| figure | model | real beats (GMD test) | real fills (GMD test) | target | met |"),
        "|---|---|---|---|---|---|" + "---|" * len(matched), *rows, "",
        *(["Does the style label steer? Closed hi-hat and ride hits per bar with each style "
           f"label (beat mode, {args.patterns} x {args.bars} bars x {args.sets} sets) beside "
           "the real beats of that style:", "",
           "| style | model hi-hat | model ride | train beats hi-hat | train beats ride | "
           "test beats hi-hat | test beats ride |", "|---|---|---|---|---|---|---|", *steer, ""]
          if steer else []),
        f"Reproduce: `python bench/groove.py{' --model ' + str(args.model) if args.model else ''}"
        f"{f' --sets {args.sets}' if args.sets != SETS else ''} --write`. Machine: "
        + machine("numpy")])
    print(text)
    if args.write:
        write_section("groove", "## Groove, feel and fills\n\n" + text, REPO / "RESULTS.md")


if __name__ == "__main__":
    main()
