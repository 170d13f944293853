"""Supplies: the catalogue, and each unit's ledger (物资台账) of donations, transfers, needs,
stock-takes and the stock promised to and issued by delivery orders.

One stream per unit (``supplies:<unit>``) holds every event that changes that unit's books, so
a decision folds one stream and the log decides its races by the stream's version: two orders
are never promised the same last box. A move between two units (a transfer received, a
reservation moving with its order) is two events in one atomic append.

For every item the books balance::

    donated + transferred_in - transferred_out - issued - written_off
        == on_hand + in_transit        (on_hand = available + reserved)

``decide_*`` and ``evolve`` do no I/O.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import singledispatch

from coordination.domain.commands import (
    CloseNeed,
    CorrectDonation,
    DispatchTransfer,
    IssueSupplies,
    PostNeed,
    ReceiveDonation,
    ReceiveTransfer,
    ReleaseSupplies,
    ReserveSupplies,
    SupplyCommand,
    TakeStock,
)
from coordination.domain.errors import Conflict, DomainError
from coordination.domain.events import (
    CatalogueItemAdded,
    DonationCorrected,
    DonationReceived,
    Event,
    IncidentClaimed,
    IncidentDispatched,
    IncidentHandedDown,
    IncidentResolved,
    IncidentReturned,
    NeedClosed,
    NeedPosted,
    ReservationReleased,
    StockTaken,
    SuppliesIssued,
    SuppliesReserved,
    SupplyEvent,
    TransferDispatched,
    TransferReceived,
    TransferSettled,
)
from coordination.domain.units import Jurisdiction, Level
from coordination.domain.values import Cash, CatalogueItem, Donor, Kind, Line, SupplyItem

STREAM_PREFIX = "supplies:"
CATALOGUE_STREAM = "catalogue"
MAX_QUANTITY = 100_000_000  # more of one item than any district holds: a typo
MAX_FEN = 100_000_000_000  # ¥1,000,000,000


def ledger_stream(unit: str) -> str:
    return STREAM_PREFIX + unit


def is_supply_stream(stream: str) -> bool:
    return stream.startswith(STREAM_PREFIX) or stream == CATALOGUE_STREAM


def unit_of_stream(stream: str) -> str:
    return stream[len(STREAM_PREFIX) :]


# Receipts, transfers and needs are numbered per unit: ``JZ-gangwen.chenqiao-0003``.
RECEIPT, TRANSFER, NEED = "JZ", "DB", "QZ"  # 捐赠, 调拨, 求助


def numbered(prefix: str, unit: str, n: int) -> str:
    return f"{prefix}-{unit.replace('/', '.')}-{n:04d}"


def unit_of_number(number: str, prefix: str) -> str | None:
    """The unit whose ledger issued ``number``, or None if it is not one of ``prefix``'s."""
    head, _, rest = number.partition("-")
    code, _, n = rest.rpartition("-")
    if head != prefix or not code or not n.isdigit():
        return None
    return code.replace(".", "/")


# --- errors -------------------------------------------------------------------------------


class UnknownItem(DomainError):
    def __init__(self, item: str, close: list[str], field: str) -> None:
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        super().__init__(f"{item!r} is not in the supplies catalogue{hint}", field=field)
        self.item = item
        self.close = close


class InsufficientStock(Conflict):
    """More was asked of a unit's stock than it has available: the log decided."""

    def __init__(self, unit: str, short: dict[str, int], wanted: dict[str, int]) -> None:
        said = ", ".join(
            f"{item}: {n} available, {wanted[item]} wanted" for item, n in short.items()
        )
        super().__init__(f"not enough stock at {unit} ({said})", field="items")
        self.unit = unit
        self.available = short


# --- catalogue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalogue:
    items: Mapping[str, CatalogueItem] = field(default_factory=dict)
    version: int = 0

    def check(self, lines: Iterable[Line | SupplyItem], field: str = "items") -> None:
        """Raise ``UnknownItem`` (naming close matches) for a line whose item is unknown, and a
        ``DomainError`` for a measure other than the item's own counting unit."""
        for i, line in enumerate(lines):
            item = self.items.get(line.item)
            if item is None:
                raise UnknownItem(line.item, self.close_to(line.item), f"{field}.{i}.item")
            measure = getattr(line, "measure", None)
            if measure not in (None, "", "piece", item.unit):
                raise DomainError(
                    f"{item.name} is counted in {item.unit}, not {measure}", f"{field}.{i}.measure"
                )

    def close_to(self, name: str) -> list[str]:
        """Up to three catalogue items whose names are like ``name``."""
        close = difflib.get_close_matches(name, list(self.items), n=3, cutoff=0.3)
        close += [n for n in self.items if name in n and n not in close]
        return close[:3]

    def unit_of(self, item: str) -> str:
        return self.items[item].unit


