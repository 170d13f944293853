"""The incident aggregate: its state, and the rules between commands and events.

``decide(state, command, ctx)`` turns a command into events or raises a ``DomainError``;
``evolve(state, event)`` folds one event into the state. Neither does any I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from functools import singledispatch
from typing import Any

from coordination.domain.commands import (
    ClaimIncident,
    CloseIncident,
    Command,
    DispatchIncident,
    ExpireClaim,
    HandDown,
    LinkCall,
    RecordBreach,
    RecordReturnVisit,
    ReleaseIncident,
    ReportIncident,
    ResolveIncident,
    ReturnIncident,
    SignFor,
    TakeOverClaim,
)
from coordination.domain.context import Context
from coordination.domain.deadlines import DeadlineKind, Deadlines
from coordination.domain.errors import AlreadyClaimed, DomainError, InvalidTransition, NotAllowed
from coordination.domain.events import (
    ClaimExpired,
    ClaimTakenOver,
    DeadlineBreached,
    DuplicateCallLinked,
    Event,
    IncidentClaimed,
    IncidentClosed,
    IncidentDispatched,
    IncidentEscalated,
    IncidentHandedDown,
    IncidentReleased,
    IncidentReopened,
    IncidentReported,
    IncidentResolved,
    IncidentReturned,
    IncidentSignedFor,
    ReturnVisitRecorded,
)
from coordination.domain.units import ROOT_LEVELS, Level
from coordination.domain.values import (
    Category,
    Contact,
    Kind,
    Priority,
    Satisfaction,
    Status,
    SupplyItem,
)


@dataclass(frozen=True)
class Incident:
    """The state of one incident, folded from its events."""

    id: str = ""
    version: int = 0
    status: Status = Status.NEW
    kind: Kind | None = None
    title: str = ""
    description: str = ""
    place: str = ""
    place_unit: str = ""
    address: str = ""
    priority: Priority = Priority.NORMAL
    epidemic: bool = False
    category: Category | None = None
    items: tuple[SupplyItem, ...] = ()
    reporter: Contact | None = None
    person: Contact | None = None
    home_quarantine: bool = False
    unit: str = ""
    district: str = ""
    return_reason: str = ""
    resolution: str = ""
    signed_off_by: str = ""
    satisfaction: Satisfaction | None = None
    reopened: int = 0
    holder: str = ""
    lease_expires_at: datetime | None = None
    deadlines: Deadlines = Deadlines()
    breached: tuple[DeadlineKind, ...] = ()
    escalated_to: str = ""
    on_duty: tuple[str, ...] = ()
    callers: tuple[Contact, ...] = ()  # repeated calls (重复件) linked to it, in order

    @property
    def risky(self) -> bool:
        """Risky work, for trained staff only: a quarantine visit, or a delivery to a household
        under home quarantine."""
        return is_risky(self.kind, self.home_quarantine)


def is_risky(kind: Kind | None, home_quarantine: bool) -> bool:
    return kind is Kind.QUARANTINE_VISIT or (kind is Kind.SUPPLY_DELIVERY and home_quarantine)


def fold(events: Iterable[Event], state: Incident | None = None) -> Incident:
    """The state after applying ``events`` in order to ``state`` (a new incident by default)."""
    state = state or Incident()
    for event in events:
        state = _with(evolve(state, event), version=state.version + 1)
    return state


_FIELDS = frozenset(f.name for f in fields(Incident))


def _with(state: Incident, **changes: Any) -> Incident:
    """``dataclasses.replace`` without its walk over every field and ``__init__``: folding and
    projecting call it for every event."""
    assert changes.keys() <= _FIELDS, changes.keys() - _FIELDS
    new = object.__new__(Incident)
    new.__dict__.update(state.__dict__, **changes)
    return new


# --- decide -------------------------------------------------------------------------------


def decide(state: Incident, command: Command, ctx: Context) -> list[Event]:
    """The events that carrying out ``command`` on ``state`` produces."""
    return _decide(command, state, ctx)


def _require(state: Incident, command: str, *allowed: Status) -> None:
    if state.status not in allowed:
        raise InvalidTransition(command, state.status.value)


@singledispatch
def _decide(command: object, state: Incident, ctx: Context) -> list[Event]:
    raise TypeError(f"unknown command {type(command).__name__}")


@_decide.register
def _report(command: ReportIncident, state: Incident, ctx: Context) -> list[Event]:
    _require(state, "report", Status.NEW)
    place_unit = ctx.jurisdiction.resolve(command.place)
    if place_unit.level in ROOT_LEVELS:
        raise DomainError(
            f"place {command.place!r} is the whole {place_unit.level.value}; name a street, "
            "department, community or a place within one",
            field="place",
        )
    if command.kind is Kind.SUPPLY_DELIVERY and not command.items:
        raise DomainError("a supply delivery lists at least one item", field="items")
    if command.kind is Kind.QUARANTINE_VISIT and command.person is None:
        raise DomainError("a quarantine visit names the person under quarantine", field="person")
    if command.home_quarantine and command.kind is not Kind.SUPPLY_DELIVERY:
        raise DomainError(
            "home_quarantine marks a supply delivery to a quarantined household",
            field="home_quarantine",
        )
    if command.kind is Kind.WORK_ORDER and command.category is None:
        raise DomainError("a work order has a category", field="category")
    if command.kind is Kind.NIGHT_EMERGENCY and place_unit.level is Level.COMMUNITY:
        target = place_unit
    else:
        target = ctx.jurisdiction.handling_unit_for(place_unit.id)
    reported = IncidentReported(
        incident_id=command.incident_id,
        kind=command.kind,
        title=command.title,
        place=command.place,
        place_unit=place_unit.id,
        district=ctx.jurisdiction.district_of(place_unit.id),
        reporter=command.reporter,
        description=command.description,
        address=command.address,
        priority=command.priority,
        epidemic=command.epidemic,
        category=command.category,
        items=command.items,
        person=command.person,
        home_quarantine=command.home_quarantine,
    )
    deadlines = ctx.deadlines_on_dispatch(command.kind, target.level, command.epidemic)
    on_duty = command.on_duty or ()
    events: list[Event] = [
        reported,
        IncidentDispatched(target.id, target.level, deadlines=deadlines, on_duty=on_duty),
    ]
    if target.level is Level.COMMUNITY and command.on_duty == () and target.parent:
        # Nobody to send tonight: the street sees to it at once.
        events.append(IncidentEscalated(target.id, target.parent, reason="nobody on duty"))
    return events


@_decide.register
def _dispatch(command: DispatchIncident, state: Incident, ctx: Context) -> list[Event]:
    _require(state, "dispatch", Status.DISPATCHED, Status.RETURNED)
    target = ctx.jurisdiction.get(command.unit)
    if target.level is Level.DISTRICT or not ctx.jurisdiction.within(target.id, state.district):
        raise DomainError(
            f"cannot dispatch to {target.id}: not a unit under {state.district}", field="unit"
        )
    if state.status is Status.DISPATCHED and target.id == state.unit:
        raise DomainError(f"already dispatched to {target.id}", field="unit")
    deadlines = ctx.deadlines_on_dispatch(state.kind, target.level, state.epidemic)
    return [IncidentDispatched(target.id, target.level, command.note, deadlines)]


@_decide.register
def _sign_for(command: SignFor, state: Incident, ctx: Context) -> list[Event]:
    _require(state, "sign for", Status.DISPATCHED)
    return [IncidentSignedFor(unit=state.unit, note=command.note)]


@_decide.register
def _return(command: ReturnIncident, state: Incident, ctx: Context) -> list[Event]:
    _require(state, "return", Status.DISPATCHED)
    if not command.reason.strip():
        raise DomainError("a return gives its reason", field="reason")
    return [IncidentReturned(unit=state.unit, to_unit=state.district, reason=command.reason)]


@_decide.register
def _hand_down(command: HandDown, state: Incident, ctx: Context) -> list[Event]:
    _require(state, "hand down", Status.SIGNED)
    community = command.community or state.place_unit
    unit = ctx.jurisdiction.get(community, "community")
    if unit.level is not Level.COMMUNITY or not ctx.jurisdiction.within(unit.id, state.unit):
        raise DomainError(
            f"cannot hand down to {community}: not a community under {state.unit}",
            field="community",
        )
    return [IncidentHandedDown(unit=unit.id, note=command.note)]


@_decide.register
def _claim(command: ClaimIncident, state: Incident, ctx: Context) -> list[Event]:
    if state.status is Status.CLAIMED:
        raise AlreadyClaimed(state.holder)
    _require(state, "claim", Status.HANDED_DOWN)
    expires = ctx.clock() + ctx.leases.for_kind(state.kind)
    return [IncidentClaimed(holder=command.holder, unit=state.unit, lease_expires_at=expires)]


@_decide.register
def _take_over(command: TakeOverClaim, state: Incident, ctx: Context) -> list[Event]:
    _require(state, "take over", Status.CLAIMED)
    if not state.risky:
        raise NotAllowed(
            "only risky work (a quarantine visit, a delivery to a quarantined household) is "
            "taken over; release it instead",
            "kind",
        )
    if command.holder == state.holder:
        raise DomainError(f"{command.holder} holds it already", field="holder")
    expires = ctx.clock() + ctx.leases.for_kind(state.kind)
    return [ClaimTakenOver(state.holder, command.holder, expires)]


@_decide.register
def _release(command: ReleaseIncident, state: Incident, ctx: Context) -> list[Event]:
    _require(state, "release", Status.CLAIMED)
    if command.by != state.holder and not command.override:
        raise NotAllowed(f"held by {state.holder}, not {command.by}", field="holder")
    return [IncidentReleased(holder=state.holder, reason=command.reason)]


@_decide.register
def _expire(command: ExpireClaim, state: Incident, ctx: Context) -> list[Event]:
    _require(state, "expire the claim of", Status.CLAIMED)
    if command.holder != state.holder:
        raise DomainError(f"claimed again, now by {state.holder}", field="holder")
    if state.lease_expires_at is None or state.lease_expires_at > ctx.clock():
        raise DomainError("the lease has not run out", field="lease_expires_at")
    return [ClaimExpired(holder=state.holder)]


def _check_holds(state: Incident, worker: str) -> None:
    """A field worker resolves only what they have claimed, not what waits in the queue (a
    quarantine visit they could not claim, say); a handler resolves on the unit's behalf."""
    if state.status is not Status.CLAIMED:
        raise NotAllowed(f"{worker} has not claimed it: claim it first", field="holder")
    if state.holder != worker:
        raise NotAllowed(f"held by {state.holder}, not {worker}", field="holder")


