"""The musician's workflow of ``generate``: reproducible variations, settings stored with the
outputs, nothing mixed with an earlier run, primers' tempo and meter, loops, swing."""

import json
import wave

import mido
import numpy as np
import pytest

from drumrnn.cli import main
from drumrnn.data.midi_read import read_drum_hits
from drumrnn.data.steps import meter_layout
from drumrnn.generation.generate import DrumGenerator, GenerateConfig
from drumrnn.generation.sampling import SamplingConfig
from drumrnn.render.audio import loop_audio
from tests.conftest import rock_beat, write_midi_file


@pytest.fixture(scope="module")
def bundled():
    return DrumGenerator.load()


def same(a, b) -> bool:
    return (np.array_equal(a.quarters, b.quarters) and np.array_equal(a.pitches, b.pitches)
            and np.array_equal(a.velocities, b.velocities))


@pytest.mark.parametrize("sampling", [SamplingConfig(), SamplingConfig(top_k=5),
                                      SamplingConfig(beam_size=4)])
def test_each_variation_comes_back_alone(bundled, sampling):
    four = bundled.generate(GenerateConfig(bars=2, num=4, seed=1, sampling=sampling))
    first = bundled.generate(GenerateConfig(bars=2, num=1, seed=1, sampling=sampling))
    third = bundled.generate(GenerateConfig(bars=2, num=1, seed=1, variation=3,
                                            sampling=sampling))
    assert same(first[0], four[0]) and same(third[0], four[2])
    assert not same(four[0], four[1])


def test_random_start_state_is_per_variation_too(bundled):
    four = bundled.generate(GenerateConfig(bars=2, num=4, seed=9, random_state=0.3))
    second = bundled.generate(GenerateConfig(bars=2, seed=9, random_state=0.3, variation=2))
    assert same(second[0], four[1])


def test_seed_printed_stored_and_regenerates_a_file(tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path / "a"), "--bars", "2", "--num", "3"]) == 0
    out = capsys.readouterr().out
    record = json.loads((tmp_path / "a" / "generation.json").read_text())
    seed = record["seed"]
    assert f"seed {seed}, variations 1-3" in out and record["variations"] == [1, 2, 3]
    assert record["settings"]["bars"] == 2 and record["model"]["sha256"]
    text = [m for m in mido.MidiFile(tmp_path / "a" / "drums_2.mid").tracks[0]
            if m.type == "text"]
    stored = json.loads(text[0].text)
    assert stored["seed"] == seed and stored["variation"] == 2 and stored["time_signature"] == "4/4"
    # the seed and variation from the file make that file again, alone
    assert main(["generate", "--out", str(tmp_path / "b"), "--bars", "2", "--seed", str(seed),
                 "--variation", "2"]) == 0
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["drums_2.mid",
                                                                  "generation.json"]
    assert same(read_drum_hits(tmp_path / "b" / "drums_2.mid"),
                read_drum_hits(tmp_path / "a" / "drums_2.mid"))


