"""The incident aggregate, given events, when a command, then exactly these events."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from builders import (
    BINJIANG,
    CDC,
    CHENQIAO,
    DISTRICT,
    HUAQIAO,
    LIDU,
    MARKET,
    NOW,
    OFFICER,
    REASON,
    SUMMARY,
    VOLUNTEER,
    WANGHAI,
    XINGANG,
    claimed_at_lidu,
    closed,
    dispatched_to_street,
    handed_down_to_lidu,
    night_emergency_at_lidu,
    quarantine_visit,
    report,
    reported,
    resolved_at_lidu,
    resolved_at_street,
    returned_to_district,
    signed_at_street,
    supply_delivery,
    visited,
    work_order,
)
from spec import Spec, refused

from coordination.domain.commands import (
    ClaimIncident,
    CloseIncident,
    Command,
    DispatchIncident,
    ExpireClaim,
    HandDown,
    RecordReturnVisit,
    ReleaseIncident,
    ResolveIncident,
    ReturnIncident,
    SignFor,
)
from coordination.domain.context import Context
from coordination.domain.errors import (
    AlreadyClaimed,
    DomainError,
    InvalidTransition,
    NotAllowed,
    UnknownPlace,
)
from coordination.domain.events import (
    ClaimExpired,
    Event,
    IncidentClaimed,
    IncidentClosed,
    IncidentDispatched,
    IncidentHandedDown,
    IncidentReleased,
    IncidentReopened,
    IncidentResolved,
    IncidentReturned,
    IncidentSignedFor,
    ReturnVisitRecorded,
)
from coordination.domain.incident import Incident, decide, evolve, fold
from coordination.domain.units import Jurisdiction, Level
from coordination.domain.values import Kind, Satisfaction, Status


@pytest.fixture
def spec(ctx: Context) -> Spec[Incident, Command, Event]:
    """Given these incident events, when this command, then these events."""
    return Spec(decide, fold, ctx)


# --- report -------------------------------------------------------------------------------


def test_supply_delivery_at_a_community_goes_to_its_street(spec: Spec) -> None:
    spec.given([])
    command = supply_delivery("丽都花园")
    spec.when(command)
    state = spec.then(reported(command, LIDU), IncidentDispatched(CHENQIAO, Level.STREET))
    assert state.status is Status.DISPATCHED
    assert state.unit == CHENQIAO
    assert state.district == DISTRICT
    assert state.place_unit == LIDU
    assert state.items == command.items
    assert state.version == 2


def test_quarantine_visit_at_a_community_goes_to_its_street(spec: Spec) -> None:
    spec.given([])
    command = quarantine_visit("望海苑")
    spec.when(command)
    state = spec.then(reported(command, WANGHAI), IncidentDispatched(BINJIANG, Level.STREET))
    assert state.person == command.person


def test_work_order_at_a_department_goes_to_the_department(spec: Spec) -> None:
    spec.given([])
    command = work_order(MARKET)
    spec.when(command)
    state = spec.then(reported(command, MARKET), IncidentDispatched(MARKET, Level.DEPARTMENT))
    assert state.status is Status.DISPATCHED
    assert state.category == command.category


def test_work_order_at_a_street_goes_to_the_street(spec: Spec) -> None:
    spec.given([])
    command = work_order("陈桥街道")
    spec.when(command)
    spec.then(reported(command, CHENQIAO), IncidentDispatched(CHENQIAO, Level.STREET))


def test_night_emergency_at_a_community_goes_straight_to_the_community(spec: Spec) -> None:
    spec.given([])
    command = report(Kind.NIGHT_EMERGENCY, "新港工业园")
    spec.when(command)
    state = spec.then(reported(command, XINGANG), IncidentDispatched(XINGANG, Level.COMMUNITY))
    assert state.status is Status.HANDED_DOWN
    assert state.unit == XINGANG


def test_night_emergency_at_a_street_goes_to_the_street(spec: Spec) -> None:
    spec.given([])
    command = report(Kind.NIGHT_EMERGENCY, "滨江街道")
    spec.when(command)
    state = spec.then(reported(command, BINJIANG), IncidentDispatched(BINJIANG, Level.STREET))
    assert state.status is Status.DISPATCHED


def test_night_emergency_at_a_department_goes_to_the_department(spec: Spec) -> None:
    spec.given([])
    command = report(Kind.NIGHT_EMERGENCY, CDC)
    spec.when(command)
    spec.then(reported(command, CDC), IncidentDispatched(CDC, Level.DEPARTMENT))


@pytest.mark.parametrize("kind", list(Kind))
def test_report_of_the_district_itself_is_refused_on_place(spec: Spec, kind: Kind) -> None:
    spec.given([])
    error = refused(spec, report(kind, DISTRICT), "place")
    assert DISTRICT in error.message


@pytest.mark.parametrize("kind", list(Kind))
def test_report_of_an_unknown_place_raises_unknown_place(spec: Spec, kind: Kind) -> None:
    spec.given([])
    error = refused(spec, report(kind, "月亮湾"), "place", UnknownPlace)
    assert "月亮湾" in error.message


def test_supply_delivery_without_items_is_refused(spec: Spec) -> None:
    spec.given([])
    refused(spec, supply_delivery(items=()), "items")


def test_quarantine_visit_without_person_is_refused(spec: Spec) -> None:
    spec.given([])
    refused(spec, quarantine_visit(person=None), "person")


def test_work_order_without_category_is_refused(spec: Spec) -> None:
    spec.given([])
    refused(spec, work_order(category=None), "category")


def test_report_folds_every_reported_field_into_the_state(spec: Spec) -> None:
    command = quarantine_visit(description="体温37.5", address="丽都花园3栋201")
    state = fold(dispatched_to_street(command))
    assert (state.id, state.kind, state.title) == (command.incident_id, command.kind, command.title)
    assert (state.description, state.address) == (command.description, command.address)
    assert (state.place, state.priority, state.epidemic) == (
        command.place,
        command.priority,
        command.epidemic,
    )
    assert (state.reporter, state.person) == (command.reporter, command.person)


# --- dispatch -----------------------------------------------------------------------------


def test_redispatch_from_dispatched_to_another_unit(spec: Spec) -> None:
    spec.given(dispatched_to_street())
    spec.when(DispatchIncident(MARKET, note="价格投诉归市场监管"))
    state = spec.then(IncidentDispatched(MARKET, Level.DEPARTMENT, note="价格投诉归市场监管"))
    assert (state.status, state.unit) == (Status.DISPATCHED, MARKET)


def test_dispatch_straight_to_a_community_lands_handed_down(spec: Spec) -> None:
    spec.given(dispatched_to_street())
    spec.when(DispatchIncident(HUAQIAO))
    state = spec.then(IncidentDispatched(HUAQIAO, Level.COMMUNITY))
    assert (state.status, state.unit) == (Status.HANDED_DOWN, HUAQIAO)


def test_dispatch_from_returned_to_another_unit(spec: Spec) -> None:
    spec.given(returned_to_district())
    spec.when(DispatchIncident(BINJIANG))
    state = spec.then(IncidentDispatched(BINJIANG, Level.STREET))
    assert (state.status, state.unit, state.return_reason) == (Status.DISPATCHED, BINJIANG, "")


def test_dispatch_to_the_unit_already_holding_it_is_refused(spec: Spec) -> None:
    spec.given(dispatched_to_street())
    error = refused(spec, DispatchIncident(CHENQIAO), "unit")
    assert CHENQIAO in error.message


@pytest.mark.parametrize("history", [dispatched_to_street, returned_to_district])
def test_dispatch_to_the_district_is_refused(
    spec: Spec, history: Callable[[], list[Event]]
) -> None:
    spec.given(history())
    refused(spec, DispatchIncident(DISTRICT), "unit")


@pytest.fixture
def two_districts(tree: dict[str, Any]) -> Context:
    data = copy.deepcopy(tree)
    data["units"] += [
        {"id": "haixi", "name": "海西区", "level": "district"},
        {"id": "haixi/dongshan", "name": "东山街道", "level": "street", "parent": "haixi"},
    ]
    return Context(Jurisdiction.from_dict(data))


@pytest.mark.parametrize("history", [dispatched_to_street, returned_to_district])
@pytest.mark.parametrize("unit", ["haixi", "haixi/dongshan"])
def test_dispatch_outside_the_district_is_refused(
    two_districts: Context, history: Callable[[], list[Event]], unit: str
) -> None:
    spec = Spec(decide, fold, two_districts)
    spec.given(history())
    error = refused(spec, DispatchIncident(unit), "unit")
    assert DISTRICT in error.message


def test_dispatch_to_an_unknown_unit_raises_unknown_place(spec: Spec) -> None:
    spec.given(dispatched_to_street())
    with pytest.raises(UnknownPlace, match="gangwen/nowhere"):
        spec.when(DispatchIncident("gangwen/nowhere"))


# --- sign for and return ------------------------------------------------------------------


def test_sign_for_by_the_receiving_unit(spec: Spec) -> None:
    spec.given(dispatched_to_street())
    spec.when(SignFor(note="已签收"))
    state = spec.then(IncidentSignedFor(CHENQIAO, note="已签收"))
    assert (state.status, state.unit) == (Status.SIGNED, CHENQIAO)


def test_return_goes_back_to_the_district_with_its_reason(spec: Spec) -> None:
    spec.given(dispatched_to_street())
    spec.when(ReturnIncident(REASON))
    state = spec.then(IncidentReturned(CHENQIAO, DISTRICT, REASON))
    assert (state.status, state.unit, state.return_reason) == (Status.RETURNED, DISTRICT, REASON)


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_return_without_reason_is_refused(spec: Spec, reason: str) -> None:
    spec.given(dispatched_to_street())
    refused(spec, ReturnIncident(reason), "reason")


def test_returned_incident_cannot_be_closed(spec: Spec) -> None:
    spec.given(returned_to_district())
    with pytest.raises(InvalidTransition, match="returned"):
        spec.when(CloseIncident())


# --- hand down ----------------------------------------------------------------------------


def test_hand_down_defaults_to_the_places_community(spec: Spec) -> None:
    spec.given(signed_at_street())
    spec.when(HandDown())
    state = spec.then(IncidentHandedDown(LIDU))
    assert (state.status, state.unit) == (Status.HANDED_DOWN, LIDU)


def test_hand_down_to_a_named_community_of_the_street(spec: Spec) -> None:
    spec.given(signed_at_street())
    spec.when(HandDown(HUAQIAO, note="丽都人手不足"))
    spec.then(IncidentHandedDown(HUAQIAO, note="丽都人手不足"))


def test_hand_down_to_a_community_outside_the_units_subtree_is_refused(spec: Spec) -> None:
    spec.given(signed_at_street())
    error = refused(spec, HandDown(WANGHAI), "community")
    assert WANGHAI in error.message


@pytest.mark.parametrize("unit", [CHENQIAO, BINJIANG, MARKET, DISTRICT])
def test_hand_down_to_a_unit_that_is_not_a_community_is_refused(spec: Spec, unit: str) -> None:
    spec.given(signed_at_street())
    refused(spec, HandDown(unit), "community")


def test_hand_down_by_default_when_the_place_is_the_street_is_refused(spec: Spec) -> None:
    command = work_order("陈桥街道")
    spec.given(
        [
            reported(command, CHENQIAO),
            IncidentDispatched(CHENQIAO, Level.STREET),
            IncidentSignedFor(CHENQIAO),
        ]
    )
    refused(spec, HandDown(), "community")


def test_department_has_no_community_to_hand_down_to(spec: Spec) -> None:
    spec.given(
        [
            *dispatched_to_street(),
            IncidentDispatched(MARKET, Level.DEPARTMENT),
            IncidentSignedFor(MARKET),
        ]
    )
    refused(spec, HandDown(), "community")


def test_hand_down_to_an_unknown_unit_raises_unknown_place(spec: Spec) -> None:
    spec.given(signed_at_street())
    with pytest.raises(UnknownPlace):
        spec.when(HandDown("gangwen/chenqiao/nowhere"))


# --- resolve ------------------------------------------------------------------------------


def test_resolve_at_the_street_after_signing(spec: Spec) -> None:
    spec.given(signed_at_street())
    spec.when(ResolveIncident(SUMMARY, OFFICER))
    state = spec.then(IncidentResolved(CHENQIAO, SUMMARY, OFFICER))
    assert (state.status, state.resolution, state.signed_off_by) == (
        Status.RESOLVED,
        SUMMARY,
        OFFICER,
    )


def test_resolve_at_the_community_after_hand_down(spec: Spec) -> None:
    spec.given(handed_down_to_lidu())
    spec.when(ResolveIncident(SUMMARY, OFFICER))
    state = spec.then(IncidentResolved(LIDU, SUMMARY, OFFICER))
    assert (state.status, state.unit) == (Status.RESOLVED, LIDU)


def test_night_emergency_is_resolved_by_the_community(spec: Spec) -> None:
    spec.given(night_emergency_at_lidu())
    spec.when(ResolveIncident("23:20 已送去新体温计", "丽都社区 值班 刘"))
    spec.then(IncidentResolved(LIDU, "23:20 已送去新体温计", "丽都社区 值班 刘"))


@pytest.mark.parametrize("summary", ["", "  "])
def test_resolve_without_summary_is_refused(spec: Spec, summary: str) -> None:
    spec.given(handed_down_to_lidu())
    refused(spec, ResolveIncident(summary, OFFICER), "summary")


@pytest.mark.parametrize("officer", ["", "  "])
def test_resolve_without_sign_off_is_refused(spec: Spec, officer: str) -> None:
    spec.given(handed_down_to_lidu())
    refused(spec, ResolveIncident(SUMMARY, officer), "signed_off_by")


# --- return visit and close ---------------------------------------------------------------


@pytest.mark.parametrize("result", [Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED])
def test_satisfied_return_visit_closes_the_incident(spec: Spec, result: Satisfaction) -> None:
    spec.given(resolved_at_lidu())
    spec.when(RecordReturnVisit(result, note="回访"))
    state = spec.then(
        ReturnVisitRecorded(result, note="回访"), IncidentClosed(f"return visit: {result.value}")
    )
    assert (state.status, state.satisfaction, state.reopened) == (Status.CLOSED, result, 0)


def test_closing_without_a_return_visit_says_why(spec: Spec) -> None:
    spec.given(resolved_at_lidu())
    with pytest.raises(DomainError) as raised:
        spec.when(CloseIncident())
    assert raised.value.field == "note"
    spec.when(CloseIncident(note="三次回访未接通"))
    assert spec.then(IncidentClosed(note="三次回访未接通")).status is Status.CLOSED


def test_unsatisfied_return_visit_reopens_at_the_community(spec: Spec) -> None:
    spec.given(resolved_at_lidu())
    spec.when(RecordReturnVisit(Satisfaction.UNSATISFIED))
    state = spec.then(
        ReturnVisitRecorded(Satisfaction.UNSATISFIED), IncidentReopened(LIDU, Level.COMMUNITY)
    )
    assert (state.status, state.unit, state.reopened) == (Status.HANDED_DOWN, LIDU, 1)
    assert (state.resolution, state.signed_off_by) == ("", "")
    assert state.satisfaction is None, "a reopened order awaits a new return visit"


def test_unsatisfied_return_visit_reopens_at_the_street(spec: Spec) -> None:
    spec.given(resolved_at_street())
    spec.when(RecordReturnVisit(Satisfaction.UNSATISFIED))
    state = spec.then(
        ReturnVisitRecorded(Satisfaction.UNSATISFIED), IncidentReopened(CHENQIAO, Level.STREET)
    )
    assert (state.status, state.unit, state.reopened) == (Status.SIGNED, CHENQIAO, 1)


def test_unsatisfied_return_visit_reopens_at_the_department(spec: Spec) -> None:
    command = work_order(MARKET)
    spec.given(
        [
            reported(command, MARKET),
            IncidentDispatched(MARKET, Level.DEPARTMENT),
            IncidentSignedFor(MARKET),
            IncidentResolved(MARKET, SUMMARY, OFFICER),
        ]
    )
    spec.when(RecordReturnVisit(Satisfaction.UNSATISFIED))
    state = spec.then(
        ReturnVisitRecorded(Satisfaction.UNSATISFIED), IncidentReopened(MARKET, Level.DEPARTMENT)
    )
    assert (state.status, state.unit) == (Status.SIGNED, MARKET)


def test_each_reopening_is_counted(spec: Spec) -> None:
    once = [
        *resolved_at_lidu(),
        ReturnVisitRecorded(Satisfaction.UNSATISFIED),
        IncidentReopened(LIDU, Level.COMMUNITY),
        IncidentResolved(LIDU, SUMMARY, OFFICER),
    ]
    spec.given(once)
    spec.when(RecordReturnVisit(Satisfaction.UNSATISFIED))
    state = spec.then(
        ReturnVisitRecorded(Satisfaction.UNSATISFIED), IncidentReopened(LIDU, Level.COMMUNITY)
    )
    assert state.reopened == 2


def test_close_after_a_satisfied_return_visit(spec: Spec) -> None:
    spec.given(visited())
    spec.when(CloseIncident(note="结案"))
    state = spec.then(IncidentClosed(note="结案"))
    assert state.status is Status.CLOSED


# --- impossible transitions ---------------------------------------------------------------

HISTORIES: dict[Status, Callable[[], list[Event]]] = {
    Status.NEW: list,
    Status.DISPATCHED: dispatched_to_street,
    Status.SIGNED: signed_at_street,
    Status.RETURNED: returned_to_district,
    Status.HANDED_DOWN: handed_down_to_lidu,
    Status.CLAIMED: claimed_at_lidu,
    Status.RESOLVED: resolved_at_lidu,
    Status.VISITED: visited,
    Status.CLOSED: closed,
}

COMMANDS: dict[str, Command] = {
    "report": supply_delivery(),
    "dispatch": DispatchIncident(MARKET),
    "sign for": SignFor(),
    "return": ReturnIncident(REASON),
    "hand down": HandDown(HUAQIAO),
    "claim": ClaimIncident("volunteer-2"),
    "release": ReleaseIncident(VOLUNTEER),
    "expire the claim of": ExpireClaim(VOLUNTEER),
    "resolve": ResolveIncident(SUMMARY, OFFICER),
    "record a return visit for": RecordReturnVisit(Satisfaction.SATISFIED),
    "close": CloseIncident(note="回访未接通, 结案"),
}

# Written out by hand from DOMAIN.md's life of a work order, not read from the code.
ALLOWED: dict[Status, set[str]] = {
    Status.NEW: {"report"},
    Status.DISPATCHED: {"dispatch", "sign for", "return"},
    Status.SIGNED: {"hand down", "resolve"},
    Status.RETURNED: {"dispatch"},
    Status.HANDED_DOWN: {"claim", "resolve"},
    Status.CLAIMED: {"release", "expire the claim of", "resolve"},
    Status.RESOLVED: {"record a return visit for", "close"},
    Status.VISITED: {"close"},
    Status.CLOSED: set(),
}


def test_histories_reach_the_status_they_are_named_for() -> None:
    for status, history in HISTORIES.items():
        assert fold(history()).status is status


@pytest.mark.parametrize(
    ("status", "verb"),
    [(s, v) for s in Status for v in COMMANDS if v in ALLOWED[s]],
    ids=str,
)
def test_allowed_transition_produces_events(ctx: Context, status: Status, verb: str) -> None:
    assert decide(fold(HISTORIES[status]()), COMMANDS[verb], ctx)


@pytest.mark.parametrize(
    ("status", "verb"),
    [
        (s, v)
        for s in Status
        for v in COMMANDS
        if v not in ALLOWED[s] and (s, v) != (Status.CLAIMED, "claim")
    ],
    ids=str,
)
def test_impossible_transition_names_the_current_state(
    ctx: Context, status: Status, verb: str
) -> None:
    with pytest.raises(InvalidTransition) as raised:
        decide(fold(HISTORIES[status]()), COMMANDS[verb], ctx)
    assert raised.value.state == status.value
    assert raised.value.command == verb
    assert raised.value.message == f"cannot {verb} an incident that is {status.value}"
    assert raised.value.field == "state"


@pytest.mark.parametrize("command", list(COMMANDS.values()), ids=list(COMMANDS))
def test_closed_incident_accepts_no_command(ctx: Context, command: Command) -> None:
    with pytest.raises(InvalidTransition, match="closed"):
        decide(fold(closed()), command, ctx)


# --- claims -------------------------------------------------------------------------------


def test_claim_holds_the_order_for_the_lease_of_its_kind(spec: Spec) -> None:
    spec.given(handed_down_to_lidu())
    spec.when(ClaimIncident("volunteer-2"))
    state = spec.then(IncidentClaimed("volunteer-2", LIDU, NOW + timedelta(minutes=30)))
    assert (state.status, state.holder) == (Status.CLAIMED, "volunteer-2")


def test_night_emergency_lease_is_shorter(spec: Spec) -> None:
    spec.given(night_emergency_at_lidu())
    spec.when(ClaimIncident(VOLUNTEER))
    spec.then(IncidentClaimed(VOLUNTEER, LIDU, NOW + timedelta(minutes=10)))


def test_second_claim_of_same_order_conflicts(ctx: Context) -> None:
    with pytest.raises(AlreadyClaimed, match=VOLUNTEER) as raised:
        decide(fold(claimed_at_lidu()), ClaimIncident("volunteer-2"), ctx)
    assert raised.value.field == "holder"


def test_claim_needs_the_time(jurisdiction: Any) -> None:
    with pytest.raises(ValueError, match="now"):
        decide(fold(handed_down_to_lidu()), ClaimIncident(VOLUNTEER), Context(jurisdiction))


def test_holder_releases_back_to_the_queue(spec: Spec) -> None:
    spec.given(claimed_at_lidu())
    spec.when(ReleaseIncident(VOLUNTEER, "家中有事"))
    state = spec.then(IncidentReleased(VOLUNTEER, "家中有事"))
    assert (state.status, state.holder, state.lease_expires_at) == (Status.HANDED_DOWN, "", None)


def test_someone_else_cannot_release_without_override(spec: Spec) -> None:
    spec.given(claimed_at_lidu())
    with pytest.raises(NotAllowed, match=VOLUNTEER):
        spec.when(ReleaseIncident("volunteer-2"))
    spec.when(ReleaseIncident("handler-1", override=True))
    spec.then(IncidentReleased(VOLUNTEER))


def test_expired_lease_returns_the_order(spec: Spec) -> None:
    spec.given(claimed_at_lidu())
    spec.when(ExpireClaim(VOLUNTEER))
    assert spec.then(ClaimExpired(VOLUNTEER)).status is Status.HANDED_DOWN


def test_running_lease_does_not_expire(spec: Spec) -> None:
    spec.given(claimed_at_lidu(lease_expires_at=NOW + timedelta(seconds=1)))
    with pytest.raises(DomainError, match="not run out"):
        spec.when(ExpireClaim(VOLUNTEER))


def test_expiry_of_an_old_claim_does_not_touch_a_new_one(spec: Spec) -> None:
    spec.given(claimed_at_lidu())
    with pytest.raises(DomainError, match=VOLUNTEER):
        spec.when(ExpireClaim("volunteer-2"))


def test_only_the_holder_resolves_a_claimed_order_as_field_staff(spec: Spec) -> None:
    spec.given(claimed_at_lidu())
    with pytest.raises(NotAllowed):
        spec.when(ResolveIncident(SUMMARY, OFFICER, by="volunteer-2"))
    spec.when(ResolveIncident(SUMMARY, OFFICER, by=VOLUNTEER))
    state = spec.then(IncidentResolved(LIDU, SUMMARY, OFFICER))
    assert (state.holder, state.lease_expires_at) == ("", None)


def test_night_emergency_at_a_community_cannot_be_signed_for_or_returned(spec: Spec) -> None:
    spec.given(night_emergency_at_lidu())
    for command in (SignFor(), ReturnIncident(REASON), HandDown(LIDU)):
        with pytest.raises(InvalidTransition, match="handed_down"):
            spec.when(command)


def test_unknown_command_type_is_a_type_error(ctx: Context) -> None:
    with pytest.raises(TypeError):
        decide(Incident(), object(), ctx)  # type: ignore[arg-type]


# --- versions -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(Status))
def test_fold_counts_one_version_per_event(status: Status) -> None:
    events = HISTORIES[status]()
    assert fold(events).version == len(events)


def test_fold_continues_counting_from_a_given_state() -> None:
    events = resolved_at_lidu()
    middle = fold(events[:3])
    assert fold(events[3:], middle) == fold(events)
    assert fold(events[3:], middle).version == len(events)


def test_evolve_leaves_the_version_to_fold() -> None:
    events = dispatched_to_street()
    assert evolve(fold(events[:1]), events[1]).version == 1


def test_new_incident_is_at_version_zero() -> None:
    assert fold([]) == Incident()
    assert fold([]).version == 0


def test_repeated_report_is_refused(spec: Spec) -> None:
    spec.given(dispatched_to_street())
    with pytest.raises(InvalidTransition, match="dispatched"):
        spec.when(work_order())