def fold_catalogue(
    events: Iterable[CatalogueItemAdded], state: Catalogue | None = None
) -> Catalogue:
    """The catalogue after ``events``, from ``state`` (an empty one by default)."""
    items: dict[str, CatalogueItem] = dict(state.items) if state else {}
    version = state.version if state else 0
    for event in events:
        items[event.item.name] = event.item
        version += 1
    return Catalogue(items, version)


def decide_catalogue(state: Catalogue, item: CatalogueItem) -> list[CatalogueItemAdded]:
    if not item.name.strip():
        raise DomainError("an item has a name", field="name")
    if not item.unit.strip():
        raise DomainError("an item has a counting unit (个, 把, 桶, 斤…)", field="unit")
    if item.name in state.items:
        raise Conflict(f"{item.name} is in the catalogue already", field="name")
    return [CatalogueItemAdded(item)]


# --- the ledger ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Stock:
    """One item's books at one unit."""

    on_hand: int = 0  # on the unit's shelves, reserved or not
    reserved: int = 0  # promised to delivery orders
    in_transit: int = 0  # sent by this unit, not yet received
    donated: int = 0
    transferred_in: int = 0
    transferred_out: int = 0
    issued: int = 0
    written_off: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def booked(self) -> int:
        """What came in less what went out, as the books count it."""
        return (
            self.donated
            + self.transferred_in
            - self.transferred_out
            - self.issued
            - self.written_off
        )

    @property
    def difference(self) -> int:
        """Zero when the books balance."""
        return self.booked - (self.on_hand + self.in_transit)


@dataclass(frozen=True)
class Donation:
    receipt: str
    donor: Donor
    received_by: str
    items: tuple[Line, ...]
    cash: Cash | None
    note: str = ""
    corrections: int = 0


@dataclass(frozen=True)
class Transfer:
    id: str
    from_unit: str
    to_unit: str
    items: tuple[Line, ...]
    settled: bool = False


class NeedStatus:
    OPEN = "open"
    MET = "met"
    CLOSED = "closed"


@dataclass(frozen=True)
class Need:
    id: str
    items: tuple[Line, ...]
    remaining: tuple[Line, ...]  # what is still lacking, after what arrived since the plea
    note: str = ""
    status: str = NeedStatus.OPEN
    reason: str = ""


@dataclass(frozen=True)
class Ledger:
    unit: str = ""
    version: int = 0
    stock: Mapping[str, Stock] = field(default_factory=dict)
    cash_fen: int = 0
    earmarked: Mapping[str, int] = field(default_factory=dict)  # purpose -> fen
    donations: Mapping[str, Donation] = field(default_factory=dict)
    transfers: Mapping[str, Transfer] = field(default_factory=dict)  # sent from here
    received: frozenset[str] = frozenset()  # transfers received here
    needs: Mapping[str, Need] = field(default_factory=dict)
    reservations: Mapping[str, tuple[Line, ...]] = field(default_factory=dict)  # by incident

    def of(self, item: str) -> Stock:
        return self.stock.get(item, Stock())

    def available(self, lines: Iterable[Line]) -> dict[str, int]:
        return {line.item: self.of(line.item).available for line in lines}

    @property
    def balanced(self) -> bool:
        return all(s.difference == 0 for s in self.stock.values())


def fold_ledger(unit: str, events: Iterable[SupplyEvent], state: Ledger | None = None) -> Ledger:
    state = state or Ledger(unit=unit)
    for event in events:
        state = replace(evolve(state, event), version=state.version + 1)
    return state


@dataclass(frozen=True)
class SupplyContext:
    jurisdiction: Jurisdiction
    catalogue: Catalogue


def merged(lines: Iterable[Line | SupplyItem]) -> tuple[Line, ...]:
    """Lines of the same item added together, in first-seen order."""
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.item] = totals.get(line.item, 0) + line.quantity
    return tuple(Line(item, n) for item, n in totals.items())


def _whole(n: object) -> bool:
    """An int and not a bool (``True`` is an int to Python, not a count to anyone)."""
    return isinstance(n, int) and not isinstance(n, bool)


