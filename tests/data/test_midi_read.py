import os

import numpy as np
import pytest

from drumrnn.core.errors import MidiReadError
from drumrnn.data.midi_read import DrumSource, read_drum_hits
from tests.conftest import GROOVE, needs_groove, rock_beat


@pytest.mark.parametrize("midi_type", [0, 1])
@pytest.mark.parametrize("tpq", [96, 480, 960])
def test_reads_format_0_and_1_at_any_ppq(midi_file, midi_type, tpq):
    hits = read_drum_hits(midi_file(rock_beat(tpq=tpq), tpq=tpq, midi_type=midi_type))
    assert len(hits) == 24
    assert hits.quarters[:4].tolist() == [0.0, 0.0, 0.5, 1.0]
    assert hits.pitches[:4].tolist() == [36, 42, 42, 38]  # sorted by time, then pitch
    np.testing.assert_allclose(hits.seconds[:4], [0, 0, 0.25, 0.5])


def test_only_channel_ten_is_drums_by_default(midi_file):
    notes = rock_beat() + [(0, 60, 100, 1), (480, 62, 100, 2)]
    hits = read_drum_hits(midi_file(notes))
    assert 60 not in hits.pitches and len(hits) == 24


def test_note_ons_without_note_offs_are_kept(midi_file):
    hits = read_drum_hits(midi_file(rock_beat(), note_offs=False))
    assert len(hits) == 24


def test_drums_on_another_channel_name_the_option(midi_file):
    path = midi_file(rock_beat(channel=3))
    with pytest.raises(MidiReadError, match=r"no drum hits on channel 10; notes found on "
                                            r"channel 3 \(24 notes\).*--channel"):
        read_drum_hits(path)
    assert len(read_drum_hits(path, DrumSource(channel=3))) == 24


def test_track_by_index_or_name(midi_file):
    notes = [(n[0], n[1], n[2], 1, 1) for n in rock_beat()] + [(0, 70, 90, 1, 0)]
    path = midi_file(notes, track_names=("Keys", "Drum Kit"))
    # track 0 holds the tempo map; the file's tracks are meta, Keys, Drum Kit
    assert len(read_drum_hits(path, DrumSource(track=2))) == 24
    assert len(read_drum_hits(path, DrumSource(track="drum kit"))) == 24
    with pytest.raises(MidiReadError, match="no track named 'bass'; tracks are 0: 'meta'"):
        read_drum_hits(path, DrumSource(track="bass"))
    with pytest.raises(MidiReadError, match="no track 7: the file has tracks 0..2"):
        read_drum_hits(path, DrumSource(track=7))


def test_bad_channel_is_refused():
    with pytest.raises(MidiReadError, match="channel must be 1..16"):
        DrumSource(channel=17)


@pytest.mark.parametrize("content, reason", [
    (b"", "empty file"),
    (b"RIFF....WAVEfmt ", "not a MIDI file"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01", "corrupt MIDI"),
])
def test_bad_files_give_one_line_reasons(tmp_path, content, reason):
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    with pytest.raises(MidiReadError, match=reason) as info:
        read_drum_hits(path)
    assert "\n" not in str(info.value)


def test_truncated_file(midi_file, tmp_path):
    data = midi_file(rock_beat(8)).read_bytes()
    cut = tmp_path / "cut.mid"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MidiReadError, match="corrupt MIDI"):
        read_drum_hits(cut)


def test_zero_and_absurd_tempo(midi_file):
    with pytest.raises(MidiReadError, match="absurd tempo"):
        read_drum_hits(midi_file(rock_beat(), tempos=((0, 0),)))
    with pytest.raises(MidiReadError, match="absurd tempo"):
        read_drum_hits(midi_file(rock_beat(), tempos=((0, 10),)))


def test_huge_file_and_unreadable_file(tmp_path, midi_file, monkeypatch):
    big = tmp_path / "big.mid"
    with open(big, "wb") as handle:
        handle.write(b"MThd")
        handle.truncate(50_000_000)
    with pytest.raises(MidiReadError, match="50.0 MB, over the 16 MB limit"):
        read_drum_hits(big)
    locked = midi_file(rock_beat(), name="locked.mid")
    os.chmod(locked, 0)
    if os.access(locked, os.R_OK):  # root reads anything: make the read fail as it would
        def refuse(self):
            raise PermissionError(13, "Permission denied", str(self))
        monkeypatch.setattr(type(locked), "read_bytes", refuse)
    with pytest.raises(MidiReadError, match="permission denied"):
        read_drum_hits(locked)


def test_no_notes_at_all(midi_file):
    with pytest.raises(MidiReadError, match="no notes at all"):
        read_drum_hits(midi_file([]))


@needs_groove
def test_groove_file_with_a_never_closed_note_on():
    # mido sees a final note-on that is never closed in this file; symusic drops it.
    path = GROOVE / "drummer1/session1/78_jazz-fast_290_beat_4-4.mid"
    hits = read_drum_hits(path)
    mido_hits = read_drum_hits(path, DrumSource(track=0))
    assert len(mido_hits) == len(hits) + 1
    assert mido_hits.quarters[-1] >= hits.quarters[-1]
