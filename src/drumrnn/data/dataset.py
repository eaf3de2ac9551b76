"""Prepared datasets: many MIDI files -> token arrays per split, with a JSON manifest.

Layout of a prepared folder::

    manifest.json                   format version, configs, counts, shards, vocabulary,
                                    duplicates, files, skipped files
    prepare.json                    the source and config it was prepared from
    train/00000/tokens.npy ...      a shard: one .npy per array (memory-mappable), its
                                    tracks concatenated (see drumrnn.data.shards)
    train/00000/track_starts.npy    int64 offsets: track i is [starts[i], starts[i+1])
    train/00000/hit_starts.npy      (steps) the same for the per-hit arrays

A small corpus is one shard per split; a large one is cut into shards of a few hundred MB,
so that preparing and reading never hold the corpus in memory. The folder is written
atomically; a crashed run is resumed from its finished shards. On a re-run, files whose
content hash is unchanged are taken from the previous output instead of being parsed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drumrnn import __version__
from drumrnn.core.atomic import replace_directory, write_text_atomic
from drumrnn.core.errors import DrumrnnError, MidiReadError
from drumrnn.core.lock import folder_lock
from drumrnn.data.dataset_check import check_manifest, check_split
from drumrnn.data.encoding import EncodedTrack, EncodingConfig, encode_track
from drumrnn.data.groove import SPLITS, GrooveFilter, is_groove_folder, read_info
from drumrnn.data.labels import LabelSource, folder_labels, groove_labels, read_labels_csv
from drumrnn.data.limits import ReadLimits
from drumrnn.data.midi_read import (
    MAX_FILE_MB,
    DrumSource,
    check_midi_bytes,
    parse_drum_hits,
    read_bytes_checked,
)
from drumrnn.data.shards import (
    SHARD_BYTES,
    SHARD_INFO,
    ShardWriter,
    concatenate_shards,
    finished_shards,
    open_shard,
)

FORMAT = "drumrnn-dataset"
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
STAGING_INFO = "prepare.json"
MIDI_SUFFIXES = (".mid", ".midi")
TEXT_SUFFIX = ".txt"  # LSTMetallica's text corpus (see drumrnn.data.text_corpus)
#: A split with fewer files than this gets a warning: figures measured on it are noise.
FEW_FILES = 5
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
#: Below this many files to parse, worker processes cost more than they save.
PARALLEL_MIN_FILES = 200
#: Files read and encoded at a time: memory holds one batch of file contents, not the corpus.
PREPARE_BATCH = 2048


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
        hold at least this many; 0 = the hash split as it falls. (The kept tracks are then
        held in memory until the end: it is meant for small corpora.)
    skip_near_duplicates : bool
        Skip a file whose drum tokens (after quantization) repeat an earlier file's, as the
        same song in several MIDI versions does in the Lakh MIDI Dataset; by default such
        files are kept and counted. Never applied to the GMD's official split.
    """

    encoding: EncodingConfig = field(default_factory=EncodingConfig)
    source: DrumSource = field(default_factory=DrumSource)
    groove_filter: GrooveFilter = field(default_factory=GrooveFilter)
    split_fractions: tuple[float, float, float] = (0.9, 0.05, 0.05)
    max_file_mb: float = MAX_FILE_MB
    labels: LabelSource = field(default_factory=LabelSource)
    limits: ReadLimits = field(default_factory=ReadLimits)
    min_per_split: int = 0
    skip_near_duplicates: bool = False

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
                "min_per_split": self.min_per_split,
                "skip_near_duplicates": self.skip_near_duplicates}


@dataclass
class _Candidate:
    path: Path | None  # None: a member of an archive, ``data`` or ``error`` already set
    relpath: str
    split: str | None  # None: decided by content hash
    metadata: dict
    data: bytes | None = None
    error: str | None = None
    text: bytes | None = None  # a piece of a text corpus (its words), not a MIDI file


