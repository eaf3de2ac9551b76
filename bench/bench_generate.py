"""Benchmark generation: the NumPy runtime against PyTorch eager, and the CLI's cold start.

* 32 bars (512 steps) at batch 1 and 16 variations of 32 bars as one batch, with the NumPy
  runtime (``DrumGenerator.generate``: sampling and conversion to hits included), with one
  and with two BLAS threads;
* the same model run step by step in PyTorch eager mode (``DrumLM`` on 1-step batches,
  sampling with Gumbel-max, one thread), for comparison;
* ``drumrnn generate --bars 8`` from a cold interpreter (imports and file writing included).

Targets: 512 steps at batch 1 under 30 ms; 16 x 512 steps under 100 ms. The thread count is
fixed when NumPy loads, so each count is measured in its own process (``--worker``).
``--baseline FILE`` also times another model, interleaved with the first in the same
processes, so that a loaded machine slows both alike and their ratio stays meaningful.
``--reference-code DIR`` times another checkout's code with its own bundled model (``DIR``:
its ``src`` folder, e.g. of ``git worktree add /tmp/wt-s2 bba6cfc``, the code that met the
targets) against this code and the bundled model, in alternating rounds of separate
processes (``--rounds``), one thread: the targets were met on another machine, and the ratio
carries over where milliseconds do not.

Run: ``python bench/bench_generate.py [--model FILE] [--baseline FILE] [--repeats N]
[--reference-code DIR --rounds N]``
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__" and "--worker" in sys.argv:  # before NumPy loads
    threads = sys.argv[sys.argv.index("--threads") + 1]
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = threads

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from common import REPO, machine, time_command, write_section  # noqa: E402

from drumrnn.generation.generate import DrumGenerator, GenerateConfig, bundled_model_path  # noqa: E402
from drumrnn.model.model_file import load_model_file  # noqa: E402

BARS = 32
CASES = (("32 bars, batch 1", 1, 0.030), ("16 x 32 bars, one batch", 16, 0.100))


def time_numpy(generators: list[DrumGenerator], num: int, repeats: int) -> list[list[float]]:
    """Times of each generator, run in turn within each repeat."""
    times: list[list[float]] = [[] for _ in generators]
    for seed in range(repeats + 1):
        for generator, out in zip(generators, times):
            started = time.perf_counter()
            generator.generate(GenerateConfig(bars=BARS, num=num, seed=seed))
            out.append(time.perf_counter() - started)
    return [t[1:] for t in times]  # the first run warms caches


def time_torch(generator: DrumGenerator, num: int, repeats: int) -> list[float]:
    import torch

    from drumrnn.training.model import Batch
    from drumrnn.training.train import torch_model

    torch.set_num_threads(1)
    model = torch_model(generator.model)
    steps = BARS * generator.runtime.vocab.steps_per_bar
    per_bar = generator.runtime.vocab.steps_per_bar
    cfg = generator.runtime.config
    # conditioned models: unknown labels, no feel read (the feel heads are not timed here)
    labels = torch.zeros(num, 1, 3, dtype=torch.long) if cfg.labels else None
    feel = (torch.zeros(num, 1, 2 * generator.kit.n_classes + 2 * cfg.feel_context)
            if cfg.feel else None)
    times = []
    for seed in range(repeats + 1):
        rng = torch.Generator().manual_seed(seed)
        started = time.perf_counter()
        with torch.no_grad():
            state = model.initial_state(num)
            tokens = torch.zeros(num, steps, dtype=torch.long)
            reset = torch.zeros(num, dtype=torch.bool)
            for s in range(steps - 1):
                look = torch.zeros(num, 1, 2)
                if s >= per_bar:
                    look[:, 0, 0] = (tokens[:, s] == tokens[:, s - per_bar]).float()
                if s >= 2 * per_bar:
                    look[:, 0, 1] = (tokens[:, s] == tokens[:, s - 2 * per_bar]).float()
                ago = None
                if cfg.bar_ago:  # the tokens one and two bars before step s + 1
                    ago = torch.full((num, 1, 2), generator.runtime.vocab.size)
                    for k in (0, 1):
                        if s + 1 >= (k + 1) * per_bar:
                            ago[:, 0, k] = tokens[:, s + 1 - (k + 1) * per_bar]
                batch = Batch(tokens[:, s:s + 1], tokens[:, s:s + 1], torch.ones(num, 1), reset,
                              torch.full((num, 1), s), torch.full((num, 1), (s + 1) % per_bar),
                              look, labels=labels, feel_inputs=feel, bar_ago=ago)
                logits, _, state = model(batch, state)
                gumbel = -torch.log(-torch.log(torch.rand(logits[:, 0].shape, generator=rng)))
                tokens[:, s + 1] = (logits[:, 0] + gumbel).argmax(-1)
        times.append(time.perf_counter() - started)
    return times[1:]


# times generations with whichever drumrnn is on PYTHONPATH (old code had no subpackages)
PLAIN_WORKER = """
import json, sys, time
try:
    from drumrnn.generation.generate import DrumGenerator, GenerateConfig
except ImportError:
    from drumrnn.generate import DrumGenerator, GenerateConfig
