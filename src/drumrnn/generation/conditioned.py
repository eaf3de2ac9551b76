"""Generation with a conditioned model: labels (style, kind, tempo) and learned feel.

Such a model starts from one silent step before the piece and predicts the first step
itself, given the labels (instead of drawing it from how training pieces begin, which
over-represents fills about 14-fold on the GMD). After each sampled step its feel heads
sample a velocity bin and an offset bin for every struck drum, which the next step reads.
:func:`run_steps` also serves :mod:`drumrnn.generation.humanize` (tokens given, feel sampled).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.kits import Kit
from drumrnn.data.steps import hits_from_step_tokens
from drumrnn.generation.runtime import NumpyDrumModel
from drumrnn.generation.sampling import SamplingConfig, gumbel_noise, log_softmax, sample
from drumrnn.model.feel import feel_inputs, input_table, sample_values
from drumrnn.model.labels import LabelVocab

NOISE_BLOCK = 32


@dataclass(frozen=True)
class Conditions:
    """What a conditioned model is asked to play.

    ``style`` (None = unknown), ``kind`` (``beat``, ``fill`` or None), ``bpm`` (None =
    unknown), ``fill_every``: bars N, 2N, ... get the fill label, the others ``kind``.
    """

    style: str | None = None
    kind: str | None = "beat"
    bpm: float | None = None
    fill_every: int = 0

    def __post_init__(self) -> None:
        if self.fill_every < 0:
            raise DrumrnnError(f"fill-every must be a number of bars >= 1, got {self.fill_every}")


def label_schedule(labels: LabelVocab, conditions: Conditions, bar_of_slot: np.ndarray) -> np.ndarray:
    """(n_slots, 3) label ids in effect at each token slot, given its bar (0-based)."""
    base = labels.ids(conditions.style, conditions.kind, conditions.bpm, strict=True)
    out = np.repeat(base[None], len(bar_of_slot), axis=0)
    if conditions.fill_every:
        fill = (np.asarray(bar_of_slot) + 1) % conditions.fill_every == 0
        out[fill, 1] = labels.kind_id("fill")
    return out


def bar_of_slots(is_bar: np.ndarray, position: np.ndarray, bar_tokens: bool) -> np.ndarray:
    """The 0-based bar of every token slot of a stream laid out by ``step_layout``."""
    starts = is_bar if bar_tokens else np.asarray(position) == 0
    return np.maximum(np.cumsum(starts) - 1, 0)


@dataclass
class StepRun:
    """Inputs of :func:`run_steps` for B sequences over L slots (slot 0 is read first).

    ``tokens`` (B, L) int64: the first ``n_fixed`` are given (with ``force_tokens`` all
    are), the rest are sampled. ``velocity_bins``/``offset_bins`` (B, L, C) int64, -1 =
    silent: the first ``n_fixed_feel`` slots' feel is given, later struck drums get sampled
    feel. ``is_bar``, ``position`` (L,): the slot layout (``position``: each slot's
    position in its bar); ``index`` (L,): each slot's step index for the counters (the
    silent lead step is -1); ``labels`` (L, 3) label ids in effect at each slot, or None.
    """

    tokens: np.ndarray
    velocity_bins: np.ndarray
    offset_bins: np.ndarray
    is_bar: np.ndarray
    position: np.ndarray
    index: np.ndarray
    labels: np.ndarray | None
    n_fixed: int
    n_fixed_feel: int
    force_tokens: bool = False


def run_steps(rt: NumpyDrumModel, run: StepRun, sampling: SamplingConfig, bar: int,
              bar_tokens: bool, rng: np.random.Generator, random_state: float = 0.0) -> None:
    """Sample ``run``'s tokens and feel in place, step by step."""
    tokens, vel, off = run.tokens, run.velocity_bins, run.offset_bins
    B, L = tokens.shape
    lookback = rt.config.lookback
    steps_per_bar = rt.vocab.steps_per_bar
    schedule = rt.schedule(run.index, np.r_[run.position[1:], 0])
    label_rows = None
    if run.labels is not None and rt.has_labels:
        # one row per distinct label set (fill-every switches between two)
        distinct, which = np.unique(run.labels, axis=0, return_inverse=True)
        table = rt.label_rows(distinct)
        label_rows = table[np.ravel(which)]
    feel = rt.has_feel
    if feel:
        C, bins = rt.vocab.n_classes, rt.config.feel_bins
        values = input_table(C, bins)
        # index of (quantity, class, bin) in the flat input table
        base = (np.arange(2)[:, None] * C + np.arange(C)[None, :])[..., None] * bins  # (2, C, 1)
        base = base.astype(np.int64)
        bits = np.arange(C)
        feel_noise = np.empty((NOISE_BLOCK, 2, C, bins, B), np.float32)
    fast = not (sampling.greedy or sampling.top_k or sampling.top_p < 1)
    block = min(NOISE_BLOCK, L)
    noise = np.empty((block, rt.n_out, B) if fast else 0, np.float32)
    state = rt.start(B, random_state, rng)
    feel_in = feel_inputs(vel[:, 0], off[:, 0], rt.config.feel_bins) if feel else None
    for s in range(L - 1):
        inputs = {"extra": None if schedule is None else schedule[s]}
        if lookback:
            now = tokens[:, s]
            r = run.index[s]
            code = (now == tokens[:, s - steps_per_bar]) if r >= steps_per_bar else np.zeros(B, bool)
            if r >= 2 * steps_per_bar:
                code = code + 2 * (now == tokens[:, s - 2 * steps_per_bar])
            inputs["lookback"] = code
        logits = rt.step(state, tokens[:, s], labels=None if label_rows is None else label_rows[s],
                         feel_in=feel_in, **inputs)
        t = s + 1
        if fast and not run.force_tokens and (s == 0 or t % block == 0):
            gumbel_noise(rng, out=noise)
            if sampling.temperature != 1:
                noise *= np.float32(sampling.temperature)
        if t >= run.n_fixed and not run.force_tokens:
            if run.is_bar[t]:
                tokens[:, t] = bar
            else:
                if bar_tokens:
                    logits[:, bar] = -np.inf
                if fast:
                    scores = logits.T
                    scores += noise[t % block]
                    tokens[:, t] = scores.argmax(axis=0)
                else:
                    tokens[:, t] = sample(logits, sampling, rng)
        if not feel:
            continue
        if t < run.n_fixed_feel:
            feel_in = feel_inputs(vel[:, t], off[:, t], bins)
            continue
        now = tokens[:, t]
        struck = ((now[:, None] >> bits) & 1).astype(bool)  # (B, C)
        if bar_tokens:
            struck &= (now != bar)[:, None]
        if not struck.any():
            vel[:, t] = off[:, t] = -1
            feel_in = np.zeros((B, 2 * C), np.float32)
            continue
        if (t - run.n_fixed_feel) % NOISE_BLOCK == 0:
            gumbel_noise(rng, out=feel_noise)
        scores = rt.feel(state, now)  # (2, C, bins, B)
        scores += feel_noise[(t - run.n_fixed_feel) % NOISE_BLOCK]
        picked = scores.argmax(axis=2)  # (2, C, B)
        mask = struck.T
        vel[:, t] = np.where(mask, picked[0], -1).T
        off[:, t] = np.where(mask, picked[1], -1).T
        feel_in = (values[base + picked] * mask).reshape(2 * C, B).T


