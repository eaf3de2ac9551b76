"""Commands of the data stage: prepare, encode, inspect, download."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drumrnn.cli.common import add_encoding_options, encoding_options
from drumrnn.core.errors import DrumrnnError


def cmd_prepare(args) -> int:
    from drumrnn.data.dataset import PrepareConfig, prepare
    from drumrnn.data.groove import GrooveFilter, parse_bpm_range
    from drumrnn.data.labels import LabelSource
    from drumrnn.data.limits import ReadLimits

    encoding, source = encoding_options(args)
    fractions = _split_fractions(args.split)
    groove_filter = GrooveFilter(
        styles=tuple(args.style), beat_type=args.beat_type,
        time_signatures=tuple(args.time_signature), drummers=tuple(args.drummer),
        bpm_range=parse_bpm_range(args.bpm) if args.bpm else None)
    labels = LabelSource(str(args.labels) if args.labels else None, args.style_from_folder)
    limits = ReadLimits(max_bars=args.max_bars, max_gap_bars=args.max_gap_bars)
    config = PrepareConfig(encoding, source, groove_filter, fractions, args.max_file_mb, labels,
                           limits=limits, min_per_split=args.min_per_split,
                           skip_near_duplicates=args.skip_near_duplicates)
    report = prepare(args.source, args.out, config, workers=args.workers,
                     progress=sys.stderr.isatty() and not args.quiet)
    print(report.summary())
    for warning in report.warnings:
        print(f"drumrnn prepare: warning: {warning}", file=sys.stderr)
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
    from drumrnn.data.events import encode_events
    from drumrnn.data.midi_read import read_drum_hits
    from drumrnn.data.steps import encode_steps
    from drumrnn.data.text_corpus import write_words

    encoding, source = encoding_options(args)
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
    from drumrnn.data.inspection import inspect_midi

    encoding, source = encoding_options(args)
    print(inspect_midi(args.file, encoding, source).format())
    return 0


def cmd_download(args) -> int:
    from drumrnn.data.download import GROOVE_URL, LAKH_URL, download_groove, download_lakh

    if args.dataset == "lakh":
        archive = download_lakh(args.dest, args.url or LAKH_URL, progress=sys.stderr.isatty())
        print(f"Lakh MIDI Dataset ready in {archive} (CC BY 4.0, Raffel 2016); "
              f"prepare it with: drumrnn prepare {archive} --out DATASET")
        return 0
    if args.dataset != "groove":
        raise DrumrnnError(f"unknown dataset {args.dataset!r}; choose groove or lakh")
    folder = download_groove(args.dest, args.url or GROOVE_URL, progress=sys.stderr.isatty())
    print(f"Groove MIDI Dataset ready in {folder} (CC BY 4.0, Gillick et al. 2019)")
    return 0


def add_prepare(sub) -> None:
    p = sub.add_parser("prepare", help="turn a folder of drum MIDI (or the GMD, or text "
                                       "corpora) into a dataset")
    p.add_argument("source", type=Path,
                   help="folder of .mid/.midi files and LSTMetallica .txt corpora, one .txt "
                        "corpus, a .tar.gz of MIDI files (Lakh), or a GMD folder")
    p.add_argument("--out", type=Path, required=True, help="dataset folder to write")
    add_encoding_options(p)
    f = p.add_argument_group("Groove MIDI Dataset filters")
    f.add_argument("--style", action="append", default=[], metavar="PREFIX",
                   help="keep styles with this prefix, e.g. rock or funk/groove1 (repeatable)")
    f.add_argument("--beat-type", choices=("beat", "fill"), default=None)
    f.add_argument("--time-signature", action="append", default=[], metavar="N-D",
                   help="e.g. 4-4 (repeatable)")
    f.add_argument("--drummer", action="append", default=[], metavar="NAME",
                   help="e.g. drummer1 (repeatable)")
    f.add_argument("--bpm", default=None, metavar="MIN-MAX", help="e.g. 80-120")
    lab = p.add_argument_group("labels of plain folders (the GMD has its own)")
    lab.add_argument("--labels", type=Path, default=None, metavar="FILE.csv",
                     help="a CSV with columns file,style,kind (kind: beat or fill)")
    lab.add_argument("--style-from-folder", action="store_true",
                     help="each file's style is its parent folder's name")
    p.add_argument("--split", default="90/5/5", metavar="TRAIN/VAL/TEST",
                   help="shares for plain folders, split by content hash (default 90/5/5)")
    p.add_argument("--min-per-split", type=int, default=0, metavar="N",
                   help="plain folders: move files from train until validation and test "
                        "hold at least N each")
    p.add_argument("--max-file-mb", type=float, default=16.0, help="skip larger files")
    p.add_argument("--max-bars", type=int, default=4096, metavar="N",
                   help="cut pieces after N bars (default 4096)")
    p.add_argument("--max-gap-bars", type=int, default=8, metavar="N",
                   help="shorten silences longer than N empty bars to N (default 8)")
    p.add_argument("--skip-near-duplicates", action="store_true",
                   help="skip files whose drum tokens repeat an earlier file's (the same song "
                        "in several MIDI versions, as in Lakh); default: keep and count them")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_prepare)


def add_encode(sub) -> None:
    p = sub.add_parser("encode", help="print a MIDI file's tokens")
    p.add_argument("file", type=Path)
    p.add_argument("--format", choices=("ints", "words"), default="ints",
                   help="ints: one token per line (events: 'drum delta'); words: LSTMetallica text")
    add_encoding_options(p)
    p.set_defaults(func=cmd_encode)


def add_inspect(sub) -> None:
    p = sub.add_parser("inspect", help="summarize a drum MIDI file")
    p.add_argument("file", type=Path)
    add_encoding_options(p)
    p.set_defaults(func=cmd_inspect)


def add_download(sub) -> None:
    p = sub.add_parser("download", help="download a dataset (groove: the Groove MIDI Dataset; "
                                        "lakh: the Lakh MIDI Dataset's lmd_full.tar.gz)")
    p.add_argument("dataset", help="groove or lakh")
    p.add_argument("--dest", type=Path, default=Path("data"), help="folder (default ./data)")
    p.add_argument("--url", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_download)
