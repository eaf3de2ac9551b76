"""Musical statistics of drum patterns, and how close two sets of them are.

Each piece becomes 4/4 bars of 16 steps (9-piece kit). Per bar: hits per class, empty-step
rate, where each class plays in the bar, syncopation, and similarity to the bar one and two
before; per hit: velocity by class; per piece: muspy's drum-in-pattern rate, drum-pattern
consistency and empty-beat rate (Dong et al. 2018, muspy 0.5). Two sets are compared per
feature as in MGEval (Yang & Lerch 2018, "On the evaluation of generative models in music"):
the distribution of distances within the reference set (intra-set) against the distances
between the sets (inter-set), each smoothed with a Gaussian KDE; the overlapping area (OA,
1 = indistinguishable) and the KL divergence KL(intra || inter) (0 = indistinguishable).

Beside those distributions, :func:`figures` gives the set-level figures that say whether a
drummer grooves and plays with feel (repetition against a density-matched control, pattern
holding, groove bars, hits per bar; velocity and timing spreads in ms), computed for the
generated set, the reference (and its beats and fills apart, when the pieces say which they
are) and both anchors; the groove gap sums up how far a set's groove figures are from the
reference's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from drumrnn.core.errors import DrumrnnError, MidiReadError
from drumrnn.data.dataset import find_midi_files, load_dataset
from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import Kit, get_kit
from drumrnn.data.midi_read import read_drum_hits
from drumrnn.data.steps import StepsConfig, bar_start_steps, encode_steps
from drumrnn.generation.generate import DrumGenerator, GenerateConfig

STEPS_PER_BAR = 16
#: Longuet-Higgins & Lee (1984) metrical weights of the 16 steps of a 4/4 bar.
METRICAL_WEIGHTS = np.array([0, -4, -3, -4, -2, -4, -3, -4, -1, -4, -3, -4, -2, -4, -3, -4])
MUSPY_RESOLUTION = 24  # muspy's default ticks per beat
MAX_SAMPLES = 300  # items per set in the pairwise distances (MGEval's cost is quadratic)
MAX_DISTANCES = 3000  # distances per KDE


@dataclass
class Piece:
    """One piece on the 16th grid: hits as (step, class, velocity) and raw onsets (quarters);
    its tempo (quarters per minute, NaN when unknown), whether it is a ``beat`` or a
    ``fill`` and its style label (None when unknown)."""

    steps: np.ndarray
    classes: np.ndarray
    velocities: np.ndarray
    quarters: np.ndarray
    bar_starts: np.ndarray  # steps at which 4/4 bars of 16 steps start
    qpm: float = float("nan")
    kind: str | None = None
    style: str | None = None


@dataclass
class PatternSet:
    """Pieces to describe; ``name`` says where they came from."""

    name: str
    pieces: list[Piece]
    skipped: list[str] = field(default_factory=list)


def _piece(steps, classes, velocities, quarters, positions, qpm: float = float("nan"),
           kind: str | None = None, style: str | None = None) -> Piece:
    starts = np.flatnonzero(positions == 0)
    ends = np.r_[starts[1:], len(positions)]
    bars = starts[(ends - starts) == STEPS_PER_BAR]  # 4/4 bars only
    return Piece(np.asarray(steps), np.asarray(classes), np.asarray(velocities),
                 np.asarray(quarters), bars, float(qpm), kind, style)


_KIND_IN_NAME = re.compile(r"_(beat|fill)_")


def kind_from_name(name: str) -> str | None:
    """``beat`` or ``fill`` from a GMD-style file name (``..._beat_4-4.mid``), else None."""
    match = _KIND_IN_NAME.search(Path(name).name)
    return match.group(1) if match else None


def _entry_kind(entry: dict) -> str | None:
    kind = entry.get("kind", entry.get("beat_type"))
    return kind if kind in ("beat", "fill") else kind_from_name(entry.get("path", ""))


def _entry_qpm(entry: dict) -> float:
    for key in ("tempo", "bpm"):
        try:
            return float(entry[key])
        except (KeyError, TypeError, ValueError):
            continue
    return float("nan")


def load_patterns(path: str | Path, split: str = "test", kit: Kit | None = None) -> PatternSet:
    """Pieces from a folder of MIDI files or a prepared dataset (one of its splits)."""
    path = Path(path)
    kit = kit or get_kit("9")
    if (path / "manifest.json").is_file():
        dataset = load_dataset(path)
        enc = dataset.encoding
        if enc.encoding != "steps" or enc.steps_per_quarter != 4 or enc.bar_tokens:
            raise DrumrnnError(f"{path}: compare reads steps datasets at 4 steps per quarter "
                               "without BAR tokens")
        if enc.kit != kit.name:
            raise DrumrnnError(f"{path} is prepared with kit {enc.kit}, the comparison uses "
                               f"kit {kit.name}")
        arrays = dataset.split(split).arrays
        if "track_starts" not in arrays:
            raise DrumrnnError(f"{path}: the {split} split is empty")
        starts, hit_starts = arrays["track_starts"], arrays["hit_starts"]
        # labels and tempo from the manifest (GMD: beat_type and bpm; other folders: the
        # kind and tempo labels when the dataset has them, else the file name's kind)
        entries = {e["index"]: e for e in dataset.manifest.get("files", [])
                   if e.get("split") == split}
        pieces = []
        for i in range(len(starts) - 1):
            a, b = hit_starts[i], hit_starts[i + 1]
            steps = np.asarray(arrays["hit_steps"][a:b])
            quarters = (steps + np.asarray(arrays["hit_offsets"][a:b], np.float64)) / 4
            entry = entries.get(i, {})
            pieces.append(_piece(steps, arrays["hit_classes"][a:b], arrays["hit_velocities"][a:b],
                                 quarters, np.asarray(arrays["positions"][starts[i]:starts[i + 1]]),
                                 _entry_qpm(entry), _entry_kind(entry),
                                 (entry.get("labels") or {}).get("style")))
        return PatternSet(f"{path} ({split})", pieces)
    if not path.is_dir():
        raise DrumrnnError(f"no such folder: {path}")
    files = find_midi_files(path)
    if not files:
        raise DrumrnnError(f"no .mid or .midi files under {path}")
    hits, kinds, skipped = [], [], []
    for file in files:
        try:
            hits.append(read_drum_hits(file))
            kinds.append(kind_from_name(file.name))
        except MidiReadError as exc:
            skipped.append(f"{file.name}: {exc}")
    patterns = patterns_from_hits(str(path), hits, kit, kinds)
    if not patterns.pieces:
        raise DrumrnnError(f"no usable drum MIDI under {path}")
    patterns.skipped = skipped
    return patterns


def patterns_from_hits(name: str, hits: list[DrumHits], kit: Kit | None = None,
                       kinds: list[str | None] | None = None) -> PatternSet:
    """A pattern set of drum hits (e.g. generated ones), on the 16th grid of ``kit``; each
    piece's tempo is its first tempo; ``kinds`` (``beat``/``fill``/None per piece) labels them."""
    kit = kit or get_kit("9")
    kinds = kinds or [None] * len(hits)
    pieces = []
    for piece_hits, kind in zip(hits, kinds):
        seq = encode_steps(piece_hits, kit, StepsConfig(4))
        if len(seq.hit_steps):
            # the encoding ends with the last hit's bar; the piece's empty bars after it count
            n_steps = max(seq.n_steps, int(round(piece_hits.end_quarter * 4)))
            starts = bar_start_steps(piece_hits.time_map, n_steps / 4, 4)
            steps = np.arange(n_steps)
            positions = steps - starts[np.searchsorted(starts, steps, side="right") - 1]
            quarters = (seq.hit_steps + seq.hit_offsets.astype(np.float64)) / 4
            pieces.append(_piece(seq.hit_steps, seq.hit_classes, seq.hit_velocities, quarters,
                                 positions, piece_hits.time_map.qpm, kind))
    return PatternSet(name, pieces)


