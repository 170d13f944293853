"""Invariants of the supplies ledgers under any sequence of commands, valid or not, across a
street and two of its communities: stock is never negative, every ledger balances, the
district's books balance, reservations add up, and folding is deterministic."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import cache
from typing import TypeVar

from builders import CHENQIAO, HUAQIAO, LIDU, load_jurisdiction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from coordination.domain.errors import DomainError
from coordination.domain.events import CatalogueItemAdded, SupplyEvent
from coordination.domain.supplies import (
    NEED,
    RECEIPT,
    TRANSFER,
    Ledger,
    NeedStatus,
    SupplyContext,
    decide_ledger,
    evolve,
    fold_catalogue,
    fold_ledger,
    numbered,
    receive_transfer,
    unit_of_number,
)
from coordination.domain.values import (
    Cash,
    CatalogueItem,
    Donor,
    DonorKind,
    Earmark,
    Line,
    SupplyCategory,
)

UNITS = (CHENQIAO, LIDU, HUAQIAO)  # a street and two of its communities
ITEMS = ("口罩", "额温枪", "84消毒液")
CATALOGUE = fold_catalogue(
    [
        CatalogueItemAdded(CatalogueItem("口罩", SupplyCategory.PROTECTION, "个")),
        CatalogueItemAdded(CatalogueItem("额温枪", SupplyCategory.TEMPERATURE, "把")),
        CatalogueItemAdded(CatalogueItem("84消毒液", SupplyCategory.DISINFECTION, "桶")),
    ]
)
CTX = SupplyContext(load_jurisdiction(), CATALOGUE)
DONORS = [Donor(DonorKind.COMPANY, "丽都超市"), Donor(DonorKind.INDIVIDUAL, anonymous=True)]
INCIDENTS = ("inc-1", "inc-2", "inc-3")

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

units = st.sampled_from(UNITS)
reasons = st.sampled_from(["", "破损", "点数有误"])
incidents = st.sampled_from(INCIDENTS)
numbers = st.integers(min_value=1, max_value=4)


Books = dict[str, list[SupplyEvent]]


@cache
def lines(most: int) -> st.SearchStrategy[tuple[Line, ...]]:
    line = st.builds(Line, st.sampled_from(ITEMS), st.integers(min_value=1, max_value=most))
    return st.lists(line, min_size=1, max_size=2).map(tuple)


cash = st.none() | st.builds(
    Cash,
    st.integers(min_value=1, max_value=50_000),
    st.sampled_from([(), (Earmark("援鄂医护人员", 500),), (Earmark("一线防护物资", 20_000),)]),
)


@cache
def gifts(unit: str) -> st.SearchStrategy[ReceiveDonation]:
    donors = st.sampled_from(DONORS)
    return st.builds(ReceiveDonation, st.just(unit), donors, st.just("王会计"), lines(40), cash)


@cache
def anything(unit: str) -> st.SearchStrategy[SupplyCommand]:
    """Any command on ``unit``'s ledger, valid or not (a receipt names the sender's number)."""
    return st.one_of(
        gifts(unit),
        st.builds(CorrectDonation, numbers.map(lambda n: numbered(RECEIPT, unit, n)), reasons,
                  st.just(()) | lines(40), cash),
        st.builds(DispatchTransfer, units, lines(30)),
        st.builds(ReceiveTransfer, numbers.map(lambda n: numbered(TRANSFER, unit, n)),
                  st.none() | lines(30), reasons),
        st.builds(ReserveSupplies, incidents, lines(20)),
        st.builds(ReleaseSupplies, incidents),
        st.builds(IssueSupplies, incidents, lines(20)),
        st.builds(TakeStock, st.sampled_from(ITEMS), st.integers(0, 50), reasons),
        st.builds(PostNeed, lines(60)),
        st.builds(CloseNeed, numbers.map(lambda n: numbered(NEED, unit, n)), reasons),
    )  # fmt: skip


NEIGHBOURS = {CHENQIAO: (LIDU, HUAQIAO), LIDU: (CHENQIAO,), HUAQIAO: (CHENQIAO,)}
T = TypeVar("T")


def pick(draw: st.DrawFn, among: Sequence[T]) -> T:
    return among[draw(st.integers(min_value=0, max_value=len(among) - 1))]


def some_of(draw: st.DrawFn, stock: dict[str, int], over: int = 2) -> tuple[Line, ...]:
    """One or two lines of the items in ``stock``, each at most a little more than there is."""
    items = sorted(stock)
    return tuple(
        Line(item, draw(st.integers(min_value=1, max_value=stock[item] + over)))
        for item in (pick(draw, items) for _ in range(draw(st.integers(1, 2))))
    )


def plausible(draw: st.DrawFn, unit: str, state: Ledger) -> SupplyCommand:
    """What a supplies team would likely do next, knowing ``unit``'s books: mostly allowed."""
    free = {item: s.available for item, s in state.stock.items() if s.available > 0}
    held = {item: s.on_hand for item, s in state.stock.items() if s.on_hand > 0}
    unsettled = [t for t in state.transfers.values() if not t.settled]
    fresh = [i for i in INCIDENTS if i not in state.reservations]
    opened = [n.id for n in state.needs.values() if n.status == NeedStatus.OPEN]
    moves = ["give", "give", "plead"]
    moves += ["correct"] * bool(state.donations) + ["count"] * bool(held)
    moves += ["send", "send"] * bool(free) + ["receive", "receive"] * bool(unsettled)
    moves += ["reserve", "reserve", "issue"] * bool(free and fresh)
    moves += ["release", "deliver"] * bool(state.reservations) + ["close"] * bool(opened)
    match pick(draw, moves):
        case "give":
            return draw(gifts(unit))
        case "plead":
            return PostNeed(draw(lines(60)))
        case "correct":
            receipt = pick(draw, sorted(state.donations))
            return CorrectDonation(receipt, "点数有误", draw(lines(40)), draw(cash))
        case "count":
            item = pick(draw, sorted(held))
            return TakeStock(item, draw(st.integers(0, held[item] + 3)), "盘点")
        case "send":
            return DispatchTransfer(pick(draw, NEIGHBOURS[unit]), some_of(draw, free))
        case "receive":
            transfer = pick(draw, unsettled)
            if draw(st.booleans()):
                return ReceiveTransfer(transfer.id)
            counted = tuple(
                Line(line.item, draw(st.integers(0, line.quantity))) for line in transfer.items
            )
            return ReceiveTransfer(transfer.id, counted, draw(reasons))
        case "reserve":
            return ReserveSupplies(pick(draw, fresh), some_of(draw, free))
        case "issue":
            return IssueSupplies(pick(draw, fresh), some_of(draw, free))
        case "release":
            return ReleaseSupplies(pick(draw, sorted(state.reservations)), "退回")
        case "deliver":
            return IssueSupplies(pick(draw, sorted(state.reservations)), ())
        case _:
            return CloseNeed(pick(draw, opened), "已调配")


