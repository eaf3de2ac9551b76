"""Humanize a drum MIDI with a model's feel heads (GrooVAE's "humanize", done by the RNN).

Every input hit keeps its drum and its grid step; its velocity and its offset from the grid
are sampled from the feel heads, run over the input's own steps (teacher-forced: the
network reads the real next step, and the feel it gave the previous steps). ``amount``
blends the result with the input's own velocity and timing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.hits import DrumHits
from drumrnn.data.steps import bar_start_steps, bar_token, encode_steps, meter_layout, quantize
from drumrnn.generation.conditioned import StepRun, run_steps
from drumrnn.generation.generate import DrumGenerator
from drumrnn.generation.sampling import SamplingConfig, VariationRngs
from drumrnn.model.feel import sample_values


@dataclass(frozen=True)
class HumanizeConfig:
    """How to humanize.

    ``amount``: 0..1, 0 keeps the input as it is, 1 takes the model's feel. ``style``,
    ``kind`` (``beat``, ``fill`` or None), ``tempo`` (None: the file's first tempo): the
    labels, for a model that reads them. ``seed``: same seed, same result.
    """

    amount: float = 1.0
    style: str | None = None
    kind: str | None = "beat"
    tempo: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.amount <= 1:
            raise DrumrnnError(f"amount must lie in 0..1, got {self.amount:g}")


def humanize(generator: DrumGenerator, hits: DrumHits,
             config: HumanizeConfig = HumanizeConfig()) -> DrumHits:
    """``hits`` with each hit of the model's kit given a learned velocity and offset from
    the grid; its drum (pitch) and grid step are kept, hits outside the kit are unchanged."""
    rt = generator.runtime
    if not rt.has_feel or generator.encoding != "steps":
        raise DrumrnnError("humanize needs a steps model with feel heads (the bundled model "
                           "has them; drumrnn info shows a model's)")
    kit, steps_config = generator.kit, generator.steps_config
    spq = steps_config.steps_per_quarter
    sequence = encode_steps(hits, kit, steps_config)
    if len(sequence.hit_steps) == 0:
        raise DrumrnnError(f"the input has no drum of kit {kit.name}")
    bar = bar_token(kit)
    tokens = np.r_[0, sequence.tokens]  # a silent step first: the model gives step 0 a feel
    n, C, bins = len(tokens), kit.n_classes, rt.config.feel_bins
    labels = None
    if generator.labels is not None:
        ids = generator.labels.ids(config.style, config.kind,
                                   config.tempo or hits.time_map.qpm, strict=True)
        labels = np.repeat(ids[None], n, axis=0)
    # each slot's bar length, so that lookback flags and bar-ago tokens reach one bar of the
    # input's own meter back; the silent first step sits at the end of a bar like the first
    starts = bar_start_steps(hits.time_map, sequence.n_steps / spq, spq)
    _, _, bar_length = meter_layout(np.diff(starts), steps_config.bar_tokens)
    first = int(bar_length[0])
    run = StepRun(tokens[None].copy(), np.full((1, n, C), -1, np.int8),
                  np.full((1, n, C), -1, np.int8), np.r_[False, sequence.tokens == bar],
                  np.r_[first - 1, sequence.positions].astype(np.int64),
                  np.arange(n) - 1, labels, n, 1, force_tokens=True,
                  bar_length=np.r_[first, bar_length[:n - 1]])
    rng = np.random.Generator(np.random.SFC64(config.seed))
    run_steps(rt, run, SamplingConfig(), bar, steps_config.bar_tokens, VariationRngs([rng]))

    classes = kit.classes_of(hits.pitches)
    in_kit = np.flatnonzero(classes >= 0)
    steps, offsets = quantize(hits.quarters[in_kit], spq)
    slots = 1 + np.flatnonzero(sequence.tokens != bar)[steps]
    velocity, offset = sample_values(run.velocity_bins[0, slots, classes[in_kit]],
                                     run.offset_bins[0, slots, classes[in_kit]], bins, rng)
    a = config.amount
    velocity = a * velocity + (1 - a) * hits.velocities[in_kit]
    offset = a * offset + (1 - a) * offsets
    quarters = hits.quarters.copy()
    velocities = hits.velocities.astype(np.int64)
    quarters[in_kit] = np.maximum((steps + offset) / spq, 0.0)
    velocities[in_kit] = np.clip(np.round(velocity), 1, 127)
    return DrumHits(quarters, hits.pitches, velocities, hits.time_map, hits.end_quarter)