def random_patterns(n_pieces: int, bars: int = 8, seed: int = 0, n_classes: int = 9) -> PatternSet:
    """Uniformly random step tokens: the floor every model must beat."""
    rng = np.random.default_rng(seed)
    pieces = []
    for _ in range(n_pieces):
        tokens = rng.integers(0, 1 << n_classes, bars * STEPS_PER_BAR)
        steps, classes = np.nonzero((tokens[:, None] >> np.arange(n_classes)) & 1)
        pieces.append(_piece(steps, classes, rng.integers(1, 128, len(steps)), steps / 4,
                             np.arange(bars * STEPS_PER_BAR) % STEPS_PER_BAR, 120.0))
    return PatternSet("uniformly random tokens", pieces)


def _hit_bars(piece: Piece) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each hit's 4/4 bar index and step in the bar, and whether it lies in such a bar."""
    if not len(piece.bar_starts):
        empty = np.zeros(len(piece.steps), np.int64)
        return empty, empty, np.zeros(len(piece.steps), bool)
    bar_of = np.searchsorted(piece.bar_starts, piece.steps, side="right") - 1
    offset = piece.steps - piece.bar_starts[np.maximum(bar_of, 0)]
    return bar_of, offset, (bar_of >= 0) & (offset < STEPS_PER_BAR)


def _bar_grids(piece: Piece, n_classes: int) -> np.ndarray:
    """(n_bars, n_classes, 16) bool onsets of each 4/4 bar."""
    grids = np.zeros((len(piece.bar_starts), n_classes, STEPS_PER_BAR), bool)
    bar_of, offset, ok = _hit_bars(piece)
    grids[bar_of[ok], piece.classes[ok].astype(int), offset[ok]] = True
    return grids


