"""Events: facts in the past tense, as stored in the log (the mapper names each by its class and
upcasts old versions). One section per aggregate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coordination.domain.deadlines import DeadlineKind, Deadlines
from coordination.domain.units import Level
from coordination.domain.values import (
    Cash,
    CatalogueItem,
    Category,
    Contact,
    Donor,
    Kind,
    Line,
    Priority,
    Satisfaction,
    StaffKind,
    SupplyItem,
)

# --- incidents ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentReported:
    incident_id: str
    kind: Kind
    title: str
    place: str
    place_unit: str
    district: str
    reporter: Contact
    description: str = ""
    address: str = ""
    priority: Priority = Priority.NORMAL
    epidemic: bool = False
    category: Category | None = None
    items: tuple[SupplyItem, ...] = ()
    person: Contact | None = None
    home_quarantine: bool = False


@dataclass(frozen=True)
class IncidentDispatched:
    unit: str
    level: Level
    note: str = ""
    deadlines: Deadlines = Deadlines()
    on_duty: tuple[str, ...] = ()  # a night emergency names who is on duty now


@dataclass(frozen=True)
class IncidentSignedFor:
    unit: str
    note: str = ""


@dataclass(frozen=True)
class IncidentReturned:
    unit: str
    to_unit: str
    reason: str


@dataclass(frozen=True)
class IncidentHandedDown:
    unit: str
    note: str = ""


@dataclass(frozen=True)
class IncidentClaimed:
    holder: str
    unit: str
    lease_expires_at: datetime


@dataclass(frozen=True)
class ClaimTakenOver:
    from_holder: str
    holder: str
    lease_expires_at: datetime


@dataclass(frozen=True)
class IncidentReleased:
    holder: str
    reason: str = ""


@dataclass(frozen=True)
class ClaimExpired:
    holder: str


@dataclass(frozen=True)
class IncidentResolved:
    unit: str
    summary: str
    signed_off_by: str


@dataclass(frozen=True)
class ReturnVisitRecorded:
    result: Satisfaction
    note: str = ""


@dataclass(frozen=True)
class IncidentReopened:
    unit: str
    level: Level
    deadlines: Deadlines = Deadlines()


@dataclass(frozen=True)
class DeadlineBreached:
    deadline: DeadlineKind
    due_at: datetime
    unit: str


@dataclass(frozen=True)
class IncidentEscalated:
    """督办: the unit above the one that missed a deadline is asked to see to it."""

    from_unit: str
    to_unit: str
    deadline: DeadlineKind | None = None
    reason: str = ""


@dataclass(frozen=True)
class IncidentClosed:
    note: str = ""


@dataclass(frozen=True)
class DuplicateCallLinked:
    """重复件: one more resident called about an open order; a call taken, not a new order."""

    caller: Contact
    place: str = ""  # the place the caller named, if any
    note: str = ""


Event = (
    IncidentReported
    | IncidentDispatched
    | IncidentSignedFor
    | IncidentReturned
    | IncidentHandedDown
    | IncidentClaimed
    | ClaimTakenOver
    | IncidentReleased
    | ClaimExpired
    | IncidentResolved
    | ReturnVisitRecorded
    | IncidentReopened
    | IncidentClosed
    | DeadlineBreached
    | IncidentEscalated
    | DuplicateCallLinked
)

EVENT_TYPES: tuple[type, ...] = (
    IncidentReported,
    IncidentDispatched,
    IncidentSignedFor,
    IncidentReturned,
    IncidentHandedDown,
    IncidentClaimed,
    ClaimTakenOver,
    IncidentReleased,
    ClaimExpired,
    IncidentResolved,
    ReturnVisitRecorded,
    IncidentReopened,
    IncidentClosed,
    DeadlineBreached,
    IncidentEscalated,
    DuplicateCallLinked,
)

# --- staff --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffRegistered:
    staff_id: str
    name: str
    unit: str
    kind: StaffKind
    party_member: bool = False
    quarantine_trained: bool = False


@dataclass(frozen=True)
class StaffUpdated:
    name: str
    unit: str
    kind: StaffKind
    party_member: bool
    quarantine_trained: bool


@dataclass(frozen=True)
class StaffDeactivated:
    reason: str


@dataclass(frozen=True)
class ShiftScheduled:
    shift_id: str
    unit: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class ShiftCancelled:
    shift_id: str
    reason: str = ""


StaffEvent = StaffRegistered | StaffUpdated | StaffDeactivated | ShiftScheduled | ShiftCancelled

STAFF_EVENT_TYPES: tuple[type, ...] = (
    StaffRegistered,
    StaffUpdated,
    StaffDeactivated,
    ShiftScheduled,
    ShiftCancelled,
)

# --- supplies -----------------------------------------------------------------------------
# Each event lives in the stream of the one unit whose books it changes (or the catalogue's),
# so a unit's ledger folds from its own stream; a move between two units is two events in one
# atomic append.


@dataclass(frozen=True)
class CatalogueItemAdded:
    item: CatalogueItem


@dataclass(frozen=True)
class DonationReceived:
    receipt: str  # 受赠编号
    unit: str
    donor: Donor
    received_by: str
    items: tuple[Line, ...] = ()
    cash: Cash | None = None
    note: str = ""


@dataclass(frozen=True)
class DonationCorrected:
    """The donation as it should have been recorded: the ledger counts the difference."""

    receipt: str
    reason: str
    items: tuple[Line, ...] = ()
    cash: Cash | None = None


@dataclass(frozen=True)
class TransferDispatched:
    transfer_id: str
    from_unit: str
    to_unit: str
    items: tuple[Line, ...]
    note: str = ""


@dataclass(frozen=True)
class TransferReceived:
    """In the receiver's ledger: what arrived."""

    transfer_id: str
    from_unit: str
    items: tuple[Line, ...]


@dataclass(frozen=True)
class TransferSettled:
    """In the sender's ledger, with the receipt: no longer in transit; a shortfall is lost."""

    transfer_id: str
    to_unit: str
    received: tuple[Line, ...]
    lost: tuple[Line, ...] = ()
    loss_reason: str = ""


@dataclass(frozen=True)
class NeedPosted:
    need_id: str
    unit: str
    items: tuple[Line, ...]
    note: str = ""


@dataclass(frozen=True)
class NeedClosed:
    need_id: str
    reason: str


@dataclass(frozen=True)
class StockTaken:
    item: str
    recorded: int
    counted: int
    reason: str = ""


@dataclass(frozen=True)
class SuppliesReserved:
    incident_id: str
    items: tuple[Line, ...]


@dataclass(frozen=True)
class ReservationReleased:
    incident_id: str
    items: tuple[Line, ...]
    reason: str = ""


@dataclass(frozen=True)
class SuppliesIssued:
    incident_id: str
    items: tuple[Line, ...]


SupplyEvent = (
    CatalogueItemAdded
    | DonationReceived
    | DonationCorrected
    | TransferDispatched
    | TransferReceived
    | TransferSettled
    | NeedPosted
    | NeedClosed
    | StockTaken
    | SuppliesReserved
    | ReservationReleased
    | SuppliesIssued
)

SUPPLY_EVENT_TYPES: tuple[type, ...] = (
    CatalogueItemAdded,
    DonationReceived,
    DonationCorrected,
    TransferDispatched,
    TransferReceived,
    TransferSettled,
    NeedPosted,
    NeedClosed,
    StockTaken,
    SuppliesReserved,
    ReservationReleased,
    SuppliesIssued,
)
