"""Atomic writes: an artifact is either complete and on disk, or absent; never half-written.

Every writer stages its bytes in a temporary file (or folder) beside the target, named
``.TARGET.PID-XXXXXXXX.tmp``, flushes it to disk (fsync), then renames it into place and
flushes the folder. A failure (full disk, read-only filesystem...) removes the staged file
and raises a one-line :class:`DrumrnnError`. A process killed while writing cannot clean
up: the next writer into the same folder removes temporary files whose PID is no longer
running (only names of this pattern, only in the folder it writes).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from drumrnn.core.errors import DrumrnnError

# .NAME.PID-RANDOM.SUFFIX, RANDOM as tempfile draws it (8 characters)
_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)-[a-z0-9_]{8}\.[A-Za-z0-9]+$")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}-"


def _failure(path: Path, exc: OSError) -> DrumrnnError:
    return DrumrnnError(f"cannot write {path}: {exc.strerror or exc}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temp_files(folder: str | Path) -> list[Path]:
    """Remove the temporary files and folders of dead drumrnn writers in ``folder``;
    returns what was removed. Never raises.

    A writer killed while swapping folders may have moved the previous folder aside
    (``.NAME.PID-XXXXXXXX.old/previous``) without putting the new one in place: that
    previous folder is moved back to ``NAME`` rather than removed.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if not match or _alive(int(match["pid"])):
            continue
        path = Path(entry.path)
        with contextlib.suppress(OSError):
            target = path.parent / match["target"]
            if path.suffix == ".old" and (path / "previous").is_dir() and not target.exists():
                os.replace(path / "previous", target)
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


def sync_file(path: str | Path) -> None:
    """Flush a written file's bytes to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename) to disk, where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on folders; the rename still happened
        pass
    finally:
        os.close(fd)


def temp_file_beside(path: str | Path, suffix: str = ".tmp") -> Path:
    """A new empty file in ``path``'s folder, with the permissions a normal file would get.

    Stale temporary files of dead writers in that folder are removed first.
    """
    path = Path(path)
    remove_stale_temp_files(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=_prefix(path), suffix=suffix, dir=path.parent)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would make the result private
    except OSError as exc:
        raise _failure(path, exc) from None
    return Path(tmp)


def commit_file(tmp: str | Path, path: str | Path) -> None:
    """Flush the staged file ``tmp`` to disk and rename it to ``path``; OSError on failure.

    An empty staged file is refused: no drumrnn artifact is empty, and a writer that
    silently failed leaves one.
    """
    tmp, path = Path(tmp), Path(path)
    if tmp.stat().st_size == 0:
        raise OSError(f"nothing was written to {tmp.name}")
    sync_file(tmp)
    os.replace(tmp, path)
    _sync_folder(path.parent)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is flushed and renamed to
    ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was; an
    OSError (full disk, read-only filesystem...) becomes a one-line :class:`DrumrnnError`.
    """
    path = Path(path)
    tmp_path = temp_file_beside(path)
    try:
        yield tmp_path
        commit_file(tmp_path, path)
    except OSError as exc:
        raise _failure(path, exc) from None
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def _sync_tree(folder: Path) -> None:
    for root, _, files in os.walk(folder):
        for name in files:
            sync_file(Path(root) / name)
        _sync_folder(Path(root))


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success it replaces ``path``.

    An existing ``path`` is only removed once the new folder is complete and on disk; on an
    exception the temporary folder is removed and ``path`` is left as it was. An OSError
    becomes a one-line :class:`DrumrnnError`.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(path.parent)
        tmp = Path(tempfile.mkdtemp(prefix=_prefix(path), suffix=".tmp", dir=path.parent))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0700 would make the result private
    except OSError as exc:
        raise _failure(path, exc) from None
    try:
        try:
            yield tmp
        except OSError as exc:
            raise _failure(path, exc) from None
        replace_directory(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def replace_directory(new: str | Path, path: str | Path) -> None:
    """Move the complete folder ``new`` (beside ``path``) to ``path``, as
    :func:`atomic_directory` does with its temporary folder: what was there is replaced only
    once the new one is in place, and put back if the move fails."""
    new, path = Path(new), Path(path)
    old = None
    try:
        _sync_tree(new)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=_prefix(path), suffix=".old", dir=path.parent))
            os.replace(path, old / "previous")
        try:
            os.replace(new, path)
        except OSError:
            if old is not None:  # put the previous folder back
                os.replace(old / "previous", path)
            raise
        _sync_folder(path.parent)
    except OSError as exc:
        raise _failure(path, exc) from None
    finally:
        if old is not None and (not (old / "previous").exists() or path.exists()):
            shutil.rmtree(old, ignore_errors=True)
