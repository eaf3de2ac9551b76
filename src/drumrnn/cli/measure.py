"""Commands of the measuring stage: evaluate, compare, ngram, info."""

from __future__ import annotations

import sys
from pathlib import Path


def cmd_evaluate(args) -> int:
    import json

    from drumrnn.data.dataset import load_dataset
    from drumrnn.measure.evaluate import evaluate_model, format_evaluation
    from drumrnn.model.model_file import load_model_file

    dataset = load_dataset(args.data)
    if args.json and args.json != "-":
        from drumrnn.render.outputs import check_output_dir

        check_output_dir(Path(args.json).parent)
    if args.model.suffix == ".npz" and _is_ngram(args.model):
        from drumrnn.measure.ngram import NGramModel

        result = NGramModel.load(args.model).nll(dataset.split(args.split).arrays)
        text = "\n".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}"
                         for k, v in result.items())
    else:
        result = evaluate_model(load_model_file(args.model), dataset, args.split,
                                labels=args.labels)
        text = format_evaluation(result)
    result = {"model": str(args.model), "data": str(args.data), "split": args.split, **result}
    document = json.dumps(result, indent=1) + "\n"
    if args.json == "-":
        sys.stdout.write(document)
        return 0
    if args.json:
        from drumrnn.core.atomic import write_text_atomic

        write_text_atomic(args.json, document)
    print(text)
    return 0


def _is_ngram(path: Path) -> bool:
    import numpy as np

    from drumrnn.model.model_file import HEADER

    try:
        with np.load(path, allow_pickle=False) as archive:
            return "config" in archive.files and HEADER not in archive.files
    except Exception:  # damaged: the model file reader names what is wrong
        return False


def cmd_compare(args) -> int:
    from drumrnn.core.atomic import write_text_atomic
    from drumrnn.measure.compare import compare, load_patterns, plot_features

    generated = load_patterns(args.generated, args.split)
    reference = load_patterns(args.reference, args.split)
    anchor = None
    if (args.reference / "manifest.json").is_file() and args.split != "validation":
        anchor = load_patterns(args.reference, "validation")
    result = compare(generated, reference, anchor, seed=args.seed)
    table = result.markdown()
    print(table)
    if args.out:
        from drumrnn.render.outputs import check_output_dir

        out = check_output_dir(args.out)
        write_text_atomic(out / "compare.json", result.to_json() + "\n")
        write_text_atomic(out / "compare.md", table + "\n")
        print(f"wrote {out / 'compare.json'}, {out / 'compare.md'}")
        try:
            print(f"wrote {plot_features(generated, reference, out)}")
        except ImportError:
            print("features.png skipped: plots need matplotlib (pip install 'drumrnn[plot]')")
    return 0


def cmd_ngram(args) -> int:
    from drumrnn.measure.ngram import NGramModel

    orders = tuple(range(1, args.max_order + 1))
    model = NGramModel.fit_best(args.data, orders=orders)
    for order, metrics in model.selection.items():
        print(f"order {order}: validation perplexity {metrics['perplexity']:.3f}")
    model.save(args.out)
    print(f"chose order {model.order}; saved {args.out}")
    return 0


def cmd_info(args) -> int:
    from drumrnn.generation.generate import bundled_model_path
    from drumrnn.model.model_file import describe, load_model_file

    if args.model is not None and args.model.is_file() and _is_ngram(args.model):
        from drumrnn.measure.ngram import NGramModel

        model = NGramModel.load(args.model)
        print(f"n-gram baseline: {args.model}, order {model.order}, vocabulary "
              f"{model.vocab_size}, {model.steps_per_bar} steps per bar"
              + ("" if model.bar_token < 0 else ", BAR tokens"))
        return 0
    print(describe(load_model_file(args.model or bundled_model_path())))
    return 0


def add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="held-out likelihood and accuracy of a model")
    p.add_argument("model", type=Path, help="model file (or an n-gram baseline file)")
    p.add_argument("data", type=Path, help="prepared dataset folder")
    p.add_argument("--split", default="test", choices=("train", "validation", "test"))
    p.add_argument("--labels", choices=("given", "unknown"), default="given",
                   help="models that read labels: each track's own (default) or all unknown")
    p.add_argument("--json", default=None, metavar="FILE|-",
                   help="also write the figures as JSON to FILE; '-': JSON to stdout instead")
    p.set_defaults(func=cmd_evaluate)


def add_compare(sub) -> None:
    p = sub.add_parser("compare", help="musical statistics of generated against real drumming")
    p.add_argument("generated", type=Path, help="folder of MIDI files or a prepared dataset")
    p.add_argument("reference", type=Path, help="folder of MIDI files or a prepared dataset")
    p.add_argument("--split", default="test", help="split of prepared datasets (default test)")
    p.add_argument("--out", type=Path, default=None, help="write compare.json/.md and plots here")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_compare)


def add_ngram(sub) -> None:
    p = sub.add_parser("ngram", help="fit the n-gram baseline (order chosen on validation)")
    p.add_argument("data", type=Path, help="prepared steps dataset folder")
    p.add_argument("--out", type=Path, required=True, help="file to write (.npz)")
    p.add_argument("--max-order", type=int, default=6)
    p.set_defaults(func=cmd_ngram)


def add_info(sub) -> None:
    p = sub.add_parser("info", help="describe a model file (default: the bundled model)")
    p.add_argument("model", type=Path, nargs="?", default=None)
    p.set_defaults(func=cmd_info)
