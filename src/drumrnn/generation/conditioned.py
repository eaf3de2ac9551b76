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
from drumrnn.generation.sampling import (
    SamplingConfig,
    VariationRngs,
    beam_extend,
    gumbel_noise,
    sample,
)
from drumrnn.model.feel import feel_inputs, input_table, sample_values
from drumrnn.model.labels import LabelVocab

NOISE_BLOCK = 32
FEEL_NOISE = 1 << 11  # Gumbel draws for the feel heads made at once, per row


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
    are), the rest are sampled. ``velocity_bins``/``offset_bins`` (B, L, C) int8, -1 =
    silent: the first ``n_fixed_feel`` slots' feel is given, later struck drums get sampled
    feel. ``is_bar``, ``position`` (L,): the slot layout (``position``: each slot's
    position in its bar); ``index`` (L,): each slot's step index for the counters (the
    silent lead step is -1); ``labels`` (L, 3) label ids in effect at each slot, or None;
    ``bar_length`` (L,): the steps of each slot's bar, for the lookback and bar-ago
    distances (None: the model's 4/4 bar).
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
    bar_length: np.ndarray | None = None

    def distances(self, steps_per_bar: int, bar_tokens: bool) -> tuple[list[int], list[int]]:
        """Per slot: the lookback distance (one bar, in slots as training counts it) and the
        bar-ago distance (one bar back from the slot, a BAR token included)."""
        length = (np.full(len(self.is_bar), steps_per_bar) if self.bar_length is None
                  else np.asarray(self.bar_length))
        return length.tolist(), (length + int(bar_tokens)).tolist()


def drum_table(rt: NumpyDrumModel, bar: int) -> np.ndarray:
    """(V, C) bool: the drums each token strikes (none for the BAR token)."""
    V, C = rt.vocab.size, rt.vocab.n_classes
    drums = ((np.arange(V)[:, None] >> np.arange(C)) & 1).astype(bool)
    if bar < V:
        drums[bar] = False
    return drums


def run_steps(rt: NumpyDrumModel, run: StepRun, sampling: SamplingConfig, bar: int,
              bar_tokens: bool, rngs: VariationRngs, random_state: float = 0.0) -> None:
    """Sample ``run``'s tokens and feel in place, step by step; row k draws from stream k
    of ``rngs`` alone, so a row comes out the same in any batch."""
    tokens = run.tokens
    B, L = tokens.shape
    lookback = rt.config.lookback
    look, backs = run.distances(rt.vocab.steps_per_bar, bar_tokens)
    # the per-step inputs shared by the batch (position, counters, labels): one row each
    schedule = rt.schedule(run.index, np.r_[run.position[1:], 0])
    if run.labels is not None and rt.has_labels:
        distinct, which = np.unique(run.labels, axis=0, return_inverse=True)
        rows = rt.label_rows(distinct)[np.ravel(which)]
        schedule = rows if schedule is None else schedule + rows
    feel = rt.has_feel
    feel_in = None
    if feel:
        C, bins = rt.vocab.n_classes, rt.config.feel_bins
        values = input_table(C, bins)
        # flat index of (quantity, class, bin 0) in ``values``
        base = ((np.arange(2)[:, None] * C + np.arange(C)[None, :]) * bins)[..., None]
        drums = drum_table(rt, bar)
        struck_f = drums.astype(np.float32)  # multiplying by a bool mask costs a cast
        silent_token = (~drums.any(axis=1)).tolist()
        picks = np.zeros((L, 2, C, B), dtype=np.int8)  # bins < 128: 10,000 bars x 16 fit
        # Gumbel noise: each struck drum takes 2 * bins draws, in class order, from a pool of
        # its row filled by the row's own stream, so that a row's feel is the same alone or
        # in any batch (and only struck drums cost draws)
        # (the pool's size must not depend on B: refills interleave with the token noise)
        per_row = max(FEEL_NOISE, 2 * C * bins)
        pool = np.empty((B, per_row), np.float32)
        used_row = np.full(B, per_row)
        span = np.arange(2 * bins)
        silent = np.zeros((B, 2 * C), np.float32)
        flat = np.empty((2, C, B), np.int64)
        feel_in = feel_inputs(run.velocity_bins[:, 0], run.offset_bins[:, 0], bins)
    fast = not (sampling.greedy or sampling.top_k or sampling.top_p < 1)
    block = min(NOISE_BLOCK, L)
    noise = np.empty((block, rt.n_out, B) if fast else 0, np.float32)
    state = rt.start(B, random_state, rngs)
    code = None
    index, is_bar = run.index.tolist(), run.is_bar.tolist()
    sample_tokens = not run.force_tokens
    ago = np.full((B, 2), rt.vocab.size, np.int64) if rt.has_bar_ago else None
    for s in range(L - 1):
        back = backs[s + 1]
        if ago is not None and index[s] + 1 >= back:  # the tokens a bar or two before s + 1
            ago[:, 0] = tokens[:, s + 1 - back]
            if index[s] + 1 >= 2 * back:
                ago[:, 1] = tokens[:, s + 1 - 2 * back]
        if lookback:
            now = tokens[:, s]
            r, distance = index[s], look[s]
            code = (now == tokens[:, s - distance]) if r >= distance else np.zeros(B, bool)
            if r >= 2 * distance:
                code = code + 2 * (now == tokens[:, s - 2 * distance])
        logits = rt.step(state, tokens[:, s], extra=None if schedule is None else schedule[s],
                         lookback=code, feel_in=feel_in, bar_ago=ago)
        t = s + 1
        if sample_tokens and t >= run.n_fixed:
            if fast and (t == run.n_fixed or t % block == 0):
                rngs.gumbel_last(noise)
                if sampling.temperature != 1:
                    noise *= np.float32(sampling.temperature)
            if is_bar[t]:
                tokens[:, t] = bar
            else:
                if bar_tokens:
                    logits[:, bar] = -np.inf
                if fast:
                    scores = logits.T
                    scores += noise[t % block]
                    tokens[:, t] = scores.argmax(axis=0)
                else:
                    tokens[:, t] = sample(logits, sampling, rngs)
        if not feel:
            continue
        if t < run.n_fixed_feel:
            feel_in = feel_inputs(run.velocity_bins[:, t], run.offset_bins[:, t], bins)
            continue
        now = tokens[:, t]
        if B == 1 and silent_token[now[0]]:
            feel_in = silent
            continue
        mask = struck_f[now]
        at = np.flatnonzero(mask.T)  # class * B + row of each struck drum
        if not len(at):
            feel_in = silent
            continue
        picked = picks[t]
        # (C * B, 2, bins): one copy, then a plain take of the struck drums' rows
        by_drum = rt.feel(state, now).transpose(1, 3, 0, 2).reshape(C * B, 2, bins)
        scores = np.take(by_drum, at, axis=0)
        need = len(at) * 2 * bins
        if B == 1:  # the row's draws are one slice of its pool
            if used_row[0] + need > per_row:
                gumbel_noise(rngs[0], out=pool[0])
                used_row[0] = 0
            scores += pool[0, used_row[0]:used_row[0] + need].reshape(scores.shape)
            used_row[0] += need
        else:
            # struck drums before each one in its row (class order), and per row
            before = np.cumsum(mask.T, axis=0, dtype=np.int64)  # (C, B)
            count = before[-1] * (2 * bins)
            for row in np.flatnonzero(used_row + count > per_row):
                gumbel_noise(rngs[row], out=pool[row])
                used_row[row] = 0
            rows = at % B
            first = rows * per_row + used_row[rows] + (before.ravel()[at] - 1) * (2 * bins)
            used_row += count
            scores += np.take(pool, first[:, None] + span).reshape(scores.shape)
        picked.reshape(2, C * B)[:, at] = scores.argmax(axis=2).T
        np.add(base, picked, out=flat)
        fi = values[flat]
        fi *= mask.T
        feel_in = fi.reshape(2 * C, B).T
    if feel:  # the sampled bins of the struck drums; -1 elsewhere
        done = slice(run.n_fixed_feel, L)
        struck = drums[tokens[:, done]]  # (B, L', C)
        run.velocity_bins[:, done] = np.where(struck, picks[done, 0].transpose(2, 0, 1), -1)
        run.offset_bins[:, done] = np.where(struck, picks[done, 1].transpose(2, 0, 1), -1)


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
    look, backs = run.distances(rt.vocab.steps_per_bar, bar_tokens)
    for s in range(seqs.shape[1] - 1):
        inputs = {"extra": None if schedule is None else schedule[s]}
        back, steps_per_bar = backs[s + 1], look[s]
        if rt.has_bar_ago:
            r = run.index[s] + 1
            ago = np.full((beam, 2), rt.vocab.size, np.int64)
            if r >= back:
                ago[:, 0] = seqs[:, s + 1 - back]
            if r >= 2 * back:
                ago[:, 1] = seqs[:, s + 1 - 2 * back]
            inputs["bar_ago"] = ago
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
            seqs, scores, rows = beam_extend(logits, scores, seqs, t, beam, branch,
                                             sampling.temperature)
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
                   run.index, run.labels, run.n_fixed, run.n_fixed_feel, force_tokens=True,
                   bar_length=run.bar_length)


def feel_values(tokens: np.ndarray, vel_bins: np.ndarray, off_bins: np.ndarray, kit: Kit,
                bar: int, bins: int, rng: np.random.Generator):
    """``(steps, classes, velocities, offsets)`` of the hits of one sequence's step tokens
    (BAR tokens allowed) with the feel sampled inside its bins (velocity float 0..128,
    offset in steps)."""
    steps, classes = hits_from_step_tokens(tokens, kit)
    slots = np.flatnonzero(np.asarray(tokens) != bar)[steps]
    velocity, offset = sample_values(vel_bins[slots, classes], off_bins[slots, classes], bins, rng)
    return steps, classes, velocity, offset
