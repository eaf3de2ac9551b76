"""The drum language model in PyTorch: embedding -> RNN/GRU/LSTM stack -> (attention) -> head.

One module serves every cell type and both encodings. For ``events`` it reads a drum and a
delta per step and has two output heads whose cross-entropies are summed (RNN Drummer).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from drumrnn.model.feel import feel_layout
from drumrnn.model.model_config import ModelConfig, Vocabulary
from drumrnn.model.tracks import drum_signs

_RNN = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


@dataclass
class Batch:
    """One training window for B parallel streams of T steps.

    ``inputs``/``targets``: (B, T) token ids (events: drum ids; ``delta_*`` the delta ids).
    ``index``: (B, T) each input step's index in its track (binary counters use index + 1).
    ``next_position``: (B, T) the target step's position in its bar.
    ``lookback``: (B, T, 2) float flags. ``mask``: (B, T) 1 where the target is real.
    ``reset``: (B,) 1 where a stream starts a new track (its carried state is dropped).
    ``labels``: (B, T, 3) label ids. ``feel_inputs``: (B, T, 2C) the input step's feel;
    ``velocity_targets`` / ``offset_targets``: (B, T, C) bins of the target step's struck
    classes, -1 where silent (see :mod:`drumrnn.model.feel`). ``bar_ago``: (B, T, 2) the
    tokens one and two bars before each target (vocabulary size: none).
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor
    reset: torch.Tensor
    index: torch.Tensor | None = None
    next_position: torch.Tensor | None = None
    lookback: torch.Tensor | None = None
    delta_inputs: torch.Tensor | None = None
    delta_targets: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    feel_inputs: torch.Tensor | None = None
    velocity_targets: torch.Tensor | None = None
    offset_targets: torch.Tensor | None = None
    bar_ago: torch.Tensor | None = None


class LocalAttention(nn.Module):
    """Dot-product attention of each output over the previous N outputs of the top layer.

    Magenta's drum_kit attends over its last 32 outputs inside the cell; attending over the
    RNN's outputs after the stack keeps the fast fused RNN kernels and gives each step the
    same view of its recent past. A zero "null" slot lets a step attend to nothing.
    """

    def __init__(self, hidden: int, length: int):
        super().__init__()
        self.length = length
        self.query = nn.Linear(hidden, hidden, bias=False)
        self.key = nn.Linear(hidden, hidden, bias=False)
        self.out = nn.Linear(2 * hidden, hidden)

    def forward(self, outputs: torch.Tensor, memory: torch.Tensor, valid: torch.Tensor):
        """``outputs`` (B, T, H); ``memory`` (B, N, H) previous outputs, ``valid`` (B, N) bool.

        Returns the combined outputs (B, T, H) and the new (memory, valid).
        """
        B, T, H = outputs.shape
        N = self.length
        history = torch.cat([memory, outputs], dim=1)  # (B, N + T, H)
        ok = torch.cat([valid, torch.ones(B, T, dtype=torch.bool, device=outputs.device)], 1)
        scores = torch.bmm(self.query(outputs), self.key(history).transpose(1, 2)) / H ** 0.5
        # output t (at history position N + t) sees positions N + t - N .. N + t - 1
        j = torch.arange(N + T, device=outputs.device)
        t = torch.arange(T, device=outputs.device)[:, None] + N
        band = (j[None, :] >= t - N) & (j[None, :] < t)
        allowed = band[None] & ok[:, None, :]
        scores = scores.masked_fill(~allowed, float("-inf"))
        null = torch.zeros(B, T, 1, device=outputs.device, dtype=scores.dtype)
        weights = torch.softmax(torch.cat([scores, null], dim=2), dim=2)[..., :-1]
        context = torch.bmm(weights, history)
        combined = torch.tanh(self.out(torch.cat([outputs, context], dim=2)))
        return combined, history[:, -N:], ok[:, -N:]


