"""What each read model holds for one incident, computed from its view. No I/O here."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from coordination.domain.incident import (
    OPEN_AT_A_UNIT,
    DeadlineBreached,
    Incident,
    IncidentDispatched,
    IncidentEscalated,
    IncidentReopened,
    IncidentResolved,
    IncidentSignedFor,
    Kind,
    Priority,
    ReturnVisitRecorded,
    Status,
    evolve,
    pending_deadlines,
)
from coordination.eventstore import StoredEvent
from coordination.mapper import from_data, to_data

# Where an order waits, by status: the district for what it must (re-)dispatch, call back or
# close; otherwise the unit that holds it. Closed orders wait nowhere.
AT_DISTRICT = frozenset({Status.RETURNED, Status.RESOLVED, Status.VISITED})
PRIORITY_BAND = {Priority.URGENT: 1, Priority.HIGH: 2, Priority.NORMAL: 3, Priority.LOW: 4}


@dataclass(frozen=True)
class View:
    incident: Incident
    created_at: datetime
    updated_at: datetime
    position: int
    reported_position: int


def apply(view: View | None, stored: StoredEvent) -> View:
    """The view after one more event of its incident."""
    if view is None:
        incident = replace(evolve(Incident(), stored.event), version=stored.version)
        return View(incident, stored.time, stored.time, stored.position, stored.position)
    incident = replace(evolve(view.incident, stored.event), version=stored.version)
    return replace(view, incident=incident, updated_at=stored.time, position=stored.position)


def queue_unit(incident: Incident) -> str | None:
    if incident.status is Status.CLOSED:
        return None
    return incident.district if incident.status in AT_DISTRICT else incident.unit


def urgency(view: View) -> float:
    """Lower is more urgent: night emergencies first, then by priority, then the earliest
    running deadline (to the minute; the order's age for one without), then the oldest.

    Packed into one exact integer (below 2**53) so that a sorted set orders by it:
    band (3 bits) | deadline minute (26 bits, to the year 2097) | age (21 bits): the second the
    order was made, counted from 24 days before the end of its deadline's minute.
    """
    incident = view.incident
    band = 0 if incident.kind is Kind.NIGHT_EMERGENCY else PRIORITY_BAND[incident.priority]
    created = int(view.created_at.timestamp())
    due = min(pending_deadlines(incident).values(), default=view.created_at).timestamp()
    minute = min(max(int(due // 60), 0), (1 << 26) - 1)
    since = (minute + 1) * 60 - (1 << 21)
    age = min(max(created - since, 0), (1 << 21) - 1)
    return float((band << 47) | (minute << 21) | age)


def placements(incident: Incident) -> dict[str, str]:
    """The queues an order waits in, each with the ``status|kind`` it is counted under there:
    its own, and while it is open, the queue of the unit it was escalated to (督办)."""
    kind = incident.kind.value if incident.kind else ""
    found: dict[str, str] = {}
    if incident.escalated_to and incident.status in OPEN_AT_A_UNIT:
        found[incident.escalated_to] = f"escalated|{kind}"
    if (unit := queue_unit(incident)) is not None:
        found[unit] = f"{incident.status.value}|{kind}"
    return found


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
    return [f"{day}|{unit}|{kind}|{metric}" for unit, metric in metrics]


def _timeliness(what: str, at: datetime, due: datetime | None) -> str:
    if due is None:
        return f"{what}_no_deadline"
    return f"{what}_on_time" if at <= due else f"{what}_late"


def encode(view: View) -> str:
    return json.dumps(to_data(view), ensure_ascii=False, separators=(",", ":"))


def decode(raw: bytes | str) -> View:
    view: View = from_data(View, json.loads(raw))
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
