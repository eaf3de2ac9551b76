"""Shared by the bench/ scripts: where the data is, the machine line, BENCHMARKS.md sections."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from drumrnn.core.atomic import write_text_atomic
from drumrnn.data.groove import is_groove_folder

REPO = Path(__file__).resolve().parents[1]
DEFAULT_GROOVE = REPO.parent / "shared/data/groove"


def machine(*packages: str) -> str:
    """One line naming the CPU count, OS, Python and the given packages' versions."""
    u = platform.uname()
    cpu = platform.processor() or u.machine
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return ", ".join([f"{os.cpu_count()} CPUs ({cpu}, {u.system} {u.release})",
                      f"Python {platform.python_version()}", *versions])


def require_groove(path: Path) -> Path:
    """``path`` resolved, or exit naming it when it holds no Groove MIDI Dataset."""
    if not is_groove_folder(path):
        sys.exit(f"Groove MIDI Dataset not found at {path} (no info.csv); pass --groove PATH")
    return path.resolve()


def timed(fn) -> tuple[float, object]:
    """(seconds, result) of ``fn()``."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def time_command(argv: list[str], repeats: int) -> list[float]:
    """Wall times of ``python -m drumrnn.cli ARGV... --out TMP`` run ``repeats`` times from a
    cold interpreter (a fresh output folder each time); exits if the command fails."""
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "drumrnn", *argv, "--out", str(Path(tmp) / "out")]
            seconds, proc = timed(lambda cmd=cmd: subprocess.run(cmd, capture_output=True,
                                                                  text=True))
            if proc.returncode != 0:
                sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}")
        times.append(seconds)
    return times


def write_section(name: str, section: str, path: Path = REPO / "BENCHMARKS.md") -> None:
    """Put ``section`` into ``path`` (BENCHMARKS.md) between the ``name`` markers, atomically;
    a file that does not exist yet starts with the benchmarks heading."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = (path.read_text(encoding="utf-8") if path.exists() else
            "# Benchmarks\n\nMeasured timings of drumrnn; each section names the script that "
            "reproduces it.\n")
    block = f"{start}\n{section.rstrip()}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    write_text_atomic(path, text)


def marked_sections(path: Path) -> str:
    """The ``<!-- name:start -->`` ... ``<!-- name:end -->`` sections of ``path`` (other
    scripts' parts of a document that is rewritten whole), or an empty string."""
    if not path.exists():
        return ""
    pattern = r"<!-- ([\w-]+):start -->.*?<!-- \1:end -->"
    return "\n\n".join(m.group(0) for m in re.finditer(
        pattern, path.read_text(encoding="utf-8"), flags=re.S))
