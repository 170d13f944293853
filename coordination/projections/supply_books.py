"""What the read side makes of the projected ledgers: stock rows, the reconciliation (every
term of the books per unit and item, the subtree's totals, cash, the differences named), pleas,
shortages, transfers, the public list's entries, a day's donations and issues; and the
reconciliation as the API and the CLI show it. Pure: ``ReadModels`` reads, this computes."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from coordination.domain.supplies import (
    Ledger,
    NeedStatus,
    Stock,
)
from coordination.domain.units import Jurisdiction
from coordination.domain.values import CatalogueItem, Line
from coordination.projections.supplies import lines_of, moment
from coordination.store.mapper import to_data

# --- what the read side makes of the ledgers ----------------------------------------------


@dataclass(frozen=True)
class Ledgers:
    """Ledgers of some units and the district's catalogue, read at one checkpoint."""

    position: int
    ledgers: dict[str, Ledger]  # by unit, in unit order
    catalogue: dict[str, CatalogueItem]

    def measure(self, item: str) -> str:
        found = self.catalogue.get(item)
        return found.unit if found else ""

    def measured(self, lines: Iterable[Line]) -> tuple[Measured, ...]:
        return tuple(Measured(x.item, x.quantity, self.measure(x.item)) for x in lines)


@dataclass(frozen=True)
class Measured:
    """A quantity of an item, with the item's counting unit (个, 把, 桶…)."""

    item: str
    quantity: int
    measure: str


@dataclass(frozen=True)
class StockRow:
    unit: str
    item: str
    measure: str
    on_hand: int
    reserved: int
    available: int
    in_transit: int


def stock_rows(found: Ledgers, item: str | None = None) -> list[StockRow]:
    """Per unit and item (one item if named), what is on hand, promised, free, on its way."""
    return [
        StockRow(unit, name, found.measure(name), s.on_hand, s.reserved, s.available, s.in_transit)
        for unit, ledger in found.ledgers.items()
        for name, s in sorted(ledger.stock.items())
        if item in (None, name)
    ]


TERMS = ("donated", "transferred_in", "transferred_out", "issued", "written_off")
HELD = ("on_hand", "reserved", "available", "in_transit")


@dataclass(frozen=True)
class Books:
    """One item's books at a unit ('' for a subtree's total): every term and the
    difference, booked (what came in less what went out) less held (on hand and in transit)."""

    unit: str
    item: str
    measure: str
    donated: int
    transferred_in: int
    transferred_out: int
    issued: int
    written_off: int
    on_hand: int
    reserved: int
    available: int
    in_transit: int
    booked: int
    held: int
    difference: int


@dataclass(frozen=True)
class Difference:
    """Where the books do not balance, and by how much (or a transfer one side lacks)."""

    unit: str
    item: str
    difference: int
    explanation: str


@dataclass(frozen=True)
class Cash:
    unit: str
    cash_fen: int
    earmarked: dict[str, int]


@dataclass(frozen=True)
class Reconciliation:
    position: int
    rows: tuple[Books, ...]
    totals: tuple[Books, ...]
    cash: tuple[Cash, ...]
    cash_total: Cash
    differences: tuple[Difference, ...]

    @property
    def balanced(self) -> bool:
        return not self.differences


def _books(unit: str, item: str, measure: str, s: Stock) -> Books:
    held = s.on_hand + s.in_transit
    terms = {name: getattr(s, name) for name in TERMS + HELD}
    return Books(unit, item, measure, **terms, booked=s.booked, held=held, difference=s.difference)


def reconcile(found: Ledgers) -> Reconciliation:
    """Every unit's books per item, the totals over them, cash, and each difference named: an
    item whose books do not balance, or a transfer received at one end but not settled at the
    other (both ends read)."""
    rows = []
    totals: dict[str, Counter[str]] = {}
    differences = []
    for unit, ledger in found.ledgers.items():
        for item, stock in sorted(ledger.stock.items()):
            books = _books(unit, item, found.measure(item), stock)
            rows.append(books)
            totals.setdefault(item, Counter()).update(
                {name: getattr(stock, name) for name in Stock.__dataclass_fields__}
            )
            if books.difference:
                differences.append(
                    Difference(
                        unit,
                        item,
                        books.difference,
                        f"{unit}: {item} booked {books.booked}, held {books.held} "
                        f"(on hand {books.on_hand} + in transit {books.in_transit})",
                    )
                )
    differences += _unmatched_transfers(found.ledgers)
    summed = tuple(
        _books("", item, found.measure(item), Stock(**dict(counts)))
        for item, counts in sorted(totals.items())
    )
    cash = tuple(Cash(u, x.cash_fen, dict(x.earmarked)) for u, x in found.ledgers.items())
    earmarked: Counter[str] = Counter()
    for each in cash:
        earmarked.update(each.earmarked)
    total = Cash("", sum(c.cash_fen for c in cash), dict(sorted(earmarked.items())))
    return Reconciliation(found.position, tuple(rows), summed, cash, total, tuple(differences))


