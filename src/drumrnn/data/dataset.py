"""Prepared datasets: many MIDI files -> token arrays per split, with a JSON manifest.

Layout of a prepared folder::

    manifest.json             format version, configs, counts, vocabulary, files, skipped
    train/tokens.npy ...      one .npy per array (memory-mappable), tracks concatenated
    train/track_starts.npy    int64 offsets: track i is [starts[i], starts[i+1])
    train/hit_starts.npy      (steps) the same for the per-hit arrays

The folder is written atomically, while a lock beside it keeps a second run out. On a
re-run, files whose content hash is unchanged are taken from the previous output instead of
being parsed again. A file that cannot be read or encoded, for whatever reason, is skipped
with its reason; an exception no reader expects is recorded as an "internal error" (and
counted in the summary) but never stops the run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drumrnn import __version__
from drumrnn.core.atomic import atomic_directory
from drumrnn.core.errors import DrumrnnError, MidiReadError
from drumrnn.core.lock import folder_lock
from drumrnn.data.dataset_check import check_manifest, check_split
from drumrnn.data.encoding import EncodedTrack, EncodingConfig, encode_track
from drumrnn.data.groove import SPLITS, GrooveFilter, is_groove_folder, read_info
from drumrnn.data.labels import LabelSource, folder_labels, groove_labels, read_labels_csv
from drumrnn.data.limits import ReadLimits
from drumrnn.data.midi_read import MAX_FILE_MB, DrumSource, parse_drum_hits, read_bytes_checked

FORMAT = "drumrnn-dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MIDI_SUFFIXES = (".mid", ".midi")
TEXT_SUFFIX = ".txt"  # LSTMetallica's text corpus (see drumrnn.data.text_corpus)
#: A split with fewer files than this gets a warning: figures measured on it are noise.
FEW_FILES = 5
#: Below this many files to parse, worker processes cost more than they save.
PARALLEL_MIN_FILES = 200


@dataclass(frozen=True)
class PrepareConfig:
    """Everything that decides a prepared dataset's contents.

    Attributes
    ----------
    encoding : EncodingConfig
    source : DrumSource
        Where the drums are in each file (default: channel 10).
    groove_filter : GrooveFilter
        Metadata filters, applied to Groove MIDI Dataset folders only.
    split_fractions : (float, float, float)
        Train/validation/test shares for plain folders (split by content hash).
    max_file_mb : float
        Files larger than this are skipped.
    labels : LabelSource
        Where plain folders' style and kind labels come from (the GMD has its own).
    limits : ReadLimits
        Bounds on the work one file may cause (length, silences, tempo events...).
    min_per_split : int
        Plain folders: move files from train (by content hash) until validation and test
        hold at least this many; 0 = the hash split as it falls.
    """

    encoding: EncodingConfig = field(default_factory=EncodingConfig)
    source: DrumSource = field(default_factory=DrumSource)
    groove_filter: GrooveFilter = field(default_factory=GrooveFilter)
    split_fractions: tuple[float, float, float] = (0.9, 0.05, 0.05)
    max_file_mb: float = MAX_FILE_MB
    labels: LabelSource = field(default_factory=LabelSource)
    limits: ReadLimits = field(default_factory=ReadLimits)
    min_per_split: int = 0

    def __post_init__(self) -> None:
        if self.min_per_split < 0:
            raise DrumrnnError(f"min per split must not be negative, got {self.min_per_split}")
        fractions = self.split_fractions
        if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
            raise DrumrnnError(f"split fractions must be 3 shares summing to 1, got {fractions}")

    def to_dict(self) -> dict:
        return {"encoding": self.encoding.to_dict(), "kit": self.encoding.kit_obj.to_dict(),
                "source": self.source.to_dict(), "groove_filter": self.groove_filter.to_dict(),
                "split_fractions": list(self.split_fractions), "max_file_mb": self.max_file_mb,
                "labels": self.labels.to_dict(), "limits": self.limits.to_dict(),
                "min_per_split": self.min_per_split}


@dataclass
class _Candidate:
    path: Path
    relpath: str
    split: str | None  # None: decided by content hash
    metadata: dict
    text: bytes | None = None  # a piece of a text corpus (its words), not a MIDI file


@dataclass
class PrepareReport:
    """What :func:`prepare` did: counts per split, skipped files and reused cache entries."""

    out: Path
    manifest: dict
    parsed: int
    reused: int
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        splits = self.manifest["splits"]
        parts = [f"{name} {s['files']} files / {s['tokens']} tokens / {s['hits']} hits"
                 for name, s in splits.items()]
        skipped = self.manifest["skipped"]
        line = f"prepared {self.out}: " + "; ".join(parts)
        if skipped:
            reasons = Counter(s["reason"].split(";")[0].split(":")[0] for s in skipped)
            shown = ", ".join(f"{n} {r}" for r, n in reasons.most_common(3))
            line += f"; skipped {len(skipped)} files ({shown}; see manifest.json)"
            internal = reasons.get(INTERNAL_ERROR, 0)
            if internal:
                line += f"; {internal} internal errors (a drumrnn bug: please report them)"
        trimmed = [f.get("trimmed", {}) for f in self.manifest["files"]]
        shortened = sum(1 for t in trimmed if t.get("silent_bars"))
        cut = sum(1 for t in trimmed if t.get("cut_hits"))
        if shortened or cut:
            line += (f"; shortened long silences in {shortened} files, cut {cut} files at "
                     f"{self.manifest['config']['limits']['max_bars']} bars")
        return line


def _hash_split(digest: str, fractions: tuple[float, float, float]) -> str:
    share = int(digest[:8], 16) / 2**32
    if share < fractions[0]:
        return "train"
    return "validation" if share < fractions[0] + fractions[1] else "test"


def find_midi_files(folder: Path, suffixes: tuple[str, ...] = MIDI_SUFFIXES) -> list[Path]:
    """Every .mid/.midi file (or other ``suffixes``) under ``folder``, recursively, in a
    stable order."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in suffixes
                  and not p.name.startswith("."))


