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


class SupplyCategory(StrEnum):
    PROTECTION = "protection"  # 防护: masks, protective suits
    DISINFECTION = "disinfection"  # 消杀: 84 disinfectant, medical alcohol
    TEMPERATURE = "temperature"  # 测温: forehead thermometers
    MEDICAL = "medical"
    DAILY_NEEDS = "daily_needs"  # 生活物资: tissues, food
    OTHER = "other"


@dataclass(frozen=True)
class CatalogueItem:
    """A supply the district counts: its name, category and counting unit (个, 把, 桶, 斤…)."""

    name: str
    category: SupplyCategory
    unit: str


@dataclass(frozen=True)
class Line:
    """A quantity of one catalogue item, in the item's own counting unit."""

    item: str
    quantity: int


class DonorKind(StrEnum):
    COMPANY = "company"
    ORGANISATION = "organisation"
    INDIVIDUAL = "individual"


@dataclass(frozen=True)
class Donor:
    """Who gave: a name unless anonymous (匿名); a contact, masked like a resident's."""

    kind: DonorKind
    name: str = ""
    anonymous: bool = False
    contact: Contact | None = None


@dataclass(frozen=True)
class Earmark:
    purpose: str
    amount_fen: int


@dataclass(frozen=True)
class Cash:
    """A cash gift in integer fen; earmarked parts name their purpose, the rest is general."""

    amount_fen: int
    earmarks: tuple[Earmark, ...] = ()


class StaffKind(StrEnum):
    CADRE = "cadre"
    VOLUNTEER = "volunteer"
