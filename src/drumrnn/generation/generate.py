"""Generate drum patterns with a model file, NumPy only (torch is never imported).

The flow: a primer (or a first step drawn from how training pieces begin) -> tokens sampled
step by step by :class:`drumrnn.generation.runtime.NumpyDrumModel` -> drum hits with velocities (and,
for steps, the drummers' average microtiming) from the model's learned profile. Models that
read labels or have feel heads take :mod:`drumrnn.generation.conditioned`'s path instead:
the first step predicted from the labels, each hit's velocity and timing sampled from the
feel heads.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.encoding import EncodingConfig
from drumrnn.data.events import EventsConfig, encode_events
from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import Kit, kit_from_dict
from drumrnn.data.steps import (
    StepsConfig,
    bar_token,
    encode_steps,
    hits_from_step_tokens,
    meter_layout,
)
from drumrnn.data.timing import DEFAULT_QPM, TimeMap
from drumrnn.generation.conditioned import (
    Conditions,
    StepRun,
    bar_of_slots,
    beam_steps,
    feel_values,
    label_schedule,
    run_steps,
)
from drumrnn.generation.runtime import NumpyDrumModel
from drumrnn.generation.sampling import (
    SamplingConfig,
    VariationRngs,
    beam_extend,
    sample,
    variation_rng,
)
from drumrnn.model.feel import feel_inputs, offset_bins, sample_values, velocity_bins
from drumrnn.model.labels import LabelVocab
from drumrnn.model.model_file import ModelFile, load_model_file
from drumrnn.model.profile import split_profile
from drumrnn.model.tracks import delta_ids

MAX_BARS = 10_000
BUNDLED_MODEL = "default.npz"
NOISE_BLOCK = 32  # steps of sampling noise drawn at once (1 MB at batch 16)


def bundled_model_path() -> Path:
    """The pretrained model shipped inside the package."""
    return Path(str(resources.files("drumrnn") / "models" / BUNDLED_MODEL))


METERS = "e.g. 4/4, 3/4, 6/8, 5/4, 7/8"


def parse_time_signature(text: str) -> tuple[int, int]:
    """``"7/8"`` -> ``(7, 8)``; a :class:`DrumrnnError` for anything else."""
    num, sep, den = str(text).partition("/")
    if not (sep and num.strip().isdigit() and den.strip().isdigit()):
        raise DrumrnnError(f"a time signature looks like N/D ({METERS}), got {text!r}")
    return check_time_signature((int(num), int(den)))


def check_time_signature(signature) -> tuple[int, int]:
    num, den = (int(x) for x in signature)
    if not 1 <= num <= 32 or den not in (1, 2, 4, 8, 16, 32):
        raise DrumrnnError(f"time signature {num}/{den}: the numerator must lie in 1..32 and "
                           "the denominator be 1, 2, 4, 8, 16 or 32")
    return num, den


@dataclass(frozen=True)
class GenerateConfig:
    """What to generate.

    Attributes
    ----------
    bars : int
        Length of each pattern in bars, primer included (1..10,000).
    tempo : float or None
        Quarter notes per minute written to the MIDI file (and the tempo label of a model
        that reads labels); None: the primer's tempo, or 120.
    num : int
        Variations, generated together as one batch.
    seed : int or None
        Same seed, same patterns; None draws one (:meth:`resolved` fixes it first).
    random_state : float
        Start from a random state: uniform noise in +-scale (RNN Drummer: 0.1); 0 = zero state.
    humanize : bool
        Off: every hit on the grid (``--quantized``). On: the learned timing (feel heads),
        or the profile's average microtiming for models without them.
    sampling : SamplingConfig
    style : str or None
        Style label (models that read labels; None = unknown).
    kind : str or None
        ``beat`` (default), ``fill`` or None (unknown).
    fill_every : int
        Bars N, 2N, ... are played with the fill label, the others with ``kind``; 0 = off.
    feel : float
        0..1: scales the learned timing offsets and the velocities' deviations from the
        profile's mean for the drum and bar position (0 = on the grid at those means).
    time_signature : (int, int) or None
        The meter of unprimed patterns, e.g. (3, 4); None: the primer's meter, or 4/4.
    swing : float
        50..75 percent: every second 16th is delayed so that it starts this far into its
        8th note (50 = straight, 66.7 = triplet swing), on top of the learned feel.
    variation : int
        The number of the first pattern: pattern k is variation ``variation + k`` of the seed,
        its own random stream, so variation 3 of seed 7 is the same alone or in a batch.
    """

    bars: int = 8
    tempo: float | None = None
    num: int = 1
    seed: int | None = None
    random_state: float = 0.0
    humanize: bool = True
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    style: str | None = None
    kind: str | None = "beat"
    fill_every: int = 0
    feel: float = 1.0
    time_signature: tuple[int, int] | None = None
    swing: float = 50.0
    variation: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.feel <= 1:
            raise DrumrnnError(f"feel must lie in 0..1, got {self.feel:g}")
        if self.kind not in ("beat", "fill", None):
            raise DrumrnnError(f"kind must be beat or fill, got {self.kind!r}")
        if self.fill_every < 0:
            raise DrumrnnError(f"fill-every must be at least 1 bar, got {self.fill_every}")
        if not 1 <= self.bars <= MAX_BARS:
            raise DrumrnnError(f"bars must lie in 1..{MAX_BARS}, got {self.bars}")
        if self.tempo is not None and not 10 <= self.tempo <= 400:
            raise DrumrnnError(f"tempo must lie in 10..400 bpm, got {self.tempo:g}")
        if self.num < 1:
            raise DrumrnnError(f"num must be at least 1, got {self.num}")
        if self.variation < 1:
            raise DrumrnnError(f"variations are numbered from 1, got {self.variation}")
        if self.seed is not None and not 0 <= self.seed < 2 ** 63:
            raise DrumrnnError(f"seed must lie in 0..2**63-1, got {self.seed}")
        if self.random_state < 0:
            raise DrumrnnError(f"random state scale must not be negative, got {self.random_state}")
        if not 50 <= self.swing <= 75:
            raise DrumrnnError(f"swing must lie in 50..75 percent, got {self.swing:g}")
        if self.time_signature is not None:
            object.__setattr__(self, "time_signature", check_time_signature(self.time_signature))
        beam = self.sampling.beam_size
        last = self.variation + self.num - 1
        if beam and last > beam:
            raise DrumrnnError(f"beam search returns at most --beam-size ({beam}) patterns; "
                               f"got variation {last}" if self.variation > 1 else
                               f"beam search returns at most --beam-size ({beam}) patterns; "
                               f"got --num {self.num}")

    def resolved(self) -> GenerateConfig:
        """This config with a seed: its own, or one drawn from the operating system."""
        if self.seed is not None:
            return self
        return dataclasses.replace(self, seed=secrets.randbelow(2 ** 31))

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        if self.time_signature is not None:
            data["time_signature"] = f"{self.time_signature[0]}/{self.time_signature[1]}"
        return data


class DrumGenerator:
    """A model file ready to generate: ``DrumGenerator.load().generate(GenerateConfig())``."""

    def __init__(self, model: ModelFile, compiled: bool | None = None):
        self.model = model
        self.runtime = NumpyDrumModel(model, compiled)  # None: numba where it imports
        _, self.profile = split_profile(model.weights)
        self.kit: Kit = kit_from_dict(model.header["kit"])
        encoding = EncodingConfig.from_dict(model.header["encoding"])
        self.encoding = encoding.encoding
        self.steps_config: StepsConfig = encoding.steps
        self.events_config: EventsConfig = encoding.events
        self.labels: LabelVocab | None = None
        if self.runtime.has_labels:
            if "labels" not in model.header:
                raise DrumrnnError(f"{model.path}: the model reads labels but its header "
                                   "has no label vocabulary")
            self.labels = LabelVocab.from_dict(model.header["labels"])

    @property
    def conditioned(self) -> bool:
        """Whether the model reads labels or bar-ago tokens or has feel heads."""
        rt = self.runtime
        return rt.has_labels or rt.has_feel or rt.has_bar_ago

    @classmethod
    def load(cls, path: str | Path | None = None, compiled: bool | None = None) -> DrumGenerator:
        """Load a model file; the bundled pretrained model when ``path`` is None.
        ``compiled``: batches' per-row work in numba kernels (the same output; faster once
        numba has loaded, which takes about 0.6 s of a process); None: where numba imports
        (``drumrnn[fast]``)."""
        if path is None:
            path = bundled_model_path()
            if not path.is_file():
                raise DrumrnnError("this installation has no bundled model; pass --model FILE")
        return cls(load_model_file(path), compiled)

    # -- public -----------------------------------------------------------------------------
    def check_labels(self, config: GenerateConfig) -> None:
        """Raise a one-line :class:`DrumrnnError` unless this model can play ``config``'s
        labels (an unknown style name lists the known ones)."""
        if self.labels is None and (config.style or config.fill_every):
            raise DrumrnnError("this model reads no labels: --style and --fill-every need a "
                               "model trained with labels (drumrnn info lists them)")
        if self.labels is not None:
            self.labels.ids(config.style, config.kind, config.tempo, strict=True)

    def generate(self, config: GenerateConfig = GenerateConfig(),
                 primer: DrumHits | None = None) -> list[DrumHits]:
        """``config.num`` patterns of ``config.bars`` bars, continuing ``primer`` if given.

        Pattern k is variation ``config.variation + k`` of ``config.seed``, drawn from its own
        random stream. The patterns keep the primer's tempo (unless ``config.tempo``) and
        meter (unprimed: ``config.time_signature``, default 4/4).
        """
        config = config.resolved()
        if primer is not None and len(primer) == 0:
            raise DrumrnnError("the primer has no drum hits")
        time_map = self.time_map(config, primer)
        self.check_labels(config)
        if self.conditioned and self.encoding == "steps":
            return self._generate_conditioned(config, primer, time_map)
        if self.encoding == "events":
            if config.sampling.beam_size:
                raise DrumrnnError("beam search works with steps models, not events models")
            rngs = VariationRngs.of(config.seed, config.variation, config.num)
            return self._generate_events(config, primer, rngs, time_map)
        return self._generate_steps(config, primer, time_map)

    @staticmethod
    def time_map(config: GenerateConfig, primer: DrumHits | None = None) -> TimeMap:
        """The tempo and meter of the patterns ``config`` asks for (after ``primer``)."""
        if primer is None:
            signature = config.time_signature or (4, 4)
            return TimeMap(((0.0, float(config.tempo or DEFAULT_QPM)),),
                           ((0.0, *signature),))
        tm = primer.time_map
        if config.time_signature is not None and \
                tuple(s[1:] for s in tm.time_signatures) != (config.time_signature,):
            raise DrumrnnError("the primer sets the meter; a time signature is for unprimed "
                               "generation")
        tempos = ((0.0, float(config.tempo)),) if config.tempo else tm.tempos
        return TimeMap(tempos, tm.time_signatures)

    def bar_starts(self, time_map: TimeMap, bars: int) -> np.ndarray:
        """Grid steps where each of ``bars`` bars starts, and the end: (bars + 1,) int64."""
        spq = self.steps_config.steps_per_quarter
        for _, num, den in time_map.time_signatures:
            if (num * 4 * spq) % den:
                raise DrumrnnError(f"a {num}/{den} bar is not a whole number of steps of a "
                                   f"model with {spq} steps per quarter")
        return np.round(bar_quarters(time_map, bars) * spq).astype(np.int64)

    # -- steps ------------------------------------------------------------------------------
    def _primer_tokens(self, primer: DrumHits, starts: np.ndarray) -> tuple[np.ndarray, int]:
        sequence = encode_steps(primer, self.kit, self.steps_config)
        if len(sequence.hit_steps) == 0:
            raise DrumrnnError(f"the primer has no drum of kit {self.kit.name}")
        primer_bars = int(np.searchsorted(starts, sequence.n_steps, side="left"))
        if primer_bars >= len(starts):
            raise DrumrnnError(f"the primer is longer than {len(starts) - 1} bars; ask for "
                               "more --bars")
        return sequence.tokens, primer_bars

    def _generate_conditioned(self, config: GenerateConfig, primer: DrumHits | None,
                              time_map: TimeMap) -> list[DrumHits]:
        rt, kit = self.runtime, self.kit
        spq = self.steps_config.steps_per_quarter
        bar_tokens, bar = self.steps_config.bar_tokens, bar_token(kit)
        starts = self.bar_starts(time_map, config.bars)
        is_bar, position, bar_length = meter_layout(np.diff(starts), bar_tokens)
        beam = config.sampling.beam_size
        num = config.variation + config.num - 1 if beam else config.num
        lead = 0 if primer is not None else 1  # a silent step before the piece
        n_slots, C, bins = lead + len(is_bar), kit.n_classes, rt.config.feel_bins
        tokens = np.zeros((num, n_slots), dtype=np.int64)
        vel = np.full((num, n_slots, C), -1, dtype=np.int8)
        off = vel.copy()
        primer_bars, n_fixed = 0, 1
        if primer is not None:
            fixed, primer_bars = self._primer_tokens(primer, starts)
            sequence = encode_steps(primer, kit, self.steps_config)
            n_fixed = len(fixed)
            tokens[:, :n_fixed] = fixed
            slots = np.flatnonzero(fixed != bar)[sequence.hit_steps]
            vel[:, slots, sequence.hit_classes] = velocity_bins(sequence.hit_velocities, bins)
            off[:, slots, sequence.hit_classes] = offset_bins(sequence.hit_offsets, bins)
        labels = None
        if self.labels is not None:
            conditions = Conditions(config.style, config.kind, time_map.qpm, config.fill_every)
            of_slot = label_schedule(self.labels, conditions,
                                     bar_of_slots(is_bar, position, bar_tokens))
            of_slot = np.r_[of_slot[:lead], of_slot]
            labels = np.r_[of_slot[1:], of_slot[-1:]]  # slot s reads the labels of s + 1
        last_bar = int(bar_length[0]) if len(bar_length) else rt.vocab.steps_per_bar
        run = StepRun(tokens, vel, off, np.r_[np.zeros(lead, bool), is_bar],
                      np.r_[np.full(lead, last_bar - 1), position], np.arange(n_slots) - lead,
                      labels, n_fixed, n_fixed,
                      bar_length=np.r_[np.full(lead, last_bar), bar_length])
        if beam:
            # beam search ranks its results: variation k is the k-th likeliest
            run = beam_steps(rt, run, config.sampling, bar, bar_tokens, num,
                             variation_rng(config.seed, 1), config.random_state)
            run = dataclasses.replace(
                run, tokens=run.tokens[config.variation - 1:],
                velocity_bins=run.velocity_bins[config.variation - 1:],
                offset_bins=run.offset_bins[config.variation - 1:])
        rngs = VariationRngs.of(config.seed, config.variation, config.num)
        run_steps(rt, run, config.sampling, bar, bar_tokens, rngs, config.random_state)
        step_positions = position[~is_bar]
        skip = starts[primer_bars]
        patterns = []
        for row, rng in enumerate(rngs.generators):
            toks = run.tokens[row, lead:]
            if rt.has_feel:
                steps, classes, velocity, offset = feel_values(
                    toks, run.velocity_bins[row, lead:], run.offset_bins[row, lead:], kit, bar,
                    bins, rng)
                keep = steps >= skip
                steps, classes = steps[keep], classes[keep]
                mean = profile_means(self.profile, classes, step_positions[steps])
                velocity = mean + config.feel * (velocity[keep] - mean)
                offset = config.feel * offset[keep] if config.humanize else np.zeros(len(steps))
                quarters = np.maximum((steps + offset) / spq, 0.0) + _swing(steps, spq,
                                                                             config.swing)
                velocities = np.clip(np.round(velocity), 1, 127).astype(np.int64)
                pitches = kit.output_pitches[classes]
            else:
                quarters, pitches, velocities = perform_steps(
                    toks, kit, self.profile, spq, rng, config.humanize, skip_steps=skip,
                    feel=config.feel, positions=step_positions, swing=config.swing)
            patterns.append(_with_primer(primer, kit, quarters, pitches, velocities, time_map,
                                         starts[-1] / spq))
        return patterns

    def _generate_steps(self, config: GenerateConfig, primer: DrumHits | None,
                        time_map: TimeMap) -> list[DrumHits]:
        starts = self.bar_starts(time_map, config.bars)
        is_bar, position, bar_length = meter_layout(np.diff(starts),
                                                    self.steps_config.bar_tokens)
        beam = config.sampling.beam_size
        # beam search ranks its results: variation k is the k-th likeliest, all found at once
        first = 1 if beam else config.variation
        num = config.variation + config.num - 1 if beam else config.num
        rngs = VariationRngs.of(config.seed, first, num)
        n_slots = len(is_bar)
        bar = bar_token(self.kit)
        tokens = np.zeros((num, n_slots), dtype=np.int64)
        if primer is not None:
            fixed, primer_bars = self._primer_tokens(primer, starts)
            n_fixed = len(fixed)
            tokens[:, :n_fixed] = fixed
        else:  # the first step as training pieces begin (a silent one without a profile)
            primer_bars = 0
            n_fixed = 2 if is_bar[0] else 1
            tokens[:, 0] = bar
            first_tokens = self.profile.get("first_tokens")
            tokens[:, n_fixed - 1] = (
                rngs.choice(len(first_tokens), size=num, p=first_tokens / first_tokens.sum())
                if first_tokens is not None and first_tokens.sum() > 0 else 0)
        inputs = self._inputs(position, bar_length)
        if beam:
            tokens = self._beam(tokens, n_fixed, is_bar, inputs, config, rngs[0])
            tokens = tokens[config.variation - 1:]
            rngs = VariationRngs.of(config.seed, config.variation, config.num)
        else:
            self._sample_steps(tokens, n_fixed, is_bar, inputs, config, rngs)
        step_positions = position[~is_bar]
        return [self._steps_to_hits(row, config, rng, time_map, primer, starts[primer_bars],
                                    step_positions, starts[-1])
                for row, rng in zip(tokens, rngs.generators)]

    def _inputs(self, position: np.ndarray, bar_length: np.ndarray):
        """A function giving step ``s``'s runtime inputs besides the token (for the batch).

        Positions and the lookback distance (one and two bars) follow the meter."""
        rt = self.runtime
        slots = np.arange(len(position))
        schedule = rt.schedule(slots, np.r_[position[1:], 0])
        lookback = rt.config.lookback

        def inputs(tokens: np.ndarray, s: int) -> dict:
            out = {"extra": None if schedule is None else schedule[s]}
            if lookback:
                L = int(bar_length[s])
                now = tokens[:, s]
                code = (now == tokens[:, s - L]) if s >= L else np.zeros(len(tokens), bool)
                if s >= 2 * L:
                    code = code + 2 * (now == tokens[:, s - 2 * L])
                out["lookback"] = code
            return out

        return inputs

    def _sample_steps(self, tokens, n_fixed, is_bar, inputs, config, rngs) -> None:
        rt, sampling = self.runtime, config.sampling
        state = rt.start(len(tokens), config.random_state, rngs)
        bar = bar_token(self.kit)
        # plain temperature sampling: Gumbel-max with the noise drawn in blocks of steps into
        # one reused buffer (one call per variation instead of one per step; no fresh pages
        # to fault in), scaled by the temperature (argmax(z / T + g) = argmax(z + T g)).
        # Each variation draws its own rows from its own stream, batch first: a row's block is
        # one draw, and the step's scores take the argmax along contiguous rows.
        fast = not (sampling.greedy or sampling.top_k or sampling.top_p < 1)
        block = min(NOISE_BLOCK, tokens.shape[1])
        noise = np.empty((len(tokens), block, rt.n_out) if fast else 0, np.float32)
        scores = np.empty((len(tokens), rt.n_out) if fast else 0, np.float32)
        for s in range(tokens.shape[1] - 1):
            if fast and (s == 0 or (s + 1) % block == 0):
                rngs.gumbel(noise)
                if sampling.temperature != 1:
                    noise *= np.float32(sampling.temperature)
            logits = rt.step(state, tokens[:, s], **inputs(tokens, s))
            if s + 1 < n_fixed:
                continue
            if is_bar[s + 1]:
                tokens[:, s + 1] = bar
                continue
            if self.steps_config.bar_tokens:
                logits[:, bar] = -np.inf
            if fast:
                np.add(logits, noise[:, (s + 1) % block], out=scores)
                tokens[:, s + 1] = scores.argmax(axis=1)
            else:
                tokens[:, s + 1] = sample(logits, sampling, rngs)

    def _beam(self, tokens, n_fixed, is_bar, inputs, config, rng) -> np.ndarray:
        """Beam search: the ``beam_size`` most likely continuations found, likeliest first."""
        rt, sampling = self.runtime, config.sampling
        beam, branch = sampling.beam_size, sampling.branch_factor
        seqs = np.repeat(tokens[:1], beam, axis=0)
        scores = np.full(beam, -np.inf)
        scores[0] = 0.0  # all beams start identical: grow from one
        state = rt.start(beam, config.random_state, rng)
        bar = bar_token(self.kit)
        for s in range(seqs.shape[1] - 1):
            logits = rt.step(state, seqs[:, s], **inputs(seqs, s))
            if s + 1 < n_fixed or is_bar[s + 1]:
                if s + 1 >= n_fixed:
                    seqs[:, s + 1] = bar
                continue
            if self.steps_config.bar_tokens:
                logits[:, bar] = -np.inf
            seqs, scores, rows = beam_extend(logits, scores, seqs, s + 1, beam, branch,
                                             sampling.temperature)
            state = rt.select(state, rows)
        return seqs[np.argsort(-scores, kind="stable")[: len(tokens)]]

    def _steps_to_hits(self, tokens, config, rng, time_map, primer, skip_steps, positions,
                       end_step) -> DrumHits:
        spq = self.steps_config.steps_per_quarter
        quarters, pitches, velocities = perform_steps(
            tokens, self.kit, self.profile, spq, rng, config.humanize, skip_steps=skip_steps,
            feel=config.feel, positions=positions, swing=config.swing)
        return _with_primer(primer, self.kit, quarters, pitches, velocities, time_map,
                            end_step / spq)

    # -- events -----------------------------------------------------------------------------
    def _generate_events(self, config: GenerateConfig, primer: DrumHits | None,
                         rngs: VariationRngs, time_map: TimeMap) -> list[DrumHits]:
        rt, vocab, sampling = self.runtime, self.runtime.vocab, config.sampling
        deltas = np.asarray(vocab.deltas)
        tpq = self.events_config.ticks_per_quarter
        end_quarter = float(bar_quarters(time_map, config.bars)[-1])
        total = int(round(end_quarter * tpq))
        rest = self.kit.n_classes
        num = config.num

        if primer is not None:
            seq = encode_events(primer, self.kit, self.events_config)
            if not (seq.drums != rest).any():
                raise DrumrnnError(f"the primer has no drum of kit {self.kit.name}")
            primer_end = int(np.cumsum(seq.deltas)[-1])
            if primer_end >= total:
                raise DrumrnnError("the primer is longer than --bars")
            drums = [np.full(num, d) for d in seq.drums]
            ids = [np.full(num, i) for i in delta_ids(seq.deltas, vocab)]
            heard = [np.full(num, v) for v in seq.velocities]
        else:
            primer_end = -1
            first = self.profile.get("first_drums")
            p = first / first.sum() if first is not None and first.sum() else None
            drums = [rngs.choice(rest + 1, size=num, p=p)]
            starts_ = self.profile.get("first_deltas")
            ticks = rngs.choice(starts_, size=num) if starts_ is not None and len(starts_) \
                else np.zeros(num)
            ids = [delta_ids(np.asarray(ticks), vocab)]
            heard = None
        # a velocity head: each event's velocity bin, sampled after its drum (-1: REST)
        feel, bins = rt.has_feel, rt.config.feel_bins
        if feel and heard is None:  # the first event: the profile's velocity, row by row
            heard = [np.array([profile_velocities(
                self.profile, np.minimum(drums[0][k:k + 1], rest - 1), np.zeros(1, np.int64),
                g)[0] for k, g in enumerate(rngs.generators)])]
        vel = [np.where(d == rest, -1, velocity_bins(v, bins))
               for d, v in zip(drums, heard)] if feel else []

        def feel_in(k: int):
            return feel_inputs(vel[k][:, None], None, bins) if feel else None

        state = rt.start(num, config.random_state, rngs)
        for s in range(len(drums) - 1):  # run the primer through the network
            rt.step(state, drums[s], index=s, deltas=ids[s], feel_in=feel_in(s))
        clock = deltas[np.stack(ids)].sum(axis=0)
        limit = 64 * config.bars + len(drums)
        while clock.min() < total and len(drums) < limit:
            logits = rt.step(state, drums[-1], index=len(drums) - 1, deltas=ids[-1],
                             feel_in=feel_in(len(drums) - 1))
            drums.append(sample(logits[:, :rt.n_out], sampling, rngs))
            ids.append(sample(logits[:, rt.n_out:], sampling, rngs))
            clock = clock + deltas[ids[-1]]
            if feel:
                scores = rt.feel(state, drums[-1])[0, 0].T  # (B, bins)
                vel.append(np.where(drums[-1] == rest, -1,
                                    sample(scores, SamplingConfig(), rngs)))
        all_drums, all_ticks = np.stack(drums, 1), np.cumsum(deltas[np.stack(ids, 1)], axis=1)
        all_vel = np.stack(vel, 1) if feel else all_drums
        patterns = []
        for d, t, v, rng in zip(all_drums, all_ticks, all_vel, rngs.generators):
            keep = (d != rest) & (t < total) & (t > primer_end)
            classes, ticks = d[keep], t[keep]
            sixteenths = np.round(ticks / max(tpq // 4, 1)).astype(np.int64)
            if feel:
                velocity, _ = sample_values(v[keep], v[keep], bins, rng)
                mean = profile_means(self.profile, classes, sixteenths)
                velocity = mean + config.feel * (velocity - mean)
                velocities = np.clip(np.round(velocity), 1, 127).astype(np.int64)
            else:
                velocities = profile_velocities(self.profile, classes, sixteenths, rng,
                                                config.feel)
            quarters = ticks / tpq + swing_delay(sixteenths, config.swing) * (
                np.abs(ticks / tpq * 4 - sixteenths) < 0.25)
            patterns.append(_with_primer(primer, self.kit, quarters,
                                         self.kit.output_pitches[classes], velocities, time_map,
                                         end_quarter))
        return patterns


def bar_quarters(time_map: TimeMap, bars: int) -> np.ndarray:
    """Where each of ``bars`` bars starts, and the end, in quarters: (bars + 1,) float64."""
    longest = max(num * 4 / den for _, num, den in time_map.time_signatures)
    return time_map.bar_starts(bars * max(longest, 4.0))[:bars + 1]


def swing_delay(sixteenths: np.ndarray, swing: float) -> np.ndarray:
    """Delay in quarters of hits on the given 16th-note steps at ``swing`` percent: every
    second 16th starts ``swing`` percent into its 8th note instead of half way."""
    return np.where(np.asarray(sixteenths) % 2 == 1, (swing - 50.0) / 100 * 0.5, 0.0)


def profile_means(profile: dict, classes: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The profile's mean velocity of each hit (by class and bar position), or 100."""
    mean = profile.get("velocity_mean")
    if mean is None:
        return np.full(len(classes), 100.0)
    return mean[classes, positions % mean.shape[1]].astype(np.float64)


