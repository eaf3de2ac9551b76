"""Label dropout in training windows, feel targets, and the feel loss."""

import dataclasses

import numpy as np
import pytest
import torch

from drumrnn.core.errors import DrumrnnError
from drumrnn.model.feel import feel_inputs, offset_bins, velocity_bins
from drumrnn.model.model_config import ModelConfig, Vocabulary
from drumrnn.model.tracks import TrackArrays
from drumrnn.training.batches import gather
from drumrnn.training.model import DrumLM, feel_loss
from drumrnn.training.train import to_batch


def tracks_with_labels(n_tracks=40, length=20):
    starts = np.arange(n_tracks + 1) * length
    n = int(starts[-1])
    labels = np.repeat(np.stack([np.arange(n_tracks) % 5 + 1, np.full(n_tracks, 2),
                                 np.full(n_tracks, 3)], 1), length, axis=0)
    vel = np.full((n, 9), -1)
    vel[::2, 0] = 3
    off = np.where(vel >= 0, 7, -1)
    return TrackArrays(np.where(vel[:, 0] >= 0, 1, 0), starts, np.arange(n) % length,
                       np.arange(n) % 16, np.zeros((n, 2), np.float32), labels=labels,
                       velocity_bins=vel, offset_bins=off, feel_in=feel_inputs(vel, off, 16))


def test_label_dropout_replaces_whole_labels_of_a_window_by_unknown():
    tracks = tracks_with_labels()
    rows = np.stack([np.arange(40), np.zeros(40, int), np.ones(40, int)], 1)
    kept = gather(tracks, rows, 10)["labels"]
    assert (kept > 0).all() and (gather(tracks, rows, 10, 1.0, np.random.default_rng(0))
                                 ["labels"] == 0).all()
    half = gather(tracks, rows, 10, 0.5, np.random.default_rng(0))["labels"]
    # each label of a window is kept or dropped over the whole window, independently
    assert ((half == 0).all(axis=1) | (half == kept).all(axis=1)).all()
    dropped = (half == 0).all(axis=1).mean(axis=0)
    assert (dropped > 0.25).all() and (dropped < 0.75).all()


def test_feel_targets_are_the_next_steps_bins_and_padding_predicts_none():
    tracks = tracks_with_labels()
    rows = np.array([[0, 15, 1], [-1, 0, 1]])  # near a track's end, and a padding row
    arrays = gather(tracks, rows, 8)
    assert (arrays["velocity_targets"][1] == -1).all()
    assert arrays["velocity_targets"][0, 0, 0] == 3 and arrays["velocity_targets"][0, 1, 0] == -1
    assert (arrays["velocity_targets"][0, 4:] == -1).all()  # past the track's end
    assert np.allclose(arrays["feel_inputs"][0, 1], tracks.feel_in[16])


def test_bins_cover_velocities_and_offsets_and_feel_loss_counts_struck_drums_only():
    assert velocity_bins(np.array([1, 8, 127]), 16).tolist() == [0, 1, 15]
    assert offset_bins(np.array([-0.6, -0.5, 0.0, 0.49, 2.0]), 16).tolist() == [0, 0, 8, 15, 15]
    vocab = Vocabulary("steps", size=512, label_sizes=(6, 3, 9))
    model = DrumLM(ModelConfig("gru", layers=1, hidden=8, embedding=4, labels=2, feel=4), vocab)
    tracks = tracks_with_labels()
    rows = np.stack([np.arange(4), np.zeros(4, int), np.ones(4, int)], 1)
    batch = to_batch(gather(tracks, rows, 8), "cpu")
    model(batch, model.initial_state(4))
    velocity, offset = model.feel_logits
    struck = batch.velocity_targets >= 0
    want = (torch.nn.functional.cross_entropy(velocity[struck], batch.velocity_targets[struck])
            + torch.nn.functional.cross_entropy(offset[struck], batch.offset_targets[struck]))
    assert torch.isclose(feel_loss(model, batch), want)
    assert struck.sum() == 4 * 4  # every other step strikes the kick


def test_random_windows_are_drawn_in_proportion_to_steps_not_tracks():
    """The GMD's 519 short fills must not outweigh its long beats (4 % of the steps)."""
    from drumrnn.training.batches import epoch_plan

    lengths = np.r_[np.full(10, 1000), np.full(100, 20)]  # 10 long beats, 100 short fills
    starts = np.r_[0, np.cumsum(lengths)]
    n = int(starts[-1])
    tracks = TrackArrays(np.zeros(n, np.int64), starts, np.zeros(n, np.int64))
    plan = epoch_plan(tracks, batch=64, window=16, mode="random", seed=0, epoch=0)
    short = (plan.rows[..., 0] >= 10).mean()
    assert abs(short - 100 * 19 / (10 * 999 + 100 * 19)) < 0.03  # ~16 %, not ~91 %


