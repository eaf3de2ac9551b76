"""The ``drumrnn`` command: thin wrappers over the library, one module per stage's commands.

Each command module has ``cmd_<name>(args) -> int`` and ``add_<name>(subparsers)``; this
module puts them in one parser and turns a :class:`DrumrnnError` into one line and exit 1.
"""

from __future__ import annotations

import argparse
import sys

from drumrnn import __version__
from drumrnn.cli import data, generate, humanize, measure, serve, train
from drumrnn.core.errors import DrumrnnError

# In the order ``drumrnn --help`` lists them.
COMMANDS = (data.add_prepare, data.add_encode, data.add_inspect, train.add_train,
            generate.add_generate, humanize.add_humanize, measure.add_evaluate,
            measure.add_compare, measure.add_ngram, measure.add_info, serve.add_serve,
            data.add_download)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drumrnn", description="Learn to play drums from MIDI with recurrent networks.")
    parser.add_argument("--version", action="version", version=f"drumrnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 usage)."""
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):  # a bare ``drumrnn``: what it can do
        parser.print_help()
        return 0
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