def profile_velocities(profile: dict, classes: np.ndarray, positions: np.ndarray,
                       rng: np.random.Generator, feel: float = 1.0) -> np.ndarray:
    """Velocities for hits of ``classes`` at bar ``positions`` (16th steps): the profile's
    mean plus ``feel`` times half its spread of noise, or 100 without a profile."""
    mean = profile.get("velocity_mean")
    if mean is None:
        return np.full(len(classes), 100, dtype=np.int64)
    P = mean.shape[1]
    cell = (classes, positions % P)
    v = mean[cell] + feel * 0.5 * profile["velocity_std"][cell] * rng.standard_normal(len(classes))
    return np.clip(np.round(v), 1, 127).astype(np.int64)


def perform_steps(tokens: np.ndarray, kit: Kit, profile: dict, steps_per_quarter: int,
                  rng: np.random.Generator, humanize: bool = True, skip_steps: int = 0,
                  feel: float = 1.0, positions: np.ndarray | None = None, swing: float = 50.0):
    """Turn step tokens into played hits: ``(quarters, pitches, velocities)`` arrays.

    Velocities follow the profile; with ``humanize`` each hit also moves by the profile's
    average offset for its drum and position in the bar (``positions``: each step's; default
    4/4 bars). ``feel`` scales the offsets and the velocities' noise; ``swing`` (percent)
    delays every second 16th. Hits before ``skip_steps`` are left out.
    """
    steps, classes = hits_from_step_tokens(tokens, kit)
    keep = steps >= skip_steps
    steps, classes = steps[keep], classes[keep]
    in_bar = (steps % (4 * steps_per_quarter) if positions is None
              else np.asarray(positions)[steps])
    velocities = profile_velocities(profile, classes, in_bar, rng, feel)
    offsets = np.zeros(len(steps))
    if humanize and "offset_mean" in profile:
        offsets = feel * profile["offset_mean"][classes, in_bar % profile["offset_mean"].shape[1]]
    quarters = np.maximum((steps + offsets) / steps_per_quarter, 0.0)
    return quarters + _swing(steps, steps_per_quarter, swing), kit.output_pitches[classes], \
        velocities


def _swing(steps: np.ndarray, steps_per_quarter: int, swing: float) -> np.ndarray | float:
    """The swing delay (quarters) of hits on grid ``steps``: those on an odd 16th."""
    if swing == 50:
        return 0.0
    sixteenth = np.asarray(steps) * 4 / steps_per_quarter
    on_grid = np.isclose(sixteenth, np.round(sixteenth))
    return swing_delay(np.round(sixteenth).astype(np.int64), swing) * on_grid


def _with_primer(primer: DrumHits | None, kit: Kit, quarters, pitches, velocities,
                 time_map: TimeMap, end_quarter: float) -> DrumHits:
    """Generated hits after the primer's own hits (those of the kit), unchanged."""
    if primer is not None:
        in_kit = kit.classes_of(primer.pitches) >= 0
        quarters = np.concatenate([primer.quarters[in_kit], quarters])
        pitches = np.concatenate([primer.pitches[in_kit], pitches])
        velocities = np.concatenate([primer.velocities[in_kit], velocities])
    return DrumHits(quarters, pitches, velocities, time_map, end_quarter=end_quarter)
