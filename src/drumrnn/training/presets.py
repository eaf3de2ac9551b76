"""Named training presets: each system of the background, and drumrnn's measured default."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from drumrnn.core.errors import DrumrnnError
from drumrnn.model.model_config import ModelConfig
from drumrnn.training.train_config import TrainConfig


@dataclass(frozen=True)
class Preset:
    """A model and training configuration, and the encoding it was designed for."""

    name: str
    description: str
    encoding: str  # steps | events
    bar_tokens: bool
    model: ModelConfig
    train: TrainConfig


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("default", "drumrnn's choice by measurement: held-out likelihood per CPU minute, "
           "within the generation latency targets (1 x 192 GRU, random windows), reading "
           "style / kind / tempo labels and the tokens one and two bars back with copy gates "
           "onto them (whole steps and per drum), with feel heads (velocity and timing per "
           "hit) and the piece's running feel; keeps a snapshot of every validation "
           "(tools/pick_snapshot.py chooses one by how it plays)",
           "steps", False,
           ModelConfig("gru", layers=1, hidden=192, dropout=0.5, embedding=64,
                       position_embedding=16, counter_bits=6, lookback=True, labels=16,
                       feel=64, feel_context=True, bar_ago=True, bar_copy=True,
                       drum_copy=True),
           TrainConfig(batch=64, window=128, mode="random", optimizer="adam", lr=2e-3, clip=3.0,
                       eval_every=100, patience=12, feel_weight=0.5, snapshots=True,
                       piece_starts=0.25)),
    Preset("drummer", "RNN Drummer (Hollemans 2017): events, 1 x 200 LSTM, one-hot, BPTT 200",
           "events", False,
           ModelConfig("lstm", layers=1, hidden=200, embedding=0),
           TrainConfig(batch=32, window=200, optimizer="adam", lr=1e-3, clip=5.0, eval_every=100)),
    Preset("drums-rnn", "Magenta Drums RNN drum_kit: 3 x 256 LSTM, binary counters, attention 32",
           "steps", False,
           ModelConfig("lstm", layers=3, hidden=256, dropout=0.5, embedding=0, counter_bits=6,
                       attention=32),
           TrainConfig(batch=128, window=128, optimizer="adam", lr=1e-3, clip=3.0, eval_every=100)),
    Preset("lstmetallica", "LSTMetallica (Choi 2016): steps with BAR, 3 x 512 LSTM, dropout 0.2",
           "steps", True,
           ModelConfig("lstm", layers=3, hidden=512, dropout=0.2, embedding=128),
           TrainConfig(batch=64, window=128, optimizer="adam", lr=1e-3, clip=5.0, eval_every=100)),
    Preset("min-char-rnn", "Karpathy's min-char-rnn: 1 x 100 tanh RNN, sequence 25, Adagrad 0.1",
           "steps", False,
           ModelConfig("rnn", layers=1, hidden=100, embedding=0),
           # one 25-step window per step: validate every ~125k tokens, as the others do
           TrainConfig(batch=1, window=25, optimizer="adagrad", lr=0.1, clip=5.0,
                       clip_mode="value", eval_every=5000)),
    Preset("deep-lstm", "Keras deep-LSTM tutorial: 2 x 256 LSTM, dense 128 + batch norm, dropout 0.3",
           "steps", False,
           ModelConfig("lstm", layers=2, hidden=256, dropout=0.3, embedding=64, dense=128,
                       dense_dropout=0.3),
           TrainConfig(batch=32, window=100, mode="random", optimizer="adam", lr=1e-3, clip=0.0,
                       eval_every=300)),
)}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise DrumrnnError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None


def apply_overrides(preset: Preset, overrides: dict) -> tuple[ModelConfig, TrainConfig]:
    """The preset's configs with ``overrides`` (field name -> value) applied.

    Each name must be a field of exactly one of :class:`ModelConfig` or :class:`TrainConfig`.
    """
    model_fields = {f.name for f in dataclasses.fields(ModelConfig)}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(overrides) - model_fields - train_fields
    if unknown:
        raise DrumrnnError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    model = dataclasses.replace(preset.model, **{k: v for k, v in overrides.items()
                                                 if k in model_fields})
    train = dataclasses.replace(preset.train, **{k: v for k, v in overrides.items()
                                                 if k in train_fields})
    return model, train
