"""Options shared by several commands."""

from __future__ import annotations

import argparse


def add_encoding_options(parser: argparse.ArgumentParser) -> None:
    from drumrnn.data.kits import KITS

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


def encoding_options(args):
    from drumrnn.data.encoding import EncodingConfig

    encoding = EncodingConfig(args.encoding, args.kit, args.steps_per_quarter, args.bar_tokens,
                              args.ticks_per_quarter, args.max_delta)
    return encoding, drum_source(args.channel, args.track)


def drum_source(channel: int, track: str | None):
    """The DrumSource of --channel N and --track INDEX|NAME."""
    from drumrnn.data.midi_read import DrumSource

    if track is not None and track.isdigit():
        track = int(track)
    return DrumSource(channel, track)


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """One --option per field of ModelConfig and TrainConfig, defaulting to the preset's."""
    import dataclasses

    from drumrnn.model.model_config import CELLS, ModelConfig
    from drumrnn.training.train_config import CLIP_MODES, DEVICES, MODES, OPTIMIZERS, PRECISIONS, TrainConfig

    choices = {"cell": CELLS, "optimizer": OPTIMIZERS, "mode": MODES, "clip_mode": CLIP_MODES,
               "device": DEVICES, "precision": PRECISIONS}
    helps = {"minutes": "train this many minutes more (also on --resume); default: no time "
                        "limit"}
    for cls, title in ((ModelConfig, "model (overrides the preset)"),
                       (TrainConfig, "training (overrides the preset)")):
        group = parser.add_argument_group(title)
        for f in dataclasses.fields(cls):
            kind = type(f.default)
            option = "--" + f.name.replace("_", "-")
            if kind is bool:
                group.add_argument(option, type=boolean, default=None, metavar="true|false")
            elif f.name in choices:
                group.add_argument(option, choices=choices[f.name], default=None)
            else:
                group.add_argument(option, type=kind, default=None, metavar=kind.__name__.upper(),
                                   help=helps.get(f.name))


def boolean(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