def _text_candidates(path: Path, relpath: str, config: PrepareConfig,
                     metadata: dict) -> list[_Candidate]:
    """One candidate per piece of a text corpus file, each with ``metadata``."""
    from drumrnn.data.text_corpus import corpus_pieces

    try:
        text = read_bytes_checked(path, config.max_file_mb, midi=False).decode("utf-8")
    except MidiReadError as exc:
        raise DrumrnnError(f"{path}: {exc}") from None
    except UnicodeDecodeError:
        raise DrumrnnError(f"{path} is not a text corpus (not UTF-8 text)") from None
    pieces = corpus_pieces(text)
    return [_Candidate(path, f"{relpath}#{k + 1}" if len(pieces) > 1 else relpath, None,
                       dict(metadata), piece.encode("utf-8")) for k, piece in enumerate(pieces)]


def _candidates(source: Path, config: PrepareConfig) -> tuple[str, list[_Candidate]]:
    if source.is_file() and source.suffix.lower() == TEXT_SUFFIX:
        if not config.groove_filter.is_empty():
            raise DrumrnnError("Groove MIDI Dataset filters need a GMD folder, not a text corpus")
        table = read_labels_csv(config.labels.labels_csv) if config.labels.labels_csv else None
        candidates = _text_candidates(source, source.name, config, {
            "labels": folder_labels(source.name, config.labels, table)})
        if not candidates:
            raise DrumrnnError(f"{source} holds no words")
        return "text", candidates
    if source.is_file():
        raise DrumrnnError(f"{source} is a file; prepare takes a folder of MIDI files or "
                           "text corpora, or one text corpus (.txt)")
    if not source.is_dir():
        raise DrumrnnError(f"no such folder: {source}")
    if is_groove_folder(source):
        if config.labels.labels_csv or config.labels.style_from_folder:
            raise DrumrnnError("the Groove MIDI Dataset has its own labels; --labels and "
                               "--style-from-folder are for plain folders")
        entries = [e for e in read_info(source) if config.groove_filter.accepts(e)]
        if not entries:
            raise DrumrnnError("the filters keep no file of the Groove MIDI Dataset")
        return "groove", [_Candidate(e.path, e.path.relative_to(source).as_posix(), e.split,
                                     {"drummer": e.drummer, "style": e.style, "bpm": e.bpm,
                                      "beat_type": e.beat_type,
                                      "time_signature": e.time_signature,
                                      "labels": groove_labels({"style": e.style, "bpm": e.bpm,
                                                               "beat_type": e.beat_type,
                                                               "drummer": e.drummer})})
                          for e in entries]
    if not config.groove_filter.is_empty():
        raise DrumrnnError(f"{source} is not a Groove MIDI Dataset folder (no info.csv): "
                           "style, beat type, drummer, bpm and time signature filters need one")
    files = find_midi_files(source, MIDI_SUFFIXES + (TEXT_SUFFIX,))
    if not files:
        raise DrumrnnError(f"no .mid, .midi or .txt files under {source}")
    table = read_labels_csv(config.labels.labels_csv) if config.labels.labels_csv else None
    candidates = []
    for p in files:
        relpath = p.relative_to(source).as_posix()
        metadata = {"labels": folder_labels(relpath, config.labels, table)}
        candidates += (_text_candidates(p, relpath, config, metadata)
                       if p.suffix.lower() == TEXT_SUFFIX
                       else [_Candidate(p, relpath, None, metadata)])
    return "folder", candidates


