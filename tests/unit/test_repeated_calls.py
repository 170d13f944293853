"""Repeated calls (重复件): a call about an open order joins it as one more caller; the day's
figures count calls and orders apart."""

from __future__ import annotations

from typing import Any

import pytest
from builders import (
    CHENQIAO,
    NOW,
    closed,
    dispatched_to_street,
    handed_down_to_lidu,
    resolved_at_lidu,
    returned_to_district,
    signed_at_street,
)
from spec import Spec, refused
from units import two_districts_tree

from coordination.domain.access import COMMANDS, PERMISSIONS, Action, Role
from coordination.domain.commands import Command, LinkCall
from coordination.domain.context import Context
from coordination.domain.errors import InvalidTransition, UnknownPlace
from coordination.domain.events import DuplicateCallLinked, Event
from coordination.domain.incident import Incident, decide, fold
from coordination.domain.units import Jurisdiction
from coordination.domain.values import Contact
from coordination.projections.figures import Tally, day_figures

CALLER = Contact("赵先生", "13700001111")


def two_districts() -> Jurisdiction:
    """The demo district and a neighbour, 海西区, with one street, one community, one place."""
    return Jurisdiction.from_dict(two_districts_tree())


@pytest.fixture
def spec() -> Spec[Incident, Command, Event]:
    return Spec(decide, fold, Context(two_districts(), now=NOW))


@pytest.mark.parametrize(
    "history",
    [
        dispatched_to_street,
        signed_at_street,
        returned_to_district,
        handed_down_to_lidu,
        resolved_at_lidu,
    ],
)
def test_a_call_joins_an_open_order_as_one_more_caller(spec: Spec, history: Any) -> None:
    before = spec.given(history())
    spec.when(LinkCall(CALLER, place="丽都花园", note="同一小区门禁"))
    state = spec.then(DuplicateCallLinked(CALLER, place="丽都花园", note="同一小区门禁"))
    assert state.callers == (CALLER,)
    assert (state.status, state.unit, state.version) == (
        before.status,
        before.unit,
        before.version + 1,
    )


def test_each_call_is_kept_in_order_even_from_the_same_phone(spec: Spec) -> None:
    again = Contact("赵先生", CALLER.phone)
    other = Contact("钱女士", "13600002222")
    state = fold([*dispatched_to_street(), DuplicateCallLinked(CALLER), DuplicateCallLinked(other)])
    spec.given([*dispatched_to_street(), DuplicateCallLinked(CALLER), DuplicateCallLinked(other)])
    spec.when(LinkCall(again))
    after = spec.then(DuplicateCallLinked(again))
    assert state.callers == (CALLER, other)
    assert after.callers == (CALLER, other, again)
    assert after.reporter == state.reporter  # the first caller stays the reporter


def test_a_closed_order_takes_no_more_calls(spec: Spec) -> None:
    spec.given(closed())
    error = refused(spec, LinkCall(CALLER), "state", InvalidTransition)
    assert error.message == "cannot link a call to an incident that is closed"


def test_there_is_no_order_to_link_to_before_it_is_reported(spec: Spec) -> None:
    spec.given([])
    refused(spec, LinkCall(CALLER), "state", InvalidTransition)


def test_a_call_about_a_place_in_another_district_is_refused(spec: Spec) -> None:
    spec.given(signed_at_street())
    error = refused(spec, LinkCall(CALLER, place="兰亭花园"), "place")
    assert "haixi" in error.message and "gangwen" in error.message


def test_a_call_about_an_unknown_place_is_refused(spec: Spec) -> None:
    spec.given(signed_at_street())
    refused(spec, LinkCall(CALLER, place="月亮湾"), "place", UnknownPlace)


def test_a_call_about_another_place_of_the_same_district_may_be_linked(spec: Spec) -> None:
    spec.given(signed_at_street())
    spec.when(LinkCall(CALLER, place="望海苑"))
    assert spec.then(DuplicateCallLinked(CALLER, place="望海苑")).unit == CHENQIAO


def test_dispatchers_link_calls_and_no_one_below_them() -> None:
    assert COMMANDS[LinkCall] is Action.LINK_CALL
    linking = {role for role in Role if Action.LINK_CALL in PERMISSIONS[role]}
    assert linking == {Role.DISPATCHER, Role.ADMIN}


def test_calls_are_new_orders_plus_linked_calls() -> None:
    tally = Tally()
    tally.counts.update({"reported": 3, "epidemic": 2, "linked_calls": 4})
    figures = day_figures(tally)
    assert (figures["reported"], figures["calls"], figures["linked_calls"]) == (3, 7, 4)
    assert figures["epidemic_share"] == 0.6666  # of orders, not of calls


def test_typing_part_of_a_place_suggests_the_places_that_contain_it() -> None:
    jurisdiction = two_districts()
    found = jurisdiction.suggest("丽都", "gangwen")
    assert [(place, unit.id) for place, unit in found] == [
        ("丽都", "gangwen/chenqiao/lidu"),
        ("丽都花园", "gangwen/chenqiao/lidu"),
    ]
    assert [p for p, _ in jurisdiction.suggest("花园", "gangwen")] == ["丽都花园"]
    assert [p for p, _ in jurisdiction.suggest("花园", "haixi")] == ["兰亭花园"]
    assert jurisdiction.suggest("望海", "gangwen/chenqiao") == []  # another street's
    assert jurisdiction.suggest("  ", "gangwen") == []
    assert len(jurisdiction.suggest("", "gangwen")) == 0
