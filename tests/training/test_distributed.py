"""Several processes (DDP over gloo) train the model one process trains; device choice."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from drumrnn.cli import main
from drumrnn.core.errors import DrumrnnError
from drumrnn.data.dataset import load_dataset
from drumrnn.data.encoding import EncodingConfig
from drumrnn.model.tracks import track_arrays, vocabulary_of
from drumrnn.training import distributed as ddp
from drumrnn.training.batches import epoch_plan, gather
from drumrnn.training.train import load_checkpoint
from drumrnn.training.train_config import TrainConfig
from tests.conftest import pattern_datasets
from tests.training.test_train import BAR_1, BAR_2


@pytest.fixture(scope="module")
def steps_data(tmp_path_factory):
    return pattern_datasets(tmp_path_factory.mktemp("ddp"), [BAR_1, BAR_2],
                            {"steps": EncodingConfig()})["steps"]


def test_device_auto_takes_a_visible_gpu_and_cuda_needs_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert ddp.select_device("auto") == torch.device("cpu")
    assert ddp.select_device("cpu") == torch.device("cpu")
    with pytest.raises(DrumrnnError, match="no CUDA GPU is visible"):
        ddp.select_device("cuda")
    assert ddp.select_precision("auto", torch.device("cpu")) is None
    with pytest.raises(DrumrnnError, match="fp16 needs a GPU"):
        ddp.select_precision("fp16", torch.device("cpu"))
    assert ddp.select_precision("bf16", torch.device("cpu")) == torch.bfloat16
    assert ddp.backend_for(torch.device("cpu")) == "gloo"

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert ddp.select_device("auto") == torch.device("cuda", 0)
    # each rank of a machine takes its own GPU
    assert ddp.select_device("cuda", ddp.World(rank=3, size=4, local_rank=3)) == \
        torch.device("cuda", 1)
    assert ddp.select_device("cpu") == torch.device("cpu")
    gpu = torch.device("cuda", 0)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert ddp.select_precision("auto", gpu) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert ddp.select_precision("auto", gpu) == torch.float16
    assert ddp.select_precision("fp32", gpu) is None
    assert ddp.backend_for(gpu) == "nccl"
    with pytest.raises(DrumrnnError, match="unknown device 'tpu'"):
        TrainConfig(device="tpu")


def test_world_from_torchrun_environment():
    assert ddp.world_from_env({}) == ddp.World(0, 1, 0)
    world = ddp.world_from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert (world.rank, world.size, world.local_rank, world.main) == (3, 4, 1, False)
    with pytest.raises(DrumrnnError, match="rank 4 is not in a world of 4"):
        ddp.world_from_env({"RANK": "4", "WORLD_SIZE": "4"})
    assert ddp.local_batch(64, world) == 16
    with pytest.raises(DrumrnnError, match="--batch 6 does not split evenly over 4"):
        ddp.local_batch(6, world)
    assert ddp.threads_per_rank(2, ddp.World(0, 2, 0)) == 1
    assert ddp.threads_per_rank(16, ddp.World(0, 4, 0)) == 4


def test_ranks_share_each_batch_and_count_its_targets(steps_data):
    dataset = load_dataset(steps_data)
    tracks = track_arrays(dataset.split("train"), vocabulary_of(dataset))
    plan = epoch_plan(tracks, batch=4, window=16, mode="stateful", seed=0, epoch=0)
    for rows, length in zip(plan.rows, plan.lengths):
        shares = [ddp.rank_rows(rows, ddp.World(r, 2, r)) for r in range(2)]
        assert np.array_equal(np.concatenate(shares), rows)  # the union is the whole batch
        mask = gather(tracks, rows, int(length))["mask"]
        assert ddp.batch_targets(tracks, rows, int(length)) == int(mask.sum())
    state = {"h": torch.arange(24.0).reshape(1, 4, 6), "c": torch.zeros(1, 4, 6),
             "memory": torch.ones(4, 3, 6), "valid": torch.zeros(4, 3, dtype=torch.bool)}
    parts = [ddp.slice_state(state, ddp.World(r, 2, r)) for r in range(2)]
    assert parts[1]["h"].shape == (1, 2, 6) and torch.equal(parts[1]["h"], state["h"][:, 2:])
    assert parts[0]["memory"].shape == (2, 3, 6)


def _train_args(data, out, steps):
    return ["train", str(data), "--out", str(out), "--hidden", "32", "--dropout", "0",
            "--mode", "stateful", "--batch", "4", "--window", "16", "--lr", "1e-2",
            "--max-steps", str(steps), "--eval-every", "1000", "--patience", "0",
            "--threads", "1", "--quiet"]


def _weights(run):
    return load_checkpoint(run / "checkpoint-last.pt")["model"]


def _assert_close(a, b):
    # gradients summed across processes differ from one process's in the last bits, and
    # Adam (lr 1e-2) turns a last-bit difference of a near-zero gradient into up to ~1e-4
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name], b[name], rtol=1e-4, atol=1e-4), name


def test_two_gloo_processes_equal_one_process_and_resume_on_one(steps_data, tmp_path):
    steps = 4
    assert main(_train_args(steps_data, tmp_path / "one", steps)) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "drumrnn", *_train_args(steps_data, tmp_path / "two", steps)],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # rank 0 alone reports and writes
    assert proc.stdout.count("stopped after 4 steps") == 1
    one, two = load_checkpoint(tmp_path / "one" / "checkpoint-last.pt"), \
        load_checkpoint(tmp_path / "two" / "checkpoint-last.pt")
    assert two["step"] == one["step"] == steps and two["tokens"] == one["tokens"]
    _assert_close(one["model"], two["model"])
    # the carried state of the whole batch is saved: any number of processes can go on
    assert two["carried"]["h"].shape == one["carried"]["h"].shape
    _assert_close(one["carried"], two["carried"])
    for run in ("one", "two"):
        assert main(["train", "--resume", str(tmp_path / run), "--max-steps", str(2 * steps),
                     "--quiet"]) == 0
    _assert_close(_weights(tmp_path / "one"), _weights(tmp_path / "two"))


def test_cuda_without_a_gpu_is_one_clear_error(steps_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code = main([*_train_args(steps_data, tmp_path / "run", 1), "--device", "cuda"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("drumrnn train: error: --device cuda: no CUDA GPU")


def test_bf16_autocast_trains_on_cpu(steps_data, tmp_path):
    from drumrnn.model.model_config import ModelConfig
    from drumrnn.training.train import Trainer

    cfg = TrainConfig(batch=4, window=32, lr=2e-2, eval_every=1000, max_steps=30, patience=0,
                      threads=1, precision="bf16", device="cpu")
    trainer = Trainer(steps_data, tmp_path / "run", ModelConfig("gru", hidden=32, embedding=8),
                      cfg)
    assert trainer.amp_dtype == torch.bfloat16
    result = trainer.run()
    # the repeating groove is learned in reduced precision too (uniform: ln 512 = 6.2 nats)
    assert result.best["val_loss"] < 2.5
