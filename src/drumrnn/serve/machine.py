"""What the drum machine's buttons do, on grids: generate, continue, regenerate bars, humanize.

A thin layer over :class:`~drumrnn.generation.generate.DrumGenerator`: a grid's bars become a
primer, the generator writes the bars after it, and the result comes back as a grid.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

import numpy as np

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.steps import quantize
from drumrnn.generation.generate import DrumGenerator, GenerateConfig, profile_velocities
from drumrnn.generation.humanize import HumanizeConfig
from drumrnn.generation.humanize import humanize as humanize_hits
from drumrnn.generation.sampling import SamplingConfig
from drumrnn.serve.grid import (
    MAX_BARS,
    OFFSET_MAX,
    Grid,
    check_meter,
    grid_to_hits,
    hits_to_grid,
)

#: Bars one generation may write (the grid itself holds up to grid.MAX_BARS).
MAX_GENERATE_BARS = 16
KINDS = ("beat", "fill")
SEED_LIMIT = 2**31
#: The meters the page offers for a new grid, the first one by default (a grid in any meter
#: whose bar is whole steps can be continued; the network was trained on 4/4).
METERS = ((4, 4), (3, 4), (2, 4), (5, 4), (6, 8), (7, 8), (12, 8))


@dataclass(frozen=True)
class Settings:
    """The controls shared by every generation request.

    ``seed`` None draws one (the result says which). ``feel`` scales the generated hits'
    offsets and their velocities' deviation from the profile's mean (0 = on the grid at the
    average velocity, 1 = as generated). ``style``, ``kind`` (``fill``) and ``fill_every``
    need a model trained with labels; ``kind`` None is unknown, and models without labels
    ignore ``beat``. ``meter``: the time signature of a new pattern (continuing or
    regenerating a grid keeps the grid's).
    """

    temperature: float = 1.0
    seed: int | None = None
    tempo: float = 120.0
    swing: float = 50.0
    style: str | None = None
    kind: str | None = "beat"
    fill_every: int = 0
    feel: float = 1.0
    meter: tuple[int, int] = (4, 4)

    def __post_init__(self) -> None:
        object.__setattr__(self, "meter", check_meter(self.meter))
        if not 0 <= self.feel <= 1:
            raise DrumrnnError(f"feel must lie in 0..1, got {self.feel:g}")
        if self.kind is not None and self.kind not in KINDS:
            raise DrumrnnError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not 0 <= self.fill_every <= MAX_GENERATE_BARS:
            raise DrumrnnError(f"fill every must lie in 0..{MAX_GENERATE_BARS} bars (0 = never)")


@dataclass(frozen=True)
class Result:
    grid: Grid
    seed: int


class DrumMachine:
    """A generator driven by grids (see the module docstring)."""

    def __init__(self, generator: DrumGenerator):
        self.generator = generator
        self.kit = generator.kit
        self.profile = generator.profile
        self.labels = generator.labels
        # humanize by the feel heads where the model has them, else by the profile
        self.feel_heads = generator.runtime.has_feel and generator.encoding == "steps"
        self.steps_per_quarter = (generator.steps_config.steps_per_quarter
                                  if generator.encoding == "steps" else 4)

    def info(self) -> dict:
        """What the page needs to know: the kit's rows, the grid, limits, what is supported."""
        labelled = self.labels is not None
        return {
            "rows": [{"name": name, "pitch": int(pitch)}
                     for name, pitch in zip(self.kit.class_names, self.kit.output_pitches)],
            "kit": self.kit.name, "encoding": self.generator.encoding,
            "steps_per_quarter": self.steps_per_quarter,
            "meters": [list(meter) for meter in METERS],
            "max_generate_bars": MAX_GENERATE_BARS, "max_grid_bars": MAX_BARS,
            "styles": list(self.labels.styles) if labelled else [],
            "supports": {"style": labelled, "kind": labelled, "fill_every": labelled,
                         "feel": True, "humanize": True, "feel_heads": self.feel_heads},
        }

    # -- buttons ----------------------------------------------------------------------------
    def generate(self, settings: Settings, bars: int, seed_bars: Grid | None = None) -> Result:
        """A new pattern of ``bars`` bars in the settings' meter; with ``seed_bars`` it opens
        with them, unchanged, in their meter."""
        _check_bars(bars, MAX_GENERATE_BARS, "bars")
        if seed_bars is None:
            check_meter(settings.meter, self.steps_per_quarter)  # before generating
            seed = _seed(settings.seed)
            return Result(self._sample(settings, seed, bars), seed)
        if seed_bars.bars >= bars:
            raise DrumrnnError(f"the {seed_bars.bars} seed bars leave nothing to generate in "
                               f"{bars} bars; ask for more bars")
        return self._after(seed_bars, bars - seed_bars.bars, settings)

    def continue_(self, grid: Grid, add_bars: int, settings: Settings) -> Result:
        """``grid`` followed by ``add_bars`` new bars that continue it (in its meter)."""
        _check_bars(add_bars, MAX_GENERATE_BARS, "bars to add")
        if grid.bars + add_bars > MAX_BARS:
            raise DrumrnnError(f"a grid holds at most {MAX_BARS} bars; {grid.bars} + "
                               f"{add_bars} is more")
        return self._after(grid, add_bars, settings)

    def regenerate(self, grid: Grid, start: int, end: int, settings: Settings) -> Result:
        """``grid`` with bars ``start`` .. ``end - 1`` (0-based) generated anew, continuing the
        bars before them; the bars after them are kept."""
        if not 0 <= start < end <= grid.bars:
            raise DrumrnnError(f"bars {start + 1}..{end} are not within the grid's 1..{grid.bars}")
        _check_bars(end - start, MAX_GENERATE_BARS, "bars to regenerate")
        settings = replace(settings, meter=grid.meter)
        if start == 0:
            seed = _seed(settings.seed)
            new = self._sample(settings, seed, end, grid)
            result = Result(new, seed)
        else:
            result = self._after(grid.bar_range(0, start), end - start, settings, grid)
        if end < grid.bars:
            return Result(result.grid.join(grid.bar_range(end, grid.bars)), result.seed)
        return result

    def humanize(self, grid: Grid, amount: float, seed: int | None = None,
                 settings: Settings = Settings()) -> Result:
        """``grid`` with each hit's velocity and offset moved ``amount`` (0..1) of the way to
        how the model plays it: sampled from its feel heads (reading the grid's steps, with
        the ``settings``' style and kind), or, for a model without them, its profile's
        velocity and average offset for the drum at its place in the bar."""
        if not 0 <= amount <= 1:
            raise DrumrnnError(f"amount must lie in 0..1, got {amount:g}")
        seed = _seed(seed)
        if self.feel_heads:
            return Result(self._humanize_by_heads(grid, amount, seed, settings), seed)
        rng = np.random.Generator(np.random.SFC64(seed))
        rows, steps, classes = self._kit_hits(grid)
        positions = steps % grid.steps_per_bar
        velocities, offsets = grid.velocities.copy(), grid.offsets.copy()
        target_v = profile_velocities(self.profile, classes, positions, rng)
        mean_offset = self.profile.get("offset_mean")
        target_o = (mean_offset[classes, positions % mean_offset.shape[1]]
                    if mean_offset is not None else np.zeros(len(rows)))
        velocities[rows, steps] = np.clip(np.round(
            (1 - amount) * velocities[rows, steps] + amount * target_v), 1, 127)
        offsets[rows, steps] = np.clip((1 - amount) * offsets[rows, steps] + amount * target_o,
                                       -0.5, OFFSET_MAX)
        return Result(_replace_cells(grid, velocities, offsets), seed)

    # -- helpers ----------------------------------------------------------------------------
    def _humanize_by_heads(self, grid: Grid, amount: float, seed: int, settings: Settings) -> Grid:
        self._check_primer(grid)
        self._check_labels(settings)
        if not self._kit_hits(grid)[0].size:
            return grid
        config = HumanizeConfig(amount, settings.style, settings.kind, grid.tempo, seed)
        hits = humanize_hits(self.generator, grid_to_hits(grid, apply_swing=False), config)
        # every hit keeps its pitch (its row) and its grid step
        row_of = {pitch: row for row, pitch in enumerate(grid.pitches)}
        steps, offsets = quantize(hits.quarters, grid.steps_per_quarter)
        steps = np.minimum(steps, grid.velocities.shape[1] - 1)  # an offset of +0.5 at the end
        rows = np.array([row_of[p] for p in hits.pitches.tolist()], dtype=np.int64)
        velocities, new_offsets = np.zeros_like(grid.velocities), np.zeros_like(grid.offsets)
        velocities[rows, steps] = hits.velocities
        new_offsets[rows, steps] = np.clip(offsets, -0.5, OFFSET_MAX)
        return _replace_cells(grid, velocities, new_offsets)

    def _after(self, primer: Grid, new_bars: int, settings: Settings,
               rows_like: Grid | None = None) -> Result:
        """``primer`` followed by ``new_bars`` generated bars that continue it."""
        self._check_primer(primer)
        settings = replace(settings, meter=primer.meter)
        seed = _seed(settings.seed)
        total = primer.bars + new_bars
        if not self._kit_hits(primer)[0].size:  # nothing to continue: fresh bars
            new = self._sample(settings, seed, new_bars, rows_like or primer)
        else:
            # the generator continues after the primer's last struck bar: keep only the bars
            # after the primer's own length, which the user's bars fill
            full = self._sample(settings, seed, total, rows_like or primer,
                                grid_to_hits(primer, apply_swing=False))
            new = full.bar_range(primer.bars, total)
        return Result(_restyle(primer, settings).join(new), seed)

    def _sample(self, settings: Settings, seed: int, bars: int, rows_like: Grid | None = None,
                primer=None) -> Grid:
        """``bars`` bars in the settings' meter from the generator as a grid (with
        ``rows_like``'s rows if given; a ``primer`` must be in that meter)."""
        self._check_labels(settings)
        config = GenerateConfig(bars=bars, tempo=settings.tempo, seed=seed,
                                sampling=SamplingConfig(temperature=settings.temperature),
                                style=settings.style, kind=settings.kind,
                                fill_every=settings.fill_every, feel=settings.feel,
                                time_signature=settings.meter if primer is None else None)
        hits = self.generator.generate(config, primer)[0]
        grid = hits_to_grid(hits, self.kit, bars, settings.tempo, settings.swing, settings.meter,
                            steps_per_quarter=self.steps_per_quarter)
        return grid if rows_like is None else _on_rows(grid, rows_like)

    def _kit_hits(self, grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, steps, classes) of the grid's hits on drums of the model's kit."""
        rows, steps = np.nonzero(grid.velocities)
        classes = self.kit.classes_of(np.asarray(grid.pitches, dtype=np.int64)[rows])
        keep = classes >= 0
        return rows[keep], steps[keep], classes[keep].astype(np.int64)

    def _check_primer(self, grid: Grid) -> None:
        if grid.steps_per_quarter != self.steps_per_quarter:
            raise DrumrnnError(f"this model continues grids of {self.steps_per_quarter} steps "
                               f"per quarter; got {grid.steps_per_quarter}")

    def _check_labels(self, settings: Settings) -> None:
        """Label controls on a model without labels get one clear message (a model with
        labels checks the names itself)."""
        if self.labels is not None:
            return
        for name, value in (("style", settings.style), ("kind", settings.kind == "fill"),
                            ("fill every", settings.fill_every)):
            if value:
                raise DrumrnnError(f"{name} is not supported by this model: it was trained "
                                   "without style and beat/fill labels")


def _check_bars(bars: int, limit: int, what: str) -> None:
    if not 1 <= bars <= limit:
        raise DrumrnnError(f"{what} must lie in 1..{limit}, got {bars}")


def _seed(seed: int | None) -> int:
    """``seed``, or a new one drawn when it is None."""
    if seed is None:
        return secrets.randbelow(SEED_LIMIT)
    if not 0 <= seed < SEED_LIMIT:
        raise DrumrnnError(f"seed must lie in 0..{SEED_LIMIT - 1}, got {seed}")
    return seed


def _replace_cells(grid: Grid, velocities: np.ndarray, offsets: np.ndarray) -> Grid:
    offsets = np.where(velocities > 0, offsets, 0.0)
    return replace(grid, velocities=velocities, offsets=offsets)


def _restyle(grid: Grid, settings: Settings) -> Grid:
    """``grid`` with the tempo and swing of ``settings``."""
    return replace(grid, tempo=settings.tempo, swing=settings.swing)


def _on_rows(grid: Grid, rows_like: Grid) -> Grid:
    """``grid`` (one row per kit class) laid onto the rows of ``rows_like``: rows the kit
    writes get their class's cells, other rows stay empty."""
    if grid.pitches == rows_like.pitches:
        return grid
    shape = (len(rows_like.pitches), grid.velocities.shape[1])
    velocities, offsets = np.zeros(shape, np.int16), np.zeros(shape)
    source = {pitch: row for row, pitch in enumerate(grid.pitches)}
    for row, pitch in enumerate(rows_like.pitches):
        if pitch in source:
            velocities[row] = grid.velocities[source[pitch]]
            offsets[row] = grid.offsets[source[pitch]]
    return replace(grid, names=rows_like.names, pitches=rows_like.pitches, velocities=velocities,
                   offsets=offsets)

