"""Commands: what someone asks of an aggregate. Orders in the imperative, frozen dataclasses;
``decide`` turns each into events or refuses it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coordination.domain.deadlines import DeadlineKind
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
    home_quarantine: bool = False  # a delivery to a household under home quarantine (居家隔离)
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
    """A trained colleague takes claimed risky work (a quarantine visit, a delivery to a
    quarantined household) over from its holder."""

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
class LinkCall:
    """Link a repeated call (重复件) to the open order it repeats, instead of opening a new one."""

    caller: Contact
    place: str = ""  # where the caller says it is: it must lie in the order's district
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
    | LinkCall
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


# --- supplies -----------------------------------------------------------------------------
# A unit's ledger (物资台账) is one stream per unit; the catalogue is one stream per district.


@dataclass(frozen=True)
class AddCatalogueItem:
    item: CatalogueItem


@dataclass(frozen=True)
class ReceiveDonation:
    """A donation (捐赠) received by ``unit``; the ledger issues its receipt number."""

    unit: str
    donor: Donor
    received_by: str
    items: tuple[Line, ...] = ()
    cash: Cash | None = None
    note: str = ""


@dataclass(frozen=True)
class CorrectDonation:
    """A compensating entry: the donation as it should have been recorded, and why."""

    receipt: str
    reason: str
    items: tuple[Line, ...] = ()
    cash: Cash | None = None


@dataclass(frozen=True)
class DispatchTransfer:
    """Send supplies down the tree (or back up): they are in transit until received."""

    to_unit: str
    items: tuple[Line, ...]
    note: str = ""


@dataclass(frozen=True)
class ReceiveTransfer:
    """The receiver counts what arrived; less than was sent records the loss, with a reason."""

    transfer_id: str
    received: tuple[Line, ...] | None = None  # None: all that was sent
    loss_reason: str = ""


@dataclass(frozen=True)
class PostNeed:
    """A plea (求助): what the unit lacks."""

    items: tuple[Line, ...]
    note: str = ""


@dataclass(frozen=True)
class CloseNeed:
    need_id: str
    reason: str


@dataclass(frozen=True)
class TakeStock:
    """A stock-take (盘点): the count found; any difference is written off with the reason."""

    item: str
    counted: int
    reason: str = ""


@dataclass(frozen=True)
class ReserveSupplies:
    """Promise stock to a delivery order: the log decides who gets the last box."""

    incident_id: str
    items: tuple[Line, ...]


@dataclass(frozen=True)
class ReleaseSupplies:
    incident_id: str
    reason: str = ""


@dataclass(frozen=True)
class IssueSupplies:
    """A delivery is done: what it reserved (or, unreserved, what it names) leaves the stock."""

    incident_id: str
    items: tuple[Line, ...]


SupplyCommand = (
    ReceiveDonation
    | CorrectDonation
    | DispatchTransfer
    | ReceiveTransfer
    | PostNeed
    | CloseNeed
    | TakeStock
    | ReserveSupplies
    | ReleaseSupplies
    | IssueSupplies
)
