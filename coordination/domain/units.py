"""The jurisdiction tree: district, streets and departments, communities."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from coordination.domain.errors import UnknownPlace


class Level(StrEnum):
    DISTRICT = "district"
    STREET = "street"
    DEPARTMENT = "department"
    COMMUNITY = "community"


HANDLING_LEVELS = frozenset({Level.STREET, Level.DEPARTMENT})
PARENT_LEVELS: dict[Level, frozenset[Level]] = {
    Level.DISTRICT: frozenset(),
    Level.STREET: frozenset({Level.DISTRICT}),
    Level.DEPARTMENT: frozenset({Level.DISTRICT}),
    Level.COMMUNITY: HANDLING_LEVELS,
}


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    level: Level
    parent: str | None = None


class Jurisdiction:
    """The unit tree and the gazetteer of place names that resolve to units."""

    def __init__(self, units: Iterable[Unit], places: Mapping[str, str] | None = None) -> None:
        self.units: dict[str, Unit] = {u.id: u for u in units}
        self.places: dict[str, str] = dict(places or {})
        for unit in self.units.values():
            self._check_parent(unit)
        for place, unit_id in self.places.items():
            if unit_id not in self.units:
                raise ValueError(f"place {place} names unknown unit {unit_id}")

    def _check_parent(self, unit: Unit) -> None:
        """A district is a root; streets and departments sit under a district; communities
        under a street or department. This also rules out loops."""
        if unit.parent is None:
            if unit.level is not Level.DISTRICT:
                raise ValueError(f"unit {unit.id} ({unit.level.value}) has no parent")
            return
        if unit.parent not in self.units:
            raise ValueError(f"unit {unit.id} has unknown parent {unit.parent}")
        parent = self.units[unit.parent].level
        allowed = PARENT_LEVELS[unit.level]
        if parent not in allowed:
            raise ValueError(
                f"unit {unit.id} ({unit.level.value}) cannot sit under a {parent.value}"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Jurisdiction:
        units = [
            Unit(u["id"], u.get("name", u["id"]), Level(u["level"]), u.get("parent"))
            for u in data["units"]
        ]
        return cls(units, data.get("places", {}))

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self.units

    def get(self, unit_id: str, field: str = "unit") -> Unit:
        try:
            return self.units[unit_id]
        except KeyError:
            raise UnknownPlace(unit_id, field) from None

    def resolve(self, place: str) -> Unit:
        """The unit that owns a place: a unit id or a known place name."""
        if place in self.units:
            return self.units[place]
        if place in self.places:
            return self.units[self.places[place]]
        raise UnknownPlace(place)

    def ancestors(self, unit_id: str) -> list[Unit]:
        """The unit itself and its ancestors, nearest first."""
        chain = []
        unit: Unit | None = self.get(unit_id)
        while unit is not None:
            chain.append(unit)
            unit = self.units[unit.parent] if unit.parent else None
        return chain

    def district_of(self, unit_id: str) -> str:
        return self.ancestors(unit_id)[-1].id

    def within(self, unit_id: str, scope: str) -> bool:
        """Whether ``unit_id`` lies in the subtree rooted at ``scope``."""
        return unit_id in self.units and any(u.id == scope for u in self.ancestors(unit_id))

    def handling_unit_for(self, unit_id: str) -> Unit:
        """The street or department that handles orders for a place's unit.

        A community's orders go to its street; a street or department handles its own; the
        district has no handling unit above the place and handles itself.
        """
        for unit in self.ancestors(unit_id):
            if unit.level in HANDLING_LEVELS:
                return unit
        return self.get(unit_id)

    def children(self, unit_id: str) -> list[Unit]:
        return [u for u in self.units.values() if u.parent == unit_id]
