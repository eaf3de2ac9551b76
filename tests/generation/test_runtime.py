"""The NumPy runtime computes the same logits as the PyTorch model (to 1e-5)."""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest
import torch

from drumrnn.data.encoding import EncodingConfig
from drumrnn.data.kits import get_kit
from drumrnn.generation.runtime import NumpyDrumModel
from drumrnn.model.feel import feel_inputs
from drumrnn.model.labels import LabelVocab
from drumrnn.model.model_config import ModelConfig, Vocabulary
from drumrnn.model.model_file import load_model_file, save_model_file
from drumrnn.training.model import Batch, DrumLM
from drumrnn.training.train import torch_model

STEPS = Vocabulary("steps", size=512, steps_per_bar=16)
EVENTS = Vocabulary("events", n_drums=10, deltas=(0, 3, 6, 12, 24, 48, 96))


def random_model(cfg: ModelConfig, vocab: Vocabulary, path, dtype=np.float32):
    torch.manual_seed(1)
    model = DrumLM(cfg, vocab)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.3, 0.3)
        if cfg.dense:
            model.dense[1].running_mean.uniform_(-0.5, 0.5)
            model.dense[1].running_var.uniform_(0.5, 2.0)
    header = {"model": cfg.to_dict(), "vocabulary": vocab.to_dict(),
              "encoding": EncodingConfig(vocab.encoding).to_dict(),
              "kit": get_kit("9").to_dict()}
    if vocab.label_sizes:
        header["labels"] = LabelVocab(tuple(f"style{i}" for i in range(vocab.label_sizes[0] - 1))
                                      ).to_dict()
    weights = {k: v.numpy() for k, v in model.state_dict().items()}
    loaded = load_model_file(save_model_file(path, header, weights, dtype=dtype))
    # the torch model gets exactly the stored (possibly float16-rounded) weights
    return torch_model(loaded), loaded


# the runtime with NumPy calls, and with the kernels where numba is installed
COMPILED = (False, True) if importlib.util.find_spec("numba") else (False,)


def compare(cfg, vocab, tmp_path, dtype=np.float32, B=3, T=40, shared_schedule=False):
    """``shared_schedule``: every row at the same index and position, passed to the runtime
    as one :meth:`schedule` row for the batch (as generation does)."""
    model, loaded = random_model(cfg, vocab, tmp_path / "m.npz", dtype)
    rng = np.random.default_rng(0)
    n_in = vocab.n_drums if vocab.encoding == "events" else vocab.size
    tokens = rng.integers(0, n_in, (B, T))
    deltas = rng.integers(0, max(len(vocab.deltas), 1), (B, T))
    index = np.tile(np.arange(T), (B, 1)) + 5
    position = rng.integers(0, 16, (1 if shared_schedule else B, T)).repeat(
        B if shared_schedule else 1, axis=0)
    lookback = rng.integers(0, 2, (B, T, 2))
    batch = Batch(torch.from_numpy(tokens), torch.from_numpy(tokens), torch.ones(B, T),
                  torch.ones(B, dtype=torch.bool), torch.from_numpy(index),
                  torch.from_numpy(position), torch.from_numpy(lookback).float(),
                  torch.from_numpy(deltas), torch.from_numpy(deltas))
    with torch.no_grad():
        logits, delta_logits, _ = model(batch, model.initial_state(B))
    expected = logits.numpy() if delta_logits is None else np.concatenate(
        [logits.numpy(), delta_logits.numpy()], axis=-1)
    outputs = []
    for compiled in COMPILED:
        runtime = NumpyDrumModel(loaded, compiled)
        state = runtime.start(B)
        if shared_schedule:
            rows = runtime.schedule(index[0], position[0])
            got = np.stack([runtime.step(state, tokens[:, t], extra=rows[t],
                                         lookback=lookback[:, t], deltas=deltas[:, t])
                            for t in range(T)], axis=1)
        else:
            got = np.stack([runtime.step(state, tokens[:, t], index=index[:, t],
                                         next_position=position[:, t], lookback=lookback[:, t],
                                         deltas=deltas[:, t]) for t in range(T)], axis=1)
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
        outputs.append(got)
    for got in outputs[1:]:  # the kernels do the NumPy code's arithmetic: to the bit
        np.testing.assert_array_equal(got, outputs[0])


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("vocab", [STEPS, EVENTS], ids=["steps", "events"])
@pytest.mark.parametrize("embedding", [0, 12])
def test_logits_equal_pytorch_for_every_cell_and_encoding(tmp_path, cell, vocab, embedding):
    compare(ModelConfig(cell, layers=2, hidden=24, embedding=embedding), vocab, tmp_path)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("B", [1, 4])