def syncopation(onsets: np.ndarray) -> float:
    """Longuet-Higgins & Lee syncopation of a 16-step onset vector: for each onset followed
    by a rest on a metrically stronger step before the next onset, the weight difference."""
    hits = np.flatnonzero(onsets)
    total = 0
    for i, h in enumerate(hits):
        nxt = hits[i + 1] if i + 1 < len(hits) else STEPS_PER_BAR
        rests = np.arange(h + 1, nxt)
        if len(rests):
            strongest = METRICAL_WEIGHTS[rests].max()
            if strongest > METRICAL_WEIGHTS[h]:
                total += strongest - METRICAL_WEIGHTS[h]
    return float(total)


def drum_in_pattern_rate(quarters: np.ndarray, meter: str = "duple") -> float:
    """muspy's drum-in-pattern rate: the share of onsets on the 16th grid (duple) or the
    8th-triplet grid (triple), at muspy's 24 ticks per beat; NaN without onsets."""
    if not len(quarters):
        return float("nan")
    ticks = np.round(np.asarray(quarters) * MUSPY_RESOLUTION).astype(np.int64) % MUSPY_RESOLUTION
    step = MUSPY_RESOLUTION // 4 if meter == "duple" else MUSPY_RESOLUTION // 3
    return float(np.mean(ticks % step == 0))


def empty_beat_rate(quarters: np.ndarray, n_beats: int) -> float:
    """muspy's empty-beat rate: the share of beats (quarter notes) without an onset."""
    if n_beats <= 0:
        return float("nan")
    used = np.unique(np.floor(np.asarray(quarters)).astype(np.int64))
    return 1.0 - len(used[used < n_beats]) / n_beats


def _syncopations(onsets: np.ndarray) -> np.ndarray:
    """:func:`syncopation` of each row of ``onsets`` (n, 16), once per distinct row."""
    codes = np.packbits(onsets, axis=1, bitorder="little").view(np.uint16).ravel()
    unique, index = np.unique(codes, return_inverse=True)
    bits = (unique[:, None] >> np.arange(STEPS_PER_BAR)) & 1
    return np.array([syncopation(row) for row in bits.astype(bool)])[index]


def _similarities(grids: np.ndarray, lag: int) -> np.ndarray:
    """Jaccard similarity of each bar to the bar ``lag`` before (two empty bars: 1)."""
    a, b = grids[lag:], grids[:-lag]
    union = (a | b).sum((1, 2))
    return np.where(union > 0, (a & b).sum((1, 2)) / np.maximum(union, 1), 1.0)


def features(patterns: PatternSet, kit: Kit | None = None) -> dict[str, list]:
    """Feature samples of a pattern set: name -> list of scalars or vectors."""
    kit = kit or get_kit("9")
    names = kit.class_names
    out: dict[str, list] = {"hits per bar": [], "empty-step rate": [], "syncopation": [],
                            "similarity to 1 bar before": [], "similarity to 2 bars before": [],
                            "drum-in-pattern rate": [], "drum-pattern consistency": [],
                            "empty-beat rate": []}
    for name in names:
        out[f"{name} hits per bar"] = []
        out[f"{name} positions"] = []
        out[f"{name} velocity"] = []
    for piece in patterns.pieces:
        grids = _bar_grids(piece, kit.n_classes)
        if len(grids):
            any_hit = grids.any(1)
            out["hits per bar"] += grids.sum((1, 2)).astype(float).tolist()
            out["empty-step rate"] += (1 - any_hit.mean(1)).tolist()
            out["syncopation"] += _syncopations(any_hit).tolist()
            out["similarity to 1 bar before"] += _similarities(grids, 1).tolist()
            out["similarity to 2 bars before"] += _similarities(grids, 2).tolist()
            for c, name in enumerate(names):
                rows = grids[:, c]
                out[f"{name} hits per bar"] += rows.sum(1).astype(float).tolist()
                out[f"{name} positions"] += list(rows[rows.any(1)].astype(float))
        for c, name in enumerate(names):
            out[f"{name} velocity"] += piece.velocities[piece.classes == c].astype(float).tolist()
        duple = drum_in_pattern_rate(piece.quarters, "duple")
        if not np.isnan(duple):
            out["drum-in-pattern rate"].append(duple)
            out["drum-pattern consistency"].append(max(duple, drum_in_pattern_rate(
                piece.quarters, "triple")))
        n_beats = len(piece.bar_starts) * 4
        if n_beats:
            out["empty-beat rate"].append(empty_beat_rate(piece.quarters, n_beats))
    return out


# ---------------------------------------------------------------------------------------------
# Set-level figures: groove and feel

