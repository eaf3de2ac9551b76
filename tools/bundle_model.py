"""Ship a trained model inside the package: float16 weights and a model card.

Run: ``python tools/bundle_model.py runs/presets/default/model.npz --command "..."
--data data/gmd`` writes ``src/drumrnn/models/default.npz`` and ``MODEL_CARD.md``
(repository root); ``--data`` (the prepared GMD) adds the test figures with labels given and
unknown and the feel heads' likelihood against the per-position profile.
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
its tempo bucket; each was replaced by "unknown" in a quarter of the training windows, so
any may be left out. Its feel heads (hidden size {cfg.feel}) give, for every drum struck on the
step just chosen, a distribution over {cfg.feel_bins} velocity bins and {cfg.feel_bins} bins of
offset from the grid, from the network's output and the drums struck; generation samples
from them (and uniformly inside the bin), and the network reads the previous step's
velocities and offsets, so a piece keeps its own push, pull and dynamics. Without a primer
it starts from one silent step and predicts the first step from the labels.{ago}"""

BAR_AGO = """ It also reads
the steps one and two bars before the step it predicts (through its token embedding)."""

DEFAULT_LIMITS = """- It learned from one kit (Roland TD-11) played by 10 drummers, mostly rock, funk, jazz,
  latin and hip-hop grooves; 4/4 dominates, and generation writes 4/4."""


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="a trained model.npz")
    parser.add_argument("--command", required=True,
                        help="the exact commands that trained the model (for the card)")
    parser.add_argument("--data", type=Path, default=None,
                        help="the prepared GMD: test figures with labels given / unknown, feel")
    parser.add_argument("--limits", type=Path, default=None,
                        help="a markdown file with the card's Limits section (measured figures)")
    args = parser.parse_args()
    model = load_model_file(args.model)
    # the dataset path of the training machine means nothing to users
    dataset = {**model.header.get("dataset", {}), "path": "Groove MIDI Dataset v1.0.0"}
    header = {**content_header(model.header), "dataset": dataset}
    save_model_file(TARGET, header, model.weights, dtype=np.float16)
    bundled = load_model_file(TARGET)
    m, cfg = bundled.header["metrics"], bundled.config
    conditioned = _conditioned_section(bundled, args.data) if args.data else ""
    limits = args.limits.read_text(encoding="utf-8").strip() if args.limits else DEFAULT_LIMITS
    card = f"""# Model card: drumrnn's bundled drummer

`src/drumrnn/models/default.npz` ({TARGET.stat().st_size / 1e6:.1f} MB, float16 weights) is the
model `drumrnn generate` uses when no `--model` is given.

## What it is
A next-step language model over 16th-note drum steps: each step is the set of drum classes
struck (Magenta's 9-piece kit, 512 possible steps). {cfg.layers} x {cfg.hidden}
{cfg.cell.upper()}, token embedding {cfg.embedding}, embedding of the next step's position in
the bar ({cfg.position_embedding}), Magenta's {cfg.counter_bits}-bit step counters and
lookback flags, dropout {cfg.dropout}, trained on random 128-step windows: the `default`
preset, the best validation likelihood per CPU minute among networks small enough to
generate 16 x 32 bars in about 100 ms on one core (BENCHMARKS.md).
{WHAT_CONDITIONED.format(cfg=cfg, ago=BAR_AGO if cfg.bar_ago else "")
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
python tools/bundle_model.py runs/presets/default/model.npz --command "..."
```
Training is seeded; on another CPU, thread count or PyTorch version the figures differ
slightly because floating-point sums differ.

## Limits
{limits}

## Details
```
{describe(bundled)}
```
"""
    write_text_atomic(REPO / "MODEL_CARD.md", card)
    print(f"wrote {TARGET} and MODEL_CARD.md")


if __name__ == "__main__":
    main()