@dataclass
class PrepareReport:
    """What :func:`prepare` did: counts per split, shards, duplicates, skipped files (how
    many, and why), files parsed and reused from the previous output. ``manifest`` reads the
    written manifest (with every file: as large as the corpus) when asked for."""

    out: Path
    parsed: int
    reused: int
    splits: dict
    shards: dict
    duplicates: dict
    skipped: int
    skip_reasons: Counter
    trimmed: Counter = field(default_factory=Counter)
    max_bars: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def manifest(self) -> dict:
        return load_dataset(self.out).manifest

    def summary(self) -> str:
        parts = [f"{name} {s['files']} files / {s['tokens']} tokens / {s['hits']} hits"
                 for name, s in self.splits.items()]
        line = f"prepared {self.out}: " + "; ".join(parts)
        duplicates = self.duplicates
        if duplicates["same_bytes"] or duplicates["same_tokens"]:
            line += (f"; duplicates: {duplicates['same_bytes']} same bytes, "
                     f"{duplicates['same_tokens']} same drum tokens"
                     + (f" ({duplicates['same_tokens_kept']} kept)"
                        if duplicates["same_tokens_kept"] else ""))
        if self.skipped:
            shown = ", ".join(f"{n} {r}" for r, n in self.skip_reasons.most_common(3))
            line += f"; skipped {self.skipped} files ({shown}; see manifest.json)"
            internal = self.skip_reasons.get(INTERNAL_ERROR, 0)
            if internal:
                line += f"; {internal} internal errors (a drumrnn bug: please report them)"
        if self.trimmed.get("shortened") or self.trimmed.get("cut"):
            line += (f"; shortened long silences in {self.trimmed.get('shortened', 0)} files, "
                     f"cut {self.trimmed.get('cut', 0)} files at {self.max_bars} bars")
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
                       dict(metadata), text=piece.encode("utf-8"))
            for k, piece in enumerate(pieces)]


def _candidates(source: Path, config: PrepareConfig) -> tuple[str, Iterator[_Candidate]]:
    if source.is_file() and source.suffix.lower() == TEXT_SUFFIX:
        if not config.groove_filter.is_empty():
            raise DrumrnnError("Groove MIDI Dataset filters need a GMD folder, not a text corpus")
        table = read_labels_csv(config.labels.labels_csv) if config.labels.labels_csv else None
        candidates = _text_candidates(source, source.name, config, {
            "labels": folder_labels(source.name, config.labels, table)})
        if not candidates:
            raise DrumrnnError(f"{source} holds no words")
        return "text", iter(candidates)
    if source.is_file():
        if is_archive(source):
            if not config.groove_filter.is_empty():
                raise DrumrnnError("style, beat type, drummer, bpm and time signature filters "
                                   "need a Groove MIDI Dataset folder, not an archive")
            return "archive", _labelled(_archive_candidates(source, config.max_file_mb), config)
        raise DrumrnnError(f"{source} is a file; prepare takes a folder of MIDI files or "
                           "text corpora, a .tar.gz of MIDI files, or one text corpus (.txt)")
    if not source.is_dir():
        raise DrumrnnError(f"no such folder: {source}")
    if is_groove_folder(source):
        if config.labels.labels_csv or config.labels.style_from_folder:
            raise DrumrnnError("the Groove MIDI Dataset has its own labels; --labels and "
                               "--style-from-folder are for plain folders")
        entries = [e for e in read_info(source) if config.groove_filter.accepts(e)]
        if not entries:
            raise DrumrnnError("the filters keep no file of the Groove MIDI Dataset")
        return "groove", iter([_Candidate(e.path, e.path.relative_to(source).as_posix(), e.split,
                                          {"drummer": e.drummer, "style": e.style, "bpm": e.bpm,
                                           "beat_type": e.beat_type,
                                           "time_signature": e.time_signature,
                                           "labels": groove_labels({
                                               "style": e.style, "bpm": e.bpm,
                                               "beat_type": e.beat_type,
                                               "drummer": e.drummer})})
                               for e in entries])
    if not config.groove_filter.is_empty():
        raise DrumrnnError(f"{source} is not a Groove MIDI Dataset folder (no info.csv): "
                           "style, beat type, drummer, bpm and time signature filters need one")
    files = find_midi_files(source, MIDI_SUFFIXES + (TEXT_SUFFIX,))
    if not files:
        raise DrumrnnError(f"no .mid, .midi or .txt files under {source}")
    return "folder", _labelled(_folder_candidates(source, files, config), config)


def _folder_candidates(source: Path, files: list[Path], config: PrepareConfig
                       ) -> Iterator[_Candidate]:
    for p in files:
        relpath = p.relative_to(source).as_posix()
        if p.suffix.lower() == TEXT_SUFFIX:
            yield from _text_candidates(p, relpath, config, {})
        else:
            yield _Candidate(p, relpath, None, {})