TIMEKEEPERS = ("closed hi-hat", "open hi-hat", "ride")
TOMS = ("low tom", "mid tom", "high tom")
#: What the groove gap averages: shares and similarities as they are, counts as a ratio to the
#: reference's (a set with 15% more hits per bar is 0.15 away).
GAP_SHARES = ("similarity to the bar before", "similarity beyond the control",
              "pieces holding a kick or snare pattern", "pieces without a groove bar",
              "kick on beat 1")
GAP_RATIOS = ("hits per bar", "closed hi-hat hits per bar")


def bar_similarity(grids: np.ndarray) -> np.ndarray:
    """Jaccard similarity of each bar's struck (drum, step) cells to the bar before: for
    bars k = 1..n-1 of ``grids`` (n_bars, n_classes, 16), |k & k-1| / |k | k-1|; two empty
    bars are identical (1)."""
    return _similarities(grids, 1)


def shuffled_similarity(piece_grids: list[np.ndarray], seed: int = 0) -> np.ndarray:
    """The density-matched control of :func:`bar_similarity`: each bar k >= 1 of each piece is
    compared (Jaccard) with a bar drawn at random from ANOTHER piece that has as many hits as
    bar k-1 (the nearest count when no other piece has that many). What two bars of that
    density share by chance; NaNs when the set has fewer than two pieces with bars."""
    rng = np.random.default_rng(seed)
    piece_grids = [g for g in piece_grids if len(g)]
    if not piece_grids:
        return np.zeros(0)
    bars = np.concatenate([g.reshape(len(g), -1) for g in piece_grids])
    owner = np.concatenate([np.full(len(g), i) for i, g in enumerate(piece_grids)])
    counts = bars.sum(1)
    cur = np.flatnonzero(np.r_[False, owner[1:] == owner[:-1]])  # bars with a bar before
    want = counts[cur - 1]
    partner = np.full(len(cur), -1)
    # draw among the bars of the wanted count; redraw those that hit their own piece
    order = np.argsort(counts, kind="stable")
    first = np.searchsorted(counts[order], want, side="left")
    size = np.searchsorted(counts[order], want, side="right") - first
    for _ in range(8):
        todo = np.flatnonzero((partner < 0) & (size > 0))
        if not len(todo):
            break
        pick = order[first[todo] + (rng.random(len(todo)) * size[todo]).astype(np.int64)]
        ok = owner[pick] != owner[cur[todo]]
        partner[todo[ok]] = pick[ok]
    for i in np.flatnonzero(partner < 0):  # rare: no other piece has that count, or bad luck
        others = np.flatnonzero(owner != owner[cur[i]])
        if len(others):
            gap = np.abs(counts[others] - want[i])
            partner[i] = rng.choice(others[gap == gap.min()])
    out = np.full(len(cur), np.nan)
    ok = partner >= 0
    a, b = bars[cur[ok]], bars[partner[ok]]
    union = (a | b).sum(1)
    out[ok] = np.where(union > 0, (a & b).sum(1) / np.maximum(union, 1), 1.0)
    return out


def holds_pattern(rows: np.ndarray, min_bars: int = 4) -> bool:
    """Whether one drum's bars ``rows`` (n_bars, 16) repeat a 1- or 2-bar pattern for at least
    ``min_bars`` bars in a row: bars k..k+min_bars-1 with bar j equal to bar j-2 throughout
    (a 1-bar pattern is the case bar k = bar k+1), and at least one hit among them."""
    n = len(rows)
    if n < max(min_bars, 3):
        return False
    same = (rows[2:] == rows[:-2]).all(1)  # same[j]: bar j+2 repeats bar j
    need = min_bars - 2  # consecutive repeats that make min_bars bars
    hit = rows.any(1)
    return any(same[k:k + need].all() and hit[k:k + min_bars].any()
               for k in range(n - min_bars + 1))


def groove_bars(grids: np.ndarray, kit: Kit) -> np.ndarray:
    """Which bars of ``grids`` are groove bars: hi-hat (closed or open) or ride on at least 4
    of the 8 eighth notes, a snare on beat 2 or 4, and a kick anywhere."""
    timekeepers = [kit.class_names.index(n) for n in TIMEKEEPERS]
    kick, snare = kit.class_names.index("kick"), kit.class_names.index("snare")
    eighths = grids[:, timekeepers, ::2].any(1).sum(1)
    return (eighths >= 4) & grids[:, snare, [4, 12]].any(1) & grids[:, kick].any(1)


def offsets_ms(piece: Piece) -> np.ndarray:
    """Each hit's offset from its 16th grid step in milliseconds at the piece's tempo (early
    is negative; NaN when the tempo is unknown)."""
    return (piece.quarters * 4 - piece.steps) * (15000.0 / piece.qpm)