def test_output_folder_never_mixes_two_generations(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["generate", "--out", str(out), "--bars", "1", "--num", "3", "--png",
                 "--seed", "1"]) == 0
    assert main(["generate", "--out", str(out), "--bars", "1", "--seed", "2"]) == 1
    err = capsys.readouterr().err
    assert "holds an earlier generation" in err and "--overwrite" in err
    assert len(list(out.iterdir())) == 7  # untouched
    assert main(["generate", "--out", str(out), "--bars", "1", "--seed", "2",
                 "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["drums_1.mid", "generation.json"]
    assert json.loads((out / "generation.json").read_text())["seed"] == 2
    (out / "notes.txt").write_text("mine")
    assert main(["generate", "--out", str(out), "--bars", "1", "--overwrite"]) == 1
    assert "did not write (notes.txt)" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("meter, steps", [((3, 4), 12), ((7, 8), 14), ((4, 4), 16)])
def test_primer_tempo_and_meter_are_kept(bundled, tmp_path, meter, steps):
    num, den = meter
    bar = num * 4 * 480 // den
    notes = [(b * bar + i * 120, 36 if i == 0 else 42, 100, 10)
             for b in range(2) for i in range(bar // 120) if i % 2 == 0]
    primer_file = write_midi_file(tmp_path / "p.mid", notes, tempos=((0, 400000),),
                                  time_signatures=((0, num, den),))
    primer = read_drum_hits(primer_file)
    hits = bundled.generate(GenerateConfig(bars=4, seed=0), primer)[0]
    assert hits.time_map.qpm == pytest.approx(150)
    assert hits.time_map.time_signatures == ((0.0, num, den),)
    assert hits.end_quarter == pytest.approx(4 * bar / 480)
    faster = bundled.generate(GenerateConfig(bars=4, seed=0, tempo=90), primer)[0]
    assert faster.time_map.qpm == 90
    out = tmp_path / "out"
    assert main(["generate", "--primer", str(primer_file), "--bars", "3", "--out", str(out),
                 "--seed", "0"]) == 0
    midi = mido.MidiFile(out / "drums_1.mid")
    signature = [m for t in midi.tracks for m in t if m.type == "time_signature"][0]
    tempo = [m for t in midi.tracks for m in t if m.type == "set_tempo"][0]
    assert (signature.numerator, signature.denominator) == meter
    assert mido.tempo2bpm(tempo.tempo) == pytest.approx(150)
    assert np.diff(bundled.bar_starts(hits.time_map, 3)).tolist() == [steps] * 3


def test_time_signature_for_unprimed_generation(bundled, tmp_path, monkeypatch):
    seen = {}
    schedule = bundled.runtime.schedule

    def spy(index, next_position):
        seen["position"] = np.asarray(next_position)
        return schedule(index, next_position)

    monkeypatch.setattr(bundled.runtime, "schedule", spy)
    hits = bundled.generate(GenerateConfig(bars=3, seed=0, time_signature=(3, 4)))[0]
    assert hits.end_quarter == 9 and hits.time_map.time_signatures == ((0.0, 3, 4),)
    # the bar position fed to the network restarts every 12 steps (a conditioned model first
    # reads a silent step before the piece, which predicts position 0)
    lead = [0] if bundled.conditioned else []
    assert seen["position"][:25].tolist() == (lead + [*range(1, 12), 0] * 3)[:25]
    is_bar, position, length = meter_layout([12, 14], bar_tokens=True)
    assert is_bar.nonzero()[0].tolist() == [0, 13] and length.tolist() == [12] * 13 + [14] * 15
    assert main(["generate", "--time-signature", "7/4x", "--out", str(tmp_path)]) == 1


def test_loop_wav_is_exactly_the_pattern_and_midi_ends_on_the_bar_line(tmp_path):
    out = tmp_path / "out"
    assert main(["generate", "--bars", "2", "--tempo", "120", "--time-signature", "6/8",
                 "--loop", "--wav", "--seed", "4", "--out", str(out)]) == 0
    with wave.open(str(out / "drums_1.wav")) as w:
        assert w.getnframes() == round(3.0 * w.getframerate())  # 2 bars of 6/8 at 120 bpm
    midi = mido.MidiFile(out / "drums_1.mid")
    assert max(sum(m.time for m in t) for t in midi.tracks) == 2 * 3 * midi.ticks_per_beat
    # the ring-out wraps onto the start
    pcm = np.arange(10)[:, None]
    assert loop_audio(pcm, 4)[:, 0].tolist() == [0 + 4 + 8, 1 + 5 + 9, 2 + 6, 3 + 7]


def test_swing_delays_every_second_sixteenth(bundled):
    straight = bundled.generate(GenerateConfig(bars=2, seed=5, humanize=False))[0]
    swung = bundled.generate(GenerateConfig(bars=2, seed=5, humanize=False, swing=75))[0]
    sixteenth = np.round(straight.quarters * 4).astype(int)
    delay = swung.quarters - straight.quarters
    assert (sixteenth % 2 == 1).any()
    assert np.allclose(delay, np.where(sixteenth % 2 == 1, 0.125, 0.0))
    with pytest.raises(Exception, match="swing must lie in 50..75"):
        GenerateConfig(swing=80)


def test_png_title_says_what_it_shows(tmp_path):
    from PIL import Image

    from drumrnn.render.outputs import GenerationRecord

    record = GenerationRecord({"path": "m.npz", "sha256": "0"},
                              {"sampling": {"temperature": 0.9, "top_k": 8}, "swing": 60},
                              7, [3], 97.0, "3/4")
    assert record.title(3) == ("97 bpm  |  3/4  |  seed 7 variation 3  |  temperature 0.9  |  "
                               "top-k 8  |  swing 60%  |  model m.npz")
    assert main(["generate", "--bars", "9", "--png", "--seed", "1", "--out", str(tmp_path)]) == 0
    width, height = Image.open(tmp_path / "drums_1.png").size
    assert height > 2 * 9 * 16  # two lines of bars (8 + 1), each under its bar numbers


def test_primer_channel_and_track_options(tmp_path, capsys):
    primer = write_midi_file(tmp_path / "keys.mid", rock_beat(channel=2))
    assert main(["generate", "--primer", str(primer), "--out", str(tmp_path / "a")]) == 1
    assert "channel 2" in capsys.readouterr().err
    assert main(["generate", "--primer", str(primer), "--channel", "2", "--bars", "3",
                 "--out", str(tmp_path / "b"), "--seed", "1"]) == 0
    record = json.loads((tmp_path / "b" / "generation.json").read_text())
    assert record["primer"] == {"file": str(primer), "source": "channel 2"}
    assert main(["generate", "--primer", str(primer), "--track", "Drums", "--bars", "3",
                 "--out", str(tmp_path / "c"), "--seed", "1"]) == 0
    assert same(read_drum_hits(tmp_path / "b" / "drums_1.mid", ),
                read_drum_hits(tmp_path / "c" / "drums_1.mid"))


@pytest.mark.parametrize("argv, message", [
    (["--top-k", "0"], "--top-k must be at least 1"),
    (["--beam-size", "0"], "--beam-size must be at least 1"),
    (["--greedy", "--temperature", "0.8"], "--temperature would change nothing"),
    (["--temperature", "0"], "use --greedy"),
    (["--variation", "2"], "give --seed too"),
    (["--model", "{run}"], "its model file is {run}/model.npz"),
    (["--model", "{run}/checkpoint-last.pt"], "is a training checkpoint, not a model file"),
    (["--model", "{pickle}"], "(it holds pickled data)"),
])
def test_generate_messages(tmp_path, capsys, argv, message):
    import pickle

    import torch

    run = tmp_path / "run"
    run.mkdir()
    (run / "model.npz").write_bytes(b"")
    torch.save({"model": torch.zeros(1)}, run / "checkpoint-last.pt")
    (tmp_path / "p.npz").write_bytes(pickle.dumps({"a": 1}))
    names = {"run": run, "pickle": tmp_path / "p.npz"}
    argv = [a.format(**names) for a in argv]
    assert main(["generate", *argv, "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert message.format(**names) in err and len(err.strip().splitlines()) == 1, err
    assert "allow_pickle" not in err


def test_a_primer_pattern_takes_the_time_signature(tmp_path):
    assert main(["generate", "--primer-pattern", "kick: x.....x.....; hh: x.x.x.x.x.x.",
                 "--time-signature", "3/4", "--tempo", "90", "--bars", "2", "--seed", "1", "--quantized",
                 "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "generation.json").read_text())
    assert (record["time_signature"], record["tempo"]) == ("3/4", 90)
    hits = read_drum_hits(tmp_path / "drums_1.mid")
    first_bar = hits.quarters < 3
    # the primer's bar comes first, unchanged: kicks on 1 and on the 4th 8th
    assert hits.quarters[first_bar & (hits.pitches == 36)].tolist() == [0.0, 1.5]
    assert hits.quarters.max() < 6