def test_logits_with_one_schedule_row_for_the_batch(tmp_path, cell, B):
    cfg = ModelConfig(cell, layers=2, hidden=16, embedding=8, counter_bits=6,
                      position_embedding=4, lookback=True)
    compare(cfg, STEPS, tmp_path, B=B, shared_schedule=True)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_logits_with_every_extra_input_attention_and_dense(tmp_path, cell):
    cfg = ModelConfig(cell, layers=3, hidden=16, embedding=8, counter_bits=6,
                      position_embedding=4, lookback=True, attention=6, dense=12)
    compare(cfg, STEPS, tmp_path, T=50)


def test_float16_storage_keeps_logits_equal(tmp_path):
    cfg = ModelConfig("lstm", layers=2, hidden=32, embedding=16, position_embedding=8,
                      counter_bits=6, lookback=True)
    compare(cfg, STEPS, tmp_path, dtype=np.float16)
    assert load_model_file(tmp_path / "m.npz").header["weights_dtype"] == "float16"


def test_runtime_and_generation_never_import_torch(tmp_path):
    cfg = ModelConfig("gru", layers=1, hidden=16, embedding=8)
    random_model(cfg, STEPS, tmp_path / "m.npz")
    code = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, Block())
from drumrnn.cli import main
sys.exit(main(["generate", "--model", r"{tmp_path / 'm.npz'}", "--bars", "2",
               "--out", r"{tmp_path / 'out'}", "--seed", "1"]))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "drums_1.mid").is_file()


LABELLED = Vocabulary("steps", size=512, steps_per_bar=16, label_sizes=(5, 3, 9))


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("dense", [0, 12])
@pytest.mark.parametrize("copy", [False, True])
def test_labels_feel_inputs_and_feel_heads_equal_pytorch(tmp_path, cell, dense, copy):
    """Per-step labels (switching mid-sequence, as --fill-every does; with the copy gates,
    also their biases on the token scores), the previous step's feel as input (and, with
    the copy gates, the running feel), the tokens a bar and two bars back (and the copy
    gates onto them, both onto one token in row 0), and the feel heads teacher-forced on
    the next token."""
    cfg = ModelConfig(cell, layers=2, hidden=16, embedding=8, counter_bits=6,
                      position_embedding=4, lookback=True, dense=dense, labels=5,
                      label_bias=copy, feel=10, feel_bins=6, feel_context=copy, bar_ago=True,
                      bar_copy=copy, drum_copy=copy)
    model, loaded = random_model(cfg, LABELLED, tmp_path / "m.npz")
    B, T, C = 3, 30, 9
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 512, (B, T + 1))
    index = np.tile(np.arange(T), (B, 1))
    position = rng.integers(0, 16, (B, T))
    lookback = rng.integers(0, 2, (B, T, 2))
    labels = np.stack([rng.integers(0, n, (B, T)) for n in (5, 3, 9)], axis=-1)
    feel_in = rng.uniform(-1, 1, (B, T, 2 * C + 2 * copy)).astype(np.float32)
    bins = rng.integers(-1, 6, (B, T, C))
    ago = rng.integers(0, 513, (B, T, 2))  # 512: no token (before the track)
    ago[0, :, 1] = ago[0, :, 0]
    batch = Batch(torch.from_numpy(tokens[:, :-1]), torch.from_numpy(tokens[:, 1:]),
                  torch.ones(B, T), torch.ones(B, dtype=torch.bool), torch.from_numpy(index),
                  torch.from_numpy(position), torch.from_numpy(lookback).float(),
                  labels=torch.from_numpy(labels), feel_inputs=torch.from_numpy(feel_in),
                  velocity_targets=torch.from_numpy(bins), offset_targets=torch.from_numpy(bins),
                  bar_ago=torch.from_numpy(ago))
    with torch.no_grad():
        logits, _, _ = model(batch, model.initial_state(B))
        velocity, offset = (x.numpy() for x in model.feel_logits)
    outputs = []
    for compiled in COMPILED:
        runtime = NumpyDrumModel(loaded, compiled)
        state = runtime.start(B)
        outputs.append([])
        for t in range(T):
            got = runtime.step(state, tokens[:, t], index=index[:, t],
                               next_position=position[:, t], lookback=lookback[:, t],
                               labels=runtime.label_rows(labels[:, t]), feel_in=feel_in[:, t],
                               bar_ago=ago[:, t], bias=runtime.label_bias_rows(labels[:, t]))
            np.testing.assert_allclose(got, logits[:, t].numpy(), atol=1e-5, rtol=0)
            feel = runtime.feel(state, tokens[:, t + 1])  # (2, C, bins, B)
            np.testing.assert_allclose(feel[0].transpose(2, 0, 1), velocity[:, t], atol=1e-5,
                                       rtol=0)
            np.testing.assert_allclose(feel[1].transpose(2, 0, 1), offset[:, t], atol=1e-5,
                                       rtol=0)
            outputs[-1].append((got.copy(), feel.copy()))
    for run in outputs[1:]:  # the kernels do the NumPy code's arithmetic: to the bit
        for (got, feel), (want, want_feel) in zip(run, outputs[0]):
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(feel, want_feel)


