"""The train command."""

from __future__ import annotations

import sys
from pathlib import Path

from drumrnn.cli.common import add_config_options
from drumrnn.core.errors import DrumrnnError

#: Settings a resumed run may change: its budget, and where it runs.
RESUME_MAY_CHANGE = ("epochs", "minutes", "max_steps", "threads", "device", "precision")


def cmd_train(args) -> int:
    import dataclasses

    from drumrnn.model.model_config import ModelConfig
    from drumrnn.training.presets import apply_overrides, get_preset
    from drumrnn.training.train import Trainer
    from drumrnn.training.train_config import TrainConfig

    names = [f.name for cls in (ModelConfig, TrainConfig) for f in dataclasses.fields(cls)]
    overrides = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    if overrides.get("minutes") == 0:
        raise DrumrnnError("--minutes is how many more minutes to train; leave it out for no "
                           "time limit")
    progress = sys.stderr.isatty() and not args.quiet
    if args.resume:
        more = overrides.pop("minutes", None)
        budget = {k: overrides.pop(k) for k in RESUME_MAY_CHANGE if k in overrides}
        if overrides:
            raise DrumrnnError("a resumed run keeps its settings; only --epochs, --minutes, "
                               "--max-steps, --threads, --device and --precision may change "
                               f"(got {', '.join(sorted(overrides))})")
        if args.overwrite:
            raise DrumrnnError("--overwrite starts a new run; it does not combine with --resume")
        trainer = Trainer.resume(args.resume, progress=progress, data_dir=args.data,
                                 more_minutes=more, **budget)
    else:
        if args.data is None or args.out is None:
            raise DrumrnnError("give a prepared dataset folder and --out RUN_DIR (or --resume RUN_DIR)")
        preset = get_preset(args.preset)
        model_cfg, train_cfg = apply_overrides(preset, overrides)
        _check_preset_fits(preset, args.data)
        trainer = Trainer(args.data, args.out, model_cfg, train_cfg, preset.name, progress,
                          overwrite=args.overwrite)
    from drumrnn.data.dataset import split_warnings

    if not args.quiet and trainer.world.main:  # rank 0 speaks for a torchrun
        print(f"training {trainer.run_dir}: {trainer.budget_text()}", flush=True)
        # a note, not an error: stderr keeps to the one line of a failure
        for warning in split_warnings(trainer.dataset.manifest, hashed=False)[:1]:
            print(f"warning: {warning}", flush=True)
        if not progress:  # piped: one line per validation instead of a progress bar
            trainer.on_validation = _print_validation
    result = trainer.run()
    code = {"interrupted": 130, "terminated": 143}.get(result.stopped_by, 0)
    if not trainer.world.main:  # rank 0 reports for every process of a torchrun
        return code
    best = result.best
    if best:
        line = (f"best validation: loss {best['val_loss']:.4f} nats, perplexity "
                f"{best['val_perplexity']:.3f}, accuracy {best['val_accuracy']:.3f} at step "
                f"{best['step']}")
        if result.test:
            line += (f"; test perplexity {result.test['test_perplexity']:.3f}, accuracy "
                     f"{result.test['test_accuracy']:.3f}")
        print(line)
    print(f"stopped after {result.steps} steps: {STOP_REASONS.get(result.stopped_by, result.stopped_by)}"
          f"; model: {result.model_path}")
    if result.stopped_by in ("interrupted", "terminated"):
        print(f"resume with: drumrnn train --resume {result.run_dir}")
    return code


STOP_REASONS = {
    "epochs": "the epochs budget was reached", "steps": "the steps budget was reached",
    "minutes": "the time budget was reached",
    "early stopping": "validation stopped improving (early stopping)",
    "interrupted": "interrupted (Ctrl+C); it saved its state",
    "terminated": "terminated (SIGTERM); it saved its state"}


def _print_validation(row: dict) -> None:
    print(f"step {row['step']} epoch {row['epoch']:g} ({row['elapsed_s'] / 60:.1f} min): train "
          f"loss {row['train_loss']:.4f}, validation loss {row['val_loss']:.4f}, perplexity "
          f"{row['val_perplexity']:.3f}, accuracy {row['val_accuracy']:.3f}", flush=True)


def _check_preset_fits(preset, data_dir) -> None:
    from drumrnn.data.dataset import load_dataset

    encoding = load_dataset(data_dir).encoding
    if encoding.encoding != preset.encoding:
        raise DrumrnnError(f"preset {preset.name} reads the {preset.encoding} encoding; "
                           f"{data_dir} holds {encoding.encoding} (prepare it with "
                           f"--encoding {preset.encoding})")
    if preset.bar_tokens and not encoding.bar_tokens:
        raise DrumrnnError(f"preset {preset.name} needs BAR tokens; prepare {data_dir} "
                           "with --bar-tokens")


def add_train(sub) -> None:
    from drumrnn.training.presets import PRESETS

    p = sub.add_parser("train", help="train a drum language model on a prepared dataset",
                       description="Presets: " + "; ".join(
                           f"{p.name}: {p.description}" for p in PRESETS.values()))
    p.add_argument("data", type=Path, nargs="?", help="prepared dataset folder")
    p.add_argument("--preset", default="default", choices=list(PRESETS))
    p.add_argument("--out", type=Path, help="run folder (checkpoints, metrics, model.npz)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its last checkpoint (--minutes N: "
                        "N more minutes; --epochs/--max-steps: new totals)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (its checkpoints, metrics and model)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress (default: a bar on a terminal, else a line per validation)")
    add_config_options(p)
    p.set_defaults(func=cmd_train)
