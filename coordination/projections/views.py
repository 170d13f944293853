"""What each read model holds for one incident, computed from its view. No I/O here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from coordination.domain.deadlines import DeadlineKind
from coordination.domain.events import (
    DeadlineBreached,
    DuplicateCallLinked,
    IncidentDispatched,
    IncidentEscalated,
    IncidentReopened,
    IncidentResolved,
    IncidentSignedFor,
    ReturnVisitRecorded,
)
from coordination.domain.incident import Incident, fold, pending_deadlines, running_deadlines
from coordination.projections.queues import placements, queue_unit
from coordination.store.eventstore import StoredEvent
from coordination.store.mapper import decode_json, encode_json, to_data

# A day's durations share its counters' hash, as ``duration|<unit>|<kind>|sign|<position>``:
# one key keeps one day's history (no unit id is "duration", so no counter looks alike).
DURATION = "duration|"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


class View(msgspec.Struct, frozen=True):
    """An incident as the read side keeps it. A struct, not a dataclass: a catch-up makes one
    per event."""

    incident: Incident
    created_at: datetime
    updated_at: datetime
    position: int
    reported_position: int
    dispatched_at: datetime | None = None  # the latest dispatch or reopening
    spells: tuple[str, ...] = ()  # the deadline spells running now: see ``spell_member``


def apply(view: View | None, stored: StoredEvent) -> View:
    """The view after one more event of its incident."""
    restart = isinstance(stored.event, IncidentDispatched | IncidentReopened)
    incident = fold([stored.event], view.incident if view else None)
    old_spells = () if view is None or restart else view.spells
    dispatched_at = stored.time if restart else (view.dispatched_at if view else None)
    return View(
        incident,
        created_at=view.created_at if view else stored.time,
        updated_at=stored.time,
        position=stored.position,
        reported_position=view.reported_position if view else stored.position,
        dispatched_at=dispatched_at,
        spells=_spells(incident, old_spells, stored.position),
    )


def reported_score(view: View) -> int:
    """The incidents index's score of an incident: when it was reported, in microseconds since
    the epoch (a whole number, exact in a sorted set's double until the year 2255)."""
    return (view.created_at - EPOCH) // MICROSECOND


def spell_member(incident_id: str, deadline: DeadlineKind, started_at: int) -> str:
    """One spell of a deadline running: ``<id>|<deadline>|<position it started at>``."""
    return f"{incident_id}|{deadline.value}|{started_at}"


def spell_deadline(member: str) -> DeadlineKind:
    return _DEADLINES[member.rsplit("|", 2)[1]]


_DEADLINES = {kind.value: kind for kind in DeadlineKind}  # a dict is faster than calling an enum


def _spells(incident: Incident, running: tuple[str, ...], position: int) -> tuple[str, ...]:
    """A deadline's spell runs on until its work is done; a dispatch or reopening ends every
    spell (the caller passes none running) and starts those of its fresh deadlines."""
    kept = {spell_deadline(m): m for m in running}
    return tuple(
        sorted(
            kept.get(kind) or spell_member(incident.id, kind, position)
            for kind in running_deadlines(incident)
        )
    )


def units_touched(old: View | None, new: View) -> set[str]:
    """The units at which an event changed something: the order's unit and the queues it
    waits in, before and after."""
    units = {new.incident.unit, *placements(new.incident)}
    if old is not None:
        units |= {old.incident.unit, *placements(old.incident)}
    units.discard("")
    return units


def deadline_members(incident: Incident) -> dict[str, float]:
    """The deadline watch's entries for an order: ``<id>|<deadline>`` by due time."""
    return {
        f"{incident.id}|{k.value}": at.timestamp() for k, at in pending_deadlines(incident).items()
    }


def day_counts(before: View | None, after: View, stored: StoredEvent, tz: ZoneInfo) -> list[str]:
    """The daily counters one event moves, as ``<local date>|<unit>|<kind>|<metric>``."""
    incident, event = after.incident, stored.event
    day = stored.time.astimezone(tz).date().isoformat()
    kind = incident.kind.value if incident.kind else ""
    metrics: list[tuple[str, str]] = []
    if isinstance(event, IncidentDispatched) and (before is None or before.incident.version <= 1):
        metrics.append((event.unit, "reported"))
        if incident.epidemic:
            metrics.append((event.unit, "epidemic"))
    elif isinstance(event, IncidentSignedFor) and before is not None:
        due = before.incident.deadlines.sign_by
        metrics.append((event.unit, _timeliness("signed", stored.time, due)))
    elif isinstance(event, IncidentResolved) and before is not None:
        due = before.incident.deadlines.resolve_by
        metrics.append((event.unit, _timeliness("resolved", stored.time, due)))
    elif isinstance(event, ReturnVisitRecorded):
        metrics.append((incident.unit, f"visit_{event.result.value}"))
    elif isinstance(event, DeadlineBreached):
        metrics.append((event.unit, f"breached_{event.deadline.value}"))
    elif isinstance(event, IncidentEscalated):
        metrics.append((event.from_unit, "escalated"))
    elif isinstance(event, IncidentReopened):
        metrics.append((event.unit, "reopened"))
    elif isinstance(event, DuplicateCallLinked):
        metrics.append((incident.unit, "linked_calls"))  # a call taken, not a new order
    return [f"{day}|{unit}|{kind}|{metric}" for unit, metric in metrics]


def durations(
    before: View | None, after: View, stored: StoredEvent, tz: ZoneInfo
) -> dict[str, int]:
    """Seconds from the (latest) dispatch, or the report, to signing for or resolving, as
    ``<local date>|<unit>|<kind>|sign|<position>`` (or ``resolve``)."""
    event = stored.event
    if before is None or not isinstance(event, IncidentSignedFor | IncidentResolved):
        return {}
    what = "sign" if isinstance(event, IncidentSignedFor) else "resolve"
    since = before.dispatched_at or before.created_at
    seconds = max(int((stored.time - since).total_seconds()), 0)
    day = stored.time.astimezone(tz).date().isoformat()
    kind = after.incident.kind.value if after.incident.kind else ""
    return {f"{day}|{event.unit}|{kind}|{what}|{stored.position}": seconds}


@dataclass(frozen=True)
class Spell:
    """A deadline that ran from a dispatch (or hand-down, or release) until its work was done:
    ``end`` is None while it runs. ``unit`` is the unit it was set for, when it started."""

    member: str
    incident: str
    kind: str
    unit: str
    deadline: DeadlineKind
    due: datetime
    end: datetime | None = None

    def encode(self) -> str:
        """What is known when the spell starts (its end is kept apart)."""
        data = {
            "incident": self.incident,
            "kind": self.kind,
            "unit": self.unit,
            "deadline": self.deadline.value,
            "due": self.due.isoformat(),
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def decode(cls, member: str, raw: bytes | str, end: bytes | str | None) -> Spell:
        data = json.loads(raw)
        return cls(
            member,
            data["incident"],
            data["kind"],
            data["unit"],
            DeadlineKind(data["deadline"]),
            datetime.fromisoformat(data["due"]),
            datetime.fromisoformat(end.decode() if isinstance(end, bytes) else end)
            if end
            else None,
        )

    def late_at(self, moment: datetime) -> bool:
        """Past due at ``moment`` with its work not yet done."""
        return self.due < moment and (self.end is None or self.end > moment)


def spell_changes(
    before: View | None, after: View, stored: StoredEvent
) -> tuple[list[Spell], list[Spell]]:
    """The deadline spells one event started, and those it ended (with their end)."""
    if before is not None and before.spells == after.spells:
        return [], []  # most events: nothing started, nothing ended
    was = set(before.spells) if before else set()
    now = set(after.spells)
    incident = after.incident
    kind = incident.kind.value if incident.kind else ""
    running = running_deadlines(incident) if now - was else {}
    started = [
        Spell(m, incident.id, kind, incident.unit, deadline, running[deadline])
        for m in sorted(now - was)
        for deadline in (spell_deadline(m),)
    ]
    ended = []
    if before is not None:
        ran = running_deadlines(before.incident)
        for member in sorted(was - now):
            deadline = spell_deadline(member)
            due = ran.get(deadline) or before.incident.deadlines.get(deadline)
            if due is not None:
                ended.append(Spell(member, incident.id, kind, "", deadline, due, stored.time))
    return started, ended


def _timeliness(what: str, at: datetime, due: datetime | None) -> str:
    if due is None:
        return f"{what}_no_deadline"
    return f"{what}_on_time" if at <= due else f"{what}_late"


def encode(view: View) -> bytes:
    return encode_json(view)


def decode(raw: bytes | str) -> View:
    view: View = decode_json(View, raw)
    return view


def as_dict(view: View) -> dict[str, Any]:
    data: dict[str, Any] = to_data(view.incident)
    data.update(
        created_at=view.created_at.isoformat(),
        updated_at=view.updated_at.isoformat(),
        position=view.position,
        queue_unit=queue_unit(view.incident),
    )
    return data
