"""Locating a point by the communities' boundaries (GeoJSON polygons in the units file).

The demo district's boundaries are rough rectangles (coordination/data/gangwen.json): 丽都 is
121.41-121.42 E, 31.22-31.23 N, next to 公园 (west), 花桥 (north) and 船湾 (east).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from builders import CHUANWAN, GONGYUAN, HUAQIAO, LIDU, WANGHAI, XINGANG, YONGHE

from coordination.domain.units import Jurisdiction, Level, Unit


def square(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.mark.parametrize(
    ("lat", "lon", "unit"),
    [
        (31.225, 121.415, LIDU),
        (31.235, 121.405, YONGHE),
        (31.235, 121.415, HUAQIAO),
        (31.225, 121.405, GONGYUAN),
        (31.235, 121.425, WANGHAI),
        (31.225, 121.425, CHUANWAN),
        (31.230, 121.440, XINGANG),
    ],
)
def test_a_point_inside_lies_in_its_community(
    jurisdiction: Jurisdiction, lat: float, lon: float, unit: str
) -> None:
    found = jurisdiction.locate(lat, lon)
    assert found is not None and found.id == unit
    assert found.level is Level.COMMUNITY


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (39.9042, 116.4074),  # Beijing
        (31.215, 121.415),  # just south of 丽都
        (31.225, 121.399),  # just west of 公园
        (121.415, 31.225),  # lat and long swapped
        (float("nan"), 121.415),
    ],
)
def test_a_point_outside_every_community_is_none(
    jurisdiction: Jurisdiction, lat: float, lon: float
) -> None:
    assert jurisdiction.locate(lat, lon) is None


def test_a_point_on_an_outer_edge_is_inside(jurisdiction: Jurisdiction) -> None:
    located = jurisdiction.locate(31.22, 121.415)  # 丽都's southern edge, nobody beyond
    assert located is not None and located.id == LIDU
    corner = jurisdiction.locate(31.22, 121.42)  # 丽都's south-east corner, shared with 船湾
    assert corner is not None and corner.id == LIDU


def test_a_shared_edge_goes_to_the_first_community_in_the_file(
    jurisdiction: Jurisdiction,
) -> None:
    # 公园 (west) and 丽都 (east) share the meridian 121.41; 公园 comes first in the file.
    located = jurisdiction.locate(31.225, 121.41)
    assert located is not None and located.id == GONGYUAN


def test_every_community_of_the_demo_has_a_boundary(jurisdiction: Jurisdiction) -> None:
    communities = {u.id for u in jurisdiction.units.values() if u.level is Level.COMMUNITY}
    assert set(jurisdiction.boundaries) == communities


def test_the_units_file_still_loads_without_boundaries(tree: dict[str, Any]) -> None:
    bare = copy.deepcopy(tree)
    for unit in bare["units"]:
        unit.pop("boundary", None)
    jurisdiction = Jurisdiction.from_dict(bare)
    assert jurisdiction.resolve("丽都花园").id == LIDU
    assert jurisdiction.locate(31.225, 121.415) is None
    plain = Jurisdiction([Unit("d", "区", Level.DISTRICT)])
    assert plain.locate(0, 0) is None


def test_overlapping_boundaries_are_refused(tree: dict[str, Any]) -> None:
    bad = copy.deepcopy(tree)
    for unit in bad["units"]:
        if unit["id"] == HUAQIAO:
            unit["boundary"] = square(121.415, 31.225, 121.425, 31.235)  # into 丽都
    with pytest.raises(ValueError, match="overlap"):
        Jurisdiction.from_dict(bad)


@pytest.mark.parametrize(
    ("unit_id", "boundary", "problem"),
    [
        ("gangwen/chenqiao", square(121.0, 31.0, 121.1, 31.1), "cannot have a boundary"),
        (LIDU, {"type": "Point", "coordinates": [121.4, 31.2]}, "not a GeoJSON Polygon"),
        (LIDU, {"type": "Polygon", "coordinates": [[[121.4, 31.2]]]}, "polygon"),
        (
            LIDU,  # a bow-tie: it crosses itself
            {
                "type": "Polygon",
                "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
            },
            "not a valid polygon",
        ),
    ],
)
def test_a_bad_boundary_is_refused(
    tree: dict[str, Any], unit_id: str, boundary: dict[str, Any], problem: str
) -> None:
    bad = copy.deepcopy(tree)
    for unit in bad["units"]:
        if unit["id"] == unit_id:
            unit["boundary"] = boundary
        elif unit["id"] == LIDU:
            unit.pop("boundary", None)
    with pytest.raises(ValueError, match=problem):
        Jurisdiction.from_dict(bad)
