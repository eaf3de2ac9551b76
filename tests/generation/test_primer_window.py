"""Primers from real drumming: whole bars of a dataset track, picked by the seed, kept as played."""

import re

import numpy as np
import pytest

from drumrnn.cli import main
from drumrnn.core.errors import DrumrnnError
from drumrnn.data.dataset import PrepareConfig, prepare
from drumrnn.data.encoding import EncodingConfig
from drumrnn.data.hits import DrumHits
from drumrnn.data.midi_read import read_drum_hits
from drumrnn.generation.generate import DrumGenerator, GenerateConfig
from drumrnn.generation.primer import primer_from_dataset
from tests.conftest import write_midi_file

ALL_VALIDATION = (0.0, 1.0, 0.0)


def played(bars: int, seed: int, beats: int = 4):
    """Bars of kick, snare and hi-hat with velocities and timing that differ hit by hit (a
    hi-hat may come just before its bar line) and one bar with no hit at all."""
    rng = np.random.default_rng(seed)
    notes = []
    for bar in range(bars):
        if bar == 3:
            continue
        start = bar * beats * 480
        for eighth in range(2 * beats):
            notes.append((max(start + eighth * 240 + int(rng.integers(-30, 30)), 0), 42,
                          int(rng.integers(40, 110)), 10))
        notes.append((start, 36, int(rng.integers(80, 127)), 10))
        notes.append((start + 480 + int(rng.integers(0, 40)), 38, int(rng.integers(80, 127)), 10))
    return notes


@pytest.fixture(scope="module", params=[False, True], ids=["steps", "bar-tokens"])
def dataset(request, tmp_path_factory):
    """Five 4/4 tracks (6..14 bars), a 3/4 one, a 1-bar one; all in the validation split."""
    root = tmp_path_factory.mktemp("primers")
    src = root / "midi"
    src.mkdir()
    for i, bars in enumerate([6, 8, 10, 12, 14]):
        write_midi_file(src / f"t{i}.mid", played(bars, i))
    write_midi_file(src / "waltz.mid", played(12, 7, beats=3), time_signatures=((0, 3, 4),))
    write_midi_file(src / "short.mid", played(1, 8))
    encoding = EncodingConfig("steps", kit="roland", bar_tokens=request.param)
    return prepare(src, root / "data", PrepareConfig(encoding, split_fractions=ALL_VALIDATION)).out


def source_bars(dataset, window):
    """The window's bars as the source file has them: hits quantized into the window, moved
    to start at 0 (a hit just before the first bar line onto it)."""
    hits = read_drum_hits(dataset.parent / "midi" / window.path)
    first = (window.first_bar - 1) * 4.0
    steps = np.floor(hits.quarters * 4 + 0.5)
    inside = (steps >= first * 4) & (steps < (first + 4 * window.bars) * 4)
    moved = DrumHits(np.maximum(hits.quarters[inside] - first, 0), hits.pitches[inside],
                     hits.velocities[inside])  # re-sorted: a moved hit may now come first
    return moved.quarters, moved.pitches, moved.velocities


def test_window_is_whole_bars_of_a_4_4_track_as_played(dataset):
    seen = set()
    for seed in range(12):
        window = primer_from_dataset(dataset, bars=2, seed=seed)
        seen.add((window.path, window.first_bar))
        assert window.path not in ("waltz.mid", "short.mid")
        assert window.first_bar not in (3, 4) and window.split == "validation"  # bar 4 is empty
        quarters, pitches, velocities = source_bars(dataset, window)
        np.testing.assert_allclose(window.hits.quarters, quarters, atol=1e-6)
        np.testing.assert_array_equal(window.hits.pitches, pitches)
        np.testing.assert_array_equal(window.hits.velocities, velocities)
        assert window.hits.end_quarter == 8.0
    assert len(seen) > 6  # the seed moves the window over tracks and bars


def test_same_seed_same_window(dataset):
    a, b = (primer_from_dataset(dataset, bars=3, seed=11) for _ in range(2))
    assert a.to_dict() == b.to_dict()
    np.testing.assert_array_equal(a.hits.quarters, b.hits.quarters)
    assert a.describe() == f"{a.path} (validation track {a.index}), bars {a.first_bar}-{a.first_bar + 2}"


def test_primer_bars_open_the_generated_pattern_unchanged(dataset):
    window = primer_from_dataset(dataset, bars=2, seed=5)
    gen = DrumGenerator.load()
    patterns = gen.generate(GenerateConfig(bars=6, num=2, seed=1, humanize=False), window.hits)
    for pattern in patterns:
        head = pattern.quarters < 8.0
        np.testing.assert_array_equal(pattern.quarters[head], window.hits.quarters)
        np.testing.assert_array_equal(pattern.pitches[head], window.hits.pitches)
        np.testing.assert_array_equal(pattern.velocities[head], window.hits.velocities)
        assert (pattern.quarters >= 8.0).any()


def test_generate_primer_from_prints_and_keeps_the_window(dataset, tmp_path, capsys):
    args = ["generate", "--primer-from", str(dataset), "--primer-bars", "2", "--bars", "4",
            "--seed", "5", "--quantized", "--out", str(tmp_path)]
    assert main(args) == 0
    window = primer_from_dataset(dataset, bars=2, seed=5)
    assert f"primer: {window.describe()}" in capsys.readouterr().err
    hits = read_drum_hits(tmp_path / "drums_1.mid")
    head = hits.quarters < 8.0 - 1e-6  # --quantized: no generated hit moves before bar 3
    # MIDI ticks (480 per quarter) round the drummer's timing
    np.testing.assert_allclose(hits.quarters[head], window.hits.quarters, atol=1 / 480)
    np.testing.assert_array_equal(hits.velocities[head], window.hits.velocities)


@pytest.mark.parametrize(("args", "message"), [
    (["--primer-bars", "13"], "no validation track of .* has 13 whole 4/4 bars"),
    (["--primer-bars", "2", "--split", "train"], "no train track of .* has 2 whole 4/4 bars"),
    (["--primer-bars", "0"], "primer bars must be at least 1"),
])
def test_no_track_long_enough_is_one_line(dataset, tmp_path, capsys, args, message):
    assert main(["generate", "--primer-from", str(dataset), "--bars", "16", *args,
                 "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith("drumrnn generate: error: ")
    assert re.search(message, err), err


def test_primer_options_need_primer_from(tmp_path, capsys):
    assert main(["generate", "--primer-bars", "2", "--out", str(tmp_path)]) == 1
    assert "--split and --primer-bars go with --primer-from" in capsys.readouterr().err


def test_events_dataset_is_refused(tmp_path):
    src = tmp_path / "midi"
    src.mkdir()
    write_midi_file(src / "a.mid", played(4, 0))
    out = prepare(src, tmp_path / "ev", PrepareConfig(EncodingConfig("events"),
                                                      split_fractions=ALL_VALIDATION)).out
    with pytest.raises(DrumrnnError, match="events dataset; a primer window needs a steps"):
        primer_from_dataset(out)


def test_window_carries_its_tracks_labels(tmp_path):
    from drumrnn.data.labels import LabelSource

    src = tmp_path / "midi"
    (src / "funk").mkdir(parents=True)
    write_midi_file(src / "funk" / "a.mid", played(6, 0))
    out = prepare(src, tmp_path / "data", PrepareConfig(
        split_fractions=ALL_VALIDATION, labels=LabelSource(style_from_folder=True))).out
    window = primer_from_dataset(out, bars=2, seed=0)
    assert window.labels == {"style": "funk", "kind": None}
    assert window.to_dict()["metadata"]["labels"]["style"] == "funk"