def pooled_sd(values: np.ndarray, groups: np.ndarray) -> float:
    """The spread within groups: the root mean square deviation of each value from its group's
    mean, over groups of two values or more (NaN without such a group)."""
    values, groups = np.asarray(values, float), np.asarray(groups)
    if not len(values):
        return float("nan")
    _, index, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    means = np.bincount(index, values) / sizes
    keep = sizes[index] >= 2
    if not keep.any():
        return float("nan")
    return float(np.sqrt(np.mean((values[keep] - means[index][keep]) ** 2)))


def cut_pieces(patterns: PatternSet, bars: int) -> PatternSet:
    """Pieces cut into runs of ``bars`` consecutive 4/4 bars (what is left over is dropped);
    pieces shorter than ``bars`` stay whole, so that fills of a bar or two still count."""
    pieces = []
    for piece in patterns.pieces:
        n = len(piece.bar_starts)
        if n <= bars:
            pieces.append(piece)
            continue
        bar_of, _, ok = _hit_bars(piece)
        for first in range(0, n - bars + 1, bars):
            starts = piece.bar_starts[first:first + bars]
            if starts[-1] - starts[0] != (bars - 1) * STEPS_PER_BAR:
                continue  # a bar of another metre in between
            keep = ok & (bar_of >= first) & (bar_of < first + bars)
            pieces.append(replace(piece, steps=piece.steps[keep], classes=piece.classes[keep],
                                  velocities=piece.velocities[keep],
                                  quarters=piece.quarters[keep], bar_starts=starts))
    return PatternSet(patterns.name, pieces, patterns.skipped)


def figures(patterns: PatternSet, kit: Kit | None = None, piece_bars: int | None = 8,
            seed: int = 0) -> dict[str, float]:
    """The groove and feel figures of a pattern set, name -> value (NaN when not defined).

    Bar figures use every 4/4 bar. Piece figures use the pieces cut into ``piece_bars`` bars
    (:func:`cut_pieces`; None: as they are), so that sets of long tracks and of 8-bar
    patterns are comparable. Per bar: ``similarity to the bar before`` (mean of
    :func:`bar_similarity`), its density-matched control (:func:`shuffled_similarity`, bars
    of the set's own pieces) and the difference, ``hits per bar``, the closed hi-hat, snare
    and tom (low, mid, high) hits per bar, ``kick on beat 1`` (share of bars with a kick on
    step 0). Per piece: ``pieces holding a kick or snare pattern`` (:func:`holds_pattern`,
    >= 4 bars, for the kick or the snare), ``pieces without a groove bar``
    (:func:`groove_bars`), ``similarity of bar 5 to bar 3`` (pieces of 5 bars or more). Per
    hit of the cut pieces, pooled over the set: velocity sd of each drum and of all hits;
    timing offsets in ms at each piece's tempo (pieces of unknown tempo left out): their mean,
    their sd, their sd within one drum at one bar position (:func:`pooled_sd` over (drum,
    step of the bar)), and the ``feel sd between pieces`` (sd of the pieces' mean offsets).
    """
    kit = kit or get_kit("9")
    names = kit.class_names
    grids = [_bar_grids(p, kit.n_classes) for p in patterns.pieces]
    bars = np.concatenate(grids) if grids else np.zeros((0, kit.n_classes, STEPS_PER_BAR), bool)
    sims = np.concatenate([bar_similarity(g) for g in grids if len(g) > 1] or [np.zeros(0)])
    control = shuffled_similarity([g for g in grids if len(g)], seed)
    out: dict[str, float] = {}
    out["similarity to the bar before"] = _mean(sims)
    out["similarity, density-matched control"] = _mean(control)
    out["similarity beyond the control"] = (out["similarity to the bar before"]
                                            - out["similarity, density-matched control"])
    cut = cut_pieces(patterns, piece_bars) if piece_bars else patterns
    cut_grids = [g for g in (_bar_grids(p, kit.n_classes) for p in cut.pieces) if len(g)]
    kick, snare = names.index("kick"), names.index("snare")
    out["pieces holding a kick or snare pattern"] = _mean(
        [holds_pattern(g[:, kick]) or holds_pattern(g[:, snare]) for g in cut_grids])
    out["pieces without a groove bar"] = _mean([not groove_bars(g, kit).any()
                                                for g in cut_grids])
    per_bar = bars.sum(2)  # (n_bars, n_classes)
    out["hits per bar"] = _mean(per_bar.sum(1))
    out["closed hi-hat hits per bar"] = _mean(per_bar[:, names.index("closed hi-hat")])
    out["ride hits per bar"] = _mean(per_bar[:, names.index("ride")])
    out["snare hits per bar"] = _mean(per_bar[:, snare])
    out["tom hits per bar"] = _mean(per_bar[:, [names.index(n) for n in TOMS]].sum(1))
    out["kick on beat 1"] = _mean(bars[:, kick, 0])
    out["similarity of bar 5 to bar 3"] = _mean(
        [bar_similarity(g[[2, 4]])[0] for g in cut_grids if len(g) >= 5])

    velocities, classes, offsets, positions, piece_means = [], [], [], [], []
    for piece in cut.pieces:
        _, position, ok = _hit_bars(piece)
        velocities.append(piece.velocities[ok].astype(float))
        classes.append(piece.classes[ok].astype(int))
        if np.isfinite(piece.qpm) and ok.any():
            ms = offsets_ms(piece)[ok]
            offsets.append(ms)
            positions.append(piece.classes[ok].astype(int) * STEPS_PER_BAR + position[ok])
            piece_means.append(ms.mean())
    velocity = np.concatenate(velocities) if velocities else np.zeros(0)
    cls = np.concatenate(classes) if classes else np.zeros(0, int)
    for c, name in enumerate(names):
        out[f"{name} velocity sd"] = _sd(velocity[cls == c])
    out["velocity sd, all hits"] = _sd(velocity)
    ms = np.concatenate(offsets) if offsets else np.zeros(0)
    out["timing offset mean (ms)"] = _mean(ms)
    out["timing sd (ms)"] = _sd(ms)
    out["timing sd within a drum and bar position (ms)"] = pooled_sd(
        ms, np.concatenate(positions) if positions else np.zeros(0, int))
    out["feel sd between pieces (ms)"] = _sd(piece_means)
    return out