generator = DrumGenerator.load()
out = {}
for num in (1, 16):
    for seed in range(2):
        generator.generate(GenerateConfig(bars=32, num=num, seed=seed))
    times = []
    for seed in range(int(sys.argv[1])):
        started = time.perf_counter()
        generator.generate(GenerateConfig(bars=32, num=num, seed=seed))
        times.append(time.perf_counter() - started)
    out[num] = sorted(times)[len(times) // 2]
print(json.dumps(out))
"""


def reference_rounds(reference: Path, rounds: int, repeats: int) -> dict[str, dict[int, list]]:
    """Per code ("this", "reference"): per batch size, the median of each round."""
    out: dict[str, dict[int, list]] = {"this": {1: [], 16: []}, "reference": {1: [], 16: []}}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    for _ in range(rounds):
        for name, src in (("reference", reference), ("this", REPO / "src")):
            proc = subprocess.run([sys.executable, "-c", PLAIN_WORKER, str(repeats)],
                                  env={**env, "PYTHONPATH": str(src)}, capture_output=True,
                                  text=True)
            if proc.returncode:
                sys.exit(proc.stderr)
            for num, median in json.loads(proc.stdout.splitlines()[-1]).items():
                out[name][int(num)].append(median)
    return out


def reference_table(reference: Path, rounds: int, repeats: int) -> list[str]:
    times = reference_rounds(reference, rounds, repeats)
    lines = ["| code and model | 32 bars, batch 1 (ms) | 16 x 32 bars (ms) |", "|---|---|---|"]
    for name, label in (("reference", f"reference: {reference} + its bundled model"),
                        ("this", "this code + the bundled model")):
        cells = []
        for num in (1, 16):
            med = statistics.median(times[name][num])
            ratio = med / statistics.median(times["reference"][num])
            cells.append(f"{med * 1e3:.1f} ({ratio:.2f}x)")
        lines.append(f"| {label} | {' | '.join(cells)} |")
    return lines


def worker(model: Path | None, baseline: Path | None, repeats: int, with_torch: bool) -> None:
    """Print the timings of every case, as JSON, in this process's thread setting."""
    generator = DrumGenerator.load(model)
    others = [DrumGenerator.load(baseline)] if baseline else []
    result = {}
    for label, num, _ in CASES:
        numpy_times = time_numpy([generator, *others], num, repeats)
        result[label] = {"numpy": numpy_times[0],
                         "baseline": numpy_times[1] if others else [],
                         "torch": time_torch(generator, num, max(repeats // 2, 2))
                         if with_torch else []}
    print(json.dumps(result))


def measure(model: Path | None, baseline: Path | None, repeats: int, threads: int,
            with_torch: bool) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--threads", str(threads),
           "--repeats", str(repeats)] + (["--model", str(model)] if model else []) \
        + (["--baseline", str(baseline)] if baseline else []) \
        + (["--torch"] if with_torch else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(proc.stderr)
    return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="default: the bundled model")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another model file timed side by side (e.g. the previous one)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--reference-code", type=Path, default=None,
                        help="another checkout's src folder, timed against this code")
    parser.add_argument("--rounds", type=int, default=7,
                        help="alternating rounds for --reference-code")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--torch", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.model, args.baseline, args.repeats, args.torch)
    one = measure(args.model, args.baseline, args.repeats, 1, with_torch=True)
    two = measure(args.model, None, args.repeats, 2, with_torch=False)
    rows = []
    for label, _, target in CASES:
        med1, med2 = (statistics.median(r[label]["numpy"]) for r in (one, two))
        side = ""
        if args.baseline:
            base = statistics.median(one[label]["baseline"])
            side = f" {base * 1e3:.1f} ({med1 / base:.2f}x) |"
        rows.append(f"| {label} | {med1 * 1e3:.1f} | {min(one[label]['numpy']) * 1e3:.1f} | "
                    f"{med2 * 1e3:.1f} |{side} "
                    f"{statistics.median(one[label]['torch']) * 1e3:.0f} | "
                    f"{target * 1e3:.0f} ({'met' if med1 < target else 'not met'} with one "
                    "thread) |")
        print(rows[-1], file=sys.stderr)
    cli = time_command(["generate", "--bars", "8"]
                       + (["--model", str(args.model)] if args.model else []), 3)
    cfg = load_model_file(args.model or bundled_model_path()).config
    section = "\n".join([
        "## Generation latency (bench/bench_generate.py)", "",
        f"Reproduce: `python bench/bench_generate.py --repeats {args.repeats}"
        + (f" --baseline {args.baseline}" if args.baseline else "") + "` "
        f"(model: {args.model or 'the bundled model'}, {cfg.layers} x {cfg.hidden} "
        f"{cfg.cell.upper()}; NumPy time includes sampling and conversion to hits; medians "
        f"of {args.repeats} runs after a warm-up; PyTorch eager with one thread).", "",
        f"Machine: {machine('numpy', 'torch')}", "",
        "| case | NumPy, 1 thread, median (ms) | NumPy, 1 thread, best (ms) "
        "| NumPy, 2 BLAS threads, median (ms) |"
        + (f" baseline {args.baseline.name}, 1 thread, median (ms, ratio) |" if args.baseline
           else "") + " PyTorch eager (ms) | target (ms) |",
        "|---|---|---|---|" + ("---|" if args.baseline else "") + "---|---|", *rows, "",
        f"`drumrnn generate --bars 8 --out DIR` from a cold interpreter: median "
        f"{statistics.median(cli):.2f} s ({', '.join(f'{t:.2f}' for t in cli)}), imports, "
        "model loading and MIDI writing included."])
    if args.reference_code:
        table = reference_table(args.reference_code, args.rounds, 5)
        print("\n".join(table), file=sys.stderr)
        section += "\n".join([
            "", "", f"Against other code (`--reference-code {args.reference_code} --rounds "
            f"{args.rounds}`): each code with its own bundled model in its own process, one "
            f"thread, alternating; medians of {args.rounds} rounds of the medians of 5 runs "
            "(ratio to the reference).", "", *table])
    print(section)
    write_section("bench_generate", section)


if __name__ == "__main__":
    main()
