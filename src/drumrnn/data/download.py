"""Download the Groove MIDI Dataset's official MIDI-only archive, or the Lakh MIDI Dataset."""

from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

from drumrnn.core.atomic import atomic_directory
from drumrnn.core.errors import DrumrnnError
from drumrnn.data.groove import INFO_CSV

GROOVE_URL = ("https://storage.googleapis.com/magentadata/datasets/groove/"
              "groove-v1.0.0-midionly.zip")
GROOVE_MIDI_FILES = 1150
LAKH_URL = "http://hog.ee.columbia.edu/craffel/lmd/lmd_full.tar.gz"
LAKH_ARCHIVE = "lmd_full.tar.gz"


def download_groove(dest: str | Path = "data", url: str = GROOVE_URL,
                    progress: bool = False, expected_files: int | None = GROOVE_MIDI_FILES
                    ) -> Path:
    """Download, check and unpack the GMD archive; returns the folder holding info.csv.

    The archive is checked (a readable zip whose members stay inside the destination, with
    an info.csv and ``expected_files`` MIDI files) before anything is unpacked; the dataset
    folder appears complete or not at all.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / "groove"
    if (target / INFO_CSV).is_file():
        return target
    with _downloaded(url, dest, ".groove-", ".zip", progress) as archive:
        root = _check_archive(archive, expected_files)
        with atomic_directory(target) as tmp, zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp / "unpacked")
            unpacked = tmp / "unpacked" / root if root else tmp / "unpacked"
            for item in unpacked.iterdir():
                shutil.move(str(item), tmp / item.name)
            shutil.rmtree(tmp / "unpacked")
    return target


@contextlib.contextmanager
def _downloaded(url: str, dest: Path, prefix: str, suffix: str, progress: bool
                ) -> Iterator[Path]:
    """``url`` fetched into a hidden temporary file in ``dest``, removed afterwards unless
    the caller has moved it to its final name."""
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=dest)
    os.close(fd)
    archive = Path(name)
    try:
        _fetch(url, archive, progress)
        yield archive
    finally:
        archive.unlink(missing_ok=True)


def _fetch(url: str, path: Path, progress: bool) -> None:
    from tqdm import tqdm

    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(path, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc="downloading",
                      disable=not progress) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
    except OSError as exc:
        raise DrumrnnError(f"download of {url} failed: {getattr(exc, 'reason', exc)}") from None


def _check_archive(path: Path, expected_files: int | None) -> str:
    """Validate the zip; return the folder inside it that holds info.csv ('' for the top)."""
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise DrumrnnError(f"downloaded archive is not a valid zip: {exc}") from None
    if bad:
        raise DrumrnnError(f"downloaded archive is damaged (bad CRC in {bad})")
    if any(n.startswith("/") or ".." in Path(n).parts for n in names):
        raise DrumrnnError("downloaded archive holds paths outside its folder; refusing it")
    infos = [n for n in names if Path(n).name == INFO_CSV]
    if len(infos) != 1:
        raise DrumrnnError(f"downloaded archive has no single {INFO_CSV}; is it the GMD?")
    midi = [n for n in names if n.lower().endswith((".mid", ".midi"))]
    if expected_files is not None and len(midi) != expected_files:
        raise DrumrnnError(f"downloaded archive has {len(midi)} MIDI files, "
                           f"expected {expected_files}")
    return str(Path(infos[0]).parent) if Path(infos[0]).parent != Path(".") else ""


def download_lakh(dest: str | Path = "data", url: str = LAKH_URL, progress: bool = False) -> Path:
    """Download the Lakh MIDI Dataset's full archive (``lmd_full.tar.gz``, about 1.6 GB);
    returns its path.

    The archive is kept packed: ``drumrnn prepare`` reads it as it is. It is checked to be
    a gzip tar holding MIDI files before it takes its final name, so the file appears only
    when complete; an archive already there is returned without downloading.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / LAKH_ARCHIVE
    if target.is_file():
        return target
    with _downloaded(url, dest, ".lmd-", ".tar.gz", progress) as archive:
        _check_tar(archive)
        os.replace(archive, target)
    return target


def _check_tar(path: Path) -> None:
    """A gzip tar whose members stay inside it, with a MIDI file among the first ones."""
    try:
        with tarfile.open(path, "r|gz") as archive:
            for member in archive:
                if member.name.startswith("/") or ".." in Path(member.name).parts:
                    raise DrumrnnError("downloaded archive holds paths outside its folder")
                if member.isfile() and member.name.lower().endswith((".mid", ".midi")):
                    return
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DrumrnnError(f"downloaded file is not a .tar.gz archive ({exc})") from None
    raise DrumrnnError("downloaded archive holds no MIDI file")
