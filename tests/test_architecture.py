"""The architecture's rules: import-linter contracts (pyproject.toml) and a quiet library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "drumrnn"


def test_import_contracts_hold():
    """Stages are layered along the data flow and only training imports torch."""
    from importlinter.cli import lint_imports

    assert lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0


def _library_files():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "cli" or relative.name == "__main__.py":
            continue
        yield path


@pytest.mark.parametrize("path", list(_library_files()), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_library_never_prints_or_exits(path):
    """Only the CLI talks to the terminal and chooses exit codes; the library raises."""
    tree = ast.parse(path.read_text(), str(path))
    offenders = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("print", "exit", "quit"):
            offenders.append(f"{func.id}() at line {node.lineno}")
        elif (isinstance(func, ast.Attribute) and func.attr in ("exit", "_exit")
              and isinstance(func.value, ast.Name) and func.value.id in ("sys", "os")):
            offenders.append(f"{func.value.id}.{func.attr}() at line {node.lineno}")
    assert not offenders, offenders
