"""Kill soak: SIGKILL a small training run at random moments, resume it each time, then
count corrupt files, lost metrics rows and orphaned temporary files.

Each kill waits until the run is training (its checkpoint has been rewritten since the
start), then lands at a random moment of the next --window seconds; validations and
checkpoint writes every few steps make many of the kills land mid-write.

    python bench/kill_soak.py --kills 10

A metrics row is lost when a scheduled validation step (a multiple of --eval-every up to
the last step) is missing from the final metrics.csv. A file is corrupt when drumrnn's own
loader refuses it. A temporary file is orphaned when one of drumrnn's staged files is still
in the run folder (or beside it) after the final run.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine, write_section

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.dataset import PrepareConfig, prepare
from drumrnn.model.model_file import load_model_file
from drumrnn.training.checkpoint import load_checkpoint

BAR_1 = {36: "x.....x...x.....", 38: "....x.......x...", 42: "x.x.x.x.x.x.x.x."}
BAR_2 = {36: "x.....x.........", 38: "....x.......x.x.", 42: "x.x.x.x.x.x.x.xx"}


def write_groove(path: Path, bars: int) -> None:
    import mido

    midi = mido.MidiFile(type=0, ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    events = sorted((bar * 1920 + i * 120, pitch)
                    for bar in range(bars) for pitch, line in (BAR_1, BAR_2)[bar % 2].items()
                    for i, c in enumerate(line) if c == "x")
    now = 0
    for tick, pitch in events:
        track.append(mido.Message("note_on", note=pitch, velocity=100, channel=9,
                                  time=tick - now))
        now = tick
    midi.save(path)


def check_files(run: Path) -> list[str]:
    """The run's files that drumrnn's loaders refuse."""
    bad = []
    for name, load in (("checkpoint-last.pt", load_checkpoint),
                       ("checkpoint-best.pt", load_checkpoint), ("model.npz", load_model_file)):
        if (run / name).exists():
            try:
                load(run / name)
            except DrumrnnError as exc:
                bad.append(f"{name}: {exc}")
    if (run / "metrics.csv").exists():
        try:
            rows = list(csv.DictReader((run / "metrics.csv").read_text().splitlines()))
            [float(r["val_loss"]) for r in rows]
        except (ValueError, KeyError) as exc:
            bad.append(f"metrics.csv: {exc}")
    return bad


def _mtime(path: Path) -> float:
    return path.stat().st_mtime_ns if path.exists() else 0


def temp_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if p.name.startswith(".") and
            not p.name.endswith(".lock")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--max-steps", type=int, default=2000)
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--window", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "midi").mkdir()
        for i in range(6):
            write_groove(tmp / "midi" / f"g{i}.mid", 16 + 4 * i)
        prepare(tmp / "midi", tmp / "data", PrepareConfig(split_fractions=(0.34, 0.33, 0.33)))
        run = tmp / "run"
        fresh = [sys.executable, "-m", "drumrnn", "train", str(tmp / "data"), "--out", str(run),
                 "--hidden", "32", "--layers", "1", "--max-steps", str(args.max_steps),
                 "--eval-every", str(args.eval_every), "--patience", "0", "--threads", "1",
                 "--batch", "4", "--window", "32", "--quiet"]
        resume = [sys.executable, "-m", "drumrnn", "train", "--resume", str(run), "--quiet"]
        corrupt, kills, tracebacks, log, mid_write = [], 0, 0, [], 0
        while kills < args.kills:
            argv = resume if (run / "checkpoint-last.pt").exists() else fresh
            before = _mtime(run / "checkpoint-last.pt")
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=env)
            started = time.time()
            while (proc.poll() is None and _mtime(run / "checkpoint-last.pt") == before
                   and time.time() - started < 120):
                time.sleep(0.05)
            delay = rng.uniform(0.0, args.window)
            time.sleep(delay)
            if proc.poll() is not None:
                out, err = proc.communicate()
                tracebacks += err.count("Traceback")
                log.append(f"run ended by itself ({proc.returncode}) before the kill")
                if proc.returncode == 0:
                    break
                continue
            proc.kill()
            out, err = proc.communicate()
            tracebacks += err.count("Traceback")
            kills += 1
            mid_write += bool(temp_files(run))
            bad = check_files(run)
            corrupt += bad
            step = load_checkpoint(run / "checkpoint-last.pt")["step"] if (
                run / "checkpoint-last.pt").exists() else 0
            log.append(f"kill {kills} {delay:.2f} s into training: checkpoint at step {step}, "
                       f"{len(temp_files(run))} temporary files left by the kill, "
                       f"{len(bad)} corrupt files")
            print(log[-1], flush=True)
        final = subprocess.run(resume if (run / "checkpoint-last.pt").exists() else fresh,
                               capture_output=True, text=True, env=env)
        tracebacks += final.stderr.count("Traceback")
        corrupt += check_files(run)
        rows = list(csv.DictReader((run / "metrics.csv").read_text().splitlines()))
        steps = {int(r["step"]) for r in rows}
        last = load_checkpoint(run / "checkpoint-last.pt")["step"]
        expected = set(range(args.eval_every, last + 1, args.eval_every))
        lost = sorted(expected - steps)
        orphans = temp_files(run) + temp_files(tmp)
        summary = (f"{kills} SIGKILLs of `drumrnn train` at random moments (0-{args.window:g} s "
                   f"into training, validation and checkpoints every {args.eval_every} steps), "
                   f"each followed by `--resume`, then a final "
                   f"resume to step {last} (exit {final.returncode}): corrupt files "
                   f"{len(corrupt)}, lost metrics rows {len(lost)} of {len(expected)} "
                   f"scheduled validations (plus {len(steps - expected)} rows of stops), "
                   f"orphaned temporary files {len(orphans)} ({mid_write} kills landed "
                   f"mid-write and left one, removed by the next run), tracebacks {tracebacks}")
        print(summary)
        for line in corrupt + [str(p) for p in orphans]:
            print("  " + line)
    if not args.no_write:
        write_section("kill-soak", "\n".join([
            "## Kill soak (bench/kill_soak.py)",
            "",
            f"`python bench/kill_soak.py --kills {args.kills} --max-steps {args.max_steps} "
            f"--eval-every {args.eval_every} --window {args.window:g} --seed {args.seed}` on "
            f"{machine('torch')}; the machine was shared with other jobs.",
            "",
            f"- {summary}.",
        ]))


if __name__ == "__main__":
    main()
