"""Benchmark training throughput of every preset on the GMD against a bare PyTorch loop.

For each preset, the real training loop (``drumrnn.training.train.Trainer``: batching, features,
loss, clipping, optimizer) runs ``--steps`` optimizer steps on the GMD train split with the
preset's batch and window; next to it a bare loop (Embedding -> nn.RNN/GRU/LSTM -> Linear,
cross-entropy, backward, the preset's optimizer) runs the same shapes (input and output
widths) on random tokens.
Both count every position of every batch (padding included) as a token, so their ratio
shows what batching, features and bookkeeping cost; attention and dense layers are extra
model work the bare loop does not do. Threads are pinned (``--threads``, default 1).

Run: ``python bench/bench_train.py [--groove PATH] [--steps N] [--threads T]``
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import DEFAULT_GROOVE, machine, require_groove, write_section
from torch import nn

from drumrnn.data.dataset import PrepareConfig, prepare
from drumrnn.data.encoding import EncodingConfig
from drumrnn.training.batches import epoch_plan
from drumrnn.training.presets import PRESETS
from drumrnn.training.train import Trainer


def bench_loop(preset, data: Path, steps: int, threads: int) -> tuple[float, float, Trainer]:
    """(slot tokens/s, real tokens/s, trainer) of the training loop, after 3 warm-up steps."""
    cfg = dataclasses.replace(preset.train, max_steps=3, eval_every=10**9, patience=0,
                              threads=threads)
    with tempfile.TemporaryDirectory() as run:
        trainer = Trainer(data, run, preset.model, cfg)
        trainer.run()  # warm-up; the final validation is outside the timed part below
        trainer.cfg = dataclasses.replace(cfg, max_steps=3 + steps)
        slots0, tokens0, elapsed0 = _slots(trainer), trainer.tokens, trainer.elapsed
        trainer.run()
        elapsed = trainer.elapsed - elapsed0
        return ((_slots(trainer) - slots0) / elapsed, (trainer.tokens - tokens0) / elapsed,
                trainer)


def _slots(trainer: Trainer) -> int:
    """Positions processed so far (padding included): batch x window of every batch taken."""
    total = 0
    for epoch in range(trainer.epoch + 1):
        plan = epoch_plan(trainer.train_tracks, trainer.cfg.batch, trainer.cfg.window,
                          trainer.cfg.mode, trainer.cfg.seed, epoch)
        taken = len(plan) if epoch < trainer.epoch else trainer.batch_in_epoch
        total += int(plan.lengths[:taken].sum()) * trainer.cfg.batch
    return total


def bench_bare(preset, trainer: Trainer, steps: int) -> float:
    """Tokens/s of a bare Embedding -> RNN -> Linear loop with the model's input and output
    widths (one embedding lookup stands for all input features, one head for both)."""
    m, t = preset.model, preset.train
    torch.manual_seed(0)
    size = trainer.model.input_size
    vocab = trainer.model.head.out_features
    if trainer.model.delta_head is not None:
        vocab += trainer.model.delta_head.out_features
    rnn = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[m.cell](
        size, m.hidden, m.layers, batch_first=True, dropout=m.dropout if m.layers > 1 else 0)
    model = nn.ModuleDict({"embed": nn.Embedding(vocab, size), "rnn": rnn,
                           "head": nn.Linear(m.hidden, vocab)})
    optimizer = {"adam": torch.optim.Adam, "adagrad": torch.optim.Adagrad,
                 "sgd": torch.optim.SGD}[t.optimizer](model.parameters(), lr=t.lr)
    x = torch.randint(0, vocab, (t.batch, t.window + 1))

    def step():
        out, _ = model["rnn"](model["embed"](x[:, :-1]))
        loss = nn.functional.cross_entropy(model["head"](out).reshape(-1, vocab),
                                           x[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * t.batch * t.window / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groove", type=Path, default=DEFAULT_GROOVE)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per preset")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (pinned)")
    parser.add_argument("--presets", nargs="*", default=list(PRESETS))
    args = parser.parse_args()
    groove = require_groove(args.groove)
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = {}
        for name in args.presets:
            preset = PRESETS[name]
            key = (preset.encoding, preset.bar_tokens)
            if key not in data:
                data[key] = prepare(groove, Path(tmp) / f"{key[0]}-{key[1]}", PrepareConfig(
                    EncodingConfig(preset.encoding, bar_tokens=preset.bar_tokens))).out
            loop, real, trainer = bench_loop(preset, data[key], args.steps, args.threads)
            bare = bench_bare(preset, trainer, args.steps)
            m, t = preset.model, preset.train
            rows.append(f"| {name} | {m.layers} x {m.hidden} {m.cell.upper()} | "
                        f"{t.batch} x {t.window} ({t.mode}) | {loop:,.0f} | {real:,.0f} | "
                        f"{bare:,.0f} | {loop / bare:.0%} |")
            print(rows[-1], file=sys.stderr)
    section = "\n".join([
        "## Training throughput (bench/bench_train.py)", "",
        "Target: the training loop reaches at least 80 % of a bare "
        "`nn.RNN/GRU/LSTM` forward + backward + optimizer loop on the same shapes.", "",
        f"Reproduce: `python bench/bench_train.py --steps {args.steps} --threads {args.threads}`"
        f" (GMD train split, {args.threads} torch thread(s), {args.steps} timed steps after 3 "
        "warm-up steps). Loop tokens/s count every batch position, padding included, as the "
        "bare loop does; real tokens/s count only real targets. The bare loop has the model's "
        "input and output widths; drums-rnn's attention and deep-lstm's dense head are model "
        "work it does not do.", "",
        f"Machine: {machine('torch', 'numpy')}", "",
        "| preset | network | batch x window | loop tokens/s | real tokens/s | bare tokens/s "
        "| loop / bare |", "|---|---|---|---|---|---|---|", *rows])
    print(section)
    write_section(f"bench_train_t{args.threads}", section)


if __name__ == "__main__":
    main()
