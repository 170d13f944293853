"""How incidents and events are shown: as data, with personal data masked for those who need
it not."""

from __future__ import annotations

from typing import Any

from coordination.domain.access import Action, Actor, may
from coordination.domain.incident import Incident
from coordination.domain.privacy import mask_address, mask_name, mask_phone
from coordination.domain.values import Donor
from coordination.projections import views
from coordination.projections.reads import Page
from coordination.projections.views import View
from coordination.store.eventstore import StoredEvent
from coordination.store.mapper import to_data


def incident(state: Incident, history: list[StoredEvent], actor: Actor) -> dict[str, Any]:
    data = to_data(state)
    data["risky"] = state.risky
    data["created_at"] = history[0].time.isoformat() if history else None
    data["updated_at"] = history[-1].time.isoformat() if history else None
    return redact(data, actor)


def view(found: View, actor: Actor) -> dict[str, Any]:
    data = views.as_dict(found)
    data["risky"] = found.incident.risky
    return redact(data, actor)


def page(found: Page, actor: Actor) -> dict[str, Any]:
    return {
        "items": [view(v, actor) for v in found.items],
        "next_cursor": found.next_cursor,
        "position": found.position,
    }


def event(stored: StoredEvent, actor: Actor) -> dict[str, Any]:
    return {
        "id": stored.id,
        "stream": stored.stream,
        "version": stored.version,
        "position": stored.position,
        "time": stored.time,
        "actor": stored.actor,
        "type": stored.type,
        "schema_version": stored.schema_version,
        "data": redact(to_data(stored.event), actor),
    }


def donor(given: Donor, actor: Actor) -> dict[str, Any]:
    """A donor as data, the contact masked like a resident's unless the actor's role needs it."""
    data: dict[str, Any] = to_data(given)
    contact = data.get("contact")
    if contact and not may(actor, Action.SEE_PERSONAL_DATA):
        data["contact"] = {
            "name": mask_name(contact["name"]),
            "phone": mask_phone(contact["phone"]),
        }
    return data


def _masked(contact: dict[str, Any]) -> dict[str, Any]:
    return {"name": mask_name(contact["name"]), "phone": mask_phone(contact["phone"])}


def redact(data: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Mask residents' names, phones and addresses unless the actor's role needs them."""
    if may(actor, Action.SEE_PERSONAL_DATA):
        return data
    masked = dict(data)
    for key in ("reporter", "person", "caller"):
        if masked.get(key):
            masked[key] = _masked(masked[key])
    if masked.get("callers"):
        masked["callers"] = [_masked(contact) for contact in masked["callers"]]
    if masked.get("address"):
        masked["address"] = mask_address(masked["address"])
    return masked
