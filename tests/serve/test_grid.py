"""Grids <-> drum hits, and what the drum machine's buttons do (no web server needed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import get_kit
from drumrnn.data.timing import TimeMap
from drumrnn.generation.generate import DrumGenerator
from drumrnn.serve.grid import (
    Grid,
    empty_grid,
    grid_from_dict,
    grid_to_hits,
    hits_to_grid,
    swing_delay,
)
from drumrnn.serve.machine import DrumMachine, Settings

KIT = get_kit("9")


def random_grid(seed: int, bars: int = 2, density: float = 0.3, meter=(4, 4)) -> Grid:
    rng = np.random.default_rng(seed)
    grid = empty_grid(KIT, bars, tempo=97.0, meter=meter)
    hit = rng.random(grid.velocities.shape) < density
    velocities = np.where(hit, rng.integers(1, 128, hit.shape), 0)
    offsets = np.where(hit, np.round(rng.uniform(-0.5, 0.49, hit.shape), 3), 0.0)
    return Grid(grid.names, grid.pitches, velocities, offsets, 97.0, 50.0, meter)


@given(st.integers(0, 2**32 - 1), st.sampled_from([(4, 4), (3, 4), (7, 8), (6, 8)]))
def test_grid_hits_grid_round_trip(seed, meter):
    """Every hit keeps its row, step, velocity and offset through DrumHits and back."""
    grid = random_grid(seed, bars=2, meter=meter)
    hits = grid_to_hits(grid, apply_swing=False)
    assert len(hits) == grid.n_hits
    assert hits.time_map.time_signatures == ((0.0, *meter),) and hits.time_map.qpm == 97.0
    back = hits_to_grid(hits, KIT, grid.bars, grid.tempo, meter=meter)
    np.testing.assert_array_equal(back.velocities, grid.velocities)
    # a hit before the first step cannot be written: it moves onto the downbeat
    expected = grid.offsets.copy()
    expected[:, 0] = np.maximum(expected[:, 0], 0)
    np.testing.assert_allclose(back.offsets, expected, atol=1e-9)


def test_grid_dict_round_trip_and_offsets_of_rests_ignored():
    grid = random_grid(3)
    data = grid.to_dict()
    assert data["bars"] == 2 and [r["pitch"] for r in data["rows"]][:3] == [36, 38, 42]
    back = grid_from_dict(data)
    np.testing.assert_array_equal(back.velocities, grid.velocities)
    np.testing.assert_allclose(back.offsets, grid.offsets, atol=1e-4)
    data["rows"][0]["velocities"][1] = 0
    data["rows"][0]["offsets"][1] = 0.3
    assert grid_from_dict(data).offsets[0, 1] == 0.0


def test_swing_delays_every_second_step_only():
    grid = empty_grid(KIT, 1, tempo=120.0, swing=75.0)
    grid.velocities[2, :4] = 100
    quarters = grid_to_hits(grid).quarters
    np.testing.assert_allclose(quarters * 4, [0, 1.5, 2, 3.5])
    assert swing_delay(50) == 0 and swing_delay(200 / 3) == pytest.approx(1 / 3)
    np.testing.assert_allclose(grid_to_hits(grid, apply_swing=False).quarters * 4, [0, 1, 2, 3])


def test_hits_to_grid_keeps_the_loudest_hit_and_drops_what_does_not_fit():
    # 35 is a kick of the 9-piece kit; 90 is not in it; quarter 4.0 is after one bar
    hits = DrumHits([0.0, 0.02, 0.5, 1.0, 4.0], [36, 35, 90, 38, 38], [50, 90, 100, 70, 80],
                    TimeMap())
    grid = hits_to_grid(hits, KIT, bars=1)
    assert grid.velocities[0, 0] == 90 and grid.offsets[0, 0] == pytest.approx(0.08)
    assert grid.velocities[1, 4] == 70 and grid.n_hits == 2


@pytest.mark.parametrize("change, message", [
    (dict(velocities=np.full((9, 16), 128)), "velocities must lie in 0..127"),
    (dict(offsets=np.full((9, 16), 0.5)), "offsets must lie in [-0.5, 0.5)"),
    (dict(velocities=np.zeros((9, 20)), offsets=np.zeros((9, 20))), "whole bars of 16 steps"),
    (dict(velocities=np.zeros((9, 33 * 16)), offsets=np.zeros((9, 33 * 16))), "at most 32 bars"),
    (dict(tempo=500.0), "tempo must lie in 20..300"),
    (dict(swing=80.0), "swing must lie in 50..75"),
    (dict(meter=(4, 3)), "denominator be one of"),
    (dict(pitches=(36,) * 9), "two rows write the same pitch"),
    (dict(pitches=(200,) * 9), "pitches must lie in 0..127"),
])
def test_grid_refuses_what_it_cannot_hold(change, message):
    base = empty_grid(KIT, 1)
    fields = dict(names=base.names, pitches=base.pitches, velocities=base.velocities,
                  offsets=base.offsets)
    with pytest.raises(DrumrnnError, match=message.replace("[", r"\[").replace(")", r"\)")
                       .replace("(", r"\(").replace(".", r"\.")):
        Grid(**{**fields, **change})


def test_grid_from_dict_refuses_ragged_rows():
    data = empty_grid(KIT, 1).to_dict()
    data["rows"][1]["velocities"] = [0] * 15
    with pytest.raises(DrumrnnError, match="as many velocities"):
        grid_from_dict(data)


# -- the buttons, with the bundled model ---------------------------------------------------------
@pytest.fixture(scope="module")
def machine():
    return DrumMachine(DrumGenerator.load())


def test_generate_is_reproducible_by_seed(machine):
    a = machine.generate(Settings(seed=5), bars=4)
    b = machine.generate(Settings(seed=5), bars=4)
    c = machine.generate(Settings(seed=6), bars=4)
    assert a.seed == 5 and a.grid.bars == 4 and a.grid.n_hits > 0
    np.testing.assert_array_equal(a.grid.velocities, b.grid.velocities)
    np.testing.assert_array_equal(a.grid.offsets, b.grid.offsets)
    assert not np.array_equal(a.grid.velocities, c.grid.velocities)
    assert 0 <= machine.generate(Settings(), bars=1).seed < 2**31  # drawn when not given


def test_generate_opens_with_the_seed_bars(machine):
    seed_bars = random_grid(1, bars=2)
    seed_bars = Grid(seed_bars.names, seed_bars.pitches, seed_bars.velocities,
                     seed_bars.offsets * 0)
    result = machine.generate(Settings(seed=1), bars=5, seed_bars=seed_bars)
    assert result.grid.bars == 5
    np.testing.assert_array_equal(result.grid.bar_range(0, 2).velocities, seed_bars.velocities)
    assert result.grid.bar_range(2, 5).n_hits > 0
    with pytest.raises(DrumrnnError, match="leave nothing to generate"):
        machine.generate(Settings(), bars=2, seed_bars=seed_bars)


def test_continue_keeps_the_grid_and_adds_bars(machine):
    grid = random_grid(2, bars=3)
    result = machine.continue_(grid, 2, Settings(seed=3, tempo=90.0))
    assert result.grid.bars == 5 and result.grid.tempo == 90.0
    np.testing.assert_array_equal(result.grid.bar_range(0, 3).velocities, grid.velocities)
    np.testing.assert_array_equal(result.grid.bar_range(0, 3).offsets, grid.offsets)
    # with nothing to continue, the new bars are generated from scratch
    silent = machine.continue_(empty_grid(KIT, 1), 2, Settings(seed=3))
    assert silent.grid.bar_range(0, 1).n_hits == 0 and silent.grid.bar_range(1, 3).n_hits > 0
    with pytest.raises(DrumrnnError, match="at most 32 bars"):
        machine.continue_(random_grid(2, bars=20), 16, Settings())


def test_regenerate_keeps_the_bars_around_the_range(machine):
    grid = random_grid(4, bars=4)
    for start, end in ((1, 3), (0, 2)):
        new = machine.regenerate(grid, start, end, Settings(seed=9)).grid
        assert new.bars == 4
        for keep in ((0, start), (end, 4)):
            if keep[0] < keep[1]:
                np.testing.assert_array_equal(new.bar_range(*keep).velocities,
                                              grid.bar_range(*keep).velocities)
        assert not np.array_equal(new.bar_range(start, end).velocities,
                                  grid.bar_range(start, end).velocities)
    with pytest.raises(DrumrnnError, match="not within the grid"):
        machine.regenerate(grid, 3, 5, Settings())


def test_humanize_moves_velocities_and_offsets_towards_the_profile(machine):
    grid = random_grid(5, bars=2)
    flat = Grid(grid.names, grid.pitches, (grid.velocities > 0) * 100, grid.offsets * 0)
    same = machine.humanize(flat, 0.0, seed=1).grid
    np.testing.assert_array_equal(same.velocities, flat.velocities)
    full = machine.humanize(flat, 1.0, seed=1).grid
    np.testing.assert_array_equal(full.velocities > 0, flat.velocities > 0)  # same hits
    assert len(np.unique(full.velocities[full.velocities > 0])) > 5
    half = machine.humanize(flat, 0.5, seed=1).grid
    hit = flat.velocities > 0
    np.testing.assert_allclose(half.velocities[hit], (100 + full.velocities[hit]) / 2, atol=1)
    np.testing.assert_allclose(half.offsets[hit], full.offsets[hit] / 2, atol=1e-9)


def test_feel_zero_writes_on_the_grid_at_the_profile_velocity(machine):
    result = machine.generate(Settings(seed=2, feel=0.0), bars=2).grid
    assert not result.offsets.any()
    mean = machine.profile["velocity_mean"]
    rows, steps = np.nonzero(result.velocities)
    np.testing.assert_array_equal(result.velocities[rows, steps],
                                  np.clip(np.round(mean[rows, steps % 16]), 1, 127))


@pytest.mark.parametrize("settings, message", [
    (dict(style="rock"), "style is not supported by this model"),
    (dict(kind="fill"), "kind is not supported by this model"),
    (dict(fill_every=4), "fill every is not supported by this model"),
])
def test_label_controls_need_a_model_with_labels(tmp_path, settings, message):
    from tests.conftest import one_drum_model

    model = one_drum_model(tmp_path / "one.npz", [[0.0, 0.0], [0.0, 0.0]], [0.0, 0.0])
    with pytest.raises(DrumrnnError, match=message):
        DrumMachine(DrumGenerator(model)).generate(Settings(**settings), bars=2)


def test_every_button_works_in_other_meters(machine):
    """A new pattern takes the settings' meter; continuing, regenerating and humanizing keep
    the grid's, its bars of that many steps."""
    waltz = machine.generate(Settings(seed=1, meter=(3, 4)), bars=2).grid
    assert waltz.meter == (3, 4) and waltz.velocities.shape == (9, 24) and waltz.n_hits > 0
    longer = machine.continue_(waltz, 2, Settings(seed=2)).grid  # settings' 4/4 ignored
    assert longer.meter == (3, 4) and longer.velocities.shape == (9, 48)
    np.testing.assert_array_equal(longer.bar_range(0, 2).velocities, waltz.velocities)
    again = machine.regenerate(longer, 0, 1, Settings(seed=3)).grid
    assert again.meter == (3, 4)
    np.testing.assert_array_equal(again.bar_range(1, 4).velocities,
                                  longer.bar_range(1, 4).velocities)
    human = machine.humanize(longer, 1.0, seed=1).grid
    np.testing.assert_array_equal(human.velocities > 0, longer.velocities > 0)
    assert machine.generate(Settings(seed=1, meter=(7, 8)), bars=1).grid.velocities.shape[1] == 14
    for meter in ((4, 3), (32, 1), (17, 4)):  # refused before any generation
        with pytest.raises(DrumrnnError, match=f"time signature {meter[0]}/{meter[1]}"):
            Settings(meter=meter)


def test_rows_follow_the_models_kit(tmp_path):
    """A one-drum model without a profile: one row, every hit at velocity 100."""
    from tests.conftest import one_drum_model

    model = one_drum_model(tmp_path / "one.npz", [[0.0, 0.0], [0.0, 0.0]], [0.0, 0.0])
    machine = DrumMachine(DrumGenerator(model))
    assert [(r["name"], r["pitch"]) for r in machine.info()["rows"]] == [("drum", 36)]
    grid = machine.generate(Settings(seed=1, feel=0.5), bars=2).grid
    assert grid.velocities.shape == (1, 32) and set(grid.velocities[grid.velocities > 0]) == {100}
    human = machine.humanize(grid, 1.0, seed=1).grid
    np.testing.assert_array_equal(human.velocities, grid.velocities)
