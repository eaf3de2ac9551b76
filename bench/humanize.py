"""Humanize against what the drummers played: GMD test split, quantized and flattened.

Every test performance is put on the grid at velocity 100, then given velocities and
timing three ways: ``drumrnn humanize`` (the model's feel heads, with the track's labels),
the per-position profile that generation used before feel heads (each drum's mean velocity at
its bar position plus half its spread of noise, and its mean offset), and nothing (the
flat input). Each is compared hit for hit with the real performance (Pearson correlation of
velocity and of offset) and by its spreads: velocity sd per drum, timing sd of one drum at one
bar position (pooled over cells with >= 10 hits), and the sd between pieces of a piece's mean
offset; and the feel heads' held-out NLL next to the profile's (``drumrnn evaluate``).
``--write`` puts the tables into RESULTS.md's ``humanize`` section.

Run: ``python bench/humanize.py [--model FILE] [--write]``
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from common import DEFAULT_GROOVE, REPO, machine, require_groove, write_section

from drumrnn.data.dataset import PrepareConfig, load_dataset, prepare
from drumrnn.data.steps import StepSequence, decode_steps, encode_steps
from drumrnn.data.timing import TimeMap
from drumrnn.generation.generate import DrumGenerator, profile_velocities
from drumrnn.generation.humanize import HumanizeConfig, humanize
from drumrnn.measure.evaluate import evaluate_model

DRUMS = {"kick": 0, "snare": 1, "closed hi-hat": 2}


def pieces(data: Path):
    """(labels, sequence, time map) of every test track."""
    dataset = load_dataset(data)
    split = dataset.split("test")
    entries = sorted((e for e in dataset.manifest["files"] if e["split"] == "test"),
                     key=lambda e: e["index"])
    for entry in entries:
        seq, hits = split.track(entry["index"])
        bpm = entry["labels"]["bpm"]
        yield entry["labels"], StepSequence(
            seq["tokens"], seq["positions"], hits["hit_steps"], hits["hit_classes"],
            hits["hit_velocities"], hits["hit_offsets"], len(seq["tokens"])), \
            TimeMap(((0.0, float(bpm)),))


def spreads(cls, pos, vel, off_ms, piece) -> dict:
    out = {f"{name} velocity sd": float(np.std(vel[cls == c])) for name, c in DRUMS.items()}
    cells = []
    for c in np.unique(cls):
        for p in np.unique(pos[cls == c]):
            sel = (cls == c) & (pos == p)
            if sel.sum() >= 10:
                cells.append((sel.sum(), np.var(off_ms[sel])))
    n, var = np.array(cells).T
    out["timing sd within a drum and bar position (ms)"] = float(np.sqrt((n * var).sum() / n.sum()))
    means = [off_ms[piece == k].mean() for k in np.unique(piece)]
    out["feel sd between pieces (ms)"] = float(np.std(means))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="default: the bundled model")
    parser.add_argument("--groove", type=Path, default=DEFAULT_GROOVE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="write the table into RESULTS.md")
    args = parser.parse_args()
    groove = require_groove(args.groove)
    generator = DrumGenerator.load(args.model)
    kit, spq = generator.kit, generator.steps_config.steps_per_quarter
    rng = np.random.default_rng(args.seed)
    rows = {name: {"vel": [], "off": []} for name in ("real", "humanize", "profile", "flat")}
    cls_all, pos_all, piece_all = [], [], []
    with tempfile.TemporaryDirectory(prefix="drumrnn-humanize-") as tmp:
        data = prepare(groove, Path(tmp) / "data", PrepareConfig()).out
        feel = evaluate_model(generator.model, load_dataset(data), "test")["feel"]
        for k, (labels, seq, time_map) in enumerate(pieces(data)):
            ms_per_step = 60000.0 / time_map.qpm / spq
            flat = StepSequence(seq.tokens, seq.positions, seq.hit_steps, seq.hit_classes,
                                np.full(len(seq.hit_steps), 100, np.int16),
                                np.zeros(len(seq.hit_steps), np.float32), seq.n_steps)
            grid = decode_steps(flat, kit, time_map)
            played = humanize(generator, grid, HumanizeConfig(
                style=labels["style"], kind=labels["kind"], tempo=labels["bpm"],
                seed=args.seed + k))
            again = encode_steps(played, kit)  # the same (step, class) hits, in the same order
            assert np.array_equal(again.hit_steps, seq.hit_steps)
            cls = seq.hit_classes.astype(np.int64)
            pos = seq.positions[seq.hit_steps].astype(np.int64) % 16
            profile = generator.profile
            rows["real"]["vel"].append(seq.hit_velocities)
            rows["real"]["off"].append(seq.hit_offsets * ms_per_step)
            rows["humanize"]["vel"].append(again.hit_velocities)
            rows["humanize"]["off"].append(again.hit_offsets * ms_per_step)
            rows["profile"]["vel"].append(profile_velocities(profile, cls, pos, rng))
            rows["profile"]["off"].append(profile["offset_mean"][cls, pos] * ms_per_step)
            rows["flat"]["vel"].append(np.full(len(cls), 100.0))
            rows["flat"]["off"].append(np.zeros(len(cls)))
            cls_all.append(cls)
            pos_all.append(pos)
            piece_all.append(np.full(len(cls), k))
    cls, pos, piece = (np.concatenate(x) for x in (cls_all, pos_all, piece_all))
    real_vel = np.concatenate(rows["real"]["vel"]).astype(float)
    real_off = np.concatenate(rows["real"]["off"]).astype(float)
    table = []
    names = {"real": "real drumming (GMD test)", "humanize": "`drumrnn humanize` (feel heads)",
             "profile": "per-position profile (generation before feel heads)",
             "flat": "quantized, velocity 100 (the input)"}
    keys = None
    for name in ("real", "humanize", "profile", "flat"):
        vel = np.concatenate(rows[name]["vel"]).astype(float)
        off = np.concatenate(rows[name]["off"]).astype(float)
        s = spreads(cls, pos, vel, off, piece)
        keys = list(s)
        corr = [np.corrcoef(vel, real_vel)[0, 1] if vel.std() else float("nan"),
                np.corrcoef(off, real_off)[0, 1] if off.std() else float("nan")]
        corr = ["n/a" if np.isnan(c) else f"{c:.2f}" for c in corr]
        table.append(f"| {names[name]} | {corr[0]} | {corr[1]} | "
                     + " | ".join(f"{s[k]:.1f}" for k in keys) + " |")
    text = "\n".join([
        f"Model: `{args.model.name if args.model else 'bundled model'}`. The GMD test split "
        f"({len(np.unique(piece))} performances, {len(cls):,} hits), each put on the grid at "
        "velocity 100 and given velocities and timing back; every hit keeps its drum and step. "
        "Correlations are per hit with what the drummer played; timing in ms at each piece's "
        "tempo.", "",
        "| | velocity r | offset r | " + " | ".join(keys) + " |",
        "|---|---|---|" + "---|" * len(keys), *table, "",
        f"Held-out likelihood of the feel (`drumrnn evaluate`, the test split's "
        f"{feel['hits']:,} struck drums, each predicted with the real steps before it; nats "
        "per hit in the heads' bins; lower is better):", "",
        "| | velocity NLL | offset NLL |", "|---|---|---|",
        f"| feel heads | {feel['velocity_nll']:.3f} | {feel['offset_nll']:.3f} |",
        "| per-position profile (the training split's histogram for each drum and bar "
        f"position) | {feel['profile_velocity_nll']:.3f} | {feel['profile_offset_nll']:.3f} |",
        "",
        f"Reproduce: `python bench/humanize.py{' --model ' + str(args.model) if args.model else ''}"
        " --write`. Machine: " + machine("numpy")])
    print(text)
    if args.write:
        write_section("humanize", "## Humanize\n\n" + text, REPO / "RESULTS.md")


if __name__ == "__main__":
    main()
