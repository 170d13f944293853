"""Invariants of the incident aggregate under any sequence of commands, valid or not."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from functools import cache

from builders import MASKS, QUARANTINED, REPORTER, load_jurisdiction, load_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coordination.domain.commands import (
    CloseIncident,
    Command,
    DispatchIncident,
    HandDown,
    RecordReturnVisit,
    ReportIncident,
    ResolveIncident,
    ReturnIncident,
    SignFor,
)
from coordination.domain.context import Context
from coordination.domain.errors import DomainError, InvalidTransition
from coordination.domain.events import Event, IncidentClosed
from coordination.domain.incident import Incident, decide, evolve, fold
from coordination.domain.units import Level
from coordination.domain.values import Category, Kind, Priority, Satisfaction, Status

JURISDICTION = load_jurisdiction()
CTX = Context(JURISDICTION)
UNITS = sorted(JURISDICTION.units)
PLACES = sorted(load_tree()["places"])
UNKNOWN = ["月亮湾", "gangwen/nowhere", "haixi", ""]

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

places = st.sampled_from(PLACES + UNITS + UNKNOWN)
units = st.sampled_from(UNITS + UNKNOWN)
texts = st.sampled_from(["", "   ", "不属于本单位", "已办结", "张主任"])

reports = st.builds(
    ReportIncident,
    incident_id=st.just("inc-1"),
    kind=st.sampled_from(Kind),
    title=st.just("来电"),
    place=places,
    reporter=st.just(REPORTER),
    priority=st.sampled_from(Priority),
    epidemic=st.booleans(),
    category=st.none() | st.sampled_from(Category),
    items=st.sampled_from([(), MASKS]),
    person=st.sampled_from([None, QUARANTINED]),
)

commands: st.SearchStrategy[Command] = st.one_of(
    reports,
    st.builds(DispatchIncident, unit=units, note=texts),
    st.builds(SignFor, note=texts),
    st.builds(ReturnIncident, reason=texts),
    st.builds(HandDown, community=st.none() | units, note=texts),
    st.builds(ResolveIncident, summary=texts, signed_off_by=texts),
    st.builds(RecordReturnVisit, result=st.sampled_from(Satisfaction), note=texts),
    st.builds(CloseIncident, note=texts),
)

valid_reports = st.builds(
    ReportIncident,
    incident_id=st.just("inc-1"),
    kind=st.sampled_from(Kind),
    title=st.just("来电"),
    place=st.sampled_from(PLACES),
    reporter=st.just(REPORTER),
    category=st.just(Category.TIP),
    items=st.just(MASKS),
    person=st.just(QUARANTINED),
)


RESOLVE = ResolveIncident("已办结", "张主任")

NEXT_STEPS: dict[Status, st.SearchStrategy[Command]] = {
    Status.NEW: valid_reports,
    Status.DISPATCHED: st.sampled_from([SignFor(), ReturnIncident("不属于本单位")])
    | st.builds(DispatchIncident, unit=units),
    Status.RETURNED: st.builds(DispatchIncident, unit=units),
    Status.HANDED_DOWN: st.just(RESOLVE),
    Status.RESOLVED: st.builds(RecordReturnVisit, result=st.sampled_from(Satisfaction)),
    Status.VISITED: st.just(CloseIncident()),
    Status.CLOSED: commands,
}


@cache
def next_steps(status: Status, unit: str) -> st.SearchStrategy[Command]:
    """A move a coordinator would plausibly try next, or any command at all.

    Biased this way, sequences reach the late states instead of stalling at the first refusal.
    """
    if status is Status.SIGNED:
        below = [HandDown(u) for u in UNITS if u.startswith(unit + "/")]
        plausible = st.sampled_from([HandDown(), RESOLVE, *below])
    else:
        plausible = NEXT_STEPS[status]
    return plausible | commands


@st.composite
def sequences(draw: st.DrawFn, max_size: int = 20) -> list[Command]:
    """Random commands, valid or not, each drawn knowing only the status it meets."""
    state, sequence = Incident(), []
    for _ in range(draw(st.integers(min_value=0, max_value=max_size))):
        command = draw(next_steps(state.status, state.unit))
        sequence.append(command)
        with contextlib.suppress(DomainError):
            state = fold(decide(state, command, CTX), state)
    return sequence


def run(sequence: list[Command]) -> tuple[Incident, list[Event]]:
    """Apply every command in turn, checking the invariants after each step."""
    state, history = Incident(), []
    for command in sequence:
        before = state
        try:
            produced = decide(state, command, CTX)
        except DomainError as error:
            if before.status is Status.CLOSED:
                assert isinstance(error, InvalidTransition)
            continue
        assert produced, "a decision that is not refused produces events"
        assert before.status is not Status.CLOSED, "a closed incident accepts no command"
        if before.status is Status.RETURNED:
            assert not any(isinstance(e, IncidentClosed) for e in produced)
        state = fold(produced, state)
        history += produced
        check(state, history)
    return state, history


def check(state: Incident, history: list[Event]) -> None:
    assert state.version == len(history)
    assert state.status is not Status.NEW
    assert state.unit in JURISDICTION
    assert JURISDICTION.get(state.district).level is Level.DISTRICT
    assert JURISDICTION.within(state.unit, state.district)
    if state.status is Status.HANDED_DOWN:
        assert JURISDICTION.get(state.unit).level is Level.COMMUNITY
    if state.status is Status.RETURNED:
        assert state.unit == state.district
    if state.status is Status.VISITED:
        assert state.satisfaction in {Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED}


def statuses(history: list[Event]) -> list[Status]:
    """The status after each event, starting from a new incident."""
    state, seen = Incident(), [Status.NEW]
    for event in history:
        state = evolve(state, event)
        seen.append(state.status)
    return seen


@SETTINGS
@given(sequences())
def test_invariants_hold_after_every_command(sequence: list[Command]) -> None:
    run(sequence)


@SETTINGS
@given(sequences())
def test_the_only_way_to_closed_is_after_resolution(sequence: list[Command]) -> None:
    _, history = run(sequence)
    seen = statuses(history)
    for before, after in zip(seen, seen[1:], strict=False):
        if after is Status.CLOSED:
            assert before in (Status.VISITED, Status.RESOLVED)
        if before is Status.RETURNED:
            assert after is not Status.CLOSED


@SETTINGS
@given(sequences())
def test_replay_equals_live(sequence: list[Command]) -> None:
    live, history = run(sequence)
    assert fold(history) == live


@SETTINGS
@given(sequences(), st.integers(min_value=0))
def test_fold_equals_evolve_stepwise(sequence: list[Command], cut: int) -> None:
    _, history = run(sequence)
    stepwise = Incident()
    for event in history:
        stepwise = evolve(stepwise, event)
    folded = fold(history)
    assert replace(folded, version=0) == stepwise
    assert folded.version == len(history)
    cut = cut % (len(history) + 1)
    assert fold(history[cut:], fold(history[:cut])) == folded
