"""Benchmark preparing and training on a large synthetic corpus: does memory stay flat?

Builds a corpus of ``--files`` MIDI files (default 100,000) under a temporary folder, from
the Groove MIDI Dataset: GMD drums with 15% of the hits moved to another drum (new token
sequences), half of them as type-1 songs with piano and bass tracks around the drums on
channel 10, plus the kinds of files a real corpus holds: byte-for-byte copies, copies with
other velocities only (same drum tokens), songs without drums, and corrupt files. The
corpus is removed afterwards.

For each size in ``--sizes`` (default 10k, 50k, 100k) a fresh ``prepare``
(``--skip-near-duplicates``, as for Lakh) runs in its own
process: files/s, the main process's peak RSS and the largest worker's. Then, on the largest:
a re-run into the same folder (every file from the cache), and training that reads the
shards memory-mapped (a small GRU, random windows) with the trainer's RSS sampled as it
goes: peak RSS, and the anonymous (non file-backed) RSS, which is what memory maps do not
count against.

Run: ``python bench/bench_corpus.py [--groove PATH] [--files N] [--sizes 10000,50000,100000]
[--train-steps N]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import DEFAULT_GROOVE, machine, require_groove, write_section

KIT_PITCHES = np.array([36, 38, 42, 46, 45, 48, 50, 49, 51])
PER_FOLDER = 1000


# -- building the corpus --------------------------------------------------------------------
def _vlq_events(ticks: np.ndarray, status: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> bytes:
    """Track bytes of channel events at absolute ``ticks`` (sorted), vectorized."""
    delta = np.diff(ticks, prepend=0).astype(np.int64)
    groups = np.stack([(delta >> 21) & 0x7F | 0x80, (delta >> 14) & 0x7F | 0x80,
                       (delta >> 7) & 0x7F | 0x80, delta & 0x7F, status, d1, d2], axis=1)
    n = 1 + (delta >= 1 << 7) + (delta >= 1 << 14) + (delta >= 1 << 21)
    keep = np.ones(groups.shape, dtype=bool)
    keep[:, :4] = np.arange(4)[None, :] >= 4 - n[:, None]
    return groups[keep].astype(np.uint8).tobytes()


def _track(body: bytes) -> bytes:
    body += b"\x00\xff\x2f\x00"
    return b"MTrk" + len(body).to_bytes(4, "big") + body


def _notes_track(notes: np.ndarray, channel: int) -> bytes:
    """(tick, pitch, velocity, duration) rows -> a track of note-ons and note-offs."""
    on = np.column_stack([notes[:, 0], np.full(len(notes), 0x90 | channel), notes[:, 1], notes[:, 2]])
    off = np.column_stack([notes[:, 0] + notes[:, 3], np.full(len(notes), 0x80 | channel),
                           notes[:, 1], np.zeros(len(notes), np.int64)])
    events = np.concatenate([on, off])
    events = events[np.lexsort((events[:, 1] >> 4 == 9, events[:, 0]))]
    return _track(_vlq_events(events[:, 0], events[:, 1], events[:, 2], events[:, 3]))


def _midi(tpq: int, tempo: int, tracks: list[bytes]) -> bytes:
    meta = _track(b"\x00\xff\x51\x03" + tempo.to_bytes(3, "big") + b"\x00\xff\x58\x04\x04\x02\x18\x08")
    header = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + \
        (len(tracks) + 1).to_bytes(2, "big") + tpq.to_bytes(2, "big")
    return header + meta + b"".join(tracks)


def load_sources(groove: Path) -> list[tuple[int, int, np.ndarray]]:
    """(ticks per quarter, tempo in us, notes) of every GMD file."""
    import symusic

    sources = []
    for path in sorted(groove.rglob("*.mid")):
        score = symusic.Score(str(path), ttype="tick")
        notes = [(n.time, n.pitch, n.velocity, max(n.duration, 1))
                 for t in score.tracks for n in t.notes]
        if not notes:
            continue
        tempo = int(round(60e6 / score.tempos[0].qpm)) if len(score.tempos) else 500000
        sources.append((score.ticks_per_quarter, tempo, np.array(sorted(notes), dtype=np.int64)))
    return sources


def corpus_file(i: int, sources) -> bytes:
    """File ``i`` of the synthetic corpus (a pure function of ``i``)."""
    kind = i % 100
    if kind == 99:  # corrupt: a header and a truncated track
        return b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk" + i.to_bytes(4, "big")
    if kind == 98:  # a byte-for-byte copy of an earlier file
        return corpus_file(i - 3, sources)
    base = i - (kind - 95) if kind in (96, 97) else i  # 96, 97: file 95's drums, louder
    tpq, tempo, notes = sources[base % len(sources)]
    drums = notes.copy()
    moved = np.random.default_rng(base).random(len(drums)) < 0.15
    moved[base % len(drums)] = True  # short fills would otherwise often stay unchanged
    drums[moved, 1] = np.random.default_rng(base + 1).choice(KIT_PITCHES, moved.sum())
    if base != i:
        jitter = np.random.default_rng(i).integers(-10, 11, len(drums))
        drums[:, 2] = np.clip(drums[:, 2] + jitter, 1, 127)
    song = (base % 2 == 1)  # half the corpus: multi-track songs with the drums on channel 10
    piano = drums[::4].copy()
    piano[:, 1] = 48 + piano[:, 1] % 24
    if kind == 94:  # a song without drums
        return _midi(tpq, tempo, [_notes_track(piano, 0)])
    if song:
        bass = drums[::8].copy()
        bass[:, 1] = 28 + bass[:, 1] % 12
        return _midi(tpq, tempo, [_notes_track(piano, 0), _notes_track(bass, 1),
                                  _notes_track(drums, 9)])
    return _midi(tpq, tempo, [_notes_track(drums, 9)])


def build_corpus(root: Path, start: int, stop: int, sources) -> None:
    for i in range(start, stop):
        folder = root / f"{i // PER_FOLDER:04d}"
        if i % PER_FOLDER == 0 or not folder.exists():
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:06d}.mid").write_bytes(corpus_file(i, sources))


# -- measuring in child processes -----------------------------------------------------------
def _peak_mb(who) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_prepare(source: str, out: str) -> dict:
    from drumrnn.data.dataset import PrepareConfig, prepare

    started = time.perf_counter()
    report = prepare(source, out, PrepareConfig(skip_near_duplicates=True))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "kept": sum(s["files"] for s in report.splits.values()),
            "skipped": report.skipped, "reused": report.reused, "parsed": report.parsed,
            "duplicates": report.duplicates,
            "shards": {s: len(v) for s, v in report.shards.items()},
            "tokens": {s: v["tokens"] for s, v in report.splits.items()},
            "reasons": dict(report.skip_reasons),
            "peak_main_mb": _peak_mb(resource.RUSAGE_SELF),
            "peak_worker_mb": _peak_mb(resource.RUSAGE_CHILDREN)}


def child_train(data: str, run: str, steps: int) -> dict:
    import torch

    from drumrnn.model.model_config import ModelConfig
    from drumrnn.training.train import Trainer
    from drumrnn.training.train_config import TrainConfig

    torch.set_num_threads(1)
    samples = []
    model = ModelConfig("gru", layers=1, hidden=64, embedding=16)
    cfg = TrainConfig(batch=64, window=64, mode="random", max_steps=steps, eval_every=10**9,
                      patience=0, threads=1)
    started = time.perf_counter()
    trainer = Trainer(data, run, model, cfg)
    setup = time.perf_counter() - started
    samples.append(("after setup", _status_mb("VmRSS"), _status_mb("RssAnon")))
    plan_batches = max(1, trainer.train_tracks.n_targets // (cfg.batch * cfg.window))
    original = trainer._budget_reached

    def watch():  # sample memory every tenth of the run
        if trainer.step and trainer.step % max(1, steps // 10) == 0:
            samples.append((f"step {trainer.step}", _status_mb("VmRSS"), _status_mb("RssAnon")))
        return original()

    trainer._budget_reached = watch
    started = time.perf_counter()
    trainer.run()
    return {"setup_s": setup, "train_s": time.perf_counter() - started, "steps": trainer.step,
            "epoch_batches": plan_batches, "tokens": trainer.tokens,
            "train_targets": trainer.train_tracks.n_targets, "samples": samples,
            "peak_mb": _peak_mb(resource.RUSAGE_SELF),
            "anon_end_mb": _status_mb("RssAnon")}


def in_child(name: str, *args) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    code = (f"import sys, json; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"import bench_corpus as b; print(json.dumps(b.child_{name}(*{list(args)!r})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(proc.stderr[-4000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groove", type=Path, default=DEFAULT_GROOVE)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--train-steps", type=int, default=0,
                        help="training steps on the largest corpus (0: one epoch)")
    args = parser.parse_args()
    groove = require_groove(args.groove)
    sizes = sorted({min(int(s), args.files) for s in args.sizes.split(",")} | {args.files})
    root = Path(tempfile.mkdtemp(prefix="drumrnn-corpus-"))
    rows, lines = [], []
    try:
        sources = load_sources(groove)
        corpus, built, build_s = root / "midi", 0, 0.0
        for size in sizes:
            started = time.perf_counter()
            build_corpus(corpus, built, size, sources)
            build_s += time.perf_counter() - started
            built = size
            r = in_child("prepare", str(corpus), str(root / f"data-{size}"))
            rows.append((size, r))
            print(f"{size} files: {r['seconds']:.0f} s, {size / r['seconds']:.0f} files/s, "
                  f"peak RSS main {r['peak_main_mb']:.0f} MB, worker {r['peak_worker_mb']:.0f} MB",
                  flush=True)
            if size != sizes[-1]:
                shutil.rmtree(root / f"data-{size}")
        largest = sizes[-1]
        data = root / f"data-{largest}"
        rerun = in_child("prepare", str(corpus), str(data))
        print(f"re-run with the cache: {rerun['seconds']:.0f} s", flush=True)
        last = rows[-1][1]
        steps = args.train_steps or -(-last["tokens"]["train"] // (64 * 64))
        train = in_child("train", str(data), str(root / "run"), steps)
        print(f"training: {train['steps']} steps in {train['train_s']:.0f} s, "
              f"peak RSS {train['peak_mb']:.0f} MB", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    table = ["| files | prepare s | files/s | kept | skipped | shards (train) | peak RSS main | "
             "peak RSS worker |", "|---|---|---|---|---|---|---|---|"]
    for size, r in rows:
        table.append(f"| {size:,} | {r['seconds']:.0f} | {size / r['seconds']:.0f} | "
                     f"{r['kept']:,} | {r['skipped']:,} | {r['shards']['train']} | "
                     f"{r['peak_main_mb']:.0f} MB | {r['peak_worker_mb']:.0f} MB |")
    samples = ", ".join(f"{name}: {rss:.0f} / {anon:.0f}" for name, rss, anon in train["samples"])
    epoch = ("one epoch" if not args.train_steps else
             f"{train['steps'] / train['epoch_batches']:.0%} of an epoch of "
             f"{train['epoch_batches']:,} batches")
    lines = [
        f"Synthetic corpus of {largest:,} files built from the GMD in {build_s:.0f} s "
        "(see the script's docstring); the machine was shared with other jobs (2 cores, "
        f"load ~5), {machine('numpy', 'symusic', 'torch')}.", "",
        *table, "",
        f"Skip reasons at {largest:,}: " + ", ".join(f"{n:,} {k}" for k, n in
                                                      sorted(last["reasons"].items())) +
        f"; duplicates: {last['duplicates']}.", "",
        f"Re-run into the same folder: {rerun['seconds']:.0f} s ({rerun['reused']:,} files "
        f"from the cache, {rerun['parsed']:,} parsed), peak RSS {rerun['peak_main_mb']:.0f} MB.",
        "",
        f"Training reading the {last['shards']['train']} train shards memory-mapped ({epoch}: "
        f"{train['steps']:,} steps of 64 x 64 random windows over {train['train_targets']:,} "
        f"targets; 1 x 64 GRU, 1 thread): set-up {train['setup_s']:.0f} s, "
        f"{train['train_s']:.0f} s, {train['tokens'] / train['train_s']:,.0f} tokens/s; "
        f"peak RSS {train['peak_mb']:.0f} MB. RSS / anonymous RSS in MB as it ran: {samples}. "
        "File-backed pages of the memory maps count in RSS (and in the peaks, which include "
        "reading every hit for the velocity profile and the final validation and test) but "
        "are the page cache's to drop; the anonymous RSS is the process's own memory.",
        "", f"Reproduce: `python bench/bench_corpus.py --files {args.files} --sizes {args.sizes}"
        + (f" --train-steps {args.train_steps}" if args.train_steps else "") + "`"]
    section = "\n".join(lines)
    print(section)
    write_section("bench_corpus", section)


if __name__ == "__main__":
    main()