def _labelled(candidates: Iterator[_Candidate], config: PrepareConfig) -> Iterator[_Candidate]:
    """Plain folders' and archives' files with their labels (from --labels or the folder)."""
    table = read_labels_csv(config.labels.labels_csv) if config.labels.labels_csv else None
    for cand in candidates:
        cand.metadata["labels"] = folder_labels(cand.relpath, config.labels, table)
        yield cand


def is_archive(path: Path) -> bool:
    """Whether ``path`` names a tar archive (plain or compressed) that prepare can read."""
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _archive_candidates(path: Path, max_file_mb: float) -> Iterator[_Candidate]:
    """The MIDI members of a tar archive, read one at a time in archive order."""
    found = False
    try:
        with tarfile.open(path, "r|*") as archive:
            for member in archive:
                name = member.name
                if (not member.isfile() or Path(name).suffix.lower() not in MIDI_SUFFIXES
                        or Path(name).name.startswith(".")):
                    continue
                found = True
                if member.size > max_file_mb * 1e6:
                    yield _Candidate(None, name, None, {}, error=(
                        f"file is {member.size / 1e6:.1f} MB, over the {max_file_mb:g} MB limit"))
                    continue
                data = archive.extractfile(member).read()
                try:
                    yield _Candidate(None, name, None, {}, data=check_midi_bytes(data))
                except MidiReadError as exc:
                    yield _Candidate(None, name, None, {}, error=str(exc))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DrumrnnError(f"{path}: unreadable archive ({exc})") from None
    if not found:
        raise DrumrnnError(f"no .mid or .midi files in {path}")


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


