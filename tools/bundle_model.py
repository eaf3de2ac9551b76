"""Ship a trained model inside the package: float16 weights and a model card.

Run: ``python tools/bundle_model.py runs/presets/default/model.npz --command "..."
--data data/gmd --limits LIMITS.md`` writes ``src/drumrnn/models/default.npz`` and ``MODEL_CARD.md``
(repository root); ``--data`` (the prepared GMD) adds the test figures with labels given and
unknown and the feel heads' likelihood against the per-position profile; ``--limits`` a
markdown file with the measured Limits section.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from drumrnn.core.atomic import write_text_atomic
from drumrnn.data.dataset import load_dataset
from drumrnn.measure.evaluate import evaluate_model
from drumrnn.model.model_file import content_header, describe, load_model_file, save_model_file

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "src/drumrnn/models/default.npz"


def _row(label: str, metrics: dict, prefix: str) -> str:
    names = ("loss", "perplexity", "accuracy", "event_accuracy", "no_event_accuracy")
    cells = [f"{metrics[f'{prefix}_{n}']:.3f}" for n in names]
    return f"| {label} | " + " | ".join(cells) + " |"


WHAT_PROFILE = """Velocities and the average
microtiming of generated hits come from a profile learned from the same training data (mean
and spread by drum and position in the bar); the network itself predicts only which drums
play on each step."""

WHAT_CONDITIONED = """It reads three labels of the piece at every step
(embeddings of size {cfg.labels}): its style (the GMD's 18 top-level styles), beat or fill, and
its tempo bucket; each was replaced by "unknown" in {dropout:.0%} of the training windows, so
any may be left out. Its feel heads (hidden size {cfg.feel}) give, for every drum struck on the
step just chosen, a distribution over {cfg.feel_bins} velocity bins and {cfg.feel_bins} bins of
offset from the grid, from the network's output and the drums struck; generation samples
from them (and uniformly inside the bin), and the network reads the previous step's
velocities and offsets{context}, so a piece keeps its own push, pull and dynamics. Without a
primer it starts from one silent step and predicts the first step from the labels.{ago}"""

CONTEXT = """ and the piece's running feel (a mean of its struck drums' velocities and offsets so
far, recent hits weighted more: half-life about two bars)"""

BAR_AGO = """ It also reads
the steps one and two bars before the step it predicts (through its token embedding)."""

BAR_COPY = """ Copy gates, numbers it computes at every
step, are added to the scores of exactly those two steps and, drum by drum, to every step
that agrees with them on that drum (and taken from those that do not), so that holding a
pattern, or only its kick, takes one confident number. Training windows start from a zero
state and see nothing before their first step (no bar-ago step, lookback flag or running
feel from before it), as a generated piece sees nothing before its start."""

PIECE_STARTS = """ {share:.0%} of them
began at a bar line after a silent lead step, exactly as an unprimed piece begins, so that
it learned to open a piece from its labels alone."""

DEFAULT_LIMITS = """- It learned from one kit (Roland TD-11) played by 10 drummers, mostly rock, funk, jazz,
  latin and hip-hop grooves; 99% of the GMD is in 4/4 (12 of 1,150 files are not), so other
  meters are played as well as the table under "Other meters" shows."""


def _conditioned_section(model, data: Path) -> str:
    """Test figures with labels given and unknown, and the feel NLL against the profile."""
    dataset = load_dataset(data)
    given = evaluate_model(model, dataset, "test")
    lines = ["", "Test split, whole tracks from a zero state (`drumrnn evaluate`):", "",
             "| labels | loss (nats/step) | perplexity | accuracy | event accuracy |",
             "|---|---|---|---|---|"]
    results = [("each track's own", given)]
    if model.config.labels:
        results.append(("all unknown", evaluate_model(model, dataset, "test", labels="unknown")))
    for name, r in results:
        lines.append(f"| {name} | {r['loss']:.3f} | {r['perplexity']:.3f} | {r['accuracy']:.3f}"
                     f" | {r['event_accuracy']:.3f} |")
    if "feel" in given:
        f = given["feel"]
        lines += ["", f"Feel, per struck drum of the test split ({f['hits']:,} hits; the real "
                  "next steps given; nats in the heads' bins):", "",
                  "| | velocity NLL | offset NLL |", "|---|---|---|",
                  f"| feel heads | {f['velocity_nll']:.3f} | {f['offset_nll']:.3f} |",
                  f"| per-position profile (training histogram per drum and bar position) | "
                  f"{f['profile_velocity_nll']:.3f} | {f['profile_offset_nll']:.3f} |"]
    return "\n".join(lines) + "\n"


METERS = ((4, 4), (3, 4), (6, 8), (5, 4), (7, 8))
METER_NOTES = """\
Measured on the model bundled on 2026-11-30, trained with piece starts (re-measure after
retraining): in 3/4, 6/8, 5/4 and 7/8 it kept the bar lines it was given about as well as in
4/4 (kick on beat 1 in 66-76% of bars against 68%) at about the same density per quarter
note (4.3-4.6 hits against 4.6), with 1% empty bars in 3/4 and 6/8 and none elsewhere. 3/4
and 6/8 are the same 12 steps to the network: nothing tells it to accent 6/8 in two."""


def meter_section(model_path: Path, num: int = 64, bars: int = 8, seed: int = 0) -> str:
    """A markdown table: how the model plays each meter of :data:`METERS`, unprimed, at
    temperature 1 (``num`` patterns of ``bars`` bars each, seed ``seed``)."""
    from drumrnn.data.steps import encode_steps
    from drumrnn.generation.generate import DrumGenerator, GenerateConfig

    generator = DrumGenerator.load(model_path)
    kit, cfg = generator.kit, generator.steps_config
    kick = kit.classes_of(np.array([36]))[0]
    rows = []
    for meter in METERS:
        config = GenerateConfig(bars=bars, num=num, seed=seed, time_signature=meter)
        starts = generator.bar_starts(generator.time_map(config), bars)
        empty = hits = kick_one = busy = 0
        for pattern in generator.generate(config):
            steps = encode_steps(pattern, kit, cfg).tokens
            for a, b in zip(starts[:-1], starts[1:]):
                bar = steps[a:b]
                struck = bar[bar > 0]
                empty += not len(struck)
                busy += len(struck)
                hits += sum(bin(int(t)).count("1") for t in struck)
                kick_one += bool(len(bar) and bar[0] >> kick & 1)
        n_bars, quarters = num * bars, meter[0] * 4 / meter[1]
        rows.append(f"| {meter[0]}/{meter[1]} | {100 * empty / n_bars:.1f} | "
                    f"{hits / n_bars:.1f} | {hits / n_bars / quarters:.1f} | "
                    f"{100 * busy / (n_bars * (starts[1] - starts[0])):.0f} | "
                    f"{100 * kick_one / n_bars:.0f} |")
    return "\n".join([
        f"Unprimed, temperature 1, {num} patterns of {bars} bars per meter (seed {seed}; "
        "`python tools/bundle_model.py --meters`). Real GMD drumming (4/4): 19.2 hits per bar, "
        "4.8 per quarter note, kick on beat 1 in 82% of bars.", "",
        "| meter | empty bars (%) | hits per bar | hits per quarter | steps struck (%) "
        "| kick on beat 1 (%) |", "|---|---|---|---|---|---|", *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, nargs="?", help="a trained model.npz")
    parser.add_argument("--command",
                        help="the exact commands that trained the model (for the card)")
    parser.add_argument("--data", type=Path, default=None,
                        help="the prepared GMD: test figures with labels given / unknown, feel")
    parser.add_argument("--limits", type=Path, default=None,
                        help="a markdown file with the card's Limits section (measured figures)")
    parser.add_argument("--meters", action="store_true",
                        help="only print the other-meters table of the bundled model")
    args = parser.parse_args()
    if args.meters:
        print(meter_section(TARGET))
        return
    if args.model is None or args.command is None:
        parser.error("give a model file and --command (or --meters)")
    model = load_model_file(args.model)
    # the dataset path of the training machine means nothing to users
    dataset = {**model.header.get("dataset", {}), "path": "Groove MIDI Dataset v1.0.0"}
    header = {**content_header(model.header), "dataset": dataset}
    if "test_loss" not in header["metrics"]:  # a snapshot: training measured validation only
        if args.data is None:
            parser.error("this model file has no test metrics: give --data")
        test = evaluate_model(model, load_dataset(args.data), "test")
        header["metrics"] = {**header["metrics"], **{
            f"test_{k}": test[k] for k in ("loss", "perplexity", "accuracy", "event_accuracy",
                                           "no_event_accuracy")}}
    save_model_file(TARGET, header, model.weights, dtype=np.float16)
    bundled = load_model_file(TARGET)
    m, cfg = bundled.header["metrics"], bundled.config
    conditioned = _conditioned_section(bundled, args.data) if args.data else ""
    limits = args.limits.read_text(encoding="utf-8").strip() if args.limits else DEFAULT_LIMITS
    starts = bundled.header["training"].get("piece_starts", 0.0)
    card = f"""# Model card: drumrnn's bundled drummer

