"""Typed configurations rebuilt from the JSON stored in artifacts, unknown keys refused."""

from __future__ import annotations

from dataclasses import fields
from typing import TypeVar

from drumrnn.errors import DrumrnnError

T = TypeVar("T")


def config_from_dict(cls: type[T], data: dict, what: str) -> T:
    """``cls(**data)``, with a :class:`DrumrnnError` naming any key ``cls`` does not have."""
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise DrumrnnError(f"unknown {what} settings: {', '.join(sorted(unknown))}")
    return cls(**data)
