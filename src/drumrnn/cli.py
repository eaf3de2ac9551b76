"""The ``drumrnn`` command: thin wrappers over the library, one function per subcommand."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drumrnn import __version__
from drumrnn.errors import DrumrnnError


def _add_encoding_options(parser: argparse.ArgumentParser) -> None:
    from drumrnn.kits import KITS

    group = parser.add_argument_group("encoding")
    group.add_argument("--encoding", choices=("steps", "events"), default="steps",
                       help="steps: one token per grid step (default); events: (drum, delta) pairs")
    group.add_argument("--kit", choices=list(KITS), default="9",
                       help="drum map: 9 (Magenta, default), roland (GrooVAE/GMD), one-drum, full")
    group.add_argument("--steps-per-quarter", type=int, default=4, metavar="N",
                       help="steps grid: 4 = 16th notes (default), 3 or 6 for triplets")
    group.add_argument("--bar-tokens", action="store_true",
                       help="steps: insert a BAR token at every bar line (LSTMetallica)")
    group.add_argument("--ticks-per-quarter", type=int, default=48, metavar="N",
                       help="events: delta grid (default 48)")
    group.add_argument("--max-delta", type=int, default=384, metavar="TICKS",
                       help="events: longest delta; longer gaps get REST events (default 384)")
    group.add_argument("--channel", type=int, default=10, metavar="1-16",
                       help="MIDI channel of the drums (default 10)")
    group.add_argument("--track", default=None, metavar="INDEX|NAME",
                       help="take the drums from this track (0-based index or name) instead")


def _encoding(args):
    from drumrnn.encoding import EncodingConfig
    from drumrnn.midi_read import DrumSource

    encoding = EncodingConfig(args.encoding, args.kit, args.steps_per_quarter, args.bar_tokens,
                              args.ticks_per_quarter, args.max_delta)
    track = args.track
    if track is not None and track.isdigit():
        track = int(track)
    return encoding, DrumSource(args.channel, track)


def cmd_prepare(args) -> int:
    from drumrnn.dataset import PrepareConfig, prepare
    from drumrnn.groove import GrooveFilter, parse_bpm_range

    encoding, source = _encoding(args)
    fractions = _split_fractions(args.split)
    groove_filter = GrooveFilter(
        styles=tuple(args.style), beat_type=args.beat_type,
        time_signatures=tuple(args.time_signature), drummers=tuple(args.drummer),
        bpm_range=parse_bpm_range(args.bpm) if args.bpm else None)
    config = PrepareConfig(encoding, source, groove_filter, fractions, args.max_file_mb)
    report = prepare(args.source, args.out, config, workers=args.workers,
                     progress=sys.stderr.isatty() and not args.quiet)
    print(report.summary())
    if report.reused:
        print(f"reused {report.reused} unchanged files from the previous output")
    return 0


def _split_fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = [float(p) for p in text.split("/")]
    except ValueError:
        parts = []
    if len(parts) != 3 or min(parts) < 0 or sum(parts) <= 0:
        raise DrumrnnError(f"--split must look like 90/5/5, got {text!r}")
    total = sum(parts)
    return (parts[0] / total, parts[1] / total, parts[2] / total)


def cmd_encode(args) -> int:
    from drumrnn.events import encode_events
    from drumrnn.midi_read import read_drum_hits
    from drumrnn.steps import encode_steps
    from drumrnn.text_corpus import write_words

    encoding, source = _encoding(args)
    hits = read_drum_hits(args.file, source)
    kit = encoding.kit_obj
    if encoding.encoding == "steps":
        seq = encode_steps(hits, kit, encoding.steps)
        if args.format == "words":
            sys.stdout.write(write_words(seq.tokens, kit, seq.positions, encoding.steps))
        else:
            sys.stdout.write("".join(f"{t}\n" for t in seq.tokens.tolist()))
        return 0
    if args.format == "words":
        raise DrumrnnError("--format words is LSTMetallica's 16th-step corpus; use it with "
                           "--encoding steps")
    events = encode_events(hits, kit, encoding.events)
    # With the full kit each class is one GM note: print the note, as the RNN Drummer did.
    drums = (kit.output_pitches[events.drums.clip(0, kit.n_classes - 1)]
             if kit.name == "full" else events.drums)
    rest = kit.n_classes
    sys.stdout.write("".join(f"{'REST' if d == rest else int(shown)} {dt}\n" for d, shown, dt in
                             zip(events.drums.tolist(), drums.tolist(), events.deltas.tolist())))
    return 0


def cmd_inspect(args) -> int:
    from drumrnn.inspection import inspect_midi

    encoding, source = _encoding(args)
    print(inspect_midi(args.file, encoding, source).format())
    return 0


def cmd_download(args) -> int:
    from drumrnn.download import GROOVE_URL, download_groove

    if args.dataset != "groove":
        raise DrumrnnError(f"unknown dataset {args.dataset!r}; only 'groove' can be downloaded")
    folder = download_groove(args.dest, args.url or GROOVE_URL, progress=sys.stderr.isatty())
    print(f"Groove MIDI Dataset ready in {folder} (CC BY 4.0, Gillick et al. 2019)")
    return 0


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One --option per field of ModelConfig and TrainConfig, defaulting to the preset's."""
    import dataclasses

    from drumrnn.model_config import CELLS, ModelConfig
    from drumrnn.train_config import CLIP_MODES, MODES, OPTIMIZERS, TrainConfig

    choices = {"cell": CELLS, "optimizer": OPTIMIZERS, "mode": MODES, "clip_mode": CLIP_MODES}
    for cls, title in ((ModelConfig, "model (overrides the preset)"),
                       (TrainConfig, "training (overrides the preset)")):
        group = parser.add_argument_group(title)
        for f in dataclasses.fields(cls):
            kind = type(f.default)
            option = "--" + f.name.replace("_", "-")
            if kind is bool:
                group.add_argument(option, type=_boolean, default=None, metavar="true|false")
            elif f.name in choices:
                group.add_argument(option, choices=choices[f.name], default=None)
            else:
                group.add_argument(option, type=kind, default=None, metavar=kind.__name__.upper())