@st.composite
def sequences(draw: st.DrawFn, max_size: int = 40) -> list[tuple[str, SupplyCommand]]:
    """Commands at the three units, each drawn knowing the books it meets: mostly plausible
    moves, one in five anything at all."""
    live = {unit: Ledger(unit=unit) for unit in UNITS}
    sequence = []
    for _ in range(draw(st.integers(min_value=0, max_value=max_size))):
        unit = UNITS[draw(st.integers(min_value=0, max_value=len(UNITS) - 1))]
        wild = draw(st.integers(min_value=0, max_value=4)) == 4
        command = draw(anything(unit)) if wild else plausible(draw, unit, live[unit])
        sequence.append((unit, command))
        with contextlib.suppress(DomainError):
            for at, produced in decided(unit, command, live).items():
                live[at] = fold_ledger(at, produced, live[at])
    return sequence


def run(sequence: Iterable[tuple[str, SupplyCommand]]) -> tuple[dict[str, Ledger], Books]:
    """Decide each command on the ledgers as they stand, skip the refused, and check the
    invariants after every step; at the end, replaying each unit's events gives its ledger."""
    books: Books = {unit: [] for unit in UNITS}
    live = {unit: Ledger(unit=unit) for unit in UNITS}
    for unit, command in sequence:
        with contextlib.suppress(DomainError):
            for at, produced in decided(unit, command, live).items():
                assert produced, "a decision that is not refused produces events"
                books[at] += produced
                live[at] = fold_ledger(at, produced, live[at])
            check(live)
    for unit, state in live.items():
        assert state == fold_ledger(unit, books[unit]), "replay equals live"
        assert state.version == len(books[unit])
    return live, books


def decided(
    unit: str, command: SupplyCommand, live: dict[str, Ledger]
) -> dict[str, list[SupplyEvent]]:
    """The events each ledger gains: one ledger's, or a receipt's two in one step."""
    if not isinstance(command, ReceiveTransfer):
        return {unit: decide_ledger(live[unit], command, CTX)}
    sender = unit_of_number(command.transfer_id, TRANSFER)
    assert sender == unit
    transfer = live[sender].transfers.get(command.transfer_id)
    receiver = transfer.to_unit if transfer is not None else unit
    mine, theirs = receive_transfer(live[receiver], live[sender], command, CTX)
    return {receiver: mine, sender: theirs}


def check(live: dict[str, Ledger]) -> None:
    for state in live.values():
        check_ledger(state)
    for item in ITEMS:
        stocks = [state.of(item) for state in live.values()]
        came = sum(s.donated - s.issued - s.written_off for s in stocks)
        assert came == sum(s.on_hand + s.in_transit for s in stocks), f"district books: {item}"
        assert sum(s.transferred_in for s in stocks) == sum(s.transferred_out for s in stocks)