class _Parser:
    """Encodes batches of files, in worker processes when a batch is big enough."""

    def __init__(self, workers: int):
        self.workers = workers
        self.pool = None

    def __call__(self, jobs: list) -> list:
        if self.workers <= 1 or len(jobs) < PARALLEL_MIN_FILES:
            return [_encode_bytes(job) for job in jobs]
        if self.pool is None:
            import multiprocessing

            self.pool = multiprocessing.get_context("fork").Pool(self.workers)
        return self.pool.map(_encode_bytes, jobs, chunksize=max(1, len(jobs) // (self.workers * 8)))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()


def _batches(items: Iterator, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _token_key(track: EncodedTrack, encoding: EncodingConfig) -> str:
    """Near-duplicate key: the drum tokens after quantization (steps: the step tokens;
    events: the drum and delta tokens), ignoring velocities and microtiming."""
    names = ("tokens",) if encoding.encoding == "steps" else ("drums", "deltas")
    digest = hashlib.sha1()
    for name in names:
        digest.update(np.ascontiguousarray(track.sequence[name], dtype=np.int64).tobytes())
    return digest.hexdigest()


class _Vocabulary:
    """Token counts per split, accumulated track by track."""

    def __init__(self, encoding: EncodingConfig):
        self.encoding = encoding
        self.counts: dict[str, dict[str, Counter]] = {}

    def add(self, split: str, track: EncodedTrack) -> None:
        names = ("tokens",) if self.encoding.encoding == "steps" else ("drums", "deltas")
        for name in names:
            values, numbers = np.unique(track.sequence[name], return_counts=True)
            self.counts.setdefault(name, {s: Counter() for s in SPLITS})[split].update(
                dict(zip(values.tolist(), numbers.tolist())))

    def result(self) -> dict:
        def as_json(counter: Counter) -> dict[str, int]:
            return {str(v): int(counter[v]) for v in sorted(counter)}

        kit = self.encoding.kit_obj
        empty = {s: Counter() for s in SPLITS}
        if self.encoding.encoding == "steps":
            size = (1 << kit.n_classes) + (1 if self.encoding.bar_tokens else 0)
            return {"size": size, "token_counts": {
                s: as_json(c) for s, c in self.counts.get("tokens", empty).items()}}
        deltas = self.counts.get("deltas", empty)
        return {"drums": kit.n_classes + 1,
                "drum_counts": {s: as_json(c) for s, c in self.counts.get("drums", empty).items()},
                "delta_counts": {s: as_json(c) for s, c in deltas.items()},
                # The model's delta vocabulary: every delta seen in training, sorted.
                "deltas": sorted(int(d) for d in deltas["train"])}


def prepare(source: str | Path, out: str | Path, config: PrepareConfig = PrepareConfig(),
            workers: int | None = None, progress: bool = False,
            shard_bytes: int = SHARD_BYTES) -> PrepareReport:
    """Read every MIDI file of ``source``, encode it and write a dataset folder ``out``.

    ``source`` is a folder searched recursively for .mid/.midi, a tar archive of them
    (``.tar.gz``, as the Lakh MIDI Dataset comes), or a Groove MIDI Dataset folder (recognized
    by its info.csv; its official split and ``config.groove_filter`` apply). Files are read,
    encoded and written in batches, so memory does not grow with the corpus; each split's
    arrays are cut into shards of about ``shard_bytes``.

    Bad files are skipped and listed with their reason in the manifest, and so are files
    whose bytes repeat an earlier file's; files whose drum tokens repeat an earlier file's are
    counted (and skipped with ``config.skip_near_duplicates``). When no file is kept,
    :class:`DrumrnnError` is raised and nothing is written. The work goes to a staging
    folder beside ``out``: a run that crashes keeps its finished shards there, and the next
    run with the same source and config continues from them; files already in ``out`` (same
    config) are not parsed again.
    """
    source, out = Path(source), Path(out)
    kind, candidates = _candidates(source, config)
    with folder_lock(out, beside=True):  # the folder itself is replaced
        try:
            return _prepare_locked(source, out, config, kind, candidates, workers, progress,
                                   shard_bytes)
        except (OSError, DrumrnnError) as exc:
            # a full or read-only disk, an unreadable source: a failure, not a crash to
            # resume from (a killed or interrupted run keeps its staging folder)
            shutil.rmtree(_staging_folder(out), ignore_errors=True)
            if isinstance(exc, DrumrnnError):
                raise
            raise DrumrnnError(f"cannot write {out}: {exc.strerror or exc}") from None


def _staging_folder(out: Path) -> Path:
    return out.parent / f".{out.name}.partial"


def _prepare_locked(source: Path, out: Path, config: PrepareConfig, kind: str,
                    candidates: Iterator[_Candidate], workers: int | None, progress: bool,
                    shard_bytes: int) -> PrepareReport:
    workers = workers or os.cpu_count() or 1
    staging = _staging_folder(out)
    run = _Staging(staging, source, config, shard_bytes)
    previous = _PreviousOutput(out, config)
    vocabulary = _Vocabulary(config.encoding)
    dropped_total: Counter[int] = Counter()
    for entry in run.resumed:
        vocabulary.add(entry["split"], run.read_track(entry))
        dropped_total.update({int(k): v for k, v in entry["dropped"].items()})
    run.resumed = []
    parser = _Parser(workers)
    held = ({s: [] for s in SPLITS} if config.min_per_split and kind != "groove" and not run.kept
            else None)
    bar = _progress_bar(progress)
    n_candidates = parsed_count = reused = 0
    try:
        for batch in _batches(candidates, PREPARE_BATCH):
            n_candidates += len(batch)
            bar.update(len(batch))
            pending = []
            for cand in batch:
                if cand.relpath in run.done_paths:
                    continue
                if cand.text is not None:
                    cand.data = cand.text
                if cand.data is None and cand.error is None:
                    try:
                        cand.data = read_bytes_checked(cand.path, config.max_file_mb)
                    except MidiReadError as exc:
                        cand.error = str(exc)
                if cand.error is not None:
                    run.skip({"path": cand.relpath, "reason": cand.error})
                    continue
                digest = hashlib.sha256(cand.data).hexdigest()
                if digest in run.seen:
                    run.skip({"path": cand.relpath, "reason": f"duplicate of {run.seen[digest]}",
                              "sha256": digest, "duplicate": "bytes"})
                    continue
                run.seen[digest] = cand.relpath
                cached = previous.get(digest)
                if cached is not None:
                    cand.data = None
                pending.append((cand, digest, cached))
            to_parse = [(cand.data, config.source, config.encoding, config.limits,
                         cand.text is not None) for cand, _, cached in pending if cached is None]
            parsed = iter(parser(to_parse))
            parsed_count += len(to_parse)
            for cand, digest, cached in pending:
                result = next(parsed) if cached is None else cached
                reused += cached is not None
                cand.data = None
                if isinstance(result, str):
                    run.skip({"path": cand.relpath, "reason": result, "sha256": digest})
                    continue
                key = _token_key(result, config.encoding)
                if (key in run.token_keys and kind != "groove"
                        and config.skip_near_duplicates):
                    run.skip({"path": cand.relpath, "sha256": digest, "duplicate": "tokens",
                              "reason": f"near-duplicate of {run.token_keys[key]} "
                                        "(same drum tokens after quantization)"})
                    continue
                near = run.token_keys.setdefault(key, cand.relpath)
                split = cand.split or _hash_split(digest, config.split_fractions)
                metadata = dict(cand.metadata)
                # labels: a plain folder's tempo is the file's own
                metadata["labels"] = {**metadata["labels"],
                                      "bpm": metadata["labels"]["bpm"] or round(result.bpm, 3)}
                entry = {"path": cand.relpath, "sha256": digest, "split": split,
                         "tokens": int(len(next(iter(result.sequence.values())))),
                         "hits": result.n_hits, "merged": result.merged,
                         "dropped": {str(k): v for k, v in sorted(result.dropped.items())},
                         "file_bpm": round(result.bpm, 3), "token_key": key,
                         **({"trimmed": result.trimmed} if result.trimmed else {}), **metadata}
                if near != cand.relpath:
                    entry["near_duplicate_of"] = near
                if held is not None:
                    held[split].append((entry, result))
                    continue
                dropped_total.update(result.dropped)
                vocabulary.add(split, result)
                run.add(split, entry, result)
        if held is not None:  # --min-per-split: splits settled once every file is known
            _fill_small_splits(held, config.min_per_split)
            for split, tracks in held.items():
                for entry, result in tracks:
                    dropped_total.update(result.dropped)
                    vocabulary.add(split, result)
                    run.add(split, entry, result)
        run.close()
    finally:
        bar.close()
        parser.close()
    if not run.kept:
        reasons = "; ".join(f"{s['path']}: {s['reason']}" for s in run.first_skips[:3])
        shutil.rmtree(staging, ignore_errors=True)
        raise DrumrnnError(f"no usable file among {n_candidates} under {source}"
                           + (f" ({reasons}{'; ...' if run.skipped > 3 else ''})"
                              if reasons else ""))
    run.write_manifest(kind, vocabulary.result(), dropped_total)
    replace_directory(staging, out)
    summary = run.summary()
    return PrepareReport(out, parsed=parsed_count, reused=reused, skipped=run.skipped,
                         skip_reasons=run.skip_reasons, trimmed=run.trimmed,
                         max_bars=config.limits.max_bars,
                         warnings=split_warnings(summary, kind != "groove"), **summary)


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


def _progress_bar(progress: bool):
    from tqdm import tqdm

    return tqdm(desc="reading MIDI", unit="file", disable=not progress, leave=False)


class _Staging:
    """The folder a preparation writes into: finished shards, and running totals of what
    they hold (the entries themselves stay on disk, in each shard's shard.json)."""

    def __init__(self, folder: Path, source: Path, config: PrepareConfig, shard_bytes: int):
        self.folder = folder
        identity = {"source": str(source.resolve()), "config": config.to_dict()}
        info = folder / STAGING_INFO
        try:
            same = json.loads(info.read_text(encoding="utf-8")) == json.loads(json.dumps(identity))
        except (OSError, ValueError):
            same = False
        if not same:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            write_text_atomic(info, json.dumps(identity))
        self.source, self.config = source, config
        self.totals = {s: {"files": 0, "tokens": 0, "hits": 0} for s in SPLITS}
        self.duplicates: Counter[str] = Counter()
        self.trimmed: Counter[str] = Counter()
        self.skip_reasons: Counter[str] = Counter()
        self.first_skips: list[dict] = []
        self.unsaved_skips: list[dict] = []
        self.done_paths: set[str] = set()
        self.seen: dict[str, str] = {}
        self.token_keys: dict[str, str] = {}
        self.next_order = 0
        self.shards: dict[str, list[dict]] = {s: [] for s in SPLITS}
        #: entries of the shards a crashed run finished (their tracks still count)
        self.resumed: list[dict] = []
        for split in SPLITS:
            for shard in finished_shards(folder / split):
                self.shards[split].append({k: shard[k] for k in ("name", "tracks", "bytes")})
                for entry in shard["entries"]:
                    self._count(entry)
                    self.resumed.append(entry)
                for record in shard.get("skipped", []):
                    self._count_skip(record)
        self.writers = {s: ShardWriter(folder / s, shard_bytes, first=len(self.shards[s]))
                        for s in SPLITS}
        self.readers = {s: _ShardReader(folder / s, self.shards[s]) for s in SPLITS}

    @property
    def kept(self) -> int:
        return sum(t["files"] for t in self.totals.values())

    @property
    def skipped(self) -> int:
        return sum(self.skip_reasons.values())

    def _count(self, entry: dict) -> None:
        totals = self.totals[entry["split"]]
        totals["files"] += 1
        totals["tokens"] += entry["tokens"]
        totals["hits"] += entry["hits"]
        self.done_paths.add(entry["path"])
        self.seen[entry["sha256"]] = entry["path"]
        self.token_keys.setdefault(entry["token_key"], entry["path"])
        self.next_order = max(self.next_order, entry["order"] + 1)
        self.duplicates["kept"] += "near_duplicate_of" in entry
        trimmed = entry.get("trimmed", {})
        self.trimmed["shortened"] += bool(trimmed.get("silent_bars"))
        self.trimmed["cut"] += bool(trimmed.get("cut_hits"))

    def _count_skip(self, record: dict) -> None:
        self.skip_reasons[record["reason"].split(";")[0].split(":")[0].split(" of ")[0]] += 1
        if len(self.first_skips) < 4:
            self.first_skips.append(record)
        self.done_paths.add(record["path"])
        if "sha256" in record and record.get("duplicate") != "bytes":
            self.seen.setdefault(record["sha256"], record["path"])
        if "duplicate" in record:
            self.duplicates[record["duplicate"]] += 1

    def skip(self, record: dict) -> None:
        self._count_skip(record)
        self.unsaved_skips.append(record)

    def add(self, split: str, entry: dict, track: EncodedTrack) -> None:
        entry["index"] = self.totals[split]["files"]
        entry["order"] = self.next_order
        self._count(entry)
        writer = self.writers[split]
        groups = {"track_starts": track.sequence}
        if track.hits:
            groups["hit_starts"] = track.hits
        writer.add(groups, entry)
        if writer.full:
            self._flush(split)

    def _flush(self, split: str) -> None:
        # skips ride with the next shard to finish, so that a resumed run knows them
        described = self.writers[split].flush({"skipped": self.unsaved_skips})
        if described is not None:
            self.shards[split].append(described)
            self.unsaved_skips = []

    def close(self) -> None:
        for split in SPLITS:
            self._flush(split)
        if self.unsaved_skips:  # skips after the last track: keep them in the last shard
            for split in reversed(SPLITS):
                if self.shards[split]:
                    path = self.folder / split / self.shards[split][-1]["name"] / SHARD_INFO
                    info = json.loads(path.read_text(encoding="utf-8"))
                    info["skipped"] = info.get("skipped", []) + self.unsaved_skips
                    write_text_atomic(path, json.dumps(info) + "\n")
                    self.unsaved_skips = []
                    break

    def read_track(self, entry: dict) -> EncodedTrack:
        return self.readers[entry["split"]].track(entry)

    def summary(self) -> dict:
        """The manifest's fields other than the file lists."""
        return {"splits": self.totals, "shards": self.shards,
                "duplicates": {"same_bytes": self.duplicates["bytes"],
                               "same_tokens": self.duplicates["tokens"] + self.duplicates["kept"],
                               "same_tokens_kept": self.duplicates["kept"]}}

    def write_manifest(self, kind: str, vocabulary: dict, dropped: Counter) -> None:
        """manifest.json, its file lists streamed from the shards one at a time."""
        head = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "created_by": f"drumrnn {__version__}",
                "source": {"path": str(self.source.resolve()), "kind": kind},
                "config": self.config.to_dict(), **self.summary(), "vocabulary": vocabulary,
                "dropped_pitches": {str(k): v for k, v in sorted(dropped.items())}}
        with open(self.folder / MANIFEST, "w", encoding="utf-8") as out:
            out.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}"
                                           for k, v in head.items()))
            for key in ("files", "skipped"):
                out.write(f',\n"{key}": [')
                first = True
                for split in SPLITS:
                    for shard in finished_shards(self.folder / split):
                        records = (shard["entries"] if key == "files"
                                   else shard.get("skipped", []))
                        for record in records:
                            record = {k: v for k, v in record.items() if k != "order"}
                            out.write(("\n" if first else ",\n") + json.dumps(record))
                            first = False
                out.write("\n]")
            out.write("\n}\n")


