"""Compiled kernels (numba) for the small per-row work of a batched sampling step.

At batch 16 a step's vector work is small (a few hundred numbers per row), so each NumPy
call costs more in dispatch than in arithmetic; these loops do the bookkeeping of a step in
one call each. Heavy vector work (matrix products, ``exp``, ``tanh``) stays in NumPy and
BLAS, which vectorize it. Every kernel does the arithmetic of the NumPy code it stands in
for (which runs where numba is not installed), in the same order and precision: the notes
come out identical with or without the kernels, and a row the same alone (the batch-1 path,
plain NumPy) or in a batch. Compiled on first use and cached beside this file (or in the
user's cache directory where that is read-only); a cache that cannot be written (a full or
read-only disk) only costs the compilation again next time.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit


def _kernel(function):
    """``function`` compiled (nogil, cached on disk where possible). numba registers a new
    compilation before saving it to its cache, so a call whose save fails (OSError: a full
    disk) is simply made again: the kernel had not started."""
    try:
        compiled = njit(cache=True, nogil=True)(function)
    except RuntimeError:  # no writable cache directory at all
        compiled = njit(nogil=True)(function)

    @functools.wraps(function)
    def call(*args):
        try:
            return compiled(*args)
        except OSError:
            return compiled(*args)

    return call


@_kernel
def input_codes(tokens, s, distance, flags, back, agos, ago1, ago2, none, codes, bar_ago):
    """Layer 0's row codes of step ``s`` for every row of ``tokens`` (B, L), into ``codes``
    (k, B): the token's row ``4 * token + lookback code`` (``flags`` = -1: no lookback
    flags, the token alone; 0-2: how many of the bars ``distance`` and ``2 * distance``
    back exist) and, with bar-ago rows (k = 3), the rows ``ago1``/``ago2`` + token of the
    tokens ``back`` and ``2 * back`` before the predicted step, the first ``agos`` (0-2) of
    which exist (the others: ``none``), the tokens themselves into ``bar_ago`` (B, 2)."""
    for b in range(tokens.shape[0]):
        now = tokens[b, s]
        if flags >= 0:
            code = 0
            if flags >= 1 and tokens[b, s - distance] == now:
                code += 1
            if flags >= 2 and tokens[b, s - 2 * distance] == now:
                code += 2
            codes[0, b] = 4 * now + code
        else:
            codes[0, b] = now
        if codes.shape[0] > 1:
            bar_ago[b, 0] = tokens[b, s + 1 - back] if agos >= 1 else none
            bar_ago[b, 1] = tokens[b, s + 1 - 2 * back] if agos >= 2 else none
            codes[1, b] = ago1 + bar_ago[b, 0]
            codes[2, b] = ago2 + bar_ago[b, 1]


@_kernel
def copy_gates(head, n_out, bar_ago, whole, drum_row, signs, weight):
    """The copy gates of a head output (rows, B), given each row's tokens one and two bars
    back ``bar_ago`` (B, 2). ``whole``: add the two step gates (head rows ``n_out`` and
    ``n_out + 1``) to the logits of those tokens, in place ("none", ``n_out``, lands on a
    gate row; both gates are read before any write). ``drum_row`` >= 0: the per-drum gates
    (rows from ``drum_row``, drum by drum, bars 1 and 2 back) times each token's drum signs
    (``signs`` (V + 1, C)), summed over the two bars, into ``weight`` (C, B)."""
    for b in range(head.shape[1]):
        one = bar_ago[b, 0]
        two = bar_ago[b, 1]
        if whole:
            gate1 = head[n_out, b]
            gate2 = head[n_out + 1, b]
            head[one, b] += gate1
            head[two, b] += gate2
        if drum_row >= 0:
            for c in range(weight.shape[0]):
                weight[c, b] = (head[drum_row + 2 * c, b] * signs[one, c]
                                + head[drum_row + 2 * c + 1, b] * signs[two, c])


@_kernel
def feel_hidden(head, feel_row, feel_drums, tokens):
    """The feel layer's hidden units in the head output (rows from ``feel_row``), in place:
    plus the drums of each row's token (``feel_drums`` (V, F)), rectified."""
    for b in range(head.shape[1]):
        token = tokens[b]
        for f in range(feel_drums.shape[1]):
            x = head[feel_row + f, b] + feel_drums[token, f]
            head[feel_row + f, b] = x if x > 0 else np.float32(0.0)


@_kernel
def draw_tokens(probs, uniforms, tokens, t):
    """Draw each row's token at step ``t`` from unnormalised probabilities ``probs`` (V, B),
    by inverting the cumulative distribution at ``uniforms`` (B,) in [0, 1): the first
    token whose running sum (float64, in token order) exceeds ``u * total``. There always
    is one: for u < 1, ``u * total`` rounds below the total, which the last running sum
    equals (the same additions)."""
    V, B = probs.shape
    total = np.zeros(B)
    for v in range(V):
        for b in range(B):
            total[b] += probs[v, b]
    target = uniforms * total
    running = np.zeros(B)
    left = B
    chosen = np.full(B, -1)
    for v in range(V):
        for b in range(B):
            if chosen[b] < 0:
                running[b] += probs[v, b]
                if running[b] > target[b]:
                    chosen[b] = v
                    left -= 1
        if left == 0:
            break
    for b in range(B):
        tokens[b, t] = chosen[b]


