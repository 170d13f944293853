"""Builders for the pure-domain tests: unit ids of the demo tree and valid commands.

A plain module rather than conftest.py so that tests can import it by name.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from coordination.config import DEFAULT_UNITS_FILE
from coordination.domain.commands import ReportIncident
from coordination.domain.events import (
    Event,
    IncidentClaimed,
    IncidentClosed,
    IncidentDispatched,
    IncidentHandedDown,
    IncidentReported,
    IncidentResolved,
    IncidentReturned,
    IncidentSignedFor,
    ReturnVisitRecorded,
)
from coordination.domain.units import Jurisdiction, Level
from coordination.domain.values import Category, Contact, Kind, Priority, Satisfaction, SupplyItem

DISTRICT = "gangwen"
CHENQIAO = "gangwen/chenqiao"
YONGHE = "gangwen/chenqiao/yonghe"
HUAQIAO = "gangwen/chenqiao/huaqiao"
GONGYUAN = "gangwen/chenqiao/gongyuan"
LIDU = "gangwen/chenqiao/lidu"
BINJIANG = "gangwen/binjiang"
WANGHAI = "gangwen/binjiang/wanghai"
CHUANWAN = "gangwen/binjiang/chuanwan"
KAIFAQU = "gangwen/kaifaqu"
XINGANG = "gangwen/kaifaqu/xingang"
MARKET = "gangwen/market"
HEALTH = "gangwen/health"
CDC = "gangwen/cdc"

REPORTER = Contact("王女士", "13800000000")
QUARANTINED = Contact("李先生", "13900000000")
MASKS = (SupplyItem("口罩", 50), SupplyItem("体温计", 1))


def load_tree() -> dict[str, Any]:
    """The demo district's units and places as stored on disk."""
    return json.loads(DEFAULT_UNITS_FILE.read_text(encoding="utf-8"))


def load_jurisdiction() -> Jurisdiction:
    return Jurisdiction.from_dict(load_tree())


def report(kind: Kind, place: str = "丽都花园", **changes: Any) -> ReportIncident:
    """A valid report of ``kind`` at ``place``; ``changes`` override any field."""
    base = ReportIncident(
        incident_id="inc-1",
        kind=kind,
        title=f"{kind.value} at {place}",
        place=place,
        reporter=REPORTER,
    )
    if kind is Kind.SUPPLY_DELIVERY:
        base = replace(base, items=MASKS, epidemic=True)
    elif kind is Kind.QUARANTINE_VISIT:
        base = replace(base, person=QUARANTINED, epidemic=True)
    elif kind is Kind.WORK_ORDER:
        base = replace(base, category=Category.COMPLAINT)
    elif kind is Kind.NIGHT_EMERGENCY:
        base = replace(base, priority=Priority.URGENT, epidemic=True)
    return replace(base, **changes)


def supply_delivery(place: str = "丽都花园", **changes: Any) -> ReportIncident:
    return report(Kind.SUPPLY_DELIVERY, place, **changes)


def quarantine_visit(place: str = "丽都花园", **changes: Any) -> ReportIncident:
    return report(Kind.QUARANTINE_VISIT, place, **changes)


def night_emergency(place: str = "丽都花园", **changes: Any) -> ReportIncident:
    return report(Kind.NIGHT_EMERGENCY, place, **changes)


def work_order(place: str = "丽都花园", **changes: Any) -> ReportIncident:
    return report(Kind.WORK_ORDER, place, **changes)


def reported(
    command: ReportIncident, place_unit: str, district: str = "gangwen"
) -> IncidentReported:
    """The IncidentReported event a valid ``command`` resolving to ``place_unit`` yields."""
    return IncidentReported(
        incident_id=command.incident_id,
        kind=command.kind,
        title=command.title,
        place=command.place,
        place_unit=place_unit,
        district=district,
        reporter=command.reporter,
        description=command.description,
        address=command.address,
        priority=command.priority,
        epidemic=command.epidemic,
        category=command.category,
        items=command.items,
        person=command.person,
    )


# --- histories: event lists that bring an incident to each status --------------------------

NOW = datetime(2020, 2, 8, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
VOLUNTEER = "volunteer-1"
REASON = "不属于本街道辖区"
SUMMARY = "已送达口罩和体温计"
OFFICER = "陈桥街道 张主任"


def dispatched_to_street(command: ReportIncident | None = None) -> list[Event]:
    """A report at 丽都花园 (Lidu), dispatched to its street, Chenqiao."""
    command = command or supply_delivery()
    return [reported(command, LIDU), IncidentDispatched(CHENQIAO, Level.STREET)]


def signed_at_street() -> list[Event]:
    return [*dispatched_to_street(), IncidentSignedFor(CHENQIAO)]


def returned_to_district() -> list[Event]:
    return [*dispatched_to_street(), IncidentReturned(CHENQIAO, DISTRICT, REASON)]


def handed_down_to_lidu() -> list[Event]:
    return [*signed_at_street(), IncidentHandedDown(LIDU)]


def claimed_at_lidu(lease_expires_at: datetime = NOW - timedelta(minutes=1)) -> list[Event]:
    """Handed down to lidu and claimed by VOLUNTEER, whose lease ran out a minute before NOW."""
    return [*handed_down_to_lidu(), IncidentClaimed(VOLUNTEER, LIDU, lease_expires_at)]


def night_emergency_at_lidu() -> list[Event]:
    return [reported(night_emergency(), LIDU), IncidentDispatched(LIDU, Level.COMMUNITY)]


def resolved_at_lidu() -> list[Event]:
    return [*handed_down_to_lidu(), IncidentResolved(LIDU, SUMMARY, OFFICER)]


def resolved_at_street() -> list[Event]:
    return [*signed_at_street(), IncidentResolved(CHENQIAO, SUMMARY, OFFICER)]


def visited() -> list[Event]:
    return [*resolved_at_lidu(), ReturnVisitRecorded(Satisfaction.SATISFIED)]


def closed() -> list[Event]:
    return [*visited(), IncidentClosed()]
