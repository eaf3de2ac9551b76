"""The n-gram baseline: proper distributions, counts, order selection, generation, storage."""

import numpy as np
import pytest

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.dataset import PrepareConfig, load_dataset, prepare
from drumrnn.data.encoding import EncodingConfig
from drumrnn.measure.ngram import NGramModel
from tests.conftest import pattern_datasets, write_midi_file

# Two bars that differ at every 8th (hi-hat vs ride) and in the kicks, so the two tokens
# before any step tell which bar it is in: a 3-gram knows the next step, a 2-gram does not.
BAR_A = {36: "x.......x.......", 38: "....x.......x...", 42: "x.x.x.x.x.x.x.x."}
BAR_B = {36: "x.....x...x.....", 38: "....x.......x...", 51: "x.x.x.x.x.x.x.x."}


@pytest.fixture(scope="module")
def pattern_data(tmp_path_factory):
    """Steps datasets (without and with BAR tokens) and an events dataset of the pattern."""
    return pattern_datasets(tmp_path_factory.mktemp("ngram"), [BAR_A, BAR_B], {
        "steps": EncodingConfig(), "bars": EncodingConfig(bar_tokens=True),
        "events": EncodingConfig("events")})


@pytest.mark.parametrize("order", [1, 2, 4])
def test_every_distribution_sums_to_one_and_gives_every_token_mass(pattern_data, order):
    model = NGramModel.fit(pattern_data["steps"], order)
    rng = np.random.default_rng(0)
    seen = load_dataset(pattern_data["steps"]).split("train").arrays["tokens"][:order + 3]
    contexts = [[], list(seen)] + [list(rng.integers(0, 512, rng.integers(0, 8))) for _ in range(20)]
    for context in contexts:  # mostly contexts never seen, one seen, positions never seen
        for position in (0, 5, 15, 40):
            p = model.probabilities(context, position)
            assert p.shape == (512,)
            assert abs(p.sum() - 1) < 1e-9 and p.min() > 0


def test_position_unigram_is_discounted_counts_with_uniform_backoff(tmp_path):
    # bar 1: a kick on the downbeat; bar 2: a snare there; 30 silent steps
    src = tmp_path / "midi"
    src.mkdir()
    write_midi_file(src / "a.mid", [(0, 36, 100, 10), (1920, 38, 100, 10)])
    data = prepare(src, tmp_path / "data", PrepareConfig(split_fractions=(1.0, 0.0, 0.0))).out
    model = NGramModel.fit(data, order=1, discount=0.5)
    down, off = model.probabilities([], 0), model.probabilities([7, 7], 3)
    # at position 0: kick and snare once each of 2, discount 0.5, 2 types -> 0.5 to 1/512 each
    assert down[1] == pytest.approx(0.5 / 2 + 0.5 * 2 / 2 / 512, abs=1e-15)
    assert down[2] == down[1] and down[0] == pytest.approx(0.5 / 512)
    # at position 3: silence twice of 2, 1 type
    assert off[0] == pytest.approx(1.5 / 2 + 0.5 / 2 / 512, abs=1e-15)
    assert off[1] == pytest.approx(0.5 / 2 / 512)
    # the estimated discount: n1 = 2 (kick, snare), n2 = 15 (silences) -> 2 / (2 + 30)
    assert NGramModel.fit(data, order=1).discounts == [pytest.approx(2 / 32)]


def test_three_grams_learn_the_pattern_and_the_order_is_chosen_on_validation(pattern_data):
    dataset = load_dataset(pattern_data["steps"])
    val = dataset.split("validation").arrays
    assert NGramModel.fit(dataset, 3).nll(val)["loss"] < 0.05
    assert NGramModel.fit(dataset, 2).nll(val)["loss"] > 0.2
    best = NGramModel.fit_best(dataset, orders=(1, 2, 3, 4))
    assert best.order >= 3 and sorted(best.selection) == [1, 2, 3, 4]
    scores = best.nll(val)
    assert scores == best.selection[best.order]
    assert scores["accuracy"] == 1.0 and scores["event_accuracy"] == 1.0
    assert set(scores) >= {"loss", "perplexity", "accuracy", "event_accuracy", "no_event_accuracy"}


def test_scores_match_the_full_distributions(pattern_data):
    dataset = load_dataset(pattern_data["steps"])
    model = NGramModel.fit(dataset, 2)
    val = dataset.split("validation").arrays
    tokens, positions, starts = (np.asarray(val[k]) for k in ("tokens", "positions", "track_starts"))
    nll, right = [], []
    for a, b in zip(starts[:-1], starts[1:]):
        for i in range(a + 1, b):  # the first token of a track is not predicted
            p = model.probabilities(tokens[a:i], positions[i])
            nll.append(-np.log(p[tokens[i]]))
            right.append(p.argmax() == tokens[i])
    scores = model.nll(val)
    assert scores["tokens"] == len(nll)
    assert scores["total_nll"] == pytest.approx(sum(nll), rel=1e-9)
    assert scores["accuracy"] == pytest.approx(np.mean(right))


