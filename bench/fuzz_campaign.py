"""Fuzz campaign: N mutated copies of Groove MIDI Dataset files through ``drumrnn prepare``.

Each run prepares a folder of mutated files in a fresh interpreter (a subprocess), so that
its peak memory (its own and its worker processes') is measured with ``getrusage``. Prints
and records: files kept and skipped, internal errors, tracebacks, aborted runs, kept files
whose length their hits do not justify, peak RSS per run.

    python bench/fuzz_campaign.py --files 10000 --per-run 1000
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from common import DEFAULT_GROOVE, REPO, machine, require_groove, write_section

sys.path.insert(0, str(REPO))  # the hostile corpus's writers live with the tests
from tests.hostile import vlq  # noqa: E402

# Run in the child: prepare, then report the peak RSS of the process and its workers (KB).
CHILD = """
import json, resource, sys
from drumrnn.cli import main
code = main(sys.argv[1:])
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
           resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.stderr.write("\\nFUZZ-RSS-KB " + json.dumps(peak) + "\\n")
sys.exit(code)
"""


#: How often each kind of damage is drawn: those that leave a parseable file (huge deltas,
#: time divisions, tempo floods) more often, so that they reach the length limits.
KIND_WEIGHTS = (1, 1, 1, 1, 3, 3, 2, 0.5, 1, 2, 1)


def chunks(data: bytes) -> list[list]:
    """[[kind, body], ...] of a file's chunks (as far as the bytes allow)."""
    out, pos = [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4:pos + 8], "big")
        out.append([data[pos:pos + 4], bytearray(data[pos + 8:pos + 8 + size])])
        pos += 8 + size
    return out


def mutate(data: bytes, rng: random.Random, donors: list[bytes]) -> bytes:
    """One to three random damages, inside a track or the header; chunk lengths are then
    usually set right again (or not), so that damage reaches the event parsers."""
    parts = chunks(data)
    if len(parts) < 2:
        return data
    header, tracks = parts[0][1], parts[1:]
    for _ in range(rng.randint(1, 3)):
        body = rng.choice(tracks)[1]
        n = len(body)
        kind = rng.choices(range(11), KIND_WEIGHTS)[0]
        if kind == 0 and n:  # flip bits
            for _ in range(rng.randint(1, 16)):
                body[rng.randrange(n)] ^= 1 << rng.randrange(8)
        elif kind == 1 and n:  # random bytes
            for _ in range(rng.randint(1, 8)):
                body[rng.randrange(n)] = rng.randrange(256)
        elif kind == 2:  # truncate
            del body[rng.randrange(n + 1):]
        elif kind == 3:  # insert junk
            i = rng.randrange(n + 1)
            body[i:i] = rng.randbytes(rng.randint(1, 64))
        elif kind in (4, 5):  # hits after huge (maximal, over-long) deltas, at event boundaries
            delta = rng.choice([0x0FFFFFFF, 0x3FFFFFFF, 2 ** 40, rng.randrange(2 ** 21)])
            event = vlq(delta) + bytes([0x90 | rng.choice([9, 9, 0]), rng.randrange(35, 82), 100])
            at = rng.choice([0, max(n - 4, 0)])
            body[at:at] = event * rng.randint(1, 4)
        elif kind == 6 and len(header) >= 6:  # time division
            header[4:6] = rng.choice([1, 2, 12, 24, 25, 96, 0x7FFF, 0xE728,
                                      rng.randrange(65536)]).to_bytes(2, "big")
        elif kind == 7 and len(header) >= 4:  # format / track count
            header[0:4] = rng.randbytes(4)
        elif kind == 8 and n > 8:  # duplicate a slice (running status, repeated events)
            i, j = sorted(rng.randrange(n) for _ in range(2))
            body[j:j] = body[i:min(j, i + 512)]
        elif kind == 9:  # bogus meta length, or many tempo changes, at the start
            meta = rng.choice([b"\x00\xff\x2f" + vlq(rng.choice([0x58, 0x7F, 0x0FFFFFFF])),
                               b"\x00\xff\x51\x03\x07\xa1\x20" * rng.randint(1, 20000),
                               b"\x00\xff\x58\x04" + rng.randbytes(4)])
            body[0:0] = meta
        elif kind == 10 and donors:  # splice another file's bytes
            other = rng.choice(donors)
            body[rng.randrange(n + 1):] = other[rng.randrange(len(other) + 1):]
    fix = rng.random() < 0.8
    out = bytearray()
    for kind, body in [parts[0], *tracks]:
        size = len(body) if fix else rng.choice([len(body), rng.randrange(1 << 16)])
        out += kind + size.to_bytes(4, "big") + body
    return bytes(out)


def justified_bars(hits: int, max_bars: int, max_gap_bars: int) -> int:
    """The most bars a kept file with ``hits`` hits may have under the reading limits."""
    return min(max_bars, (hits + 1) * (max_gap_bars + 1))


