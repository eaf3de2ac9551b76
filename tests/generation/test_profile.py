import numpy as np

from drumrnn.data.dataset import PrepareConfig, load_dataset, prepare
from drumrnn.data.encoding import EncodingConfig
from drumrnn.model.profile import learn_profile
from tests.conftest import write_midi_file


def test_profile_learns_velocity_and_timing_by_drum_and_position(tmp_path):
    src = tmp_path / "midi"
    src.mkdir()
    notes = []
    for bar in range(4):
        t = bar * 1920
        notes += [(t, 36, 120, 10), (t + 960, 36, 60, 10),  # loud on 1, soft on 3
                  (t + 480 + 12, 38, 100, 10)]  # snare on 2, a 40th of a step late
    write_midi_file(src / "a.mid", notes)
    profiles = {}
    for encoding in ("steps", "events"):
        prepare(src, tmp_path / encoding, PrepareConfig(EncodingConfig(encoding),
                                                        split_fractions=(1.0, 0.0, 0.0)))
        profile = profiles[encoding] = learn_profile(load_dataset(tmp_path / encoding))
        mean = profile["profile.velocity_mean"]
        assert mean.shape == (9, 16)
        assert mean[0, 0] == 120 and mean[0, 8] == 60 and mean[1, 4] == 100
        assert mean[0, 3] == 90  # no kick there: the kick's mean
        assert mean[2, 0] == 90  # no hi-hat at all: a neutral default
    steps = profiles["steps"]
    np.testing.assert_allclose(steps["profile.offset_mean"][1, 4], 12 / 120, atol=1e-6)
    assert steps["profile.first_tokens"].argmax() == 1  # tracks begin with a kick
    events = profiles["events"]
    assert events["profile.first_drums"].argmax() == 0
