"""Shared fixtures: MIDI files built in the test (with mido) and the shared GMD copy."""

from __future__ import annotations

import os
from pathlib import Path

import mido
import numpy as np
import pytest
from hypothesis import settings

from drumrnn.data.encoding import EncodingConfig
from drumrnn.data.kits import get_kit
from drumrnn.model.model_config import ModelConfig, Vocabulary
from drumrnn.model.model_file import load_model_file, save_model_file

# CI must not turn red on an example no one has seen before: there the property tests run
# a fixed set of examples; elsewhere they explore new ones every run.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

GROOVE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "groove"

needs_groove = pytest.mark.skipif(
    not (GROOVE / "info.csv").is_file(),
    reason=f"the Groove MIDI Dataset is not at {GROOVE} (CI has it; see ../shared/data)")


def write_midi_file(path: Path, notes, *, tpq: int = 480, tempos=((0, 500000),),
                    time_signatures=((0, 4, 4),), midi_type: int = 1, note_offs: bool = True,
                    track_names=("Drums",)) -> Path:
    """Write a MIDI file from ``notes``: (tick, pitch, velocity, channel[, track]) tuples.

    Channels are 1-based as musicians count them. ``track`` indexes ``track_names``
    (format 1: meta events go in an extra first track). Without ``note_offs`` every hit is a
    lone note-on, as many drum-machine exports write them.
    """
    events: dict[int, list] = {i: [] for i in range(len(track_names))}
    for note in notes:
        tick, pitch, velocity, channel = note[:4]
        track = note[4] if len(note) > 4 else 0
        events[track].append((tick, 1, mido.Message("note_on", note=pitch, velocity=velocity,
                                                     channel=channel - 1)))
        if note_offs:
            events[track].append((tick + tpq // 8, 0, mido.Message(
                "note_off", note=pitch, velocity=0, channel=channel - 1)))
    meta = [(t, 0, mido.MetaMessage("set_tempo", tempo=us)) for t, us in tempos]
    meta += [(t, 0, mido.MetaMessage("time_signature", numerator=n, denominator=d))
             for t, n, d in time_signatures]
    midi = mido.MidiFile(type=midi_type, ticks_per_beat=tpq)
    if midi_type == 0:
        merged = sorted(meta + [e for es in events.values() for e in es], key=lambda e: e[:2])
        midi.tracks.append(_track(merged, track_names[0]))
    else:
        midi.tracks.append(_track(sorted(meta, key=lambda e: e[:2]), "meta"))
        for index, name in enumerate(track_names):
            midi.tracks.append(_track(sorted(events[index], key=lambda e: e[:2]), name))
    midi.save(path)
    return path


def _track(timed, name):
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
    now = 0
    for tick, _, message in timed:
        track.append(message.copy(time=tick - now))
        now = tick
    return track


@pytest.fixture
def midi_file(tmp_path):
    """A factory: ``midi_file(notes, name=..., **options)`` writes a file and returns its path."""
    def make(notes, name="drums.mid", **options):
        return write_midi_file(tmp_path / name, notes, **options)
    return make


def rock_beat(bars: int = 2, tpq: int = 480, channel: int = 10):
    """A plain 8th-note rock beat: kick on 1 and 3, snare on 2 and 4, closed hi-hat 8ths."""
    notes = []
    for bar in range(bars):
        for eighth in range(8):
            tick = bar * 4 * tpq + eighth * tpq // 2
            notes.append((tick, 42, 80, channel))
            if eighth in (0, 4):
                notes.append((tick, 36, 100, channel))
            if eighth in (2, 6):
                notes.append((tick, 38, 110, channel))
    return notes


#: With the six pattern files of :func:`pattern_datasets` every split gets at least one.
PATTERN_SPLIT = (0.34, 0.33, 0.33)


def bar_pattern_notes(bars: int, bar_patterns: list[dict[int, str]], channel: int = 10):
    """Notes of ``bars`` 4/4 bars cycling through ``bar_patterns`` (pitch -> one character
    per 16th, ``x`` = hit), at 480 ticks per quarter."""
    notes = []
    for bar in range(bars):
        for pitch, line in bar_patterns[bar % len(bar_patterns)].items():
            notes += [(bar * 1920 + i * 120, pitch, 100, channel)
                      for i, c in enumerate(line) if c == "x"]
    return notes


def pattern_datasets(root: Path, bar_patterns: list[dict[int, str]], configs: dict) -> dict:
    """Prepare six files of a repeating pattern (8..18 bars) once per named EncodingConfig;
    returns name -> dataset folder, every split non-empty."""
    from drumrnn.data.dataset import PrepareConfig, load_dataset, prepare

    src = root / "midi"
    src.mkdir()
    for i, bars in enumerate([8, 10, 12, 14, 16, 18]):
        write_midi_file(src / f"p{i}.mid", bar_pattern_notes(bars, bar_patterns))
    out = {}
    for name, encoding in configs.items():
        out[name] = prepare(src, root / name, PrepareConfig(encoding, split_fractions=PATTERN_SPLIT)).out
        splits = load_dataset(out[name]).manifest["splits"]
        assert all(s["files"] for s in splits.values()), splits
    return out


def one_drum_model(path: Path, head_weight, head_bias, input_weight=((0.0, 0.0), (0.0, 0.0)),
                   extra: dict | None = None):
    """A 2-unit tanh RNN over the one-drum kit, h = tanh(input_weight @ onehot(token)), saved
    to ``path`` (with the ``extra`` arrays, e.g. a profile) and loaded."""
    header = {"model": ModelConfig("rnn", layers=1, hidden=2, embedding=0).to_dict(),
              "vocabulary": Vocabulary("steps", size=2).to_dict(),
              "kit": get_kit("one-drum").to_dict(),
              "encoding": EncodingConfig("steps", kit="one-drum").to_dict()}
    weights = {"rnn.weight_ih_l0": np.array(input_weight), "rnn.weight_hh_l0": np.zeros((2, 2)),
               "rnn.bias_ih_l0": np.zeros(2), "rnn.bias_hh_l0": np.zeros(2),
               "head.weight": np.array(head_weight, float), "head.bias": np.array(head_bias, float),
               **(extra or {})}
    return load_model_file(save_model_file(path, header, weights))


@pytest.fixture(scope="module")
def rock_folder(tmp_path_factory):
    """Six small rock-beat files of 4-9 bars: every split of PATTERN_SPLIT gets one."""
    src = tmp_path_factory.mktemp("rock")
    for i in range(6):
        write_midi_file(src / f"{i}.mid", rock_beat(4 + i))
    return src
