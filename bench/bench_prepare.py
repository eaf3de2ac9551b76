"""Benchmark dataset preparation (``drumrnn prepare``) on the full Groove MIDI Dataset.

Measures, each repeated ``--repeats`` times (median reported, all runs shown):

* cold ``prepare()`` in-process, steps and events encodings, 9-piece kit, 1 and 2 workers;
* a warm re-run into the same output folder (every file taken from the previous output);
* the whole CLI from a cold interpreter (``python -m drumrnn.cli prepare``), default workers.

"Cold" means a fresh output folder, so nothing is reused; the OS file cache is warm after the
first run either way. Prints a markdown table and writes it into BENCHMARKS.md at the repo
root, between the ``bench_prepare`` markers.

Run: ``python bench/bench_prepare.py [--groove PATH] [--repeats N]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from common import DEFAULT_GROOVE, machine, require_groove, time_command, timed, write_section

from drumrnn.data.dataset import PrepareConfig, prepare
from drumrnn.data.encoding import EncodingConfig

TARGET = "whole GMD in under 2 s wall on 2 cores, cold cache"


def files_read(report) -> int:
    # Every MIDI file read counts, including the ones skipped (duplicates, no usable hits).
    return sum(s["files"] for s in report.splits.values()) + report.skipped


def bench_cold(groove: Path, encoding: str, workers: int, repeats: int) -> tuple[list[float], object]:
    config = PrepareConfig(encoding=EncodingConfig(encoding, kit="9"))
    times, report = [], None
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t, report = timed(lambda: prepare(groove, Path(tmp) / "out", config=config,
                                              workers=workers, progress=False))
            assert report.reused == 0, f"cold run reused {report.reused} files"
        times.append(t)
    return times, report


def bench_warm(groove: Path, workers: int, repeats: int) -> tuple[list[float], object]:
    config = PrepareConfig(encoding=EncodingConfig("steps", kit="9"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        prepare(groove, out, config=config, workers=workers)  # fills the cache, not timed
        times, report = [], None
        for _ in range(repeats):
            t, report = timed(lambda: prepare(groove, out, config=config, workers=workers))
            times.append(t)
    return times, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groove", type=Path, default=DEFAULT_GROOVE,
                        help=f"Groove MIDI Dataset folder (default: {DEFAULT_GROOVE})")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement")
    args = parser.parse_args()
    groove = require_groove(args.groove)

    rows = []  # (case, encoding, workers, times, files, note)

    def fmt(times):
        return ", ".join(f"{t:.2f}" for t in times)

    for encoding in ("steps", "events"):
        for workers in (2, 1):
            times, report = bench_cold(groove, encoding, workers, args.repeats)
            splits = report.splits
            note = (f"{sum(s['files'] for s in splits.values())} kept, "
                    f"{sum(s['tokens'] for s in splits.values())} tokens, "
                    f"{sum(s['hits'] for s in splits.values())} hits")
            rows.append(("cold `prepare()`", encoding, str(workers), times,
                         files_read(report), note))
            print(f"  {rows[-1][0]} {encoding} w={workers}: {fmt(times)}", file=sys.stderr)
    times, report = bench_warm(groove, 2, args.repeats)
    rows.append(("warm re-run (cache)", "steps", "2", times, files_read(report),
                 f"{report.reused} reused, {report.parsed} parsed"))
    times = time_command(["prepare", str(groove), "--encoding", "steps", "--quiet"], args.repeats)
    rows.append(("CLI, cold interpreter", "steps", f"default ({os.cpu_count()})", times,
                 files_read(report), "includes interpreter start and imports"))

    lines = ["| case | encoding | workers | runs (s) | median (s) | files/s | notes |",
             "|---|---|---|---|---|---|---|"]
    for case, encoding, workers, times, files, note in rows:
        med = statistics.median(times)
        lines.append(f"| {case} | {encoding} | {workers} | {fmt(times)} | {med:.2f} | "
                     f"{files / med:.0f} | {note} |")
    table = "\n".join(lines)
    best = statistics.median(rows[0][3])  # steps, 2 workers, cold
    verdict = "met" if best < 2 else "not met"
    section = "\n".join([
        "## Data preparation (bench/bench_prepare.py)", "",
        f"Target: {TARGET}. Steps encoding, 2 workers, cold: median {best:.2f} s "
        f"(**{verdict}**).", "",
        f"Reproduce: `python bench/bench_prepare.py --repeats {args.repeats}` "
        f"(GMD: {rows[0][4]} MIDI files; median of {args.repeats} runs; "
        "files/s counts every MIDI file read).", "",
        f"Machine: {machine('numpy', 'symusic')}", "", table])
    print(section)
    write_section("bench_prepare", section)


if __name__ == "__main__":
    main()
