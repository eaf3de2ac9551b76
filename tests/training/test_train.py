import csv
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from drumrnn.cli import main
from drumrnn.core.errors import DrumrnnError
from drumrnn.data.dataset import PrepareConfig, load_dataset, prepare
from drumrnn.data.encoding import EncodingConfig
from drumrnn.model.model_config import ModelConfig
from drumrnn.model.model_file import load_model_file, save_model_file
from drumrnn.model.tracks import track_arrays, vocabulary_of
from drumrnn.training.batches import epoch_plan
from drumrnn.training.train import Trainer, evaluate, load_checkpoint, torch_model
from drumrnn.training.train_config import TrainConfig
from tests.conftest import bar_pattern_notes, pattern_datasets, write_midi_file

# A 2-bar groove: kick, snare and hats with a variation in the second bar.
BAR_1 = {36: "x.....x...x.....", 38: "....x.......x...", 42: "x.x.x.x.x.x.x.x."}
BAR_2 = {36: "x.....x.........", 38: "....x.......x.x.", 42: "x.x.x.x.x.x.x.xx"}


def pattern_notes(bars: int):
    return bar_pattern_notes(bars, [BAR_1, BAR_2])


@pytest.fixture(scope="module")
def pattern_data(tmp_path_factory):
    """Steps and events datasets of the same repeating groove, every split non-empty."""
    return pattern_datasets(tmp_path_factory.mktemp("pattern"), [BAR_1, BAR_2],
                            {"steps": EncodingConfig(), "events": EncodingConfig("events")})


TINY = ModelConfig("lstm", layers=1, hidden=48, embedding=16, position_embedding=8)
FAST = TrainConfig(batch=4, window=32, lr=1e-2, eval_every=25, max_steps=50, patience=0,
                   threads=1)


def train_loss(trainer: Trainer) -> float:
    return evaluate(trainer.model, trainer.train_tracks)["loss"]


def test_tiny_model_learns_a_repeating_two_bar_pattern(pattern_data, tmp_path):
    cfg = TrainConfig(batch=4, window=64, lr=2e-2, eval_every=100, max_steps=300, patience=0,
                      threads=1)
    trainer = Trainer(pattern_data["steps"], tmp_path / "run", TINY, cfg)
    result = trainer.run()
    assert train_loss(trainer) < 0.05
    assert result.best["val_accuracy"] > 0.95
    # the model file holds the best weights and its metrics
    model = load_model_file(result.model_path)
    assert model.header["metrics"]["step"] == result.best["step"]
    assert "test_perplexity" in model.header["metrics"]


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("encoding", ["steps", "events"])
def test_each_cell_and_encoding_trains(pattern_data, tmp_path, cell, encoding):
    model_cfg = ModelConfig(cell, layers=2, hidden=32, embedding=16 if cell != "rnn" else 0)
    trainer = Trainer(pattern_data[encoding], tmp_path / "run", model_cfg, FAST)
    before = train_loss(trainer)
    trainer.run()
    assert train_loss(trainer) < 0.5 * before


def test_magenta_inputs_attention_and_dense_head_train(pattern_data, tmp_path):
    model_cfg = ModelConfig("lstm", layers=2, hidden=32, embedding=0, counter_bits=6,
                            lookback=True, attention=8, dense=16, dropout=0.1)
    trainer = Trainer(pattern_data["steps"], tmp_path / "run", model_cfg,
                      TrainConfig(**{**FAST.to_dict(), "mode": "random"}))
    before = train_loss(trainer)
    trainer.run()
    assert train_loss(trainer) < 0.5 * before


