"""Train presets (or variants) for the same wall-clock budget on the GMD and tabulate them.

Each run is ``drumrnn train`` with one torch thread, ``--jobs`` runs at a time (one per
core), so every run gets one whole core for the same minutes. The table gives each run's
best validation and its test perplexity and accuracy (from the model file), and is written
into BENCHMARKS.md.

Runs whose folder already holds a model.npz are not trained again, only tabulated.

Run: ``python bench/train_presets.py --minutes 15 --out runs/presets``
     ``python bench/train_presets.py --minutes 6 --variant gru:cell=gru ...`` (default choice)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import DEFAULT_GROOVE, machine, require_groove, write_section

from drumrnn.model.model_file import load_model_file
from drumrnn.training.presets import PRESETS


def data_folder(root: Path, preset: str) -> Path:
    """Where the dataset a preset reads is prepared (one per encoding)."""
    p = PRESETS[preset]
    return root / f"{p.encoding}{'-bar' if p.bar_tokens else ''}"


def run_one(name: str, preset: str, overrides: list[str], data: Path, out: Path,
            minutes: float, eval_every: int | None) -> str:
    """Train one run (unless it finished in an earlier invocation); returns its command."""
    cmd = [sys.executable, "-m", "drumrnn", "train", str(data), "--preset", preset,
           "--out", str(out), "--overwrite", "--minutes", str(minutes), "--threads", "1", "--quiet",
           *(["--eval-every", str(eval_every)] if eval_every else []), *overrides]
    if not (out / "model.npz").is_file():
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{name} failed:\n{proc.stderr}", file=sys.stderr)
    return " ".join(cmd[3:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groove", type=Path, default=DEFAULT_GROOVE)
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--eval-every", type=int, default=None,
                        help="validation interval in steps (default: each preset's own)")
    parser.add_argument("--presets", nargs="*", default=None,
                        help="presets to train (default: all, unless --variant is given)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:k=v,k=v",
                        help="the default preset with overrides, e.g. gru:cell=gru")
    parser.add_argument("--out", type=Path, default=Path("runs/presets"))
    parser.add_argument("--section", default="train_presets")
    args = parser.parse_args()
    presets = args.presets if args.presets is not None else ([] if args.variant else list(PRESETS))
    jobs = [(p, p, []) for p in presets]
    for variant in args.variant:
        name, _, settings = variant.partition(":")
        overrides = []
        for item in filter(None, settings.split(",")):
            key, _, value = item.partition("=")
            overrides += ["--" + key.replace("_", "-"), value]
        jobs.append((name, "default", overrides))

    groove = require_groove(args.groove)
    with tempfile.TemporaryDirectory(prefix="drumrnn-bench-") as tmp:
        root = Path(tmp)
        # prepare only what a run still to train reads; finished runs are only tabulated
        for preset in {preset for name, preset, _ in jobs
                       if not (args.out / name / "model.npz").is_file()}:
            p = PRESETS[preset]
            folder = data_folder(root, preset)
            if not folder.exists():
                cmd = [sys.executable, "-m", "drumrnn", "prepare", str(groove), "--out",
                       str(folder), "--encoding", p.encoding, "--quiet"]
                subprocess.run(cmd + (["--bar-tokens"] if p.bar_tokens else []), check=True)
        with ThreadPoolExecutor(args.jobs) as pool:
            futures = [pool.submit(run_one, name, preset, overrides, data_folder(root, preset),
                                   args.out / name, args.minutes, args.eval_every)
                       for name, preset, overrides in jobs]
            commands = [f.result() for f in futures]

    rows = []
    for (name, _, _), command in zip(jobs, commands):
        try:
            metrics = load_model_file(args.out / name / "model.npz").header["metrics"]
        except Exception as exc:  # a failed run is reported, not fatal
            rows.append(f"| {name} | failed: {exc} | | | | | | |")
            continue
        event = metrics.get("test_event_accuracy")
        rows.append(
            f"| {name} | {metrics['step']} | {metrics['val_loss']:.3f} | "
            f"{metrics['val_perplexity']:.2f} | {metrics['test_perplexity']:.2f} | "
            f"{metrics['test_accuracy']:.3f} | "
            f"{'' if event is None else f'{event:.3f}'} | `{command}` |")
        print(rows[-1], file=sys.stderr)
    section = "\n".join([
        f"## Training results, {args.minutes:g} minutes each (bench/train_presets.py)", "",
        f"Reproduce: `python bench/{Path(__file__).name} --minutes {args.minutes:g} "
        + " ".join(f"--variant {v}" for v in args.variant)
        + (f" --presets {' '.join(args.presets)}" if args.presets else "")
        + f"` ({args.jobs} runs at a time, one torch thread each; GMD official split, "
        "9-piece kit, steps unless the preset reads events). Best validation step; test "
        "figures are of the best-validation weights. Events perplexity is per event "
        "(drum and delta together), not comparable with steps perplexity.", "",
        f"Machine: {machine('torch')}", "",
        "| run | best step | val loss (nats) | val ppl | test ppl | test acc | test event acc "
        "| command |", "|---|---|---|---|---|---|---|---|", *rows])
    print(section)
    write_section(args.section, section)


if __name__ == "__main__":
    main()
