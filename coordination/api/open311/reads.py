"""Open311 reads: discovery, services, service definitions, requests, tokens.

All public (no api_key). Only public orders are shown (no quarantine visit, no delivery to a
household under home quarantine: not listed, and an empty list when asked for by id, as
FixMyStreet answers for hidden reports), and nothing of the residents: no name, no phone, no
street address; the address is the place's name (小区 or community).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Response, request

from coordination.api.open311 import blp
from coordination.api.open311.errors import Open311Error, install
from coordination.api.open311.render import FORMATS, respond, respond_object
from coordination.api.reading import services
from coordination.domain.incident import Incident
from coordination.domain.open311 import (
    SERVICES,
    Service,
    attributes_for,
    is_public,
    public_text,
    service_of,
    status_notes,
    status_of,
)
from coordination.handlers.base import NotFound
from coordination.projections.views import View

install(blp)

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2024-06-01T00:00:00+08:00"
CONTACT = "港闻区12345热线平台"
KEY_SERVICE = (
    "api_key: a token of the open311 role for one district, from the platform's operators "
    "(coordination tokens create --role open311 --unit <district> --name <client>)"
)
MAX_SPAN = timedelta(days=90)
MAX_PAGE_SIZE = 1000
STATUSES = ("open", "closed")


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(400, f"format: {fmt!r} is not served; ask for .json or .xml")
    return fmt


def _district(jurisdiction_id: str | None) -> str:
    """The district asked for (``jurisdiction_id``), or the only one."""
    partitions = services().partitions
    if jurisdiction_id is None or jurisdiction_id == "":
        if len(partitions) == 1:
            return partitions[0]
        raise Open311Error(400, "jurisdiction_id: required (one of " + ", ".join(partitions) + ")")
    if jurisdiction_id not in partitions:
        raise Open311Error(404, f"jurisdiction_id: no jurisdiction {jurisdiction_id!r}")
    return jurisdiction_id


@blp.get("/discovery.<fmt>")
def discovery(fmt: str) -> Response:
    fmt = _fmt(fmt)
    url = request.host_url.rstrip("/") + (blp.url_prefix or "")
    body = {
        "changeset": CHANGESET,
        "contact": CONTACT,
        "key_service": KEY_SERVICE,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url,
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return respond_object(fmt, "discovery", body)


def _service_entry(service: Service) -> dict[str, Any]:
    return {
        "service_code": service.code,
        "service_name": service.name,
        "description": service.description,
        "metadata": service.metadata,
        "type": "realtime",
        "keywords": "",
        "group": service.group,
    }


@blp.get("/services.<fmt>")
def service_list(fmt: str) -> Response:
    fmt = _fmt(fmt)
    _district(request.args.get("jurisdiction_id"))
    return respond(fmt, "services", "service", [_service_entry(s) for s in SERVICES.values()])


@blp.get("/services/<service_code>.<fmt>")
def service_definition(service_code: str, fmt: str) -> Response:
    fmt = _fmt(fmt)
    district = _district(request.args.get("jurisdiction_id"))
    service = SERVICES.get(service_code)
    if service is None:
        raise Open311Error(404, f"service_code: no service {service_code!r}")
    if not service.metadata:
        raise Open311Error(404, f"service_code: {service_code!r} has no attributes to define")
    items = services().supplies.catalogue.current(district).items
    attributes = [
        {
            "variable": a.variable,
            "code": a.code,
            "datatype": a.datatype,
            "required": a.required,
            "datatype_description": a.datatype_description,
            "order": a.order,
            "description": a.description,
            "values": [{"key": v.key, "name": v.name} for v in a.values],
        }
        for a in attributes_for(service, sorted(items))
    ]
    body = {"service_code": service.code, "attributes": attributes}
    return respond_object(fmt, "service_definition", body)


# --- requests ---------------------------------------------------------------------------


def _w3c(moment: datetime) -> str:
    return moment.astimezone(services().calendar.tz).isoformat(timespec="seconds")


def _place_name(incident: Incident) -> str:
    """The place's name as the gazetteer or the unit tree knows it: never a street address."""
    jurisdiction = services().jurisdiction
    if incident.place in jurisdiction.places:
        return incident.place
    unit = jurisdiction.units.get(incident.place_unit)
    return unit.name if unit is not None else ""


def _request_entry(view: View) -> dict[str, Any]:
    incident = view.incident
    service = service_of(incident)
    assert service is not None  # only public orders get here, and each has a service
    holder = services().jurisdiction.units.get(incident.unit)
    text = public_text(incident.description, incident.address, (incident.reporter, incident.person))
    entry: dict[str, Any] = {
        "service_request_id": incident.id,
        "status": status_of(incident),
        "status_notes": public_text(
            status_notes(incident), incident.address, (incident.reporter, incident.person)
        ),
        "service_name": service.name,
        "service_code": service.code,
        "description": text,
        "agency_responsible": holder.name if holder is not None else "",
        "service_notice": "",
        "requested_datetime": _w3c(view.created_at),
        "updated_datetime": _w3c(view.updated_at),
    }
    due = incident.deadlines.resolve_by
    if due is not None and entry["status"] == "open":
        entry["expected_datetime"] = _w3c(due)
    entry.update(address=_place_name(incident), address_id="", zipcode="", media_url="")
    return entry


