"""Ship a trained model inside the package: float16 weights and a model card.

Run: ``python tools/bundle_model.py runs/presets/default/model.npz --command "..."``
writes ``src/drumrnn/models/default.npz`` and ``MODEL_CARD.md`` (repository root).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from drumrnn.core.atomic import write_text_atomic
from drumrnn.model.model_file import content_header, describe, load_model_file, save_model_file

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "src/drumrnn/models/default.npz"


def _row(label: str, metrics: dict, prefix: str) -> str:
    names = ("loss", "perplexity", "accuracy", "event_accuracy", "no_event_accuracy")
    cells = [f"{metrics[f'{prefix}_{n}']:.3f}" for n in names]
    return f"| {label} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="a trained model.npz")
    parser.add_argument("--command", required=True,
                        help="the exact commands that trained the model (for the card)")
    args = parser.parse_args()
    model = load_model_file(args.model)
    # the dataset path of the training machine means nothing to users
    dataset = {**model.header.get("dataset", {}), "path": "Groove MIDI Dataset v1.0.0"}
    header = {**content_header(model.header), "dataset": dataset}
    save_model_file(TARGET, header, model.weights, dtype=np.float16)
    bundled = load_model_file(TARGET)
    m, cfg = bundled.header["metrics"], bundled.config
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
generate 16 x 32 bars in under 100 ms on one core (BENCHMARKS.md). Velocities and the average
microtiming of generated hits come from a profile learned from the same training data (mean
and spread by drum and position in the bar); the network itself predicts only which drums
play on each step.

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
- It sometimes falls silent. Sampled without a primer, 0.8% of generated bars are empty at
  temperature 1.0, 4.2% at 0.8 and none at 1.2 (two samples of 64 eight-bar patterns each),
  against 8 empty bars in the 17,968 training bars. Most GMD training files (519 of 897) are
  short fills that end right after the fill; training on random windows (instead of
  consecutive windows of whole tracks) took the empty bars at temperature 1.0 from 7% to
  2.5% for a 1 x 256 GRU, and dropout 0.5 to 0.8% here. A primer helps.
- It learned from one kit (Roland TD-11) played by 10 drummers, mostly rock, funk, jazz,
  latin and hip-hop grooves; 4/4 dominates, and generation writes 4/4.
- It overfits after about 8 minutes of training (best validation at step 1,900; early
  stopping at 2,500 with training loss 1.16 against validation 1.37 nats).
- It is a small network by choice: a 2 x 256 GRU (the previous bundled model) predicts the
  test split about as well (perplexity 3.82 against 3.86) but takes 2.5x longer to generate
  and leaves 13% of its bars empty (RESULTS.md).

## Details
```
{describe(bundled)}
```
"""
    write_text_atomic(REPO / "MODEL_CARD.md", card)
    print(f"wrote {TARGET} and MODEL_CARD.md")


if __name__ == "__main__":
    main()
