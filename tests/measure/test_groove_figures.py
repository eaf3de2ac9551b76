"""Groove and feel figures of compare, on hand-made patterns with hand-computed values."""

import json
import math

import numpy as np
import pytest

from drumrnn.cli import main
from drumrnn.data.dataset import PrepareConfig, prepare
from drumrnn.data.kits import get_kit
from drumrnn.measure.compare import (
    PatternSet,
    Piece,
    bar_similarity,
    compare,
    copied_share,
    cut_pieces,
    figures,
    groove_bars,
    hits_per_bar,
    holds_pattern,
    kind_from_name,
    load_patterns,
    offsets_ms,
    pooled_sd,
    shuffled_similarity,
)
from tests.conftest import bar_pattern_notes, write_midi_file

KIT = get_kit("9")
KICK, SNARE, HAT, RIDE = 0, 1, 2, 8
ROCK = {KICK: "x.......x.......", SNARE: "....x.......x...", HAT: "x.x.x.x.x.x.x.x."}


def grid(*bars: dict[int, str]) -> np.ndarray:
    """(n_bars, 9, 16) onsets from class -> 16 characters (``x`` = hit) per bar."""
    out = np.zeros((len(bars), KIT.n_classes, 16), bool)
    for b, bar in enumerate(bars):
        for c, line in bar.items():
            out[b, c] = [ch == "x" for ch in line]
    return out


def piece(bars: list[dict[int, str]], qpm=120.0, offset_steps=None, velocity=100,
          kind=None) -> Piece:
    """A piece of 4/4 bars from :func:`grid` lines; ``offset_steps(step, class)`` moves hits."""
    g = grid(*bars)
    b, c, s = np.nonzero(g)
    steps = b * 16 + s
    order = np.lexsort((c, steps))
    steps, c = steps[order], c[order]
    offsets = np.array([offset_steps(st, cl) for st, cl in zip(steps, c)]) if offset_steps \
        else np.zeros(len(steps))
    velocities = np.broadcast_to(np.asarray(velocity), steps.shape).copy()
    return Piece(steps, c, velocities, (steps + offsets) / 4, np.arange(len(bars)) * 16,
                 qpm, kind)


def test_bar_similarity_is_jaccard_to_the_bar_before():
    other = {KICK: "x...............", HAT: "x.x.x.x.x.x.x.x."}  # 9 cells, 9 shared with ROCK
    sims = bar_similarity(grid(ROCK, ROCK, other, {}, {}))
    # ROCK has 12 cells; other's 9 cells are all in ROCK: 9 / 12; then 0 / 9; two empty bars: 1
    assert sims.tolist() == [1.0, 0.75, 0.0, 1.0]


def test_shuffled_control_pairs_bars_of_other_pieces_with_the_same_hit_count():
    x = {KICK: "x...x...........", SNARE: "....x...x......."}  # 4 cells
    y = {KICK: "x...............", SNARE: "..x.x...x......."}  # 4 cells, 3 of them in x
    a, b = grid(x, x, x), grid(y, y, y)
    assert bar_similarity(a).tolist() == [1.0, 1.0]
    # every bar is compared with a bar of the other piece: 3 shared of 5 cells
    assert shuffled_similarity([a, b]).tolist() == pytest.approx([3 / 5] * 4)
    assert np.isnan(shuffled_similarity([a])).all()
    # density matched: a 4-hit bar's partner is the other piece's 4-hit bar, not its 1-hit one
    c = grid(y, {KICK: "x..............."}, y)
    control = shuffled_similarity([grid(x, x), c], seed=3)
    assert control[0] == pytest.approx(3 / 5)  # bar 1 of piece 0 after a 4-hit bar


