"""Commands: what someone asks of an aggregate. Orders in the imperative, frozen dataclasses;
``decide`` turns each into events or refuses it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coordination.domain.deadlines import DeadlineKind
from coordination.domain.values import (
    Category,
    Contact,
    Kind,
    Priority,
    Satisfaction,
    StaffKind,
    SupplyItem,
)

# --- incidents ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportIncident:
    incident_id: str
    kind: Kind
    title: str
    place: str
    reporter: Contact
    description: str = ""
    address: str = ""
    priority: Priority = Priority.NORMAL
    epidemic: bool = False
    category: Category | None = None
    items: tuple[SupplyItem, ...] = ()
    person: Contact | None = None
    on_duty: tuple[str, ...] | None = None  # who is on duty at the place now, if looked up


@dataclass(frozen=True)
class DispatchIncident:
    unit: str
    note: str = ""


@dataclass(frozen=True)
class SignFor:
    note: str = ""


@dataclass(frozen=True)
class ReturnIncident:
    reason: str


@dataclass(frozen=True)
class HandDown:
    community: str | None = None
    note: str = ""


@dataclass(frozen=True)
class ClaimIncident:
    holder: str


@dataclass(frozen=True)
class TakeOverClaim:
    """A trained colleague takes a claimed quarantine visit over from its holder."""

    holder: str


@dataclass(frozen=True)
class ReleaseIncident:
    """Give a claimed order back: its holder may, and so may the unit's handler (override)."""

    by: str
    reason: str = ""
    override: bool = False


@dataclass(frozen=True)
class ExpireClaim:
    """Return a claim whose lease has run out; ``holder`` is the claim the watcher saw."""

    holder: str


@dataclass(frozen=True)
class ResolveIncident:
    summary: str
    signed_off_by: str
    by: str = ""  # a field worker resolving: must hold the claim; "" for the unit's behalf


@dataclass(frozen=True)
class RecordReturnVisit:
    result: Satisfaction
    note: str = ""


@dataclass(frozen=True)
class CloseIncident:
    note: str = ""


@dataclass(frozen=True)
class RecordBreach:
    """The deadline watcher saw ``deadline`` pass."""

    deadline: DeadlineKind


Command = (
    ReportIncident
    | DispatchIncident
    | SignFor
    | ReturnIncident
    | HandDown
    | ClaimIncident
    | TakeOverClaim
    | ReleaseIncident
    | ExpireClaim
    | ResolveIncident
    | RecordReturnVisit
    | CloseIncident
    | RecordBreach
)

# --- staff --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterStaff:
    staff_id: str
    name: str
    unit: str
    kind: StaffKind
    party_member: bool = False
    quarantine_trained: bool = False


@dataclass(frozen=True)
class UpdateStaff:
    """The member's full new profile."""

    name: str
    unit: str
    kind: StaffKind
    party_member: bool
    quarantine_trained: bool


@dataclass(frozen=True)
class DeactivateStaff:
    reason: str


@dataclass(frozen=True)
class ScheduleShift:
    shift_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class CancelShift:
    shift_id: str
    reason: str = ""


StaffCommand = RegisterStaff | UpdateStaff | DeactivateStaff | ScheduleShift | CancelShift
