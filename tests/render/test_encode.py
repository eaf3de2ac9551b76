"""MP3 and FLAC: decoded lengths match the WAV, sizes follow the bitrate, tags read back."""

import json

import numpy as np
import pytest
import soundfile

from drumrnn.cli import main
from drumrnn.core.errors import DrumrnnError
from drumrnn.generation.generate import DrumGenerator, GenerateConfig
from drumrnn.render.encode import MP3_KBPS, encode_audio
from drumrnn.render.outputs import write_patterns

MP3_FRAME = 1152  # samples per MPEG-1 Layer III frame


@pytest.fixture(scope="module")
def eight_bars(tmp_path_factory):
    """One 8-bar pattern of the bundled model at 120 bpm as WAV, MP3 and FLAC."""
    out = tmp_path_factory.mktemp("audio")
    gen = DrumGenerator.load()
    patterns = gen.generate(GenerateConfig(bars=8, seed=4))
    settings = {"seed": 4, "bars": 8, "temperature": 1.0}
    write_patterns(patterns, out, gen.kit, 8, wav=True, mp3=True, flac=True, settings=settings)
    return out, settings


def test_mp3_and_flac_decode_to_the_wav_length_and_flac_to_its_samples(eight_bars):
    out, _ = eight_bars
    wav, rate = soundfile.read(out / "drums_1.wav", dtype="int16")
    flac, flac_rate = soundfile.read(out / "drums_1.flac", dtype="int16")
    mp3, mp3_rate = soundfile.read(out / "drums_1.mp3", dtype="int16")
    assert rate == flac_rate == mp3_rate
    assert wav.shape[0] > 8 * 2 * rate  # 8 bars at 120 bpm and the tail
    np.testing.assert_array_equal(flac, wav)  # lossless
    assert abs(mp3.shape[0] - wav.shape[0]) <= MP3_FRAME
    assert mp3.shape[1] == wav.shape[1]


def test_mp3_of_eight_bars_at_the_default_bitrate_is_under_200_kb(eight_bars):
    out, _ = eight_bars
    assert (out / "drums_1.mp3").stat().st_size < 200_000


def test_tags_read_back_title_and_settings(eight_bars):
    out, settings = eight_bars
    for suffix in ("mp3", "flac"):
        with soundfile.SoundFile(out / f"drums_1.{suffix}") as f:
            assert f.title == "drums_1"
            assert json.loads(f.comment) == settings


@pytest.mark.parametrize("kbps", [32, 80, 128, 320])
def test_mp3_size_follows_the_asked_bitrate(kbps, tmp_path):
    rate, seconds = 48000, 3.0
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, (int(rate * seconds), 2)).astype(np.float32)
    path = encode_audio(noise, rate, tmp_path / "n.mp3", "mp3", mp3_kbps=kbps)
    assert path.stat().st_size * 8 / seconds / 1000 == pytest.approx(kbps, rel=0.05)


def test_a_bitrate_mp3_lacks_is_refused_in_one_line(tmp_path):
    with pytest.raises(DrumrnnError, match="one of 32, 40") as info:
        encode_audio(np.zeros((100, 2), np.int16), 48000, tmp_path / "x.mp3", "mp3", mp3_kbps=100)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "x.mp3").exists()
    assert sorted(MP3_KBPS) == list(MP3_KBPS)


def test_generate_writes_mp3_and_flac_tagged_with_its_settings(tmp_path, capsys):
    assert main(["generate", "--bars", "2", "--seed", "9", "--temperature", "0.8", "--mp3",
                 "--flac", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "drums_1.flac", "drums_1.mid", "drums_1.mp3", "generation.json"]
    with soundfile.SoundFile(tmp_path / "drums_1.mp3") as f:
        comment = json.loads(f.comment)
    # the generation record of that variation, as in generation.json and the MIDI file
    settings = comment["settings"]
    assert (comment["seed"], settings["bars"], settings["sampling"]["temperature"]) == (9, 2, 0.8)
    assert comment["variation"] == 1 and comment["model"]["name"] == "bundled default.npz"


def test_generate_refuses_a_bad_bitrate_before_generating(tmp_path, capsys):
    assert main(["generate", "--mp3", "--mp3-kbps", "100", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("drumrnn generate: error: MP3 bitrate must be one of")
    assert "\n" not in err
    assert list(tmp_path.iterdir()) == []
