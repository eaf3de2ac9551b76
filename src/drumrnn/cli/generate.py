"""The generate command."""

from __future__ import annotations

import sys
from dataclasses import asdict, replace
from pathlib import Path

from drumrnn.core.errors import DrumrnnError


def cmd_generate(args) -> int:
    from drumrnn.data.midi_read import read_drum_hits
    from drumrnn.data.timing import TimeMap
    from drumrnn.generation.generate import DrumGenerator, GenerateConfig
    from drumrnn.generation.primer import parse_pattern, primer_from_dataset
    from drumrnn.generation.sampling import SamplingConfig
    from drumrnn.render.encode import check_mp3_kbps
    from drumrnn.render.outputs import check_output_dir, write_patterns

    sampling = SamplingConfig(args.temperature, args.top_k, args.top_p, args.greedy,
                              args.beam_size, args.branch_factor)
    config = GenerateConfig(args.bars, args.tempo, args.num, args.seed, args.random_state,
                            not args.quantized, sampling, **conditioning_options(args))
    if args.primer_from is None and (args.split, args.primer_bars) != (None, None):
        raise DrumrnnError("--split and --primer-bars go with --primer-from")
    if args.mp3:
        check_mp3_kbps(args.mp3_kbps)
    if args.soundfont is not None and not args.soundfont.is_file():
        raise DrumrnnError(f"no soundfont file at {args.soundfont}")
    check_output_dir(args.out)
    generator = DrumGenerator.load(args.model)
    spq = generator.steps_config.steps_per_quarter
    primer, window = None, None
    if args.primer is not None:
        primer = read_drum_hits(args.primer)
    elif args.primer_pattern is not None:
        primer = parse_pattern(args.primer_pattern, generator.kit, spq,
                               TimeMap(((0.0, float(args.tempo)),)))
    elif args.primer_from is not None:
        window = primer_from_dataset(
            args.primer_from, 2 if args.primer_bars is None else args.primer_bars,
            args.split or "validation", args.seed, args.tempo)
        primer = window.hits
        print(f"primer: {window.describe()}", file=sys.stderr)
        if generator.labels is not None:  # the primer track's labels are the defaults
            style, kind = window.labels["style"], window.labels["kind"]
            config = replace(config, style=args.style or (
                style if style in generator.labels.styles else None),
                kind=config.kind if args.kind is not None else kind or "beat")
    patterns = generator.generate(config, primer)
    settings = {"model": str(args.model or "bundled"), **asdict(config),
                "primer": window.to_dict() if window else str(args.primer) if args.primer
                else args.primer_pattern}
    paths = write_patterns(patterns, args.out, generator.kit, args.bars, spq, wav=args.wav,
                           png=args.png, soundfont=args.soundfont, mp3=args.mp3, flac=args.flac,
                           mp3_kbps=args.mp3_kbps, settings=settings)
    for path in paths:
        print(path)
    return 0


def conditioning_options(args) -> dict:
    """GenerateConfig's label and feel fields from the parsed options."""
    return {"style": args.style, "kind": None if args.kind == "unknown" else args.kind or "beat",
            "fill_every": args.fill_every, "feel": args.feel}


def add_conditioning_options(parser) -> None:
    c = parser.add_argument_group("labels and feel (models trained with them)")
    c.add_argument("--style", default=None,
                   help="style label, e.g. rock, funk, jazz (drumrnn info lists the model's; "
                        "with --primer-from the primer track's)")
    c.add_argument("--kind", choices=("beat", "fill", "unknown"), default=None,
                   help="play a groove (beat, default; with --primer-from the primer "
                        "track's kind) or a fill")
    c.add_argument("--fill-every", type=int, default=0, metavar="N",
                   help="bars N, 2N, ... are fills, the others --kind (e.g. 4)")
    c.add_argument("--feel", type=float, default=1.0, metavar="0..1",
                   help="scale the learned timing and dynamics: 0 = on the grid at the "
                        "average velocities, 1 = as learned (default)")


def add_generate(sub) -> None:
    from drumrnn.render.encode import DEFAULT_MP3_KBPS

    p = sub.add_parser("generate", help="generate drum patterns (MIDI, WAV, MP3, FLAC, PNG)")
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
                    help="hits exactly on the grid (default: the learned timing)")
    add_conditioning_options(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--primer", type=Path, default=None, help="MIDI file to continue")
    g.add_argument("--primer-pattern", default=None, metavar="TEXT",
                   help="e.g. 'kick: x...x...; snare: ....x...; hh: x.x.x.x.'")
    g.add_argument("--primer-from", type=Path, default=None, metavar="DATA_DIR",
                   help="continue whole bars of a random track of a prepared dataset "
                        "(the seed picks them)")
    p.add_argument("--split", default=None,
                   help="dataset split for --primer-from (default validation)")
    p.add_argument("--primer-bars", type=int, default=None,
                   help="whole bars taken by --primer-from (default 2)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--wav", action="store_true", help="also render audio (General MIDI kit)")
    p.add_argument("--soundfont", type=Path, default=None, help="SF2 soundfont for audio")
    p.add_argument("--mp3", action="store_true", help="also write MP3 (tagged with the settings)")
    p.add_argument("--mp3-kbps", type=int, default=DEFAULT_MP3_KBPS,
                   help=f"MP3 constant bitrate (default {DEFAULT_MP3_KBPS})")
    p.add_argument("--flac", action="store_true", help="also write FLAC (lossless)")
    p.add_argument("--png", action="store_true", help="also draw a drum grid")
    p.set_defaults(func=cmd_generate)