def test_pattern_holding_needs_four_bars_of_a_one_or_two_bar_pattern():
    a, b, c = ("x...............", "x.......x.......", "....x...........")
    rows = lambda *lines: np.array([[ch == "x" for ch in line] for line in lines])  # noqa: E731
    assert holds_pattern(rows(a, a, a, a))
    assert holds_pattern(rows(c, a, b, a, b))  # a 2-bar pattern from bar 2 on
    assert not holds_pattern(rows(a, a, a, b, a, a, a))  # never four in a row
    assert not holds_pattern(rows(a, b, a, c))
    assert not holds_pattern(rows(*["." * 16] * 6))  # silence is no pattern
    assert not holds_pattern(rows(a, a, a))


def test_groove_bars_need_timekeeping_a_backbeat_and_a_kick():
    ride = {KICK: "x...............", SNARE: "............x...", RIDE: "x...x...x...x..."}
    three_hats = {**ROCK, HAT: "x.x.x..........."}
    no_backbeat = {**ROCK, SNARE: "......x........."}
    no_kick = {SNARE: ROCK[SNARE], HAT: ROCK[HAT]}
    assert groove_bars(grid(ROCK, ride, three_hats, no_backbeat, no_kick), KIT).tolist() == [
        True, True, False, False, False]


def test_offsets_in_ms_and_the_spread_within_groups():
    p = piece([{KICK: "x...x..........."}], qpm=100.0, offset_steps=lambda s, c: 0.2 if s else -0.1)
    # one 16th at 100 bpm is 150 ms
    assert offsets_ms(p).tolist() == pytest.approx([-15.0, 30.0])
    # groups {0: -10, 10} and {1: 0, 20, 40}; a lone value in group 2 is left out
    values = np.array([-10, 10, 0, 20, 40, 99.0])
    groups = np.array([0, 0, 1, 1, 1, 2])
    assert pooled_sd(values, groups) == pytest.approx(math.sqrt((100 + 100 + 400 + 0 + 400) / 5))
    assert math.isnan(pooled_sd(values[:1], groups[:1]))


def test_figures_of_a_rock_beat_and_of_feel():
    # two pieces of 4 rock bars at 120 bpm (a 16th = 125 ms); piece 0 plays every hit 0.08
    # steps (10 ms) late, piece 1 every kick 0.16 (20 ms) early and the rest on the grid
    late = piece([ROCK] * 4, offset_steps=lambda s, c: 0.08, velocity=90)
    early = piece([ROCK] * 4, offset_steps=lambda s, c: -0.16 if c == KICK else 0.0,
                  velocity=110)
    f = figures(PatternSet("rock", [late, early]), KIT, piece_bars=8)
    assert f["similarity to the bar before"] == 1.0
    assert f["similarity, density-matched control"] == 1.0  # both pieces play the same bar
    assert f["similarity beyond the control"] == 0.0
    assert f["pieces holding a kick or snare pattern"] == 1.0
    assert f["pieces without a groove bar"] == 0.0
    assert f["hits per bar"] == 12 and f["closed hi-hat hits per bar"] == 8
    assert f["snare hits per bar"] == 2 and f["tom hits per bar"] == 0
    assert f["kick on beat 1"] == 1.0
    assert math.isnan(f["similarity of bar 5 to bar 3"])  # 4-bar pieces
    assert f["kick velocity sd"] == 10 and f["velocity sd, all hits"] == 10
    # piece 0: 48 hits at +10 ms; piece 1: 8 kicks at -20 ms and 40 hits at 0
    assert f["timing offset mean (ms)"] == pytest.approx((480 - 160) / 96)
    assert f["feel sd between pieces (ms)"] == pytest.approx(abs(10 - (-160 / 48)) / 2)
    # within (drum, position): kicks at 0 and 8 are {+10 x4, -20 x4}: sd 15; snare and
    # hat cells are {+10 x4, 0 x4}: sd 5; 16 kicks, 80 others
    assert f["timing sd within a drum and bar position (ms)"] == pytest.approx(
        math.sqrt((16 * 15**2 + 80 * 5**2) / 96))


