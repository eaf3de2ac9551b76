"""The weights a config implies (drumrnn.model.weights, no torch) are the PyTorch module's."""

import dataclasses

import numpy as np
import pytest

from drumrnn.core.errors import DrumrnnError
from drumrnn.model.model_config import ModelConfig, Vocabulary
from drumrnn.model.weights import check_weights, expected_shapes
from drumrnn.training.model import DrumLM
from drumrnn.training.presets import PRESETS

VOCABS = {"steps": Vocabulary("steps", size=512, label_sizes=(5, 3, 2)), "events": Vocabulary(
    "events", n_drums=10, deltas=(0, 3, 6, 12, 24), label_sizes=(5, 3, 2))}


def _small(config: ModelConfig) -> ModelConfig:
    return dataclasses.replace(config, hidden=min(config.hidden, 24))


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("variant", [{}, {"embedding": 0, "bar_ago": False, "bar_copy": False,
                                      "drum_copy": False}, {"dense": 8},
                                     {"attention": 4, "layers": 2},
                                     {"labels": 4, "feel": 8, "feel_bins": 5},
                                     {"embedding": 16, "bar_ago": True, "bar_copy": True,
                                      "drum_copy": True}])
def test_expected_shapes_are_the_state_dict_of_every_preset(preset, variant):
    p = PRESETS[preset]
    config = dataclasses.replace(_small(p.model), **variant)
    vocab = VOCABS[p.encoding]
    state = {k: tuple(v.shape) for k, v in DrumLM(config, vocab).state_dict().items()}
    assert expected_shapes(config, vocab) == state


def test_check_weights_accepts_a_module_and_names_each_defect():
    config = ModelConfig("lstm", layers=1, hidden=8, embedding=4, dense=4)
    vocab = VOCABS["steps"]
    weights = {k: v.numpy() for k, v in DrumLM(config, vocab).state_dict().items()}
    check_weights(weights, config, vocab, "m.npz")
    with pytest.raises(DrumrnnError, match="m.npz: weight 'head.bias' holds NaN"):
        check_weights({**weights, "head.bias": np.full(512, np.nan, np.float32)}, config, vocab,
                      "m.npz")
    with pytest.raises(DrumrnnError, match="'dense.1.num_batches_tracked' has dtype float32"):
        check_weights({**weights, "dense.1.num_batches_tracked": np.float32(1)}, config, vocab,
                      "m.npz")
    with pytest.raises(DrumrnnError, match="array 'x' has dtype <U1, not numbers"):
        check_weights({**weights, "x": np.array(["a"])}, config, vocab, "m.npz")
