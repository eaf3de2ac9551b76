"""Shared by the bench/ scripts: where the data is, the machine line, BENCHMARKS.md sections."""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

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


def write_section(name: str, section: str) -> None:
    """Put ``section`` into BENCHMARKS.md between the ``name`` markers (atomically)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    path = REPO / "BENCHMARKS.md"
    text = (path.read_text(encoding="utf-8") if path.exists() else
            "# Benchmarks\n\nMeasured timings of drumrnn; each section names the script that "
            "reproduces it.\n")
    block = f"{start}\n{section.rstrip()}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    # Atomic so a crash or a concurrent reader never sees a half-written file.
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