def test_generate_is_seeded_shaped_and_follows_the_pattern(pattern_data):
    model = NGramModel.fit(pattern_data["steps"], 3)
    a = model.generate(4, num=3, seed=7)
    assert a.shape == (3, 64) and a.dtype == np.int64 and a.min() >= 0 and a.max() < 512
    assert np.array_equal(a, model.generate(4, num=3, seed=7))
    cold = model.generate(4, num=2, seed=1, temperature=0.05)
    bar_a = sum(1 << c for c in (0, 2))  # kick + closed hi-hat: every track's first step
    assert (cold[:, 0] == bar_a).all()
    assert np.array_equal(cold[:, :32], np.tile(cold[:1, :32], (2, 1)))
    with pytest.raises(DrumrnnError, match="temperature"):
        model.generate(1, temperature=0)


def test_bar_tokens_stand_before_every_bar_and_nowhere_else(pattern_data):
    model = NGramModel.fit(pattern_data["bars"], 3)
    tokens = model.generate(3, num=2, seed=0, temperature=2.0)
    assert tokens.shape == (2, 3 * 17)
    assert np.array_equal(np.flatnonzero((tokens == 512).any(axis=0)), [0, 17, 34])
    assert (tokens[:, [0, 17, 34]] == 512).all()


def test_save_and_load_give_the_same_model(pattern_data, tmp_path):
    model = NGramModel.fit_best(pattern_data["steps"], orders=(2, 3))
    again = NGramModel.load(model.save(tmp_path / "ngram.npz"))
    assert again.order == model.order and again.selection == model.selection
    assert np.array_equal(again.probabilities([3, 0, 5], 2), model.probabilities([3, 0, 5], 2))
    with np.load(tmp_path / "ngram.npz", allow_pickle=False) as data:
        assert "config" in data.files
    (tmp_path / "junk.npz").write_bytes(b"not a model")
    with pytest.raises(DrumrnnError, match="not a readable n-gram model"):
        NGramModel.load(tmp_path / "junk.npz")


def test_events_datasets_and_bad_arguments_are_refused(pattern_data):
    with pytest.raises(DrumrnnError, match="read the steps encoding") as info:
        NGramModel.fit(pattern_data["events"])
    assert "\n" not in str(info.value)
    with pytest.raises(DrumrnnError, match="order must be at least 1"):
        NGramModel.fit(pattern_data["steps"], 0)
    with pytest.raises(DrumrnnError, match="discount must lie in"):
        NGramModel.fit(pattern_data["steps"], 2, discount=1.5)


@pytest.mark.parametrize("name", ["steps", "bars"])
def test_generate_command_plays_an_ngram_model(pattern_data, tmp_path, capsys, name):
    from drumrnn.cli import main
    from drumrnn.data.midi_read import read_drum_hits

    path = NGramModel.fit(pattern_data[name], 3).save(tmp_path / "ngram.npz")
    assert main(["generate", "--model", str(path), "--bars", "4", "--num", "2", "--seed", "3",
                 "--temperature", "0.05", "--out", str(tmp_path / "out")]) == 0
    first = read_drum_hits(tmp_path / "out" / "drums_1.mid")
    assert 15 < first.quarters.max() < 16
    # the pattern learned: kick + closed hi-hat on the first step, snare on the second beat
    assert set(first.pitches[first.quarters == 0].tolist()) == {36, 42}
    assert 38 in first.pitches[first.quarters == 1].tolist()
    assert main(["generate", "--model", str(path), "--bars", "4", "--seed", "3", "--variation",
                 "2", "--temperature", "0.05", "--out", str(tmp_path / "again")]) == 0
    assert np.array_equal(read_drum_hits(tmp_path / "again" / "drums_2.mid").quarters,
                          read_drum_hits(tmp_path / "out" / "drums_2.mid").quarters)
    assert main(["generate", "--model", str(path), "--greedy", "--out", str(tmp_path / "g")]) == 1
    assert "samples with --temperature only" in capsys.readouterr().err


def test_info_describes_an_ngram_model(pattern_data, tmp_path, capsys):
    from drumrnn.cli import main

    path = NGramModel.fit(pattern_data["steps"], 3).save(tmp_path / "ngram.npz")
    assert main(["info", str(path)]) == 0
    assert capsys.readouterr().out == (f"n-gram baseline: {path}, order 3, vocabulary 512, "
                                       "16 steps per bar\n")