def _public_view(incident_id: str) -> View | None:
    try:
        partition = services().incidents.partition_of(incident_id)
    except NotFound:
        return None
    found = services().reads.incident(partition, incident_id)
    if found is None or not found.incident.id or not is_public(found.incident):
        return None
    return found


def _moment(name: str, end: bool = False) -> datetime | None:
    """A W3C date or datetime (``2024-05-01``, ``2024-05-01T08:00:00+08:00``, ``...Z``); a
    date alone is that day in the district's time (an end date: to its end)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    tz = services().calendar.tz
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime.combine(day, time.max if end else time(), tz)
        if "T" not in raw:
            raise ValueError
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise Open311Error(400, f"{name}: {raw!r} is not a W3C date or datetime") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def _window() -> tuple[datetime, datetime]:
    try:
        return _span()
    except OverflowError:
        raise Open311Error(400, "start_date, end_date: out of range") from None


def _span() -> tuple[datetime, datetime]:
    start, end = _moment("start_date"), _moment("end_date", end=True)
    if start is None and end is None:
        end = services().incidents.clock()
    if start is None:
        assert end is not None
        start = end - MAX_SPAN
    if end is None:
        end = start + MAX_SPAN
    if end < start:
        raise Open311Error(400, "end_date: before start_date")
    if end - start > MAX_SPAN:
        raise Open311Error(400, "start_date, end_date: may not span more than 90 days")
    return start, end


def _codes() -> set[str] | None:
    raw = request.args.get("service_code")
    if not raw:
        return None
    codes = {c.strip() for c in raw.split(",") if c.strip()}
    unknown = sorted(codes - SERVICES.keys())
    if unknown:
        raise Open311Error(400, f"service_code: no service {', '.join(unknown)}")
    return codes


def _statuses() -> set[str] | None:
    raw = request.args.get("status")
    if not raw:
        return None
    wanted = {s.strip() for s in raw.split(",") if s.strip()}
    if not wanted <= set(STATUSES):
        raise Open311Error(400, "status: open, closed or both (open,closed)")
    return wanted


def _whole(name: str, default: int, most: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise Open311Error(400, f"{name}: a whole number from 1")
    if most is not None and int(raw) > most:
        raise Open311Error(400, f"{name}: at most {most}")
    return int(raw)


def _listed(partition: str, start: datetime, end: datetime) -> Iterator[View]:
    """The district's public orders reported within [start, end], the latest first, each at
    its requested_datetime as shown (whole seconds): a window of shown times holds them."""
    for view in services().reads.every_incident(partition):
        shown = view.created_at.replace(microsecond=0)
        if shown < start:
            return
        if shown <= end and is_public(view.incident):
            yield view


@blp.get("/requests.<fmt>")
def request_list(fmt: str) -> Response:
    fmt = _fmt(fmt)
    district = _district(request.args.get("jurisdiction_id"))
    page = _whole("page", 1)
    size = _whole("page_size", MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    if ids := request.args.get("service_request_id"):
        wanted = list(dict.fromkeys(i.strip() for i in ids.split(",") if i.strip()))
        found = [v for v in map(_public_view, wanted) if v is not None]
        chosen = found[(page - 1) * size : page * size]
        return respond(fmt, "service_requests", "request", map(_request_entry, chosen))
    start, end = _window()
    codes, statuses = _codes(), _statuses()
    skip, chosen = (page - 1) * size, []
    for view in _listed(district, start, end):
        incident = view.incident
        service = service_of(incident)
        if codes is not None and (service is None or service.code not in codes):
            continue
        if statuses is not None and status_of(incident) not in statuses:
            continue
        if skip:
            skip -= 1
            continue
        chosen.append(view)
        if len(chosen) == size:
            break
    return respond(fmt, "service_requests", "request", map(_request_entry, chosen))


@blp.get("/requests/<service_request_id>.<fmt>")
def request_by_id(service_request_id: str, fmt: str) -> Response:
    fmt = _fmt(fmt)
    found = _public_view(service_request_id)
    items = [] if found is None else [_request_entry(found)]
    return respond(fmt, "service_requests", "request", items)


@blp.get("/tokens/<token>.<fmt>")
def token(token: str, fmt: str) -> Response:
    """We answer a POST with its id at once: a token is the order's id."""
    fmt = _fmt(fmt)
    found = _public_view(token)
    items = [] if found is None else [{"service_request_id": token, "token": token}]
    return respond(fmt, "service_requests", "request", items)
