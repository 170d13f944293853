"""The staff aggregate: cadres and volunteers of a unit, their duty shifts (值班), and who may
take risky work. One stream per staff member; ``decide_staff`` and ``evolve_staff`` do no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import singledispatch
from typing import Protocol
from zoneinfo import ZoneInfo

from coordination.domain.commands import (
    CancelShift,
    DeactivateStaff,
    RegisterStaff,
    ScheduleShift,
    StaffCommand,
    UpdateStaff,
)
from coordination.domain.context import Context
from coordination.domain.errors import Conflict, DomainError, NotAllowed
from coordination.domain.events import (
    ShiftCancelled,
    ShiftScheduled,
    StaffDeactivated,
    StaffEvent,
    StaffRegistered,
    StaffUpdated,
)
from coordination.domain.units import Level
from coordination.domain.values import Kind, StaffKind

MAX_SHIFT = timedelta(hours=24)
STREAM_PREFIX = "staff-"  # one stream per member: staff-<id>


def stream_of(staff_id: str) -> str:
    return STREAM_PREFIX + staff_id


def is_staff_stream(stream: str) -> bool:
    return stream.startswith(STREAM_PREFIX)


@dataclass(frozen=True)
class Shift:
    shift_id: str
    unit: str
    start: datetime
    end: datetime

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class StaffMember:
    """The state of one staff member, folded from their events; a new member has no id."""

    id: str = ""
    name: str = ""
    unit: str = ""
    kind: StaffKind = StaffKind.CADRE
    party_member: bool = False
    quarantine_trained: bool = False
    active: bool = False
    shifts: tuple[Shift, ...] = ()
    version: int = 0


def fold_staff(events: Iterable[StaffEvent], state: StaffMember | None = None) -> StaffMember:
    """The state after applying ``events`` in order to ``state`` (a new member by default)."""
    state = state or StaffMember()
    for event in events:
        state = replace(evolve_staff(state, event), version=state.version + 1)
    return state


# --- decide -------------------------------------------------------------------------------


def decide_staff(state: StaffMember, command: StaffCommand, ctx: Context) -> list[StaffEvent]:
    """The events that carrying out ``command`` on ``state`` produces."""
    if not isinstance(command, RegisterStaff):
        if not state.id:
            raise DomainError("no such staff member is registered", field="staff_id")
        if not state.active:
            raise DomainError(f"{state.name} ({state.id}) is deactivated", field="state")
    return _decide(command, state, ctx)


def _check_profile(name: str, unit_id: str, ctx: Context) -> None:
    if not name.strip():
        raise DomainError("a staff member has a name", field="name")
    unit = ctx.jurisdiction.get(unit_id, "unit")
    if unit.level is Level.DISTRICT:
        raise DomainError(
            f"{unit_id} is the whole district; staff belong to a street, department or community",
            field="unit",
        )


@singledispatch
def _decide(command: object, state: StaffMember, ctx: Context) -> list[StaffEvent]:
    raise TypeError(f"unknown command {type(command).__name__}")


@_decide.register
def _register(command: RegisterStaff, state: StaffMember, ctx: Context) -> list[StaffEvent]:
    if state.id:
        raise Conflict(f"{state.id} is already registered", field="staff_id")
    if not command.staff_id.strip():
        raise DomainError("a staff member has an id", field="staff_id")
    _check_profile(command.name, command.unit, ctx)
    c, trained = command, command.quarantine_trained
    return [StaffRegistered(c.staff_id, c.name, c.unit, c.kind, c.party_member, trained)]


@_decide.register
def _update(command: UpdateStaff, state: StaffMember, ctx: Context) -> list[StaffEvent]:
    _check_profile(command.name, command.unit, ctx)
    if command.unit != state.unit:
        # A shift is duty at one unit: moving someone leaves no duty behind silently.
        now = ctx.clock()
        pending = [s.shift_id for s in state.shifts if s.unit != command.unit and s.end > now]
        if pending:
            raise DomainError(
                f"cancel the shifts still to come at {state.unit} first: {', '.join(pending)}",
                field="unit",
            )
    c, s = command, state
    updated = StaffUpdated(c.name, c.unit, c.kind, c.party_member, c.quarantine_trained)
    current = StaffUpdated(s.name, s.unit, s.kind, s.party_member, s.quarantine_trained)
    return [] if updated == current else [updated]


@_decide.register
def _deactivate(command: DeactivateStaff, state: StaffMember, ctx: Context) -> list[StaffEvent]:
    if not command.reason.strip():
        raise DomainError("a deactivation gives its reason", field="reason")
    return [StaffDeactivated(reason=command.reason)]


@_decide.register
def _schedule(command: ScheduleShift, state: StaffMember, ctx: Context) -> list[StaffEvent]:
    if not command.shift_id.strip():
        raise DomainError("a shift has an id", field="shift_id")
    if any(s.shift_id == command.shift_id for s in state.shifts):
        raise Conflict(f"shift {command.shift_id} is already scheduled", field="shift_id")
    start, end = command.start, command.end
    if start.tzinfo is None or end.tzinfo is None:
        raise DomainError("a shift's times carry their timezone", field="start")
    if end <= start:
        raise DomainError("a shift ends after it starts", field="end")
    if end.astimezone(UTC) - start.astimezone(UTC) > MAX_SHIFT:
        raise DomainError("a shift lasts at most 24 hours", field="end")
    if end <= ctx.clock():
        raise DomainError(f"the shift would end in the past ({end.isoformat()})", field="end")
    for other in state.shifts:
        if start < other.end and other.start < end:
            window = f"{other.start.isoformat()} to {other.end.isoformat()}"
            raise DomainError(f"overlaps shift {other.shift_id} ({window})", field="start")
    return [ShiftScheduled(command.shift_id, state.unit, start, end)]


@_decide.register
def _cancel(command: CancelShift, state: StaffMember, ctx: Context) -> list[StaffEvent]:
    if not any(s.shift_id == command.shift_id for s in state.shifts):
        raise DomainError(f"no shift {command.shift_id} is scheduled", field="shift_id")
    return [ShiftCancelled(command.shift_id, command.reason)]


# --- evolve -------------------------------------------------------------------------------


def evolve_staff(state: StaffMember, event: StaffEvent) -> StaffMember:
    """The state after one event; the version is counted by ``fold_staff``."""
    return _evolve(event, state)


@singledispatch
def _evolve(event: object, state: StaffMember) -> StaffMember:
    raise TypeError(f"unknown event {type(event).__name__}")


@_evolve.register
def _(event: StaffRegistered | StaffUpdated, state: StaffMember) -> StaffMember:
    if isinstance(event, StaffRegistered):
        state = replace(state, id=event.staff_id, active=True)
    return replace(
        state,
        name=event.name,
        unit=event.unit,
        kind=event.kind,
        party_member=event.party_member,
        quarantine_trained=event.quarantine_trained,
    )


@_evolve.register
def _(event: StaffDeactivated, state: StaffMember) -> StaffMember:
    return replace(state, active=False)


@_evolve.register
def _(event: ShiftScheduled, state: StaffMember) -> StaffMember:
    shift = Shift(event.shift_id, event.unit, event.start, event.end)
    return replace(state, shifts=tuple(sorted((*state.shifts, shift), key=lambda s: s.start)))


@_evolve.register
def _(event: ShiftCancelled, state: StaffMember) -> StaffMember:
    return replace(state, shifts=tuple(s for s in state.shifts if s.shift_id != event.shift_id))


# --- queries ------------------------------------------------------------------------------

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Coverage:
    """Which parts of a window someone is on duty for, and which nobody is."""

    covered: tuple[Interval, ...]
    gaps: tuple[Interval, ...]

    @property
    def complete(self) -> bool:
        return not self.gaps


def _duty(members: Iterable[StaffMember], unit: str) -> Iterable[tuple[StaffMember, Shift]]:
    return ((m, s) for m in members if m.active for s in m.shifts if s.unit == unit)


def on_duty(members: Iterable[StaffMember], unit: str, at: datetime) -> list[StaffMember]:
    """The active members with a shift at ``unit`` covering ``at``, by id."""
    found = {m.id: m for m, s in _duty(members, unit) if s.covers(at)}
    return [found[key] for key in sorted(found)]


def night_window(
    day: date, tz: ZoneInfo, starts: time = time(18), ends: time = time(8)
) -> tuple[datetime, datetime]:
    """The night after ``day``: from ``starts`` that day to the next ``ends`` after it."""
    start = datetime.combine(day, starts, tzinfo=tz)
    end_day = day if ends > starts else day + timedelta(days=1)
    return start, datetime.combine(end_day, ends, tzinfo=tz)


def coverage(members: Iterable[StaffMember], unit: str, start: datetime, end: datetime) -> Coverage:
    """The parts of ``[start, end)`` that active members' shifts at ``unit`` cover, and the gaps."""
    if end <= start:
        raise ValueError("a window ends after it starts")
    clipped = sorted(
        (max(s.start, start), min(s.end, end))
        for _, s in _duty(members, unit)
        if s.start < end and start < s.end
    )
    covered: list[Interval] = []
    for lo, hi in clipped:
        if covered and lo <= covered[-1][1]:
            covered[-1] = (covered[-1][0], max(covered[-1][1], hi))
        else:
            covered.append((lo, hi))
    gaps: list[Interval] = []
    cursor = start
    for lo, hi in covered:
        if cursor < lo:
            gaps.append((cursor, lo))
        cursor = hi
    if cursor < end:
        gaps.append((cursor, end))
    return Coverage(tuple(covered), tuple(gaps))


