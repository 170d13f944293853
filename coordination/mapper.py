"""One mapper between domain events and stored records, upcasting old versions on read."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from coordination.domain import incident

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def to_data(obj: Any) -> Any:
    """A dataclass as JSON-ready data (enums become their values)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, tuple | list):
        return [to_data(v) for v in obj]
    if isinstance(obj, datetime):
        return obj.isoformat()
    return obj


def from_data(cls: Any, data: Any) -> Any:
    """The inverse of ``to_data`` for a type hint ``cls``."""
    if data is None:
        return None
    origin = typing.get_origin(cls)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(cls) if a is not type(None)]
        return from_data(inner[0], data)
    if origin is tuple:
        return tuple(from_data(typing.get_args(cls)[0], v) for v in data)
    if dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: from_data(hints[k], v) for k, v in data.items() if k in names})
    if isinstance(cls, type) and issubclass(cls, Enum):
        return cls(data)
    if cls is datetime:
        return datetime.fromisoformat(data)
    return data


class Mapper:
    """Turns events into (type, schema version, data) and back.

    ``upcasters`` maps ``(type, version)`` to a function that lifts that version's data to the
    next version; reading applies them in turn until the current version is reached.
    """

    def __init__(
        self,
        event_types: Iterable[type],
        versions: Mapping[str, int] | None = None,
        upcasters: Mapping[tuple[str, int], Upcaster] | None = None,
    ) -> None:
        self.types = {t.__name__: t for t in event_types}
        self.versions = dict(versions or {})
        self.upcasters = dict(upcasters or {})

    def version_of(self, type_name: str) -> int:
        return self.versions.get(type_name, 1)

    def to_record(self, event: Any) -> tuple[str, int, dict[str, Any]]:
        name = type(event).__name__
        if name not in self.types:
            raise TypeError(f"unmapped event type {name}")
        return name, self.version_of(name), to_data(event)

    def upcast(self, type_name: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
        current = self.version_of(type_name)
        while version < current:
            data = self.upcasters[(type_name, version)](data)
            version += 1
        return data

    def from_record(self, type_name: str, version: int, data: dict[str, Any]) -> Any:
        return from_data(self.types[type_name], self.upcast(type_name, version, data))


def default_mapper() -> Mapper:
    return Mapper(incident.EVENT_TYPES)