def _boolean(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def cmd_train(args) -> int:
    import dataclasses

    from drumrnn.model_config import ModelConfig
    from drumrnn.presets import apply_overrides, get_preset
    from drumrnn.train import Trainer
    from drumrnn.train_config import TrainConfig

    names = [f.name for cls in (ModelConfig, TrainConfig) for f in dataclasses.fields(cls)]
    overrides = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    progress = sys.stderr.isatty() and not args.quiet
    if args.resume:
        budget = {k: overrides.pop(k) for k in ("epochs", "minutes", "max_steps") if k in overrides}
        if overrides:
            raise DrumrnnError("a resumed run keeps its settings; only --epochs, --minutes and "
                               f"--max-steps may change (got {', '.join(sorted(overrides))})")
        trainer = Trainer.resume(args.resume, progress=progress, data_dir=args.data, **budget)
    else:
        if args.data is None or args.out is None:
            raise DrumrnnError("give a prepared dataset folder and --out RUN_DIR (or --resume RUN_DIR)")
        preset = get_preset(args.preset)
        model_cfg, train_cfg = apply_overrides(preset, overrides)
        _check_preset_fits(preset, args.data)
        trainer = Trainer(args.data, args.out, model_cfg, train_cfg, preset.name, progress)
    result = trainer.run()
    best = result.best
    if best:
        line = (f"best validation: loss {best['val_loss']:.4f} nats, perplexity "
                f"{best['val_perplexity']:.3f}, accuracy {best['val_accuracy']:.3f} at step "
                f"{best['step']}")
        if result.test:
            line += (f"; test perplexity {result.test['test_perplexity']:.3f}, accuracy "
                     f"{result.test['test_accuracy']:.3f}")
        print(line)
    print(f"stopped by {result.stopped_by} after {result.steps} steps; model: {result.model_path}")
    if result.stopped_by in ("interrupted", "terminated"):
        print(f"resume with: drumrnn train --resume {result.run_dir}")
        return 130 if result.stopped_by == "interrupted" else 143
    return 0


def _check_preset_fits(preset, data_dir) -> None:
    from drumrnn.dataset import load_dataset

    encoding = load_dataset(data_dir).encoding
    if encoding.encoding != preset.encoding:
        raise DrumrnnError(f"preset {preset.name} reads the {preset.encoding} encoding; "
                           f"{data_dir} holds {encoding.encoding} (prepare it with "
                           f"--encoding {preset.encoding})")
    if preset.bar_tokens and not encoding.bar_tokens:
        raise DrumrnnError(f"preset {preset.name} needs BAR tokens; prepare {data_dir} "
                           "with --bar-tokens")


def cmd_generate(args) -> int:
    from drumrnn.generate import DrumGenerator, GenerateConfig
    from drumrnn.midi_read import read_drum_hits
    from drumrnn.outputs import check_output_dir, write_patterns
    from drumrnn.primer import parse_pattern
    from drumrnn.sampling import SamplingConfig
    from drumrnn.timing import TimeMap

    sampling = SamplingConfig(args.temperature, args.top_k, args.top_p, args.greedy,
                              args.beam_size, args.branch_factor)
    config = GenerateConfig(args.bars, args.tempo, args.num, args.seed, args.random_state,
                            not args.quantized, sampling)
    if args.soundfont is not None and not args.soundfont.is_file():
        raise DrumrnnError(f"no soundfont file at {args.soundfont}")
    check_output_dir(args.out)
    generator = DrumGenerator.load(args.model)
    spq = generator.steps_config.steps_per_quarter
    primer = None
    if args.primer is not None:
        primer = read_drum_hits(args.primer)
    elif args.primer_pattern is not None:
        primer = parse_pattern(args.primer_pattern, generator.kit, spq,
                               TimeMap(((0.0, float(args.tempo)),)))
    patterns = generator.generate(config, primer)
    paths = write_patterns(patterns, args.out, generator.kit, args.bars, spq, wav=args.wav,
                           png=args.png, soundfont=args.soundfont)
    for path in paths:
        print(path)
    return 0


def cmd_evaluate(args) -> int:
    import json

    from drumrnn.dataset import load_dataset
    from drumrnn.evaluate import evaluate_model, format_evaluation
    from drumrnn.model_file import load_model_file

    dataset = load_dataset(args.data)
    if args.json and args.json != "-":
        from drumrnn.outputs import check_output_dir

        check_output_dir(Path(args.json).parent)
    if args.model.suffix == ".npz" and _is_ngram(args.model):
        from drumrnn.ngram import NGramModel

        result = NGramModel.load(args.model).nll(dataset.split(args.split).arrays)
        text = "\n".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}"
                         for k, v in result.items())
    else:
        result = evaluate_model(load_model_file(args.model), dataset, args.split)
        text = format_evaluation(result)
    result = {"model": str(args.model), "data": str(args.data), "split": args.split, **result}
    document = json.dumps(result, indent=1) + "\n"
    if args.json == "-":
        sys.stdout.write(document)
        return 0
    if args.json:
        from drumrnn.atomic import write_text_atomic

        write_text_atomic(args.json, document)
    print(text)
    return 0


