"""The jurisdiction tree: resolving places, subtrees and handling units."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from builders import (
    BINJIANG,
    CDC,
    CHENQIAO,
    CHUANWAN,
    DISTRICT,
    HUAQIAO,
    KAIFAQU,
    LIDU,
    MARKET,
    WANGHAI,
    XINGANG,
    YONGHE,
)

from coordination.domain.errors import DomainError, UnknownPlace
from coordination.domain.units import AboveDistricts, Jurisdiction, Level, Unit


@pytest.mark.parametrize("unit_id", [DISTRICT, CHENQIAO, LIDU, MARKET, CDC])
def test_resolve_by_unit_id_returns_that_unit(jurisdiction: Jurisdiction, unit_id: str) -> None:
    assert jurisdiction.resolve(unit_id).id == unit_id


@pytest.mark.parametrize(
    ("place", "unit_id"),
    [
        ("永和佳苑", YONGHE),
        ("永和佳苑小区", YONGHE),
        ("花桥新村", HUAQIAO),
        ("丽都花园", LIDU),
        ("陈桥街道", CHENQIAO),
        ("船湾码头", CHUANWAN),
        ("新港工业园", XINGANG),
        ("港闻开发区", KAIFAQU),
    ],
)
def test_resolve_by_place_name_returns_owning_unit(
    jurisdiction: Jurisdiction, place: str, unit_id: str
) -> None:
    assert jurisdiction.resolve(place).id == unit_id


def test_every_place_in_the_gazetteer_resolves(
    jurisdiction: Jurisdiction, tree: dict[str, Any]
) -> None:
    for place, unit_id in tree["places"].items():
        assert jurisdiction.resolve(place) == jurisdiction.get(unit_id)


def test_unknown_place_raises_unknown_place_naming_it(jurisdiction: Jurisdiction) -> None:
    with pytest.raises(UnknownPlace) as raised:
        jurisdiction.resolve("月亮湾")
    assert raised.value.place == "月亮湾"
    assert "月亮湾" in raised.value.message
    assert raised.value.field == "place"
    assert isinstance(raised.value, DomainError)


def test_unit_name_is_not_a_place_unless_listed(jurisdiction: Jurisdiction) -> None:
    with pytest.raises(UnknownPlace, match="丽都社区"):
        jurisdiction.resolve("丽都社区")


def test_get_of_unknown_unit_raises_unknown_place(jurisdiction: Jurisdiction) -> None:
    with pytest.raises(UnknownPlace, match="gangwen/nowhere"):
        jurisdiction.get("gangwen/nowhere")


def test_unit_is_within_itself(jurisdiction: Jurisdiction) -> None:
    assert jurisdiction.within(LIDU, LIDU)
    assert jurisdiction.within(CHENQIAO, CHENQIAO)


def test_descendant_is_within_its_ancestors(jurisdiction: Jurisdiction) -> None:
    assert jurisdiction.within(LIDU, CHENQIAO)
    assert jurisdiction.within(LIDU, DISTRICT)
    assert jurisdiction.within(MARKET, DISTRICT)


def test_sibling_is_not_within(jurisdiction: Jurisdiction) -> None:
    assert not jurisdiction.within(HUAQIAO, LIDU)
    assert not jurisdiction.within(BINJIANG, CHENQIAO)
    assert not jurisdiction.within(WANGHAI, CHENQIAO)


def test_ancestor_is_not_within_its_descendant(jurisdiction: Jurisdiction) -> None:
    assert not jurisdiction.within(CHENQIAO, LIDU)
    assert not jurisdiction.within(DISTRICT, CHENQIAO)


def test_unknown_unit_is_within_nothing(jurisdiction: Jurisdiction) -> None:
    assert not jurisdiction.within("gangwen/nowhere", DISTRICT)


def test_ancestors_run_from_the_unit_to_the_district(jurisdiction: Jurisdiction) -> None:
    assert [u.id for u in jurisdiction.ancestors(LIDU)] == [LIDU, CHENQIAO, DISTRICT]
    assert jurisdiction.district_of(LIDU) == DISTRICT
    assert jurisdiction.district_of(DISTRICT) == DISTRICT


@pytest.mark.parametrize(
    ("community", "street"),
    [(LIDU, CHENQIAO), (YONGHE, CHENQIAO), (WANGHAI, BINJIANG), (XINGANG, KAIFAQU)],
)
def test_handling_unit_for_a_community_is_its_street(
    jurisdiction: Jurisdiction, community: str, street: str
) -> None:
    assert jurisdiction.handling_unit_for(community).id == street


@pytest.mark.parametrize("unit_id", [MARKET, CDC, CHENQIAO, KAIFAQU])
def test_handling_unit_for_a_street_or_department_is_itself(
    jurisdiction: Jurisdiction, unit_id: str
) -> None:
    assert jurisdiction.handling_unit_for(unit_id).id == unit_id


def test_handling_unit_for_the_district_is_the_district(jurisdiction: Jurisdiction) -> None:
    assert jurisdiction.handling_unit_for(DISTRICT).level is Level.DISTRICT


def test_children_are_the_direct_subunits(jurisdiction: Jurisdiction) -> None:
    assert {u.id for u in jurisdiction.children(CHENQIAO)} == {
        YONGHE,
        HUAQIAO,
        "gangwen/chenqiao/gongyuan",
        LIDU,
    }
    assert jurisdiction.children(MARKET) == []


def test_from_dict_reads_names_levels_and_parents(jurisdiction: Jurisdiction) -> None:
    assert jurisdiction.get(LIDU) == Unit(LIDU, "丽都社区", Level.COMMUNITY, CHENQIAO)
    assert jurisdiction.get(DISTRICT) == Unit(DISTRICT, "港闻区", Level.DISTRICT, None)
    assert LIDU in jurisdiction
    assert "gangwen/nowhere" not in jurisdiction


def test_unit_with_unknown_parent_is_refused(tree: dict[str, Any]) -> None:
    data = copy.deepcopy(tree)
    data["units"].append({"id": "gangwen/ghost/x", "level": "community", "parent": "gangwen/ghost"})
    with pytest.raises(ValueError, match="gangwen/ghost"):
        Jurisdiction.from_dict(data)


def test_place_naming_unknown_unit_is_refused(tree: dict[str, Any]) -> None:
    data = copy.deepcopy(tree)
    data["places"]["幽灵村"] = "gangwen/ghost"
    with pytest.raises(ValueError, match="幽灵村"):
        Jurisdiction.from_dict(data)


def test_unknown_level_is_refused(tree: dict[str, Any]) -> None:
    data = copy.deepcopy(tree)
    data["units"].append({"id": "gangwen/x", "level": "province", "parent": "gangwen"})
    with pytest.raises(ValueError):
        Jurisdiction.from_dict(data)


@pytest.mark.parametrize(
    ("unit", "problem"),
    [
        ({"id": "loop", "level": "street", "parent": "loop"}, "cannot sit under"),
        ({"id": "c", "level": "community", "parent": "gangwen"}, "cannot sit under"),
        ({"id": "s", "level": "street", "parent": "gangwen/chenqiao/lidu"}, "cannot sit under"),
        ({"id": "orphan", "level": "community"}, "has no parent"),
    ],
)
def test_tree_levels_must_nest_district_street_community(
    tree: dict[str, Any], unit: dict[str, str], problem: str
) -> None:
    data = copy.deepcopy(tree)
    data["units"].append(unit)
    with pytest.raises(ValueError, match=problem):
        Jurisdiction.from_dict(data)


def test_district_comes_from_the_tree_not_the_id() -> None:
    tree = Jurisdiction.from_dict(
        {
            "units": [
                {"id": "gw", "level": "district"},
                {"id": "cq", "level": "street", "parent": "gw"},
                {"id": "ld", "level": "community", "parent": "cq"},
            ]
        }
    )
    assert tree.district_of("ld") == "gw"
    assert tree.handling_unit_for("ld").id == "cq"


def test_unknown_unit_error_names_the_field_it_came_from(jurisdiction: Jurisdiction) -> None:
    with pytest.raises(UnknownPlace) as raised:
        jurisdiction.get("gangwen/nowhere", "community")
    assert raised.value.field == "community"


CITY_TREE = {
    "units": [
        {"id": "hc", "name": "海城市", "level": "city"},
        {"id": "gw", "level": "district", "parent": "hc"},
        {"id": "gw/cq", "level": "street", "parent": "gw"},
        {"id": "gw/cq/ld", "level": "community", "parent": "gw/cq"},
        {"id": "hy", "level": "district", "parent": "hc"},
        {"id": "hy/yw", "level": "street", "parent": "hy"},
        {"id": "lone", "level": "district"},
    ]
}


def test_a_city_groups_districts_and_each_unit_keeps_its_own_district() -> None:
    tree = Jurisdiction.from_dict(CITY_TREE)
    assert tree.district_of("gw/cq/ld") == "gw"
    assert tree.district_of("hy") == "hy"
    assert tree.district_of("lone") == "lone"
    assert tree.districts() == ["gw", "hy", "lone"]
    assert tree.districts("hc") == ["gw", "hy"]
    assert tree.districts("gw/cq") == []
    assert tree.within("gw/cq/ld", "hc") and not tree.within("lone", "hc")
    assert [u.id for u in tree.ancestors("gw/cq")] == ["gw/cq", "gw", "hc"]


def test_a_city_has_no_district_and_the_refusal_names_its_districts() -> None:
    tree = Jurisdiction.from_dict(CITY_TREE)
    with pytest.raises(AboveDistricts) as raised:
        tree.district_of("hc", "place")
    assert raised.value.field == "place"
    assert "海城市" in raised.value.message and "(gw, hy)" in raised.value.message


@pytest.mark.parametrize(
    ("unit", "problem"),
    [
        ({"id": "c2", "level": "city", "parent": "hc"}, "cannot sit under"),
        ({"id": "c3", "level": "city", "parent": "gw"}, "cannot sit under"),
        ({"id": "s", "level": "street", "parent": "hc"}, "cannot sit under"),
        ({"id": "d", "level": "district", "parent": "gw"}, "cannot sit under"),
    ],
)
def test_a_city_is_a_root_and_holds_districts_only(unit: dict[str, str], problem: str) -> None:
    data = copy.deepcopy(CITY_TREE)
    data["units"].append(unit)
    with pytest.raises(ValueError, match=problem):
        Jurisdiction.from_dict(data)