def test_piece_starts_move_a_share_of_random_windows_to_a_bar_line_after_a_lead_step():
    """Such a window predicts a bar's first step from a silent lead step (offset -1: the
    track's first bar); the others, and a plan without piece starts, are as before."""
    from drumrnn.training.batches import epoch_plan

    lengths = np.r_[np.full(10, 300), 40]  # the last track opens 4 steps into a bar
    starts = np.r_[0, np.cumsum(lengths)]
    n = int(starts[-1])
    index = np.r_[np.arange(3000) % 300, np.arange(40)]
    position = np.r_[index[:3000] % 16, (np.arange(40) + 4) % 16]
    tracks = TrackArrays(np.ones(n, np.int64), starts, index, position,
                         np.zeros((n, 2), np.float32))
    plain = epoch_plan(tracks, batch=64, window=16, mode="random", seed=0, epoch=0)
    plan = epoch_plan(tracks, batch=64, window=16, mode="random", seed=0, epoch=0,
                      piece_starts=0.25)
    track, offset, reset = plan.rows.reshape(-1, 3).T
    lead = reset == 2
    assert 0.2 < lead.mean() < 0.3 and set(reset.tolist()) == {1, 2}
    assert (offset[~lead] == plain.rows.reshape(-1, 3)[~lead, 1]).all()
    first = starts[track] + np.maximum(offset + 1, 0)  # the step a window predicts first
    at_bar = position[first] == 0
    assert at_bar[lead & (track < 10)].all()
    assert (at_bar | (offset == -1))[lead].all() and (offset[lead] == -1).any()
    out = gather(tracks, plan.rows[0], 16)
    rows = plan.rows[0, :, 2] == 2
    assert (out["inputs"][rows, 0] == 0).all() and (out["index"][rows, 0] == -1).all()
    assert (out["inputs"][~rows, 0] == 1).all()


def test_style_balance_draws_each_style_as_often_as_its_power_of_the_steps():
    """Nine rock tracks and one funk track of equal length: funk gets 10% of the windows in
    proportion to length, half of them with full balance, 25% at 0.5 (1/3 : 1 weights)."""
    from drumrnn.training.batches import epoch_plan

    lengths = np.full(10, 200)
    starts = np.r_[0, np.cumsum(lengths)]
    n = int(starts[-1])
    labels = np.zeros((n, 3), np.int64)
    labels[:, 0] = np.repeat([1] * 9 + [2], 200)
    tracks = TrackArrays(np.ones(n, np.int64), starts, np.zeros(n, np.int64), labels=labels)
    plain = epoch_plan(tracks, batch=4096, window=16, mode="random", seed=0, epoch=0)
    for balance, funk in ((0.0, 0.1), (0.5, 0.25), (1.0, 0.5)):
        plan = epoch_plan(tracks, batch=4096, window=16, mode="random", seed=0, epoch=0,
                          style_balance=balance)
        assert abs((plan.rows[..., 0] == 9).mean() - funk) < 0.03
        if not balance:
            assert (plan.rows == plain.rows).all()
    with pytest.raises(DrumrnnError, match="style balance needs a model that reads labels"):
        epoch_plan(dataclasses.replace(tracks, labels=None), batch=8, window=16, mode="random",
                   seed=0, epoch=0, style_balance=1.0)


def test_bar_ago_ids_are_the_tokens_one_and_two_bars_before_the_predicted_step():
    from drumrnn.model.tracks import bar_ago_ids

    vocab = Vocabulary("steps", size=512, steps_per_bar=4)
    ids = np.r_[np.arange(10), np.arange(100, 106)]  # two tracks: 10 and 6 steps
    index = np.r_[np.arange(10), np.arange(6)]
    ago = bar_ago_ids(ids, index, vocab)
    # token 4 of the first track predicts token 5: a bar before is token 1, two bars: none
    assert ago[4].tolist() == [1, 512] and ago[8].tolist() == [5, 1]
    assert ago[3].tolist() == [0, 512] and ago[2].tolist() == [512, 512]
    assert ago[10 + 3].tolist() == [100, 512]  # never reaches into the track before
    bar = Vocabulary("steps", size=513, steps_per_bar=4, bar_token=512)
    assert bar.bar_slots == 5 and bar_ago_ids(ids, index, bar)[4].tolist() == [0, 513]