@_decide.register
def _resolve(command: ResolveIncident, state: Incident, ctx: Context) -> list[Event]:
    _require(state, "resolve", Status.SIGNED, Status.HANDED_DOWN, Status.CLAIMED)
    if command.by:
        _check_holds(state, command.by)
    if not command.summary.strip():
        raise DomainError("a resolution says what was done", field="summary")
    if not command.signed_off_by.strip():
        raise DomainError(
            "a resolution carries the responsible officer's sign-off", "signed_off_by"
        )
    return [
        IncidentResolved(
            unit=state.unit, summary=command.summary, signed_off_by=command.signed_off_by
        )
    ]


@_decide.register
def _visit(command: RecordReturnVisit, state: Incident, ctx: Context) -> list[Event]:
    _require(state, "record a return visit for", Status.RESOLVED)
    visited = ReturnVisitRecorded(result=command.result, note=command.note)
    if command.result is Satisfaction.UNSATISFIED:
        level = ctx.jurisdiction.get(state.unit).level
        deadlines = ctx.deadlines_on_reopen(state.kind, level, state.epidemic)
        return [visited, IncidentReopened(state.unit, level, deadlines)]
    return [visited, IncidentClosed(note="return visit: " + command.result.value)]


@_decide.register
def _close(command: CloseIncident, state: Incident, ctx: Context) -> list[Event]:
    """Close without a satisfied call-back: the resident could not be reached, say."""
    _require(state, "close", Status.RESOLVED, Status.VISITED)
    if state.status is Status.RESOLVED and not command.note.strip():
        raise DomainError("closing without a return visit says why", field="note")
    return [IncidentClosed(note=command.note)]


