import json
import shutil

import numpy as np
import pytest

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.dataset import PrepareConfig, load_dataset, prepare
from drumrnn.data.encoding import EncodingConfig
from drumrnn.data.groove import GrooveFilter
from drumrnn.data.kits import get_kit
from drumrnn.data.midi_read import read_drum_hits
from drumrnn.data.steps import encode_steps
from tests.conftest import GROOVE, needs_groove, rock_beat, write_midi_file


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "midi"
    (src / "sub").mkdir(parents=True)
    for i in range(12):
        notes = rock_beat(bars=2 + i % 3) + [(i * 120, 49, 100, 10)]
        write_midi_file(src / ("sub" if i % 2 else "") / f"groove{i}.mid", notes)
    return src


def test_prepare_folder_writes_arrays_and_manifest(folder, tmp_path):
    out = tmp_path / "data"
    report = prepare(folder, out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "drumrnn-dataset" and manifest["format_version"] == 2
    assert manifest["config"]["encoding"]["kit"] == "9"
    assert sum(s["files"] for s in manifest["splits"].values()) == 12
    assert manifest["skipped"] == []
    dataset = load_dataset(out)
    # every file's tokens in the arrays equal encoding it directly
    for entry in manifest["files"]:
        split = dataset.split(entry["split"])
        sequence, hits = split.track(entry["index"])
        direct = encode_steps(read_drum_hits(folder / entry["path"]), get_kit("9"))
        assert sequence["tokens"].tolist() == direct.tokens.tolist()
        assert hits["hit_velocities"].tolist() == direct.hit_velocities.tolist()
        assert len(entry["sha256"]) == 64
    assert report.parsed == 12 and report.reused == 0
    # memory-mappable arrays
    assert isinstance(dataset.split("train").arrays["tokens"], np.memmap)


def test_split_is_deterministic_by_content(folder, tmp_path):
    a = prepare(folder, tmp_path / "a").manifest["files"]
    renamed = tmp_path / "renamed"
    shutil.copytree(folder, renamed)
    (renamed / "groove0.mid").rename(renamed / "zzz.mid")
    b = prepare(renamed, tmp_path / "b").manifest["files"]
    assert {e["sha256"]: e["split"] for e in a} == {e["sha256"]: e["split"] for e in b}


def test_bad_files_are_skipped_with_reasons_and_nothing_is_lost(folder, tmp_path):
    (folder / "empty.mid").write_bytes(b"")
    (folder / "text.mid").write_text("not midi")
    good = (folder / "groove1.mid").read_bytes() if (folder / "groove1.mid").exists() else \
        (folder / "sub" / "groove1.mid").read_bytes()
    (folder / "truncated.midi").write_bytes(good[:40])
    write_midi_file(folder / "keys.mid", rock_beat(channel=2))
    report = prepare(folder, tmp_path / "out")
    reasons = {s["path"]: s["reason"] for s in report.manifest["skipped"]}
    assert reasons["empty.mid"] == "empty file"
    assert reasons["text.mid"].startswith("not a MIDI file")
    assert reasons["truncated.midi"].startswith("corrupt MIDI")
    assert "notes found on channel 2" in reasons["keys.mid"]
    assert sum(s["files"] for s in report.manifest["splits"].values()) == 12
    assert "skipped 4 files" in report.summary()


def test_no_usable_file_fails_loudly_and_writes_nothing(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.mid").write_bytes(b"junk")
    with pytest.raises(DrumrnnError, match="no usable file among 1 .*a.mid: not a MIDI file"):
        prepare(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == [src]  # no temporary folder left behind
    with pytest.raises(DrumrnnError, match="no .mid, .midi or .txt files"):
        prepare(_empty(tmp_path), tmp_path / "o2")
    with pytest.raises(DrumrnnError, match="no such folder"):
        prepare(tmp_path / "nowhere", tmp_path / "o3")


def _empty(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    return empty


def test_rerun_reuses_unchanged_files_and_a_failed_run_keeps_the_old_output(folder, tmp_path):
    out = tmp_path / "out"
    first = prepare(folder, out).manifest  # read from the output folder
    write_midi_file(folder / "new.mid", rock_beat(5))
    second = prepare(folder, out)
    assert second.parsed == 1 and second.reused == 12
    assert second.manifest["files"] != first["files"]
    # a different config parses everything again
    third = prepare(folder, out, PrepareConfig(EncodingConfig(kit="roland")))
    assert third.parsed == 13
    third_manifest = third.manifest
    # a preparation that fails leaves the previous dataset untouched
    with pytest.raises(DrumrnnError):
        prepare(_empty(tmp_path), out)
    assert load_dataset(out).manifest == third_manifest


def test_events_dataset_records_both_vocabularies(folder, tmp_path):
    report = prepare(folder, tmp_path / "ev", PrepareConfig(EncodingConfig("events")))
    vocab = report.manifest["vocabulary"]
    assert vocab["drums"] == 10
    assert 0 in vocab["deltas"] and 24 in vocab["deltas"]  # simultaneous hits, 8th notes
    split = load_dataset(tmp_path / "ev").split("train")
    assert set(split.arrays) == {"drums", "deltas", "velocities", "track_starts"}


def test_groove_filters_need_a_groove_folder(folder, tmp_path):
    with pytest.raises(DrumrnnError, match="not a Groove MIDI Dataset folder"):
        prepare(folder, tmp_path / "o", PrepareConfig(groove_filter=GrooveFilter(styles=("rock",))))


def test_load_rejects_foreign_and_future_datasets(tmp_path):
    with pytest.raises(DrumrnnError, match="not a prepared dataset"):
        load_dataset(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": "drumrnn-dataset", "format_version": 99}')
    with pytest.raises(DrumrnnError, match="version 99 is not supported"):
        load_dataset(tmp_path)
    (tmp_path / "manifest.json").write_text("[1, 2")
    with pytest.raises(DrumrnnError, match="unreadable manifest"):
        load_dataset(tmp_path)


@needs_groove
def test_groove_official_split(tmp_path):
    report = prepare(GROOVE, tmp_path / "gmd")
    splits = report.manifest["splits"]
    # 897/124/129 files; one train file is a byte-for-byte copy of another and is skipped
    assert (splits["train"]["files"], splits["validation"]["files"],
            splits["test"]["files"]) == (896, 124, 129)
    assert [(s["path"], s["reason"]) for s in report.manifest["skipped"]] == [(
        "drummer2/session2/8_rock_130_beat_4-4.mid",
        "duplicate of drummer2/session2/7_rock_130_beat_4-4.mid")]
    # the official split stays whole: the 7 files whose drum tokens repeat another's are
    # counted, not dropped
    assert report.manifest["duplicates"] == {"same_bytes": 1, "same_tokens": 7,
                                             "same_tokens_kept": 7}
    assert report.manifest["vocabulary"]["size"] == 512
    entry = report.manifest["files"][0]
    assert {"drummer", "style", "bpm", "beat_type", "time_signature"} <= set(entry)


@needs_groove
def test_groove_filters(tmp_path):
    config = PrepareConfig(groove_filter=GrooveFilter(
        styles=("funk/groove1", "rock"), beat_type="beat", time_signatures=("4-4",),
        drummers=("drummer1", "drummer7"), bpm_range=(90, 140)))
    files = prepare(GROOVE, tmp_path / "f", config).manifest["files"]
    assert files
    for entry in files:
        assert entry["style"] == "funk/groove1" or entry["style"].split("/")[0] == "rock"
        assert entry["beat_type"] == "beat" and entry["time_signature"] == "4-4"
        assert entry["drummer"] in ("drummer1", "drummer7") and 90 <= entry["bpm"] <= 140
    with pytest.raises(DrumrnnError, match="filters keep no file"):
        prepare(GROOVE, tmp_path / "g", PrepareConfig(groove_filter=GrooveFilter(styles=("polka",))))