def test_bar_5_against_bar_3_and_unknown_tempo():
    fill = {SNARE: "xxxxxxxxxxxxxxxx"}
    p = piece([ROCK, ROCK, ROCK, fill, ROCK, ROCK, ROCK, fill], qpm=float("nan"))
    f = figures(PatternSet("fills", [p]), KIT)
    assert f["similarity of bar 5 to bar 3"] == 1.0
    # ROCK -> fill: 2 shared snare cells of 26; fill -> ROCK the same: 6 of 7 bars are 1
    assert f["similarity to the bar before"] == pytest.approx((4 + 3 * 2 / 26) / 7)
    assert math.isnan(f["timing sd (ms)"]) and math.isnan(f["feel sd between pieces (ms)"])
    assert f["snare hits per bar"] == pytest.approx((6 * 2 + 2 * 16) / 8)


def test_cut_pieces_keeps_runs_of_whole_bars():
    long = piece([ROCK] * 10, kind="beat")
    short = piece([ROCK] * 2, kind="fill")
    cut = cut_pieces(PatternSet("x", [long, short]), 4)
    assert [len(p.bar_starts) for p in cut.pieces] == [4, 4, 2]
    assert [len(p.steps) for p in cut.pieces] == [48, 48, 24]  # bars 9 and 10 left over
    assert cut.pieces[1].bar_starts[0] == 64 and cut.pieces[1].steps.min() == 64
    assert [p.kind for p in cut.pieces] == ["beat", "beat", "fill"]


def test_kinds_and_tempo_come_from_gmd_names_and_the_manifest(tmp_path):
    assert kind_from_name("drummer1/s/3_rock_120_fill_4-4.mid") == "fill"
    assert kind_from_name("x/12_funk_98_beat_4-4.mid") == "beat"
    assert kind_from_name("song.mid") is None
    gmd = tmp_path / "groove"
    (gmd / "d").mkdir(parents=True)
    rows = []
    for i, (kind, bpm) in enumerate([("beat", 100), ("fill", 80), ("beat", 90)]):
        name = f"d/{i}_rock_{bpm}_{kind}_4-4.mid"
        write_midi_file(gmd / name, bar_pattern_notes(2, [{36: "x...x...x...x..."}]),
                        tempos=((0, round(60e6 / bpm)),))
        rows.append(f"drummer1,d,d/{i},rock,{bpm},{kind},4-4,{name},,2.0,test\n")
    (gmd / "info.csv").write_text("drummer,session,id,style,bpm,beat_type,time_signature,"
                                  "midi_filename,audio_filename,duration,split\n" + "".join(rows))
    data = prepare(gmd, tmp_path / "data", PrepareConfig()).out
    for patterns in (load_patterns(data, "test"), load_patterns(gmd / "d")):
        got = sorted((p.kind, round(p.qpm)) for p in patterns.pieces)
        assert got == [("beat", 90), ("beat", 100), ("fill", 80)]