def _unmatched_transfers(ledgers: Mapping[str, Ledger]) -> list[Difference]:
    found = []
    for unit, ledger in ledgers.items():
        for transfer in ledger.transfers.values():
            receiver = ledgers.get(transfer.to_unit)
            if receiver is not None and transfer.settled != (transfer.id in receiver.received):
                side = "settled by" if transfer.settled else "not settled by"
                found.append(
                    Difference(
                        transfer.to_unit,
                        transfer.id,
                        0,
                        f"{transfer.id} {side} {unit} but "
                        f"{'not ' if transfer.settled else ''}received by {transfer.to_unit}",
                    )
                )
    return found


@dataclass(frozen=True)
class NeedRow:
    need_id: str
    unit: str
    status: str
    note: str
    reason: str
    items: tuple[Measured, ...]
    remaining: tuple[Measured, ...]


def need_rows(found: Ledgers, status: str = NeedStatus.OPEN) -> list[NeedRow]:
    """The pleas (求助) of the units, in the order posted, of one status (or ``all``)."""
    return [
        NeedRow(
            n.id,
            unit,
            n.status,
            n.note,
            n.reason,
            found.measured(n.items),
            found.measured(n.remaining),
        )
        for unit, ledger in found.ledgers.items()
        for n in ledger.needs.values()
        if status in ("all", n.status)
    ]


@dataclass(frozen=True)
class ShortageRow:
    unit: str
    item: str
    measure: str
    needed: int  # still asked for by the unit's open pleas
    available: int
    short: int  # needed beyond what is available


def shortage_rows(found: Ledgers) -> list[ShortageRow]:
    rows = []
    for unit, ledger in found.ledgers.items():
        needed: Counter[str] = Counter()
        for need in ledger.needs.values():
            if need.status == NeedStatus.OPEN:
                needed.update({line.item: line.quantity for line in need.remaining})
        for item, n in sorted(needed.items()):
            free = ledger.of(item).available
            if n > free:
                rows.append(ShortageRow(unit, item, found.measure(item), n, free, n - free))
    return rows


@dataclass(frozen=True)
class TransferRow:
    transfer_id: str
    from_unit: str
    to_unit: str
    items: tuple[Measured, ...]
    note: str
    dispatched_at: datetime
    in_transit: bool
    received_at: datetime | None = None
    received: tuple[Measured, ...] = ()
    lost: tuple[Measured, ...] = ()
    loss_reason: str = ""


def transfer_row(
    transfer_id: str, sent: bytes | str, got: bytes | str | None, found: Ledgers
) -> TransferRow:
    """A transfer from its dispatch's entry and, once received, its receipt's."""
    s = json.loads(sent)
    row = TransferRow(
        transfer_id,
        s["from_unit"],
        s["to_unit"],
        found.measured(lines_of(s["items"])),
        s["note"],
        datetime.fromisoformat(s["dispatched_at"]),
        in_transit=got is None,
    )
    if got is None:
        return row
    g = json.loads(got)
    return replace(
        row,
        received_at=datetime.fromisoformat(g["received_at"]),
        received=found.measured(lines_of(g["received"])),
        lost=found.measured(lines_of(g["lost"])),
        loss_reason=g["loss_reason"],
    )


@dataclass(frozen=True)
class DonationEntry:
    """One line of the public list: who gave (not when anonymous), what, to whom, when."""

    receipt: str
    unit: str
    donor: str
    anonymous: bool
    donor_kind: str
    items: tuple[Measured, ...]
    cash_fen: int
    earmarks: tuple[dict[str, Any], ...]
    received_at: datetime
    corrected: bool


def donation_entry(raw: bytes | str, received: float, found: Ledgers) -> DonationEntry:
    data = json.loads(raw)
    return DonationEntry(
        data["receipt"],
        data["unit"],
        data["donor"],
        data["anonymous"],
        data["donor_kind"],
        found.measured(lines_of(data["items"])),
        data["cash_fen"],
        tuple(data["earmarks"]),
        moment(received),
        data["corrected"],
    )


