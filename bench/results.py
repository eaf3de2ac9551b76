"""RESULTS.md: every trained model and the n-gram baseline on the GMD test split.

For each run folder under ``--runs`` (a ``model.npz`` each, e.g. from bench/train_presets.py)
and for the bundled model: test likelihood and accuracy (``drumrnn.measure.evaluate``, whole tracks,
NumPy runtime), then ``--patterns`` generated 8-bar patterns (temperature 1, seed 0)
compared with the test split's bars (``drumrnn.measure.compare``: mean overlapping area over all
features, the share of empty bars, similarity of each bar to the one before). The n-gram
baseline is fitted here (order chosen on validation). Anchors: real drumming (validation
bars against test bars, the ceiling) and uniformly random tokens (the floor).

Run: ``python bench/results.py --runs runs/presets``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import DEFAULT_GROOVE, REPO, machine, marked_sections, require_groove

from drumrnn.core.atomic import write_text_atomic
from drumrnn.data.dataset import PrepareConfig, load_dataset, prepare
from drumrnn.data.encoding import EncodingConfig
from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import get_kit
from drumrnn.data.timing import TimeMap
from drumrnn.generation.generate import DrumGenerator, GenerateConfig, bundled_model_path, perform_steps
from drumrnn.measure.compare import (
    compare_features,
    features,
    load_patterns,
    mean_oa,
    patterns_from_hits,
    random_patterns,
)
from drumrnn.measure.evaluate import evaluate_model
from drumrnn.measure.ngram import NGramModel
from drumrnn.model.model_file import load_model_file
from drumrnn.model.profile import learn_profile, split_profile

BARS = 8


def musical(patterns, reference_features) -> dict:
    stats = features(patterns)
    bars = np.array(stats["hits per bar"])
    return {"oa": mean_oa(compare_features(stats, reference_features)),
            "empty_bars": float(np.mean(bars == 0)) if len(bars) else float("nan"),
            "similarity": float(np.mean(stats["similarity to 1 bar before"]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, default=REPO / "runs/presets")
    parser.add_argument("--groove", type=Path, default=DEFAULT_GROOVE)
    parser.add_argument("--patterns", type=int, default=64)
    args = parser.parse_args()
    groove = require_groove(args.groove)
    workdir = tempfile.TemporaryDirectory(prefix="drumrnn-results-")  # removed at exit
    datasets: dict[EncodingConfig, Path] = {}

    def dataset_for(config: EncodingConfig) -> Path:
        if config not in datasets:
            datasets[config] = prepare(groove, Path(workdir.name) / f"data{len(datasets)}",
                                       PrepareConfig(config)).out
        return datasets[config]

    steps_data = dataset_for(EncodingConfig())
    reference = load_patterns(steps_data, "test")
    ref_features = features(reference)
    rows = []
    n = args.patterns

    real = musical(load_patterns(steps_data, "validation"), ref_features)
    rows.append(("real drumming (GMD validation bars)", None, real))
    models = [("bundled model (`default`, float16)", bundled_model_path())]
    models += [(run.name, run / "model.npz") for run in sorted(args.runs.iterdir())
               if (run / "model.npz").is_file()] if args.runs.is_dir() else []
    for name, path in models:
        model = load_model_file(path)
        data = dataset_for(EncodingConfig.from_dict(model.header["encoding"]))
        likelihood = evaluate_model(model, load_dataset(data))
        generated = DrumGenerator(model).generate(GenerateConfig(bars=BARS, num=n, seed=0))
        rows.append((name, likelihood, musical(patterns_from_hits(name, generated), ref_features)))
        print(name, rows[-1][1]["perplexity"], rows[-1][2], file=sys.stderr)

    steps_dataset = load_dataset(steps_data)
    ngram = NGramModel.fit_best(steps_dataset)
    likelihood = ngram.nll(steps_dataset.split("test").arrays)
    _, profile = split_profile(learn_profile(steps_dataset))
    rng = np.random.default_rng(0)
    kit = get_kit("9")
    hits = [DrumHits(*perform_steps(row, kit, profile, 4, rng), TimeMap(), BARS * 4.0)
            for row in ngram.generate(BARS, num=n, seed=0)]
    rows.append((f"n-gram baseline (order {ngram.order})", likelihood,
                 musical(patterns_from_hits("n-gram", hits), ref_features)))
    rows.append(("uniformly random tokens", {"perplexity": 512.0},
                 musical(random_patterns(n, BARS), ref_features)))

    def cell(d, key, fmt):
        return "" if d is None or key not in d else format(d[key], fmt)

    table = ["| model | test ppl | test acc | test event acc | mean OA vs test | empty bars "
             "| similarity to previous bar |", "|---|---|---|---|---|---|---|"]
    for name, lik, mus in rows:
        table.append(f"| {name} | {cell(lik, 'perplexity', '.2f')} | {cell(lik, 'accuracy', '.3f')}"
                     f" | {cell(lik, 'event_accuracy', '.3f')} | {mus['oa']:.3f} | "
                     f"{mus['empty_bars']:.1%} | {mus['similarity']:.2f} |")
    text = "\n".join([
        "# Results", "",
        "How well each drummer predicts and plays real drumming, on the Groove MIDI Dataset's "
        "test split (129 files, 35,279 predicted steps; 9-piece kit, 16th steps unless the "
        "model reads events or BAR tokens: perplexities of different encodings are not "
        "comparable). Likelihood: whole tracks from a zero state (`drumrnn evaluate`). "
        f"Musical statistics: {n} patterns of {BARS} bars per model, temperature 1, seed 0, "
        "compared bar by bar with the test split (`drumrnn compare`: mean overlapping area "
        "of the intra-set and inter-set distance distributions over 35 features, MGEval). "
        "The real-drumming row is the ceiling, the random row the floor.", "",
        *table, "",
        "Reproduce (15 minutes of one CPU core per model, two at a time):", "",
        "```",
        "python bench/train_presets.py --minutes 15 --out runs/presets "
        "--presets default drummer drums-rnn lstmetallica min-char-rnn deep-lstm "
        "--variant gru-1x256:hidden=256 "
        "--variant gru-1x384-stateful:hidden=384,mode=stateful,dropout=0.3 "
        "--variant gru-2x256-stateful:layers=2,hidden=256,mode=stateful,dropout=0.3",
        "python bench/results.py --runs runs/presets",
        "```", "",
        f"Machine: {machine('torch', 'numpy')}", ""])
    # other scripts' sections (bench/groove.py's) stay
    kept = marked_sections(REPO / "RESULTS.md")
    write_text_atomic(REPO / "RESULTS.md", text + (f"\n{kept}\n" if kept else ""))
    print(text)


if __name__ == "__main__":
    main()