def _check_lines(lines: tuple[Line, ...], ctx: SupplyContext, field: str, empty: bool) -> None:
    if not lines and not empty:
        raise DomainError("name at least one item", field=field)
    for i, line in enumerate(lines):
        if not _whole(line.quantity):
            raise DomainError("a quantity is a whole number", f"{field}.{i}.quantity")
        if not 0 < line.quantity <= MAX_QUANTITY:
            raise DomainError(
                f"a quantity is between 1 and {MAX_QUANTITY}", f"{field}.{i}.quantity"
            )
    ctx.catalogue.check(lines, field)


def _check_cash(cash: Cash | None, field: str = "cash") -> None:
    if cash is None:
        return
    if not _whole(cash.amount_fen) or not 0 < cash.amount_fen <= MAX_FEN:
        raise DomainError("a cash gift is a positive whole number of fen", f"{field}.amount_fen")
    for i, earmark in enumerate(cash.earmarks):
        if not earmark.purpose.strip():
            raise DomainError("an earmark names its purpose", f"{field}.earmarks.{i}.purpose")
        if not _whole(earmark.amount_fen) or earmark.amount_fen <= 0:
            raise DomainError(
                "an earmark is a positive whole number of fen", f"{field}.earmarks.{i}.amount_fen"
            )
    if sum(e.amount_fen for e in cash.earmarks) > cash.amount_fen:
        raise DomainError("the earmarks add up to more than the gift", f"{field}.earmarks")


def _counts(lines: Iterable[Line]) -> dict[str, int]:
    return {line.item: line.quantity for line in merged(lines)}


def _fen(cash: Cash | None) -> tuple[int, dict[str, int]] | None:
    """A cash gift as the books count it: the amount and the fen earmarked for each purpose."""
    if cash is None:
        return None
    earmarked: dict[str, int] = {}
    for earmark in cash.earmarks:
        earmarked[earmark.purpose] = earmarked.get(earmark.purpose, 0) + earmark.amount_fen
    return cash.amount_fen, earmarked


def _check_available(state: Ledger, lines: Iterable[Line]) -> None:
    wanted = {line.item: line.quantity for line in merged(lines)}
    short = {
        item: state.of(item).available for item, n in wanted.items() if state.of(item).available < n
    }
    if short:
        raise InsufficientStock(state.unit, short, wanted)


def decide_ledger(state: Ledger, command: SupplyCommand, ctx: SupplyContext) -> list[SupplyEvent]:
    """The events a command on one unit's ledger produces (``ReceiveTransfer`` excepted: it
    changes two ledgers, see ``receive_transfer``)."""
    return _decide(command, state, ctx)


@singledispatch
def _decide(command: object, state: Ledger, ctx: SupplyContext) -> list[SupplyEvent]:
    raise TypeError(f"unknown command {type(command).__name__}")


@_decide.register
def _donate(command: ReceiveDonation, state: Ledger, ctx: SupplyContext) -> list[SupplyEvent]:
    if command.unit != state.unit:
        raise DomainError(f"this is {state.unit}'s ledger, not {command.unit}'s", "unit")
    if not command.items and command.cash is None:
        raise DomainError("a donation gives items, cash or both", field="items")
    _check_lines(command.items, ctx, "items", empty=True)
    _check_cash(command.cash)
    if not command.donor.anonymous and not command.donor.name.strip():
        raise DomainError("a donor has a name unless anonymous", field="donor.name")
    if not command.received_by.strip():
        raise DomainError("say who received the donation", field="received_by")
    receipt = numbered(RECEIPT, state.unit, len(state.donations) + 1)
    c = command
    return [
        DonationReceived(receipt, c.unit, c.donor, c.received_by, merged(c.items), c.cash, c.note)
    ]


@_decide.register
def _correct(command: CorrectDonation, state: Ledger, ctx: SupplyContext) -> list[SupplyEvent]:
    donation = state.donations.get(command.receipt)
    if donation is None:
        raise DomainError(f"no donation {command.receipt} at {state.unit}", field="receipt")
    if not command.reason.strip():
        raise DomainError("a correction says why", field="reason")
    # Nothing at all voids the donation (recorded by mistake, or given back): still an entry.
    _check_lines(command.items, ctx, "items", empty=True)
    _check_cash(command.cash)
    items = merged(command.items)
    if _counts(items) == _counts(donation.items) and _fen(command.cash) == _fen(donation.cash):
        raise DomainError("the correction changes nothing", field="items")
    # Less than was recorded comes out of the stock: never below what is promised.
    was = {line.item: line.quantity for line in donation.items}
    now = {line.item: line.quantity for line in items}
    less = [Line(item, n - now.get(item, 0)) for item, n in was.items() if n > now.get(item, 0)]
    _check_available(state, less)
    return [DonationCorrected(command.receipt, command.reason, items, command.cash)]