def check_lengths(out: Path) -> tuple[int, int, int]:
    """(kept files, kept files longer than their hits justify, longest track in bars)."""
    manifest = json.loads((out / "manifest.json").read_text())
    limits = manifest["config"]["limits"]
    absurd, longest = 0, 0
    for name in ("train", "validation", "test"):
        folder = out / name
        if not (folder / "positions.npy").exists():
            continue
        positions = np.load(folder / "positions.npy")
        starts = np.load(folder / "track_starts.npy")
        bar_lines = np.concatenate([[0], np.cumsum(positions == 0)])
        bars = bar_lines[starts[1:]] - bar_lines[starts[:-1]]
        entries = sorted((f for f in manifest["files"] if f["split"] == name),
                         key=lambda f: f["index"])
        for entry, n_bars in zip(entries, bars.tolist()):
            longest = max(longest, n_bars)
            if n_bars > justified_bars(entry["hits"], limits["max_bars"],
                                       limits["max_gap_bars"]):
                absurd += 1
    return len(manifest["files"]), absurd, longest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groove", type=Path, default=DEFAULT_GROOVE)
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--per-run", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=0, help="stop starting runs after this")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    groove = require_groove(args.groove)
    sources = sorted(groove.rglob("*.mid"))
    donors = [p.read_bytes() for p in sources[:50]]
    rng = random.Random(args.seed)
    totals = Counter()
    peaks, seconds = [], []
    reasons = Counter()
    longest = 0
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(0, args.files, args.per_run):
            if args.minutes and time.time() - started > args.minutes * 60:
                break
            src, out = Path(tmp) / "src", Path(tmp) / "out"
            shutil.rmtree(src, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
            src.mkdir()
            n = min(args.per_run, args.files - run)
            for i in range(n):
                original = rng.choice(sources).read_bytes()
                (src / f"m{run + i:05d}.mid").write_bytes(mutate(original, rng, donors))
            began = time.perf_counter()
            # every other run reads through the note-on scanner (--track 0) instead of symusic
            source = ["--track", "0"] if totals["runs"] % 2 else []
            proc = subprocess.run([sys.executable, "-c", CHILD, "prepare", str(src), "--out",
                                   str(out), "--quiet", "--workers", str(args.workers), *source],
                                  capture_output=True, text=True)
            seconds.append(time.perf_counter() - began)
            totals["files"] += n
            totals["runs"] += 1
            totals["tracebacks"] += proc.stderr.count("Traceback")
            rss = [line for line in proc.stderr.splitlines() if line.startswith("FUZZ-RSS-KB")]
            if rss:
                peaks.append(int(rss[-1].split()[1]) / 1024)
            if proc.returncode != 0 or not (out / "manifest.json").exists():
                totals["aborted"] += 1
                print(f"run {totals['runs']}: exit {proc.returncode}: {proc.stderr[-500:]}")
                continue
            kept, absurd, run_longest = check_lengths(out)
            manifest = json.loads((out / "manifest.json").read_text())
            skipped = manifest["skipped"]
            internal = [s for s in skipped if s["reason"].startswith("internal error")]
            for s in internal:
                print(f"internal error: {s['path']}: {s['reason']}")
            reasons.update(re.sub(r"\d+", "N", s["reason"].split(":")[0].split(";")[0])
                           for s in skipped)
            totals["kept"] += kept
            totals["skipped"] += len(skipped)
            totals["internal"] += len(internal)
            totals["absurd"] += absurd
            totals["trimmed"] += sum(1 for f in manifest["files"] if f.get("trimmed"))
            longest = max(longest, run_longest)
            print(f"run {totals['runs']}: {n} files, kept {kept}, skipped {len(skipped)}, "
                  f"internal errors {len(internal)}, absurd lengths {absurd}, "
                  f"peak RSS {peaks[-1] if peaks else float('nan'):.0f} MB, "
                  f"{seconds[-1]:.1f} s", flush=True)
    summary = (f"{totals['files']} mutated files in {totals['runs']} prepare runs of up to "
               f"{args.per_run} (workers {args.workers}, seed {args.seed}): kept "
               f"{totals['kept']}, skipped {totals['skipped']}, internal errors "
               f"{totals['internal']}, tracebacks {totals['tracebacks']}, aborted runs "
               f"{totals['aborted']}, kept files longer than their hits justify "
               f"{totals['absurd']} (longest kept track {longest} bars; {totals['trimmed']} "
               f"files had silences shortened or were cut), peak RSS per run max "
               f"{max(peaks, default=0):.0f} MB / median {statistics.median(peaks or [0]):.0f} "
               f"MB, median {statistics.median(seconds or [0]):.1f} s per run")
    print(summary)
    top = ", ".join(f"{r} {n}" for r, n in reasons.most_common(6))
    print(f"most common skip reasons: {top}")
    if not args.no_write:
        write_section("fuzz-campaign", "\n".join([
            "## Fuzz campaign (bench/fuzz_campaign.py)",
            "",
            f"`python bench/fuzz_campaign.py --files {args.files} --per-run {args.per_run} "
            f"--workers {args.workers} --seed {args.seed}` on {machine('symusic', 'numpy')}; "
            "the machine was shared with other jobs (load average 5-8).",
            "",
            f"- {summary}.",
            f"- Most common skip reasons: {top}.",
            "- Mutations: bit flips, random bytes, truncation, inserted junk, huge and over-long "
            "delta times, random time divisions, format/track-count damage, duplicated slices, "
            "bogus meta lengths, splices of two files.",
        ]))


if __name__ == "__main__":
    main()