def test_a_window_from_a_zero_state_sees_no_bar_ago_or_lookback_before_it():
    """What a fresh window (reset, inside a track) reads is what generation reads at a
    piece's start: no tokens a bar or two back, no repeat flags, until its own bars."""
    vocab = Vocabulary("steps", size=512, steps_per_bar=4)
    ids = np.arange(20) % 3  # one track, a 3-step cycle: flags set where bars repeat
    starts = np.array([0, 20])
    index = np.arange(20)
    from drumrnn.model.tracks import bar_ago_ids

    lookback = np.stack([index >= 4, index >= 8], 1).astype(np.float32)  # any pattern
    tracks = TrackArrays(ids, starts, index, index % 4, lookback,
                         bar_ago=bar_ago_ids(ids, index, vocab), bar_steps=4, bar_slots=4,
                         none_id=512)
    rows = np.array([[0, 6, 1], [0, 6, 0], [0, 0, 1]])  # fresh inside, carried, track start
    out = gather(tracks, rows, 10)
    fresh, carried, start = out["bar_ago"]
    # row 0 predicts steps 7..16 of the track; a bar back reaches the window from step 10 on
    assert fresh[:, 0].tolist() == [512] * 3 + ids[6:13].tolist()
    assert fresh[:, 1].tolist() == [512] * 7 + ids[6:9].tolist()
    assert carried.tolist() == tracks.bar_ago[6:16].tolist()
    assert start.tolist() == tracks.bar_ago[0:10].tolist()
    flags = out["lookback"]
    assert flags[0, :, 0].tolist() == [0] * 4 + [1] * 6 and flags[0, :, 1].tolist() == [0] * 8 + [1] * 2
    assert flags[1].tolist() == lookback[6:16].tolist()


def test_running_feel_is_a_decaying_mean_of_the_struck_steps_restarting_with_a_piece():
    from drumrnn.model.feel import CONTEXT_RATE, running_feel

    means = np.array([[0.8, 0.5], [0.0, 0.0], [0.4, -0.5], [0.6, 0.1]])
    struck = np.array([True, False, True, True])
    out = running_feel(means, struck, np.array([False, False, False, True]))
    keep = 1 - CONTEXT_RATE
    assert np.allclose(out[0], [0.8, 0.5]) and np.allclose(out[1], out[0])  # silence keeps it
    assert np.allclose(out[2], (keep * means[0] + means[2]) / (keep + 1))  # recent weigh more
    assert np.allclose(out[3], means[3])  # a new piece forgets the last one
    assert not running_feel(means, np.zeros(4, bool)).any()  # nothing struck: 0
    from drumrnn.model.feel import half_life

    for rate in (CONTEXT_RATE, 1 / 128):  # an old step weighs half after a half-life
        assert np.isclose((1 - rate) ** half_life(rate), 0.5)
    slow = running_feel(means, struck, rate=1 / 128)  # a longer memory: older steps count more
    assert np.allclose(slow[2], ((1 - 1 / 128) * means[0] + means[2]) / (2 - 1 / 128))


def test_a_window_from_a_zero_state_has_its_own_running_feel():
    from drumrnn.model.feel import running_feel, step_feel

    rng = np.random.default_rng(0)
    n, C, bins = 60, 9, 16
    vel = np.where(rng.random((n, C)) < 0.3, rng.integers(0, bins, (n, C)), -1)
    off = np.where(vel >= 0, rng.integers(0, bins, (n, C)), -1)
    base = feel_inputs(vel, off, bins)
    context = running_feel(*step_feel(base, C))
    tracks = TrackArrays(np.zeros(n, np.int64), np.array([0, n]), np.arange(n),
                         velocity_bins=vel, offset_bins=off,
                         feel_in=np.hstack([base, context]), feel_context=True)
    out = gather(tracks, np.array([[0, 20, 1], [0, 20, 0], [0, 0, 1]]), 16)["feel_inputs"]
    assert np.array_equal(out[:, :, :2 * C], base[np.r_[[range(20, 36)] * 2, [range(16)]]])
    # fresh: as if the track began at step 20; carried and at the start: the track's own
    np.testing.assert_allclose(out[0, :, 2 * C:], running_feel(*step_feel(base[20:36], C)))
    np.testing.assert_allclose(out[1, :, 2 * C:], context[20:36])
    np.testing.assert_allclose(out[2, :, 2 * C:], context[:16])


@pytest.mark.parametrize("rate", [1 / 32, 1 / 128])
def test_generation_keeps_the_running_feel_as_training_computes_it(rate):
    from drumrnn.model.feel import RunningFeel, running_feel, step_feel

    rng = np.random.default_rng(1)
    B, T, C, bins = 3, 40, 9, 16
    vel = np.where(rng.random((B, T, C)) < 0.2, rng.integers(0, bins, (B, T, C)), -1)
    off = np.where(vel >= 0, rng.integers(0, bins, (B, T, C)), -1)
    means, struck = step_feel(feel_inputs(vel, off, bins), C)
    running, got = RunningFeel(B, rate), []
    for t in range(T):
        running.add(means[:, t], struck[:, t])
        got.append(running.value.copy())
    want = np.stack([running_feel(means[b], struck[b], rate=rate) for b in range(B)], 1)
    np.testing.assert_allclose(np.stack(got), want, atol=1e-6)
    np.testing.assert_allclose(running.select(np.array([2, 0])).value, want[-1, [2, 0]], atol=1e-6)
