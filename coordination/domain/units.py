"""The jurisdiction tree: a city (optional) over its districts, streets and departments,
communities. Each district is a partition of the log; a city only groups its districts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import shapely  # type: ignore[import-untyped]  # pure geometry (GEOS); it ships no type hints

from coordination.domain.errors import DomainError, UnknownPlace


class AboveDistricts(DomainError):
    """A city was named where one district's unit is needed: a city holds no orders, queues or
    books of its own, only its districts do."""


class Level(StrEnum):
    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    DEPARTMENT = "department"
    COMMUNITY = "community"


HANDLING_LEVELS = frozenset({Level.STREET, Level.DEPARTMENT})
ROOT_LEVELS = frozenset({Level.CITY, Level.DISTRICT})  # a district without a city is a root
PARENT_LEVELS: dict[Level, frozenset[Level]] = {
    Level.CITY: frozenset(),
    Level.DISTRICT: frozenset({Level.CITY}),
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
    """The unit tree, the gazetteer of place names that resolve to units, and (optionally) the
    communities' boundaries, which locate a point (an Open311 client's lat/long)."""

    def __init__(
        self,
        units: Iterable[Unit],
        places: Mapping[str, str] | None = None,
        boundaries: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.units: dict[str, Unit] = {u.id: u for u in units}
        self.places: dict[str, str] = dict(places or {})
        for unit in self.units.values():
            self._check_parent(unit)
        for place, unit_id in self.places.items():
            if unit_id not in self.units:
                raise ValueError(f"place {place} names unknown unit {unit_id}")
        # unit id -> shapely Polygon, in the units file's order (the tie-break on a shared edge)
        self.boundaries: dict[str, Any] = {
            unit_id: self._polygon(unit_id, geojson)
            for unit_id, geojson in (boundaries or {}).items()
        }
        self._check_overlaps()

    def _polygon(self, unit_id: str, geojson: Mapping[str, Any]) -> Any:
        """A community's boundary: a valid GeoJSON Polygon ([longitude, latitude] pairs)."""
        unit = self.get(unit_id)
        if unit.level is not Level.COMMUNITY:
            raise ValueError(f"unit {unit_id} ({unit.level.value}) cannot have a boundary")
        if not isinstance(geojson, Mapping) or geojson.get("type") != "Polygon":
            raise ValueError(f"the boundary of {unit_id} is not a GeoJSON Polygon")
        try:
            polygon = shapely.geometry.shape(geojson)
        except (ValueError, TypeError, IndexError, shapely.errors.ShapelyError) as exc:
            raise ValueError(f"the boundary of {unit_id} is not a polygon: {exc}") from None
        if polygon.is_empty or not polygon.is_valid:
            raise ValueError(f"the boundary of {unit_id} is not a valid polygon")
        shapely.prepare(polygon)
        return polygon

    def _check_overlaps(self) -> None:
        """Communities may share edges, never area: a point inside lies in one community."""
        ids = list(self.boundaries)
        for i, first in enumerate(ids):
            for second in ids[i + 1 :]:
                # DE-9IM: the two interiors meet in an area
                if self.boundaries[first].relate_pattern(self.boundaries[second], "2********"):
                    raise ValueError(f"the boundaries of {first} and {second} overlap")

    def _check_parent(self, unit: Unit) -> None:
        """A city is a root; a district sits under a city or is a root itself; streets and
        departments sit under a district; communities under a street or department. This also
        rules out loops."""
        if unit.parent is None:
            if unit.level not in ROOT_LEVELS:
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
        boundaries = {u["id"]: u["boundary"] for u in data["units"] if u.get("boundary")}
        return cls(units, data.get("places", {}), boundaries)

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

    def suggest(self, text: str, scope: str, limit: int = 10) -> list[tuple[str, Unit]]:
        """Place names containing ``text`` whose unit lies in ``scope``'s subtree, with that
        unit: those that begin with it first, then the shorter (typing 丽都 offers 丽都, then
        丽都花园)."""
        wanted = text.strip()
        if not wanted:
            return []
        found = [
            (place, self.units[unit_id])
            for place, unit_id in self.places.items()
            if wanted in place and self.within(unit_id, scope)
        ]
        found.sort(key=lambda p: (not p[0].startswith(wanted), len(p[0]), p[0]))
        return found[:limit]

    def locate(self, lat: float, lon: float) -> Unit | None:
        """The community whose boundary holds the point (WGS 84 degrees), or None outside
        every boundary (or when the units file gives none). A point on a boundary counts as
        inside; on an edge two communities share, the first in the units file has it."""
        point = shapely.Point(lon, lat)  # GeoJSON order: longitude first
        for unit_id, polygon in self.boundaries.items():
            if polygon.covers(point):
                return self.units[unit_id]
        return None

    def ancestors(self, unit_id: str) -> list[Unit]:
        """The unit itself and its ancestors, nearest first."""
        chain = []
        unit: Unit | None = self.get(unit_id)
        while unit is not None:
            chain.append(unit)
            unit = self.units[unit.parent] if unit.parent else None
        return chain

    def district_of(self, unit_id: str, field: str = "unit") -> str:
        """The district a unit lies in (itself, for a district): its partition of the log."""
        for unit in self.ancestors(unit_id):
            if unit.level is Level.DISTRICT:
                return unit.id
        city = self.get(unit_id)
        raise AboveDistricts(
            f"{unit_id} is the city {city.name}, above its districts: name a unit of one "
            f"district ({', '.join(self.districts(unit_id))})",
            field,
        )

    def districts(self, scope: str | None = None) -> list[str]:
        """The districts (within ``scope``'s subtree, if given), in the units file's order."""
        return [
            u.id
            for u in self.units.values()
            if u.level is Level.DISTRICT and (scope is None or self.within(u.id, scope))
        ]

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
