"""Benchmark generation: the NumPy runtime against PyTorch eager, and the CLI's cold start.

* 32 bars (512 steps) at batch 1 and 16 variations of 32 bars as one batch, with the NumPy
  runtime (``DrumGenerator.generate``: sampling and conversion to hits included);
* the same model run step by step in PyTorch eager mode (``DrumLM`` on 1-step batches,
  sampling with Gumbel-max), for comparison;
* ``drumrnn generate --bars 8`` from a cold interpreter (imports and file writing included).

Targets: 512 steps at batch 1 under 30 ms; 16 x 512 steps under 100 ms. One thread
(``OMP_NUM_THREADS=1`` is set before NumPy loads).

Run: ``python bench/bench_generate.py [--model FILE] [--repeats N]``
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from common import machine, write_section  # noqa: E402

from drumrnn.generate import DrumGenerator, GenerateConfig  # noqa: E402

BARS = 32


def time_numpy(generator: DrumGenerator, num: int, repeats: int) -> list[float]:
    times = []
    for seed in range(repeats + 1):
        started = time.perf_counter()
        generator.generate(GenerateConfig(bars=BARS, num=num, seed=seed))
        times.append(time.perf_counter() - started)
    return times[1:]  # the first run warms caches


def time_torch(generator: DrumGenerator, num: int, repeats: int) -> list[float]:
    import torch

    from drumrnn.model import Batch
    from drumrnn.train import torch_model

    torch.set_num_threads(1)
    model = torch_model(generator.model)
    steps = BARS * generator.runtime.vocab.steps_per_bar
    per_bar = generator.runtime.vocab.steps_per_bar
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
                batch = Batch(tokens[:, s:s + 1], tokens[:, s:s + 1], torch.ones(num, 1), reset,
                              torch.full((num, 1), s), torch.full((num, 1), (s + 1) % per_bar),
                              look)
                logits, _, state = model(batch, state)
                gumbel = -torch.log(-torch.log(torch.rand(logits[:, 0].shape, generator=rng)))
                tokens[:, s + 1] = (logits[:, 0] + gumbel).argmax(-1)
        times.append(time.perf_counter() - started)
    return times[1:]


def time_cli(model: Path | None, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            cmd = [sys.executable, "-m", "drumrnn.cli", "generate", "--bars", "8", "--out", out]
            if model:
                cmd += ["--model", str(model)]
            started = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            times.append(time.perf_counter() - started)
            if proc.returncode:
                sys.exit(proc.stderr)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="default: the bundled model")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    generator = DrumGenerator.load(args.model)
    cfg = generator.model.config
    rows = []
    for label, num, target in (("32 bars, batch 1", 1, 0.030), ("16 x 32 bars, one batch", 16, 0.100)):
        numpy_times = time_numpy(generator, num, args.repeats)
        torch_times = time_torch(generator, num, max(args.repeats // 2, 2))
        med = statistics.median(numpy_times)
        rows.append(f"| {label} | {med * 1e3:.1f} | {min(numpy_times) * 1e3:.1f} | "
                    f"{statistics.median(torch_times) * 1e3:.0f} | {target * 1e3:.0f} "
                    f"({'met' if med < target else 'not met'}) |")
        print(rows[-1], file=sys.stderr)
    cli = time_cli(args.model, 3)
    section = "\n".join([
        "## Generation latency (bench/bench_generate.py)", "",
        f"Reproduce: `python bench/bench_generate.py --repeats {args.repeats}` "
        f"(model: {args.model or 'the bundled model'}, {cfg.layers} x {cfg.hidden} "
        f"{cfg.cell.upper()}; one thread; NumPy time includes sampling and conversion to hits).",
        "", f"Machine: {machine('numpy', 'torch')}", "",
        "| case | NumPy median (ms) | NumPy best (ms) | PyTorch eager (ms) | target (ms) |",
        "|---|---|---|---|---|", *rows, "",
        f"`drumrnn generate --bars 8 --out DIR` from a cold interpreter: median "
        f"{statistics.median(cli):.2f} s ({', '.join(f'{t:.2f}' for t in cli)}), imports, "
        "model loading and MIDI writing included."])
    print(section)
    write_section("bench_generate", section)


if __name__ == "__main__":
    main()
