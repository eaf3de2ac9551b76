import numpy as np
import pytest

from drumrnn.core.errors import DrumrnnError
from drumrnn.data.kits import get_kit
from drumrnn.data.steps import StepsConfig, encode_steps
from drumrnn.data.text_corpus import class_digits, read_words, write_words

NINE = get_kit("9")


def test_words_read_into_lstmetallica_pitches():
    hits = read_words("BAR 0b100000001 0b000000000 0b010000010")
    # kick + crash at step 0, snare + ride at step 2
    assert hits.quarters.tolist() == [0.0, 0.0, 0.5, 0.5]
    assert hits.pitches.tolist() == [36, 49, 38, 51]


def test_bars_of_other_lengths_get_time_signatures():
    text = "BAR " + " ".join(["0b100000000"] * 12) + " BAR " + " ".join(["0b000000000"] * 14)
    hits = read_words(text)
    assert hits.time_map.time_signatures == ((0.0, 3, 4), (3.0, 7, 8))


def test_nine_kit_classes_map_to_digits_by_role():
    # kick snare chh ohh lowtom midtom hightom crash ride -> 36 38 42 46 41 45 48 49 51
    assert class_digits(NINE).tolist() == [0, 1, 2, 3, 4, 5, 6, 8, 7]
    full = get_kit("full")
    digits = class_digits(full)
    assert digits[full.classes_of([43])[0]] == 4  # 43 -> 41 (floor tom)
    assert digits[full.classes_of([57])[0]] == 8  # 57 -> 49 (crash)
    assert digits[full.classes_of([60])[0]] == -1  # bongo: no digit


def test_write_then_read_is_identity_for_nine_kit_without_toms():
    tokens = np.array([1 | 128, 0, 2 | 256, 4, 8, 1 | 2 | 4 | 8, 0, 0] * 4)
    positions = np.arange(32) % 16
    text = write_words(tokens, NINE, positions)
    assert text.split()[:3] == ["BAR", "0b100000001", "0b000000000"]
    assert text.split().count("BAR") == 2
    again = encode_steps(read_words(text), NINE)
    assert again.tokens.tolist() == tokens.tolist()


def test_toms_are_written_by_role_and_read_through_the_kit():
    # low, mid, high tom -> floor tom (41), low tom (45), hi-mid tom (48) digits
    text = write_words(np.array([16, 32, 64]), NINE)
    assert text.split() == ["0b000010000", "0b000001000", "0b000000100"]
    # reading reduces those GM pitches with the chosen kit's own map, as for any MIDI
    assert encode_steps(read_words(text), NINE).tokens[:3].tolist() == [16, 16, 32]
    assert encode_steps(read_words(text), get_kit("roland")).tokens[:3].tolist() == [0, 32, 64]


def test_words_format_needs_sixteenth_steps_and_valid_words():
    with pytest.raises(DrumrnnError, match="4 steps per quarter"):
        write_words(np.array([1]), NINE, config=StepsConfig(3))
    with pytest.raises(DrumrnnError, match=r"word 2 \('0b12'\)"):
        read_words("BAR 0b12")
