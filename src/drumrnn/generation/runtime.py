"""A NumPy runtime for drumrnn model files: no deep-learning framework needed (numba, where
installed, runs a batch's small per-row work: ``NumpyDrumModel(compiled=...)``).

Each LSTM or RNN layer computes all its gates with one matrix product over ``[x, h, 1]``
(the bias is the last row), as the RNN Drummer's iOS app did; a GRU layer needs its x and h
parts apart (its candidate gate is ``tanh(W_in x + r * (W_hn h))``), so it takes one product
over ``[h, 1]`` and one over ``[x, 1]``. For LSTM and GRU the rows of the sigmoid gates are
pre-scaled by 1/2 so that one ``tanh`` over all gates serves both nonlinearities
(``sigmoid(x) = (tanh(x / 2) + 1) / 2``), and LSTM gates are reordered to (i, f, o, g) so
the sigmoid gates form one block. The first layer's input product is replaced by table
lookups: every input feature is a token, a position or a few flags, so ``embedding @ W`` is
computed once per table row when the model is loaded (token and lookback flags share one
table of token x flags rows). Label embeddings are tables too (:meth:`label_rows`, summed once
per label change), as are the label biases on the token scores (:meth:`label_bias_rows`);
the previous step's feel (continuous) takes one small product per step, or
(:meth:`step_codes`) rows of a table of each feel bin's input, looked up with the token
and bar-ago rows in one take. The feel layer's hidden units ride along in the head's
product; the rest of the feel heads (:meth:`feel`) runs only on demand, for the token the
caller chose.

Activations are stored feature-major, ``(features, batch)``: every gate is then a
contiguous block of rows, so the per-gate NumPy calls run on contiguous memory (3x faster at
batch 16 than on column slices) and ``W @ X`` beats ``X @ W`` for a batch. Per-step numpy
calls, not arithmetic, dominate at batch 1, hence the in-place ``out=`` operations.
"""

from __future__ import annotations

import numpy as np

from drumrnn.core.errors import DrumrnnError
from drumrnn.model.feel import centers, feel_layout
from drumrnn.model.model_config import ModelConfig, Vocabulary
from drumrnn.model.model_file import ModelFile
from drumrnn.model.tracks import drum_signs

_GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def _gate_order(cell: str, hidden: int) -> np.ndarray:
    """Column permutation from torch's gate order to the runtime's (LSTM: i, f, o, g)."""
    columns = np.arange(_GATES[cell] * hidden)
    if cell == "lstm":
        H = hidden
        columns = np.concatenate([columns[:2 * H], columns[3 * H:], columns[2 * H:3 * H]])
    return columns


# absent array inputs of a kernel (never written)
_NONE, _NONE_ROW = np.zeros((0, 0), np.float32), np.zeros(0, np.float32)
_KERNELS: list = []  # the kernels module once imported, or None where numba cannot be


def compiled_kernels():
    """The compiled kernels (:mod:`drumrnn.generation.kernels`), imported on first use, or
    None where numba is missing or cannot be imported (an old numba with a newer NumPy, say).
    numba's import takes a third of a second, which a one-row generation (the batch-1
    sampling loop uses no kernel) should not pay."""
    if not _KERNELS:
        try:
            from drumrnn.generation import kernels
        except Exception:  # noqa: BLE001 - any failure of an optional accelerator's import
            kernels = None
        _KERNELS.append(kernels)
    return _KERNELS[0]


def _take(table: np.ndarray, rows, out: np.ndarray) -> np.ndarray:
    """``table[rows]`` into ``out``. mode="clip" (the rows are valid): with ``out`` the default
    mode="raise" buffers the copy, 3x slower at batch 1 and 13x at batch 16. The method, not
    np.take: the function's dispatch wrapper costs as much as the copy at batch 1."""
    return table.take(rows, 0, out, "clip")


def _matrix(a: np.ndarray) -> np.ndarray:
    """float32 in C order: OpenBLAS multiplies by a Fortran-ordered matrix 1.8x slower."""
    return np.ascontiguousarray(a, dtype=np.float32)


def _sigmoid_scale(cell: str, hidden: int) -> np.ndarray:
    """Per-gate-unit factor (runtime order): 1/2 on the sigmoid gates, 1 elsewhere."""
    scale = np.ones(_GATES[cell] * hidden, dtype=np.float32)
    scale[: {"rnn": 0, "gru": 2, "lstm": 3}[cell] * hidden] = 0.5
    return scale


