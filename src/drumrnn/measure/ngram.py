"""An n-gram baseline over step tokens, NumPy only: the floor the RNN drummers should beat.

:class:`NGramModel` predicts a step's token (the set of drums struck there) from the n-1
tokens before it and the step's position in the bar, with counts from a prepared dataset's
training split smoothed by interpolated absolute discounting. It scores a split with the same
metrics as the RNN's evaluation, picks its order on the validation split, generates patterns,
and stores itself as plain arrays (an ``.npz`` without pickle).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drumrnn.core.atomic import atomic_path
from drumrnn.core.errors import DrumrnnError
from drumrnn.data.dataset import Dataset, load_dataset
from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import Kit, get_kit
from drumrnn.data.steps import step_layout
from drumrnn.data.timing import TimeMap
from drumrnn.generation.generate import DrumGenerator, GenerateConfig, perform_steps
from drumrnn.model.figures import figures
from drumrnn.model.tracks import vocabulary_of

FORMAT = "drumrnn-ngram"
FORMAT_VERSION = 1
#: Lowest discount: a zero discount would leave unseen tokens with zero probability.
MIN_DISCOUNT = 0.05
#: Distinct contexts turned into dense (rows, V) distributions at once when scoring.
CHUNK = 2048


@dataclass
class _Level:
    """Counts of one backoff level: contexts (position and k previous tokens) and what follows.

    ``contexts``: sorted int64 keys; a context's id is its index. Level 0's key is the
    position; level k's is ``id_(k-1) * (V + 1) + token k steps back`` (V = the start symbol).
    ``pairs``: sorted int64 keys ``context id * V + token``; ``counts``: how often each.
    """

    contexts: np.ndarray
    pairs: np.ndarray
    counts: np.ndarray
    discount: float
    vocab_size: int
    total: np.ndarray = field(init=False)  # c(h): tokens seen after each context
    types: np.ndarray = field(init=False)  # N1+(h .): distinct tokens seen after it
    first: np.ndarray = field(init=False)  # index of each context's first pair

    def __post_init__(self) -> None:
        owner = self.pairs // self.vocab_size
        self.total = np.bincount(owner, weights=self.counts, minlength=len(self.contexts))
        self.types = np.bincount(owner, minlength=len(self.contexts))
        self.first = np.concatenate([[0], np.cumsum(self.types)[:-1]]).astype(np.int64)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Context id of each key, -1 where the context was never seen."""
        index = np.searchsorted(self.contexts, keys)
        found = index < len(self.contexts)
        found[found] = self.contexts[index[found]] == keys[found]
        return np.where(found, index, -1)