@_decide.register
def _dispatch(command: DispatchTransfer, state: Ledger, ctx: SupplyContext) -> list[SupplyEvent]:
    to = ctx.jurisdiction.get(command.to_unit, "to_unit")
    if to.id == state.unit:
        raise DomainError("a transfer goes to another unit, not to itself", field="to_unit")
    j = ctx.jurisdiction
    if not (j.within(to.id, state.unit) or j.within(state.unit, to.id)):
        raise DomainError(
            f"a transfer goes down the tree or back up it; {to.id} is neither below nor above "
            f"{state.unit}",
            field="to_unit",
        )
    _check_lines(command.items, ctx, "items", empty=False)
    items = merged(command.items)
    _check_available(state, items)
    transfer_id = numbered(TRANSFER, state.unit, len(state.transfers) + 1)
    return [TransferDispatched(transfer_id, state.unit, to.id, items, command.note)]


@_decide.register
def _post_need(command: PostNeed, state: Ledger, ctx: SupplyContext) -> list[SupplyEvent]:
    _check_lines(command.items, ctx, "items", empty=False)
    need_id = numbered(NEED, state.unit, len(state.needs) + 1)
    return [NeedPosted(need_id, state.unit, merged(command.items), command.note)]


@_decide.register
def _close_need(command: CloseNeed, state: Ledger, ctx: SupplyContext) -> list[SupplyEvent]:
    need = state.needs.get(command.need_id)
    if need is None:
        raise DomainError(f"no need {command.need_id} at {state.unit}", field="need_id")
    if need.status != NeedStatus.OPEN:
        raise DomainError(f"{need.id} is {need.status} already", field="need_id")
    if not command.reason.strip():
        raise DomainError("closing a plea says why", field="reason")
    return [NeedClosed(need.id, command.reason)]


@_decide.register
def _take_stock(command: TakeStock, state: Ledger, ctx: SupplyContext) -> list[SupplyEvent]:
    if command.item not in ctx.catalogue.items:
        raise UnknownItem(command.item, ctx.catalogue.close_to(command.item), "item")
    if not _whole(command.counted) or not 0 <= command.counted <= MAX_QUANTITY:
        raise DomainError("a count is a whole number, 0 or more", field="counted")
    stock = state.of(command.item)
    if command.counted < stock.reserved:
        raise DomainError(
            f"{stock.reserved} {command.item} are promised to orders: release them before "
            f"counting fewer",
            field="counted",
        )
    if command.counted != stock.on_hand and not command.reason.strip():
        raise DomainError("a stock-take that finds a difference says why", field="reason")
    return [StockTaken(command.item, stock.on_hand, command.counted, command.reason)]


@_decide.register
def _reserve(command: ReserveSupplies, state: Ledger, ctx: SupplyContext) -> list[SupplyEvent]:
    if command.incident_id in state.reservations:
        raise DomainError(f"{command.incident_id} holds a reservation already", "incident_id")
    _check_lines(command.items, ctx, "items", empty=False)
    items = merged(command.items)
    _check_available(state, items)
    return [SuppliesReserved(command.incident_id, items)]


@_decide.register
def _release(command: ReleaseSupplies, state: Ledger, ctx: SupplyContext) -> list[SupplyEvent]:
    items = state.reservations.get(command.incident_id)
    if items is None:
        raise DomainError(f"{command.incident_id} holds no reservation here", "incident_id")
    return [ReservationReleased(command.incident_id, items, command.reason)]


@_decide.register
def _issue(command: IssueSupplies, state: Ledger, ctx: SupplyContext) -> list[SupplyEvent]:
    reserved = state.reservations.get(command.incident_id)
    if reserved is not None:
        return [SuppliesIssued(command.incident_id, reserved)]
    _check_lines(command.items, ctx, "items", empty=False)
    items = merged(command.items)
    _check_available(state, items)
    return [SuppliesIssued(command.incident_id, items)]