class _ShardReader:
    """Reads kept tracks back from a split's finished shards (each opened once)."""

    def __init__(self, folder: Path, shards: list[dict]):
        self.folder, self.shards = folder, shards
        self.opened: dict[str, Split] = {}

    def track(self, entry: dict) -> EncodedTrack:
        index = entry["index"]
        for shard in self.shards:
            if index < shard["tracks"]:
                name = shard["name"]
                if name not in self.opened:
                    self.opened[name] = Split(entry["split"], open_shard(self.folder / name))
                sequence, hits = self.opened[name].track(index)
                return EncodedTrack(sequence, hits, entry["hits"], entry["merged"],
                                    Counter({int(k): v for k, v in entry["dropped"].items()}),
                                    float(entry.get("file_bpm", 120.0)),
                                    dict(entry.get("trimmed", {})))
            index -= shard["tracks"]
        raise DrumrnnError(f"{self.folder}: no shard holds track {entry['index']}")


def _parsing(config: dict) -> dict:
    """The settings that decide the parsed tracks (labels do not)."""
    return {k: v for k, v in config.items() if k != "labels"}


class _PreviousOutput:
    """An earlier preparation in ``out`` with the same config: its tracks and skip reasons
    by content hash, read on demand (from its shards' shard.json, not its manifest)."""

    def __init__(self, out: Path, config: PrepareConfig):
        self.by_hash: dict[str, tuple] = {}
        self.reasons: dict[str, str] = {}
        try:
            identity = json.loads((out / STAGING_INFO).read_text(encoding="utf-8"))
            same = _parsing(identity["config"]) == _parsing(json.loads(json.dumps(
                config.to_dict())))
        except (OSError, ValueError, KeyError, TypeError):
            return
        if not same or not (out / MANIFEST).is_file():
            return
        shards = {s: [] for s in SPLITS}
        for split in SPLITS:
            for shard in finished_shards(out / split, clean=False):
                shards[split].append({k: shard[k] for k in ("name", "tracks")})
                for e in shard["entries"]:
                    self.by_hash[e["sha256"]] = (split, e["index"], e["hits"], e["merged"],
                                                 e["dropped"], e.get("file_bpm", 120.0),
                                                 e.get("trimmed", {}))
                self.reasons.update((r["sha256"], r["reason"]) for r in shard.get("skipped", [])
                                    if "sha256" in r and "duplicate" not in r)
        self.readers = {s: _ShardReader(out / s, shards[s]) for s in SPLITS}

    def get(self, digest: str) -> EncodedTrack | str | None:
        if digest in self.reasons:
            return self.reasons[digest]
        found = self.by_hash.get(digest)
        if found is None:
            return None
        split, index, hits, merged, dropped, bpm, trimmed = found
        try:
            return self.readers[split].track({"split": split, "index": index, "hits": hits,
                                              "merged": merged, "dropped": dropped,
                                              "file_bpm": bpm, "trimmed": trimmed})
        except DrumrnnError:  # a damaged earlier output: parse the file again
            return None


@dataclass
class Split:
    """One split of a prepared dataset: memory-mapped arrays of all its tracks.

    With one shard, ``arrays`` are its memory maps; with several, the offsets arrays are
    joined in memory and the others are :class:`~drumrnn.data.shards.ShardedArray` views.
    """

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
                    if not k.endswith("_starts") and not k.startswith("hit_")}
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
        shards = self.shards(name)
        for shard, arrays in zip(self.manifest["shards"][name], shards):
            # each shard checked as a split of its own tracks
            one = {**self.manifest, "splits": {**self.manifest["splits"],
                                               name: {"files": shard["tracks"]}}}
            check_split(name, arrays, one, self.path / name / shard["name"])
        return Split(name, concatenate_shards(shards) if shards else {})

    def shards(self, name: str) -> list[dict[str, np.ndarray]]:
        """The memory-mapped arrays of each shard of split ``name``, in order."""
        return [open_shard(self.path / name / shard["name"])
                for shard in self.manifest["shards"][name]]


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
    if not isinstance(manifest.get("shards"), dict) or set(manifest["shards"]) != set(SPLITS):
        raise DrumrnnError(f"{manifest_path} lacks its shards; prepare it again")
    return Dataset(path, manifest)
