"""Metrics on hand-made cases with known answers."""

import math

import numpy as np
import pytest

from drumrnn.cli import main
from drumrnn.core.errors import DrumrnnError
from drumrnn.data.dataset import PrepareConfig, load_dataset, prepare
from drumrnn.data.encoding import EncodingConfig
from drumrnn.measure.compare import (
    Piece,
    compare,
    drum_in_pattern_rate,
    empty_beat_rate,
    features,
    load_patterns,
    overlap_and_kl,
    random_patterns,
    syncopation,
)
from drumrnn.measure.evaluate import evaluate_model
from tests.conftest import one_drum_model, rock_beat, write_midi_file


@pytest.fixture(scope="module")
def one_drum_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("one")
    (root / "midi").mkdir()
    for i in range(6):
        write_midi_file(root / "midi" / f"{i}.mid", rock_beat(2 + i))
    return prepare(root / "midi", root / "data", PrepareConfig(
        EncodingConfig("steps", kit="one-drum"), split_fractions=(0.0, 0.0, 1.0))).out


ZERO_HEAD = [[0.0, 0.0], [0.0, 0.0]]


def test_perfect_predictor_has_perplexity_one(tmp_path, one_drum_data):
    # the one-drum rock beat alternates hit, rest, hit, rest: predict the opposite of the input
    model = one_drum_model(tmp_path / "p.npz", [[0.0, 30.0], [30.0, 0.0]], [0.0, 0.0],
                           input_weight=((9.0, 0.0), (0.0, 9.0)))
    result = evaluate_model(model, load_dataset(one_drum_data), "test")
    assert result["accuracy"] == 1.0 and result["perplexity"] == pytest.approx(1.0, abs=1e-6)
    assert result["per_class"]["drum"] == {"precision": 1.0, "recall": 1.0,
                                           "support": result["per_class"]["drum"]["support"]}


def test_uniform_predictor_has_perplexity_of_the_vocabulary(tmp_path, one_drum_data):
    model = one_drum_model(tmp_path / "u.npz", ZERO_HEAD, [0.0, 0.0])
    result = evaluate_model(model, load_dataset(one_drum_data), "test")
    assert result["perplexity"] == pytest.approx(2.0)
    assert result["bits"] == pytest.approx(1.0)


def test_always_hit_predictor_matches_counts(tmp_path, one_drum_data):
    # the rock beat has a hit on every 8th note: half the 16th steps are hits
    model = one_drum_model(tmp_path / "h.npz", ZERO_HEAD, [0.0, 20.0])
    result = evaluate_model(model, load_dataset(one_drum_data), "test")
    assert result["event_accuracy"] == 1.0 and result["no_event_accuracy"] == 0.0
    assert result["per_class"]["drum"]["recall"] == 1.0
    assert result["per_class"]["drum"]["precision"] == pytest.approx(0.5, abs=0.02)
    assert result["accuracy"] == pytest.approx(0.5, abs=0.02)


def test_model_and_data_with_different_kits_are_refused(tmp_path, capsys):
    src = tmp_path / "m"
    src.mkdir()
    for i in range(3):
        write_midi_file(src / f"{i}.mid", rock_beat(2 + i))
    other = prepare(src, tmp_path / "nine", PrepareConfig(split_fractions=(0.0, 0.0, 1.0))).out
    model = one_drum_model(tmp_path / "u.npz", ZERO_HEAD, [0.0, 0.0])
    with pytest.raises(DrumrnnError, match="plays kit one-drum but the data is prepared with kit 9"):
        evaluate_model(model, load_dataset(other), "test")
    assert main(["evaluate", str(tmp_path / "u.npz"), str(other)]) == 1
    assert "plays kit one-drum" in capsys.readouterr().err


