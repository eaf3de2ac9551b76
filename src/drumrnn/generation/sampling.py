"""Choosing the next token from logits: temperature, top-k, top-p, greedy, beam search."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drumrnn.core.errors import DrumrnnError

MIN_TEMPERATURE = 0.01


@dataclass(frozen=True)
class SamplingConfig:
    """How tokens are drawn.

    Attributes
    ----------
    temperature : float
        LSTMetallica's "diversity": below 1 safer and more repetitive, above 1 wilder;
        0.5-1.5 is the useful range (above ~1.5 is mostly noise).
    top_k : int
        Keep only the k most likely tokens (0 = all).
    top_p : float
        Keep the smallest set of tokens whose probability reaches p (1 = all).
    greedy : bool
        Always take the most likely token (the Keras tutorial's argmax).
    beam_size, branch_factor : int
        Beam search (Magenta): keep ``beam_size`` sequences, extend each by its
        ``branch_factor`` most likely tokens, keep the most likely; 0 = off.
    """

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    greedy: bool = False
    beam_size: int = 0
    branch_factor: int = 2

    def __post_init__(self) -> None:
        # below 0.01 the scaled logits overflow float32 (and the draw is greedy anyway)
        if not self.temperature >= MIN_TEMPERATURE:
            raise DrumrnnError(f"temperature must be at least {MIN_TEMPERATURE}, got "
                               f"{self.temperature:g} (for "
                               "always the likeliest step, use --greedy)")
        if not 0 < self.top_p <= 1:
            raise DrumrnnError(f"top-p must lie in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise DrumrnnError(f"top-k must not be negative, got {self.top_k}")
        if self.beam_size < 0 or self.branch_factor < 1:
            raise DrumrnnError("beam size must be >= 0 and branch factor >= 1")


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def filter_logits(logits: np.ndarray, config: SamplingConfig) -> np.ndarray:
    """Logits scaled by the temperature, with tokens outside top-k / top-p set to -inf."""
    z = logits / np.float32(config.temperature)
    if config.top_k and config.top_k < z.shape[-1]:
        kth = np.partition(z, -config.top_k, axis=-1)[..., -config.top_k, None]
        z = np.where(z < kth, -np.inf, z)
    if config.top_p < 1:
        order = np.argsort(-z, axis=-1)
        ranked = np.take_along_axis(z, order, axis=-1)
        probs = np.exp(log_softmax(ranked))
        before = np.cumsum(probs, axis=-1) - probs  # mass of the more likely tokens
        drop_ranked = before >= config.top_p
        drop = np.empty_like(drop_ranked)
        np.put_along_axis(drop, order, drop_ranked, axis=-1)
        z = np.where(drop, -np.inf, z)
    return z


def gumbel_noise(rng: np.random.Generator, shape: tuple[int, ...] | None = None,
                 out: np.ndarray | None = None) -> np.ndarray:
    """Standard Gumbel noise in float32 of ``shape`` or written into ``out``, computed in place
    (8x faster than ``rng.gumbel``)."""
    noise = rng.random(shape, dtype=np.float32, out=out)
    np.maximum(noise, np.float32(1e-7), out=noise)  # log(0) would give an infinite draw
    np.log(noise, out=noise)
    np.negative(noise, out=noise)
    np.log(noise, out=noise)
    np.negative(noise, out=noise)
    return noise


def variation_rng(seed: int, variation: int) -> np.random.Generator:
    """The random stream of variation ``variation`` (1, 2, ...) of ``seed``: its own stream,
    so that one variation can be made again alone. SFC64: half the cost of NumPy's default
    PCG64 for the sampling noise."""
    return np.random.Generator(np.random.SFC64(np.random.SeedSequence(seed,
                                                                      spawn_key=(variation,))))


class VariationRngs:
    """One random stream per batch row: row k's draws depend on its own stream alone, so a
    variation comes out the same whether it is generated alone or in a batch.

    Offers the few :class:`numpy.random.Generator` methods generation uses on a whole batch
    (the first axis of ``size`` is the batch)."""

    def __init__(self, generators: list[np.random.Generator]):
        self.generators = list(generators)

    @classmethod
    def of(cls, seed: int, first: int, num: int) -> VariationRngs:
        """Streams of variations ``first .. first + num - 1`` of ``seed``."""
        return cls([variation_rng(seed, first + k) for k in range(num)])

    def __len__(self) -> int:
        return len(self.generators)

    def __getitem__(self, row: int) -> np.random.Generator:
        return self.generators[row]

    def uniform(self, low: float, high: float, size: tuple[int, ...]) -> np.ndarray:
        return np.stack([g.uniform(low, high, size[1:]) for g in self.generators])

    def choice(self, a, size: int, p=None) -> np.ndarray:
        return np.array([g.choice(a, p=p) for g in self.generators])

    def random(self, out: np.ndarray) -> np.ndarray:
        """Uniforms in [0, 1) into ``out`` (float64, batch first), row k from stream k."""
        for row, g in zip(out, self.generators):
            g.random(out=row)
        return out

    def gumbel(self, out: np.ndarray) -> np.ndarray:
        """Standard Gumbel noise into ``out`` (batch first), row k from stream k."""
        for row, g in zip(out, self.generators):
            gumbel_noise(g, out=row)
        return out


def sample(logits: np.ndarray, config: SamplingConfig,
           rng: np.random.Generator | VariationRngs) -> np.ndarray:
    """One token id per row of ``logits`` (B, V); with :class:`VariationRngs`, row k draws
    from stream k."""
    if config.greedy:
        return logits.argmax(axis=-1)
    # Gumbel-max: argmax(z + Gumbel noise) is a draw from softmax(z)
    noise = (rng.gumbel(np.empty(logits.shape, np.float32)) if isinstance(rng, VariationRngs)
             else gumbel_noise(rng, logits.shape))
    return (filter_logits(logits, config) + noise).argmax(axis=-1)


def beam_extend(logits: np.ndarray, scores: np.ndarray, seqs: np.ndarray, t: int, beam: int,
                branch: int, temperature: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of beam search: every beam (a row of ``seqs``, log probability ``scores``)
    branches into its ``branch`` likeliest next tokens at step ``t``; the ``beam`` best
    candidates survive. Returns the new sequences, their scores and the beam each came from
    (for selecting the recurrent state)."""
    logp = log_softmax(logits / np.float32(temperature))
    top = np.argsort(-logp, axis=1)[:, :branch]
    cand = (scores[:, None] + np.take_along_axis(logp, top, axis=1)).ravel()
    best = np.argsort(-cand, kind="stable")[:beam]
    rows, picks = best // branch, top.ravel()[best]
    seqs = seqs[rows]
    seqs[:, t] = picks
    return seqs, cand[best], rows
