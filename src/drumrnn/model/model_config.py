"""Model configuration and vocabulary: what a drum language model is, without torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from drumrnn.core.configs import StoredConfig, check_at_least_one, check_not_negative, config_from_dict
from drumrnn.core.errors import DrumrnnError
from drumrnn.model.feel import CONTEXT_RATE

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
    labels : int
        Size of each label embedding (style, kind, tempo bucket; see
        :mod:`drumrnn.model.labels`), read at every step; 0 = no labels. Steps only.
    label_bias : bool
        Also a learned bias on the token scores for each label value (style, kind, tempo
        bucket), added at every step: the labels reach the predictions directly, not only
        through the recurrent state. Needs ``labels``.
    feel : int
        Hidden size of the feel heads (velocity and offset of each struck drum, predicted
        from the RNN output and the step's drums), which also makes the network read the
        previous step's feel; 0 = no feel heads. Steps only.
    feel_bins : int
        Bins of each velocity and offset distribution (see :mod:`drumrnn.model.feel`).
    feel_context : bool
        Also read the piece's running feel (:func:`drumrnn.model.feel.running_feel`: the
        mean velocity and offset of its recent hits), so that a piece keeps its own push,
        pull and dynamics. Needs ``feel``; steps only.
    feel_rate : float
        How far each struck step moves the running feel towards its own feel (the running
        mean's memory: a half-life of :func:`drumrnn.model.feel.half_life` struck steps; 1/32:
        22, about two bars of a groove; 1/128: 88, about a whole 8-bar piece).
    bar_ago : bool
        Read the tokens one and two bars before the step to predict (through the token
        embedding), so that repeating a bar is a matter of copying what is in view rather
        than of remembering it. Steps only, needs an embedding.
    bar_copy : bool
        A copy gate: two learned scalars from the RNN output, added to the logits of the
        tokens one and two bars back, so that holding a pattern takes one confident number
        instead of an identity map learned over the whole vocabulary. Needs ``bar_ago``.
    drum_copy : bool
        Copy gates per drum: for each drum class and each of the two bars back, a learned
        number added to the logit of every step that agrees with that bar on that drum
        (struck or not) and taken from every step that does not, so that the kick can be
        held exactly while the hi-hat varies. Needs ``bar_ago``.
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
    labels: int = 0
    label_bias: bool = False
    feel: int = 0
    feel_bins: int = 16
    feel_context: bool = False
    feel_rate: float = CONTEXT_RATE
    bar_ago: bool = False
    bar_copy: bool = False
    drum_copy: bool = False

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise DrumrnnError(f"unknown cell {self.cell!r}; choose one of {', '.join(CELLS)}")
        check_at_least_one(self, ("layers", "hidden"))
        check_not_negative(self, ("embedding", "counter_bits", "position_embedding", "attention",
                                  "dense", "labels", "feel"))
        if self.bar_ago and not self.embedding:
            raise DrumrnnError("bar_ago reads tokens through the embedding; set embedding > 0")
        if self.label_bias and not self.labels:
            raise DrumrnnError("label_bias is a bias per label value: set labels > 0")
        if self.feel_context and not self.feel:
            raise DrumrnnError("feel_context is the running mean of the feel: set feel > 0")
        if (self.bar_copy or self.drum_copy) and not self.bar_ago:
            raise DrumrnnError("bar_copy and drum_copy copy the steps bar_ago reads; set bar_ago")
        if not 0 < self.feel_rate <= 1:
            raise DrumrnnError(f"feel_rate must lie in (0, 1], got {self.feel_rate}")
        if not 2 <= self.feel_bins <= 127:
            raise DrumrnnError(f"feel_bins must lie in 2..127, got {self.feel_bins}")
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
    label_sizes : tuple of int
        Ids of each label the model reads (style, kind, tempo), unknown included; () = none.
    """

    encoding: str
    size: int = 0
    n_drums: int = 0
    deltas: tuple[int, ...] = field(default=())
    steps_per_bar: int = 16
    bar_token: int = -1
    label_sizes: tuple[int, ...] = field(default=())

    @property
    def n_classes(self) -> int:
        """Drum classes of the kit (steps: tokens are bit sets of them)."""
        if self.encoding == "events":
            return self.n_drums - 1
        top = self.bar_token if self.bar_token >= 0 else self.size
        return max(top - 1, 0).bit_length()

    @property
    def bar_slots(self) -> int:
        """steps: token slots per bar (a BAR token takes one)."""
        return self.steps_per_bar + (1 if self.bar_token >= 0 else 0)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["deltas"] = list(self.deltas)
        if self.label_sizes:
            data["label_sizes"] = list(self.label_sizes)
        else:  # files of models without labels stay as they were
            del data["label_sizes"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        data = dict(data)
        data["deltas"] = tuple(data.get("deltas", ()))
        data["label_sizes"] = tuple(data.get("label_sizes", ()))
        return config_from_dict(cls, data, "vocabulary")
