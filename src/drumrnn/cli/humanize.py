"""The humanize command."""

from __future__ import annotations

from pathlib import Path


def cmd_humanize(args) -> int:
    from drumrnn.data.midi_read import read_drum_hits
    from drumrnn.generation.generate import DrumGenerator
    from drumrnn.generation.humanize import HumanizeConfig, humanize
    from drumrnn.render.midi_write import write_midi

    config = HumanizeConfig(args.amount, args.style,
                            None if args.kind == "unknown" else args.kind, args.tempo, args.seed)
    generator = DrumGenerator.load(args.model)
    hits = read_drum_hits(args.file)
    print(write_midi(humanize(generator, hits, config), args.out))
    return 0


def add_humanize(sub) -> None:
    p = sub.add_parser("humanize", help="give a drum MIDI learned velocities and timing",
                       description="Keeps every hit's drum and grid step; samples its "
                       "velocity and its offset from the grid from a model's feel heads.")
    p.add_argument("file", type=Path, help="drum MIDI file (e.g. quantized, flat velocities)")
    p.add_argument("--out", type=Path, required=True, help="MIDI file to write")
    p.add_argument("--model", type=Path, default=None,
                   help="model file with feel heads (default: the bundled model)")
    p.add_argument("--amount", type=float, default=1.0, metavar="0..1",
                   help="0 keeps the input, 1 takes the model's feel (default)")
    p.add_argument("--style", default=None, help="style label, e.g. rock")
    p.add_argument("--kind", choices=("beat", "fill", "unknown"), default="beat")
    p.add_argument("--tempo", type=float, default=None, help="tempo label (default: the file's)")
    p.add_argument("--seed", type=int, default=None, help="same seed, same result")
    p.set_defaults(func=cmd_humanize)