`src/drumrnn/models/default.npz` ({TARGET.stat().st_size / 1e6:.1f} MB, float16 weights) is the
model `drumrnn generate` uses when no `--model` is given.

## What it is
A next-step language model over 16th-note drum steps: each step is the set of drum classes
struck (Magenta's 9-piece kit, 512 possible steps). {cfg.layers} x {cfg.hidden}
{cfg.cell.upper()}, token embedding {cfg.embedding}, embedding of the next step's position in
the bar ({cfg.position_embedding}), Magenta's {cfg.counter_bits}-bit step counters and
lookback flags, dropout {cfg.dropout}, trained on random 128-step windows: the `default`
preset, whose network size was the best validation likelihood per CPU minute among networks
small enough to generate 16 x 32 bars in about 100 ms on one core, before feel heads, copy
gates and the running feel made each step dearer (BENCHMARKS.md; "Limits" below).
{WHAT_CONDITIONED.format(cfg=cfg, context=CONTEXT if cfg.feel_context else "",
                         dropout=bundled.header["training"]["label_dropout"],
                         ago=(BAR_AGO if cfg.bar_ago else "") + (BAR_COPY if cfg.bar_copy else "")
                         + (PIECE_STARTS.format(share=starts) if starts else ""))
 if cfg.labels or cfg.feel else WHAT_PROFILE}

## Data
The training split of the Groove MIDI Dataset v1.0.0 (896 of its 897 training files: one is
a byte-for-byte copy of another and is skipped; 287,538 steps), official validation split
for model selection, official test split for the figures below. 4/4 and other meters, beats
and fills, 10 drummers, human velocities and timing.

Credit: Jon Gillick, Adam Roberts, Jesse Engel, Douglas Eck, David Bamman, "Learning to
Groove with Inverse Sequence Transformations", ICML 2019. The dataset is licensed under
Creative Commons Attribution 4.0 International (CC BY 4.0).

## How good it is
| split | loss (nats/step) | perplexity | accuracy | event accuracy | no-event accuracy |
|---|---|---|---|---|---|
{_row("validation", m, "val")}
{_row("test", m, "test")}
{conditioned}
Event accuracy: steps where something is struck, predicted exactly (all classes right).
For scale: a unigram model of the training steps has perplexity 15.8 on validation and
14.5 on test (counted here); Magenta's Drums RNN
trained 40 minutes here reached 14.4, and a plain 2 x 256 LSTM 4.2 on Magenta's extraction
of the same data (`../shared/docs/measured-facts.md`). Perplexity measures next-step
prediction, not musicality. Storing the weights as float16 changes no figure in the table.

## Reproduce
```
{args.command}
python tools/bundle_model.py runs/presets/default/model.npz --command "..." --data data/gmd --limits LIMITS.md
```
Training is seeded; on another CPU, thread count or PyTorch version the figures differ
slightly because floating-point sums differ.

## Limits
{limits}

## Other meters
`drumrnn generate --time-signature N/D` (or a primer in that meter) feeds the network bar
positions, counters and lookback distances of that meter and writes it into the MIDI file;
the network itself has heard almost only 4/4.

{meter_section(TARGET)}

{METER_NOTES}

## Details
```
{describe(bundled).replace(str(REPO) + "/", "")}
```
"""
    write_text_atomic(REPO / "MODEL_CARD.md", card)
    print(f"wrote {TARGET} and MODEL_CARD.md")


if __name__ == "__main__":
    main()
