"""Per-track labels in prepared datasets: the GMD's, a labels CSV, folder names, unknown."""

import json

import numpy as np
import pytest

from drumrnn.cli import main
from drumrnn.core.errors import DrumrnnError
from drumrnn.data.dataset import PrepareConfig, prepare
from drumrnn.data.groove import GrooveFilter
from drumrnn.data.labels import LabelSource, clean_style
from drumrnn.model.labels import LabelVocab, label_vocab_of, track_label_ids
from tests.conftest import GROOVE, needs_groove, rock_beat, write_midi_file


@pytest.fixture
def styled(tmp_path):
    src = tmp_path / "midi"
    for folder in ("Rock", "jazz", ""):
        (src / folder).mkdir(parents=True, exist_ok=True)
    write_midi_file(src / "Rock" / "a.mid", rock_beat(2))
    write_midi_file(src / "jazz" / "b.mid", rock_beat(3), tempos=((0, 600000),))
    write_midi_file(src / "c.mid", rock_beat(4))
    return src


def test_folder_names_and_csv_give_style_and_kind_tempo_from_the_file(styled, tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text("file,style,kind\nc.mid,Funk/Groove2,fill\njazz/b.mid,,beat\n")
    assert main(["prepare", str(styled), "--out", str(tmp_path / "d"), "--labels", str(csv),
                 "--style-from-folder", "--quiet"]) == 0
    manifest = json.loads((tmp_path / "d" / "manifest.json").read_text())
    labels = {e["path"]: e["labels"] for e in manifest["files"]}
    assert labels["Rock/a.mid"] == {"style": "rock", "kind": None, "bpm": 120.0, "drummer": None}
    assert labels["jazz/b.mid"] == {"style": "jazz", "kind": "beat", "bpm": 100.0,
                                    "drummer": None}
    assert labels["c.mid"]["style"] == "funk" and labels["c.mid"]["kind"] == "fill"


def test_without_a_source_style_and_kind_are_unknown(styled, tmp_path):
    report = prepare(styled, tmp_path / "d")
    assert {e["labels"]["style"] for e in report.manifest["files"]} == {None}
    assert {e["labels"]["kind"] for e in report.manifest["files"]} == {None}
    vocab = label_vocab_of(report.manifest)
    assert vocab.styles == () and vocab.sizes == (1, 3, 9)
    for split in ("train", "validation", "test"):
        ids = track_label_ids(report.manifest, split, vocab)
        assert (ids[:, :2] == 0).all() and (ids[:, 2] > 0).all()  # tempo from the file


def test_a_bad_kind_in_the_csv_names_its_line(styled, tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text("file,style,kind\nc.mid,rock,beat\nRock/a.mid,rock,solo\n")
    with pytest.raises(DrumrnnError, match="labels.csv line 3: kind must be beat or fill"):
        prepare(styled, tmp_path / "d", PrepareConfig(labels=LabelSource(str(csv))))
    (tmp_path / "bare.csv").write_text("a,b\n")
    with pytest.raises(DrumrnnError, match="header row with columns file,style,kind"):
        prepare(styled, tmp_path / "d", PrepareConfig(labels=LabelSource(str(tmp_path / "bare.csv"))))


def test_label_ids_unknown_and_tempo_buckets():
    vocab = LabelVocab(("rock", "funk"))
    assert vocab.ids("Rock/halftime", "fill", 96).tolist() == [1, 2, vocab.tempo_id(96)]
    assert vocab.ids(None, None, None).tolist() == [0, 0, 0]
    assert vocab.ids("polka", "beat", 0).tolist() == [0, 1, 0]
    with pytest.raises(DrumrnnError, match="unknown style 'polka'; this model knows: rock, funk"):
        vocab.ids("polka", strict=True)
    buckets = [vocab.tempo_id(b) for b in (50, 70, 84.9, 85, 110, 179, 180, 290)]
    assert buckets == [1, 2, 2, 3, 4, 7, 8, 8]
    assert clean_style("  ") is None and clean_style("Latin/Bossa") == "latin"


@needs_groove
def test_groove_labels_are_the_top_level_style_kind_bpm_and_drummer(tmp_path):
    report = prepare(GROOVE, tmp_path / "d", PrepareConfig(
        groove_filter=GrooveFilter(drummers=("drummer1",), styles=("funk",))))
    entries = report.manifest["files"]
    assert entries and all(e["labels"]["style"] == "funk" for e in entries)
    assert {e["labels"]["kind"] for e in entries} <= {"beat", "fill"}
    assert all(e["labels"]["drummer"] == "drummer1" for e in entries)
    assert all(e["labels"]["bpm"] == float(e["bpm"]) for e in entries)
    with pytest.raises(DrumrnnError, match="has its own labels"):
        prepare(GROOVE, tmp_path / "e", PrepareConfig(labels=LabelSource(style_from_folder=True)))
    assert np.isclose(entries[0]["file_bpm"], entries[0]["bpm"], atol=1)