@dataclass(frozen=True)
class SupplyDay:
    """One unit's supplies on a local day: donations received (their number, corrections,
    items and cash, corrections counted the day they were made) and what it issued."""

    unit: str
    donations: int = 0
    corrections: int = 0
    cash_fen: int = 0
    donated: tuple[Measured, ...] = ()
    issued: tuple[Measured, ...] = ()


def supply_days(counts: Mapping[str, int], found: Ledgers) -> list[SupplyDay]:
    """The day's counters (``<unit>|<metric>[|<item>]``) per unit, in unit order."""
    by_unit: dict[str, dict[str, Any]] = {}
    for name, n in counts.items():
        unit, metric, *item = name.split("|", 2)
        figures = by_unit.setdefault(unit, {"donated": {}, "issued": {}})
        if item:
            figures[metric][item[0]] = n
        else:
            figures[metric] = n
    days = []
    for unit, figures in sorted(by_unit.items()):
        donated, issued = figures.pop("donated"), figures.pop("issued")
        days.append(
            SupplyDay(
                unit,
                **{k: v for k, v in figures.items() if k in SupplyDay.__dataclass_fields__},
                donated=found.measured(Line(i, n) for i, n in sorted(donated.items())),
                issued=found.measured(Line(i, n) for i, n in sorted(issued.items())),
            )
        )
    return days


# --- the reconciliation as the API and the CLI show it ------------------------------------


def _named(row: Any, jurisdiction: Jurisdiction) -> dict[str, Any]:
    data: dict[str, Any] = to_data(row)
    unit = data["unit"]
    data["name"] = jurisdiction.units[unit].name if unit in jurisdiction else unit
    return data


def reconciliation_data(
    books: Reconciliation, jurisdiction: Jurisdiction, unit: str
) -> dict[str, Any]:
    """The reconciliation of ``unit``'s subtree as data, each unit named (a total's unit is
    the subtree's)."""
    scope = {"unit": unit, "name": jurisdiction.get(unit).name}
    return {
        **scope,
        "position": books.position,
        "balanced": books.balanced,
        "differences": [_named(d, jurisdiction) for d in books.differences],
        "rows": [_named(b, jurisdiction) for b in books.rows],
        "totals": [{**to_data(b), **scope} for b in books.totals],
        "cash": [_named(c, jurisdiction) for c in books.cash],
        "cash_total": {**to_data(books.cash_total), **scope},
    }


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def _cash(cash: Mapping[str, Any]) -> str:
    marked = ", ".join(f"{p} {_yuan(f)}" for p, f in cash["earmarked"].items())
    return _yuan(cash["cash_fen"]) + (f" (earmarked: {marked})" if marked else "")


def reconciliation_lines(books: Reconciliation, jurisdiction: Jurisdiction, unit: str) -> list[str]:
    """The reconciliation as text: a line per unit and item, the totals, cash, and the
    verdict naming each difference."""
    data = reconciliation_data(books, jurisdiction, unit)

    def terms(b: Mapping[str, Any]) -> str:
        return (
            f"{b['item']} ({b['measure']}): donated {b['donated']} + in {b['transferred_in']}"
            f" - out {b['transferred_out']} - issued {b['issued']}"
            f" - written off {b['written_off']} = {b['booked']}; on hand {b['on_hand']}"
            f" (reserved {b['reserved']}) + in transit {b['in_transit']} = {b['held']};"
            f" difference {b['difference']}"
        )

    lines = [f"{data['name']} ({unit}) at position {books.position}"]
    shown = ""
    for row in data["rows"]:
        if row["unit"] != shown:
            shown = row["unit"]
            lines.append(f"{row['name']} ({shown})")
        lines.append("  " + terms(row))
    lines.append(f"total of {data['name']}")
    lines += ["  " + terms(b) for b in data["totals"]]
    for cash in data["cash"]:
        if cash["cash_fen"]:
            lines.append(f"cash at {cash['name']} ({cash['unit']}): {_cash(cash)}")
    lines.append(f"cash in all: {_cash(data['cash_total'])}")
    if books.balanced:
        lines.append("balanced")
    else:
        lines.append(f"NOT BALANCED: {len(books.differences)} difference(s)")
        lines += [
            f"  {d['name']} ({d['unit']}) {d['item']}: {d['explanation']}"
            for d in data["differences"]
        ]
    return lines
