"""The drum machine with a model trained with labels and feel heads: style, beat/fill and
fill-every reach the generator, and Humanize samples the feel heads."""

from __future__ import annotations

import numpy as np
import pytest

from drumrnn.core.errors import DrumrnnError
from drumrnn.generation.generate import DrumGenerator
from drumrnn.serve.grid import Grid, empty_grid
from drumrnn.serve.machine import DrumMachine, Settings

pytest.importorskip("torch", reason="training the small labelled model needs torch")

# a small conditioned GRU trained on rock and funk folders, once for this module
from tests.generation.test_conditioned import labelled  # noqa: E402, F401


@pytest.fixture(scope="module")
def machine(labelled):  # noqa: F811
    return DrumMachine(DrumGenerator.load(labelled / "run" / "model.npz"))


def test_info_offers_the_models_styles_and_label_controls(machine):
    info = machine.info()
    assert set(info["styles"]) <= {"rock", "funk"} and info["styles"]
    assert all(info["supports"][k] for k in ("style", "kind", "fill_every", "feel_heads"))


def test_labels_reach_the_generator(machine):
    style = machine.info()["styles"][0]
    settings = Settings(seed=4, style=style, kind="beat", fill_every=2)
    a = machine.generate(settings, bars=4).grid
    b = machine.generate(settings, bars=4).grid
    np.testing.assert_array_equal(a.velocities, b.velocities)
    # a tiny model: the fill label changes the pattern for some seeds, not every one
    assert any(not np.array_equal(
        machine.generate(Settings(seed=seed, style=style, kind="beat", fill_every=2),
                         bars=4).grid.velocities,
        machine.generate(Settings(seed=seed, style=style, kind="fill"), bars=4).grid.velocities)
        for seed in range(4, 10))
    with pytest.raises(DrumrnnError, match="unknown style 'jazz'; this model knows"):
        machine.generate(Settings(style="jazz"), bars=2)


def test_humanize_samples_the_feel_heads_and_keeps_every_hit(machine):
    base = empty_grid(machine.kit, 2)
    velocities = np.zeros((10, 32), np.int16)
    velocities[0, ::8] = velocities[1, 4::8] = velocities[2, ::2] = 100
    velocities[9, 6] = 90  # a row the kit does not play: left as it is
    grid = Grid(base.names + ("other",), base.pitches + (90,), velocities, np.zeros((10, 32)))
    kept = machine.humanize(grid, 0.0, seed=1).grid
    np.testing.assert_array_equal(kept.velocities, grid.velocities)
    np.testing.assert_allclose(kept.offsets, 0, atol=1e-9)
    human = machine.humanize(grid, 1.0, seed=1).grid
    np.testing.assert_array_equal(human.velocities > 0, grid.velocities > 0)
    assert len(set(human.velocities[:9][grid.velocities[:9] > 0].tolist())) > 3
    assert human.velocities[9, 6] == 90 and human.offsets[9, 6] == 0
    again = machine.humanize(grid, 1.0, seed=1).grid
    np.testing.assert_array_equal(again.velocities, human.velocities)


def test_the_api_passes_the_labels(machine):
    pytest.importorskip("fastapi", reason="the serve extra is not installed")
    import warnings

    from drumrnn.serve.api import create_app

    with warnings.catch_warnings():  # Starlette 1.x would rather have httpx2; httpx works
        warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
        from fastapi.testclient import TestClient
    client = TestClient(create_app(machine))
    style = machine.info()["styles"][0]
    ok = client.post("/api/generate", json={"bars": 2, "style": style, "kind": "fill",
                                            "fill_every": 1, "seed": 2})
    assert ok.status_code == 200 and ok.json()["grid"]["bars"] == 2
    bad = client.post("/api/generate", json={"bars": 2, "style": "jazz"})
    assert bad.status_code == 422 and "this model knows" in bad.json()["detail"]
    grid = ok.json()["grid"]
    human = client.post("/api/humanize", json={"grid": grid, "style": style, "seed": 1})
    assert human.status_code == 200
