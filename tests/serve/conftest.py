"""One drum machine app for the API and browser tests (skipped without FastAPI)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def sounds():
    from drumrnn.data.kits import get_kit
    from drumrnn.serve.sounds import SoundBank

    return SoundBank(get_kit("9").output_pitches)


@pytest.fixture(scope="session")
def app(sounds):
    pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install -e '.[serve]'")
    from drumrnn.generation.generate import DrumGenerator
    from drumrnn.serve.api import create_app
    from drumrnn.serve.machine import DrumMachine

    return create_app(DrumMachine(DrumGenerator.load()), sounds)