def _mean(values) -> float:
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float("nan")


def _sd(values) -> float:
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    return float(values.std()) if len(values) >= 2 else float("nan")


def groove_gap(figs: dict[str, float], reference: dict[str, float]) -> float:
    """How far a set's groove figures are from the reference's: the mean absolute difference
    over :data:`GAP_SHARES` (shares and similarities) and :data:`GAP_RATIOS` (counts, as
    ``value / reference - 1``); 0 = the same groove, NaN when nothing is defined."""
    gaps = [abs(figs[n] - reference[n]) for n in GAP_SHARES]
    gaps += [abs(figs[n] / reference[n] - 1) if reference[n] else float("nan")
             for n in GAP_RATIOS]
    return _mean(gaps)


def hits_per_bar(patterns: PatternSet, drums: tuple[str, ...], kit: Kit | None = None
                 ) -> np.ndarray:
    """Hits of the named drums in each 4/4 bar of the set (int array, one per bar)."""
    kit = kit or get_kit("9")
    classes = [kit.class_names.index(d) for d in drums]
    counts = [_bar_grids(p, kit.n_classes)[:, classes].sum((1, 2)) for p in patterns.pieces]
    return np.concatenate(counts) if counts else np.zeros(0, np.int64)


def _windows(patterns: PatternSet, bars: int, n_classes: int) -> list[bytes]:
    """Every run of ``bars`` consecutive 4/4 bars with a hit, as the bytes of its onsets."""
    out = []
    for piece in patterns.pieces:
        grids = _bar_grids(piece, n_classes)
        starts = piece.bar_starts
        for k in range(len(grids) - bars + 1):
            window = grids[k:k + bars]
            if starts[k + bars - 1] - starts[k] == (bars - 1) * STEPS_PER_BAR and window.any():
                out.append(np.packbits(window).tobytes())
    return out


def copied_share(generated: PatternSet, source: PatternSet, bars: int = 4,
                 kit: Kit | None = None) -> float:
    """The share of the generated runs of ``bars`` consecutive bars (every start bar; runs
    without a hit left out) whose onsets (drum x 16th step, velocities and timing ignored)
    appear verbatim somewhere in ``source`` (e.g. the training split); NaN without runs."""
    n_classes = (kit or get_kit("9")).n_classes
    seen = set(_windows(source, bars, n_classes))
    windows = _windows(generated, bars, n_classes)
    return float(np.mean([w in seen for w in windows])) if windows else float("nan")


def kind_subsets(patterns: PatternSet) -> dict[str, PatternSet]:
    """The set's beats and fills apart (by each piece's ``kind``); empty when no piece says."""
    out = {}
    for kind in ("beat", "fill"):
        pieces = [p for p in patterns.pieces if p.kind == kind]
        if pieces:
            out[kind] = PatternSet(f"{patterns.name}, {kind}s", pieces)
    return out


def _sample(values: list, rng: np.random.Generator) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if len(array) > MAX_SAMPLES:
        array = array[rng.choice(len(array), MAX_SAMPLES, replace=False)]
    return array


def _distances(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    if b is None:
        d = np.sqrt(((a[:, None, :] - a[None, :, :]) ** 2).sum(-1))
        return d[np.triu_indices(len(a), k=1)]
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).ravel()


