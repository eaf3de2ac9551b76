"""Conditioned models: labels in generation (style, kind, --fill-every), learned feel
(--feel, --quantized), humanize, and the feel NLL of evaluate."""

import dataclasses

import numpy as np
import pytest

from drumrnn.cli import main
from drumrnn.core.errors import DrumrnnError
from drumrnn.data.dataset import PrepareConfig, load_dataset, prepare
from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import get_kit
from drumrnn.data.labels import LabelSource
from drumrnn.data.midi_read import read_drum_hits
from drumrnn.data.steps import quantize, step_layout
from drumrnn.data.timing import TimeMap
from drumrnn.generation.conditioned import Conditions, bar_of_slots, label_schedule
from drumrnn.generation.generate import DrumGenerator, GenerateConfig
from drumrnn.generation.humanize import HumanizeConfig, humanize
from drumrnn.measure.evaluate import evaluate_model
from drumrnn.model.labels import LabelVocab
from drumrnn.model.model_config import ModelConfig
from drumrnn.model.model_file import load_model_file
from drumrnn.training.train import Trainer
from drumrnn.training.train_config import TrainConfig
from tests.conftest import one_drum_model, rock_beat, write_midi_file


def varied_beat(bars: int, seed: int):
    """A rock beat played with human-like velocities and timing."""
    rng = np.random.default_rng(seed)
    return [(max(0, tick + int(rng.integers(-25, 25))), pitch,
             int(np.clip(velocity + rng.integers(-30, 20), 1, 127)), channel)
            for tick, pitch, velocity, channel in rock_beat(bars)]


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """A small conditioned GRU (labels with their biases on the token scores, feel heads with
    the running feel, bar-ago inputs and copy gates) trained briefly on styled folders."""
    root = tmp_path_factory.mktemp("cond")
    src = root / "midi"
    rows = ["file,style,kind"]
    for style in ("rock", "funk"):
        (src / style).mkdir(parents=True)
        for i in range(6):
            write_midi_file(src / style / f"{i}.mid", varied_beat(4 + i, 10 * i + (style == "rock")))
            rows.append(f"{style}/{i}.mid,,{'fill' if i == 0 else 'beat'}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    prepare(src, root / "data", PrepareConfig(split_fractions=(0.6, 0.2, 0.2), labels=LabelSource(
        str(root / "labels.csv"), style_from_folder=True)))
    cfg = ModelConfig("gru", layers=1, hidden=32, embedding=8, position_embedding=8,
                      counter_bits=6, lookback=True, labels=4, label_bias=True, feel=8,
                      feel_context=True, bar_ago=True, bar_copy=True, drum_copy=True)
    Trainer(root / "data", root / "run", cfg,
            TrainConfig(batch=4, window=32, lr=1e-2, max_steps=40, eval_every=20, patience=0,
                        threads=1, mode="random"), log=lambda *a: None).run()
    return root


def test_labels_reach_the_manifest_and_the_model_header(labelled):
    manifest = load_dataset(labelled / "data").manifest
    labels = {e["path"]: e["labels"] for e in manifest["files"]}
    assert labels["rock/0.mid"] == {"style": "rock", "kind": "fill", "bpm": 120.0,
                                    "drummer": None}
    assert labels["funk/3.mid"]["kind"] == "beat" and labels["funk/3.mid"]["style"] == "funk"
    model = load_model_file(labelled / "run" / "model.npz")
    vocab = LabelVocab.from_dict(model.header["labels"])
    assert set(vocab.styles) <= {"rock", "funk"} and vocab.kinds == ("beat", "fill")
    assert model.header["vocabulary"]["label_sizes"] == list(vocab.sizes)
    assert LabelVocab.from_dict(vocab.to_dict()) == vocab


def test_info_lists_the_labels(labelled, capsys):
    assert main(["info", str(labelled / "run" / "model.npz")]) == 0
    out = capsys.readouterr().out
    assert "labels: style (" in out and "kind (beat, fill)" in out and "feel heads 8" in out


