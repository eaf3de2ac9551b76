import numpy as np
import pytest

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.kits import KITS, get_kit, kit_from_dict, pitch_name


def test_nine_piece_kit_is_magentas_map():
    kit = get_kit("9")
    assert kit.class_names == ("kick", "snare", "closed hi-hat", "open hi-hat", "low tom",
                               "mid tom", "high tom", "crash", "ride")
    assert kit.output_pitches.tolist() == [36, 38, 42, 46, 45, 48, 50, 49, 51]
    # every pitch of a class collapses onto it
    assert kit.classes_of([35, 36]).tolist() == [0, 0]
    assert kit.classes_of([22, 44, 54, 80]).tolist() == [2, 2, 2, 2]
    assert kit.classes_of([26, 67, 81]).tolist() == [3, 3, 3]
    assert kit.classes_of([29, 41, 43, 84]).tolist() == [4, 4, 4, 4]
    assert kit.classes_of([82, 53, 59]).tolist() == [8, 8, 8]
    assert kit.classes_of([0, 21, 88, 127]).tolist() == [-1, -1, -1, -1]


def test_roland_kit_differs_from_nine_on_45_48_58():
    nine, roland = get_kit("9"), get_kit("roland")
    pitches = np.arange(128)
    differ = pitches[(nine.classes_of(pitches) != roland.classes_of(pitches))
                     & (roland.classes_of(pitches) >= 0)]
    assert differ.tolist() == [45, 48, 58]
    assert roland.classes_of([45, 48, 58]).tolist() == [5, 6, 4]
    assert nine.classes_of([45, 48, 58]).tolist() == [4, 5, 7]


def test_one_drum_and_full_kits():
    assert get_kit("one-drum").classes_of(np.arange(128)).tolist() == [0] * 128
    assert get_kit("one-drum").output_pitches.tolist() == [36]
    full = get_kit("full")
    assert full.n_classes == 61  # GM2 percussion 27..87
    assert full.output_pitches.tolist() == list(range(27, 88))
    assert full.classes_of([35, 36, 81, 22]).tolist() == [8, 9, 54, -1]


def test_unknown_kit_lists_the_choices():
    with pytest.raises(DrumrnnError, match="choose one of: 9, roland, one-drum, full"):
        get_kit("808")


def test_kit_dict_round_trip_and_pitch_names():
    for kit in KITS.values():
        assert kit_from_dict(kit.to_dict()) == kit
    assert pitch_name(38) == "acoustic snare"
    assert pitch_name(22).startswith("hi-hat closed edge")
    assert pitch_name(5) == "note 5"