def _kde(sample: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Gaussian kernel density of ``sample`` on ``grid`` (Scott's bandwidth, at least two grid
    steps so that a sample without spread is a narrow bump, not nothing), normalized."""
    dx = grid[1] - grid[0]
    h = max(1.06 * sample.std() * len(sample) ** -0.2, 2 * dx)
    density = np.exp(-0.5 * ((grid[:, None] - sample[None, :]) / h) ** 2).sum(1)
    return density / (density.sum() * dx)


def overlap_and_kl(intra: np.ndarray, inter: np.ndarray, points: int = 400) -> tuple[float, float]:
    """OA and KL(intra || inter) of two samples of distances, via Gaussian KDEs on a grid.

    Identical one-point samples give (1, 0); fewer than two values give NaNs.
    """
    if len(intra) < 2 or len(inter) < 2:
        return float("nan"), float("nan")
    if np.ptp(intra) == 0 and np.ptp(inter) == 0 and intra[0] == inter[0]:
        return 1.0, 0.0
    rng = np.random.default_rng(0)
    # the KDE costs samples x grid points: a few thousand distances describe the shape
    if len(intra) > MAX_DISTANCES:
        intra = rng.choice(intra, MAX_DISTANCES, replace=False)
    if len(inter) > MAX_DISTANCES:
        inter = rng.choice(inter, MAX_DISTANCES, replace=False)
    lo, hi = min(intra.min(), inter.min()), max(intra.max(), inter.max())
    pad = 0.1 * (hi - lo)
    grid = np.linspace(lo - pad, hi + pad, points)
    dx = grid[1] - grid[0]
    p, q = _kde(intra, grid), _kde(inter, grid)
    oa = float(np.minimum(p, q).sum() * dx)
    eps = 1e-12
    kl = float((p * np.log((p + eps) / (q + eps))).sum() * dx)
    return min(oa, 1.0), max(kl, 0.0)


def compare_features(generated: dict[str, list], reference: dict[str, list],
                     seed: int = 0) -> dict[str, dict]:
    """Per feature: OA, KL and both means (MGEval's intra-set vs inter-set distances)."""
    rng = np.random.default_rng(seed)
    result = {}
    for name, ref_values in reference.items():
        gen_values = generated.get(name, [])
        if len(ref_values) < 3 or len(gen_values) < 2:
            result[name] = {"oa": float("nan"), "kl": float("nan"), "reference_mean": None,
                            "generated_mean": None}
            continue
        ref, gen = _sample(ref_values, rng), _sample(gen_values, rng)
        oa, kl = overlap_and_kl(_distances(ref), _distances(ref, gen))
        result[name] = {"oa": oa, "kl": kl,
                        "reference_mean": np.asarray(ref_values, float).mean(0).round(4).tolist(),
                        "generated_mean": np.asarray(gen_values, float).mean(0).round(4).tolist()}
    return result


def mean_oa(result: dict[str, dict]) -> float:
    values = [v["oa"] for v in result.values() if not np.isnan(v["oa"])]
    return float(np.mean(values)) if values else float("nan")


@dataclass
class Comparison:
    """A comparison of generated patterns with a reference, and its two anchors.

    ``figures``: column (``generated``, ``reference``, ``reference beats``/``fills`` when the
    reference says which pieces are which, ``real vs real``, ``random vs real``) -> the
    :func:`figures` of that set; ``groove_gaps``: the :func:`groove_gap` of each column but
    the reference's own.
    """

    generated: str
    reference: str
    features: dict[str, dict]
    anchors: dict[str, dict[str, dict]]
    figures: dict[str, dict[str, float]] = field(default_factory=dict)
    groove_gaps: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"generated": self.generated, "reference": self.reference,
                           "mean_oa": mean_oa(self.features), "features": self.features,
                           "anchors": {k: {"mean_oa": mean_oa(v), "features": v}
                                       for k, v in self.anchors.items()},
                           "figures": self.figures, "groove_gap": self.groove_gaps},
                          indent=1, allow_nan=True)

    def markdown(self) -> str:
        heads = ["generated"] + list(self.anchors)
        lines = [f"Generated: {self.generated}; reference: {self.reference}.", "",
                 "| feature | " + " | ".join(f"OA {h}" for h in heads) + " | KL generated |",
                 "|---|" + "---|" * (len(heads) + 1)]
        for name, row in self.features.items():
            cells = [row["oa"]] + [self.anchors[a][name]["oa"] for a in self.anchors]
            lines.append(f"| {name} | " + " | ".join(_fmt(c) for c in cells)
                         + f" | {_fmt(row['kl'])} |")
        means = [mean_oa(self.features)] + [mean_oa(self.anchors[a]) for a in self.anchors]
        lines.append("| **mean OA** | " + " | ".join(f"**{_fmt(m)}**" for m in means) + " | |")
        if self.figures:
            columns = list(self.figures)
            lines += ["", "Groove and feel (each set's own figures; timing in ms at each piece's "
                      "tempo; the groove gap: mean distance of the groove figures from the "
                      "reference's, 0 = the same):", "",
                      "| figure | " + " | ".join(columns) + " |",
                      "|---|" + "---|" * len(columns)]
            for name in self.figures[columns[0]]:
                lines.append(f"| {name} | " + " | ".join(
                    _fmt(self.figures[c][name]) for c in columns) + " |")
            lines.append("| **groove gap** | " + " | ".join(
                f"**{_fmt(self.groove_gaps[c])}**" if c in self.groove_gaps else ""
                for c in columns) + " |")
        return "\n".join(lines)


