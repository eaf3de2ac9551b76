"""The humanize command."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path


def cmd_humanize(args) -> int:
    from drumrnn.data.midi_read import read_drum_hits
    from drumrnn.generation.generate import DrumGenerator
    from drumrnn.generation.humanize import HumanizeConfig, humanize
    from drumrnn.render.encode import check_mp3_kbps, write_audio_beside
    from drumrnn.render.midi_write import write_midi

    config = HumanizeConfig(args.amount, args.style,
                            None if args.kind == "unknown" else args.kind, args.tempo, args.seed)
    formats = [f for f in ("wav", "mp3", "flac") if getattr(args, f)]
    if args.mp3:
        check_mp3_kbps(args.mp3_kbps)
    generator = DrumGenerator.load(args.model, compiled=False)  # one run per process
    from drumrnn.cli.common import drum_source

    source = read_drum_hits(args.file, drum_source(args.channel, args.track))
    hits = humanize(generator, source, config)
    print(write_midi(hits, args.out))
    comment = json.dumps({"humanized": str(args.file), **asdict(config)}, separators=(",", ":"))
    for path in write_audio_beside(hits, args.out, formats, soundfont=args.soundfont,
                                   comment=comment, mp3_kbps=args.mp3_kbps):
        print(path)
    return 0


def add_humanize(sub) -> None:
    p = sub.add_parser("humanize", help="give a drum MIDI learned velocities and timing",
                       description="Keeps every hit's drum and grid step; samples its "
                       "velocity and its offset from the grid from a model's feel heads.")
    p.add_argument("file", type=Path, help="drum MIDI file (e.g. quantized, flat velocities)")
    p.add_argument("--out", type=Path, required=True, help="MIDI file to write")
    p.add_argument("--channel", type=int, default=10, metavar="1-16",
                   help="the file's drum channel (default 10)")
    p.add_argument("--track", default=None, metavar="INDEX|NAME",
                   help="take the drums from this track (0-based index or name) instead")
    p.add_argument("--model", type=Path, default=None,
                   help="model file with feel heads (default: the bundled model)")
    p.add_argument("--amount", type=float, default=1.0, metavar="0..1",
                   help="0 keeps the input, 1 takes the model's feel (default)")
    p.add_argument("--style", default=None, help="style label, e.g. rock")
    p.add_argument("--kind", choices=("beat", "fill", "unknown"), default="beat")
    p.add_argument("--tempo", type=float, default=None, help="tempo label (default: the file's)")
    p.add_argument("--seed", type=int, default=None, help="same seed, same result")
    a = p.add_argument_group("audio beside the MIDI file (same name)")
    a.add_argument("--wav", action="store_true", help="also render WAV")
    a.add_argument("--mp3", action="store_true", help="also write MP3 (tagged with the settings)")
    a.add_argument("--mp3-kbps", type=int, default=80, help="MP3 constant bitrate (default 80)")
    a.add_argument("--flac", action="store_true", help="also write FLAC (lossless)")
    a.add_argument("--soundfont", type=Path, default=None, help="SF2 soundfont for audio")
    p.set_defaults(func=cmd_humanize)
