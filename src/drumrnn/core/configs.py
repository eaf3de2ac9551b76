"""Typed configurations rebuilt from the JSON stored in artifacts, unknown keys refused."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, fields
from typing import ClassVar, TypeVar

from drumrnn.core.errors import DrumrnnError

T = TypeVar("T")


def config_from_dict(cls: type[T], data: dict, what: str) -> T:
    """``cls(**data)``, with a :class:`DrumrnnError` naming any key ``cls`` does not have."""
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise DrumrnnError(f"unknown {what} settings: {', '.join(sorted(unknown))}")
    return cls(**data)


class StoredConfig:
    """Base of the dataclass configs stored as JSON in artifacts; ``_what`` names the kind
    in error messages."""

    _what: ClassVar[str] = "config"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict):
        return config_from_dict(cls, data, cls._what)


def check_at_least_one(config, names: Iterable[str]) -> None:
    """A :class:`DrumrnnError` for the first of the fields ``names`` below 1."""
    for name in names:
        if getattr(config, name) < 1:
            raise DrumrnnError(f"{name} must be at least 1, got {getattr(config, name)}")


def check_not_negative(config, names: Iterable[str]) -> None:
    """A :class:`DrumrnnError` for the first of the fields ``names`` below 0."""
    for name in names:
        if getattr(config, name) < 0:
            raise DrumrnnError(f"{name} must not be negative, got {getattr(config, name)}")