class NGramModel:
    """A bar-position-aware n-gram model of step tokens.

    The context of a step is its position q in the bar and the k = n-1 tokens before it,
    nearest first (before a track's start: a start symbol, so track openings are learned).
    Level k of the backoff chain uses (q, k previous tokens); level 0 uses q alone. With
    interpolated absolute discounting (Ney, Essen & Kneser 1994; Chen & Goodman 1998, "An
    empirical study of smoothing techniques for language modeling", TR-10-98, section 2.6)::

        p_k(w | q, h) = max(c(q,h,w) - D_k, 0) / c(q,h)
                        + D_k * N1+(q,h .) / c(q,h) * p_(k-1)(w | q, h')
        p_(-1)(w) = 1 / V

    where h' is h without its farthest token, c counts training tokens and N1+(q,h .) is the
    number of distinct tokens seen after (q, h); a context never seen uses p_(k-1) unchanged.
    With 0 < D_k <= 1 every seen token keeps c - D_k >= 0, the mass taken from them,
    D_k * N1+ / c, goes to the lower level, so each distribution sums to 1 over the whole
    vocabulary and gives every token more than 0. By default D_k = n1 / (n1 + 2 n2) of the
    level's count-of-counts (Ney et al.'s estimate), kept within [MIN_DISCOUNT, 1].

    Build one with :meth:`fit` or :meth:`fit_best`; ``selection`` holds the validation
    metrics of each order tried by :meth:`fit_best`.
    """

    def __init__(self, levels: list[_Level], vocab_size: int, steps_per_bar: int,
                 bar_token: int = -1, selection: dict[int, dict[str, float]] | None = None):
        self.levels = levels
        self.vocab_size = vocab_size
        self.start = vocab_size  # the start symbol: one past the vocabulary
        self.steps_per_bar = steps_per_bar
        self.bar_token = bar_token
        self.selection = selection or {}

    @property
    def order(self) -> int:
        return len(self.levels)

    @property
    def discounts(self) -> list[float]:
        return [level.discount for level in self.levels]

    # -- training ---------------------------------------------------------------------------
    @classmethod
    def fit(cls, dataset: Dataset | str | Path, order: int = 3, discount: float | None = None,
            split: str = "train") -> NGramModel:
        """Count the tokens of ``split`` of a prepared steps dataset.

        Parameters
        ----------
        dataset : Dataset or path of a prepared dataset folder (steps encoding)
        order : int
            n: each step is predicted from the n-1 tokens before it (and its bar position).
        discount : float in (0, 1] or None
            The same D at every level; None estimates each level's D from its counts.
        split : str
            The split to count.
        """
        dataset = _steps_dataset(dataset)
        if order < 1:
            raise DrumrnnError(f"the n-gram order must be at least 1, got {order}")
        if discount is not None and not 0 < discount <= 1:
            raise DrumrnnError(f"the discount must lie in (0, 1], got {discount}")
        vocab = vocabulary_of(dataset)
        V = vocab.size
        tokens, positions, starts = _arrays(dataset.split(split).arrays, V, f"the {split} split")
        previous = _previous(tokens, starts, order - 1, V)
        levels: list[_Level] = []
        ids = np.zeros(len(tokens), dtype=np.int64)
        for k in range(order):
            keys = positions if k == 0 else ids * (V + 1) + previous[:, k - 1]
            contexts, ids = np.unique(keys, return_inverse=True)
            # the first token of each track is counted too (with start-symbol context): it
            # teaches the model how tracks begin, which generation starts from
            pairs, counts = np.unique(ids * V + tokens, return_counts=True)
            levels.append(_Level(contexts, pairs, counts, _discount(counts, discount), V))
        return cls(levels, V, vocab.steps_per_bar, vocab.bar_token)

    @classmethod
    def fit_best(cls, dataset: Dataset | str | Path, orders: Sequence[int] = (1, 2, 3, 4, 5, 6),
                 discount: float | None = None, split: str = "train",
                 validation: str = "validation") -> NGramModel:
        """The order of ``orders`` with the lowest loss on ``validation``, counted on ``split``.

        A model of order n is the first n levels of one of a higher order (each level's counts
        and discount depend on that level alone), so the highest order is counted once and
        cut down. The returned model's ``selection`` maps each order to its validation metrics.
        """
        dataset = _steps_dataset(dataset)
        if not orders:
            raise DrumrnnError("give at least one n-gram order to choose from")
        full = cls.fit(dataset, max(orders), discount, split)
        arrays = dataset.split(validation).arrays
        _arrays(arrays, full.vocab_size, f"the {validation} split")  # an error naming the split
        scores = {n: full._cut(n).nll(arrays) for n in sorted(set(orders))}
        best = min(scores, key=lambda n: scores[n]["loss"])
        model = full._cut(best)
        model.selection = scores
        return model

    def _cut(self, order: int) -> NGramModel:
        if order < 1:
            raise DrumrnnError(f"the n-gram order must be at least 1, got {order}")
        return NGramModel(self.levels[:order], self.vocab_size, self.steps_per_bar, self.bar_token)

    # -- prediction -------------------------------------------------------------------------
    def _context_ids(self, previous: np.ndarray, positions: np.ndarray) -> list[np.ndarray]:
        """Context id at each level for rows of previous tokens (m, order-1), nearest first,
        and positions (m,); -1 from the first level whose context was never seen."""
        ids = [self.levels[0].lookup(positions)]
        for k, level in enumerate(self.levels[1:], start=1):
            known = ids[-1] >= 0
            found = level.lookup(np.where(known, ids[-1], 0) * (self.vocab_size + 1)
                                 + previous[:, k - 1])
            ids.append(np.where(known, found, -1))
        return ids

    def _distributions(self, ids: list[np.ndarray]) -> np.ndarray:
        """Full distributions (m, V), float64, of the contexts given by their level ids."""
        V = self.vocab_size
        p = np.full((len(ids[0]), V), 1.0 / V)
        for level, h in zip(self.levels, ids):
            rows = np.flatnonzero(h >= 0)
            h = h[rows]
            total = level.total[h]
            p[rows] *= (level.discount * level.types[h] / total)[:, None]
            # every (row, token) seen after the row's context: consecutive pairs of the context
            n = level.types[h]
            owner = np.repeat(np.arange(len(rows)), n)
            pair = np.repeat(level.first[h] - np.cumsum(n) + n, n) + np.arange(n.sum())
            p[rows[owner], level.pairs[pair] % V] += (level.counts[pair] - level.discount) / total[owner]
        return p

    def _target_probabilities(self, ids: list[np.ndarray], targets: np.ndarray) -> np.ndarray:
        """p(target | context) per row (m,), without building full distributions."""
        V = self.vocab_size
        p = np.full(len(targets), 1.0 / V)
        for level, h in zip(self.levels, ids):
            known = h >= 0
            safe = np.where(known, h, 0)
            keys = safe * V + targets
            index = np.minimum(np.searchsorted(level.pairs, keys), len(level.pairs) - 1)
            count = np.where(level.pairs[index] == keys, level.counts[index], 0)
            total = np.maximum(level.total[safe], 1)
            mixed = (np.maximum(count - level.discount, 0)
                     + level.discount * level.types[safe] * p) / total
            p = np.where(known, mixed, p)
        return p

    def probabilities(self, context_tokens: Sequence[int] | np.ndarray, position: int) -> np.ndarray:
        """The distribution of the next step's token.

        Parameters
        ----------
        context_tokens : ints, shape (k,)
            The tokens before the step, oldest first; only the last n-1 are used. Fewer than
            n-1 means the track starts there (an empty context: the track's first step).
        position : int
            The step's position in its bar.

        Returns
        -------
        float64 array, shape (V,): sums to 1, every entry above 0.
        """
        context = np.asarray(context_tokens, dtype=np.int64).ravel()
        if context.size and (context.min() < 0 or context.max() >= self.vocab_size):
            raise DrumrnnError(f"context tokens must lie in 0..{self.vocab_size - 1}")
        width = self.order - 1
        # nearest first; the start symbol where the context is shorter than n-1
        previous = np.full((1, width), self.start, dtype=np.int64)
        recent = context[::-1][:width]
        previous[0, :len(recent)] = recent
        ids = self._context_ids(previous, np.array([position], dtype=np.int64))
        return self._distributions(ids)[0]

    def nll(self, split_arrays: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Score a split: every token but the first of each track, as the RNN evaluation does.

        Parameters
        ----------
        split_arrays : mapping with ``tokens`` (n,), ``positions`` (n,), ``track_starts``
            (n_tracks + 1,), e.g. ``load_dataset(path).split("validation").arrays``.

        Returns
        -------
        dict: ``total_nll`` (nats), ``tokens`` (targets scored), ``loss`` (nats per token),
        ``perplexity``, ``accuracy`` (argmax), ``event_accuracy`` (targets with hits, BAR
        tokens left out) and ``no_event_accuracy`` (silent targets), as
        :func:`drumrnn.model.figures.figures` names them.
        """
        tokens, positions, starts = _arrays(split_arrays, self.vocab_size, "the split")
        target = _index_in_track(starts) > 0
        if not target.any():
            raise DrumrnnError("no track of the split is longer than one step: nothing to score")
        ids = self._context_ids(_previous(tokens, starts, self.order - 1, self.vocab_size)[target],
                                positions[target])
        targets = tokens[target]
        total = float(-np.log(self._target_probabilities(ids, targets)).sum())
        # A row's deepest known context fixes its whole distribution: build each distinct one
        # once for the argmax (far fewer than the rows at low orders).
        size = max(len(level.contexts) for level in self.levels) + 1
        deepest = np.zeros(len(targets), dtype=np.int64)
        for k, h in enumerate(ids):
            deepest = np.where(h >= 0, (k + 1) * size + h, deepest)
        _, first, inverse = np.unique(deepest, return_index=True, return_inverse=True)
        best = np.empty(len(first), dtype=np.int64)
        for a in range(0, len(first), CHUNK):
            rows = first[a:a + CHUNK]
            best[a:a + CHUNK] = self._distributions([h[rows] for h in ids]).argmax(axis=1)
        right = best[inverse] == targets
        silent = targets == 0
        event = ~silent & (targets != self.bar_token)
        sums = {"nll": total, "count": len(targets), "right": int(right.sum()),
                "event": int(event.sum()), "event_right": int(right[event].sum()),
                "silent": int(silent.sum()), "silent_right": int(right[silent].sum())}
        return {"total_nll": total, "tokens": len(targets), **figures("steps", sums)}

    # -- generation -------------------------------------------------------------------------
    def generate(self, bars: int, num: int = 1, seed=None, temperature: float = 1.0,
                 steps_per_bar: int | None = None) -> np.ndarray:
        """Sample ``num`` token sequences of ``bars`` 4/4 bars, step by step.

        The first step is drawn at position 0 with an empty context (how training tracks
        begin). Models with BAR tokens get one before every bar and never sample it elsewhere.

        Parameters
        ----------
        bars, num : int
        seed : int, None or a numpy SeedSequence
            Same seed, same sequences.
        temperature : float
            Above 0; each distribution is raised to the power 1 / temperature and renormalized.
        steps_per_bar : int or None
            Steps in a bar; None: the dataset's 4/4 bar (16 for 16th-note steps).

        Returns
        -------
        int64 array, shape (num, bars * steps_per_bar), or (num, bars * (steps_per_bar + 1))
        with BAR tokens.
        """
        if bars < 1 or num < 1:
            raise DrumrnnError(f"bars and num must be at least 1, got {bars} and {num}")
        if not temperature > 0:
            raise DrumrnnError(f"temperature must be above 0, got {temperature}")
        is_bar, position = step_layout(bars, steps_per_bar or self.steps_per_bar,
                                       self.bar_token >= 0)
        rng = np.random.default_rng(seed)
        width = self.order - 1
        # the start symbol fills the context before the first step
        history = np.full((num, width + len(position)), self.start, dtype=np.int64)
        for s in range(len(position)):
            if is_bar[s]:
                history[:, width + s] = self.bar_token
                continue
            previous = history[:, s:s + width][:, ::-1]
            p = self._distributions(self._context_ids(previous, np.full(num, position[s])))
            if self.bar_token >= 0:
                p[:, self.bar_token] = 0.0
            p = p ** (1.0 / temperature)
            cumulative = np.cumsum(p, axis=1)
            draw = rng.random(num) * cumulative[:, -1]
            history[:, width + s] = np.minimum((cumulative <= draw[:, None]).sum(axis=1),
                                               self.vocab_size - 1)
        return history[:, width:]

    # -- storage ----------------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for ``np.savez``: ``config`` (a JSON string) and three per level."""
        config = {"format": FORMAT, "format_version": FORMAT_VERSION, "order": self.order,
                  "vocab_size": self.vocab_size, "steps_per_bar": self.steps_per_bar,
                  "bar_token": self.bar_token, "discounts": self.discounts,
                  "selection": {str(n): m for n, m in self.selection.items()}}
        arrays = {"config": np.array(json.dumps(config))}
        for k, level in enumerate(self.levels):
            arrays.update({f"contexts_{k}": level.contexts, f"pairs_{k}": level.pairs,
                           f"counts_{k}": level.counts})
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> NGramModel:
        """The model that :meth:`to_arrays` gave ``arrays``."""
        try:
            config = json.loads(str(arrays["config"]))
            if config.get("format") != FORMAT or config.get("format_version") != FORMAT_VERSION:
                raise ValueError("not a drumrnn n-gram model, or another version")
            V = int(config["vocab_size"])
            levels = [_Level(np.asarray(arrays[f"contexts_{k}"]), np.asarray(arrays[f"pairs_{k}"]),
                             np.asarray(arrays[f"counts_{k}"]), float(d), V)
                      for k, d in enumerate(config["discounts"])]
        except (KeyError, ValueError, TypeError) as exc:
            raise DrumrnnError(f"not a readable n-gram model ({exc})") from None
        return cls(levels, V, int(config["steps_per_bar"]), int(config["bar_token"]),
                   {int(n): m for n, m in config["selection"].items()})

    def save(self, path: str | Path) -> Path:
        """Write the model to an ``.npz`` file (no pickle)."""
        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **self.to_arrays())
        return path

    @classmethod
    def load(cls, path: str | Path) -> NGramModel:
        """Read a model written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls.from_arrays({k: data[k] for k in data.files})
        except DrumrnnError:
            raise
        except Exception as exc:  # damaged archives raise many types
            text = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise DrumrnnError(f"{path}: not a readable n-gram model ({text})") from None


def ngram_patterns(model: NGramModel, config: GenerateConfig
                   ) -> tuple[Kit, list[DrumHits], TimeMap]:
    """``(kit, patterns, time_map)``: ``config.num`` patterns of the n-gram baseline, so that
    it can be listened to as the networks are; variation k of a seed is its own stream.

    The file keeps no kit: its 9 classes are played with Magenta's 9-piece kit (the
    ``roland`` kit differs only in which GM notes some classes read). Hits are on the grid at the profile-less
    velocity; ``config.swing`` applies; sampling uses ``config.sampling.temperature``.
    """
    config = config.resolved()
    n_classes = (model.vocab_size - (model.bar_token >= 0)).bit_length() - 1
    kit = get_kit("9")
    if n_classes != kit.n_classes:
        raise DrumrnnError(f"only 9-class n-gram models can be played (this one has "
                           f"{n_classes} classes)")
    if config.sampling.beam_size or config.sampling.top_k or config.sampling.top_p < 1 \
            or config.sampling.greedy:
        raise DrumrnnError("the n-gram baseline samples with --temperature only")
    steps_per_quarter = model.steps_per_bar // 4
    time_map = DrumGenerator.time_map(config)
    num, den = time_map.time_signatures[0][1:]
    if (num * model.steps_per_bar) % den:
        raise DrumrnnError(f"a {num}/{den} bar is not a whole number of the model's steps")
    per_bar = num * model.steps_per_bar // den
    patterns = []
    for k in range(config.variation, config.variation + config.num):
        stream = np.random.SeedSequence(config.seed, spawn_key=(k,))
        tokens = model.generate(config.bars, 1, stream, config.sampling.temperature,
                                steps_per_bar=per_bar)[0]
        positions = np.tile(np.arange(per_bar), config.bars)
        quarters, pitches, velocities = perform_steps(
            tokens, kit, {}, steps_per_quarter, np.random.default_rng(stream), humanize=False,
            positions=positions, swing=config.swing)
        patterns.append(DrumHits(quarters, pitches, velocities, time_map,
                                 end_quarter=config.bars * per_bar / steps_per_quarter))
    return kit, patterns, time_map


def _steps_dataset(dataset: Dataset | str | Path) -> Dataset:
    if not isinstance(dataset, Dataset):
        dataset = load_dataset(dataset)
    if dataset.encoding.encoding != "steps":
        raise DrumrnnError(f"n-gram models read the steps encoding; {dataset.path} holds the "
                           f"{dataset.encoding.encoding} encoding")
    return dataset


def _arrays(arrays: Mapping[str, np.ndarray], vocab_size: int,
            name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tokens, positions, track_starts) as int64, checked."""
    if "tokens" not in arrays or len(arrays["tokens"]) == 0:
        raise DrumrnnError(f"{name} has no step tokens (empty, or not the steps encoding)")
    tokens = np.asarray(arrays["tokens"], dtype=np.int64)
    if tokens.min() < 0 or tokens.max() >= vocab_size:
        raise DrumrnnError(f"{name} has tokens beyond the vocabulary of {vocab_size}")
    return (tokens, np.asarray(arrays["positions"], dtype=np.int64),
            np.asarray(arrays["track_starts"], dtype=np.int64))


def _index_in_track(starts: np.ndarray) -> np.ndarray:
    lengths = np.diff(starts)
    return np.arange(starts[-1]) - np.repeat(starts[:-1], lengths)


def _previous(tokens: np.ndarray, starts: np.ndarray, width: int, start: int) -> np.ndarray:
    """(n, width) int64: column k-1 holds the token k steps before each token, or ``start``
    where that lies before the token's track (contexts never cross tracks)."""
    index = _index_in_track(starts)
    previous = np.full((len(tokens), width), start, dtype=np.int64)
    for k in range(1, width + 1):
        previous[k:, k - 1] = tokens[:-k]
        previous[index < k, k - 1] = start
    return previous


def _discount(counts: np.ndarray, fixed: float | None) -> float:
    """``fixed``, or Ney et al.'s D = n1 / (n1 + 2 n2) from the counts of counts."""
    if fixed is not None:
        return float(fixed)
    n1, n2 = int((counts == 1).sum()), int((counts == 2).sum())
    return float(np.clip(n1 / max(n1 + 2 * n2, 1), MIN_DISCOUNT, 1.0))