def test_overlap_and_kl_of_identical_and_disjoint_samples():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 3000)
    oa, kl = overlap_and_kl(a, a.copy())
    assert oa == pytest.approx(1.0, abs=1e-3) and kl == pytest.approx(0.0, abs=1e-3)
    oa, kl = overlap_and_kl(a, a + 50)
    assert oa < 1e-3 and kl > 10
    assert overlap_and_kl(np.ones(5), np.ones(5)) == (1.0, 0.0)
    assert all(math.isnan(x) for x in overlap_and_kl(np.ones(1), np.ones(5)))


def test_syncopation_and_muspy_rates():
    bar = np.zeros(16, bool)
    bar[[0, 4, 8, 12]] = True  # four on the floor: no syncopation
    assert syncopation(bar) == 0
    bar = np.zeros(16, bool)
    bar[[0, 6]] = True  # the "and" of 2 held over beat 3 (weight -3 -> -1)
    assert syncopation(bar) == 2
    assert drum_in_pattern_rate(np.array([0, 0.25, 0.5, 1 / 3])) == 0.75
    assert drum_in_pattern_rate(np.array([0, 1 / 3, 2 / 3]), "triple") == 1.0
    assert math.isnan(drum_in_pattern_rate(np.array([])))
    assert empty_beat_rate(np.array([0.0, 0.5, 2.25]), 4) == 0.5


def test_identical_sets_overlap_and_random_tokens_do_not(tmp_path):
    src = tmp_path / "midi"
    src.mkdir()
    for i in range(8):
        write_midi_file(src / f"{i}.mid", rock_beat(4))
    real = load_patterns(src)
    stats = features(real)
    assert stats["hits per bar"][0] == 24 / 2  # 8 hats + 2 kicks + 2 snares
    assert stats["similarity to 1 bar before"][0] == 1.0
    result = compare(real, real)
    assert result.features["hits per bar"]["oa"] == pytest.approx(1.0, abs=0.01)
    assert result.anchors["random vs real"]["hits per bar"]["oa"] < 0.05


def test_compare_command_writes_json_table_and_plot(tmp_path, capsys):
    src = tmp_path / "midi"
    src.mkdir()
    for i in range(4):
        write_midi_file(src / f"{i}.mid", rock_beat(2 + i))
    assert main(["compare", str(src), str(src), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "| **mean OA** |" in out
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"compare.json", "compare.md",
                                                               "features.png"}
    assert main(["compare", str(tmp_path / "nowhere"), str(src)]) == 1
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(tmp_path / "empty"), str(src)]) == 1
    assert "no .mid or .midi files" in capsys.readouterr().err


def test_random_patterns_are_uniform_tokens():
    pieces = random_patterns(50, bars=4, seed=1).pieces
    hits = np.mean([len(p.steps) / (4 * 16) for p in pieces])
    assert hits == pytest.approx(4.5, abs=0.2)  # half of 9 classes per step
    assert isinstance(pieces[0], Piece)


def test_evaluate_command_prints_a_table_or_json(tmp_path, one_drum_data, capsys):
    import json

    one_drum_model(tmp_path / "u.npz", ZERO_HEAD, [0.0, 0.0])
    assert main(["evaluate", str(tmp_path / "u.npz"), str(one_drum_data)]) == 0
    assert "perplexity 2.000" in capsys.readouterr().out
    assert main(["evaluate", str(tmp_path / "u.npz"), str(one_drum_data), "--json", "-"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["bits"] == pytest.approx(1.0) and result["split"] == "test"


def test_an_undefined_precision_reads_as_a_dash_and_json_null(tmp_path, one_drum_data, capsys):
    import json

    from drumrnn.cli import main

    model = one_drum_model(tmp_path / "s.npz", ZERO_HEAD, [20.0, 0.0])  # never predicts a hit
    assert main(["evaluate", str(model.path), str(one_drum_data), "--json",
                 str(tmp_path / "e.json")]) == 0
    out = capsys.readouterr().out
    assert "drum  - / 0.000 / " in out and "nan" not in out
    assert json.loads((tmp_path / "e.json").read_text())["per_class"]["drum"]["precision"] is None