@_decide.register
def _link(command: LinkCall, state: Incident, ctx: Context) -> list[Event]:
    """A repeated call joins the order it repeats while the order is open; a call about a
    place in another district is that district's to take."""
    if state.status in (Status.NEW, Status.CLOSED):
        raise InvalidTransition("link a call to", state.status.value)
    if command.place:
        called_about = ctx.jurisdiction.district_of(ctx.jurisdiction.resolve(command.place).id)
        if called_about != state.district:
            raise DomainError(
                f"the call is about {command.place} in {called_about}, the order is in "
                f"{state.district}: a call is linked only to an order of its own district",
                field="place",
            )
    return [DuplicateCallLinked(caller=command.caller, place=command.place, note=command.note)]


def pending_deadlines(state: Incident) -> dict[DeadlineKind, datetime]:
    """The deadlines still running whose breach is not yet recorded."""
    running = running_deadlines(state)
    return {kind: at for kind, at in running.items() if kind not in state.breached}


def running_deadlines(state: Incident) -> dict[DeadlineKind, datetime]:
    """The deadlines whose work is not yet done (each ends when it is), breached or not."""
    pending: dict[DeadlineKind, datetime] = {}
    due = state.deadlines
    if state.status is Status.DISPATCHED and due.sign_by is not None:
        pending[DeadlineKind.SIGN] = due.sign_by
    if state.status is Status.HANDED_DOWN and due.claim_by is not None:
        pending[DeadlineKind.CLAIM] = due.claim_by
    if state.status in OPEN_AT_A_UNIT and due.resolve_by is not None:
        pending[DeadlineKind.RESOLVE] = due.resolve_by
    return pending


