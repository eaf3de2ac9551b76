"""Musical statistics of drum patterns, and how close two sets of them are.

Each piece becomes 4/4 bars of 16 steps (9-piece kit). Per bar: hits per class, empty-step
rate, where each class plays in the bar, syncopation, and similarity to the bar one and two
before; per hit: velocity by class; per piece: muspy's drum-in-pattern rate, drum-pattern
consistency and empty-beat rate (Dong et al. 2018, muspy 0.5). Two sets are compared per
feature as in MGEval (Yang & Lerch 2018, "On the evaluation of generative models in music"):
the distribution of distances within the reference set (intra-set) against the distances
between the sets (inter-set), each smoothed with a Gaussian KDE; the overlapping area (OA,
1 = indistinguishable) and the KL divergence KL(intra || inter) (0 = indistinguishable).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drumrnn.core.errors import DrumrnnError, MidiReadError
from drumrnn.data.dataset import find_midi_files, load_dataset
from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import Kit, get_kit
from drumrnn.data.midi_read import read_drum_hits
from drumrnn.data.steps import StepsConfig, bar_start_steps, encode_steps

STEPS_PER_BAR = 16
#: Longuet-Higgins & Lee (1984) metrical weights of the 16 steps of a 4/4 bar.
METRICAL_WEIGHTS = np.array([0, -4, -3, -4, -2, -4, -3, -4, -1, -4, -3, -4, -2, -4, -3, -4])
MUSPY_RESOLUTION = 24  # muspy's default ticks per beat
MAX_SAMPLES = 300  # items per set in the pairwise distances (MGEval's cost is quadratic)
MAX_DISTANCES = 3000  # distances per KDE


@dataclass
class Piece:
    """One piece on the 16th grid: hits as (step, class, velocity) and raw onsets (quarters)."""

    steps: np.ndarray
    classes: np.ndarray
    velocities: np.ndarray
    quarters: np.ndarray
    bar_starts: np.ndarray  # steps at which 4/4 bars of 16 steps start


@dataclass
class PatternSet:
    """Pieces to describe; ``name`` says where they came from."""

    name: str
    pieces: list[Piece]
    skipped: list[str] = field(default_factory=list)


def _piece(steps, classes, velocities, quarters, positions) -> Piece:
    starts = np.flatnonzero(positions == 0)
    ends = np.r_[starts[1:], len(positions)]
    bars = starts[(ends - starts) == STEPS_PER_BAR]  # 4/4 bars only
    return Piece(np.asarray(steps), np.asarray(classes), np.asarray(velocities),
                 np.asarray(quarters), bars)


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
        pieces = []
        for i in range(len(starts) - 1):
            a, b = hit_starts[i], hit_starts[i + 1]
            steps = np.asarray(arrays["hit_steps"][a:b])
            quarters = (steps + np.asarray(arrays["hit_offsets"][a:b], np.float64)) / 4
            pieces.append(_piece(steps, arrays["hit_classes"][a:b], arrays["hit_velocities"][a:b],
                                 quarters, np.asarray(arrays["positions"][starts[i]:starts[i + 1]])))
        return PatternSet(f"{path} ({split})", pieces)
    if not path.is_dir():
        raise DrumrnnError(f"no such folder: {path}")
    files = find_midi_files(path)
    if not files:
        raise DrumrnnError(f"no .mid or .midi files under {path}")
    hits, skipped = [], []
    for file in files:
        try:
            hits.append(read_drum_hits(file))
        except MidiReadError as exc:
            skipped.append(f"{file.name}: {exc}")
    patterns = patterns_from_hits(str(path), hits, kit)
    if not patterns.pieces:
        raise DrumrnnError(f"no usable drum MIDI under {path}")
    patterns.skipped = skipped
    return patterns


def patterns_from_hits(name: str, hits: list[DrumHits], kit: Kit | None = None) -> PatternSet:
    """A pattern set of drum hits (e.g. generated ones), on the 16th grid of ``kit``."""
    kit = kit or get_kit("9")
    pieces = []
    for piece_hits in hits:
        seq = encode_steps(piece_hits, kit, StepsConfig(4))
        if len(seq.hit_steps):
            # the encoding ends with the last hit's bar; the piece's empty bars after it count
            n_steps = max(seq.n_steps, int(round(piece_hits.end_quarter * 4)))
            starts = bar_start_steps(piece_hits.time_map, n_steps / 4, 4)
            steps = np.arange(n_steps)
            positions = steps - starts[np.searchsorted(starts, steps, side="right") - 1]
            quarters = (seq.hit_steps + seq.hit_offsets.astype(np.float64)) / 4
            pieces.append(_piece(seq.hit_steps, seq.hit_classes, seq.hit_velocities, quarters,
                                 positions))
    return PatternSet(name, pieces)


def random_patterns(n_pieces: int, bars: int = 8, seed: int = 0, n_classes: int = 9) -> PatternSet:
    """Uniformly random step tokens: the floor every model must beat."""
    rng = np.random.default_rng(seed)
    pieces = []
    for _ in range(n_pieces):
        tokens = rng.integers(0, 1 << n_classes, bars * STEPS_PER_BAR)
        steps, classes = np.nonzero((tokens[:, None] >> np.arange(n_classes)) & 1)
        pieces.append(_piece(steps, classes, rng.integers(1, 128, len(steps)), steps / 4,
                             np.arange(bars * STEPS_PER_BAR) % STEPS_PER_BAR))
    return PatternSet("uniformly random tokens", pieces)


def _bar_grids(piece: Piece, n_classes: int) -> np.ndarray:
    """(n_bars, n_classes, 16) bool onsets of each 4/4 bar."""
    grids = np.zeros((len(piece.bar_starts), n_classes, STEPS_PER_BAR), bool)
    if not len(piece.bar_starts):
        return grids
    bar_of = np.searchsorted(piece.bar_starts, piece.steps, side="right") - 1
    offset = piece.steps - piece.bar_starts[np.maximum(bar_of, 0)]
    ok = (bar_of >= 0) & (offset < STEPS_PER_BAR)
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


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


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
        for k, grid in enumerate(grids):
            any_hit = grid.any(0)
            out["hits per bar"].append(float(grid.sum()))
            out["empty-step rate"].append(float(1 - any_hit.mean()))
            out["syncopation"].append(syncopation(any_hit))
            if k >= 1:
                out["similarity to 1 bar before"].append(_jaccard(grid, grids[k - 1]))
            if k >= 2:
                out["similarity to 2 bars before"].append(_jaccard(grid, grids[k - 2]))
            for c, name in enumerate(names):
                out[f"{name} hits per bar"].append(float(grid[c].sum()))
                if grid[c].any():
                    out[f"{name} positions"].append(grid[c].astype(float))
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
    """A comparison of generated patterns with a reference, and its two anchors."""

    generated: str
    reference: str
    features: dict[str, dict]
    anchors: dict[str, dict[str, dict]]

    def to_json(self) -> str:
        return json.dumps({"generated": self.generated, "reference": self.reference,
                           "mean_oa": mean_oa(self.features), "features": self.features,
                           "anchors": {k: {"mean_oa": mean_oa(v), "features": v}
                                       for k, v in self.anchors.items()}},
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
        return "\n".join(lines)


def _fmt(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.3f}"


def compare(generated: PatternSet, reference: PatternSet, real_anchor: PatternSet | None = None,
            seed: int = 0) -> Comparison:
    """Compare ``generated`` with ``reference``; anchors: ``real_anchor`` (other real
    drumming, the ceiling; default: half of the reference against the other half) and
    uniformly random tokens (the floor)."""
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
    return Comparison(generated.name, reference.name,
                      compare_features(features(generated), ref_features, seed), anchors)


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