def test_label_schedule_marks_every_nth_bar_as_fill():
    vocab = LabelVocab(("rock", "funk"))
    is_bar, position = step_layout(8, 16, False)
    ids = label_schedule(vocab, Conditions("funk", "beat", 96.0, fill_every=4),
                         bar_of_slots(is_bar, position, False))
    bars = np.arange(len(position)) // 16
    assert (ids[:, 0] == 2).all() and (ids[:, 2] == vocab.tempo_id(96)).all()
    assert ((ids[:, 1] == 2) == np.isin(bars, [3, 7])).all()
    assert (ids[~np.isin(bars, [3, 7]), 1] == 1).all()
    # with BAR tokens the BAR slot already belongs to its bar
    is_bar, position = step_layout(4, 16, True)
    of = bar_of_slots(is_bar, position, True)
    assert of[0] == 0 and of[17] == 1 and of[16] == 0


def test_fill_every_switches_the_label_at_the_bar_lines(labelled, monkeypatch):
    gen = DrumGenerator.load(labelled / "run" / "model.npz")
    style = gen.labels.styles[0]
    read = []
    step = gen.runtime.step_codes

    def spy(state, codes, extra, *rest):
        # the step's position, counter and label rows; the label biases on its scores
        read.append((extra.copy(), rest[-1].copy()))
        return step(state, codes, extra, *rest)

    monkeypatch.setattr(gen.runtime, "step_codes", spy)
    gen.generate(GenerateConfig(bars=8, num=2, seed=1, style=style, fill_every=4, tempo=96))
    rt = gen.runtime
    fill, beat = (gen.labels.ids(style, kind, 96) for kind in ("fill", "beat"))
    # input step k (the silent lead step is step -1) predicts step k of the piece
    position = np.r_[15, np.tile(np.arange(16), 8)]
    schedule = rt.schedule(np.arange(len(position)) - 1, np.r_[position[1:], 0])
    assert len(read) == 8 * 16
    for k, (rows, bias) in enumerate(read):
        want = fill if (k // 16) in (3, 7) else beat
        np.testing.assert_allclose(rows - schedule[k], rt.label_rows(want), atol=1e-5)
        np.testing.assert_array_equal(bias, rt.label_bias_rows(want))


def test_feel_zero_equals_the_quantized_output_at_flat_profile_velocities(labelled):
    gen = DrumGenerator.load(labelled / "run" / "model.npz")
    zero = gen.generate(GenerateConfig(bars=4, num=3, seed=5, feel=0.0))
    grid = gen.generate(GenerateConfig(bars=4, num=3, seed=5, humanize=False))
    felt = gen.generate(GenerateConfig(bars=4, num=3, seed=5))
    kit = gen.kit
    for z, q, f in zip(zero, grid, felt):
        assert z.quarters.tolist() == q.quarters.tolist()
        assert z.pitches.tolist() == q.pitches.tolist()
        assert grid_hits(f) == grid_hits(z)  # the same drums on the same steps
        assert np.all(z.quarters * 4 == np.round(z.quarters * 4))  # on the grid
        steps = np.round(z.quarters * 4).astype(int)
        classes = kit.classes_of(z.pitches)
        flat = gen.profile["velocity_mean"][classes, steps % 16]
        assert z.velocities.tolist() == np.clip(np.round(flat), 1, 127).astype(int).tolist()
        # the same hits, played: off the grid and not at the flat velocities
        assert np.abs(f.quarters * 4 - np.round(f.quarters * 4)).max() > 0.04
        assert sorted(f.velocities.tolist()) != sorted(z.velocities.tolist())


def grid_hits(hits):
    """Sorted (grid step, pitch) of every hit."""
    return sorted(zip(quantize(hits.quarters, 4)[0].tolist(), hits.pitches.tolist()))


def test_unknown_style_gets_one_line_listing_the_known(labelled, tmp_path, capsys):
    code = main(["generate", "--model", str(labelled / "run" / "model.npz"), "--style", "polka",
                 "--out", str(tmp_path / "o")])
    out, err = capsys.readouterr()
    assert code == 1 and len(err.strip().splitlines()) == 1 and out == ""  # nothing announced
    assert "unknown style 'polka'; this model knows:" in err


def test_generate_cli_with_labels_writes_the_tempo(labelled, tmp_path):
    import symusic

    gen = DrumGenerator.load(labelled / "run" / "model.npz")
    assert main(["generate", "--model", str(labelled / "run" / "model.npz"), "--style",
                 gen.labels.styles[0], "--kind", "fill", "--tempo", "96", "--fill-every", "2",
                 "--feel", "0.5", "--bars", "4", "--seed", "2", "--out", str(tmp_path)]) == 0
    score = symusic.Score(str(tmp_path / "drums_1.mid"))
    assert score.tempos[0].qpm == pytest.approx(96, abs=0.01)


def test_beam_search_and_primer_with_a_conditioned_model(labelled):
    gen = DrumGenerator.load(labelled / "run" / "model.npz")
    from drumrnn.generation.sampling import SamplingConfig

    beams = gen.generate(GenerateConfig(bars=2, num=2, seed=1,
                                        sampling=SamplingConfig(beam_size=3)))
    assert len(beams) == 2 and all(len(p) for p in beams)
    primer = DrumHits(np.arange(8) * 0.5, np.full(8, 42), np.full(8, 90),
                      TimeMap(((0.0, 120.0),)), end_quarter=4.0)
    out = gen.generate(GenerateConfig(bars=3, num=2, seed=1), primer)
    for p in out:  # the primer comes first, unchanged
        assert p.quarters[:8].tolist() == primer.quarters.tolist()
        assert p.velocities[:8].tolist() == [90] * 8


def test_models_without_labels_refuse_style_and_generate_as_before(tmp_path):
    model = one_drum_model(tmp_path / "m.npz", [[0, 0], [0, 0]], [0.0, 0.0])
    gen = DrumGenerator(model)
    assert not gen.conditioned
    assert len(gen.generate(GenerateConfig(bars=2, seed=1))) == 1
    with pytest.raises(DrumrnnError, match="reads no labels"):
        gen.generate(GenerateConfig(bars=2, style="rock"))


def test_humanize_keeps_every_hit_drum_and_step(labelled, tmp_path):
    notes = [(t, p, 100, c) for t, p, v, c in rock_beat(4)] + [(960, 38, 100, 10),
                                                                 (480, 90, 100, 10)]
    path = write_midi_file(tmp_path / "flat.mid", notes)  # a doubled snare, pitch 90 (no kit)
    source = read_drum_hits(path)
    gen = DrumGenerator.load(labelled / "run" / "model.npz")
    out = humanize(gen, source, HumanizeConfig(seed=3))
    assert len(out) == len(source)
    assert grid_hits(out) == grid_hits(source)
    in_kit = get_kit("9").classes_of(source.pitches) >= 0
    assert len(set(out.velocities[in_kit].tolist())) > 5  # no longer flat
    assert np.abs(out.quarters - np.round(out.quarters * 4) / 4).max() > 0.005
    outside = out.pitches == 90  # not in the kit: untouched
    assert out.velocities[outside].tolist() == [100] and out.quarters[outside].tolist() == [1.0]
    kept = humanize(gen, source, HumanizeConfig(amount=0.0, seed=3))
    assert kept.quarters.tolist() == source.quarters.tolist()
    assert kept.velocities.tolist() == source.velocities.tolist()
    assert main(["humanize", str(path), "--out", str(tmp_path / "h.mid"), "--model",
                 str(labelled / "run" / "model.npz"), "--amount", "0.5"]) == 0
    assert len(read_drum_hits(tmp_path / "h.mid")) == len(source)


@pytest.mark.parametrize("meter", [(3, 4), (7, 8)])
def test_humanize_lays_out_bars_as_generation_does_in_any_meter(labelled, monkeypatch, meter):
    """Humanize reads a piece in another meter with the positions and bar lengths (the
    lookback and bar-ago distances) that generation gave it, slot by slot."""
    import drumrnn.generation.generate as generate_module
    import drumrnn.generation.humanize as humanize_module

    runs = []

    def spy(run_steps):
        def recorded(rt, run, *args, **kwargs):
            runs.append(run)
            return run_steps(rt, run, *args, **kwargs)
        return recorded

    monkeypatch.setattr(generate_module, "run_steps", spy(generate_module.run_steps))
    monkeypatch.setattr(humanize_module, "run_steps", spy(humanize_module.run_steps))
    gen = DrumGenerator.load(labelled / "run" / "model.npz")
    piece = gen.generate(GenerateConfig(bars=4, seed=2, time_signature=meter, style="rock"))[0]
    humanize(gen, piece, HumanizeConfig(seed=1, style="rock"))
    made, read = runs
    n = len(read.position)
    assert np.array_equal(read.position, made.position[:n])
    assert np.array_equal(read.bar_length, made.bar_length[:n])
    assert read.bar_length[0] == meter[0] * 16 // meter[1]


def test_humanize_needs_feel_heads(tmp_path):
    model = one_drum_model(tmp_path / "m.npz", [[0, 0], [0, 0]], [0.0, 0.0])
    with pytest.raises(DrumrnnError, match="feel heads"):
        humanize(DrumGenerator(model), DrumHits([0.0], [36], [100]))


def test_evaluate_reports_feel_nll_per_struck_drum_next_to_the_profile(labelled):
    model = load_model_file(labelled / "run" / "model.npz")
    dataset = load_dataset(labelled / "data")
    given = evaluate_model(model, dataset, "test")
    unknown = evaluate_model(model, dataset, "test", labels="unknown")
    split = dataset.split("test")
    starts, hit_starts = split.arrays["track_starts"], split.arrays["hit_starts"]
    steps = np.asarray(split.arrays["hit_steps"])
    first = sum(int((steps[hit_starts[i]:hit_starts[i + 1]] == 0).sum())
                for i in range(len(starts) - 1))
    assert given["feel"]["hits"] == len(steps) - first  # every struck drum of a target step
    f = given["feel"]
    assert all(0 < f[k] < np.log(16) * 1.5 for k in ("velocity_nll", "offset_nll",
                                                    "profile_velocity_nll", "profile_offset_nll"))
    assert given["labels"] == "given" and unknown["labels"] == "unknown"
    assert unknown["loss"] != given["loss"]


def test_bad_generate_settings():
    with pytest.raises(DrumrnnError, match="feel must lie in 0..1"):
        GenerateConfig(feel=1.5)
    with pytest.raises(DrumrnnError, match="kind must be beat or fill"):
        GenerateConfig(kind="solo")
    with pytest.raises(DrumrnnError, match="unknown kind"):
        LabelVocab(("rock",)).kind_id("solo")
    assert dataclasses.replace(GenerateConfig(), fill_every=4).fill_every == 4


@pytest.mark.parametrize("explicit", [[], ["--style", "rock", "--kind", "beat"]])
def test_primer_from_a_dataset_lends_its_tracks_labels(labelled, tmp_path, explicit):
    import json

    import soundfile

    from drumrnn.generation.primer import primer_from_dataset

    for seed in range(20):  # a fill track, so that the default shows
        window = primer_from_dataset(labelled / "data", bars=1, split="train", seed=seed)
        if window.labels["kind"] == "fill":
            break
    assert main(["generate", "--model", str(labelled / "run" / "model.npz"), "--primer-from",
                 str(labelled / "data"), "--split", "train", "--primer-bars", "1", "--bars", "2",
                 "--seed", str(seed), "--flac", "--out", str(tmp_path), *explicit]) == 0
    with soundfile.SoundFile(tmp_path / "drums_1.flac") as f:
        settings = json.loads(f.comment)
    model_styles = DrumGenerator.load(labelled / "run" / "model.npz").labels.styles
    style = window.labels["style"] if window.labels["style"] in model_styles else None
    expected = ("rock", "beat") if explicit else (style, "fill")
    assert (settings["settings"]["style"], settings["settings"]["kind"]) == expected
    assert settings["primer"]["path"] == window.path


def test_humanize_writes_audio_beside_the_midi(labelled, tmp_path):
    import json

    import soundfile

    path = write_midi_file(tmp_path / "flat.mid", rock_beat(2))
    assert main(["humanize", str(path), "--out", str(tmp_path / "h.mid"), "--model",
                 str(labelled / "run" / "model.npz"), "--seed", "2", "--wav", "--flac"]) == 0
    wav, rate = soundfile.read(tmp_path / "h.wav", dtype="int16")
    flac, _ = soundfile.read(tmp_path / "h.flac", dtype="int16")
    np.testing.assert_array_equal(flac, wav)
    with soundfile.SoundFile(tmp_path / "h.flac") as f:
        assert f.title == "h"
        assert json.loads(f.comment)["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flat.mid", "h.flac", "h.mid", "h.wav"]


@pytest.mark.parametrize("num", [2, 5])  # both feel-noise paths: whole blocks, struck drums
def test_conditioned_variations_come_back_alone(labelled, num):
    from drumrnn.generation.generate import DrumGenerator, GenerateConfig

    generator = DrumGenerator.load(labelled / "run" / "model.npz")
    assert generator.conditioned
    batch = generator.generate(GenerateConfig(bars=3, num=num, seed=4, style="rock"))
    alone = generator.generate(GenerateConfig(bars=3, seed=4, style="rock", variation=num))[0]
    last = batch[-1]
    assert np.array_equal(alone.quarters, last.quarters)
    assert np.array_equal(alone.pitches, last.pitches)
    assert np.array_equal(alone.velocities, last.velocities)


def test_conditioned_generation_follows_the_meter(labelled):
    from drumrnn.generation.generate import DrumGenerator, GenerateConfig

    generator = DrumGenerator.load(labelled / "run" / "model.npz")
    hits = generator.generate(GenerateConfig(bars=3, num=2, seed=1, time_signature=(7, 8),
                                             humanize=False))
    for pattern in hits:
        assert pattern.end_quarter == 3 * 3.5
        assert pattern.time_map.time_signatures == ((0.0, 7, 8),)
        assert pattern.quarters.max() < 10.5


def test_humanize_takes_the_drums_from_a_channel_or_track(labelled, tmp_path, capsys):
    path = write_midi_file(tmp_path / "keys.mid", rock_beat(4, channel=2))
    model = str(labelled / "run" / "model.npz")
    assert main(["humanize", str(path), "--out", str(tmp_path / "a.mid"), "--model", model]) == 1
    assert "channel 2" in capsys.readouterr().err
    for option in (["--channel", "2"], ["--track", "Drums"]):
        assert main(["humanize", str(path), "--out", str(tmp_path / "b.mid"), "--model", model,
                     *option]) == 0
        assert len(read_drum_hits(tmp_path / "b.mid")) == len(rock_beat(4))


def test_an_events_model_with_a_velocity_head(labelled, tmp_path):
    from drumrnn.data.encoding import EncodingConfig

    prepare(labelled / "midi", tmp_path / "events", PrepareConfig(
        EncodingConfig("events"), split_fractions=(0.6, 0.2, 0.2)))
    Trainer(tmp_path / "events", tmp_path / "run",
            ModelConfig("lstm", layers=1, hidden=24, embedding=8, feel=8),
            TrainConfig(batch=4, window=32, lr=1e-2, max_steps=30, eval_every=30, patience=0,
                        threads=1), log=lambda *a: None).run()
    model = load_model_file(tmp_path / "run" / "model.npz")
    result = evaluate_model(model, load_dataset(tmp_path / "events"), "test")
    assert set(result["feel"]) == {"hits", "velocity_nll", "profile_velocity_nll"}
    gen = DrumGenerator(model)
    played = gen.generate(GenerateConfig(bars=2, num=2, seed=4))
    flat = gen.generate(GenerateConfig(bars=2, num=2, seed=4, feel=0.0))
    for p, f in zip(played, flat):
        assert p.quarters.tolist() == f.quarters.tolist() and len(p) > 0
        assert len(set(p.velocities.tolist())) > 2


@pytest.mark.parametrize("sampling", [{}, {"temperature": 0.7}, {"top_k": 5}])
def test_compiled_kernels_play_what_the_numpy_path_plays(labelled, sampling):
    """The kernels do the NumPy code's arithmetic in its order: the same notes, to the bit,
    with a primer (given feel), fills switching the labels and the copy gates."""
    pytest.importorskip("numba")
    from drumrnn.generation.sampling import SamplingConfig

    primer = DrumHits(np.arange(8) * 0.51, np.full(8, 42), np.linspace(40, 110, 8).astype(int),
                      TimeMap(((0.0, 120.0),)), end_quarter=4.0)
    config = GenerateConfig(bars=4, num=6, seed=3, style="rock", fill_every=2,
                            sampling=SamplingConfig(**sampling))
    outputs = []
    for compiled in (False, True):
        generator = DrumGenerator.load(labelled / "run" / "model.npz", compiled=compiled)
        assert generator.runtime.compiled is compiled
        outputs.append(generator.generate(config, primer))
    for numpy_hits, compiled_hits in zip(*outputs):
        for name in ("quarters", "pitches", "velocities"):
            assert np.array_equal(getattr(numpy_hits, name), getattr(compiled_hits, name))