def _fmt(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.3f}"


def compare(generated: PatternSet, reference: PatternSet, real_anchor: PatternSet | None = None,
            seed: int = 0) -> Comparison:
    """Compare ``generated`` with ``reference``; anchors: ``real_anchor`` (other real
    drumming, the ceiling; default: half of the reference against the other half) and
    uniformly random tokens (the floor). Piece figures cut every set into pieces as long as
    the generated ones (their median number of bars)."""
    if real_anchor is None:
        half = len(reference.pieces) // 2
        if half < 1:
            raise DrumrnnError("the reference needs at least 2 pieces")
        real_anchor = PatternSet(f"half of {reference.name}", reference.pieces[:half])
        reference = PatternSet(reference.name, reference.pieces[half:])
    ref_features = features(reference)
    n_bars = sum(len(p.bar_starts) for p in generated.pieces) or 64
    random = random_patterns(max(8, n_bars // 8), seed=seed)
    anchors = {"real vs real": compare_features(features(real_anchor), ref_features, seed),
               "random vs real": compare_features(features(random), ref_features, seed)}
    lengths = [len(p.bar_starts) for p in generated.pieces if len(p.bar_starts)]
    piece_bars = max(1, int(np.median(lengths))) if lengths else 8
    sets = {"generated": generated, "reference": reference,
            **{f"reference {kind}s": subset for kind, subset in kind_subsets(reference).items()},
            "real vs real": real_anchor, "random vs real": random}
    figs = {column: figures(patterns, piece_bars=piece_bars, seed=seed)
            for column, patterns in sets.items()}
    gaps = {column: groove_gap(figs[column], figs["reference"])
            for column in ("generated", "real vs real", "random vs real")}
    return Comparison(generated.name, reference.name,
                      compare_features(features(generated), ref_features, seed), anchors,
                      figs, gaps)


def plot_features(generated: PatternSet, reference: PatternSet, folder: str | Path,
                  names: tuple[str, ...] = ("hits per bar", "empty-step rate", "syncopation",
                                            "similarity to 1 bar before", "snare velocity",
                                            "kick hits per bar")) -> Path:
    """A PNG of the generated and reference distributions of some scalar features."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from drumrnn.core.atomic import atomic_path

    gen, ref = features(generated), features(reference)
    fig, axes = plt.subplots(2, 3, figsize=(12, 6))
    for ax, name in zip(axes.ravel(), names):
        values = [np.asarray(ref[name], float), np.asarray(gen[name], float)]
        bins = np.histogram_bin_edges(np.concatenate(values), bins=20)
        ax.hist(values[0], bins=bins, density=True, alpha=0.55, label="reference")
        ax.hist(values[1], bins=bins, density=True, alpha=0.55, label="generated")
        ax.set_title(name)
    axes[0, 0].legend()
    fig.tight_layout()
    path = Path(folder) / "features.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return path


def label_mix(patterns: PatternSet, n: int, known: tuple[str, ...]
              ) -> list[tuple[str | None, float | None]]:
    """The labels of ``n`` patterns that mirror ``patterns`` (e.g. a split's beats cut into
    pieces): the style and tempo of ``n`` of its pieces spread evenly over it, so that the
    mix of styles and tempos is the reference's. A style the model does not know is None
    (unknown); so is an unknown tempo (then played at generation's default, 120 bpm)."""
    pieces = patterns.pieces
    picks = np.linspace(0, len(pieces) - 1, n).round().astype(int) if pieces else []
    return [(pieces[k].style if pieces[k].style in known else None,
             float(pieces[k].qpm) if np.isfinite(pieces[k].qpm) else None) for k in picks]


def play_label_mix(generator: DrumGenerator, mix: list[tuple[str | None, float | None]],
                   bars: int, seed: int) -> list[DrumHits]:
    """Beat-mode patterns of ``bars`` bars, one per ``(style, tempo)`` of ``mix``
    (:func:`label_mix`), pattern i drawing seed ``1000 * seed + i``: each conditioned on its
    labels and written at its tempo, as the reference piece it mirrors was played."""
    return [hits for i, (style, tempo) in enumerate(mix)
            for hits in generator.generate(GenerateConfig(bars=bars, num=1, seed=1000 * seed + i,
                                                          kind="beat", style=style, tempo=tempo))]
