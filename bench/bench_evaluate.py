"""Benchmark evaluation: held-out likelihood (tokens/s) and musical statistics (seconds).

* ``drumrnn.measure.evaluate.evaluate_model`` of the bundled model on the GMD test split (whole
  tracks, NumPy runtime, 32 rows at a time);
* the n-gram baseline's scoring of the same split;
* ``drumrnn.measure.compare`` of the validation split's bars against the test split's (features of
  both sets plus the MGEval comparison, anchors included).

Run: ``python bench/bench_evaluate.py [--groove PATH]``
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import tempfile
from pathlib import Path

from common import DEFAULT_GROOVE, machine, require_groove, timed, write_section

from drumrnn.data.dataset import load_dataset, prepare
from drumrnn.generation.generate import bundled_model_path
from drumrnn.measure.compare import compare, load_patterns
from drumrnn.measure.evaluate import evaluate_model
from drumrnn.measure.ngram import NGramModel
from drumrnn.model.model_file import load_model_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groove", type=Path, default=DEFAULT_GROOVE)
    args = parser.parse_args()
    groove = require_groove(args.groove)
    with tempfile.TemporaryDirectory() as tmp:
        data = prepare(groove, Path(tmp) / "gmd").out
        dataset = load_dataset(data)
        model = load_model_file(bundled_model_path())
        seconds, result = timed(lambda: evaluate_model(model, dataset, "test"))
        ngram = NGramModel.fit_best(dataset)
        ngram_seconds, ngram_result = timed(lambda: ngram.nll(dataset.split("test").arrays))
        compare_seconds, _ = timed(lambda: compare(load_patterns(data, "validation"),
                                                   load_patterns(data, "test"),
                                                   load_patterns(data, "validation")))
    cfg = model.config
    tokens = result["tokens"]
    section = "\n".join([
        "## Evaluation throughput (bench/bench_evaluate.py)", "",
        "Reproduce: `python bench/bench_evaluate.py` (GMD test split, one thread).", "",
        f"Machine: {machine('numpy')}", "",
        "| what | time (s) | tokens/s | result |", "|---|---|---|---|",
        f"| `evaluate` bundled {cfg.layers} x {cfg.hidden} {cfg.cell.upper()} (NumPy) | "
        f"{seconds:.2f} | {tokens / seconds:,.0f} | perplexity {result['perplexity']:.3f} |",
        f"| n-gram baseline scoring (order {ngram.order}) | {ngram_seconds:.3f} | "
        f"{tokens / ngram_seconds:,.0f} | perplexity {ngram_result['perplexity']:.3f} |",
        f"| `compare` validation bars vs test bars, with anchors | {compare_seconds:.2f} | | |"])
    print(section)
    write_section("bench_evaluate", section)


if __name__ == "__main__":
    main()
