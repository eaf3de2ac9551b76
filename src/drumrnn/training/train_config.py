"""Training configuration (optimizer, windows, budget, validation), without torch."""

from __future__ import annotations

from dataclasses import dataclass

from drumrnn.core.configs import StoredConfig, check_at_least_one, check_not_negative
from drumrnn.core.errors import DrumrnnError

OPTIMIZERS = ("adam", "adagrad", "sgd")
MODES = ("stateful", "random")
CLIP_MODES = ("norm", "value")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class TrainConfig(StoredConfig):
    """How a model is trained.

    Attributes
    ----------
    batch, window : int
        Parallel streams and steps per window (truncated backprop through time).
    mode : str
        ``stateful``: consecutive windows of each track carry the hidden state (reset at
        track boundaries); ``random``: independent random windows from a zero state.
    optimizer : str
        ``adam`` (default), ``adagrad`` or ``sgd``; ``lr`` its learning rate.
    clip, clip_mode : float, str
        Gradient clipping: by global ``norm`` (default) or elementwise ``value``; 0 = off.
    weight_decay : float
    epochs, minutes, max_steps : float
        Budget: training stops at the first one reached; 0 = no limit from that one
        (with all three 0, training runs 20 epochs).
    eval_every : int
        Validation every this many optimizer steps (and at the end).
    patience : int
        Early stopping: validations without improvement before stopping; 0 = never.
    plateau_patience, plateau_factor
        Multiply the learning rate by ``plateau_factor`` after this many validations
        without improvement.
    seed : int
    threads : int
        torch CPU threads; 0 = the idle cores (shared among the processes of a torchrun).
    label_dropout : float
        Models that read labels: each label of each window is replaced by unknown with this
        probability, so that any label may be left out when generating.
    piece_starts : float
        Random windows (steps encodings; stateful windows ignore it): this share starts as
        a generated piece does, at a bar line after a silent lead step, with nothing but the
        labels to go on, so that the first bars of an unprimed piece follow its style.
    style_balance : float
        Random windows of a model that reads labels: tracks are drawn in proportion to
        their length times their style's share of the training steps to the power
        ``-style_balance``: 0 = in proportion to length, 1 = every style (unknown included)
        as often as any other, so that small styles are heard as often as rock.
    feel_weight : float
        Models with feel heads: weight of the feel loss (nats per struck drum) against the
        token loss (nats per step).
    snapshots : bool
        Also keep the model file of every scheduled validation
        (``snapshots/model-STEP.npz``), so that a checkpoint can be chosen by how it plays
        rather than by validation loss alone (``tools/pick_snapshot.py``).
    device : str
        ``auto`` (a GPU when one is visible, default), ``cpu`` or ``cuda``.
    precision : str
        Forward-pass precision: ``auto`` (bfloat16 autocast on a GPU, float32 on CPU),
        ``fp32``, ``bf16`` or ``fp16`` (GPU only, with gradient scaling).
    """

    _what = "training"

    batch: int = 64
    window: int = 128
    mode: str = "stateful"
    optimizer: str = "adam"
    lr: float = 2e-3
    clip: float = 3.0
    clip_mode: str = "norm"
    weight_decay: float = 0.0
    epochs: float = 0.0
    minutes: float = 0.0
    max_steps: int = 0
    eval_every: int = 200
    patience: int = 6
    plateau_patience: int = 2
    plateau_factor: float = 0.5
    seed: int = 0
    threads: int = 0
    label_dropout: float = 0.25
    piece_starts: float = 0.0
    style_balance: float = 0.0
    feel_weight: float = 0.2
    snapshots: bool = False
    device: str = "auto"
    precision: str = "auto"

    def __post_init__(self) -> None:
        check_at_least_one(self, ("batch", "window", "eval_every"))
        check_not_negative(self, ("epochs", "minutes", "max_steps", "clip", "weight_decay",
                                  "patience", "threads", "plateau_patience"))
        if self.lr <= 0:
            raise DrumrnnError(f"lr must be positive, got {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise DrumrnnError(f"unknown optimizer {self.optimizer!r}; choose one of "
                               f"{', '.join(OPTIMIZERS)}")
        if self.mode not in MODES:
            raise DrumrnnError(f"unknown mode {self.mode!r}; choose stateful or random")
        if self.clip_mode not in CLIP_MODES:
            raise DrumrnnError(f"clip_mode must be norm or value, got {self.clip_mode!r}")
        if not 0 <= self.label_dropout <= 1:
            raise DrumrnnError(f"label_dropout must lie in [0, 1], got {self.label_dropout}")
        if not 0 <= self.piece_starts <= 1:
            raise DrumrnnError(f"piece_starts must lie in [0, 1], got {self.piece_starts}")
        if not 0 <= self.style_balance <= 1:
            raise DrumrnnError(f"style_balance must lie in [0, 1], got {self.style_balance}")
        check_not_negative(self, ("feel_weight",))
        if self.device not in DEVICES:
            raise DrumrnnError(f"unknown device {self.device!r}; choose {', '.join(DEVICES)}")
        if self.precision not in PRECISIONS:
            raise DrumrnnError(f"unknown precision {self.precision!r}; choose "
                               f"{', '.join(PRECISIONS)}")
        if not 0 < self.plateau_factor <= 1:
            raise DrumrnnError(f"plateau_factor must lie in (0, 1], got {self.plateau_factor}")