def check_ledger(state: Ledger) -> None:
    promised: Counter[str] = Counter()
    for held in state.reservations.values():
        for line in held:
            promised[line.item] += line.quantity
    travelling: Counter[str] = Counter()
    tree = CTX.jurisdiction
    for transfer in state.transfers.values():
        assert transfer.from_unit == state.unit != transfer.to_unit
        up_or_down = tree.within(transfer.to_unit, state.unit) or tree.within(
            state.unit, transfer.to_unit
        )
        assert up_or_down, "never sideways"
        for line in transfer.items if not transfer.settled else ():
            travelling[line.item] += line.quantity
    for item, stock in state.stock.items():
        assert min(stock.on_hand, stock.reserved, stock.available, stock.in_transit) >= 0, stock
        assert stock.difference == 0, (item, stock)
        assert stock.reserved == promised[item], "reservations add up to what is reserved"
        assert stock.in_transit == travelling[item], "in transit is what was sent, unsettled"
    assert state.balanced
    assert set(promised) <= set(state.stock) and set(travelling) <= set(state.stock)
    given_cash = [d.cash for d in state.donations.values() if d.cash is not None]
    assert state.cash_fen == sum(c.amount_fen for c in given_cash)
    assert all(fen > 0 for fen in state.earmarked.values())
    assert sum(state.earmarked.values()) <= state.cash_fen
    for need in state.needs.values():
        asked = {line.item: line.quantity for line in need.items}
        assert all(0 < line.quantity <= asked[line.item] for line in need.remaining)
        if need.status != NeedStatus.CLOSED:
            assert (need.status == NeedStatus.MET) == (need.remaining == ())


@SETTINGS
@given(sequences())
def test_stock_is_never_negative_and_the_books_always_balance(
    sequence: list[tuple[str, SupplyCommand]],
) -> None:
    run(sequence)


@SETTINGS
@given(sequences(), st.integers(min_value=0))
def test_folding_the_same_events_gives_the_same_ledger(
    sequence: list[tuple[str, SupplyCommand]], cut: int
) -> None:
    _, books = run(sequence)
    for unit, history in books.items():
        once = fold_ledger(unit, history)
        assert fold_ledger(unit, list(history)) == once
        stepwise = Ledger(unit=unit)
        for event in history:
            stepwise = evolve(stepwise, event)
        assert replace(once, version=0) == stepwise
        assert once.version == len(history)
        at = cut % (len(history) + 1)
        assert fold_ledger(unit, history[at:], fold_ledger(unit, history[:at])) == once


def test_the_walk_reaches_every_kind_of_event() -> None:
    """The harness itself: a plausible day produces every ledger event and balances."""
    lost = ReceiveTransfer(numbered(TRANSFER, CHENQIAO, 2), (Line("口罩", 25),), "途中破损")
    _, books = run(
        [
            (CHENQIAO, PostNeed((Line("口罩", 100),))),
            (CHENQIAO, ReceiveDonation(CHENQIAO, DONORS[0], "王会计", (Line("口罩", 200),))),
            (CHENQIAO, CorrectDonation(numbered(RECEIPT, CHENQIAO, 1), "点数有误",
                                       (Line("口罩", 190),), Cash(100))),
            (CHENQIAO, DispatchTransfer(LIDU, (Line("口罩", 50),))),
            (CHENQIAO, DispatchTransfer(HUAQIAO, (Line("口罩", 30),))),
            (CHENQIAO, ReceiveTransfer(numbered(TRANSFER, CHENQIAO, 1))),
            (CHENQIAO, lost),
            (LIDU, ReserveSupplies("inc-1", (Line("口罩", 10),))),
            (LIDU, ReserveSupplies("inc-2", (Line("口罩", 10),))),
            (LIDU, ReleaseSupplies("inc-1", "退回")),
            (LIDU, IssueSupplies("inc-2", ())),
            (HUAQIAO, TakeStock("口罩", 20, "受潮")),
            (CHENQIAO, PostNeed((Line("额温枪", 1),))),
            (CHENQIAO, CloseNeed(numbered(NEED, CHENQIAO, 2), "区里已调配")),
        ]
    )  # fmt: skip
    kinds = {type(event).__name__ for history in books.values() for event in history}
    assert kinds == {
        "NeedPosted", "DonationReceived", "DonationCorrected", "TransferDispatched",
        "TransferReceived", "TransferSettled", "SuppliesReserved", "ReservationReleased",
        "SuppliesIssued", "StockTaken", "NeedClosed",
    }  # fmt: skip
    chenqiao, lidu, huaqiao = (fold_ledger(u, books[u]) for u in UNITS)
    assert chenqiao.of("口罩").on_hand == 110
    assert chenqiao.of("口罩").written_off == 5
    assert (lidu.of("口罩").on_hand, lidu.of("口罩").issued) == (40, 10)
    assert huaqiao.of("口罩").on_hand == 20
    assert chenqiao.needs[numbered(NEED, CHENQIAO, 1)].status == NeedStatus.MET
