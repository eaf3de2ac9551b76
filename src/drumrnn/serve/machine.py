"""What the drum machine's buttons do, on grids: generate, continue, regenerate bars, humanize.

A thin layer over :class:`~drumrnn.generation.generate.DrumGenerator`: a grid's bars become a
primer, the generator writes the bars after it, and the result comes back as a grid.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

import numpy as np

from drumrnn.core.errors import DrumrnnError
from drumrnn.generation.generate import DrumGenerator, GenerateConfig, profile_velocities
from drumrnn.generation.sampling import SamplingConfig
from drumrnn.serve.grid import MAX_BARS, Grid, grid_to_hits, hits_to_grid

#: Bars one generation may write (the grid itself holds up to grid.MAX_BARS).
MAX_GENERATE_BARS = 16
KINDS = ("beat", "fill")
SEED_LIMIT = 2**31


@dataclass(frozen=True)
class Settings:
    """The controls shared by every generation request.

    ``seed`` None draws one (the result says which). ``feel`` scales the generated hits'
    offsets and their velocities' deviation from the profile's mean (0 = on the grid at the
    average velocity, 1 = as generated). ``style``, ``kind`` and ``fill_every`` need a model
    trained with labels.
    """

    temperature: float = 1.0
    seed: int | None = None
    tempo: float = 120.0
    swing: float = 50.0
    style: str | None = None
    kind: str | None = None
    fill_every: int = 0
    feel: float = 1.0

    def __post_init__(self) -> None:
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
        self.steps_per_quarter = (generator.steps_config.steps_per_quarter
                                  if generator.encoding == "steps" else 4)

    def info(self) -> dict:
        """What the page needs to know: the kit's rows, the grid, limits, what is supported."""
        return {
            "rows": [{"name": name, "pitch": int(pitch)}
                     for name, pitch in zip(self.kit.class_names, self.kit.output_pitches)],
            "kit": self.kit.name, "encoding": self.generator.encoding,
            "steps_per_quarter": self.steps_per_quarter, "meters": [[4, 4]],
            "max_generate_bars": MAX_GENERATE_BARS, "max_grid_bars": MAX_BARS,
            "styles": [], "supports": {"style": False, "kind": False, "fill_every": False,
                                       "feel": True, "humanize": True},
        }

    # -- buttons ----------------------------------------------------------------------------
    def generate(self, settings: Settings, bars: int, seed_bars: Grid | None = None) -> Result:
        """A new pattern of ``bars`` bars; with ``seed_bars`` it opens with them, unchanged."""
        _check_bars(bars, MAX_GENERATE_BARS, "bars")
        if seed_bars is None:
            seed = _seed(settings.seed)
            return Result(self._sample(settings, seed, bars), seed)
        if seed_bars.bars >= bars:
            raise DrumrnnError(f"the {seed_bars.bars} seed bars leave nothing to generate in "
                               f"{bars} bars; ask for more bars")
        return self._after(seed_bars, bars - seed_bars.bars, settings)

    def continue_(self, grid: Grid, add_bars: int, settings: Settings) -> Result:
        """``grid`` followed by ``add_bars`` new bars that continue it."""
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
        if start == 0:
            seed = _seed(settings.seed)
            new = self._sample(settings, seed, end, grid)
            result = Result(new, seed)
        else:
            result = self._after(grid.bar_range(0, start), end - start, settings, grid)
        if end < grid.bars:
            return Result(result.grid.join(grid.bar_range(end, grid.bars)), result.seed)
        return result

    def humanize(self, grid: Grid, amount: float, seed: int | None = None) -> Result:
        """``grid`` with each hit's velocity and offset moved ``amount`` (0..1) of the way to
        what the model's profile plays for its drum at its place in the bar."""
        if not 0 <= amount <= 1:
            raise DrumrnnError(f"amount must lie in 0..1, got {amount:g}")
        seed = _seed(seed)
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
                                       -0.5, 0.4999)
        return Result(_replace_cells(grid, velocities, offsets), seed)

    # -- helpers ----------------------------------------------------------------------------
    def _after(self, primer: Grid, new_bars: int, settings: Settings,
               rows_like: Grid | None = None) -> Result:
        """``primer`` followed by ``new_bars`` generated bars that continue it."""
        self._check_primer(primer)
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
        """``bars`` bars from the generator as a grid (with ``rows_like``'s rows if given)."""
        self._check_labels(settings)
        config = GenerateConfig(bars=bars, tempo=settings.tempo, seed=seed,
                                sampling=SamplingConfig(temperature=settings.temperature))
        hits = self.generator.generate(config, primer)[0]
        grid = hits_to_grid(hits, self.kit, bars, settings.tempo, settings.swing,
                            steps_per_quarter=self.steps_per_quarter)
        grid = self._scale_feel(grid, settings.feel)
        return grid if rows_like is None else _on_rows(grid, rows_like)

    def _scale_feel(self, grid: Grid, amount: float) -> Grid:
        if amount == 1:
            return grid
        rows, steps, classes = self._kit_hits(grid)
        velocities, offsets = grid.velocities.copy(), grid.offsets * amount
        mean = self.profile.get("velocity_mean")
        if mean is not None:
            centre = mean[classes, steps % grid.steps_per_bar % mean.shape[1]]
            velocities[rows, steps] = np.clip(np.round(
                centre + amount * (velocities[rows, steps] - centre)), 1, 127)
        return _replace_cells(grid, velocities, offsets)

    def _kit_hits(self, grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, steps, classes) of the grid's hits on drums of the model's kit."""
        rows, steps = np.nonzero(grid.velocities)
        classes = self.kit.classes_of(np.asarray(grid.pitches, dtype=np.int64)[rows])
        keep = classes >= 0
        return rows[keep], steps[keep], classes[keep].astype(np.int64)

    def _check_primer(self, grid: Grid) -> None:
        if grid.meter != (4, 4) or grid.steps_per_quarter != self.steps_per_quarter:
            raise DrumrnnError(f"this model continues 4/4 grids of {self.steps_per_quarter} "
                               f"steps per quarter; got {grid.meter[0]}/{grid.meter[1]} with "
                               f"{grid.steps_per_quarter}")

    def _check_labels(self, settings: Settings) -> None:
        for name, value in (("style", settings.style), ("kind", settings.kind),
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