def test_resume_equals_uninterrupted_training_bit_for_bit(pattern_data, tmp_path):
    model_cfg = ModelConfig("lstm", layers=2, hidden=32, embedding=16, dropout=0.2,
                            attention=4)
    cfg = TrainConfig(batch=3, window=16, lr=5e-3, eval_every=7, max_steps=40, patience=0,
                      threads=1, seed=3)
    straight = Trainer(pattern_data["steps"], tmp_path / "a", model_cfg, cfg)
    straight.run()
    half = Trainer(pattern_data["steps"], tmp_path / "b", model_cfg,
                   TrainConfig(**{**cfg.to_dict(), "max_steps": 20}))
    half.run()
    resumed = Trainer.resume(tmp_path / "b", max_steps=40)
    resumed.run()
    for name, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name
    a = list(csv.DictReader((tmp_path / "a" / "metrics.csv").read_text().splitlines()))
    b = list(csv.DictReader((tmp_path / "b" / "metrics.csv").read_text().splitlines()))
    # the run that stopped at step 20 validated there too: resuming keeps that row, in order
    assert [r["step"] for r in b] == sorted([r["step"] for r in a] + ["20"], key=int)
    assert [r["val_loss"] for r in a] == [r["val_loss"] for r in b if r["step"] != "20"]
    assert (tmp_path / "a" / "model.npz").read_bytes() == (tmp_path / "b" / "model.npz").read_bytes()


def test_stateful_plan_covers_every_target_once(pattern_data):
    dataset = load_dataset(pattern_data["steps"])
    tracks = track_arrays(dataset.split("train"), vocabulary_of(dataset))
    plan = epoch_plan(tracks, batch=2, window=8, mode="stateful", seed=0, epoch=0)
    seen = []
    for rows, length in zip(plan.rows, plan.lengths):
        for track, offset, _ in rows:
            if track >= 0:
                n = min(length, tracks.lengths[track] - 1 - offset)
                seen += [(track, offset + i) for i in range(n)]
    assert len(seen) == len(set(seen)) == tracks.n_targets