class DrumLM(nn.Module):
    """Next-token drum language model; see :class:`ModelConfig` for the options."""

    def __init__(self, config: ModelConfig, vocab: Vocabulary):
        super().__init__()
        self.config, self.vocab = config, vocab
        events = vocab.encoding == "events"
        n_in = vocab.n_drums if events else vocab.size
        size = 0
        if config.embedding:
            self.embed = nn.Embedding(n_in, config.embedding)
            size += config.embedding
            if events:
                self.embed_delta = nn.Embedding(len(vocab.deltas), config.embedding)
                size += config.embedding
        else:
            size += n_in + (len(vocab.deltas) if events else 0)
        if config.position_embedding:
            self.embed_position = nn.Embedding(64, config.position_embedding)
            size += config.position_embedding
        size += config.counter_bits + (2 if config.lookback else 0)
        if config.labels:
            if len(vocab.label_sizes) != 3:
                raise ValueError("a model that reads labels needs the vocabulary's label sizes")
            self.embed_labels = nn.ModuleList(nn.Embedding(n, config.labels)
                                              for n in vocab.label_sizes)
            size += 3 * config.labels
        n_classes = vocab.n_classes
        quantities, groups = feel_layout(vocab.encoding, n_classes)
        if config.feel:
            size += quantities * groups + (2 if config.feel_context else 0)
        if config.bar_ago:
            size += 2 * config.embedding
        self.input_size = size
        self.rnn = _RNN[config.cell](size, config.hidden, config.layers, batch_first=True,
                                     dropout=config.dropout if config.layers > 1 else 0.0)
        self.attention = LocalAttention(config.hidden, config.attention) if config.attention else None
        self.drop = nn.Dropout(config.dropout)
        width = config.hidden
        if config.dense:
            self.dense = nn.Sequential(nn.Linear(width, config.dense), nn.BatchNorm1d(config.dense),
                                       nn.ReLU(), nn.Dropout(config.dense_dropout))
            width = config.dense
        else:
            self.dense = None
        self.head = nn.Linear(width, n_in)
        if config.label_bias:  # starts neutral, as the copy gates do
            self.label_bias = nn.ModuleList(nn.Embedding(n, n_in) for n in vocab.label_sizes)
            for bias in self.label_bias:
                nn.init.zeros_(bias.weight)
        self.delta_head = nn.Linear(width, len(vocab.deltas)) if events else None
        if config.bar_copy:  # starts neutral: the gates add nothing until trained
            self.copy_gate = nn.Linear(width, 2)
            nn.init.zeros_(self.copy_gate.weight)
            nn.init.zeros_(self.copy_gate.bias)
        if config.drum_copy:
            self.drum_gate = nn.Linear(width, 2 * n_classes)
            nn.init.zeros_(self.drum_gate.weight)
            nn.init.zeros_(self.drum_gate.bias)
            self.register_buffer("signs", torch.from_numpy(drum_signs(vocab)), persistent=False)
        if config.feel:
            # the feel of the step just predicted: from the RNN output and the drums struck
            self.feel_hidden = nn.Linear(width, config.feel)
            self.feel_drums = nn.Linear(n_in if events else n_classes, config.feel, bias=False)
            self.feel_out = nn.Linear(config.feel, quantities * groups * config.feel_bins)
        #: (velocity, offset) logits (B, T, C, bins) of the last forward with feel targets
        self.feel_logits: tuple[torch.Tensor, torch.Tensor] | None = None

    # -- state ------------------------------------------------------------------------------
    def initial_state(self, batch: int, device=None) -> dict:
        """Zero recurrent state (and empty attention memory) for ``batch`` streams."""
        h = torch.zeros(self.config.layers, batch, self.config.hidden, device=device)
        state = {"h": h}
        if self.config.cell == "lstm":
            state["c"] = torch.zeros_like(h)
        if self.attention is not None:
            state["memory"] = torch.zeros(batch, self.config.attention, self.config.hidden,
                                          device=device)
            state["valid"] = torch.zeros(batch, self.config.attention, dtype=torch.bool,
                                         device=device)
        return state

    @staticmethod
    def reset_state(state: dict, reset: torch.Tensor) -> dict:
        """Zero the state of streams where ``reset`` (B,) is true."""
        keep = (~reset.bool()).to(state["h"].dtype)
        out = {"h": state["h"] * keep[None, :, None]}
        if "c" in state:
            out["c"] = state["c"] * keep[None, :, None]
        if "memory" in state:
            out["memory"] = state["memory"] * keep[:, None, None]
            out["valid"] = state["valid"] & ~reset.bool()[:, None]
        return out

    # -- forward ----------------------------------------------------------------------------
    def features(self, batch: Batch) -> torch.Tensor:
        """The RNN's input vectors (B, T, input_size) for a batch."""
        parts = []
        cfg, vocab = self.config, self.vocab
        if cfg.embedding:
            parts.append(self.embed(batch.inputs))
            if vocab.encoding == "events":
                parts.append(self.embed_delta(batch.delta_inputs))
        else:
            n_in = vocab.n_drums if vocab.encoding == "events" else vocab.size
            parts.append(F.one_hot(batch.inputs, n_in).float())
            if vocab.encoding == "events":
                parts.append(F.one_hot(batch.delta_inputs, len(vocab.deltas)).float())
        if cfg.position_embedding:
            parts.append(self.embed_position(batch.next_position.clamp(0, 63)))
        if cfg.counter_bits:
            n = (batch.index + 1)[..., None]
            bits = (n >> torch.arange(cfg.counter_bits, device=n.device)) & 1
            parts.append(bits.float() * 2 - 1)
        if cfg.lookback:
            parts.append(batch.lookback)
        if cfg.labels:
            parts += [embed(batch.labels[..., k]) for k, embed in enumerate(self.embed_labels)]
        if cfg.feel:
            parts.append(batch.feel_inputs)
        if cfg.bar_ago:  # the token embedding, and zeros for "before the track"
            table = torch.cat([self.embed.weight, self.embed.weight.new_zeros(1, cfg.embedding)])
            parts += [F.embedding(batch.bar_ago[..., k], table) for k in (0, 1)]
        return torch.cat(parts, dim=-1)

    def feel(self, out: torch.Tensor, tokens: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Velocity and offset logits (B, T, C, bins) of the struck drums of ``tokens``
        (B, T), from the head's inputs ``out`` (B, T, W) that predicted them. Events: the
        velocity logits (B, T, 1, bins) of each event's drum, and no offsets."""
        vocab, bins = self.vocab, self.config.feel_bins
        quantities, groups = feel_layout(vocab.encoding, vocab.n_classes)
        if vocab.encoding == "events":
            drums = F.one_hot(tokens, vocab.n_drums).float()
        else:
            C = vocab.n_classes
            drums = ((tokens[..., None] >> torch.arange(C, device=tokens.device)) & 1).float()
            if vocab.bar_token >= 0:
                drums = drums * (tokens != vocab.bar_token)[..., None]
        hidden = torch.relu(self.feel_hidden(out) + self.feel_drums(drums))
        logits = self.feel_out(hidden).reshape(*tokens.shape, quantities, groups, bins)
        return logits[..., 0, :, :], logits[..., 1, :, :] if quantities == 2 else None

    def forward(self, batch: Batch, state: dict) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
        """Logits for every step: (B, T, V) and, for events, delta logits (B, T, D); new state."""
        state = self.reset_state(state, batch.reset)
        x = self.features(batch)
        rnn_state = (state["h"], state["c"]) if self.config.cell == "lstm" else state["h"]
        out, rnn_state = self.rnn(x, rnn_state)
        new_state = ({"h": rnn_state[0], "c": rnn_state[1]} if self.config.cell == "lstm"
                     else {"h": rnn_state})
        if self.attention is not None:
            out, new_state["memory"], new_state["valid"] = self.attention(
                out, state["memory"], state["valid"])
        out = self.drop(out)
        if self.dense is not None:
            B, T, H = out.shape
            out = self.dense(out.reshape(B * T, H)).reshape(B, T, -1)
        logits = self.head(out)
        if self.config.label_bias:
            for k, bias in enumerate(self.label_bias):
                logits = logits + bias(batch.labels[..., k])
        if self.config.bar_copy:  # gate k onto the token k + 1 bars back; index V = none
            V = logits.shape[-1]
            logits = F.pad(logits, (0, 1)).scatter_add(
                -1, batch.bar_ago, self.copy_gate(out))[..., :V]
        if self.config.drum_copy:  # gate (k, c) times the agreement with bar k on drum c
            gates = self.drum_gate(out).unflatten(-1, (2, -1))  # (B, T, 2, C)
            weight = (gates * self.signs[batch.bar_ago]).sum(-2)  # (B, T, C)
            logits = logits + weight @ self.signs[:logits.shape[-1]].T
        self.feel_logits = (self.feel(out, batch.targets)
                            if self.config.feel and batch.velocity_targets is not None else None)
        delta_logits = self.delta_head(out) if self.delta_head is not None else None
        return logits, delta_logits, new_state


def detach_state(state: dict) -> dict:
    """The state cut from the autograd graph (truncated backprop through time)."""
    return {k: v.detach() for k, v in state.items()}


def feel_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Mean cross-entropy (nats) of velocity plus offset over the struck drums of the last
    forward's targets (0 for a model without feel heads)."""
    model = getattr(model, "module", model)  # a DistributedDataParallel wrapper
    if model.feel_logits is None:
        return torch.zeros(())
    velocity, offset = model.feel_logits
    struck = batch.velocity_targets >= 0
    if not struck.any():
        return velocity.sum() * 0.0
    v = F.cross_entropy(velocity[struck], batch.velocity_targets[struck])
    if offset is None:  # events: velocities only
        return v
    return v + F.cross_entropy(offset[struck], batch.offset_targets[struck])
