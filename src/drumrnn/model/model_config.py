"""Model configuration and vocabulary: what a drum language model is, without torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from drumrnn.core.configs import StoredConfig, check_at_least_one, check_not_negative, config_from_dict
from drumrnn.core.errors import DrumrnnError

CELLS = ("rnn", "gru", "lstm")


@dataclass(frozen=True)
class ModelConfig(StoredConfig):
    """A next-token language model over drum tokens.

    Attributes
    ----------
    cell : str
        ``rnn`` (tanh), ``gru`` or ``lstm``.
    layers, hidden : int
        Depth and width of the recurrent stack.
    dropout : float
        Dropout between recurrent layers and before the output head.
    embedding : int
        Input embedding size; 0 feeds one-hot tokens (min-char-rnn, Magenta).
    counter_bits : int
        Magenta's binary counters: the next step's index within the track in this many
        +-1 bits (6 in Magenta's drum_kit); 0 turns them off. Steps encoding only.
    position_embedding : int
        Size of an embedding of the next step's position within its bar; 0 = off. Steps only.
    lookback : bool
        Two flags: does this step repeat the step one bar / two bars ago. Steps only.
    attention : int
        Attend over the last N outputs of the top layer (Magenta's drum_kit: 32); 0 = off.
    dense : int
        A dense layer of this size with batch norm, ReLU and dropout before the output
        (the Keras deep-LSTM tutorial: 128); 0 = off.
    dense_dropout : float
        Dropout after the dense layer.
    """

    _what = "model"

    cell: str = "lstm"
    layers: int = 2
    hidden: int = 256
    dropout: float = 0.0
    embedding: int = 64
    counter_bits: int = 0
    position_embedding: int = 0
    lookback: bool = False
    attention: int = 0
    dense: int = 0
    dense_dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise DrumrnnError(f"unknown cell {self.cell!r}; choose one of {', '.join(CELLS)}")
        check_at_least_one(self, ("layers", "hidden"))
        check_not_negative(self, ("embedding", "counter_bits", "position_embedding", "attention",
                                  "dense"))
        for name in ("dropout", "dense_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise DrumrnnError(f"{name} must lie in [0, 1), got {getattr(self, name)}")


@dataclass(frozen=True)
class Vocabulary:
    """The token spaces a model reads and predicts.

    Attributes
    ----------
    encoding : str
        ``steps`` or ``events``.
    size : int
        steps: number of step tokens (2**n_classes, +1 with BAR tokens).
    n_drums : int
        events: kit classes + REST.
    deltas : tuple of int
        events: the delta values (ticks) the model can emit, sorted.
    steps_per_bar : int
        steps: the lookback distance (one 4/4 bar of steps).
    bar_token : int
        steps: the BAR token's id, -1 without BAR tokens.
    """

    encoding: str
    size: int = 0
    n_drums: int = 0
    deltas: tuple[int, ...] = field(default=())
    steps_per_bar: int = 16
    bar_token: int = -1

    def to_dict(self) -> dict:
        data = asdict(self)
        data["deltas"] = list(self.deltas)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        data = dict(data)
        data["deltas"] = tuple(data.get("deltas", ()))
        return config_from_dict(cls, data, "vocabulary")
