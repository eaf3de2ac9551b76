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
from drumrnn.model.feel import (
    RunningFeel,
    centers,
    feel_inputs,
    feel_step,
    sample_values,
    step_feel,
)
from drumrnn.model.labels import LabelVocab

DRAW_BLOCK = 32  # steps whose token uniforms a row draws at once
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


def label_inputs(rt: NumpyDrumModel, run: StepRun) -> tuple[np.ndarray | None, list]:
    """Per slot of ``run``: the label rows of its input ((L, G), None for a model or run
    without labels) and the label biases on its scores (a list of L rows, None where the
    model has none). The labels change at a few bar lines: each run of equal labels is
    computed once and its rows shared by its slots."""
    L = len(run.is_bar)
    if run.labels is None or not rt.has_labels:
        return None, [None] * L
    labels = np.asarray(run.labels)
    starts = np.r_[True, (labels[1:] != labels[:-1]).any(axis=1)]
    run_of = np.cumsum(starts) - 1
    biases = rt.label_bias_rows(labels[starts])
    return (rt.label_rows(labels[starts])[run_of],
            [None] * L if biases is None else [biases[k] for k in run_of.tolist()])


def run_steps(rt: NumpyDrumModel, run: StepRun, sampling: SamplingConfig, bar: int,
              bar_tokens: bool, rngs: VariationRngs, random_state: float = 0.0) -> None:
    """Sample ``run``'s tokens and feel in place, step by step; row k draws from stream k
    of ``rngs`` alone, so a row comes out the same in any batch."""
    loop = _Loop(rt, run, sampling, bar, bar_tokens, rngs, random_state)
    if len(run.tokens) == 1:
        loop.one()
    else:
        loop.batch()