def _is_ngram(path: Path) -> bool:
    import numpy as np

    from drumrnn.model_file import HEADER

    try:
        with np.load(path, allow_pickle=False) as archive:
            return "config" in archive.files and HEADER not in archive.files
    except (OSError, ValueError):
        return False


def cmd_compare(args) -> int:
    from drumrnn.atomic import write_text_atomic
    from drumrnn.compare import compare, load_patterns, plot_features

    generated = load_patterns(args.generated, args.split)
    reference = load_patterns(args.reference, args.split)
    anchor = None
    if (args.reference / "manifest.json").is_file() and args.split != "validation":
        anchor = load_patterns(args.reference, "validation")
    result = compare(generated, reference, anchor, seed=args.seed)
    table = result.markdown()
    print(table)
    if args.out:
        from drumrnn.outputs import check_output_dir

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
    from drumrnn.ngram import NGramModel

    orders = tuple(range(1, args.max_order + 1))
    model = NGramModel.fit_best(args.data, orders=orders)
    for order, metrics in model.selection.items():
        print(f"order {order}: validation perplexity {metrics['perplexity']:.3f}")
    model.save(args.out)
    print(f"chose order {model.order}; saved {args.out}")
    return 0


def cmd_info(args) -> int:
    from drumrnn.model_file import describe, load_model_file

    print(describe(load_model_file(args.model)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drumrnn", description="Learn to play drums from MIDI with recurrent networks.")
    parser.add_argument("--version", action="version", version=f"drumrnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("prepare", help="turn a folder of drum MIDI (or the GMD) into a dataset")
    p.add_argument("source", type=Path, help="folder of .mid/.midi files, or a GMD folder")
    p.add_argument("--out", type=Path, required=True, help="dataset folder to write")
    _add_encoding_options(p)
    f = p.add_argument_group("Groove MIDI Dataset filters")
    f.add_argument("--style", action="append", default=[], metavar="PREFIX",
                   help="keep styles with this prefix, e.g. rock or funk/groove1 (repeatable)")
    f.add_argument("--beat-type", choices=("beat", "fill"), default=None)
    f.add_argument("--time-signature", action="append", default=[], metavar="N-D",
                   help="e.g. 4-4 (repeatable)")
    f.add_argument("--drummer", action="append", default=[], metavar="NAME",
                   help="e.g. drummer1 (repeatable)")
    f.add_argument("--bpm", default=None, metavar="MIN-MAX", help="e.g. 80-120")
    p.add_argument("--split", default="90/5/5", metavar="TRAIN/VAL/TEST",
                   help="shares for plain folders, split by content hash (default 90/5/5)")
    p.add_argument("--max-file-mb", type=float, default=16.0, help="skip larger files")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("encode", help="print a MIDI file's tokens")
    p.add_argument("file", type=Path)
    p.add_argument("--format", choices=("ints", "words"), default="ints",
                   help="ints: one token per line (events: 'drum delta'); words: LSTMetallica text")
    _add_encoding_options(p)
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("inspect", help="summarize a drum MIDI file")
    p.add_argument("file", type=Path)
    _add_encoding_options(p)
    p.set_defaults(func=cmd_inspect)

    from drumrnn.presets import PRESETS

    p = sub.add_parser("train", help="train a drum language model on a prepared dataset",
                       description="Presets: " + "; ".join(
                           f"{p.name}: {p.description}" for p in PRESETS.values()))
    p.add_argument("data", type=Path, nargs="?", help="prepared dataset folder")
    p.add_argument("--preset", default="default", choices=list(PRESETS))
    p.add_argument("--out", type=Path, help="run folder (checkpoints, metrics, model.npz)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_config_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("generate", help="generate drum patterns (MIDI, WAV, PNG)")
    p.add_argument("--model", type=Path, default=None,
                   help="model file (default: the bundled pretrained model)")
    p.add_argument("--bars", type=int, default=8, help="length in 4/4 bars, primer included")
    p.add_argument("--tempo", type=float, default=120.0, help="bpm (default 120)")
    p.add_argument("--num", type=int, default=1, help="variations, generated as one batch")
    p.add_argument("--seed", type=int, default=None, help="same seed, same patterns")
    s_ = p.add_argument_group("sampling")
    s_.add_argument("--temperature", type=float, default=1.0,
                    help="below 1 safer, above 1 wilder; 0.5-1.5 is useful (default 1)")
    s_.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest steps")
    s_.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (0, 1]")
    s_.add_argument("--greedy", action="store_true", help="always the likeliest step")
    s_.add_argument("--beam-size", type=int, default=0, help="beam search with this many beams")
    s_.add_argument("--branch-factor", type=int, default=2, help="beam search branches per beam")
    s_.add_argument("--random-state", type=float, default=0.0, metavar="SCALE",
                    help="start from uniform noise in +-SCALE (RNN Drummer used 0.1)")
    s_.add_argument("--quantized", action="store_true",
                    help="hits exactly on the grid (default: the drummers' average feel)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--primer", type=Path, default=None, help="MIDI file to continue")
    g.add_argument("--primer-pattern", default=None, metavar="TEXT",
                   help="e.g. 'kick: x...x...; snare: ....x...; hh: x.x.x.x.'")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--wav", action="store_true", help="also render audio (General MIDI kit)")
    p.add_argument("--soundfont", type=Path, default=None, help="SF2 soundfont for --wav")
    p.add_argument("--png", action="store_true", help="also draw a drum grid")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("evaluate", help="held-out likelihood and accuracy of a model")
    p.add_argument("model", type=Path, help="model file (or an n-gram baseline file)")
    p.add_argument("data", type=Path, help="prepared dataset folder")
    p.add_argument("--split", default="test", choices=("train", "validation", "test"))
    p.add_argument("--json", default=None, metavar="FILE|-",
                   help="also write the figures as JSON to FILE; '-': JSON to stdout instead")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("compare", help="musical statistics of generated against real drumming")
    p.add_argument("generated", type=Path, help="folder of MIDI files or a prepared dataset")
    p.add_argument("reference", type=Path, help="folder of MIDI files or a prepared dataset")
    p.add_argument("--split", default="test", help="split of prepared datasets (default test)")
    p.add_argument("--out", type=Path, default=None, help="write compare.json/.md and plots here")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("ngram", help="fit the n-gram baseline (order chosen on validation)")
    p.add_argument("data", type=Path, help="prepared steps dataset folder")
    p.add_argument("--out", type=Path, required=True, help="file to write (.npz)")
    p.add_argument("--max-order", type=int, default=6)
    p.set_defaults(func=cmd_ngram)

    p = sub.add_parser("info", help="describe a model file")
    p.add_argument("model", type=Path)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("download", help="download a dataset (groove: the Groove MIDI Dataset)")
    p.add_argument("dataset", help="groove")
    p.add_argument("--dest", type=Path, default=Path("data"), help="folder (default ./data)")
    p.add_argument("--url", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_download)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except DrumrnnError as exc:
        print(f"drumrnn {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"drumrnn {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
