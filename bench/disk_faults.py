"""Full and read-only filesystems: every writing command on tmpfs mounts of several sizes
(and read-only), counting tracebacks, successes and files left empty or partial.

Needs root (it mounts tmpfs). A success is only counted right when every file it names
or writes is complete (MIDI files re-read, JSON parsed, datasets and models loaded).

    sudo python bench/disk_faults.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from common import machine, write_section

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.dataset import load_dataset
from drumrnn.data.midi_read import read_drum_hits
from drumrnn.generation.generate import bundled_model_path
from drumrnn.model.model_file import load_model_file

REPO = Path(__file__).resolve().parents[1]
SIZES = ("4k", "16k", "64k", "256k", "1m", "4m", "64m")


def commands(mnt: Path, data: Path) -> dict[str, list]:
    return {
        "generate --wav --png": ["generate", "--bars", "16", "--num", "4", "--seed", "1",
                                 "--wav", "--png", "--out", mnt / "gen"],
        "prepare": ["prepare", REPO / "examples" / "midi", "--out", mnt / "data", "--quiet"],
        "evaluate --json": ["evaluate", bundled_model_path(), data, "--json", mnt / "e.json"],
        "train": ["train", data, "--out", mnt / "run", "--hidden", "32", "--layers", "1",
                  "--max-steps", "6", "--eval-every", "3", "--threads", "1", "--quiet"],
    }


def damaged(mnt: Path, name: str) -> list[str]:
    """Files under ``mnt`` that are empty, temporary, or do not load."""
    bad = [str(p) for p in mnt.rglob("*") if p.is_file() and (
        p.stat().st_size == 0 or (p.name.startswith(".") and not p.name.endswith(".lock")))]
    try:
        if name.startswith("generate"):
            for path in mnt.glob("gen/*.mid"):
                read_drum_hits(path)
        elif name == "prepare" and (mnt / "data").exists():
            dataset = load_dataset(mnt / "data")
            for split in ("train", "validation", "test"):
                dataset.split(split)
        elif name.startswith("evaluate") and (mnt / "e.json").exists():
            json.loads((mnt / "e.json").read_text())
        elif name == "train" and (mnt / "run" / "model.npz").exists():
            load_model_file(mnt / "run" / "model.npz")
    except (DrumrnnError, ValueError) as exc:
        bad.append(f"{name}: {exc}")
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true")
    parser.parse_args()
    totals, problems = Counter(), []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "data"
        subprocess.run([sys.executable, "-m", "drumrnn", "prepare", REPO / "examples" / "midi",
                        "--out", data, "--quiet", "--split", "34/33/33"], check=True)
        for options in [f"size={s}" for s in SIZES] + ["ro"]:
            for name, argv in commands(tmp / "mnt", data).items():
                mnt = tmp / "mnt"
                mnt.mkdir(exist_ok=True)
                subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", mnt], check=True)
                try:
                    proc = subprocess.run([sys.executable, "-m", "drumrnn", *map(str, argv)],
                                          capture_output=True, text=True)
                    totals["runs"] += 1
                    totals["tracebacks"] += "Traceback" in proc.stderr
                    lines = proc.stderr.strip().splitlines()
                    if proc.returncode == 0:
                        totals["successes"] += 1
                    elif len(lines) == 1 and lines[0].startswith(f"drumrnn {argv[0]}: error"):
                        totals["one-line errors"] += 1
                    else:
                        problems.append(f"{options} {name}: exit {proc.returncode}: "
                                        f"{proc.stderr[-300:]}")
                    bad = damaged(mnt, name)
                    totals["empty or partial files"] += len(bad)
                    problems += [f"{options} {name}: {b}" for b in bad]
                    print(f"{options:10s} {name:22s} exit {proc.returncode}: "
                          f"{lines[-1] if lines else 'ok'}", flush=True)
                finally:
                    subprocess.run(["umount", mnt], check=True)
    summary = (f"{totals['runs']} runs ({len(commands(Path('.'), Path('.')))} writing commands "
               f"on tmpfs of {', '.join(SIZES)} and read-only): {totals['successes']} "
               f"successes, {totals['one-line errors']} one-line errors, "
               f"{totals['tracebacks']} tracebacks, {totals['empty or partial files']} empty, "
               f"partial or temporary files left, {len(problems)} problems")
    print(summary)
    for line in problems:
        print("  " + line)
    if not args_no_write():
        write_section("disk-faults", "\n".join([
            "## Full and read-only filesystems (bench/disk_faults.py)",
            "",
            f"`sudo python bench/disk_faults.py` on {machine('symusic')}.",
            "",
            f"- {summary}.",
        ]))


def args_no_write() -> bool:
    return "--no-write" in sys.argv


if __name__ == "__main__":
    main()