class _Loop:
    """The sampling loop of :func:`run_steps`, in two versions: batch 1 (Python scalars and
    as few NumPy calls per step as it takes: they, not arithmetic, cost the time there) and
    a batch. Both draw the same numbers from each row's stream.

    Tokens: inverse-CDF draws (the first token whose running sum of probabilities, float64
    in token order, exceeds a uniform times the total), the uniforms of a block of steps
    drawn at once: exact like Gumbel-max, with one random number per step instead of one
    per token (whose logarithms took a sixth of a batch's time). Feel noise: each struck
    drum takes 2 * bins Gumbel draws (velocity bins, then offset bins), in class order, from
    a pool of its row filled by the row's own stream, so that a row's feel is the same alone
    or in any batch and only struck drums cost draws; the pool's size does not depend on the
    batch (refills interleave with the token draws)."""

    def __init__(self, rt: NumpyDrumModel, run: StepRun, sampling: SamplingConfig, bar: int,
                 bar_tokens: bool, rngs: VariationRngs, random_state: float):
        self.rt, self.run, self.sampling, self.bar = rt, run, sampling, bar
        self.bar_tokens, self.rngs = bar_tokens, rngs
        B, L = run.tokens.shape
        self.look, self.backs = run.distances(rt.vocab.steps_per_bar, bar_tokens)
        # the per-step inputs shared by the batch (position, counters, labels): one row each
        schedule = rt.schedule(run.index, np.r_[run.position[1:], 0])
        rows, self.bias = label_inputs(rt, run)
        if rows is not None:
            schedule = rows if schedule is None else schedule + rows
        self.schedule = [None] * L if schedule is None else list(schedule)
        self.fast = not (sampling.greedy or sampling.top_k or sampling.top_p < 1)
        self.block = min(DRAW_BLOCK, L)
        self.uniforms = np.empty((B, self.block if self.fast else 0))
        self.scale = np.float32(1 / sampling.temperature)
        self.state = rt.start(B, random_state, rngs)
        self.feel = rt.has_feel
        C, bins = rt.vocab.n_classes, rt.config.feel_bins
        self.drums = drum_table(rt, bar)  # (V, C)
        # the feel pool: a row's refill of ``per_row`` draws seen as units of 2 * bins (one
        # struck drum's), and C spare units so that a batch can read C units from any start
        self.per_row = max(FEEL_NOISE, 2 * C * bins)
        self.units = self.per_row // (2 * bins)  # whole units in a refill
        self.width = -(-self.per_row // (2 * bins)) + C
        self.pool = np.zeros((B, self.width, 2, bins), np.float32)

    def draw_uniforms(self) -> None:
        """Draw the uniforms of the token draws of a block of steps, a row from its stream."""
        self.rngs.random(self.uniforms)

    def probabilities(self, logits: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Unnormalised probabilities at the sampling temperature into ``out``: ``exp((z -
        max) / T)`` along the first axis of ``logits`` (V,) or (V, B)."""
        kernels = self.rt.kernels() if logits.ndim == 2 else None
        if kernels is not None:
            kernels.shifted(logits, self.scale, out)
        else:
            np.subtract(logits, np.maximum.reduce(logits, 0), out=out)  # half of .max()'s time
            if self.scale != 1:
                out *= self.scale
        return np.exp(out, out=out)

    def refill(self, row: int) -> None:
        """Fill row ``row``'s feel pool from its stream."""
        gumbel_noise(self.rngs[row], out=self.pool[row].reshape(-1)[:self.per_row])

    def one(self) -> None:
        """Batch 1: layer 0's inputs as row codes of ``rt.inputs`` (token, bar-ago tokens,
        the struck drums' feel bins: one take and one sum per step)."""
        rt, run, bar, state = self.rt, self.run, self.bar, self.state
        L = run.tokens.shape[1]
        C, bins, V = rt.vocab.n_classes, rt.config.feel_bins, rt.vocab.size
        tokens = run.tokens[0].tolist()
        index, is_bar, look, backs = run.index.tolist(), run.is_bar.tolist(), self.look, self.backs
        lookback, ago, feel = rt.config.lookback, rt.ago_at, self.feel
        head = 3 if ago else 1  # codes before the feel codes
        codes = np.zeros(head + 2 * C, np.int64)
        column, feel_codes = codes[:, None], codes[head:].reshape(C, 2)
        n_feel = 0
        a1 = a2 = V  # the tokens one and two bars before the predicted step (V: none)
        copies = rt.copies
        sample_tokens, n_fixed, n_fixed_feel = not run.force_tokens, run.n_fixed, run.n_fixed_feel
        fast, block, uniforms = self.fast, self.block, self.uniforms[0]
        probs, cum = np.empty(rt.n_out, np.float32), np.empty(rt.n_out)
        schedule, bias, units, mask_bar = self.schedule, self.bias, self.units, self.bar_tokens
        step, feel_one = rt.step_codes, rt.feel_one  # bound once: Python calls add up here
        if feel:
            drums, struck, n_struck, base = self.drums, rt.struck, rt.n_struck, rt.feel_codes
            logits_buf = np.empty((C, 2, bins), np.float32)
            logits_flat = logits_buf.reshape(-1)
            pool, used = self.pool[0], units  # all used: the first struck drum refills
            picked = []  # (k, 2) bins of each step's struck drums, in step and class order
            n_feel = self._given_codes(0, feel_codes)
        # the running feel in Python numbers (feel_step), for one piece
        running = self._running(self._given(0))
        if running is not None:
            # a batch sums the centres in float32; with a power-of-two bin count they are
            # dyadic and their float64 sums the same, so Python floats do
            vel_c, off_c = (c.tolist() if bins & (bins - 1) == 0 else c for c in centers(bins))
            rv, ro, rw = running.sums[0].tolist()
            rate = running.rate
            context = running.value
        for s in range(L - 1):
            token = tokens[s]
            if lookback:
                r, distance = index[s], look[s]
                code = 0
                if r >= distance:
                    code = int(token == tokens[s - distance])
                    if r >= 2 * distance:
                        code += 2 * (token == tokens[s - 2 * distance])
                token = 4 * token + code
            codes[0] = token
            if ago:
                back = backs[s + 1]
                # none where the track began less than a bar back (as training reads it; a
                # longer bar after shorter ones starts out with none again)
                a1 = tokens[s + 1 - back] if index[s] + 1 >= back else V
                a2 = tokens[s + 1 - 2 * back] if index[s] + 1 >= 2 * back else V
                codes[1] = ago[0] + a1
                codes[2] = ago[1] + a2
            logits = step(state, column[:head + n_feel], schedule[s], None,
                          ((a1, a2),) if copies else None,
                          None if running is None else context, bias[s])
            t = s + 1
            if sample_tokens and t >= n_fixed:
                if fast and (t == n_fixed or t % block == 0):
                    self.draw_uniforms()
                if is_bar[t]:
                    token = bar
                else:
                    if mask_bar:
                        logits[:, bar] = -np.inf
                    if fast:  # as kernels.draw_tokens does
                        cum = np.add.accumulate(self.probabilities(logits[0], probs)
                                                .astype(np.float64), out=cum)
                        token = int(cum.searchsorted(uniforms[t % block] * cum[-1], "right"))
                    else:
                        token = int(sample(logits, self.sampling, self.rngs)[0])
                tokens[t] = token
            else:
                token = tokens[t]
            if not feel:
                continue
            if t < n_fixed_feel:
                n_feel = self._given_codes(t, feel_codes)
                if running is not None:
                    means, struck_now = step_feel(self._given(t), C)
                    if struck_now[0]:
                        rv, ro, rw = feel_step(rv, ro, rw, *means[0].tolist(), rate)
                        context[0] = rv / rw, ro / rw
                continue
            k = n_struck[token]
            n_feel = 2 * k
            if not k:
                continue
            feel_one(state, token, logits_flat)
            scores = logits_buf.take(struck[token], 0)
            if used + k > units:
                self.refill(0)
                used = 0
            scores += pool[used:used + k]
            used += k
            bins_k = scores.argmax(2)
            picked.append(bins_k)
            if running is not None:
                total_v = total_o = vel_c[0] - vel_c[0]  # 0.0 of the centres' type
                for v, o in bins_k.tolist():
                    total_v += vel_c[v]
                    total_o += off_c[o]
                rv, ro, rw = feel_step(rv, ro, rw, float(total_v) / k, float(total_o) / k, rate)
                context[0, 0] = rv / rw  # two items: a tuple's conversion costs more
                context[0, 1] = ro / rw
            np.add(bins_k, base[token], out=feel_codes[:k])
        run.tokens[0] = tokens
        if feel:
            done = slice(n_fixed_feel, L)
            velocity, offset = self._sampled_bins(drums[run.tokens[0, done]], picked)  # (L', C)
            run.velocity_bins[0, done] = velocity
            run.offset_bins[0, done] = offset

    @staticmethod
    def _sampled_bins(struck: np.ndarray, picks: list[np.ndarray]) -> tuple[np.ndarray, ...]:
        """The velocity and offset bins (int8, -1 where silent) of a run of slots whose
        struck drums are ``struck`` (bool), from ``picks``: each slot's (k, 2) bins of its
        struck drums, in the order ``struck``'s True cells come in."""
        chosen = np.concatenate(picks) if picks else np.zeros((0, 2), np.int64)
        out = []
        for q in range(2):
            value = np.full(struck.shape, -1, np.int8)
            value[struck] = chosen[:, q]
            out.append(value)
        return tuple(out)

    def _given_codes(self, t: int, out: np.ndarray) -> int:
        """Write the feel codes of slot ``t``'s given bins (row 0) into ``out`` (C, 2); how
        many there are."""
        rt, bins = self.rt, self.rt.config.feel_bins
        given = np.stack([self.run.velocity_bins[0, t], self.run.offset_bins[0, t]], axis=-1)
        at = given >= 0
        C = len(given)
        codes = rt.feel_at + (np.arange(C)[:, None] * 2 + np.arange(2)) * bins + given
        n = int(at.sum())
        out.reshape(-1)[:n] = codes[at]
        return n

    def _given(self, t: int) -> np.ndarray:
        """The feel inputs of slot ``t``'s given bins, (B, 2C) (velocities, then offsets)."""
        run = self.run
        return feel_inputs(run.velocity_bins[:, t], run.offset_bins[:, t], self.rt.config.feel_bins)

    @staticmethod
    def _by_class(inputs: np.ndarray) -> np.ndarray:
        """Feel inputs (B, 2C) (velocities, then offsets) in (class, quantity) order."""
        return inputs.reshape(len(inputs), 2, -1).transpose(0, 2, 1).reshape(len(inputs), -1)

    def _running(self, given: np.ndarray) -> RunningFeel | None:
        """The running feel after the first slot's given feel inputs ``given`` (B, 2C) (None:
        the model reads none)."""
        if not self.rt.config.feel_context:
            return None
        running = RunningFeel(len(self.run.tokens), self.rt.config.feel_rate)
        running.add(*step_feel(given, self.rt.vocab.n_classes))
        return running

    def batch(self) -> None:
        """Several rows: vector operations over the batch where they pay (products, exp),
        the small per-row work of a step (input codes, token and feel draws, running feel)
        in NumPy calls or, with ``rt.compiled``, in kernels that do the same arithmetic in
        one call each (at batch 16 the calls, not their arithmetic, cost the time)."""
        rt, run, bar, state, rngs = self.rt, self.run, self.bar, self.state, self.rngs
        kernels = rt.kernels()
        tokens = run.tokens
        B, L = tokens.shape
        C, V = rt.vocab.n_classes, rt.vocab.size
        index, is_bar, look, backs = run.index.tolist(), run.is_bar.tolist(), self.look, self.backs
        lookback, ago, feel = rt.config.lookback, rt.ago_at, self.feel
        codes = np.empty((3 if ago else 1, B), np.int64)
        ago_at = ago or (0, 0)
        if ago:
            codes[1:] = np.array(ago)[:, None] + V
        bar_ago = np.full((B, 2), V, np.int64)  # the tokens one and two bars back (V: none)
        copy = rt.copies
        sample_tokens, n_fixed, n_fixed_feel = not run.force_tokens, run.n_fixed, run.n_fixed_feel
        fast, block, uniforms = self.fast, self.block, self.uniforms
        probs, cum = np.empty((rt.n_out, B), np.float32), np.empty((rt.n_out, B))
        schedule, bias, mask_bar, step = self.schedule, self.bias, self.bar_tokens, rt.step_codes
        feel_in = running = None
        if feel:
            given = self._given(0)
            feel_in = self._by_class(given)
            running = self._running(given)
            context = running is not None
            draws = (_FeelDraws if kernels is None else _CompiledFeelDraws)(self)
        for s in range(L - 1):
            r, distance, back = index[s], look[s], backs[s + 1]
            flags = (min(r // distance, 2) if r >= 0 else 0) if lookback else -1
            agos = min((r + 1) // back, 2) if ago and r >= 0 else 0
            if kernels is not None:
                kernels.input_codes(tokens, s, distance, flags, back, agos, ago_at[0],
                                    ago_at[1], V, codes, bar_ago)
            else:
                _input_codes(tokens, s, distance, flags, back, agos, ago_at, V, codes, bar_ago)
            logits = step(state, codes, schedule[s], feel_in, bar_ago if copy else None,
                          running.value if feel and context else None, bias[s])
            t = s + 1
            if sample_tokens and t >= n_fixed:
                if fast and (t == n_fixed or t % block == 0):
                    self.draw_uniforms()
                if is_bar[t]:
                    tokens[:, t] = bar
                else:
                    if mask_bar:
                        logits[:, bar] = -np.inf
                    if not fast:
                        tokens[:, t] = sample(logits, self.sampling, rngs)
                    elif kernels is not None:
                        kernels.draw_tokens(self.probabilities(logits.T, probs),
                                            uniforms[:, t % block], tokens, t)
                    else:  # as kernels.draw_tokens does
                        np.cumsum(self.probabilities(logits.T, probs), 0, np.float64, cum)
                        (cum <= uniforms[:, t % block] * cum[-1]).sum(0, out=tokens[:, t])
            if not feel:
                continue
            if t < n_fixed_feel:
                given = self._given(t)
                feel_in = self._by_class(given)
                if context:
                    running.add(*step_feel(given, C))
                continue
            feel_in = draws.draw(rt.feel_logits(state, tokens[:, t]), t, running)
        if feel:
            draws.write()


def _input_codes(tokens: np.ndarray, s: int, distance: int, flags: int, back: int, agos: int,
                 ago_at: tuple[int, int], none: int, codes: np.ndarray,
                 bar_ago: np.ndarray) -> None:
    """:func:`drumrnn.generation.kernels.input_codes` in NumPy."""
    now = tokens[:, s]
    if flags >= 0:
        code = (now == tokens[:, s - distance]) if flags >= 1 else False
        if flags >= 2:
            code = code + 2 * (now == tokens[:, s - 2 * distance])
        np.add(4 * now, code, out=codes[0])
    else:
        codes[0] = now
    for k in range(len(codes) - 1):
        if k < agos:
            bar_ago[:, k] = tokens[:, s + 1 - (k + 1) * back]
        else:
            bar_ago[:, k] = none
        np.add(bar_ago[:, k], ago_at[k], out=codes[k + 1])


class _Draws:
    """What both ways of drawing a batch's feel keep: each row's next unit of its pool of
    feel noise and the unit's end (all used at first: the first struck drum refills)."""

    def __init__(self, loop: _Loop):
        B, bins = len(loop.run.tokens), loop.rt.config.feel_bins
        self.loop = loop
        self.n_struck = loop.drums.sum(axis=1)
        self.end = np.arange(B) * loop.width + loop.units
        self.cursor = self.end.copy()
        self.vel, self.off = centers(bins)
        self.pool = loop.pool.reshape(-1, 2, bins)


class _FeelDraws(_Draws):
    """The feel draws of a batch's steps in NumPy calls (:class:`_CompiledFeelDraws` does the
    same arithmetic in one kernel call): the struck drums' bins by Gumbel-max with their
    rows' pool noise, the next step's feel inputs, the running feel."""

    def __init__(self, loop: _Loop):
        super().__init__(loop)
        B, C, bins = len(loop.run.tokens), loop.rt.vocab.n_classes, loop.rt.config.feel_bins
        drums = self.drums = loop.drums
        n_struck, vel, off = self.n_struck, self.vel, self.off
        # per token: the running feel's divisor (struck drums, at least 1) and rate
        self.counts = np.maximum(n_struck, 1)
        self.rates = np.where(n_struck > 0, loop.rt.config.feel_rate, 0.0)
        # rank of each struck drum among its step's struck drums: its unit of the pool
        self.rank = np.cumsum(drums, axis=1) - 1
        # the input value of each (class, quantity, bin), then a bin's worth of zeros; per
        # token, where each drum's (quantity, bin 0) lies there (silent: the zeros)
        self.values = np.r_[np.tile(np.stack([vel, off])[None], (C, 1, 1)).reshape(-1),
                            np.zeros(bins, np.float32)]
        self.base = np.where(drums[:, :, None], np.arange(2 * C).reshape(C, 2) * bins,
                             2 * C * bins)
        # the bins of each row's drums, stale where silent (base sends those to zeros)
        self.picked = np.zeros((B * C, 2), np.int64)
        self.codes = np.empty((B, C, 2), np.int64)
        self.after = np.empty(B, np.int64)
        self.picks = []  # each step's bins of its struck drums, (row, class) in order

    def draw(self, scores: np.ndarray, t: int, running: RunningFeel | None) -> np.ndarray:
        """The feel of slot ``t``'s tokens from feel logits ``scores`` (B, C * 2 * bins); the
        next step's feel inputs (B, 2C). Rows whose pool runs out are refilled first."""
        loop, now, cursor, end = self.loop, self.loop.run.tokens[:, t], self.cursor, self.end
        B, C, bins = len(now), self.drums.shape[1], self.pool.shape[2]
        k = self.n_struck.take(now)
        np.add(cursor, k, out=self.after)
        for row in np.flatnonzero(self.after > end):
            loop.refill(row)
            cursor[row] = end[row] - loop.units
            self.after[row] = cursor[row] + k[row]
        # the struck (row, class) pairs alone: the silent ones' argmax cost as much
        struck = self.drums.take(now, 0).ravel().nonzero()[0]
        # each one's noise: its row's units in class order
        noise = self.pool.take((self.rank.take(now, 0) + cursor[:, None]).take(struck), 0)
        cursor[:] = self.after
        noise += scores.reshape(B * C, 2, bins).take(struck, 0)
        chosen = noise.reshape(-1, bins).argmax(1).reshape(-1, 2)
        self.picks.append(chosen)
        self.picked[struck] = chosen
        np.add(self.picked.reshape(B, C, 2), self.base.take(now, 0), out=self.codes)
        feel_in = self.values.take(self.codes).reshape(B, 2 * C)
        if running is not None:  # (class, quantity) order: a silent class reads 0, 0
            running.add_totals(feel_in.reshape(B, C, 2).sum(1), self.counts.take(now),
                               self.rates.take(now))
        return feel_in

    def write(self) -> None:
        """The sampled bins of the struck drums into the run (-1 elsewhere)."""
        run = self.loop.run
        tokens = run.tokens
        done = slice(run.n_fixed_feel, tokens.shape[1])
        velocity, offset = _Loop._sampled_bins(self.drums[tokens[:, done].T], self.picks)
        run.velocity_bins[:, done] = velocity.transpose(1, 0, 2)  # (L', B, C) -> (B, L', C)
        run.offset_bins[:, done] = offset.transpose(1, 0, 2)


class _CompiledFeelDraws(_Draws):
    """:class:`_FeelDraws` in one kernel call per step
    (:func:`drumrnn.generation.kernels.sample_feel`), the bins written into the run as drawn."""

    def __init__(self, loop: _Loop):
        super().__init__(loop)
        B, C = len(loop.run.tokens), loop.rt.vocab.n_classes
        self.kernels = loop.rt.kernels()
        self.feel_in = np.zeros((B, 2 * C), np.float32)  # (class, quantity)
        self.unused = RunningFeel(B)  # the kernel's running feel where the model reads none

    def draw(self, scores: np.ndarray, t: int, running: RunningFeel | None) -> np.ndarray:
        """As :meth:`_FeelDraws.draw`."""
        loop, run, kept = self.loop, self.loop.run, running or self.unused
        row = 0
        while row >= 0:  # a row whose pool runs out stops the kernel: refill, go on
            row = self.kernels.sample_feel(
                scores, run.tokens, t, row, self.n_struck, loop.rt.struck_classes, self.pool,
                self.cursor, self.end, self.vel, self.off, run.velocity_bins, run.offset_bins,
                self.feel_in, kept.sums, kept.value, kept.rate, running is not None)
            if row >= 0:
                loop.refill(row)
                self.cursor[row] = self.end[row] - loop.units
        return self.feel_in

    def write(self) -> None:
        """Nothing left: the kernel wrote each step's bins."""


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
    label_rows, biases = label_inputs(rt, run)
    feel = rt.has_feel
    if feel:
        C, bins = rt.vocab.n_classes, rt.config.feel_bins
        vel = np.repeat(run.velocity_bins[:1], beam, axis=0)
        off = np.repeat(run.offset_bins[:1], beam, axis=0)
    running = RunningFeel(beam, rt.config.feel_rate) if rt.config.feel_context else None
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
        feel_in = feel_inputs(vel[:, s], off[:, s], bins) if feel else None
        if running is not None:  # the feel so far, slot s included
            running.add(*step_feel(feel_in, C))
            feel_in = np.hstack([feel_in, running.value])
        logits = rt.step(state, seqs[:, s], labels=None if label_rows is None else label_rows[s],
                         feel_in=feel_in, bias=biases[s], **inputs)
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
            if running is not None:
                running = running.select(rows)
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