#: The reason prefix of files skipped because of an exception no reader expects.
INTERNAL_ERROR = "internal error"


def _encode_bytes(job: tuple[bytes, DrumSource, EncodingConfig, ReadLimits, bool]
                  ) -> EncodedTrack | str:
    """A file's (or a text corpus piece's) track, or the one-line reason it is skipped;
    never raises."""
    data, source, encoding, limits, is_text = job
    try:
        if is_text:
            from drumrnn.data.text_corpus import read_words

            try:
                hits = read_words(data.decode("utf-8"))
            except DrumrnnError as exc:
                return str(exc)
        else:
            hits = parse_drum_hits(data, source, limits)
        track = encode_track(hits, encoding)
        if track.n_hits == 0:
            pitches = ", ".join(str(p) for p in sorted(track.dropped)[:8])
            return f"no hit is in kit {encoding.kit} (pitches {pitches})"
        return track
    except MidiReadError as exc:
        return str(exc)
    except Exception as exc:  # one file must never stop the run: record it, visibly
        text = str(exc).strip().splitlines()
        return f"{INTERNAL_ERROR}: {type(exc).__name__}: {text[0][:200] if text else ''}"


def _parse_all(jobs: list, workers: int, progress: bool) -> list:
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc="reading MIDI", unit="file", disable=not progress,
               leave=False)
    try:
        if workers <= 1 or len(jobs) < PARALLEL_MIN_FILES:
            results = []
            for job in jobs:
                results.append(_encode_bytes(job))
                bar.update()
            return results
        import multiprocessing

        chunk = max(1, len(jobs) // (workers * 8))
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = []
            for result in pool.imap(_encode_bytes, jobs, chunksize=chunk):
                results.append(result)
                bar.update()
            return results
    finally:
        bar.close()


def prepare(source: str | Path, out: str | Path, config: PrepareConfig = PrepareConfig(),
            workers: int | None = None, progress: bool = False) -> PrepareReport:
    """Read every MIDI file of ``source``, encode it and write a dataset folder ``out``.

    ``source`` is a folder searched recursively for .mid/.midi, or a Groove MIDI Dataset
    folder (recognized by its info.csv; its official split and ``config.groove_filter``
    apply). Bad files are skipped and listed with their reason in the manifest; when no file
    is kept, :class:`DrumrnnError` is raised and nothing is written.
    """
    source, out = Path(source), Path(out)
    kind, candidates = _candidates(source, config)
    with folder_lock(out, beside=True):  # the folder itself is replaced
        return _prepare_locked(source, out, config, kind, candidates, workers, progress)


def _prepare_locked(source: Path, out: Path, config: PrepareConfig, kind: str,
                    candidates: list[_Candidate], workers: int | None,
                    progress: bool) -> PrepareReport:
    workers = workers or os.cpu_count() or 1
    previous = _previous_tracks(out, config)

    skipped: list[dict] = []
    seen: dict[str, str] = {}
    pending: list[tuple[_Candidate, str, bytes | None]] = []
    for cand in candidates:
        try:
            data = cand.text if cand.text is not None else \
                read_bytes_checked(cand.path, config.max_file_mb)
        except MidiReadError as exc:
            skipped.append({"path": cand.relpath, "reason": str(exc)})
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            skipped.append({"path": cand.relpath, "reason": f"duplicate of {seen[digest]}"})
            continue
        seen[digest] = cand.relpath
        pending.append((cand, digest, None if digest in previous else data))

    to_parse = [(data, config.source, config.encoding, config.limits, cand.text is not None)
                for cand, _, data in pending if data]
    parsed = iter(_parse_all(to_parse, workers, progress))
    kept: dict[str, list[tuple[dict, EncodedTrack]]] = {s: [] for s in SPLITS}
    dropped_total: Counter[int] = Counter()
    for cand, digest, data in pending:
        result = next(parsed) if data else previous[digest]
        if isinstance(result, str):
            skipped.append({"path": cand.relpath, "reason": result, "sha256": digest})
            continue
        dropped_total.update(result.dropped)
        split = cand.split or _hash_split(digest, config.split_fractions)
        metadata = dict(cand.metadata)
        # labels: a plain folder's tempo is the file's own
        metadata["labels"] = {**metadata["labels"],
                              "bpm": metadata["labels"]["bpm"] or round(result.bpm, 3)}
        entry = {"path": cand.relpath, "sha256": digest, "split": split,
                 "index": len(kept[split]), "tokens": int(len(next(iter(result.sequence.values())))),
                 "hits": result.n_hits, "merged": result.merged,
                 "dropped": {str(k): v for k, v in sorted(result.dropped.items())},
                 "file_bpm": round(result.bpm, 3),
                 **({"trimmed": result.trimmed} if result.trimmed else {}), **metadata}
        kept[split].append((entry, result))
    if kind != "groove" and config.min_per_split:
        _fill_small_splits(kept, config.min_per_split)
    if not any(kept.values()):
        reasons = "; ".join(f"{s['path']}: {s['reason']}" for s in skipped[:3])
        raise DrumrnnError(f"no usable file among {len(candidates)} under {source}"
                           + (f" ({reasons}{'; ...' if len(skipped) > 3 else ''})" if reasons else ""))

    text = json.dumps(_manifest(source, kind, config, kept, skipped, dropped_total), indent=1)
    with atomic_directory(out) as tmp:
        for split, tracks in kept.items():
            _write_split(tmp / split, [t for _, t in tracks])
        (tmp / MANIFEST).write_text(text + "\n", encoding="utf-8")
    manifest = json.loads(text)
    return PrepareReport(out, manifest, parsed=len(to_parse),
                         reused=len(pending) - len(to_parse),
                         warnings=split_warnings(manifest, kind != "groove"))


def _fill_small_splits(kept: dict, minimum: int) -> None:
    """Move files from train to validation and test until each holds ``minimum`` (the
    train files with the lowest content hashes go first, so the choice is repeatable)."""
    needed = sum(max(minimum - len(kept[s]), 0) for s in ("validation", "test"))
    if not needed:
        return
    if len(kept["train"]) - needed < minimum:
        total = sum(len(t) for t in kept.values())
        raise DrumrnnError(f"{total} files cannot give each of the 3 splits {minimum} files; "
                           "lower --min-per-split or add files")
    kept["train"].sort(key=lambda pair: pair[0]["sha256"])
    for split in ("validation", "test"):
        while len(kept[split]) < minimum:
            entry, track = kept["train"].pop(0)
            kept[split].append(({**entry, "split": split}, track))
    for tracks in kept.values():  # the index of each file within its split
        for index, (entry, _) in enumerate(tracks):
            entry["index"] = index


def split_warnings(manifest: dict, hashed: bool = True) -> list[str]:
    """One line per split too small to measure on: fewer than :data:`FEW_FILES` files."""
    lines = []
    for split in ("validation", "test"):
        files = manifest["splits"][split]["files"]
        if files < FEW_FILES:
            hint = (f"; ask for more with --split (e.g. 80/10/10) or --min-per-split {FEW_FILES}"
                    if hashed else "")
            chosen = ", and the best checkpoint chosen on it," if split == "validation" else ""
            lines.append(f"the {split} split holds {files} file{'s' * (files != 1)}: figures "
                         f"measured on it{chosen} are unreliable{hint}")
    return lines


def _manifest(source: Path, kind: str, config: PrepareConfig, kept: dict,
              skipped: list[dict], dropped: Counter) -> dict:
    splits = {}
    for split, tracks in kept.items():
        splits[split] = {"files": len(tracks),
                         "tokens": sum(e["tokens"] for e, _ in tracks),
                         "hits": sum(e["hits"] for e, _ in tracks)}
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "created_by": f"drumrnn {__version__}",
        "source": {"path": str(source.resolve()), "kind": kind},
        "config": config.to_dict(),
        "splits": splits,
        "vocabulary": _vocabulary(config.encoding, kept),
        "dropped_pitches": {str(k): v for k, v in sorted(dropped.items())},
        "files": [e for tracks in kept.values() for e, _ in tracks],
        "skipped": skipped,
    }


