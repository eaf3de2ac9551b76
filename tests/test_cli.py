import json
import subprocess
import sys
import zipfile

import pytest

from drumrnn.cli import main
from drumrnn.core.errors import DrumrnnError
from drumrnn.data.download import download_groove
from tests.conftest import rock_beat, write_midi_file


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_encode_prints_one_integer_per_step(capsys, midi_file):
    code, out, _ = run(capsys, "encode", midi_file(rock_beat(1)))
    assert code == 0
    tokens = [int(t) for t in out.split()]
    assert len(tokens) == 16 and tokens[:5] == [5, 0, 4, 0, 6]


def test_encode_words_and_events(capsys, midi_file):
    path = midi_file(rock_beat(1))
    _, out, _ = run(capsys, "encode", path, "--format", "words")
    assert out.split()[:3] == ["BAR", "0b101000000", "0b000000000"]
    _, out, _ = run(capsys, "encode", path, "--encoding", "events")
    assert out.splitlines()[:3] == ["0 0", "2 0", "2 24"]
    _, out, _ = run(capsys, "encode", path, "--encoding", "events", "--kit", "full")
    assert out.splitlines()[:2] == ["36 0", "42 0"]  # GM notes with the full kit
    code, _, err = run(capsys, "encode", path, "--encoding", "events", "--format", "words")
    assert code == 1 and "use it with --encoding steps" in err


def test_inspect_summarizes_and_names_dropped_pitches(capsys, midi_file):
    path = midi_file(rock_beat(2) + [(0, 22, 90, 10), (0, 90, 90, 10)])
    code, out, _ = run(capsys, "inspect", path, "--kit", "roland")
    assert code == 0
    assert "tempo: 120.0 bpm" in out and "time signature: 4/4" in out
    assert "length: 2 bars, 3.8 s" in out
    assert "closed hi-hat  17" in out
    assert "dropped (not in kit roland): 90 note 90 x1" in out


@pytest.mark.parametrize("argv, message", [
    (["inspect", "missing.mid"], "missing.mid: no such file"),
    (["inspect", "{bad}"], "not a MIDI file"),
    (["inspect", "{keys}"], "notes found on channel 2"),
    (["inspect", "{keys}", "--channel", "0"], "channel must be 1..16"),
    (["encode", "{keys}", "--steps-per-quarter", "0"], "steps_per_quarter must be 1..96"),
    (["prepare", "{empty}", "--out", "{out}"], "no .mid, .midi or .txt files"),
    (["prepare", "{empty}", "--out", "{out}", "--split", "9/1"], "--split must look like"),
    (["prepare", "{empty}", "--out", "{out}", "--bpm", "fast"], "bpm range must look like"),
])
def test_bad_input_gives_one_line_and_nonzero_exit(capsys, tmp_path, argv, message):
    names = {"bad": tmp_path / "bad.mid", "keys": tmp_path / "keys.mid",
             "empty": tmp_path / "empty", "out": tmp_path / "out"}
    names["bad"].write_text("hello")
    write_midi_file(names["keys"], rock_beat(channel=2))
    names["empty"].mkdir()
    code, out, err = run(capsys, *[a.format(**names) for a in argv])
    assert code == 1 and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_console_script_exit_status_without_traceback(tmp_path):
    bad = tmp_path / "x.mid"
    bad.write_bytes(b"")
    result = subprocess.run([sys.executable, "-m", "drumrnn", "inspect", str(bad)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr == f"drumrnn inspect: error: {bad}: empty file\n"


def test_prepare_command_reports_counts(capsys, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        write_midi_file(src / f"{i}.mid", rock_beat(i + 1))
    (src / "bad.mid").write_text("x")
    code, out, _ = run(capsys, "prepare", src, "--out", tmp_path / "ds", "--quiet")
    assert code == 0 and "skipped 1 files" in out
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert sum(s["files"] for s in manifest["splits"].values()) == 3


def _groove_zip(tmp_path, n_files=3, extra=None):
    archive = tmp_path / "groove.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("groove/info.csv", "drummer,session,id,style,bpm,beat_type,time_signature,"
                    "midi_filename,audio_filename,duration,split\n" + "".join(
                        f"drummer1,drummer1/s,drummer1/s/{i},rock,120,beat,4-4,"
                        f"drummer1/s/{i}.mid,,4.0,{['train', 'validation', 'test'][i % 3]}\n"
                        for i in range(n_files)))
        for i in range(n_files):
            midi = write_midi_file(tmp_path / f"{i}.mid", rock_beat(i + 1))
            zf.write(midi, f"groove/drummer1/s/{i}.mid")
        if extra:
            zf.writestr(extra, "x")
    return archive


def test_download_checks_and_unpacks_a_groove_archive(tmp_path, capsys):
    archive = _groove_zip(tmp_path)
    code, out, _ = run(capsys, "download", "groove", "--dest", tmp_path / "data",
                       "--url", archive.as_uri())
    # the test archive has 3 files, not the real 1,150: the count check refuses it
    assert code == 1
    folder = download_groove(tmp_path / "data", archive.as_uri(), expected_files=3)
    assert (folder / "info.csv").is_file() and (folder / "drummer1/s/2.mid").is_file()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["groove"]
    code, out, _ = run(capsys, "prepare", folder, "--out", tmp_path / "ds", "--quiet")
    assert code == 0 and "train 1 files" in out


def test_download_refuses_bad_archives(tmp_path):
    with pytest.raises(DrumrnnError, match="download of .* failed"):
        download_groove(tmp_path / "a", (tmp_path / "missing.zip").as_uri())
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(DrumrnnError, match="not a valid zip"):
        download_groove(tmp_path / "b", junk.as_uri())
    evil = _groove_zip(tmp_path, extra="../escape.txt")
    with pytest.raises(DrumrnnError, match="paths outside"):
        download_groove(tmp_path / "c", evil.as_uri(), expected_files=3)
    assert not (tmp_path / "c" / "groove").exists()


def test_download_lakh_then_prepare_the_archive(tmp_path, capsys):
    import tarfile

    archive = tmp_path / "lmd_full.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for i in range(3):
            midi = write_midi_file(tmp_path / f"{i}.mid", rock_beat(i + 2))
            tar.add(midi, f"lmd_full/{i}/{i}.mid")
    code, out, _ = run(capsys, "download", "lakh", "--dest", tmp_path / "data",
                       "--url", archive.as_uri())
    assert code == 0 and "prepare it with: drumrnn prepare" in out
    code, out, _ = run(capsys, "prepare", tmp_path / "data" / "lmd_full.tar.gz",
                       "--out", tmp_path / "ds", "--quiet")
    assert code == 0 and out.startswith(f"prepared {tmp_path / 'ds'}")
    assert sum(e["files"] for e in json.loads(
        (tmp_path / "ds" / "manifest.json").read_text())["splits"].values()) == 3