def check_may_take(member: StaffMember | None, kind: Kind, home_quarantine: bool = False) -> None:
    """Raise unless ``member`` may claim work of ``kind``: risky work (a quarantine visit, a
    delivery to a household under home quarantine) needs training."""
    if member is None or not member.id:
        raise NotAllowed("not a registered staff member", field="holder")
    if not member.active:
        raise NotAllowed(f"{member.name} ({member.id}) is deactivated", field="holder")
    if member.quarantine_trained:
        return
    if kind is Kind.QUARANTINE_VISIT:
        raise NotAllowed(
            f"a quarantine visit needs someone trained for it; {member.name} is not",
            field="holder",
        )
    if kind is Kind.SUPPLY_DELIVERY and home_quarantine:
        raise NotAllowed(
            "a delivery to a household under home quarantine (居家隔离) is risky work and "
            f"needs someone trained for it; {member.name} is not",
            field="holder",
        )


class Work(Protocol):
    """What a claim is on, as this aggregate sees it: an incident's kind and its unit."""

    @property
    def kind(self) -> Kind | None: ...

    @property
    def unit(self) -> str: ...

    @property
    def home_quarantine(self) -> bool: ...


def check_may_work_on(member: StaffMember | None, incident: Work) -> None:
    """A claim needs an active staff member of the order's own community, trained for it if
    the work is risky; raise NotAllowed saying why not."""
    check_may_take(member, incident.kind or Kind.WORK_ORDER, incident.home_quarantine)
    if member is not None and member.unit != incident.unit:
        raise NotAllowed(f"{member.id} works at {member.unit}, not {incident.unit}", "holder")