def test_real_repeating_bars_beat_diverse_generated_bars(tmp_path, capsys):
    """The trap from issue 10: real pieces each repeat their own groove; the generated ones
    play the reference's bars, but never twice in a row. Per-bar distributions favour the
    generated set (its bars are the reference's, while the other half of the real pieces
    plays other grooves); the groove figures must not."""
    grooves = [{36: "x.......x.......", 38: "....x.......x...", 42: "x.x.x.x.x.x.x.x."},
               {36: "x.....x...x.....", 38: "....x.......x...", 42: "xxxxxxxxxxxxxxxx"},
               {36: "x..x..x.........", 38: "....x.......x..x", 51: "x...x...x...x..."},
               {36: "x.......xx......", 38: "....x..x....x...", 42: "x.x.x.x.x.x.x.x."},
               {36: "x.x.......x.....", 38: "....x.......x...", 46: "..x...x...x...x."},
               {36: "x...x...x...x...", 38: "....x.......x...", 42: "x.xxx.xxx.xxx.xx"}]
    real, generated = tmp_path / "real", tmp_path / "generated"
    real.mkdir()
    generated.mkdir()
    for i in range(6):
        write_midi_file(real / f"{i}.mid", bar_pattern_notes(8, [grooves[i]]))
        # compare's reference is the second half of the files (3, 4, 5), the anchor the first
        cycle = [grooves[3 + (i + k) % 3] for k in range(3)]
        write_midi_file(generated / f"{i}.mid", bar_pattern_notes(8, cycle))
    result = compare(load_patterns(generated), load_patterns(real))
    means = json.loads(result.to_json())
    assert means["mean_oa"] > means["anchors"]["real vs real"]["mean_oa"]  # the trap
    figs = result.figures
    assert figs["reference"]["similarity to the bar before"] == 1.0
    assert figs["generated"]["similarity beyond the control"] < 0.05
    assert figs["reference"]["pieces holding a kick or snare pattern"] == 1.0
    assert figs["generated"]["pieces holding a kick or snare pattern"] == 0.0
    assert result.groove_gaps["real vs real"] < 0.1 < 0.3 < result.groove_gaps["generated"]
    assert main(["compare", str(generated), str(real), "--out", str(tmp_path / "out")]) == 0
    assert "| **groove gap** | **" in capsys.readouterr().out
    saved = json.loads((tmp_path / "out" / "compare.json").read_text())
    assert saved["groove_gap"]["generated"] == pytest.approx(result.groove_gaps["generated"])
    assert saved["figures"]["reference"]["hits per bar"] == figs["reference"]["hits per bar"]


def test_copied_share_counts_generated_bar_runs_found_verbatim():
    other = {KICK: "x.x.............", SNARE: "....x..........."}
    source = PatternSet("train", [piece([ROCK] * 5), piece([other] * 2)])
    copied = piece([ROCK] * 6)  # 3 runs of 4 bars, each in the source
    # runs RRRo, RRo_, Ro__, o___ (none in the source) and ____ (no hit: left out)
    mixed = piece([ROCK, ROCK, ROCK, other, {}, {}, {}, {}])
    silent = piece([{}] * 4)
    generated = PatternSet("generated", [copied, mixed, silent])
    assert copied_share(generated, source) == pytest.approx(3 / 7)
    assert copied_share(generated, source, bars=1) == pytest.approx(10 / 10)
    assert math.isnan(copied_share(PatternSet("none", [silent]), source))


def test_hits_per_bar_of_some_drums():
    patterns = PatternSet("x", [piece([ROCK, {KICK: "x..............."}])])
    assert hits_per_bar(patterns, ("kick", "snare")).tolist() == [4, 1]
    assert hits_per_bar(patterns, ("low tom", "mid tom", "high tom")).tolist() == [0, 0]


def test_label_mix_mirrors_the_styles_and_tempos_of_reference_pieces():
    from dataclasses import replace

    from drumrnn.generation.generate import DrumGenerator, GenerateConfig
    from drumrnn.measure.compare import label_mix, play_label_mix

    base = piece([ROCK])
    pieces = [replace(base, style=style, qpm=qpm) for style, qpm in
              (("rock", 90.0), ("funk", 100.0), ("polka", 110.0), ("rock", math.nan))]
    mix = label_mix(PatternSet("ref", pieces), 4, ("rock", "funk"))
    # one per piece; a style the model lacks or an unknown tempo is None
    assert mix == [("rock", 90.0), ("funk", 100.0), (None, 110.0), ("rock", None)]
    assert label_mix(PatternSet("ref", pieces), 2, ("rock",)) == [("rock", 90.0), ("rock", None)]
    generator = DrumGenerator.load()
    hits = play_label_mix(generator, mix[1:3], 2, seed=1)
    want = generator.generate(GenerateConfig(bars=2, num=1, seed=1001, kind="beat",
                                             tempo=110.0))[0]
    assert np.array_equal(hits[1].quarters, want.quarters)  # pattern i draws seed 1000 s + i
    assert [h.time_map.tempos[0][1] for h in hits] == [100.0, 110.0]  # written at its tempo