class NumpyDrumModel:
    """Runs a drumrnn model file step by step for a batch of sequences.

    Use :meth:`start` for a fresh state, then :meth:`step` once per token. ``compiled``: a
    batch's small per-row work (copy gates, feel hidden units; and in
    :mod:`drumrnn.generation.conditioned`, the draws) runs in numba kernels
    (:mod:`drumrnn.generation.kernels`), which do the NumPy code's arithmetic in its order:
    the same results to the bit, faster once numba has loaded (about 0.6 s per process).
    None: where numba can be imported.
    """

    def __init__(self, model: ModelFile, compiled: bool | None = False):
        self.compiled = compiled  # see kernels()
        self.config: ModelConfig = model.config
        self.vocab: Vocabulary = model.vocabulary
        cfg, vocab, w = self.config, self.vocab, model.weights
        H, cell = cfg.hidden, cfg.cell
        self.events = vocab.encoding == "events"
        n_in = vocab.n_drums if self.events else vocab.size
        scale = _sigmoid_scale(cell, H)
        order = _gate_order(cell, H)

        # first layer: split W_ih by input feature and turn each part into a lookup table
        # (rows: feature values, columns: gates in runtime order)
        w_ih = w["rnn.weight_ih_l0"].astype(np.float32)
        segments: list[tuple[str, int]] = [("token", cfg.embedding or n_in)]
        if self.events:
            segments.append(("delta", cfg.embedding or len(vocab.deltas)))
        if cfg.position_embedding:
            segments.append(("position", cfg.position_embedding))
        if cfg.counter_bits:
            segments.append(("counter", cfg.counter_bits))
        if cfg.lookback:
            segments.append(("lookback", 2))
        if cfg.labels:
            segments += [(name, cfg.labels) for name in ("style", "kind", "tempo")]
        quantities, groups = feel_layout(vocab.encoding, vocab.n_classes)
        if cfg.feel:
            segments.append(("feel", quantities * groups))
        if cfg.feel_context:
            segments.append(("context", 2))
        if cfg.bar_ago:
            segments += [("ago1", cfg.embedding), ("ago2", cfg.embedding)]
        self.tables: dict[str, np.ndarray] = {}
        start = 0
        for name, width in segments:
            part = w_ih[:, start:start + width].T  # (width, G)
            start += width
            if name == "token":
                rows = w["embed.weight"] @ part if cfg.embedding else part
            elif name == "delta":
                rows = w["embed_delta.weight"] @ part if cfg.embedding else part
            elif name == "position":
                rows = w["embed_position.weight"] @ part
            elif name in ("style", "kind", "tempo"):
                k = ("style", "kind", "tempo").index(name)
                rows = w[f"embed_labels.{k}.weight"] @ part
            elif name in ("ago1", "ago2"):  # the token embedding, a zero row for "none"
                rows = np.vstack([w["embed.weight"] @ part, np.zeros((1, part.shape[1]))])
            elif name == "feel":  # continuous inputs: a matrix, not a table
                self.feel_w = _matrix(part[:, order] * scale)
                continue
            elif name == "context":  # the running feel: two more rows of the feel matrix
                self.context_w = _matrix(part[:, order] * scale)
                continue
            elif name == "counter":
                n = np.arange(2 ** cfg.counter_bits)[:, None]
                bits = ((n >> np.arange(cfg.counter_bits)) & 1) * 2.0 - 1.0
                rows = bits @ part
            else:  # lookback: 4 combinations of two flags
                flags = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float32)
                rows = flags @ part
            self.tables[name] = _matrix(rows[:, order] * scale)
        if cfg.lookback:  # one lookup for token and flags: row 4 * token + flags code
            G = self.tables["token"].shape[1]
            self.tables["token"] = _matrix(
                (self.tables["token"][:, None, :] + self.tables.pop("lookback")[None]).reshape(-1, G))

        # recurrent layers: (gates, inputs) matrices in runtime gate order, the bias as the
        # last column. LSTM/RNN: one over [x, h, 1] (layer 0: [h, 1], its x comes from the
        # tables). GRU: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) needs the x and h parts
        # apart: ``fused`` takes [h, 1] and ``gru_x`` takes [x, 1] (layer 0: tables).
        self.fused: list[np.ndarray] = []
        self.gru_x: list[np.ndarray | None] = []
        for layer in range(cfg.layers):
            w_hh, w_ih = w[f"rnn.weight_hh_l{layer}"], w[f"rnn.weight_ih_l{layer}"]
            b_ih, b_hh = w[f"rnn.bias_ih_l{layer}"], w[f"rnn.bias_hh_l{layer}"]
            if cell == "gru":
                bias = np.concatenate([b_ih[:2 * H] + b_hh[:2 * H], b_hh[2 * H:]])
                parts = [w_hh, bias[:, None]]
                x_bias = np.concatenate([np.zeros(2 * H), b_ih[2 * H:]])
                if layer == 0:  # every step adds a token-table row: b_in rides along
                    self.tables["token"][:, 2 * H:] += x_bias[2 * H:].astype(np.float32)
                    self.gru_x.append(None)
                else:
                    self.gru_x.append(_matrix(np.hstack([w_ih, x_bias[:, None]]) * scale[:, None]))
            else:
                parts = ([] if layer == 0 else [w_ih]) + [w_hh, (b_ih + b_hh)[:, None]]
            self.fused.append(_matrix(np.hstack(parts)[order] * scale[:, None]))

        # one table for the row lookups of a step (:meth:`step_codes`): the token rows (with
        # the lookback flags), the bar-ago rows, and each feel input bin's value times its
        # weights, so that a step's layer-0 input is one take and one sum
        parts, at = [self.tables.pop("token")], {}
        for name in ("ago1", "ago2"):
            if name in self.tables:
                at[name] = sum(len(p) for p in parts)
                parts.append(self.tables.pop(name))
        self.feel_at = sum(len(p) for p in parts)
        if cfg.feel:  # rows (group, quantity, bin) in order: a struck drum's rows in one run
            vel, off = centers(cfg.feel_bins)
            value = np.stack([vel, off][:quantities])  # (quantities, bins)
            by_class = self.feel_w.reshape(quantities, groups, -1).transpose(1, 0, 2)
            self.feel_w_by_class = _matrix(by_class.reshape(quantities * groups, -1))
            parts.append((value[None, :, :, None] * by_class[:, :, None])
                         .reshape(-1, by_class.shape[-1]))
        self.inputs = _matrix(np.vstack(parts))
        if cfg.feel_context:  # :meth:`step` takes the feel inputs and the running feel
            self.feel_w = _matrix(np.vstack([self.feel_w, self.context_w]))
        self.ago_at = (at["ago1"], at["ago2"]) if cfg.bar_ago else None

        if cfg.attention:  # attention works batch-first: (B, H) @ (H, H)
            self.att_q = _matrix(w["attention.query.weight"].T / np.float32(H ** 0.5))
            self.att_k = _matrix(w["attention.key.weight"].T)
            self.att_out = _matrix(np.vstack([w["attention.out.weight"].T,
                                              w["attention.out.bias"][None, :]]))
        head_in = H
        if cfg.dense:
            # fold the batch norm's running statistics into the dense layer
            gamma = w["dense.1.weight"] / np.sqrt(w["dense.1.running_var"] + 1e-5)
            weight = w["dense.0.weight"] * gamma[:, None]
            bias = (w["dense.0.bias"] - w["dense.1.running_mean"]) * gamma + w["dense.1.bias"]
            self.dense = _matrix(np.hstack([weight, bias[:, None]]))
            head_in = cfg.dense
        # the head: one product over [top, 1] whose rows are the logits (events: drums, then
        # deltas; steps: then the copy gates), then (feel) the feel layer's hidden units and
        # a constant 1 (zero weights, bias 1) that serves as feel_out's bias input
        heads = [w["head.weight"]]
        biases = [w["head.bias"]]
        if cfg.bar_copy:  # two gate rows after the token logits (steps only: no delta head)
            heads.append(w["copy_gate.weight"])
            biases.append(w["copy_gate.bias"])
        self.drum_row, self.signs = -1, np.zeros((vocab.size + 1, 0), np.float32)
        if cfg.drum_copy:  # then 2 x C drum gate rows, drum by drum: (C, 2) (bars 1, 2 back)
            self.drum_row = sum(len(h) for h in heads)
            C = vocab.n_classes
            by_drum = np.arange(2 * C).reshape(2, C).T.reshape(-1)
            heads.append(w["drum_gate.weight"][by_drum])
            biases.append(w["drum_gate.bias"][by_drum])
            signs = drum_signs(vocab)
            self.signs = _matrix(signs)  # (V + 1, C): a bar-ago token's signs, a row
            self.token_signs = _matrix(signs[:vocab.size])
        if self.events:
            heads.append(w["delta_head.weight"])
            biases.append(w["delta_head.bias"])
        self.n_out = heads[0].shape[0]
        self.n_logits = self.n_out + (len(heads[-1]) if self.events else 0)  # step's result
        self.feel_row = sum(len(h) for h in heads)  # the first feel row of the head's output
        if cfg.feel:
            heads += [w["feel_hidden.weight"], np.zeros((1, head_in))]
            biases += [w["feel_hidden.bias"], np.ones(1)]
        self.head = _matrix(np.hstack([np.vstack(heads), np.concatenate(biases)[:, None]]))
        self.head_in = head_in
        self.has_labels, self.has_feel = bool(cfg.labels), bool(cfg.feel)
        self.label_bias = ([_matrix(w[f"label_bias.{k}.weight"]) for k in range(3)]
                           if cfg.label_bias else None)
        self.has_bar_ago, self.has_copy = bool(cfg.bar_ago), bool(cfg.bar_copy)
        self.has_drum_copy = bool(cfg.drum_copy)
        self.copies = self.has_copy or self.has_drum_copy  # reads bar_ago in _logits
        if cfg.feel:
            C = vocab.n_classes
            if self.events:  # the event's drum, one-hot
                drums = np.eye(vocab.n_drums, dtype=np.float32)
            else:  # the step's drums, one bit each
                drums = ((np.arange(vocab.size)[:, None] >> np.arange(C)) & 1).astype(np.float32)
                if vocab.bar_token >= 0:
                    drums[vocab.bar_token] = 0.0
            # (V, F + 1): the last column leaves the head's constant 1 as it is
            self.feel_drums = _matrix(np.hstack([drums @ w["feel_drums.weight"].T,
                                                 np.zeros((len(drums), 1))]))
            self.feel_drums_t = _matrix(self.feel_drums.T)  # a batch's rows are its columns
            # output rows in (group, quantity, bin) order, as the feel rows of ``inputs``
            out = np.hstack([w["feel_out.weight"], w["feel_out.bias"][:, None]])
            bins = cfg.feel_bins
            self.feel_o = _matrix(out.reshape(quantities, groups, bins, -1)
                                  .transpose(1, 0, 2, 3).reshape(len(out), -1))
            self.feel_shape = (quantities, groups, bins)
            if not self.events:
                # per token: its struck classes (and how many), and the ``inputs`` row
                # (:meth:`step_codes`) of bin 0 of each one's velocity and offset
                _, classes = np.nonzero(drums)  # token by token, classes in order
                self.n_struck = drums.sum(axis=1).astype(int).tolist()
                ends = np.cumsum(self.n_struck)[:-1]
                self.struck = np.split(classes, ends)
                # the same padded to C per token, for the compiled feel draws
                self.struck_classes = np.zeros((len(drums), C), np.int64)
                for token, struck in enumerate(self.struck):
                    self.struck_classes[token, :len(struck)] = struck
                self.feel_codes = np.split(
                    self.feel_at + (classes[:, None] * 2 + np.arange(2)) * bins, ends)

    def kernels(self):
        """The kernels module this runtime uses, or None for NumPy calls (``compiled`` False,
        or None without a working numba); ``compiled=True`` without one is an error."""
        if self.compiled is False:
            return None
        found = compiled_kernels()
        if found is None and self.compiled is True:
            raise DrumrnnError("compiled generation needs numba, which cannot be imported "
                               "here: pip install 'drumrnn[fast]', or leave compiled off")
        return found

    # -- state ------------------------------------------------------------------------------
    # feature-major arrays (batch on axis 1), except the batch-first attention memory
    _BATCH_FIRST = ("rows", "more", "keys", "values", "valid", "att_in")
    _SCRATCH = ("rows", "more", "gates", "gh", "tmp", "pre", "att_in", "feel_drums")

    def start(self, batch: int, random_state: float = 0.0,
              rng: np.random.Generator | None = None) -> dict:
        """A fresh state for ``batch`` sequences; ``random_state`` > 0 fills the recurrent
        state with uniform noise in +-random_state (RNN Drummer's varied starts)."""
        cfg, H = self.config, self.config.hidden
        G = _GATES[cfg.cell] * H
        gru = cfg.cell == "gru"
        state = {"rows": np.empty((batch, G), np.float32),
                 "more": np.empty((batch, G), np.float32),
                 "gates": np.empty((G, batch), np.float32),
                 "gh": np.empty((G, batch), np.float32),
                 "tmp": np.empty((H, batch), np.float32),
                 # per layer: [x, h, 1] rows (GRU and layer 0: [h, 1])
                 "xh": [np.zeros((H + 1 if gru or layer == 0 else 2 * H + 1, batch), np.float32)
                        for layer in range(cfg.layers)],
                 "c": [np.zeros((H, batch), np.float32) for _ in range(cfg.layers)]
                 if cfg.cell == "lstm" else None,
                 "top": np.ones((self.head_in + 1, batch), np.float32),
                 "head": np.zeros((len(self.head), batch), np.float32)}  # the last step's
        if cfg.feel:
            state["feel_drums"] = np.empty((cfg.feel + 1, batch), np.float32)
        for xh in state["xh"]:
            xh[-1] = 1.0
        if random_state:
            rng = rng or np.random.default_rng()
            for layer, xh in enumerate(state["xh"]):
                xh[-H - 1:-1] = rng.uniform(-random_state, random_state, (batch, H)).T
                if state["c"] is not None:
                    state["c"][layer][:] = rng.uniform(-random_state, random_state, (batch, H)).T
        if cfg.dense:
            state["pre"] = np.ones((H + 1, batch), np.float32)
        if cfg.attention:
            state["keys"] = np.zeros((batch, cfg.attention, H), np.float32)
            state["values"] = np.zeros((batch, cfg.attention, H), np.float32)
            state["valid"] = np.zeros((batch, cfg.attention), bool)
            state["slot"] = 0
            state["att_in"] = np.ones((batch, 2 * H + 1), np.float32)
        state["views"] = self._views(state)
        return state

    def _views(self, state: dict) -> list[tuple]:
        """Per layer, the parts of the state arrays that :meth:`_cell` works on: made once
        per state, as slicing them anew every step cost a third of the cell's time at
        batch 1."""
        H, cell, gates = self.config.hidden, self.config.cell, state["gates"]
        views = []
        for layer, xh in enumerate(state["xh"]):
            h = xh[-H - 1:-1]
            if cell == "gru":
                gh = state["gh"]
                views.append((xh, h, gates[:2 * H], gh[:2 * H], gates[:H], gates[H:2 * H],
                              gates[2 * H:], gh[2 * H:]))
            elif cell == "lstm":
                views.append((xh, h, gates[:3 * H], gates[:H], gates[H:2 * H],
                              gates[2 * H:3 * H], gates[3 * H:], state["c"][layer], state["tmp"]))
            else:
                views.append((xh, h))
        return views

    def reset_rows(self, state: dict, rows: np.ndarray) -> None:
        """Zero the state of the batch rows where ``rows`` (bool, (B,)) is true."""
        for xh in state["xh"]:
            xh[:-1, rows] = 0.0
        if state["c"] is not None:
            for c in state["c"]:
                c[:, rows] = 0.0
        if self.config.attention:
            state["valid"][rows] = False

    def select(self, state: dict, rows: np.ndarray) -> dict:
        """The state of the given batch rows (beam search reorders its beams)."""
        out = {}
        for key, value in state.items():
            if key == "views":
                continue
            if isinstance(value, list):
                out[key] = [v[:, rows] for v in value]
            elif not isinstance(value, np.ndarray):
                out[key] = value
            elif key in self._SCRATCH:
                out[key] = np.ones((len(rows),) + value.shape[1:], value.dtype) \
                    if key in self._BATCH_FIRST else np.ones((len(value), len(rows)), value.dtype)
            else:
                out[key] = value[rows] if key in self._BATCH_FIRST else value[:, rows]
        out["views"] = self._views(out)
        return out

    # -- one step ---------------------------------------------------------------------------
    def schedule(self, index: np.ndarray, next_position: np.ndarray) -> np.ndarray | None:
        """The position and counter inputs of many steps at once: (n, G) float32 rows to pass
        as ``step(..., extra=row)``; None when the model uses neither."""
        cfg = self.config
        rows = None
        if cfg.position_embedding:
            rows = self.tables["position"][np.minimum(next_position, 63)]
        if cfg.counter_bits:
            counter = self.tables["counter"][(np.asarray(index) + 1) % (1 << cfg.counter_bits)]
            rows = counter if rows is None else rows + counter
        return rows

    def label_rows(self, ids: np.ndarray) -> np.ndarray:
        """The label inputs of label ids ``ids`` ((3,) or (B, 3): style, kind, tempo) as
        rows to pass as ``step(..., labels=rows)``: (G,) or (B, G) float32."""
        ids = np.asarray(ids, dtype=np.int64)
        t = self.tables
        return t["style"][ids[..., 0]] + t["kind"][ids[..., 1]] + t["tempo"][ids[..., 2]]

    def label_bias_rows(self, ids: np.ndarray) -> np.ndarray | None:
        """The label biases on the token scores of label ids ``ids`` ((3,) or (B, 3)) as
        rows to pass as ``step(..., bias=rows)``: (V,) or (B, V) float32; None when the
        model has none."""
        if self.label_bias is None:
            return None
        ids = np.asarray(ids, dtype=np.int64)
        style, kind, tempo = self.label_bias
        return style[ids[..., 0]] + kind[ids[..., 1]] + tempo[ids[..., 2]]

    def feel(self, state: dict, tokens: np.ndarray) -> np.ndarray:
        """Feel logits of ``tokens`` (B,), the step just predicted by the last :meth:`step`:
        a (2, C, bins, B) view (velocity, offset) x class x bin x batch (events: (1, 1,
        bins, B), the velocity of the event's drum)."""
        quantities, groups, bins = self.feel_shape
        return self.feel_logits(state, tokens).reshape(-1, groups, quantities, bins) \
            .transpose(2, 1, 3, 0)

    def feel_logits(self, state: dict, tokens: np.ndarray) -> np.ndarray:
        """The feel logits of :meth:`feel` as computed, batch first: (B, groups * quantities
        * bins) in (class, quantity, bin) order, a class's logits together."""
        head = state["head"]  # in place: once per step
        kernels = self.kernels() if head.shape[1] > 1 else None
        if kernels is not None:
            kernels.feel_hidden(head, self.feel_row, self.feel_drums, np.asarray(tokens, np.int64))
        else:
            hid = head[self.feel_row:]
            hid += self.feel_drums_t.take(tokens, 1, state["feel_drums"], "clip")
            np.maximum(hid, 0, out=hid)
        return np.dot(head[self.feel_row:].T, self.feel_o.T)

    def feel_one(self, state: dict, token: int, out: np.ndarray | None = None) -> np.ndarray:
        """:meth:`feel_logits` of the one sequence of a batch-1 state as a vector (into
        ``out`` if given): fewer NumPy calls. Once per step: it works in the step's head
        output."""
        hid = state["head"][self.feel_row:, 0]
        np.add(hid, self.feel_drums[token], out=hid)
        np.maximum(hid, 0, out=hid)
        return np.dot(self.feel_o, hid, out=out)

    def step(self, state: dict, tokens: np.ndarray, index=None, next_position=None,
             lookback: np.ndarray | None = None, deltas: np.ndarray | None = None,
             extra: np.ndarray | None = None, labels: np.ndarray | None = None,
             feel_in: np.ndarray | None = None, bar_ago: np.ndarray | None = None,
             bias: np.ndarray | None = None) -> np.ndarray:
        """Advance every sequence by one input token; returns logits (B, V) (events: the
        drum logits followed by the delta logits, (B, n_drums + n_deltas)).

        ``index``: the input step's index in its track (int or (B,)); ``next_position``: the
        predicted step's position in its bar (or ``extra``, a row of :meth:`schedule`, in
        place of both); ``lookback``: (B, 2) flags, or (B,) codes ``flag1 + 2 * flag2``;
        ``deltas``: events delta ids; ``labels``: rows of :meth:`label_rows`; ``feel_in``:
        (B, 2C) the input step's feel (:func:`drumrnn.model.feel.feel_inputs`; with
        ``feel_context``, (B, 2C + 2): the running feel after it); ``bar_ago``:
        (B, 2) the tokens one and two bars before the predicted step (vocabulary size: none);
        ``bias``: rows of :meth:`label_bias_rows`. Only the features the model uses are
        needed.
        """
        cfg, t = self.config, self.tables
        # layer 0's inputs: table rows summed batch-first, then turned feature-major
        rows = state["rows"]
        if cfg.lookback:
            codes = np.asarray(lookback, dtype=np.int64)
            if codes.ndim == 2:
                codes = codes[:, 0] + 2 * codes[:, 1]
            _take(self.inputs, 4 * np.asarray(tokens) + codes, rows)
        else:
            _take(self.inputs, tokens, rows)
        if self.events:
            rows += t["delta"][deltas]
        if labels is not None:
            rows += labels
        if feel_in is not None:
            rows += np.dot(feel_in, self.feel_w)
        if bar_ago is not None:
            more = state["more"]
            rows += _take(self.inputs, self.ago_at[0] + bar_ago[:, 0], more)
            rows += _take(self.inputs, self.ago_at[1] + bar_ago[:, 1], more)
        if extra is None and (cfg.position_embedding or cfg.counter_bits):
            extra = self.schedule(index, next_position)
        return self._logits(self._advance(state, rows, extra), bar_ago, bias)

    def step_codes(self, state: dict, codes: np.ndarray, extra: np.ndarray | None = None,
                   feel_in: np.ndarray | None = None, bar_ago: np.ndarray | None = None,
                   context: np.ndarray | None = None, bias: np.ndarray | None = None
                   ) -> np.ndarray:
        """:meth:`step` with layer 0's inputs given as rows of ``inputs`` to sum, ``codes``
        (k, B): the token's row (``4 * token + lookback code`` with lookback flags), the
        bar-ago tokens' rows (``ago_at[i] + token``, vocabulary size: none) and the struck
        drums' feel rows (``feel_at + ((class * 2 + quantity) * bins + bin)``) in any order
        and number (or ``feel_in``: (B, 2C) the input values in (class, quantity) order);
        ``extra``: a :meth:`schedule` row; ``bar_ago``: as in :meth:`step` (batch 1: also
        ``((a1, a2),)``, Python numbers), for the copy gates; ``context``: (B, 2) the running
        feel (``feel_context`` models); ``bias``: as in :meth:`step`."""
        rows = state["rows"]
        if (self.config.cell == "gru" and codes.shape[1] > 1 and self.kernels() is not None
                and (extra is None or extra.ndim == 1)):
            # the products alone here; the kernel sums the rows in _advance, as below
            feel = _NONE if feel_in is None else np.dot(feel_in, self.feel_w_by_class)
            ctx = _NONE if context is None else np.dot(context, self.context_w)
            return self._logits(self._advance(state, rows, extra, (codes, feel, ctx)), bar_ago,
                                bias)
        np.add.reduce(self.inputs.take(codes, 0, None, "clip"), 0, None, rows)
        if feel_in is not None:
            rows += np.dot(feel_in, self.feel_w_by_class)
        if context is not None:
            rows += np.dot(context, self.context_w)
        return self._logits(self._advance(state, rows, extra), bar_ago, bias)

    def _advance(self, state: dict, rows: np.ndarray, extra: np.ndarray | None,
                 gathered: tuple | None = None) -> np.ndarray:
        """The recurrent layers and the head from layer 0's input ``rows`` (B, G) (and
        ``extra``, one row for the batch or (B, G)); the head's output (rows, B).
        ``gathered``: (codes, feel, context) of :meth:`step_codes` for a compiled GRU batch,
        whose kernel sums layer 0's input rows itself (``rows`` unused)."""
        cfg, H = self.config, self.config.hidden
        gates = state["gates"]
        gru = cfg.cell == "gru"
        if extra is not None and (extra.ndim == 2 or not gru):
            rows += extra
            extra = None
        # a batch's GRU elementwise work in kernels (layer 0's inputs transposed there too)
        kernels = self.kernels() if gru and len(rows) > 1 else None
        if gru and kernels is None:  # the h part comes in _cell
            if extra is None:
                np.copyto(gates, rows.T)
            else:  # one step's row for the whole batch, added while transposing
                np.add(rows.T, extra[:, None], out=gates)
        elif not gru:
            np.dot(self.fused[0], state["xh"][0], out=gates)
            gates += rows.T
        for layer in range(cfg.layers):
            if layer and gru:
                np.dot(self.gru_x[layer], state["xh"][layer - 1], out=gates)
            elif layer:
                np.dot(self.fused[layer], state["xh"][layer], out=gates)
            if kernels is not None:
                h_out = self._gru_compiled(state, layer, kernels, rows if layer == 0 else None,
                                           extra, gathered if layer == 0 else None)
            else:
                h_out = self._cell(state, layer)
            if layer + 1 < cfg.layers and not gru:
                state["xh"][layer + 1][:H] = h_out
        if cfg.attention or cfg.dense:
            top = state["xh"][-1][-H - 1:-1]
            if cfg.attention:
                top = self._attend(state, top)
            if cfg.dense:
                pre = state["pre"]
                pre[:-1] = top
                np.maximum(np.dot(self.dense, pre), 0, out=state["top"][:-1])
            else:
                state["top"][:-1] = top
            top = state["top"]
        else:  # [h, 1] already sits at the end of the buffer
            top = state["xh"][-1][-H - 1:]
        head = state["head"] = np.dot(self.head, top)
        return head

    def _logits(self, head: np.ndarray, bar_ago: np.ndarray | None,
                bias: np.ndarray | None = None) -> np.ndarray:
        """The logits (B, V) in a head output, plus the label ``bias`` ((V,) or (B, V)) if
        given; with copy gates (the two rows after the token logits), each gate added to the
        logit of its bar-ago token ("none", id V, lands on a gate row, dropped)."""
        if bias is not None:
            head[:self.n_out] += bias.T if bias.ndim == 2 else bias[:, None]
        if bar_ago is None or not self.copies:
            return head[:self.n_logits].T
        V, B = self.n_out, head.shape[1]
        if B == 1:  # Python numbers: a third of the fancy indexing's time
            one, two = bar_ago[0]
            h = head[:, 0]
            if self.has_copy:  # as below, no copy of the gates needed
                h[one] += h[V]
                h[two] += h[V + 1]
            if self.has_drum_copy:
                at, signs = self.drum_row, self.signs
                gate = head[at:at + 2 * len(signs[0]), 0]
                weight = gate[0::2] * signs[one]
                weight += gate[1::2] * signs[two]
                h[:V] += np.dot(self.token_signs, weight)
            return head[:self.n_logits].T
        # per drum: each step's score gains the gates of the drums it agrees on with bars 1
        # and 2 back, less those it disagrees on (signs +-1; none before the track)
        kernels = self.kernels()
        if kernels is not None:
            weight = np.empty((self.signs.shape[1], B), np.float32)
            kernels.copy_gates(head, V, np.ascontiguousarray(bar_ago, np.int64), self.has_copy,
                               self.drum_row, self.signs, weight)
        else:
            ago = bar_ago.T  # (2, B)
            if self.has_copy:  # flat indices into the (rows, B) head: one fancy add per gate
                flat = head.reshape(-1)
                index = ago * B
                index += np.arange(B)
                # no copy of the gates needed: "none" lands on gate 0's row, which the first
                # add reads whole before it writes, and gate 1's row is never written
                flat[index[0]] += head[V]
                flat[index[1]] += head[V + 1]
            if self.has_drum_copy:  # gate rows drum by drum, (C, 2, B), one take of signs
                at, C = self.drum_row, self.signs.shape[1]
                both = head[at:at + 2 * C].reshape(C, 2, B) * self.signs.T.take(ago, 1)
                weight = np.add(both[:, 0], both[:, 1])
        if self.has_drum_copy:
            head[:V] += np.dot(self.token_signs, weight)
        return head[:self.n_logits].T

    def _gru_compiled(self, state: dict, layer: int, kernels, rows: np.ndarray | None,
                      extra: np.ndarray | None, gathered: tuple | None) -> np.ndarray:
        """:meth:`_cell` of a GRU layer for a batch, its elementwise work in three kernels
        between the two tanh calls (the same arithmetic in the same order); layer 0 takes
        its inputs ``rows`` (B, G) (or ``gathered``, see :meth:`_advance`) and ``extra``
        (G,) here, transposed as they are added."""
        H = self.config.hidden
        xh, h, rz, _, _, _, n, _ = state["views"][layer]
        gates, gh = state["gates"], state["gh"]
        np.dot(self.fused[layer], xh, out=gh)  # W_h h + biases
        if layer:  # the input part is in ``gates`` already
            kernels.gru_add_h(gates, gh, H)
        else:  # given rows: row b is its own table row
            table, codes, feel, context = (
                (self.inputs, *gathered) if gathered is not None else
                (rows, np.arange(len(rows)).reshape(1, -1), _NONE, _NONE))
            kernels.gru_inputs(gates, table, codes, feel, context,
                               _NONE_ROW if extra is None else extra, gh, H)
        np.tanh(rz, out=rz)
        kernels.gru_candidate(gates, gh, H)
        np.tanh(n, out=n)
        kernels.gru_update(h, gates, H)
        return h

    def _cell(self, state: dict, layer: int) -> np.ndarray:
        """Update layer ``layer``'s h (and c) in place from its pre-activations (the state's
        ``gates``)."""
        views = state["views"][layer]
        cell = self.config.cell
        if cell == "rnn":
            _, h = views
            np.tanh(state["gates"], out=h)
            return h
        if cell == "gru":
            xh, h, rz, gh_rz, r, z, n, hn = views
            np.dot(self.fused[layer], xh, out=state["gh"])  # W_h h + biases
            rz += gh_rz
            np.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            hn *= r
            n += hn
            np.tanh(n, out=n)
            # h' = n + z * (h - n)
            h -= n
            h *= z
            h += n
            return h
        _, h, sig, i, f, o, g, c, tmp = views
        np.tanh(state["gates"], out=state["gates"])
        sig *= 0.5
        sig += 0.5
        c *= f
        np.multiply(i, g, out=tmp)
        c += tmp
        np.tanh(c, out=tmp)
        np.multiply(o, tmp, out=h)
        return h

    def _attend(self, state: dict, top: np.ndarray) -> np.ndarray:
        """Dot-product attention over the previous N top-layer outputs (see LocalAttention);
        ``top`` and the result are feature-major (H, B)."""
        H = self.config.hidden
        top = top.T
        query = top @ self.att_q
        scores = np.einsum("bh,bnh->bn", query, state["keys"])
        scores = np.where(state["valid"], scores, -np.inf)
        peak = np.maximum(scores.max(axis=1, keepdims=True), 0.0)  # the null slot scores 0
        weights = np.exp(scores - peak)
        weights /= weights.sum(axis=1, keepdims=True) + np.exp(-peak)
        context = np.einsum("bn,bnh->bh", weights, state["values"])
        slot = state["slot"]
        state["keys"][:, slot] = top @ self.att_k
        state["values"][:, slot] = top
        state["valid"][:, slot] = True
        state["slot"] = (slot + 1) % self.config.attention
        att_in = state["att_in"]
        att_in[:, :H] = top
        att_in[:, H:2 * H] = context
        return np.tanh(att_in @ self.att_out).T
