"""One drum machine app for the API and browser tests (skipped without FastAPI)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def app():
    pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install -e '.[serve]'")
    from drumrnn.generation.generate import DrumGenerator
    from drumrnn.serve.api import create_app
    from drumrnn.serve.machine import DrumMachine
    from drumrnn.serve.sounds import SoundBank

    machine = DrumMachine(DrumGenerator.load())
    return create_app(machine, SoundBank(machine.kit.output_pitches))
