"""Generation: MIDI out, seeds, primers, beam search, outputs and bad input."""

import numpy as np
import pytest

from drumrnn.cli import main
from drumrnn.core.errors import DrumrnnError
from drumrnn.data.dataset import PrepareConfig, prepare
from drumrnn.data.encoding import EncodingConfig
from drumrnn.data.kits import get_kit
from drumrnn.data.midi_read import read_drum_hits
from drumrnn.data.steps import encode_steps
from drumrnn.data.timing import TimeMap
from drumrnn.generation.generate import DrumGenerator, GenerateConfig
from drumrnn.generation.primer import parse_pattern
from drumrnn.generation.sampling import SamplingConfig
from drumrnn.model.model_config import ModelConfig
from drumrnn.render.outputs import write_patterns
from drumrnn.training.train import Trainer
from drumrnn.training.train_config import TrainConfig
from tests.conftest import PATTERN_SPLIT, one_drum_model, rock_beat, write_midi_file

SPLIT = PATTERN_SPLIT  # with these six files every split gets at least one


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, rock_folder):
    """A small LSTM trained briefly on rock beats (with its learned velocity profile)."""
    root = tmp_path_factory.mktemp("gen")
    prepare(rock_folder, root / "data", PrepareConfig(split_fractions=SPLIT))
    Trainer(root / "data", root / "run",
            ModelConfig("lstm", layers=2, hidden=32, embedding=16, position_embedding=8,
                        counter_bits=6, lookback=True),
            TrainConfig(batch=4, window=32, lr=1e-2, max_steps=40, eval_every=20,
                        patience=0, threads=1)).run()
    return root / "run" / "model.npz"


def test_generated_midi_rereads_with_bars_tempo_and_channel(model_path, tmp_path):
    code = main(["generate", "--model", str(model_path), "--bars", "4", "--tempo", "97",
                 "--out", str(tmp_path), "--seed", "3", "--num", "2", "--png", "--wav"])
    assert code == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["drums_1.mid", "drums_1.png", "drums_1.wav", "drums_2.mid",
                     "drums_2.png", "drums_2.wav", "generation.json"]
    import symusic

    score = symusic.Score(str(tmp_path / "drums_1.mid"))
    assert [t.is_drum for t in score.tracks] == [True]
    assert score.tempos[0].qpm == pytest.approx(97, abs=0.01)
    assert (score.time_signatures[0].numerator, score.time_signatures[0].denominator) == (4, 4)
    hits = read_drum_hits(tmp_path / "drums_1.mid")
    assert hits.quarters.max() < 16 and len(hits) > 0
    assert encode_steps(hits, get_kit("9")).n_steps <= 4 * 16
    assert len(set(hits.velocities.tolist())) > 3  # never one flat velocity
    import wave

    with wave.open(str(tmp_path / "drums_1.wav")) as w:
        seconds = w.getnframes() / w.getframerate()
        audio = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert 4 * 4 * 60 / 97 - 0.5 < seconds < 4 * 4 * 60 / 97 + 3
    assert np.abs(audio).max() > 10000  # loud enough to hear


def test_same_seed_same_patterns_and_batch_variations_differ(model_path):
    generator = DrumGenerator.load(model_path)
    config = GenerateConfig(bars=4, num=3, seed=11)
    a, b = generator.generate(config), generator.generate(config)
    for x, y in zip(a, b):
        assert x.quarters.tolist() == y.quarters.tolist()
        assert x.velocities.tolist() == y.velocities.tolist()
    assert a[0].quarters.tolist() != a[1].quarters.tolist()


def test_primer_comes_first_unchanged(model_path):
    generator = DrumGenerator.load(model_path)
    primer = parse_pattern("kick: X.......x.x.....; snare: ....x.......x...; hh: x.x.x.x.x.x.x.x.",
                           generator.kit, 4, TimeMap())
    for sampling in (SamplingConfig(temperature=1.3), SamplingConfig(beam_size=3)):
        [pattern] = generator.generate(GenerateConfig(bars=3, seed=0, sampling=sampling), primer)
        first_bar = pattern.quarters < 4
        assert pattern.quarters[first_bar].tolist() == primer.quarters.tolist()
        assert pattern.pitches[first_bar].tolist() == primer.pitches.tolist()
        assert pattern.velocities[first_bar].tolist() == primer.velocities.tolist()
    assert primer.velocities[0] == 120  # X is an accent


def test_random_initial_state_is_uniform_noise_of_the_given_scale(model_path):
    runtime = DrumGenerator.load(model_path).runtime
    state = runtime.start(4, random_state=0.1, rng=np.random.default_rng(0))
    h = state["xh"][0][:-1]
    assert 0.05 < np.abs(h).max() <= 0.1 and np.abs(state["c"][1]).max() <= 0.1
    assert len(np.unique(h)) == h.size  # every unit of every sequence its own draw
    features = dict(index=0, next_position=1, lookback=np.zeros((4, 2)))
    zero = runtime.step(runtime.start(4), np.zeros(4, int), **features)
    noisy = runtime.step(state, np.zeros(4, int), **features)
    assert np.abs(zero - noisy).max() > 1e-3