def _vocabulary(encoding: EncodingConfig, kept: dict) -> dict:
    """Token counts per split: the step-token vocabulary, or the drum and delta vocabularies."""
    def counts(arrays: Iterable[np.ndarray]) -> dict[str, int]:
        arrays = list(arrays)
        if not arrays:
            return {}
        values, numbers = np.unique(np.concatenate(arrays), return_counts=True)
        return {str(v): int(n) for v, n in zip(values.tolist(), numbers.tolist())}

    kit = encoding.kit_obj
    if encoding.encoding == "steps":
        size = (1 << kit.n_classes) + (1 if encoding.bar_tokens else 0)
        return {"size": size, "token_counts": {
            s: counts(t.sequence["tokens"] for _, t in tracks) for s, tracks in kept.items()}}
    return {"drums": kit.n_classes + 1,
            "drum_counts": {s: counts(t.sequence["drums"] for _, t in tracks)
                            for s, tracks in kept.items()},
            "delta_counts": {s: counts(t.sequence["deltas"] for _, t in tracks)
                             for s, tracks in kept.items()},
            # The model's delta vocabulary: every delta seen in training, sorted.
            "deltas": sorted({int(d) for _, t in kept["train"]
                              for d in np.unique(t.sequence["deltas"]).tolist()})}