def beam_steps(rt: NumpyDrumModel, run: StepRun, sampling: SamplingConfig, bar: int,
               bar_tokens: bool, num: int, rng: np.random.Generator,
               random_state: float = 0.0) -> StepRun:
    """Beam search over the tokens of ``run`` (all rows equal), the likeliest bin of each
    drum's feel read along the way; the ``num`` best sequences, feel sampled afterwards by
    :func:`run_steps` teacher-forced on them."""
    beam, branch = sampling.beam_size, sampling.branch_factor
    seqs = np.repeat(run.tokens[:1], beam, axis=0)
    scores = np.full(beam, -np.inf)
    scores[0] = 0.0
    state = rt.start(beam, random_state, rng)
    schedule = rt.schedule(run.index, np.r_[run.position[1:], 0])
    label_rows = None if run.labels is None or not rt.has_labels else rt.label_rows(run.labels)
    feel = rt.has_feel
    if feel:
        C, bins = rt.vocab.n_classes, rt.config.feel_bins
        vel = np.repeat(run.velocity_bins[:1], beam, axis=0)
        off = np.repeat(run.offset_bins[:1], beam, axis=0)
    steps_per_bar = rt.vocab.steps_per_bar
    for s in range(seqs.shape[1] - 1):
        inputs = {"extra": None if schedule is None else schedule[s]}
        if rt.config.lookback:
            r = run.index[s]
            code = (seqs[:, s] == seqs[:, s - steps_per_bar]) if r >= steps_per_bar \
                else np.zeros(beam, bool)
            if r >= 2 * steps_per_bar:
                code = code + 2 * (seqs[:, s] == seqs[:, s - 2 * steps_per_bar])
            inputs["lookback"] = code
        logits = rt.step(state, seqs[:, s], labels=None if label_rows is None else label_rows[s],
                         feel_in=feel_inputs(vel[:, s], off[:, s], bins) if feel else None,
                         **inputs)
        t = s + 1
        if t < run.n_fixed or run.is_bar[t]:
            if t >= run.n_fixed:
                seqs[:, t] = bar
        else:
            if bar_tokens:
                logits[:, bar] = -np.inf
            logp = log_softmax(logits / np.float32(sampling.temperature))
            top = np.argsort(-logp, axis=1)[:, :branch]
            cand = (scores[:, None] + np.take_along_axis(logp, top, axis=1)).ravel()
            best = np.argsort(-cand, kind="stable")[:beam]
            rows, picks = best // branch, top.ravel()[best]
            seqs = seqs[rows]
            seqs[:, t] = picks
            scores = cand[best]
            state = rt.select(state, rows)
            if feel:
                vel, off = vel[rows], off[rows]
        if feel and t >= run.n_fixed_feel:
            now = seqs[:, t]
            struck = ((now[:, None] >> np.arange(C)) & 1).astype(bool) & (now != bar)[:, None]
            picked = rt.feel(state, now).argmax(axis=2)  # (2, C, B)
            vel[:, t] = np.where(struck.T, picked[0], -1).T
            off[:, t] = np.where(struck.T, picked[1], -1).T
    order = np.argsort(-scores, kind="stable")[:num]
    return StepRun(seqs[order], run.velocity_bins[:1].repeat(num, 0).copy(),
                   run.offset_bins[:1].repeat(num, 0).copy(), run.is_bar, run.position,
                   run.index, run.labels, run.n_fixed, run.n_fixed_feel, force_tokens=True)


def feel_values(tokens: np.ndarray, vel_bins: np.ndarray, off_bins: np.ndarray, kit: Kit,
                bar: int, bins: int, rng: np.random.Generator):
    """``(steps, classes, velocities, offsets)`` of the hits of one sequence's step tokens
    (BAR tokens allowed) with the feel sampled inside its bins (velocity float 0..128,
    offset in steps)."""
    steps, classes = hits_from_step_tokens(tokens, kit)
    slots = np.flatnonzero(np.asarray(tokens) != bar)[steps]
    velocity, offset = sample_values(vel_bins[slots, classes], off_bins[slots, classes], bins, rng)
    return steps, classes, velocity, offset
