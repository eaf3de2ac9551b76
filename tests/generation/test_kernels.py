"""The compiled sampling kernels against their definitions in plain NumPy."""

import numpy as np
import pytest

pytest.importorskip("numba", reason="the kernels need numba (pip install -e '.[fast]')")

from drumrnn.generation import kernels  # noqa: E402


def test_draw_tokens_inverts_the_cumulative_distribution():
    rng = np.random.default_rng(0)
    V, B = 40, 64
    probs = rng.random((V, B)).astype(np.float32)
    probs[rng.random((V, B)) < 0.5] = 0.0  # never drawn
    probs[0] = 0.0
    uniforms = rng.random(B)
    uniforms[:2] = 0.0, np.nextafter(1.0, 0.0)  # the ends of [0, 1)
    tokens = np.full((B, 3), -7)
    kernels.draw_tokens(probs, uniforms, tokens, 1)
    for b in range(B):  # the batch-1 path's NumPy: float64 running sums in token order
        cum = np.add.accumulate(probs[:, b].astype(np.float64))
        assert tokens[b, 1] == cum.searchsorted(uniforms[b] * cum[-1], "right")
        assert probs[tokens[b, 1], b] > 0
    assert (tokens[:, [0, 2]] == -7).all()


def test_draw_tokens_draws_each_token_as_often_as_its_probability():
    p = np.array([0.5, 0.0, 0.2, 0.25, 0.05], np.float32)
    n = 40_000
    probs = np.repeat(3 * p[:, None], n, axis=1)  # unnormalised
    tokens = np.zeros((n, 1), np.int64)
    kernels.draw_tokens(probs, np.random.default_rng(1).random(n), tokens, 0)
    share = np.bincount(tokens[:, 0], minlength=len(p)) / n
    np.testing.assert_allclose(share, p, atol=0.01)


@pytest.mark.parametrize("whole", [True, False])
def test_copy_gates_add_the_gates_as_fancy_indexing_would(whole):
    rng = np.random.default_rng(2)
    V, C, B = 16, 4, 6
    drum_row = V + 2
    head = rng.standard_normal((drum_row + 2 * C, B)).astype(np.float32)
    signs = rng.choice([-1.0, 0.0, 1.0], (V + 1, C)).astype(np.float32)
    # rows: both bars "none" (V), the same token twice, two tokens
    bar_ago = np.array([[V, V], [3, 3], [5, 9], [0, V], [15, 2], [7, 7]])
    want = head.copy()
    if whole:
        cols = np.arange(B)
        gates = head[V:V + 2].copy()
        want.reshape(-1)[bar_ago[:, 0] * B + cols] += gates[0]
        want.reshape(-1)[bar_ago[:, 1] * B + cols] += gates[1]
    both = head[drum_row:].reshape(C, 2, B) * signs.T[:, bar_ago.T]
    weight = np.empty((C, B), np.float32)
    kernels.copy_gates(head, V, bar_ago, whole, drum_row, signs, weight)
    np.testing.assert_array_equal(head[:V], want[:V])
    np.testing.assert_array_equal(weight, both[:, 0] + both[:, 1])


def test_sample_feel_stops_at_a_row_whose_pool_runs_out():
    """It returns the row to refill without touching it, and goes on from there."""
    C, bins, B = 3, 4, 2
    token = 0b101  # classes 0 and 2
    tokens = np.array([[0, token], [0, token]])
    n_struck = np.array([bin(v).count("1") for v in range(8)])
    classes = np.array([[c for c in range(C) if v >> c & 1] + [0] * (C - n_struck[v])
                        for v in range(8)])
    pool = np.zeros((8, 2, bins), np.float32)
    pool[:, 0, 1] = pool[:, 1, 3] = 5.0  # every unit: velocity bin 1, offset bin 3
    cursor, end = np.array([0, 3]), np.array([2, 4])  # row 1 has one unit left, needs two
    vel = np.full((B, 2, C), 9, np.int8)
    off = vel.copy()
    feel_in = np.zeros((B, 2 * C), np.float32)
    sums, value = np.zeros((B, 3)), np.zeros((B, 2), np.float32)
    centres = np.arange(bins, dtype=np.float32)
    args = (np.zeros((B, C * 2 * bins), np.float32), tokens, 1)
    rest = (n_struck, classes, pool, cursor, end, centres, -centres, vel, off, feel_in, sums,
            value, 0.5, True)
    assert kernels.sample_feel(*args, 0, *rest) == 1
    assert vel[0, 1].tolist() == [1, -1, 1] and off[0, 1].tolist() == [3, -1, 3]
    assert (vel[1] == 9).all() and cursor.tolist() == [2, 3]
    np.testing.assert_allclose(value[0], [1.0, -3.0])  # the first struck step: its means
    end[1] = 5  # refilled
    assert kernels.sample_feel(*args, 1, *rest) == -1
    assert vel[1, 1].tolist() == [1, -1, 1] and cursor.tolist() == [2, 5]