def receive_transfer(
    receiver: Ledger, sender: Ledger, command: ReceiveTransfer, ctx: SupplyContext
) -> tuple[list[SupplyEvent], list[SupplyEvent]]:
    """The receiver's events and the sender's: what arrived, and what is no longer in transit
    (a shortfall lost, with the reason)."""
    transfer = sender.transfers.get(command.transfer_id)
    if transfer is None or transfer.to_unit != receiver.unit:
        raise DomainError(
            f"no transfer {command.transfer_id} to {receiver.unit}", field="transfer_id"
        )
    if transfer.settled or command.transfer_id in receiver.received:
        raise Conflict(f"{command.transfer_id} was received already", field="transfer_id")
    sent = {line.item: line.quantity for line in transfer.items}
    if command.received is None:
        got = dict(sent)
    else:
        got = {}
        for i, line in enumerate(command.received):
            if line.item not in sent:
                raise DomainError(
                    f"{line.item} was not sent in {transfer.id}", f"received.{i}.item"
                )
            if not _whole(line.quantity) or not 0 <= line.quantity <= sent[line.item]:
                raise DomainError(
                    f"between 0 and the {sent[line.item]} sent", f"received.{i}.quantity"
                )
            got[line.item] = got.get(line.item, 0) + line.quantity
        if any(n > sent[item] for item, n in got.items()):
            raise DomainError("more received than was sent", field="received")
    received = tuple(Line(item, got.get(item, 0)) for item in sent)
    lost = tuple(
        Line(item, n - got.get(item, 0)) for item, n in sent.items() if n > got.get(item, 0)
    )
    if lost and not command.loss_reason.strip():
        raise DomainError("less arrived than was sent: say why", field="loss_reason")
    arrived = tuple(line for line in received if line.quantity > 0)
    return (
        [TransferReceived(transfer.id, transfer.from_unit, arrived)],
        [TransferSettled(transfer.id, receiver.unit, arrived, lost, command.loss_reason)],
    )


# --- evolve -------------------------------------------------------------------------------


def evolve(state: Ledger, event: SupplyEvent) -> Ledger:
    return _evolve(event, state)


@singledispatch
def _evolve(event: object, state: Ledger) -> Ledger:
    raise TypeError(f"unknown event {type(event).__name__}")


def _add(state: Ledger, lines: Iterable[Line], sign: int = 1, **fields: int) -> Ledger:
    """Add ``sign * quantity`` times each named multiplier to each line's stock fields."""
    stock = dict(state.stock)
    for line in lines:
        s = stock.get(line.item, Stock())
        stock[line.item] = replace(
            s, **{name: getattr(s, name) + sign * k * line.quantity for name, k in fields.items()}
        )
    return replace(state, stock=stock)


def _arrived(state: Ledger, lines: Iterable[Line]) -> Ledger:
    """Supplies that arrive go to the open pleas, oldest first."""
    arriving = {line.item: line.quantity for line in lines}
    needs = dict(state.needs)
    for need in state.needs.values():
        if need.status != NeedStatus.OPEN:
            continue
        remaining = []
        for line in need.remaining:
            used = min(line.quantity, arriving.get(line.item, 0))
            if used:
                arriving[line.item] -= used
            if line.quantity - used:
                remaining.append(Line(line.item, line.quantity - used))
        status = NeedStatus.OPEN if remaining else NeedStatus.MET
        needs[need.id] = replace(need, remaining=tuple(remaining), status=status)
    return replace(state, needs=needs)


def _cash(state: Ledger, cash: Cash | None, sign: int) -> Ledger:
    if cash is None:
        return state
    earmarked = dict(state.earmarked)
    for earmark in cash.earmarks:
        earmarked[earmark.purpose] = earmarked.get(earmark.purpose, 0) + sign * earmark.amount_fen
    earmarked = {purpose: fen for purpose, fen in earmarked.items() if fen}
    return replace(state, cash_fen=state.cash_fen + sign * cash.amount_fen, earmarked=earmarked)


@_evolve.register
def _(event: DonationReceived, state: Ledger) -> Ledger:
    state = _add(state, event.items, on_hand=1, donated=1)
    state = _cash(state, event.cash, 1)
    donation = Donation(
        event.receipt, event.donor, event.received_by, event.items, event.cash, event.note
    )
    state = replace(state, donations={**state.donations, event.receipt: donation})
    return _arrived(state, event.items)


@_evolve.register
def _(event: DonationCorrected, state: Ledger) -> Ledger:
    donation = state.donations[event.receipt]
    state = _add(state, donation.items, -1, on_hand=1, donated=1)
    state = _add(state, event.items, on_hand=1, donated=1)
    state = _cash(_cash(state, donation.cash, -1), event.cash, 1)
    corrected = replace(
        donation, items=event.items, cash=event.cash, corrections=donation.corrections + 1
    )
    return replace(state, donations={**state.donations, event.receipt: corrected})