@_decide.register
def _breach(command: RecordBreach, state: Incident, ctx: Context) -> list[Event]:
    due = pending_deadlines(state).get(command.deadline)
    if due is None:
        raise DomainError(f"no {command.deadline.value} deadline is running", "deadline")
    if due > ctx.clock():
        raise DomainError(f"{command.deadline.value} is not due until {due}", "deadline")
    unit = ctx.jurisdiction.get(state.unit)
    above = unit.parent or unit.id  # the district has nobody above it: it sees to it itself
    return [
        DeadlineBreached(command.deadline, due, unit.id),
        IncidentEscalated(unit.id, above, command.deadline),
    ]


# --- evolve -------------------------------------------------------------------------------


def evolve(state: Incident, event: Event) -> Incident:
    """The state after one event; the version is counted by ``fold``."""
    return _evolve(event, state)


@singledispatch
def _evolve(event: object, state: Incident) -> Incident:
    raise TypeError(f"unknown event {type(event).__name__}")


OPEN_AT_A_UNIT = frozenset({Status.DISPATCHED, Status.SIGNED, Status.HANDED_DOWN, Status.CLAIMED})


def _status_at(level: Level) -> Status:
    return Status.HANDED_DOWN if level is Level.COMMUNITY else Status.DISPATCHED


@_evolve.register
def _(event: IncidentReported, state: Incident) -> Incident:
    return _with(
        state,
        id=event.incident_id,
        kind=event.kind,
        title=event.title,
        description=event.description,
        place=event.place,
        place_unit=event.place_unit,
        address=event.address,
        priority=event.priority,
        epidemic=event.epidemic,
        category=event.category,
        items=event.items,
        reporter=event.reporter,
        person=event.person,
        home_quarantine=event.home_quarantine,
        unit=event.district,
        district=event.district,
    )


@_evolve.register
def _(event: IncidentDispatched, state: Incident) -> Incident:
    return _with(
        state,
        status=_status_at(event.level),
        unit=event.unit,
        return_reason="",
        deadlines=event.deadlines,
        breached=(),
        escalated_to="",
        on_duty=event.on_duty,
    )


@_evolve.register
def _(event: IncidentSignedFor, state: Incident) -> Incident:
    return _with(state, status=Status.SIGNED)


@_evolve.register
def _(event: IncidentReturned, state: Incident) -> Incident:
    return _with(state, status=Status.RETURNED, unit=event.to_unit, return_reason=event.reason)


@_evolve.register
def _(event: IncidentHandedDown, state: Incident) -> Incident:
    return _with(state, status=Status.HANDED_DOWN, unit=event.unit)


@_evolve.register
def _(event: IncidentClaimed, state: Incident) -> Incident:
    return _with(
        state,
        status=Status.CLAIMED,
        holder=event.holder,
        lease_expires_at=event.lease_expires_at,
    )


@_evolve.register
def _(event: ClaimTakenOver, state: Incident) -> Incident:
    return _with(state, holder=event.holder, lease_expires_at=event.lease_expires_at)


@_evolve.register
def _(event: IncidentReleased | ClaimExpired, state: Incident) -> Incident:
    return _with(state, status=Status.HANDED_DOWN, holder="", lease_expires_at=None)


@_evolve.register
def _(event: IncidentResolved, state: Incident) -> Incident:
    return _with(
        state,
        status=Status.RESOLVED,
        holder="",
        lease_expires_at=None,
        resolution=event.summary,
        signed_off_by=event.signed_off_by,
    )


@_evolve.register
def _(event: ReturnVisitRecorded, state: Incident) -> Incident:
    return _with(state, status=Status.VISITED, satisfaction=event.result)


@_evolve.register
def _(event: IncidentReopened, state: Incident) -> Incident:
    status = Status.HANDED_DOWN if event.level is Level.COMMUNITY else Status.SIGNED
    return _with(
        state,
        status=status,
        unit=event.unit,
        reopened=state.reopened + 1,
        satisfaction=None,
        deadlines=event.deadlines,
        breached=(),
        escalated_to="",
        resolution="",
        signed_off_by="",
    )


@_evolve.register
def _(event: IncidentClosed, state: Incident) -> Incident:
    return _with(state, status=Status.CLOSED)


@_evolve.register
def _(event: DeadlineBreached, state: Incident) -> Incident:
    return _with(state, breached=(*state.breached, event.deadline))


@_evolve.register
def _(event: IncidentEscalated, state: Incident) -> Incident:
    return _with(state, escalated_to=event.to_unit)


@_evolve.register
def _(event: DuplicateCallLinked, state: Incident) -> Incident:
    return _with(state, callers=(*state.callers, event.caller))