def test_sigterm_saves_a_loadable_checkpoint(pattern_data, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "drumrnn", "train",
                             str(pattern_data["steps"]), "--out", str(run), "--hidden", "32",
                             "--layers", "1", "--epochs", "100000", "--eval-every", "100000",
                             "--threads", "1", "--quiet", "--batch", "2", "--window", "16"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The run folder appears when training starts; the stop handler follows at once. Wait for
    # it rather than a fixed time, which a loaded machine outlasts while still importing.
    deadline = time.monotonic() + 120
    while not run.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # a few hundred steps
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "resume with: drumrnn train --resume" in out
    ckpt = load_checkpoint(run / "checkpoint-last.pt")
    assert ckpt["step"] > 0
    assert load_model_file(run / "model.npz").header["metrics"]["step"] == ckpt["step"]


def test_corrupt_and_foreign_model_files(tmp_path):
    with pytest.raises(DrumrnnError, match="no model file"):
        load_model_file(tmp_path / "none.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"hello world")
    with pytest.raises(DrumrnnError, match="not a drumrnn model file"):
        load_model_file(junk)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.zeros(3))
    with pytest.raises(DrumrnnError, match="no header"):
        load_model_file(foreign)
    good = save_model_file(tmp_path / "good.npz", {"model": {}, "vocabulary": {},
                                                   "encoding": {}, "kit": {}},
                           {"w": np.ones((50, 50))})
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(DrumrnnError, match="truncated or damaged|not a drumrnn model file"):
        load_model_file(cut)
    future = save_model_file(tmp_path / "f.npz", {"model": {}, "format_version": 7}, {})
    with pytest.raises(DrumrnnError, match="version 7 is not supported"):
        load_model_file(future)
    empty = save_model_file(tmp_path / "e.npz", {"model": {"cell": "lstm", "bogus": 1},
                                                 "vocabulary": {}, "encoding": {}, "kit": {}}, {})
    with pytest.raises(DrumrnnError, match="unknown model settings: bogus"):
        load_model_file(empty)
    with pytest.raises(DrumrnnError, match="not a readable drumrnn checkpoint"):
        load_checkpoint(junk)


@pytest.mark.parametrize("argv, message", [
    (["train", "{missing}", "--out", "{run}"], "not a prepared dataset"),
    (["train", "{steps}", "--out", "{run}", "--preset", "nope"], None),
    (["train", "{steps}", "--out", "{run}", "--hidden", "-4"], "hidden must be at least 1"),
    (["train", "{steps}", "--out", "{run}", "--batch", "0"], "batch must be at least 1"),
    (["train", "{steps}", "--out", "{run}", "--preset", "drums-rnn", "--label-bias", "true"],
     "label_bias is a bias per label value: set labels > 0"),
    (["train", "{steps}", "--out", "{run}", "--feel-rate", "0"], "feel_rate must lie in (0, 1]"),
    (["train", "{steps}", "--out", "{run}", "--preset", "drummer"], "reads the events encoding"),
    (["train", "{steps}", "--out", "{run}", "--preset", "lstmetallica"], "--bar-tokens"),
    (["train", "{events}", "--out", "{run}", "--preset", "drummer", "--lookback", "true"],
     "need the steps encoding"),
    (["train", "{events}", "--out", "{run}", "--preset", "drummer", "--mode", "random",
      "--piece-starts", "0.25"], "piece starts need the steps encoding"),
    (["train", "{steps}", "--out", "{run}", "--preset", "drums-rnn", "--style-balance", "1"],
     "style balance draws tracks by their style label"),
    (["train", "{steps}", "--out", "{run}", "--style-balance", "2"],
     "style_balance must lie in [0, 1]"),
    (["train", "{lonely}", "--out", "{run}"], "validation split is empty"),
    (["train", "--resume", "{run}"], "no checkpoint"),
    (["info", "{missing}"], "no model file"),
])
def test_bad_training_arguments(capsys, tmp_path, pattern_data, argv, message):
    lonely = tmp_path / "lonely"
    src = tmp_path / "src"
    src.mkdir()
    write_midi_file(src / "a.mid", pattern_notes(4))
    prepare(src, lonely, PrepareConfig(split_fractions=(1.0, 0.0, 0.0)))
    names = {"missing": tmp_path / "none", "run": tmp_path / "run", "lonely": lonely,
             "steps": pattern_data["steps"], "events": pattern_data["events"]}
    if message is None:  # argparse rejects unknown choices itself, exit status 2
        with pytest.raises(SystemExit) as info:
            main([a.format(**names) for a in argv])
        assert info.value.code == 2
        assert "invalid choice: 'nope'" in capsys.readouterr().err
        return
    code = main([a.format(**names) for a in argv])
    err = capsys.readouterr().err
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1


def test_info_describes_a_model(capsys, pattern_data, tmp_path):
    Trainer(pattern_data["events"], tmp_path / "run",
            ModelConfig("gru", layers=1, hidden=16, embedding=8), FAST).run()
    assert main(["info", str(tmp_path / "run" / "model.npz")]) == 0
    out = capsys.readouterr().out
    assert "1 x 16 GRU" in out and "encoding: events" in out and "10 drums x" in out
    assert "test_perplexity" in out


def test_validation_reads_whole_tracks_as_drumrnn_evaluate_does(pattern_data, tmp_path):
    """Training's torch validation and the NumPy ``evaluate_model`` agree, with windows much
    shorter than the tracks: no long track is cut into pieces that restart from zero."""
    from drumrnn.measure.evaluate import evaluate_model

    cfg = TrainConfig(batch=4, window=32, lr=1e-2, eval_every=20, max_steps=20, patience=0,
                      threads=1)
    result = Trainer(pattern_data["steps"], tmp_path / "run", TINY, cfg).run()
    model_file = load_model_file(result.model_path)
    model = torch_model(model_file)
    dataset = load_dataset(pattern_data["steps"])
    tracks = track_arrays(dataset.split("validation"), vocabulary_of(dataset))
    assert tracks.lengths.max() > 3 * 8  # several windows of 8 per track
    torch_loss = evaluate(model, tracks, batch_size=3, window=8)["loss"]
    numpy_loss = evaluate_model(model_file, dataset, "validation")["loss"]
    assert torch_loss == pytest.approx(numpy_loss, abs=1e-5)
