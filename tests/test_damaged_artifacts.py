"""Damaged model files, datasets and checkpoints: every command that reads one fails with
one line naming the file and what is wrong; none works on silently."""

import json
import shutil

import numpy as np
import pytest

from drumrnn.cli import main
from drumrnn.data.dataset import PrepareConfig, prepare
from drumrnn.model.model_config import ModelConfig
from drumrnn.model.model_file import content_header, load_model_file, save_model_file
from drumrnn.training.checkpoint import load_checkpoint, save_checkpoint
from drumrnn.training.train import Trainer
from drumrnn.training.train_config import TrainConfig
from tests.conftest import PATTERN_SPLIT, rock_beat, write_midi_file


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A prepared dataset and a run folder (model file, checkpoints) of a tiny GRU."""
    root = tmp_path_factory.mktemp("artifacts")
    src = root / "midi"
    src.mkdir()
    for i in range(6):
        write_midi_file(src / f"{i}.mid", rock_beat(4 + i))
    prepare(src, root / "data", PrepareConfig(split_fractions=PATTERN_SPLIT))
    Trainer(root / "data", root / "run",
            ModelConfig("gru", layers=1, hidden=16, embedding=8, position_embedding=4),
            TrainConfig(batch=2, window=16, max_steps=4, eval_every=2, patience=0,
                        threads=1)).run()
    return root


def one_line_error(capsys, argv, names) -> str:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1, err
    assert lines[0].startswith(f"drumrnn {argv[0]}: error: "), err
    assert names in lines[0], err
    return lines[0]


def flip_bits(data: bytes, n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    out = bytearray(data)
    for i in rng.integers(len(data) // 4, len(data), n):  # past the zip's first header
        out[i] ^= 1 << int(rng.integers(8))
    return bytes(out)


def resaved(path, model_file, weights):
    """``weights`` saved as a valid (checksummed) model file: only the content is wrong."""
    return save_model_file(path, content_header(model_file.header), weights)


MODEL_DAMAGE = {
    "truncated": lambda p, m: p.write_bytes(m.path.read_bytes()[:len(m.path.read_bytes()) // 2]),
    "empty": lambda p, m: p.write_bytes(b""),
    "one flipped bit": lambda p, m: p.write_bytes(flip_bits(m.path.read_bytes(), 1, 1)),
    "200 flipped bits": lambda p, m: p.write_bytes(flip_bits(m.path.read_bytes(), 200, 2)),
    "missing weight": lambda p, m: resaved(p, m, {k: v for k, v in m.weights.items()
                                                  if k != "embed.weight"}),
    "int64 weights": lambda p, m: resaved(p, m, {**m.weights, "head.weight":
                                                 m.weights["head.weight"].astype(np.int64)}),
    "NaN weight": lambda p, m: resaved(p, m, {**m.weights, "head.bias":
                                              np.full_like(m.weights["head.bias"], np.nan)}),
    "wrong shape": lambda p, m: resaved(p, m, {**m.weights, "head.weight":
                                               m.weights["head.weight"].T.copy()}),
    "bad header": lambda p, m: save_model_file(p, {**content_header(m.header),
                                                   "model": {"cell": "gru", "layers": "one"}},
                                               m.weights),
}
MESSAGES = {"truncated": "truncated or damaged", "empty": "is empty (0 bytes)",
            "missing weight": "weight 'embed.weight' is missing",
            "int64 weights": "dtype int64", "NaN weight": "NaN", "wrong shape": "has shape",
            "bad header": "invalid model header"}


@pytest.mark.parametrize("command", ["info", "generate", "evaluate"])
@pytest.mark.parametrize("damage", sorted(MODEL_DAMAGE))
def test_damaged_model_file(trained, tmp_path, capsys, damage, command):
    good = load_model_file(trained / "run" / "model.npz")
    path = tmp_path / "model.npz"
    MODEL_DAMAGE[damage](path, good)
    argv = {"info": ["info", path],
            "generate": ["generate", "--model", path, "--out", tmp_path / "gen"],
            "evaluate": ["evaluate", path, trained / "data", "--json", tmp_path / "e.json"]}
    line = one_line_error(capsys, argv[command], str(path))
    if damage in MESSAGES:
        assert MESSAGES[damage] in line
    assert not (tmp_path / "gen").exists() or not any((tmp_path / "gen").iterdir())
    assert not (tmp_path / "e.json").exists()


def test_a_version_1_model_file_without_checksum_still_loads(trained, tmp_path):
    good = load_model_file(trained / "run" / "model.npz")
    header = {**good.header, "format_version": 1}
    del header["payload_sha256"]
    blob = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(tmp_path / "v1.npz", __header__=blob, **good.weights)
    assert load_model_file(tmp_path / "v1.npz").header["format_version"] == 1


def _dataset_copy(trained, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(trained / "data", data)
    return data


def _manifest_edit(edit):
    def apply(data):
        manifest = json.loads((data / "manifest.json").read_text())
        edit(manifest)
        (data / "manifest.json").write_text(json.dumps(manifest))
    return apply


DATASET_DAMAGE = {
    "float32 tokens": ("train/00000/tokens.npy", lambda d: np.save(
        d / "train/00000/tokens.npy", np.load(d / "train/00000/tokens.npy").astype(np.float32))),
    "empty tokens": ("train/00000/tokens.npy", lambda d: (d / "train/00000/tokens.npy").write_bytes(b"")),
    "truncated tokens": ("train/00000/tokens.npy", lambda d: (d / "train/00000/tokens.npy").write_bytes(
        (d / "train/00000/tokens.npy").read_bytes()[:100])),
    "missing tokens": ("tokens.npy", lambda d: (d / "train/00000/tokens.npy").unlink()),
    "tokens out of the vocabulary": ("train/00000/tokens.npy", lambda d: np.save(
        d / "train/00000/tokens.npy", np.load(d / "train/00000/tokens.npy") + 600)),
    "track_starts past the end": ("train/00000/track_starts.npy", lambda d: np.save(
        d / "train/00000/track_starts.npy", np.load(d / "train/00000/track_starts.npy") + 10**6)),
    "negative track_starts": ("train/00000/track_starts.npy", lambda d: np.save(
        d / "train/00000/track_starts.npy", np.load(d / "train/00000/track_starts.npy") - 5)),
    "2-D track_starts": ("train/00000/track_starts.npy", lambda d: np.save(
        d / "train/00000/track_starts.npy", np.load(d / "train/00000/track_starts.npy")[:, None])),
    "manifest without files": ("manifest.json", _manifest_edit(lambda m: m.pop("files"))),
    "manifest without splits": ("manifest.json", _manifest_edit(lambda m: m.pop("splits"))),
    "file count as text": ("manifest.json", _manifest_edit(
        lambda m: m["splits"]["train"].update(files="3"))),
    "vocabulary size missing": ("manifest.json", _manifest_edit(
        lambda m: m["vocabulary"].pop("size"))),
    "files of the wrong type": ("manifest.json", _manifest_edit(
        lambda m: m.update(files={"a": 1}))),
    "manifest not JSON": ("manifest.json", lambda d: (d / "manifest.json").write_text("{")),
    "empty manifest": ("manifest.json", lambda d: (d / "manifest.json").write_bytes(b"")),
}


@pytest.mark.parametrize("command", ["evaluate", "train"])
@pytest.mark.parametrize("damage", sorted(DATASET_DAMAGE))
def test_damaged_dataset(trained, tmp_path, capsys, damage, command):
    data = _dataset_copy(trained, tmp_path)
    named, apply = DATASET_DAMAGE[damage]
    apply(data)
    argv = {"evaluate": ["evaluate", trained / "run" / "model.npz", data, "--split", "train"],
            "train": ["train", data, "--out", tmp_path / "run", "--max-steps", "2",
                      "--hidden", "8", "--threads", "1", "--quiet"]}
    one_line_error(capsys, argv[command], named)


def _checkpoint_copy(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    return run, run / "checkpoint-last.pt"


def _resaved_checkpoint(edit):
    def apply(path):
        ckpt = load_checkpoint(path)
        edit(ckpt)
        save_checkpoint(path, ckpt)
    return apply


CHECKPOINT_DAMAGE = {
    "empty": lambda p: p.write_bytes(b""),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:len(p.read_bytes()) // 2]),
    "one flipped bit": lambda p: p.write_bytes(flip_bits(p.read_bytes(), 1, 3)),
    "200 flipped bits": lambda p: p.write_bytes(flip_bits(p.read_bytes(), 200, 4)),
    "missing optimizer": _resaved_checkpoint(lambda c: c.pop("optimizer")),
    "step as text": _resaved_checkpoint(lambda c: c.update(step="7")),
    "NaN weight": _resaved_checkpoint(lambda c: c["model"]["head.bias"].fill_(float("nan"))),
    "wrong shape": _resaved_checkpoint(lambda c: c["model"].update(
        {"head.weight": c["model"]["head.weight"].T.clone()})),
}


@pytest.mark.parametrize("damage", sorted(CHECKPOINT_DAMAGE))
def test_damaged_checkpoint(trained, tmp_path, capsys, damage):
    run, path = _checkpoint_copy(trained, tmp_path)
    CHECKPOINT_DAMAGE[damage](path)
    one_line_error(capsys, ["train", "--resume", run, "--max-steps", "6", "--quiet"], str(path))