@_evolve.register
def _(event: TransferDispatched, state: Ledger) -> Ledger:
    state = _add(state, event.items, on_hand=-1, in_transit=1)
    transfer = Transfer(event.transfer_id, event.from_unit, event.to_unit, event.items)
    return replace(state, transfers={**state.transfers, event.transfer_id: transfer})


@_evolve.register
def _(event: TransferSettled, state: Ledger) -> Ledger:
    transfer = state.transfers[event.transfer_id]
    state = _add(state, transfer.items, in_transit=-1)
    state = _add(state, event.received, transferred_out=1)
    state = _add(state, event.lost, written_off=1)
    settled = replace(transfer, settled=True)
    return replace(state, transfers={**state.transfers, event.transfer_id: settled})


@_evolve.register
def _(event: TransferReceived, state: Ledger) -> Ledger:
    state = _add(state, event.items, on_hand=1, transferred_in=1)
    state = replace(state, received=state.received | {event.transfer_id})
    return _arrived(state, event.items)


@_evolve.register
def _(event: NeedPosted, state: Ledger) -> Ledger:
    need = Need(event.need_id, event.items, event.items, event.note)
    return replace(state, needs={**state.needs, event.need_id: need})


@_evolve.register
def _(event: NeedClosed, state: Ledger) -> Ledger:
    need = replace(state.needs[event.need_id], status=NeedStatus.CLOSED, reason=event.reason)
    return replace(state, needs={**state.needs, event.need_id: need})


@_evolve.register
def _(event: StockTaken, state: Ledger) -> Ledger:
    line = Line(event.item, event.recorded - event.counted)
    return _add(state, [line], on_hand=-1, written_off=1)


@_evolve.register
def _(event: SuppliesReserved, state: Ledger) -> Ledger:
    state = _add(state, event.items, reserved=1)
    return replace(state, reservations={**state.reservations, event.incident_id: event.items})


@_evolve.register
def _(event: ReservationReleased, state: Ledger) -> Ledger:
    state = _add(state, event.items, reserved=-1)
    reservations = {k: v for k, v in state.reservations.items() if k != event.incident_id}
    return replace(state, reservations=reservations)


@_evolve.register
def _(event: SuppliesIssued, state: Ledger) -> Ledger:
    if event.incident_id in state.reservations:
        state = _add(state, event.items, reserved=-1)
        reservations = {k: v for k, v in state.reservations.items() if k != event.incident_id}
        state = replace(state, reservations=reservations)
    return _add(state, event.items, on_hand=-1, issued=1)


# --- deliveries draw stock ----------------------------------------------------------------


def draws(
    kind: Kind | None,
    items: Iterable[SupplyItem],
    incident_id: str,
    events: Iterable[Event],
    held_at: str | None,
) -> list[tuple[str, SupplyCommand]]:
    """What a delivery order's new events ask of the ledgers: ``(unit, command)`` pairs.

    Its items are reserved from a community's stock when the order is handed down to it (or
    dispatched straight to it, or claimed there without a reservation), released when it leaves
    (returned, or dispatched elsewhere), and issued by the unit that resolves it. ``held_at`` is
    the unit whose ledger holds the order's reservation now, if any.
    """
    if kind is not Kind.SUPPLY_DELIVERY:
        return []
    lines = merged(items)
    wanted: tuple[str, str] | None = None  # (what, unit)
    for event in events:
        match event:
            case IncidentHandedDown(unit=unit) | IncidentClaimed(unit=unit):
                wanted = ("reserve", unit)
            case IncidentDispatched(unit=unit, level=level):
                wanted = ("reserve", unit) if level is Level.COMMUNITY else ("none", "")
            case IncidentReturned():
                wanted = ("none", "")
            case IncidentResolved(unit=unit):
                wanted = ("issue", unit)
    if wanted is None:
        return []
    what, unit = wanted
    if what == "reserve" and held_at == unit:
        return []
    out: list[tuple[str, SupplyCommand]] = []
    if held_at is not None and not (what == "issue" and held_at == unit):
        reason = f"the order moved to {unit}" if unit else "the order left the unit"
        out.append((held_at, ReleaseSupplies(incident_id, reason)))
    if what == "reserve":
        out.append((unit, ReserveSupplies(incident_id, lines)))
    elif what == "issue":
        out.append((unit, IssueSupplies(incident_id, lines)))
    return out