@pytest.mark.parametrize("compiled", COMPILED)
@pytest.mark.parametrize("cell,copy", [("gru", False), ("gru", True), ("lstm", True)])
def test_step_codes_equals_step(tmp_path, cell, copy, compiled):
    """Generation's inputs as rows of one table (token, bar-ago tokens, struck drums' feel
    bins; or the feel inputs by class) give step's logits and feel logits, in a batch and
    at batch 1 (feel_one); with the copy gates, the running feel beside them."""
    cfg = ModelConfig(cell, layers=1, hidden=16, embedding=8, counter_bits=6,
                      position_embedding=4, lookback=True, labels=5, feel=10, feel_bins=6,
                      feel_context=copy, bar_ago=True, bar_copy=copy, drum_copy=copy)
    _, loaded = random_model(cfg, LABELLED, tmp_path / "m.npz")
    runtime = NumpyDrumModel(loaded, compiled)
    B, T, C, bins = 3, 20, 9, 6
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 512, (B, T + 1))
    lookback = rng.integers(0, 4, (B, T))
    ago = rng.integers(0, 513, (B, T, 2))
    vel = np.where(rng.random((B, T, C)) < 0.3, rng.integers(0, bins, (B, T, C)), -1)
    off = np.where(vel >= 0, rng.integers(0, bins, (B, T, C)), -1)
    schedule = runtime.schedule(np.arange(T), np.arange(T) % 16) \
        + runtime.label_rows(np.array([1, 2, 3]))
    states = [runtime.start(B) for _ in range(3)] + [runtime.start(1)]
    none = runtime.ago_at[0] + 512  # a zero row: pads the rows' codes to one length
    context = rng.uniform(-1, 1, (T, B, 2)).astype(np.float32) if copy else [None] * T
    for t in range(T):
        feel_in = feel_inputs(vel[:, t], off[:, t], bins)
        want = runtime.step(states[0], tokens[:, t], lookback=lookback[:, t], extra=schedule[t],
                            feel_in=feel_in if not copy else np.hstack([feel_in, context[t]]),
                            bar_ago=ago[:, t])
        by_class = np.stack([vel[:, t], off[:, t]], axis=-1)  # (B, C, 2)
        feel_codes = np.where(by_class >= 0, runtime.feel_at + np.arange(2 * C).reshape(C, 2)
                              * bins + by_class, none).reshape(B, -1)
        codes = np.vstack([4 * tokens[:, t] + lookback[:, t], runtime.ago_at[0] + ago[:, t, 0],
                           runtime.ago_at[1] + ago[:, t, 1], feel_codes.T])
        values = feel_in.reshape(B, 2, C).transpose(0, 2, 1).reshape(B, -1)
        ctx = context[t]
        got = [runtime.step_codes(states[1], codes, schedule[t], bar_ago=ago[:, t], context=ctx),
               runtime.step_codes(states[2], codes[:3], schedule[t], values, ago[:, t], ctx),
               runtime.step_codes(states[3], codes[:, :1], schedule[t], bar_ago=ago[:1, t],
                                  context=None if ctx is None else ctx[:1])]
        for logits in got:
            np.testing.assert_allclose(logits, want[:len(logits)], atol=1e-5, rtol=0)
        feel = runtime.feel(states[0], tokens[:, t + 1])
        for state in states[1:3]:
            np.testing.assert_allclose(runtime.feel(state, tokens[:, t + 1]), feel, atol=1e-5)
        one = runtime.feel_one(states[3], int(tokens[0, t + 1])).reshape(C, 2, bins)
        np.testing.assert_allclose(one.transpose(1, 0, 2), feel[..., 0], atol=1e-5)