@_kernel
def sample_feel(logits, tokens, t, start, n_struck, classes, pool, cursor, end, vel_values,
                off_values, vel_bins, off_bins, feel_in, sums, value, rate,
                context):
    """The feel of step ``t`` of rows ``start``.. of a batch: for each struck drum of a row's
    token, a velocity bin and an offset bin by Gumbel-max over ``logits`` (B, C * 2 * bins)
    plus the row's next unit of ``pool`` (units, 2, bins; ``cursor``/``end`` (B,): each
    row's next unit and its end), into ``vel_bins``/``off_bins`` (B, L, C) (-1 where
    silent), their input values into ``feel_in`` (B, 2C) (class, quantity; 0 where silent)
    and, with ``context``, the running feel (``sums`` (B, 3), ``value`` (B, 2), as
    :class:`drumrnn.model.feel.RunningFeel` keeps it) moved by ``rate``. Returns -1, or the
    first row whose pool cannot serve its struck drums (the caller refills it and calls
    again from that row)."""
    B, C = vel_bins.shape[0], vel_bins.shape[2]
    bins = pool.shape[2]
    for b in range(start, B):
        token = tokens[b, t]
        k = n_struck[token]
        if cursor[b] + k > end[b]:
            return b
        for c in range(C):
            feel_in[b, 2 * c] = 0.0
            feel_in[b, 2 * c + 1] = 0.0
            vel_bins[b, t, c] = -1
            off_bins[b, t, c] = -1
        for i in range(k):
            c = classes[token, i]
            unit = cursor[b] + i
            for q in range(2):
                best = -np.inf
                pick = 0
                at = (c * 2 + q) * bins
                for j in range(bins):
                    score = pool[unit, q, j] + logits[b, at + j]
                    if score > best:
                        best = score
                        pick = j
                if q == 0:
                    vel_bins[b, t, c] = pick
                    feel_in[b, 2 * c] = vel_values[pick]
                else:
                    off_bins[b, t, c] = pick
                    feel_in[b, 2 * c + 1] = off_values[pick]
        cursor[b] += k
        if context and k > 0:
            # RunningFeel.add_totals: float32 totals in class order, then float64
            total_v = feel_in[b, 0]
            total_o = feel_in[b, 1]
            for c in range(1, C):
                total_v += feel_in[b, 2 * c]
                total_o += feel_in[b, 2 * c + 1]
            s0 = sums[b, 0] + (np.float64(total_v) / k - sums[b, 0]) * rate
            s1 = sums[b, 1] + (np.float64(total_o) / k - sums[b, 1]) * rate
            s2 = sums[b, 2] + (1.0 - sums[b, 2]) * rate
            sums[b, 0] = s0
            sums[b, 1] = s1
            sums[b, 2] = s2
            value[b, 0] = np.float32(s0 / s2)
            value[b, 1] = np.float32(s1 / s2)
    return -1


@_kernel
def gru_add_h(gates, gh, H):
    """A deeper GRU layer's reset and update pre-activations (rows 0..2H of ``gates``, which
    hold the input part) plus their h part ``gh``."""
    for g in range(2 * H):
        for b in range(gates.shape[1]):
            gates[g, b] += gh[g, b]


@_kernel
def gru_candidate(gates, gh, H):
    """After tanh of the reset and update pre-activations: the gates ``(t + 1) / 2`` (rows
    0..2H of ``gates``), and the candidate's pre-activation plus reset gate times its h part
    (rows 2H..3H)."""
    B = gates.shape[1]
    for g in range(2 * H):
        for b in range(B):
            gates[g, b] = gates[g, b] * np.float32(0.5) + np.float32(0.5)
    for g in range(H):
        for b in range(B):
            gates[2 * H + g, b] += gh[2 * H + g, b] * gates[g, b]


@_kernel
def gru_update(h, gates, H):
    """After tanh of the candidate: ``h = n + z * (h - n)``, in place."""
    B = h.shape[1]
    for g in range(H):
        for b in range(B):
            n = gates[2 * H + g, b]
            h[g, b] = (h[g, b] - n) * gates[H + g, b] + n


@_kernel
def gru_inputs(gates, table, codes, feel, context, extra, gh, H):
    """A batch's layer-0 GRU pre-activations (3H, B) in ``gates``, from its input rows: the
    sum of the ``table`` rows of each row's ``codes`` (k, B), in order, plus ``feel`` and
    ``context`` (B, 3H) when not empty, plus ``extra`` (3H,) when not empty, then (reset and
    update gates) their h part ``gh``: the order in which the NumPy path adds them."""
    G, B = gates.shape
    k = codes.shape[0]
    # one row's sums in float32 (the callers' type, as NumPy sums them): contiguous loops,
    # which vectorize
    x = np.empty(G, np.float32)
    for b in range(B):
        row = table[codes[0, b]]
        for g in range(G):
            x[g] = row[g]
        for j in range(1, k):
            row = table[codes[j, b]]
            for g in range(G):
                x[g] += row[g]
        if feel.shape[0]:
            for g in range(G):
                x[g] += feel[b, g]
        if context.shape[0]:
            for g in range(G):
                x[g] += context[b, g]
        if extra.shape[0]:
            for g in range(G):
                x[g] += extra[g]
        for g in range(2 * H):
            x[g] += gh[g, b]
        for g in range(G):
            gates[g, b] = x[g]


@_kernel
def shifted(logits, scale, out):
    """``(z - max) * scale`` of ``logits`` (V, B) along V into ``out`` (the scale skipped
    when 1), as NumPy's ``subtract(z, z.max(axis=0))`` then ``*=`` computes it."""
    V, B = logits.shape
    top = np.full(B, -np.inf, np.float32)
    for v in range(V):
        for b in range(B):
            if logits[v, b] > top[b]:
                top[b] = logits[v, b]
    for v in range(V):
        for b in range(B):
            x = logits[v, b] - top[b]
            if scale != 1:
                x *= scale
            out[v, b] = x
