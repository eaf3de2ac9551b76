"""Own corpora: LSTMetallica text corpora prepared like MIDI folders, small splits warned
about and filled on request."""

import pytest

from drumrnn.cli import main
from drumrnn.core.errors import DrumrnnError
from drumrnn.data.dataset import PrepareConfig, load_dataset, prepare
from drumrnn.data.text_corpus import corpus_pieces
from tests.conftest import rock_beat, write_midi_file

KICK, SNARE, HAT = "0b100000000", "0b010000000", "0b001000000"


def bar(*words):
    return "BAR " + " ".join(words * (16 // len(words)))


def corpus(n_bars: int, salt: int) -> str:
    """A corpus text of n bars; ``salt`` varies each bar so that pieces differ."""
    bars = [bar(KICK, HAT, SNARE if (b + salt) % 3 else KICK, HAT) for b in range(n_bars)]
    return " ".join(bars) + "\n"


def test_a_corpus_file_is_cut_into_pieces_and_split_by_content_hash(tmp_path):
    text = "\n\n".join(corpus(40, salt) for salt in range(3)) + "\n"
    path = tmp_path / "metallica.txt"
    path.write_text(text)
    pieces = corpus_pieces(text)
    assert [p.count("BAR") for p in pieces] == [16, 16, 8] * 3
    report = prepare(path, tmp_path / "out", PrepareConfig(split_fractions=(0.5, 0.25, 0.25)))
    files = report.manifest["files"]
    assert report.manifest["source"]["kind"] == "text"
    assert sum(f["split"] == "train" for f in files) >= 1 and len({f["split"] for f in files}) > 1
    skipped = {s["reason"] for s in report.manifest["skipped"]}
    assert len(files) + len(report.manifest["skipped"]) == 9
    assert all(r.startswith("duplicate of metallica.txt#") for r in skipped)
    train = load_dataset(tmp_path / "out").split("train")
    # a kick (class 0) on the first 16th of each bar, the hi-hat (class 2) on the second
    assert train.arrays["tokens"][:2].tolist() == [1, 4] and train.arrays["positions"][16] == 0
    # the same split again from the same text: by content hash
    again = prepare(path, tmp_path / "again", PrepareConfig(split_fractions=(0.5, 0.25, 0.25)))
    assert [f["split"] for f in again.manifest["files"]] == [f["split"] for f in files]


def test_a_folder_mixes_midi_files_and_corpora_and_bad_words_are_skipped(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    write_midi_file(src / "beat.mid", rock_beat(4))
    (src / "a.txt").write_text(corpus(8, 0))
    (src / "bad.txt").write_text("BAR 0b1 0b000000000\n")
    assert main(["prepare", str(src), "--out", str(tmp_path / "out"), "--split", "1/1/1"]) == 0
    manifest = load_dataset(tmp_path / "out").manifest
    assert sorted(f["path"] for f in manifest["files"]) == ["a.txt", "beat.mid"]
    assert manifest["skipped"][0]["path"] == "bad.txt"
    assert "is not BAR or 0b + 9 binary digits" in manifest["skipped"][0]["reason"]


def test_small_splits_are_warned_about_and_filled_on_request(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(8):
        write_midi_file(src / f"{i}.mid", rock_beat(2 + i))
    assert main(["prepare", str(src), "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    manifest = load_dataset(tmp_path / "a").manifest
    small = [s for s in ("validation", "test") if manifest["splits"][s]["files"] < 5]
    assert len(err.splitlines()) == len(small) == 2
    assert "warning: the validation split holds" in err and "--min-per-split" in err
    assert main(["prepare", str(src), "--out", str(tmp_path / "b"), "--min-per-split", "2"]) == 0
    splits = load_dataset(tmp_path / "b").manifest["splits"]
    assert [splits[s]["files"] for s in ("train", "validation", "test")] == [4, 2, 2]
    dataset = load_dataset(tmp_path / "b")
    for entry in dataset.manifest["files"]:  # every moved file's track is where it says
        assert dataset.split(entry["split"]).track(entry["index"])[0]["tokens"].size \
            == entry["tokens"]
    with pytest.raises(DrumrnnError, match="8 files cannot give each of the 3 splits 3 files"):
        prepare(src, tmp_path / "c", PrepareConfig(min_per_split=3))