def test_the_cli_does_not_load_numba(tmp_path):
    """A command generates once per process: numba's loading would cost more than it saves."""
    import subprocess
    import sys

    code = ("import sys; from drumrnn.cli import main; "
            f"assert main(['generate', '--bars', '2', '--num', '3', '--seed', '1', '--out', "
            f"{str(tmp_path)!r}]) == 0; assert 'numba' not in sys.modules")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert len(list(tmp_path.glob("*.mid"))) == 3


def test_a_kernel_survives_a_cache_it_cannot_write(monkeypatch):
    """A full disk while numba saves a new compilation: the call is made again."""
    from numba.core import caching

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(caching.Cache, "save_overload", full)

    @kernels._kernel
    def triple(x):
        return 3 * x

    assert triple(7) == 21
    assert triple(2.5) == 7.5  # another signature, another failed save


def test_generators_fall_back_to_numpy_where_numba_cannot_be_imported(monkeypatch):
    from drumrnn.core.errors import DrumrnnError
    from drumrnn.generation import runtime
    from drumrnn.generation.generate import DrumGenerator, GenerateConfig

    assert DrumGenerator.load().runtime.kernels() is kernels  # numba imports here
    assert DrumGenerator.load(compiled=False).runtime.kernels() is None
    monkeypatch.setattr(runtime, "_KERNELS", [None])  # as after a failed import
    auto = DrumGenerator.load()
    assert auto.runtime.kernels() is None
    assert len(auto.generate(GenerateConfig(bars=2, num=2, seed=1))) == 2
    with pytest.raises(DrumrnnError, match="needs numba"):
        DrumGenerator.load(compiled=True).generate(GenerateConfig(bars=2, num=2, seed=1))


@pytest.mark.parametrize("agos", [0, 1, 2])
@pytest.mark.parametrize("flags", [-1, 0, 1, 2])
def test_input_codes_equal_the_numpy_code_and_reset_missing_bars_to_none(flags, agos):
    """Where a bar-ago step does not exist (e.g. a long bar after short ones) it is "none",
    as training reads it, whatever an earlier step held."""
    from drumrnn.generation.conditioned import _input_codes

    rng = np.random.default_rng(flags + 1 + 4 * agos)
    V, B, s, distance, back = 512, 5, 40, 12, 16
    tokens = rng.integers(0, 8, (B, 60))  # few values: the lookback flags fire
    out = []
    for run in ("kernel", "numpy"):
        codes = np.zeros((3, B), np.int64)
        bar_ago = np.full((B, 2), 77)  # stale
        if run == "kernel":
            kernels.input_codes(tokens, s, distance, flags, back, agos, 1000, 2000, V, codes,
                                bar_ago)
        else:
            _input_codes(tokens, s, distance, flags, back, agos, (1000, 2000), V, codes, bar_ago)
        out.append((codes, bar_ago))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])
    codes, bar_ago = out[0]
    want_ago = [tokens[:, s + 1 - back] if agos >= 1 else np.full(B, V),
                tokens[:, s + 1 - 2 * back] if agos >= 2 else np.full(B, V)]
    np.testing.assert_array_equal(bar_ago.T, want_ago)
    np.testing.assert_array_equal(codes[1:], [1000 + want_ago[0], 2000 + want_ago[1]])
    now = tokens[:, s]
    flag1 = (tokens[:, s - distance] == now) if flags >= 1 else 0
    flag2 = (tokens[:, s - 2 * distance] == now) if flags >= 2 else 0
    np.testing.assert_array_equal(codes[0], now if flags < 0 else 4 * now + flag1 + 2 * flag2)
