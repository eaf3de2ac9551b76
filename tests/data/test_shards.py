"""Sharded datasets: streaming preparation, crash resume, archives, multi-track songs,
near-duplicates, and lazy reading equal to reading everything."""

import io
import tarfile

import numpy as np
import pytest

from drumrnn.core.errors import DrumrnnError
from drumrnn.data import dataset as dataset_module
from drumrnn.data.dataset import PrepareConfig, load_dataset, prepare
from drumrnn.data.download import download_lakh
from drumrnn.data.encoding import EncodingConfig
from drumrnn.data.shards import ShardedArray
from drumrnn.model.profile import learn_profile
from drumrnn.model.tracks import track_arrays, vocabulary_of
from tests.conftest import rock_beat, write_midi_file

SMALL_SHARDS = 4000  # bytes: a few tracks per shard


@pytest.fixture
def corpus(tmp_path):
    src = tmp_path / "midi"
    src.mkdir()
    for i in range(40):
        notes = rock_beat(bars=2 + i % 5) + [(i * 120, 49, 100, 10), (i * 60, 45, 90, 10)]
        write_midi_file(src / f"song{i:02d}.mid", notes)
    return src


def _tracks_by_hash(path):
    dataset = load_dataset(path)
    out = {}
    for entry in dataset.manifest["files"]:
        sequence, hits = dataset.split(entry["split"]).track(entry["index"])
        out[entry["sha256"]] = (entry["split"], {k: v.tolist() for k, v in sequence.items()},
                                {k: v.tolist() for k, v in hits.items()})
    return out


def test_sharded_array_reads_as_its_concatenation():
    rng = np.random.default_rng(0)
    parts = [rng.integers(0, 100, size=n) for n in (5, 1, 7, 3)]
    whole = np.concatenate(parts)
    view = ShardedArray(parts)
    assert len(view) == 16 and view.shape == (16,) and view.dtype == whole.dtype
    assert view[6] == whole[6] and view[-1] == whole[-1]
    assert view[3:12].tolist() == whole[3:12].tolist() and view[::3].tolist() == whole[::3].tolist()
    at = rng.integers(0, 16, size=(4, 6))
    assert np.array_equal(view[at], whole[at])
    assert np.array_equal(np.asarray(view, dtype=np.int64), whole)


def test_many_shards_hold_the_same_tracks_as_one(corpus, tmp_path, monkeypatch):
    one = prepare(corpus, tmp_path / "one")
    many = prepare(corpus, tmp_path / "many", shard_bytes=SMALL_SHARDS)
    assert all(len(shards) == 1 for shards in one.manifest["shards"].values())
    assert len(many.manifest["shards"]["train"]) > 3
    assert _tracks_by_hash(tmp_path / "one") == _tracks_by_hash(tmp_path / "many")
    assert one.manifest["vocabulary"] == many.manifest["vocabulary"]
    assert one.manifest["splits"] == many.manifest["splits"]
    a, b = load_dataset(tmp_path / "one"), load_dataset(tmp_path / "many")
    assert isinstance(b.split("train").arrays["tokens"], ShardedArray)
    for name, array in a.split("train").arrays.items():
        assert np.array_equal(np.asarray(b.split("train").arrays[name]), array), name
    # the velocity profile is summed shard by shard, a few tracks at a time, to the same values
    pa = learn_profile(a)
    monkeypatch.setattr("drumrnn.model.profile.CHUNK_TRACKS", 3)
    pb = learn_profile(b)
    assert pa.keys() == pb.keys()
    assert all(np.allclose(pa[k], pb[k], atol=1e-4) for k in pa)


@pytest.mark.parametrize("encoding", ["steps", "events"])
def test_lazy_track_arrays_give_the_same_windows(corpus, tmp_path, encoding):
    config = PrepareConfig(EncodingConfig(encoding))
    prepare(corpus, tmp_path / "one", config)
    prepare(corpus, tmp_path / "many", config, shard_bytes=SMALL_SHARDS)
    a, b = load_dataset(tmp_path / "one"), load_dataset(tmp_path / "many")
    vocab = vocabulary_of(a)
    eager, lazy = track_arrays(a.split("train"), vocab), track_arrays(b.split("train"), vocab)
    assert isinstance(eager.ids, np.ndarray) and not isinstance(lazy.ids, np.ndarray)
    at = np.random.default_rng(1).integers(0, len(eager.ids), size=(8, 33))
    for name in ("ids", "index", "position", "lookback", "delta_ids"):
        if getattr(eager, name) is None:
            assert getattr(lazy, name) is None
            continue
        assert np.array_equal(getattr(lazy, name)[at], getattr(eager, name)[at]), name
        assert np.array_equal(np.asarray(getattr(lazy, name)), getattr(eager, name)), name


