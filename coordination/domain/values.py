"""The words of the domain: what an order is about, how urgent, where it stands, how the resident
felt, and who staff are. Plain values shared by commands, events and state."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    SUPPLY_DELIVERY = "supply_delivery"
    QUARANTINE_VISIT = "quarantine_visit"
    NIGHT_EMERGENCY = "night_emergency"
    WORK_ORDER = "work_order"


class Category(StrEnum):
    CONSULTATION = "consultation"
    TIP = "tip"
    COMPLAINT = "complaint"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Status(StrEnum):
    NEW = "new"
    DISPATCHED = "dispatched"
    SIGNED = "signed"
    RETURNED = "returned"
    HANDED_DOWN = "handed_down"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    VISITED = "visited"
    CLOSED = "closed"


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    UNSATISFIED = "unsatisfied"


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str


@dataclass(frozen=True)
class SupplyItem:
    item: str
    quantity: int
    measure: str = "piece"


class StaffKind(StrEnum):
    CADRE = "cadre"
    VOLUNTEER = "volunteer"
