"""A training run's folder and budget as a user meets them: nothing replaced by accident,
a finished run left alone, minutes that add up, a readable report."""

import warnings

import pytest

from drumrnn.cli import main
from drumrnn.core.errors import DrumrnnError
from drumrnn.data.encoding import EncodingConfig
from drumrnn.model.model_config import ModelConfig
from drumrnn.training.train import Trainer
from drumrnn.training.train_config import TrainConfig
from tests.conftest import pattern_datasets

BAR = {36: "x.......x.......", 38: "....x.......x...", 42: "x.x.x.x.x.x.x.x."}
TINY = ["--cell", "gru", "--hidden", "8", "--embedding", "4", "--batch", "2", "--window", "16",
        "--threads", "1", "--patience", "0"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return pattern_datasets(tmp_path_factory.mktemp("run"), [BAR],
                            {"steps": EncodingConfig()})["steps"]


def files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_a_new_run_refuses_a_folder_holding_a_run_and_overwrite_replaces_it(data, tmp_path,
                                                                            capsys):
    run = tmp_path / "run"
    argv = ["train", str(data), "--out", str(run), *TINY, "--eval-every", "3"]
    assert main([*argv, "--max-steps", "6"]) == 0
    before = files(run)
    capsys.readouterr()
    assert main([*argv, "--max-steps", "3"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"drumrnn train: error: {run} already holds a training run; continue it "
                   f"with --resume {run}, or pass --overwrite to replace it")
    assert files(run) == before
    assert main([*argv, "--max-steps", "3", "--overwrite"]) == 0
    metrics = (run / "metrics.csv").read_text().splitlines()
    assert len(metrics) == 2 and metrics[1].startswith("3,")  # the old run's rows are gone


def test_resuming_a_finished_run_changes_nothing(data, tmp_path, capsys):
    run = tmp_path / "run"
    # stopped between validations: the last metrics row comes from a final validation
    assert main(["train", str(data), "--out", str(run), *TINY, "--eval-every", "4",
                 "--max-steps", "7"]) == 0
    before = files(run)
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 0
    out = capsys.readouterr().out
    assert "nothing to do: the steps budget is already reached" in out
    assert "stopped after 7 steps: the steps budget was reached" in out
    assert files(run) == before


def test_minutes_are_always_more_minutes(data, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(data), "--out", str(run), *TINY, "--minutes", "0"]) == 1
    assert "--minutes is how many more minutes" in capsys.readouterr().err
    trainer = Trainer(data, run, ModelConfig("gru", layers=1, hidden=8, embedding=4),
                      TrainConfig(batch=2, window=16, max_steps=5, eval_every=5, threads=1))
    trainer.run()
    resumed = Trainer.resume(run, more_minutes=2.0)
    assert resumed.cfg.minutes == pytest.approx(trainer.elapsed / 60 + 2.0)
    assert "resuming at step 5" in resumed.budget_text()


def test_piped_training_reports_each_validation_in_english(data, tmp_path, capsys):
    assert main(["train", str(data), "--out", str(tmp_path / "run"), *TINY, "--eval-every",
                 "2", "--max-steps", "6"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"training {tmp_path / 'run'}: until 6 steps")
    assert [line.split()[1] for line in lines if line.startswith("step ")] == ["2", "4", "6"]
    assert "stopped by" not in "\n".join(lines)
    assert lines[-1].startswith("stopped after 6 steps: the steps budget was reached; model: ")


def test_the_progress_bar_raises_no_torch_warning(data, tmp_path):
    trainer = Trainer(data, tmp_path / "run", ModelConfig("gru", layers=1, hidden=8),
                      TrainConfig(batch=2, window=16, max_steps=10, eval_every=5, threads=1),
                      progress=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.run()
    assert [str(w.message) for w in caught] == []


def test_library_refuses_an_existing_run_too(data, tmp_path):
    cfg = TrainConfig(batch=2, window=16, max_steps=2, eval_every=2, threads=1)
    Trainer(data, tmp_path, ModelConfig("gru", layers=1, hidden=8), cfg).run()
    with pytest.raises(DrumrnnError, match="already holds a training run"):
        Trainer(data, tmp_path, ModelConfig("gru", layers=1, hidden=8), cfg)


def test_snapshots_keep_the_model_of_every_validation(data, tmp_path):
    from drumrnn.model.model_file import load_model_file

    run = tmp_path / "run"
    assert main(["train", str(data), "--out", str(run), *TINY, "--eval-every", "2",
                 "--max-steps", "6", "--snapshots", "true", "--quiet"]) == 0
    kept = sorted(p.name for p in (run / "snapshots").iterdir())
    assert kept == ["model-000002.npz", "model-000004.npz", "model-000006.npz"]
    best = load_model_file(run / "model.npz")
    step = best.header["metrics"]["step"]
    same = load_model_file(run / "snapshots" / f"model-{step:06d}.npz")
    assert same.header["metrics"]["step"] == step
    assert all((same.weights[k] == w).all() for k, w in best.weights.items())