def test_a_crashed_preparation_resumes_from_its_finished_shards(corpus, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real_add = dataset_module._Staging.add
    calls = []

    def crash_after_30(self, *args):
        calls.append(1)
        if len(calls) > 30:
            raise KeyboardInterrupt
        real_add(self, *args)

    monkeypatch.setattr(dataset_module._Staging, "add", crash_after_30)
    with pytest.raises(KeyboardInterrupt):
        prepare(corpus, out, shard_bytes=SMALL_SHARDS, workers=1)
    monkeypatch.undo()
    assert not out.exists()
    staged = tmp_path / ".out.partial"
    assert any(staged.glob("train/0000*/shard.json"))
    resumed = prepare(corpus, out, shard_bytes=SMALL_SHARDS, workers=1)
    # files in finished shards were not parsed again, and the result is a fresh run's
    assert 0 < resumed.parsed < 40
    fresh = prepare(corpus, tmp_path / "fresh", shard_bytes=SMALL_SHARDS)
    assert _tracks_by_hash(out) == _tracks_by_hash(tmp_path / "fresh")
    assert fresh.manifest["splits"] == resumed.manifest["splits"]
    assert not staged.exists()
    # a re-run reuses every file from the output
    again = prepare(corpus, out, shard_bytes=SMALL_SHARDS)
    assert again.parsed == 0 and again.reused == 40


def _song(drums, channel=10):
    """A type-1 song: piano and bass on their own tracks, drums on ``channel``."""
    piano = [(i * 480, 60 + i % 12, 80, 1, 1) for i in range(16)]
    bass = [(i * 960, 36, 90, 2, 2) for i in range(8)]
    return [(t, p, v, channel, 3) for t, p, v, _ in drums] + piano + bass


def test_multitrack_songs_drums_from_channel_10_and_duplicates(tmp_path):
    src = tmp_path / "lakh"
    src.mkdir()
    names = ("Meta", "Piano", "Bass", "Drums")
    write_midi_file(src / "a.mid", _song(rock_beat(4)), track_names=names)
    write_midi_file(src / "plain.mid", rock_beat(4))  # the same drums alone: same tokens
    louder = [(t, p, min(127, v + 20), c) for t, p, v, c in rock_beat(4)]
    write_midi_file(src / "b.mid", _song(louder), track_names=names)  # same tokens, other bytes
    write_midi_file(src / "c.mid", _song(rock_beat(6)), track_names=names)
    (src / "copy.mid").write_bytes((src / "c.mid").read_bytes())
    write_midi_file(src / "nodrums.mid", _song([], channel=10), track_names=names)
    kept = prepare(src, tmp_path / "kept")  # by default near-duplicates are counted, kept
    assert kept.duplicates == {"same_bytes": 1, "same_tokens": 2, "same_tokens_kept": 2}
    assert {e["path"]: e.get("near_duplicate_of") for e in kept.manifest["files"]} == {
        "a.mid": None, "plain.mid": "a.mid", "b.mid": "a.mid", "c.mid": None}
    report = prepare(src, tmp_path / "out", PrepareConfig(skip_near_duplicates=True))
    reasons = {s["path"]: s["reason"] for s in report.manifest["skipped"]}
    assert reasons["copy.mid"] == "duplicate of c.mid"
    assert reasons["b.mid"].startswith("near-duplicate of a.mid (same drum tokens")
    assert reasons["plain.mid"].startswith("near-duplicate of a.mid")
    assert reasons["nodrums.mid"].startswith("no drum hits on channel 10; notes found on "
                                             "channel 1 (16 notes), channel 2 (8 notes)")
    assert sorted(e["path"] for e in report.manifest["files"]) == ["a.mid", "c.mid"]
    assert report.manifest["duplicates"] == {"same_bytes": 1, "same_tokens": 2,
                                             "same_tokens_kept": 0}
    assert "1 same bytes, 2 same drum tokens" in report.summary()
    # --channel picks another channel's notes as drums
    bass = prepare(src, tmp_path / "bass", PrepareConfig(
        EncodingConfig(kit="full"), source=dataset_module.DrumSource(channel=2)))
    # the same bass line in all four songs (the byte copy aside): one line, three repeats
    assert bass.manifest["dropped_pitches"] == {} and len(bass.manifest["files"]) == 4
    assert bass.duplicates["same_tokens_kept"] == 3


def _tar(folder, archive, root="lmd_full"):
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=f"{root}/{path.relative_to(folder).as_posix()}")
        info = tarfile.TarInfo(f"{root}/junk.mid")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"junk"))
    return archive


