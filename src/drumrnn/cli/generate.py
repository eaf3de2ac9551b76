"""The generate command."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from drumrnn.core.errors import DrumrnnError


def cmd_generate(args) -> int:
    from drumrnn.generation.generate import GenerateConfig, parse_time_signature
    from drumrnn.generation.sampling import SamplingConfig
    from drumrnn.render.encode import check_mp3_kbps
    from drumrnn.render.outputs import prepare_output_dir

    _check_sampling_options(args)
    sampling = SamplingConfig(1.0 if args.temperature is None else args.temperature,
                              args.top_k or 0, args.top_p, args.greedy, args.beam_size or 0,
                              args.branch_factor)
    meter = parse_time_signature(args.time_signature) if args.time_signature else None
    if meter is not None and args.primer is not None:
        raise DrumrnnError("--time-signature is for unprimed generation; the primer's meter "
                           "is kept")
    if args.variation is not None and args.seed is None:
        raise DrumrnnError("--variation K regenerates variation K of a seed: give --seed too")
    config = GenerateConfig(args.bars, args.tempo, args.num, args.seed, args.random_state,
                            not args.quantized, sampling, **conditioning_options(args),
                            time_signature=meter, swing=args.swing,
                            variation=args.variation or 1).resolved()
    if args.primer_from is None and (args.split, args.primer_bars) != (None, None):
        raise DrumrnnError("--split and --primer-bars go with --primer-from")
    if args.mp3:
        check_mp3_kbps(args.mp3_kbps)
    if args.soundfont is not None and not args.soundfont.is_file():
        raise DrumrnnError(f"no soundfont file at {args.soundfont}")
    prepare_output_dir(args.out, args.overwrite)
    if _is_ngram(args.model):
        return _generate_ngram(args, config)
    return _generate(args, config)


def _generate(args, config) -> int:
    from drumrnn.data.midi_read import read_drum_hits
    from drumrnn.generation.generate import DrumGenerator, bundled_model_path
    from drumrnn.generation.primer import parse_pattern, primer_from_dataset
    from drumrnn.render.outputs import model_identity, write_patterns

    # one generation per process: numba's loading (about 0.6 s) would cost more than it saves
    generator = DrumGenerator.load(args.model, compiled=False)
    spq = generator.steps_config.steps_per_quarter
    primer, primer_info = None, None
    if args.primer is not None:
        from drumrnn.cli.common import drum_source

        source = drum_source(args.channel, args.track)
        primer = read_drum_hits(args.primer, source)
        primer_info = {"file": str(args.primer), "source": source.describe()}
    elif args.primer_pattern is not None:
        primer = parse_pattern(args.primer_pattern, generator.kit, spq,
                               generator.time_map(config))
        primer_info = {"pattern": args.primer_pattern}
    elif args.primer_from is not None:
        window = primer_from_dataset(
            args.primer_from, 2 if args.primer_bars is None else args.primer_bars,
            args.split or "validation", config.seed, args.tempo or 120.0)
        primer, primer_info = window.hits, window.to_dict()
        print(f"primer: {window.describe()}", file=sys.stderr)
        if generator.labels is not None:  # the primer track's labels are the defaults
            style, kind = window.labels["style"], window.labels["kind"]
            config = replace(config, style=args.style or (
                style if style in generator.labels.styles else None),
                kind=config.kind if args.kind is not None else kind or "beat")
    generator.check_labels(config)  # before the announcement: a bad label is the only line
    time_map = generator.time_map(config, primer)
    _announce(config, time_map)
    patterns = generator.generate(config, primer)
    model = model_identity(args.model or bundled_model_path(), bundled=args.model is None)
    record = _record(config, model, time_map, primer_info)
    return _write(args, patterns, generator.kit, spq, record, write_patterns)


def _generate_ngram(args, config) -> int:
    from drumrnn.measure.ngram import NGramModel, ngram_patterns
    from drumrnn.render.outputs import model_identity, write_patterns

    if args.primer is not None or args.primer_pattern is not None or args.primer_from:
        raise DrumrnnError("the n-gram baseline generates without a primer")
    model = NGramModel.load(args.model)
    kit, patterns, time_map = ngram_patterns(model, config)
    _announce(config, time_map)
    record = _record(config, model_identity(args.model), time_map, None)
    return _write(args, patterns, kit, 4, record, write_patterns)


def _announce(config, time_map) -> None:
    num, den = time_map.time_signatures[-1][1:]
    first, last = config.variation, config.variation + config.num - 1
    which = f"variation {first}" if first == last else f"variations {first}-{last}"
    print(f"seed {config.seed}, {which}: {config.bars} bars of {num}/{den} at "
          f"{time_map.qpm:g} bpm", flush=True)


def _record(config, model, time_map, primer_info):
    from drumrnn.render.outputs import GenerationRecord

    num, den = time_map.time_signatures[-1][1:]
    return GenerationRecord(model, config.to_dict(), config.seed,
                            list(range(config.variation, config.variation + config.num)),
                            time_map.qpm, f"{num}/{den}", primer_info)


def _write(args, patterns, kit, spq, record, write_patterns) -> int:
    paths = write_patterns(patterns, args.out, kit, args.bars, spq, wav=args.wav, png=args.png,
                           soundfont=args.soundfont, record=record, loop=args.loop,
                           overwrite=args.overwrite, mp3=args.mp3, flac=args.flac,
                           mp3_kbps=args.mp3_kbps)
    for path in paths:
        print(path)
    return 0


def _is_ngram(path: Path | None) -> bool:
    from drumrnn.cli.measure import _is_ngram as is_ngram

    return path is not None and path.suffix == ".npz" and path.is_file() and is_ngram(path)


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


def _check_sampling_options(args) -> None:
    """Options that would do nothing, or something else than asked, get one clear line."""
    if args.top_k is not None and args.top_k < 1:
        raise DrumrnnError("--top-k must be at least 1 (leave it out to sample among all steps)")
    if args.beam_size is not None and args.beam_size < 1:
        raise DrumrnnError("--beam-size must be at least 1 (leave it out to sample instead)")
    if args.greedy and args.temperature is not None:
        raise DrumrnnError("--greedy always takes the likeliest step, so --temperature would "
                           "change nothing; use one or the other")
    if args.greedy and (args.top_k or args.top_p < 1 or args.beam_size):
        raise DrumrnnError("--greedy takes the likeliest step; it does not combine with "
                           "--top-k, --top-p or --beam-size")
    from drumrnn.generation.sampling import MIN_TEMPERATURE

    if args.temperature is not None and args.temperature < MIN_TEMPERATURE:
        raise DrumrnnError(f"--temperature must be at least {MIN_TEMPERATURE}; for always the "
                           "likeliest step use --greedy")


def add_generate(sub) -> None:
    from drumrnn.render.encode import DEFAULT_MP3_KBPS

    p = sub.add_parser("generate", help="generate drum patterns (MIDI, WAV, MP3, FLAC, PNG)")
    p.add_argument("--model", type=Path, default=None,
                   help="model file, or an n-gram baseline file (default: the bundled model)")
    p.add_argument("--bars", type=int, default=8, help="length in bars, primer included")
    p.add_argument("--tempo", type=float, default=None,
                   help="bpm (default: the primer's tempo, else 120)")
    p.add_argument("--time-signature", default=None, metavar="N/D",
                   help="meter of unprimed patterns: 4/4 (default), 3/4, 6/8, 5/4, 7/8 ...; "
                        "a primer keeps its own")
    p.add_argument("--num", type=int, default=1, help="variations, generated as one batch")
    p.add_argument("--seed", type=int, default=None,
                   help="same seed, same patterns (default: drawn, and printed)")
    p.add_argument("--variation", type=int, default=None, metavar="K",
                   help="start at variation K of --seed: --seed S --variation K --num 1 "
                        "makes drums_K of --seed S again, alone")
    s_ = p.add_argument_group("sampling")
    s_.add_argument("--temperature", type=float, default=None,
                    help="below 1 safer, above 1 wilder; 0.5-1.5 is useful (default 1)")
    s_.add_argument("--top-k", type=int, default=None, help="sample among the k likeliest steps")
    s_.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (0, 1]")
    s_.add_argument("--greedy", action="store_true", help="always the likeliest step")
    s_.add_argument("--beam-size", type=int, default=None, help="beam search with this many beams")
    s_.add_argument("--branch-factor", type=int, default=2, help="beam search branches per beam")
    s_.add_argument("--random-state", type=float, default=0.0, metavar="SCALE",
                    help="start from uniform noise in +-SCALE (RNN Drummer used 0.1)")
    s_.add_argument("--quantized", action="store_true",
                    help="hits exactly on the grid (default: the learned timing)")
    s_.add_argument("--swing", type=float, default=50.0, metavar="50..75",
                    help="delay every second 16th, in percent of its 8th as drum machines "
                         "count it (50 straight, 66 triplet; default 50)")
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
    p.add_argument("--channel", type=int, default=10, metavar="1-16",
                   help="the primer's drum channel (default 10)")
    p.add_argument("--track", default=None, metavar="INDEX|NAME",
                   help="take the primer's drums from this track (0-based index or name)")
    p.add_argument("--out", type=Path, required=True,
                   help="output folder: new or empty, or holding an earlier generation to "
                        "replace with --overwrite")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the earlier generation in --out (its files are removed)")
    p.add_argument("--wav", action="store_true", help="also render audio (General MIDI kit)")
    p.add_argument("--soundfont", type=Path, default=None, help="SF2 soundfont for audio")
    p.add_argument("--mp3", action="store_true", help="also write MP3 (tagged with the settings)")
    p.add_argument("--mp3-kbps", type=int, default=DEFAULT_MP3_KBPS,
                   help=f"MP3 constant bitrate (default {DEFAULT_MP3_KBPS})")
    p.add_argument("--flac", action="store_true", help="also write FLAC (lossless)")
    p.add_argument("--png", action="store_true", help="also draw a drum grid")
    p.add_argument("--loop", action="store_true",
                   help="loop-ready: the WAV exactly the pattern's length with its ring-out "
                        "mixed into the start, the MIDI ending on the last bar line")
    p.set_defaults(func=cmd_generate)