def test_a_model_file_without_labels_or_feel_keeps_its_header(tmp_path):
    """Files of earlier models (no label sizes, no feel fields) load with both off."""
    cfg = ModelConfig("gru", layers=1, hidden=8, embedding=4)
    _, loaded = random_model(cfg, STEPS, tmp_path / "m.npz")
    assert "label_sizes" not in loaded.header["vocabulary"]
    old = {k: v for k, v in loaded.header["model"].items() if k not in ("labels", "feel", "feel_bins")}
    assert ModelConfig.from_dict(old).labels == 0 and ModelConfig.from_dict(old).feel == 0
    runtime = NumpyDrumModel(loaded)
    assert not runtime.has_labels and not runtime.has_feel


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_events_velocity_head_equals_pytorch(tmp_path, cell):
    """Events models: the previous event's velocity as input and a velocity head for the
    event's drum, teacher-forced on the next event."""
    cfg = ModelConfig(cell, layers=1, hidden=16, embedding=8, feel=6, feel_bins=5)
    model, loaded = random_model(cfg, EVENTS, tmp_path / "m.npz")
    B, T = 3, 25
    rng = np.random.default_rng(0)
    drums = rng.integers(0, 10, (B, T + 1))
    deltas = rng.integers(0, len(EVENTS.deltas), (B, T + 1))
    feel_in = rng.uniform(0, 1, (B, T, 1)).astype(np.float32)
    bins = np.where(drums[:, 1:, None] == 9, -1, rng.integers(0, 5, (B, T, 1)))
    batch = Batch(torch.from_numpy(drums[:, :-1]), torch.from_numpy(drums[:, 1:]),
                  torch.ones(B, T), torch.ones(B, dtype=torch.bool),
                  torch.from_numpy(np.tile(np.arange(T), (B, 1))),
                  delta_inputs=torch.from_numpy(deltas[:, :-1]),
                  delta_targets=torch.from_numpy(deltas[:, 1:]),
                  feel_inputs=torch.from_numpy(feel_in), velocity_targets=torch.from_numpy(bins))
    with torch.no_grad():
        logits, delta_logits, _ = model(batch, model.initial_state(B))
        velocity, offset = model.feel_logits
    assert offset is None and velocity.shape == (B, T, 1, 5)
    runtime = NumpyDrumModel(loaded)
    state = runtime.start(B)
    for t in range(T):
        got = runtime.step(state, drums[:, t], index=t, deltas=deltas[:, t], feel_in=feel_in[:, t])
        want = np.concatenate([logits[:, t].numpy(), delta_logits[:, t].numpy()], axis=-1)
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
        feel = runtime.feel(state, drums[:, t + 1])  # (1, 1, bins, B)
        np.testing.assert_allclose(feel[0].transpose(2, 0, 1), velocity[:, t], atol=1e-5, rtol=0)


