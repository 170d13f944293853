"""What each read model holds for one incident, computed from its view. No I/O here."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from coordination.domain.incident import Incident, Kind, Priority, Status, evolve
from coordination.eventstore import StoredEvent
from coordination.mapper import from_data, to_data

# Where an order waits, by status: the district for what it must (re-)dispatch, call back or
# close; otherwise the unit that holds it. Closed orders wait nowhere.
AT_DISTRICT = frozenset({Status.RETURNED, Status.RESOLVED, Status.VISITED})
PRIORITY_BAND = {Priority.URGENT: 1, Priority.HIGH: 2, Priority.NORMAL: 3, Priority.LOW: 4}
BAND_WIDTH = 1e13  # wider than any epoch in milliseconds, so bands never overlap


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
    """Lower is more urgent: night emergencies first, then by priority, then the oldest."""
    incident = view.incident
    band = 0 if incident.kind is Kind.NIGHT_EMERGENCY else PRIORITY_BAND[incident.priority]
    return band * BAND_WIDTH + int(view.created_at.timestamp() * 1000)


def summary_field(incident: Incident) -> str:
    kind = incident.kind.value if incident.kind else ""
    return f"{incident.status.value}|{kind}"


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