def _write_split(folder: Path, tracks: list[EncodedTrack]) -> None:
    folder.mkdir()
    if not tracks:
        return
    for group, starts_name in (("sequence", "track_starts"), ("hits", "hit_starts")):
        parts = [getattr(t, group) for t in tracks]
        if not parts[0]:
            continue
        lengths = [len(next(iter(p.values()))) for p in parts]
        np.save(folder / f"{starts_name}.npy", np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
        for name in parts[0]:
            np.save(folder / f"{name}.npy", np.concatenate([p[name] for p in parts]))


def _previous_tracks(out: Path, config: PrepareConfig) -> dict[str, EncodedTrack | str]:
    """Tracks (or skip reasons) of an earlier preparation in ``out`` with the same config,
    by content hash."""
    try:
        dataset = load_dataset(out)
    except DrumrnnError:
        return {}
    # labels do not change the parsed tracks
    def parsing(c: dict) -> dict:
        return {k: v for k, v in c.items() if k != "labels"}

    if parsing(dataset.manifest["config"]) != parsing(json.loads(json.dumps(config.to_dict()))):
        return {}
    try:
        splits = {name: dataset.split(name) for name in SPLITS}
    except DrumrnnError:  # a damaged earlier output: parse everything again
        return {}
    tracks: dict[str, EncodedTrack | str] = {
        s["sha256"]: s["reason"] for s in dataset.manifest["skipped"] if "sha256" in s}
    for entry in dataset.manifest["files"]:
        sequence, hits = splits[entry["split"]].track(entry["index"])
        tracks[entry["sha256"]] = EncodedTrack(
            sequence, hits, entry["hits"], entry["merged"],
            Counter({int(k): v for k, v in entry["dropped"].items()}),
            float(entry.get("file_bpm", 120.0)),
            dict(entry.get("trimmed", {})))
    return tracks


@dataclass
class Split:
    """One split of a prepared dataset: memory-mapped arrays of all its tracks."""

    name: str
    arrays: dict[str, np.ndarray]

    @property
    def n_tracks(self) -> int:
        starts = self.arrays.get("track_starts")
        return 0 if starts is None else len(starts) - 1

    def track(self, index: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Track ``index``'s sequence arrays and per-hit arrays (copies, not memory maps)."""
        if not 0 <= index < self.n_tracks:
            raise IndexError(f"{self.name} has {self.n_tracks} tracks, no track {index}")
        s, e = self.arrays["track_starts"][index:index + 2]
        sequence = {k: np.array(v[s:e]) for k, v in self.arrays.items()
                    if k not in ("track_starts", "hit_starts") and not k.startswith("hit_")}
        hits = {}
        if "hit_starts" in self.arrays:
            hs, he = self.arrays["hit_starts"][index:index + 2]
            hits = {k: np.array(v[hs:he]) for k, v in self.arrays.items()
                    if k.startswith("hit_") and k != "hit_starts"}
        return sequence, hits


@dataclass
class Dataset:
    """A prepared dataset folder: its manifest and lazily memory-mapped splits."""

    path: Path
    manifest: dict

    @property
    def encoding(self) -> EncodingConfig:
        return EncodingConfig.from_dict(self.manifest["config"]["encoding"])

    def split(self, name: str) -> Split:
        if name not in SPLITS:
            raise DrumrnnError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)}")
        folder = self.path / name
        arrays = {}
        for p in sorted(folder.glob("*.npy")):
            try:
                arrays[p.stem] = np.load(p, mmap_mode="r", allow_pickle=False)
            except Exception as exc:  # numpy raises several types on damaged headers
                text = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
                raise DrumrnnError(f"{p}: damaged array file ({text})") from None
        check_split(name, arrays, self.manifest, folder)
        return Split(name, arrays)


def load_dataset(path: str | Path) -> Dataset:
    """Open a prepared dataset folder, checking its manifest's format and version."""
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise DrumrnnError(f"{path} is not a prepared dataset (no {MANIFEST}); "
                           "run drumrnn prepare first")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DrumrnnError(f"{manifest_path}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DrumrnnError(f"{manifest_path} is not a drumrnn dataset manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DrumrnnError(f"{path}: dataset format version {manifest.get('format_version')} "
                           f"is not supported (this drumrnn reads version {FORMAT_VERSION}); "
                           "prepare it again")
    check_manifest(manifest, manifest_path)
    return Dataset(path, manifest)