def trap_model(path):
    """One-drum kit, tanh RNN: after a rest the next step is a rest with p = 0.6; after a
    hit, another hit with p = 0.99. Greedy keeps resting (0.6 ** 15); the best sequence
    takes the unlikely first hit (0.4 * 0.99 ** 14)."""
    return one_drum_model(path, [[np.log(1.5), 0], [0, np.log(99.0)]], [0.0, 0.0],
                          input_weight=((8.0, 0), (0, 8.0)),
                          extra={"profile.first_tokens": np.array([1.0, 0.0])}).path


def test_beam_search_finds_the_sequence_greedy_misses(tmp_path):
    generator = DrumGenerator.load(trap_model(tmp_path / "trap.npz"))
    greedy = generator.generate(GenerateConfig(bars=1, sampling=SamplingConfig(greedy=True)))[0]
    beam = generator.generate(GenerateConfig(bars=1, sampling=SamplingConfig(
        beam_size=2, branch_factor=2)))[0]
    assert len(greedy) == 0  # rests all the way
    assert (beam.quarters * 4).round().astype(int).tolist() == list(range(1, 16))


@pytest.mark.parametrize("argv, message", [
    (["--model", "{missing}"], "no model file"),
    (["--model", "{foreign}"], "not a drumrnn model file"),
    (["--bars", "0"], "bars must lie in 1..10000"),
    (["--bars", "10001"], "bars must lie in 1..10000"),
    (["--temperature", "0"], "must be at least 0.01; for always the likeliest step use --greedy"),
    (["--temperature", "1e-40"], "must be at least 0.01"),
    (["--top-p", "1.5"], "top-p must lie in (0, 1]"),
    (["--top-p", "0"], "top-p must lie in (0, 1]"),
    (["--wav", "--soundfont", "{missing}"], "no soundfont file"),
    (["--wav", "--soundfont", "{foreign}"], "is not an SF2 soundfont"),
    (["--primer", "{keys}"], "notes found on channel 2"),
    (["--primer-pattern", "kick: ...."], "the primer pattern has no hits"),
    (["--primer-pattern", "cowbell2: x..."], "unknown drum 'cowbell2'"),
    (["--out", "{file}"], "cannot create output folder"),
    (["--num", "3", "--beam-size", "2"], "at most --beam-size (2)"),
])
def test_bad_generate_input(model_path, tmp_path, capsys, argv, message):
    names = {"missing": tmp_path / "none.npz", "foreign": tmp_path / "foreign.npz",
             "keys": tmp_path / "keys.mid", "file": tmp_path / "afile" / "sub"}
    np.savez(names["foreign"], weights=np.zeros(3))
    write_midi_file(names["keys"], rock_beat(channel=2))
    (tmp_path / "afile").write_text("a file, not a folder")
    out = tmp_path / "out"
    argv = [a.format(**names) for a in argv]
    if "--model" not in argv:
        argv = ["--model", str(model_path)] + argv
    if "--out" not in argv:
        argv += ["--out", str(out)]
    code = main(["generate", *argv])
    err = capsys.readouterr().err
    assert code == 1 and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())  # no partial files


def test_unwritable_output_folder(model_path, tmp_path, monkeypatch, capsys):
    import os

    out = tmp_path / "locked"
    out.mkdir()
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    assert main(["generate", "--model", str(model_path), "--out", str(out)]) == 1
    assert "is not writable" in capsys.readouterr().err
    assert not any(out.iterdir())


def test_events_model_generates(tmp_path, rock_folder):
    prepare(rock_folder, tmp_path / "data", PrepareConfig(EncodingConfig("events"),
                                                          split_fractions=SPLIT))
    Trainer(tmp_path / "data", tmp_path / "run", ModelConfig("gru", layers=1, hidden=24),
            TrainConfig(batch=4, window=32, max_steps=20, eval_every=10, patience=0,
                        threads=1)).run()
    generator = DrumGenerator.load(tmp_path / "run" / "model.npz")
    patterns = generator.generate(GenerateConfig(bars=2, num=2, seed=5))
    for hits in patterns:
        assert len(hits) and hits.quarters.max() < 8
    with pytest.raises(DrumrnnError, match="beam search works with steps models"):
        generator.generate(GenerateConfig(bars=2, sampling=SamplingConfig(beam_size=2)))


def test_a_failing_write_leaves_no_file_not_even_a_temporary_one(model_path, tmp_path,
                                                                 monkeypatch):
    import drumrnn.render.outputs

    def broken(*args, **kwargs):
        raise DrumrnnError("no pictures today")

    monkeypatch.setattr(drumrnn.render.outputs, "draw_grid", broken)
    generator = DrumGenerator.load(model_path)
    patterns = generator.generate(GenerateConfig(bars=1, num=2, seed=0))
    with pytest.raises(DrumrnnError, match="no pictures today"):
        write_patterns(patterns, tmp_path / "out", generator.kit, bars=1, png=True)
    assert list((tmp_path / "out").iterdir()) == []