@pytest.mark.parametrize("feel_rate,label_bias", [(1 / 32, False), (1 / 128, True)])
def test_a_piece_start_window_reads_what_generation_reads_playing_that_piece(tmp_path, feel_rate,
                                                                               label_bias):
    """Training's piece starts (a silent lead step at a bar line, nothing before it) give
    the model exactly the inputs conditioned generation gives it when it plays the same
    piece teacher-forced: same logits at every step, from the track's first bar and from a
    bar inside it, whatever the running feel's rate, with or without label biases."""
    from drumrnn.data.steps import bar_token
    from drumrnn.generation.conditioned import StepRun, run_steps
    from drumrnn.generation.sampling import SamplingConfig, VariationRngs
    from drumrnn.model.feel import running_feel, step_feel
    from drumrnn.model.tracks import TrackArrays, bar_ago_ids
    from drumrnn.training.batches import gather
    from drumrnn.training.train import to_batch

    cfg = ModelConfig("gru", layers=1, hidden=16, embedding=8, counter_bits=6,
                      position_embedding=4, lookback=True, labels=5, feel=10, feel_bins=6,
                      feel_context=True, feel_rate=feel_rate, bar_ago=True, bar_copy=True,
                      drum_copy=True, label_bias=label_bias)
    model, loaded = random_model(cfg, LABELLED, tmp_path / "m.npz")
    rng = np.random.default_rng(3)
    n, C, bins, T = 90, 9, 6, 40
    ids = np.where(rng.random(n) < 0.3, 0, rng.integers(1, 512, n))
    ids[32:48] = ids[16:32]  # a repeated bar: lookback flags and copies to read
    index = np.arange(n)
    struck = (ids[:, None] >> np.arange(C)) & 1 > 0
    vel = np.where(struck, rng.integers(0, bins, (n, C)), -1)
    off = np.where(struck, rng.integers(0, bins, (n, C)), -1)
    feel = feel_inputs(vel, off, bins)
    lookback = np.stack([(index >= d) & (ids == np.roll(ids, d)) for d in (16, 32)], 1)
    labels = np.tile([2, 1, 4], (n, 1))
    tracks = TrackArrays(ids, np.array([0, n]), index, index % 16, lookback.astype(np.float32),
                         labels=labels, velocity_bins=vel, offset_bins=off,
                         feel_in=np.hstack([feel, running_feel(*step_feel(feel, C),
                                                               rate=feel_rate)]),
                         bar_ago=bar_ago_ids(ids, index, STEPS), feel_context=True,
                         feel_rate=feel_rate, bar_steps=16, bar_slots=16, none_id=512)
    rows = np.array([[0, -1, 2], [0, 15, 2]])  # pieces from bar 0 and from bar 1
    with torch.no_grad():
        want, _, _ = model(to_batch(gather(tracks, rows, T), None), model.initial_state(2))
    runtime = NumpyDrumModel(loaded)
    step_codes, got = runtime.step_codes, []

    def recorded(*args, **kwargs):
        logits = step_codes(*args, **kwargs)
        got.append(logits[0].copy())
        return logits

    runtime.step_codes = recorded
    for row, first in enumerate((0, 16)):
        got.clear()
        piece = slice(first, first + T)
        lead = np.full((1, C), -1)
        run = StepRun(np.r_[0, ids[piece]][None], np.r_[lead, vel[piece]][None].astype(np.int8),
                      np.r_[lead, off[piece]][None].astype(np.int8), np.zeros(T + 1, bool),
                      np.r_[15, index[piece] % 16], np.arange(T + 1) - 1,
                      np.tile([2, 1, 4], (T + 1, 1)), T + 1, T + 1, force_tokens=True)
        run_steps(runtime, run, SamplingConfig(), bar_token(get_kit("9")), False,
                  VariationRngs([np.random.default_rng(0)]))
        np.testing.assert_allclose(np.stack(got), want[row].numpy(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("bins", [7, 16])
def test_a_variation_comes_back_alone_with_any_number_of_feel_bins(tmp_path, bins):
    """The batch sums feel inputs in float32; the batch-1 loop must round as it does (7 bins:
    centres that are not dyadic)."""
    from drumrnn.generation.generate import DrumGenerator, GenerateConfig

    cfg = ModelConfig("gru", layers=1, hidden=16, embedding=8, counter_bits=6,
                      position_embedding=4, lookback=True, labels=5, feel=10, feel_bins=bins,
                      feel_context=True, bar_ago=True, bar_copy=True, drum_copy=True)
    _, loaded = random_model(cfg, LABELLED, tmp_path / "m.npz")
    for compiled in COMPILED:
        generator = DrumGenerator(loaded, compiled)
        batch = generator.generate(GenerateConfig(bars=6, num=3, seed=2))
        alone = generator.generate(GenerateConfig(bars=6, seed=2, variation=3))[0]
        for name in ("quarters", "pitches", "velocities"):
            assert np.array_equal(getattr(batch[-1], name), getattr(alone, name))
