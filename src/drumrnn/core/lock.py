"""One run per output folder: a lock file holding the holder's PID.

The lock is an advisory ``flock`` on ``.drumrnn.lock`` inside the folder, or, for a folder
that is replaced whole (``prepare``'s), on ``.NAME.lock`` beside it. The kernel releases a
``flock`` when its holder dies, however it dies, so a lock file left by a killed run is
stale and simply taken over; the PID written in it only serves to name the holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from drumrnn.core.errors import DrumrnnError

INSIDE = ".drumrnn.lock"


def lock_path(folder: str | Path, beside: bool = False) -> Path:
    """The lock file of ``folder``: inside it, or ``beside`` it."""
    folder = Path(folder).resolve()
    return folder.parent / f".{folder.name}.lock" if beside else folder / INSIDE


@contextlib.contextmanager
def folder_lock(folder: str | Path, beside: bool = False) -> Iterator[Path]:
    """Hold ``folder``'s lock for the duration of the block (creating ``folder`` when the
    lock is inside it).

    Raises :class:`DrumrnnError` at once, with one line naming the holder's PID, when another
    live process holds it. The lock file is removed on release.
    """
    path = lock_path(folder, beside)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DrumrnnError(f"cannot create {path.parent}: {exc.strerror or exc}") from None
    handle = _acquire(path, folder)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        handle.close()  # closing releases the flock


def _acquire(path: Path, folder) -> object:
    for _ in range(10):
        try:
            handle = open(path, "a+")  # noqa: SIM115 (held open for the lock's lifetime)
        except OSError as exc:
            raise DrumrnnError(f"cannot lock {folder}: {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise DrumrnnError(f"{folder} is in use by another drumrnn run (process {holder}; "
                               f"lock {path}); wait for it to finish") from None
        # the holder before us may have removed the file after we opened it: lock anew
        try:
            same = os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            handle.close()
            continue
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        except OSError as exc:
            handle.close()
            raise DrumrnnError(f"cannot lock {folder}: {path}: {exc.strerror or exc}") from None
        return handle
    raise DrumrnnError(f"cannot lock {folder}: {path} keeps changing")