def test_prepare_reads_a_tar_gz_as_it_reads_the_folder(corpus, tmp_path):
    archive = _tar(corpus, tmp_path / "corpus.tar.gz")
    prepare(corpus, tmp_path / "folder")
    from_archive = prepare(archive, tmp_path / "archive", shard_bytes=SMALL_SHARDS)
    assert _tracks_by_hash(tmp_path / "folder") == _tracks_by_hash(tmp_path / "archive")
    assert from_archive.manifest["source"]["kind"] == "archive"
    assert {s["path"]: s["reason"] for s in from_archive.manifest["skipped"]} == {
        "lmd_full/junk.mid": "not a MIDI file (no MThd header)"}
    (tmp_path / "bad.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(DrumrnnError, match="unreadable archive"):
        prepare(tmp_path / "bad.tar.gz", tmp_path / "bad")


def test_download_lakh_checks_and_keeps_the_archive(corpus, tmp_path):
    archive = _tar(corpus, tmp_path / "lmd_full.tar.gz")
    dest = tmp_path / "data"
    path = download_lakh(dest, url=archive.as_uri())
    assert path == dest / "lmd_full.tar.gz" and path.read_bytes() == archive.read_bytes()
    assert download_lakh(dest, url="file:///nowhere/at/all.tar.gz") == path  # already there
    (tmp_path / "fake.tar.gz").write_bytes(b"<html>not found</html>")
    with pytest.raises(DrumrnnError, match="not a .tar.gz"):
        download_lakh(tmp_path / "d2", url=(tmp_path / "fake.tar.gz").as_uri())
    assert list((tmp_path / "d2").iterdir()) == []


def test_shard_writer_carries_any_arrays_per_token_and_per_track(tmp_path):
    from drumrnn.data.shards import ShardWriter, concatenate_shards, finished_shards, open_shard

    rng = np.random.default_rng(0)
    tracks = []
    writer = ShardWriter(tmp_path / "train", max_bytes=300)
    for i in range(9):
        n, bars = 5 + i, 1 + i % 3
        track = ({"track_starts": {"tokens": rng.integers(0, 9, n).astype(np.int16),
                                   "feel": rng.random((n, 2)).astype(np.float32)},
                  "bar_starts": {"bar_style": np.full(bars, i, dtype=np.int8)}},
                 {"label": i % 4})
        tracks.append(track)
        writer.add(track[0], {"path": f"{i}.mid"}, per_track=track[1])
        if writer.full:
            writer.flush()
    writer.flush()
    shards = list(finished_shards(tmp_path / "train"))
    assert len(shards) > 2 and sum(s["tracks"] for s in shards) == 9
    arrays = concatenate_shards([open_shard(tmp_path / "train" / s["name"]) for s in shards])
    for i, (groups, per_track) in enumerate(tracks):
        a, b = arrays["track_starts"][i:i + 2]
        assert np.array_equal(arrays["tokens"][a:b], groups["track_starts"]["tokens"])
        assert np.array_equal(arrays["feel"][a:b], groups["track_starts"]["feel"])
        a, b = arrays["bar_starts"][i:i + 2]
        assert np.array_equal(arrays["bar_style"][a:b], groups["bar_starts"]["bar_style"])
        assert arrays["label"][i] == per_track["label"]
    assert arrays["feel"].dtype == np.float32 and arrays["feel"].shape == (sum(5 + i for i in range(9)), 2)
    with pytest.raises(DrumrnnError, match="tracks of one split must carry the same arrays"):
        writer.add({"track_starts": {"tokens": np.zeros(3, np.int16)}}, {"path": "x.mid"})
        writer.add({"track_starts": {"other": np.zeros(3, np.int16)}}, {"path": "y.mid"})


def test_lazy_model_inputs_of_the_default_preset_match(corpus, tmp_path):
    import dataclasses

    from drumrnn.model.labels import label_vocab_of
    from drumrnn.model.tracks import model_tracks
    from drumrnn.training.presets import get_preset

    prepare(corpus, tmp_path / "one")
    prepare(corpus, tmp_path / "many", shard_bytes=SMALL_SHARDS)
    a, b = load_dataset(tmp_path / "one"), load_dataset(tmp_path / "many")
    config = get_preset("default").model
    assert config.labels and config.feel and config.bar_ago
    labels = label_vocab_of(a.manifest)
    vocab = dataclasses.replace(vocabulary_of(a), label_sizes=labels.sizes)
    eager = model_tracks(a, "train", vocab, config, labels)
    lazy = model_tracks(b, "train", vocab, config, labels)
    at = np.random.default_rng(2).integers(0, len(eager.ids), size=(6, 40))
    for name in ("labels", "bar_ago", "feel_in", "velocity_bins"):
        assert np.array_equal(getattr(lazy, name)[at], getattr(eager, name)[at]), name
