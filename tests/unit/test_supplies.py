"""The supplies ledger (物资台账), given events, when a command, then exactly these events (or
this refusal): the catalogue, donations and their corrections, transfers, needs, stock-takes,
reservations and issues; the ``draws`` policy of delivery orders; and risky deliveries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta

import pytest
from builders import (
    BINJIANG,
    CDC,
    CHENQIAO,
    DISTRICT,
    GONGYUAN,
    HUAQIAO,
    LIDU,
    NOW,
    SUMMARY,
    VOLUNTEER,
    WANGHAI,
    claimed_at_lidu,
    quarantine_visit,
    report,
    reported,
    supply_delivery,
)
from spec import Spec, refused

from coordination.domain.commands import (
    ClaimIncident,
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
    TakeOverClaim,
    TakeStock,
)
from coordination.domain.context import Context
from coordination.domain.errors import Conflict, DomainError, NotAllowed, UnknownPlace
from coordination.domain.events import (
    CatalogueItemAdded,
    ClaimTakenOver,
    DonationCorrected,
    DonationReceived,
    Event,
    IncidentClaimed,
    IncidentDispatched,
    IncidentHandedDown,
    IncidentReleased,
    IncidentResolved,
    IncidentReturned,
    IncidentSignedFor,
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
from coordination.domain.incident import Incident, decide, fold
from coordination.domain.staff import StaffMember, check_may_take, check_may_work_on
from coordination.domain.supplies import (
    MAX_FEN,
    MAX_QUANTITY,
    Catalogue,
    InsufficientStock,
    Ledger,
    NeedStatus,
    Stock,
    SupplyContext,
    UnknownItem,
    decide_catalogue,
    decide_ledger,
    draws,
    fold_catalogue,
    fold_ledger,
    ledger_stream,
    numbered,
    receive_transfer,
    unit_of_number,
    unit_of_stream,
)
from coordination.domain.units import Jurisdiction, Level
from coordination.domain.values import (
    Cash,
    CatalogueItem,
    Contact,
    Donor,
    DonorKind,
    Earmark,
    Kind,
    Line,
    StaffKind,
    Status,
    SupplyCategory,
    SupplyItem,
)

# --- the district's catalogue and donors, from its own record -------------------------------

MASK = CatalogueItem("口罩", SupplyCategory.PROTECTION, "个")
THERMOMETER = CatalogueItem("额温枪", SupplyCategory.TEMPERATURE, "把")
SUIT = CatalogueItem("防护服", SupplyCategory.PROTECTION, "件")
DISINFECTANT = CatalogueItem("84消毒液", SupplyCategory.DISINFECTION, "桶")
ALCOHOL = CatalogueItem("医用酒精", SupplyCategory.DISINFECTION, "桶")
TISSUES = CatalogueItem("纸巾", SupplyCategory.DAILY_NEEDS, "箱")
ITEMS = (MASK, THERMOMETER, SUIT, DISINFECTANT, ALCOHOL, TISSUES)
CATALOGUE = fold_catalogue(CatalogueItemAdded(item) for item in ITEMS)

PARTY_BRANCH = Donor(
    DonorKind.ORGANISATION, "某公司党支部", contact=Contact("刘先生", "13700000000")
)
CHARITY = Donor(DonorKind.ORGANISATION, "爱心公益团")
SUPERMARKET = Donor(DonorKind.COMPANY, "丽都超市")
ANONYMOUS = Donor(DonorKind.INDIVIDUAL, anonymous=True)
KEEPER = "物资保障组 王会计"

INC = "inc-1"
YUAN = 100  # fen
CASH = Cash(
    150_000 * YUAN,
    (Earmark("援鄂医护人员", 80_000 * YUAN), Earmark("一线防护物资", 70_000 * YUAN)),
)


def masks(n: int) -> Line:
    return Line("口罩", n)


def thermometers(n: int) -> Line:
    return Line("额温枪", n)


@pytest.fixture(scope="module")
def sctx(jurisdiction: Jurisdiction) -> SupplyContext:
    return SupplyContext(jurisdiction, CATALOGUE)


def spec_at(unit: str, sctx: SupplyContext) -> Spec[Ledger, SupplyCommand, SupplyEvent]:
    """Given these events in ``unit``'s ledger, when this command, then these events."""
    return Spec(decide_ledger, lambda events: fold_ledger(unit, events), sctx)  # type: ignore[arg-type]


@pytest.fixture
def chenqiao(sctx: SupplyContext) -> Spec[Ledger, SupplyCommand, SupplyEvent]:
    return spec_at(CHENQIAO, sctx)


@pytest.fixture
def lidu(sctx: SupplyContext) -> Spec[Ledger, SupplyCommand, SupplyEvent]:
    return spec_at(LIDU, sctx)


def receipt(unit: str, n: int) -> str:
    return numbered("JZ", unit, n)


def donated(unit: str, *lines: Line, n: int = 1, cash: Cash | None = None) -> DonationReceived:
    """The ``n``-th donation at ``unit``: ``lines`` from the charity."""
    return DonationReceived(receipt(unit, n), unit, CHARITY, KEEPER, lines, cash)


def parcel() -> list[SupplyEvent]:
    """2月6日: 11 thermometers and 1,000 masks arrive at 陈桥街道 from 200 km away."""
    return [donated(CHENQIAO, thermometers(11), masks(1000))]


def sent_to_lidu(*lines: Line) -> list[SupplyEvent]:
    """The parcel, and ``lines`` of it sent on to 丽都社区 (DB-gangwen.chenqiao-0001)."""
    return [*parcel(), TransferDispatched(TRANSFER, CHENQIAO, LIDU, lines)]


TRANSFER = "DB-gangwen.chenqiao-0001"


def balanced(state: Ledger) -> bool:
    """Every item's books balance, and there are books to balance."""
    return bool(state.stock) and all(s.difference == 0 for s in state.stock.values())


# --- catalogue ----------------------------------------------------------------------------


def test_an_admin_adds_an_item_to_the_catalogue() -> None:
    events = decide_catalogue(Catalogue(), MASK)
    assert events == [CatalogueItemAdded(MASK)]
    catalogue = fold_catalogue(events)
    assert catalogue.items == {"口罩": MASK}
    assert (catalogue.version, catalogue.unit_of("口罩")) == (1, "个")


def test_an_item_already_in_the_catalogue_is_refused() -> None:
    with pytest.raises(Conflict) as raised:
        decide_catalogue(CATALOGUE, CatalogueItem("口罩", SupplyCategory.MEDICAL, "盒"))
    assert raised.value.field == "name"


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (CatalogueItem("", SupplyCategory.OTHER, "个"), "name"),
        (CatalogueItem("  ", SupplyCategory.OTHER, "个"), "name"),
        (CatalogueItem("手套", SupplyCategory.PROTECTION, ""), "unit"),
        (CatalogueItem("手套", SupplyCategory.PROTECTION, " "), "unit"),
    ],
)
def test_an_item_has_a_name_and_a_counting_unit(item: CatalogueItem, field: str) -> None:
    with pytest.raises(DomainError) as raised:
        decide_catalogue(CATALOGUE, item)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("typed", "close"), [("口照", "口罩"), ("额温", "额温枪"), ("酒精", "医用酒精")]
)
def test_an_unknown_item_is_refused_naming_close_matches(typed: str, close: str) -> None:
    with pytest.raises(UnknownItem) as raised:
        CATALOGUE.check([Line("纸巾", 1), Line(typed, 1)])
    assert raised.value.field == "items.1.item"
    assert raised.value.item == typed
    assert raised.value.close[0] == close
    assert len(raised.value.close) <= 3
    assert f"did you mean {close}" in raised.value.message


def test_an_unknown_item_like_nothing_names_no_match() -> None:
    with pytest.raises(UnknownItem) as raised:
        CATALOGUE.check([Line("挖掘机", 1)], "received")
    assert raised.value.field == "received.0.item"
    assert raised.value.close == []
    assert "did you mean" not in raised.value.message


def test_an_unknown_item_is_unknown_to_an_empty_catalogue() -> None:
    with pytest.raises(UnknownItem):
        Catalogue().check([Line("口罩", 1)])


def test_a_measure_other_than_the_items_unit_is_refused() -> None:
    with pytest.raises(DomainError) as raised:
        CATALOGUE.check([SupplyItem("口罩", 50, "个"), SupplyItem("额温枪", 2, "箱")])
    assert raised.value.field == "items.1.measure"
    assert "把" in raised.value.message


@pytest.mark.parametrize("measure", ["个", "piece", ""])
def test_the_items_own_unit_or_none_is_accepted(measure: str) -> None:
    CATALOGUE.check([SupplyItem("口罩", 50, measure), Line("额温枪", 1)])


# --- donations ----------------------------------------------------------------------------


def test_a_party_branch_gives_two_boxes_of_tissues_to_huaqiao(sctx: SupplyContext) -> None:
    spec = spec_at(HUAQIAO, sctx)
    spec.given([])
    spec.when(ReceiveDonation(HUAQIAO, PARTY_BRANCH, KEEPER, (Line("纸巾", 2),), note="电梯间使用"))
    state = spec.then(
        DonationReceived(
            "JZ-gangwen.chenqiao.huaqiao-0001",
            HUAQIAO,
            PARTY_BRANCH,
            KEEPER,
            (Line("纸巾", 2),),
            None,
            "电梯间使用",
        )
    )
    assert state.of("纸巾") == Stock(on_hand=2, donated=2)
    assert state.of("纸巾").available == 2
    donation = state.donations["JZ-gangwen.chenqiao.huaqiao-0001"]
    assert (donation.donor, donation.received_by, donation.corrections) == (
        PARTY_BRANCH,
        KEEPER,
        0,
    )
    assert (state.version, state.cash_fen) == (1, 0)
    assert balanced(state)


def test_lines_of_the_same_item_are_added_together(chenqiao: Spec) -> None:
    chenqiao.given([])
    chenqiao.when(
        ReceiveDonation(CHENQIAO, CHARITY, KEEPER, (masks(600), thermometers(11), masks(400)))
    )
    state = chenqiao.then(donated(CHENQIAO, masks(1000), thermometers(11)))
    assert (state.of("口罩").on_hand, state.of("额温枪").on_hand) == (1000, 11)


def test_a_cash_gift_with_earmarks(chenqiao: Spec) -> None:
    chenqiao.given([])
    chenqiao.when(ReceiveDonation(CHENQIAO, PARTY_BRANCH, KEEPER, (Line("医用酒精", 5),), CASH))
    state = chenqiao.then(
        DonationReceived(
            receipt(CHENQIAO, 1), CHENQIAO, PARTY_BRANCH, KEEPER, (Line("医用酒精", 5),), CASH
        )
    )
    assert state.cash_fen == 15_000_000
    assert state.earmarked == {"援鄂医护人员": 8_000_000, "一线防护物资": 7_000_000}
    assert state.of("医用酒精").on_hand == 5


def test_cash_alone_is_a_donation_and_earmarks_may_leave_some_general(chenqiao: Spec) -> None:
    chenqiao.given([])
    cash = Cash(1_000 * YUAN, (Earmark("一线防护物资", 600 * YUAN),))
    chenqiao.when(ReceiveDonation(CHENQIAO, ANONYMOUS, KEEPER, cash=cash))
    state = chenqiao.then(
        DonationReceived(receipt(CHENQIAO, 1), CHENQIAO, ANONYMOUS, KEEPER, (), cash)
    )
    assert (state.cash_fen, state.earmarked) == (100_000, {"一线防护物资": 60_000})
    assert state.stock == {}


def test_earmarks_above_the_gift_are_refused(chenqiao: Spec) -> None:
    chenqiao.given([])
    cash = Cash(100 * YUAN, (Earmark("a", 60 * YUAN), Earmark("b", 41 * YUAN)))
    refused(chenqiao, ReceiveDonation(CHENQIAO, CHARITY, KEEPER, cash=cash), "cash.earmarks")


@pytest.mark.parametrize(
    ("cash", "field"),
    [
        (Cash(0), "cash.amount_fen"),
        (Cash(-100), "cash.amount_fen"),
        (Cash(MAX_FEN + 1), "cash.amount_fen"),
        (Cash(1050.5), "cash.amount_fen"),  # type: ignore[arg-type]
        (Cash(True), "cash.amount_fen"),  # type: ignore[arg-type]
        (Cash(100, (Earmark(" ", 10),)), "cash.earmarks.0.purpose"),
        (Cash(100, (Earmark("a", 10), Earmark("b", 0))), "cash.earmarks.1.amount_fen"),
        (Cash(100, (Earmark("a", -10),)), "cash.earmarks.0.amount_fen"),
        (Cash(100, (Earmark("a", 10.5),)), "cash.earmarks.0.amount_fen"),  # type: ignore[arg-type]
    ],
)
def test_cash_is_a_positive_whole_number_of_fen(chenqiao: Spec, cash: Cash, field: str) -> None:
    chenqiao.given([])
    refused(chenqiao, ReceiveDonation(CHENQIAO, CHARITY, KEEPER, cash=cash), field)


def test_an_anonymous_donor_needs_no_name(chenqiao: Spec) -> None:
    chenqiao.given([])
    chenqiao.when(ReceiveDonation(CHENQIAO, ANONYMOUS, KEEPER, (masks(10),)))
    state = chenqiao.then(
        DonationReceived(receipt(CHENQIAO, 1), CHENQIAO, ANONYMOUS, KEEPER, (masks(10),))
    )
    assert state.donations[receipt(CHENQIAO, 1)].donor.anonymous


@pytest.mark.parametrize("name", ["", "   "])
def test_a_named_donor_has_a_name(chenqiao: Spec, name: str) -> None:
    chenqiao.given([])
    donor = Donor(DonorKind.COMPANY, name)
    refused(chenqiao, ReceiveDonation(CHENQIAO, donor, KEEPER, (masks(10),)), "donor.name")


def test_someone_received_it(chenqiao: Spec) -> None:
    chenqiao.given([])
    refused(chenqiao, ReceiveDonation(CHENQIAO, CHARITY, " ", (masks(10),)), "received_by")


def test_a_donation_gives_something(chenqiao: Spec) -> None:
    chenqiao.given([])
    refused(chenqiao, ReceiveDonation(CHENQIAO, CHARITY, KEEPER), "items")


@pytest.mark.parametrize("quantity", [0, -1, MAX_QUANTITY + 1, 2.5, True])
def test_a_quantity_is_a_positive_whole_number(chenqiao: Spec, quantity: int) -> None:
    chenqiao.given([])
    command = ReceiveDonation(CHENQIAO, CHARITY, KEEPER, (masks(5), Line("口罩", quantity)))
    refused(chenqiao, command, "items.1.quantity")


def test_a_donation_of_an_unknown_item_names_close_matches(chenqiao: Spec) -> None:
    chenqiao.given([])
    error = refused(
        chenqiao,
        ReceiveDonation(CHENQIAO, CHARITY, KEEPER, (Line("口照", 1000),)),
        "items.0.item",
        UnknownItem,
    )
    assert error.close == ["口罩"]  # type: ignore[attr-defined]


def test_receipts_are_numbered_per_unit(chenqiao: Spec, sctx: SupplyContext) -> None:
    chenqiao.given([donated(CHENQIAO, masks(1)), donated(CHENQIAO, masks(2), n=2)])
    (event,) = chenqiao.when(ReceiveDonation(CHENQIAO, CHARITY, KEEPER, (masks(3),)))
    assert event.receipt == "JZ-gangwen.chenqiao-0003"
    assert unit_of_number(event.receipt, "JZ") == CHENQIAO
    assert unit_of_number(event.receipt, "DB") is None
    gongyuan = spec_at(GONGYUAN, sctx)
    gongyuan.given([])
    (first,) = gongyuan.when(ReceiveDonation(GONGYUAN, CHARITY, KEEPER, (Line("84消毒液", 1040),)))
    assert first.receipt == "JZ-gangwen.chenqiao.gongyuan-0001"
    assert unit_of_number(first.receipt, "JZ") == GONGYUAN


@pytest.mark.parametrize("number", ["JZ-0001", "JZ-gangwen-x", "DB-gangwen-0001", "", "JZ"])
def test_something_else_is_no_receipt_number(number: str) -> None:
    assert unit_of_number(number, "JZ") is None


def test_each_ledger_is_its_units_own_stream() -> None:
    assert ledger_stream(LIDU) == "supplies:gangwen/chenqiao/lidu"
    assert unit_of_stream(ledger_stream(LIDU)) == LIDU


def test_a_donation_is_for_the_ledgers_own_unit(chenqiao: Spec) -> None:
    chenqiao.given([])
    refused(chenqiao, ReceiveDonation(LIDU, SUPERMARKET, KEEPER, (masks(1),)), "unit")


# --- corrections --------------------------------------------------------------------------


def test_a_donation_is_corrected_by_a_compensating_event(chenqiao: Spec) -> None:
    chenqiao.given(parcel())
    chenqiao.when(CorrectDonation(receipt(CHENQIAO, 1), "点数有误", (thermometers(11), masks(960))))
    state = chenqiao.then(
        DonationCorrected(receipt(CHENQIAO, 1), "点数有误", (thermometers(11), masks(960)))
    )
    assert state.of("口罩") == Stock(on_hand=960, donated=960)
    assert state.of("额温枪") == Stock(on_hand=11, donated=11)
    donation = state.donations[receipt(CHENQIAO, 1)]
    assert (donation.items, donation.corrections) == ((thermometers(11), masks(960)), 1)
    assert state.version == 2
    assert balanced(state)


def test_a_correction_may_add_and_drop_items(chenqiao: Spec) -> None:
    chenqiao.given(parcel())
    chenqiao.when(CorrectDonation(receipt(CHENQIAO, 1), "温枪另有捐赠单", (masks(1200),)))
    state = chenqiao.then(DonationCorrected(receipt(CHENQIAO, 1), "温枪另有捐赠单", (masks(1200),)))
    assert state.of("额温枪") == Stock()
    assert state.of("口罩") == Stock(on_hand=1200, donated=1200)


def test_a_correction_below_what_is_reserved_is_refused(chenqiao: Spec) -> None:
    chenqiao.given([*parcel(), SuppliesReserved(INC, (masks(900),))])
    error = refused(
        chenqiao,
        CorrectDonation(receipt(CHENQIAO, 1), "点数有误", (thermometers(11), masks(800))),
        "items",
        InsufficientStock,
    )
    assert error.available == {"口罩": 100}  # type: ignore[attr-defined]
    correct = CorrectDonation(receipt(CHENQIAO, 1), "点数有误", (thermometers(11), masks(900)))
    chenqiao.when(correct)
    state = chenqiao.then(DonationCorrected(correct.receipt, correct.reason, correct.items))
    assert state.of("口罩") == Stock(on_hand=900, reserved=900, donated=900)


def test_a_correction_below_what_is_on_hand_is_refused(chenqiao: Spec) -> None:
    chenqiao.given(sent_to_lidu(masks(950)))
    error = refused(
        chenqiao,
        CorrectDonation(receipt(CHENQIAO, 1), "点数有误", (thermometers(11), masks(10))),
        "items",
        InsufficientStock,
    )
    assert error.available == {"口罩": 50}  # type: ignore[attr-defined]


def test_cash_is_corrected(chenqiao: Spec) -> None:
    chenqiao.given([donated(CHENQIAO, cash=CASH)])
    now = Cash(140_000 * YUAN, (Earmark("援鄂医护人员", 80_000 * YUAN),))
    chenqiao.when(CorrectDonation(receipt(CHENQIAO, 1), "到账金额为14万元", cash=now))
    state = chenqiao.then(DonationCorrected(receipt(CHENQIAO, 1), "到账金额为14万元", cash=now))
    assert state.cash_fen == 14_000_000
    assert state.earmarked == {"援鄂医护人员": 8_000_000}
    assert state.donations[receipt(CHENQIAO, 1)].cash == now


def test_a_correction_says_why(chenqiao: Spec) -> None:
    chenqiao.given(parcel())
    command = CorrectDonation(receipt(CHENQIAO, 1), "  ", (masks(900),))
    refused(chenqiao, command, "reason")


@pytest.mark.parametrize(
    ("items", "cash"),
    [
        ((thermometers(11), masks(1000)), None),
        ((masks(1000), thermometers(11)), None),
        ((masks(400), thermometers(11), masks(600)), None),
    ],
)
def test_a_correction_that_changes_nothing_is_refused(
    chenqiao: Spec, items: tuple[Line, ...], cash: Cash | None
) -> None:
    chenqiao.given(parcel())
    refused(chenqiao, CorrectDonation(receipt(CHENQIAO, 1), "再核对", items, cash), "items")


def test_a_cash_correction_that_only_reorders_the_earmarks_changes_nothing(
    chenqiao: Spec,
) -> None:
    chenqiao.given([donated(CHENQIAO, cash=CASH)])
    same = Cash(CASH.amount_fen, tuple(reversed(CASH.earmarks)))
    refused(chenqiao, CorrectDonation(receipt(CHENQIAO, 1), "再核对", cash=same), "items")


def test_only_a_donation_of_this_ledger_is_corrected(chenqiao: Spec) -> None:
    chenqiao.given(parcel())
    refused(chenqiao, CorrectDonation(receipt(LIDU, 1), "点数有误", (masks(1),)), "receipt")
    refused(chenqiao, CorrectDonation(receipt(CHENQIAO, 2), "点数有误", (masks(1),)), "receipt")


def test_a_correction_to_nothing_voids_the_donation_by_a_compensating_entry(
    chenqiao: Spec,
) -> None:
    chenqiao.given(parcel())
    chenqiao.when(CorrectDonation(receipt(CHENQIAO, 1), "误录，捐赠方未实际送达"))
    ledger = chenqiao.then(DonationCorrected(receipt(CHENQIAO, 1), "误录，捐赠方未实际送达"))
    assert all(s.on_hand == 0 and s.donated == 0 for s in ledger.stock.values())
    assert ledger.balanced and ledger.donations[receipt(CHENQIAO, 1)].items == ()


def test_a_donation_partly_promised_cannot_be_voided(chenqiao: Spec) -> None:
    chenqiao.given([*parcel(), SuppliesReserved(INC, (masks(1),))])
    refused(chenqiao, CorrectDonation(receipt(CHENQIAO, 1), "误录"), "items", InsufficientStock)


# --- transfers ----------------------------------------------------------------------------


def test_a_street_sends_supplies_down_to_a_community(chenqiao: Spec) -> None:
    chenqiao.given(parcel())
    chenqiao.when(DispatchTransfer(LIDU, (masks(100), thermometers(2)), "给丽都社区"))
    state = chenqiao.then(
        TransferDispatched(TRANSFER, CHENQIAO, LIDU, (masks(100), thermometers(2)), "给丽都社区")
    )
    assert state.of("口罩") == Stock(on_hand=900, in_transit=100, donated=1000)
    assert state.of("口罩").available == 900
    assert state.transfers[TRANSFER].to_unit == LIDU
    assert not state.transfers[TRANSFER].settled
    assert balanced(state)


def test_the_district_sends_down_past_a_street(sctx: SupplyContext) -> None:
    spec = spec_at(DISTRICT, sctx)
    spec.given([donated(DISTRICT, masks(10))])
    spec.when(DispatchTransfer(LIDU, (masks(10),)))
    spec.then(TransferDispatched("DB-gangwen-0001", DISTRICT, LIDU, (masks(10),)))


@pytest.mark.parametrize("up", [CHENQIAO, DISTRICT])
def test_a_community_sends_supplies_back_up(lidu: Spec, up: str) -> None:
    lidu.given([donated(LIDU, masks(30))])
    lidu.when(DispatchTransfer(up, (masks(30),)))
    state = lidu.then(TransferDispatched("DB-gangwen.chenqiao.lidu-0001", LIDU, up, (masks(30),)))
    assert state.of("口罩").available == 0


def test_a_transfer_to_itself_is_refused(chenqiao: Spec) -> None:
    chenqiao.given(parcel())
    refused(chenqiao, DispatchTransfer(CHENQIAO, (masks(1),)), "to_unit")


@pytest.mark.parametrize("sideways", [BINJIANG, WANGHAI, CDC, HUAQIAO])
def test_a_transfer_sideways_is_refused(lidu: Spec, sideways: str) -> None:
    lidu.given([donated(LIDU, masks(30))])
    error = refused(lidu, DispatchTransfer(sideways, (masks(1),)), "to_unit")
    assert "neither below nor above" in error.message


def test_a_transfer_to_an_unknown_unit_is_refused(chenqiao: Spec) -> None:
    chenqiao.given(parcel())
    refused(chenqiao, DispatchTransfer("gangwen/nowhere", (masks(1),)), "to_unit", UnknownPlace)


def test_a_transfer_sends_something(chenqiao: Spec) -> None:
    chenqiao.given(parcel())
    refused(chenqiao, DispatchTransfer(LIDU, ()), "items")


def test_more_than_available_is_not_sent(chenqiao: Spec) -> None:
    chenqiao.given([*parcel(), SuppliesReserved(INC, (masks(950),))])
    error = refused(
        chenqiao,
        DispatchTransfer(LIDU, (thermometers(11), masks(60))),
        "items",
        InsufficientStock,
    )
    assert isinstance(error, Conflict)
    assert error.available == {"口罩": 50}  # type: ignore[attr-defined]
    assert "口罩: 50 available, 60 wanted" in error.message


def test_an_item_never_received_is_not_sent(chenqiao: Spec) -> None:
    chenqiao.given(parcel())
    error = refused(
        chenqiao, DispatchTransfer(LIDU, (Line("防护服", 1),)), "items", InsufficientStock
    )
    assert error.available == {"防护服": 0}  # type: ignore[attr-defined]


def receive(
    sctx: SupplyContext,
    sender: list[SupplyEvent],
    command: ReceiveTransfer,
    receiver: list[SupplyEvent] | None = None,
    at: str = LIDU,
) -> tuple[list[SupplyEvent], list[SupplyEvent]]:
    return receive_transfer(
        fold_ledger(at, receiver or []), fold_ledger(CHENQIAO, sender), command, sctx
    )


def test_a_transfer_received_in_full(sctx: SupplyContext) -> None:
    sent = sent_to_lidu(masks(100), thermometers(2))
    mine, theirs = receive(sctx, sent, ReceiveTransfer(TRANSFER))
    lines = (masks(100), thermometers(2))
    assert mine == [TransferReceived(TRANSFER, CHENQIAO, lines)]
    assert theirs == [TransferSettled(TRANSFER, LIDU, lines)]
    lidu = fold_ledger(LIDU, mine)
    assert lidu.of("口罩") == Stock(on_hand=100, transferred_in=100)
    assert TRANSFER in lidu.received
    chenqiao = fold_ledger(CHENQIAO, [*sent, *theirs])
    assert chenqiao.of("口罩") == Stock(on_hand=900, donated=1000, transferred_out=100)
    assert chenqiao.transfers[TRANSFER].settled
    assert balanced(lidu) and balanced(chenqiao)


def test_less_arrived_records_the_loss_with_its_reason(sctx: SupplyContext) -> None:
    sent = sent_to_lidu(masks(100), thermometers(2))
    command = ReceiveTransfer(TRANSFER, (masks(95), thermometers(2)), "途中破损5个")
    mine, theirs = receive(sctx, sent, command)
    assert mine == [TransferReceived(TRANSFER, CHENQIAO, (masks(95), thermometers(2)))]
    assert theirs == [
        TransferSettled(TRANSFER, LIDU, (masks(95), thermometers(2)), (masks(5),), "途中破损5个")
    ]
    chenqiao = fold_ledger(CHENQIAO, [*sent, *theirs])
    assert chenqiao.of("口罩") == Stock(
        on_hand=900, donated=1000, transferred_out=95, written_off=5
    )
    assert fold_ledger(LIDU, mine).of("口罩").on_hand == 95
    assert balanced(chenqiao)


def test_an_item_not_counted_on_arrival_was_lost_entirely(sctx: SupplyContext) -> None:
    sent = sent_to_lidu(masks(100), thermometers(2))
    command = ReceiveTransfer(TRANSFER, (masks(100), thermometers(0)), "温枪未到")
    mine, theirs = receive(sctx, sent, command)
    assert mine == [TransferReceived(TRANSFER, CHENQIAO, (masks(100),))]
    assert theirs == [
        TransferSettled(TRANSFER, LIDU, (masks(100),), (thermometers(2),), "温枪未到")
    ]
    _, by_omission = receive(sctx, sent, ReceiveTransfer(TRANSFER, (masks(100),), "温枪未到"))
    assert by_omission == theirs


def test_nothing_arrived_loses_it_all(sctx: SupplyContext) -> None:
    sent = sent_to_lidu(masks(100))
    mine, theirs = receive(sctx, sent, ReceiveTransfer(TRANSFER, (), "车辆被拦"))
    assert mine == [TransferReceived(TRANSFER, CHENQIAO, ())]
    assert theirs == [TransferSettled(TRANSFER, LIDU, (), (masks(100),), "车辆被拦")]
    chenqiao = fold_ledger(CHENQIAO, [*sent, *theirs])
    assert chenqiao.of("口罩").written_off == 100
    assert balanced(chenqiao)


def test_less_arrived_needs_a_reason(sctx: SupplyContext) -> None:
    with pytest.raises(DomainError) as raised:
        receive(sctx, sent_to_lidu(masks(100)), ReceiveTransfer(TRANSFER, (masks(95),), " "))
    assert raised.value.field == "loss_reason"


@pytest.mark.parametrize(
    ("received", "field"),
    [
        ((masks(101),), "received.0.quantity"),
        ((masks(-1),), "received.0.quantity"),
        ((masks(2.5),), "received.0.quantity"),  # type: ignore[arg-type]
        ((masks(60), masks(60)), "received"),
        ((masks(100), Line("防护服", 1)), "received.1.item"),
        ((Line("口照", 1),), "received.0.item"),
    ],
)
def test_what_arrived_is_at_most_what_was_sent(
    sctx: SupplyContext, received: tuple[Line, ...], field: str
) -> None:
    with pytest.raises(DomainError) as raised:
        receive(sctx, sent_to_lidu(masks(100)), ReceiveTransfer(TRANSFER, received, "x"))
    assert raised.value.field == field


def test_a_transfer_is_received_once(sctx: SupplyContext) -> None:
    sent = sent_to_lidu(masks(100))
    mine, theirs = receive(sctx, sent, ReceiveTransfer(TRANSFER))
    with pytest.raises(Conflict) as raised:
        receive(sctx, [*sent, *theirs], ReceiveTransfer(TRANSFER), receiver=mine)
    assert raised.value.field == "transfer_id"


@pytest.mark.parametrize("transfer", [TRANSFER, "DB-gangwen.chenqiao-0002"])
def test_only_the_unit_it_was_sent_to_receives_a_transfer(
    sctx: SupplyContext, transfer: str
) -> None:
    with pytest.raises(DomainError) as raised:
        receive(sctx, sent_to_lidu(masks(100)), ReceiveTransfer(transfer), at=HUAQIAO)
    assert raised.value.field == "transfer_id"
    with pytest.raises(DomainError):
        receive(sctx, sent_to_lidu(masks(100)), ReceiveTransfer("DB-gangwen.chenqiao-0002"))


def test_a_receipt_is_not_a_command_on_one_ledger(lidu: Spec) -> None:
    lidu.given([])
    with pytest.raises(TypeError):
        lidu.when(ReceiveTransfer(TRANSFER))


# --- needs (求助) -------------------------------------------------------------------------

NEED = "QZ-gangwen.chenqiao-0001"


def plea() -> list[SupplyEvent]:
    """2月4日 evening: 陈桥街道's supplies team asks for thermometers and masks."""
    return [NeedPosted(NEED, CHENQIAO, (thermometers(11), masks(1000)), "物资保障组")]


def test_a_unit_posts_what_it_lacks(chenqiao: Spec) -> None:
    chenqiao.given([])
    chenqiao.when(PostNeed((thermometers(5), masks(1000), thermometers(6)), "物资保障组"))
    state = chenqiao.then(*plea())
    need = state.needs[NEED]
    assert (need.status, need.items, need.remaining) == (
        NeedStatus.OPEN,
        (thermometers(11), masks(1000)),
        (thermometers(11), masks(1000)),
    )


def test_needs_are_numbered_per_unit(chenqiao: Spec) -> None:
    chenqiao.given(plea())
    (event,) = chenqiao.when(PostNeed((masks(1),)))
    assert event.need_id == "QZ-gangwen.chenqiao-0002"


@pytest.mark.parametrize(
    ("items", "field"),
    [((), "items"), ((Line("口照", 1),), "items.0.item"), ((masks(0),), "items.0.quantity")],
)
def test_a_need_names_catalogue_items(chenqiao: Spec, items: tuple[Line, ...], field: str) -> None:
    chenqiao.given([])
    refused(chenqiao, PostNeed(items), field)


def test_the_parcel_meets_the_plea(chenqiao: Spec) -> None:
    chenqiao.given([*plea(), *parcel()])
    need = chenqiao.fold(chenqiao.history).needs[NEED]
    assert (need.status, need.remaining) == (NeedStatus.MET, ())


def test_part_of_a_plea_is_met_and_the_rest_remains(chenqiao: Spec) -> None:
    state = chenqiao.given([*plea(), donated(CHENQIAO, masks(600), Line("纸巾", 3))])
    need = state.needs[NEED]
    assert need.status == NeedStatus.OPEN
    assert need.remaining == (thermometers(11), masks(400))
    assert need.items == (thermometers(11), masks(1000))


def test_arrivals_meet_the_oldest_plea_first(chenqiao: Spec) -> None:
    state = chenqiao.given(
        [
            NeedPosted(NEED, CHENQIAO, (masks(500),)),
            NeedPosted("QZ-gangwen.chenqiao-0002", CHENQIAO, (masks(300),)),
            donated(CHENQIAO, masks(600)),
        ]
    )
    first, second = state.needs.values()
    assert (first.status, first.remaining) == (NeedStatus.MET, ())
    assert (second.status, second.remaining) == (NeedStatus.OPEN, (masks(200),))


def test_a_transfer_that_arrives_meets_the_plea(sctx: SupplyContext) -> None:
    need = NeedPosted("QZ-gangwen.chenqiao.lidu-0001", LIDU, (masks(200),))
    mine, _ = receive(sctx, sent_to_lidu(masks(150)), ReceiveTransfer(TRANSFER), [need])
    state = fold_ledger(LIDU, [need, *mine])
    assert state.needs[need.need_id].remaining == (masks(50),)
    plea_then_send = [
        *parcel(),
        NeedPosted(NEED, CHENQIAO, (masks(1),)),
        TransferDispatched(TRANSFER, CHENQIAO, LIDU, (masks(1),)),
        TransferSettled(TRANSFER, LIDU, (masks(1),)),
    ]
    sending = fold_ledger(CHENQIAO, plea_then_send)
    assert sending.needs[NEED].remaining == (masks(1),), "what leaves meets no plea"


def test_a_plea_is_closed_with_a_reason(chenqiao: Spec) -> None:
    chenqiao.given(plea())
    chenqiao.when(CloseNeed(NEED, "区里已统一调配"))
    state = chenqiao.then(NeedClosed(NEED, "区里已统一调配"))
    assert (state.needs[NEED].status, state.needs[NEED].reason) == (
        NeedStatus.CLOSED,
        "区里已统一调配",
    )
    after = chenqiao.fold([*chenqiao.history, NeedClosed(NEED, "x"), *parcel()])
    assert after.needs[NEED].remaining == (thermometers(11), masks(1000)), "closed: not matched"


def test_closing_a_plea_says_why(chenqiao: Spec) -> None:
    chenqiao.given(plea())
    refused(chenqiao, CloseNeed(NEED, " "), "reason")


@pytest.mark.parametrize(
    "history",
    [[*plea(), *parcel()], [*plea(), NeedClosed(NEED, "已调配")], []],
    ids=["met", "closed", "unknown"],
)
def test_only_an_open_plea_is_closed(chenqiao: Spec, history: list[SupplyEvent]) -> None:
    chenqiao.given(history)
    refused(chenqiao, CloseNeed(NEED, "重复"), "need_id")


# --- stock-takes (盘点) -------------------------------------------------------------------


def test_a_stock_take_writes_off_the_difference_with_a_reason(chenqiao: Spec) -> None:
    chenqiao.given(parcel())
    chenqiao.when(TakeStock("口罩", 990, "受潮报废10个"))
    state = chenqiao.then(StockTaken("口罩", 1000, 990, "受潮报废10个"))
    assert state.of("口罩") == Stock(on_hand=990, donated=1000, written_off=10)
    assert balanced(state)


def test_a_stock_take_that_finds_a_difference_says_why(chenqiao: Spec) -> None:
    chenqiao.given(parcel())
    refused(chenqiao, TakeStock("口罩", 990), "reason")


def test_a_stock_take_that_agrees_needs_no_reason(chenqiao: Spec) -> None:
    chenqiao.given(parcel())
    chenqiao.when(TakeStock("口罩", 1000))
    state = chenqiao.then(StockTaken("口罩", 1000, 1000, ""))
    assert state.of("口罩") == Stock(on_hand=1000, donated=1000)


def test_a_stock_take_that_finds_more_books_a_negative_write_off(chenqiao: Spec) -> None:
    chenqiao.given(parcel())
    chenqiao.when(TakeStock("额温枪", 12, "漏记一把"))
    state = chenqiao.then(StockTaken("额温枪", 11, 12, "漏记一把"))
    assert state.of("额温枪") == Stock(on_hand=12, donated=11, written_off=-1)
    assert balanced(state)


def test_a_stock_take_never_counts_fewer_than_are_reserved(chenqiao: Spec) -> None:
    chenqiao.given([*parcel(), SuppliesReserved(INC, (masks(900),))])
    refused(chenqiao, TakeStock("口罩", 899, "丢失"), "counted")
    chenqiao.when(TakeStock("口罩", 900, "丢失"))
    state = chenqiao.then(StockTaken("口罩", 1000, 900, "丢失"))
    assert (state.of("口罩").available, state.of("口罩").reserved) == (0, 900)


@pytest.mark.parametrize("counted", [-1, MAX_QUANTITY + 1, 2.5, True])
def test_a_count_is_a_whole_number(chenqiao: Spec, counted: int) -> None:
    chenqiao.given(parcel())
    refused(chenqiao, TakeStock("口罩", counted, "x"), "counted")


def test_a_stock_take_of_an_unknown_item_names_close_matches(chenqiao: Spec) -> None:
    chenqiao.given(parcel())
    error = refused(chenqiao, TakeStock("额温", 3, "x"), "item", UnknownItem)
    assert error.close[0] == "额温枪"  # type: ignore[attr-defined]


# --- reservations and issues ----------------------------------------------------------------


def in_stock() -> list[SupplyEvent]:
    """丽都社区 holds 11 thermometers and 100 masks."""
    return [donated(LIDU, thermometers(11), masks(100))]


def test_a_delivery_order_reserves_stock(lidu: Spec) -> None:
    lidu.given(in_stock())
    lidu.when(ReserveSupplies(INC, (masks(30), thermometers(1), masks(20))))
    state = lidu.then(SuppliesReserved(INC, (masks(50), thermometers(1))))
    assert state.of("口罩") == Stock(on_hand=100, reserved=50, donated=100)
    assert state.of("口罩").available == 50
    assert state.reservations == {INC: (masks(50), thermometers(1))}
    assert balanced(state)


def test_two_orders_are_never_promised_the_last_thermometer(lidu: Spec) -> None:
    lidu.given([*in_stock(), SuppliesReserved("inc-1", (thermometers(6),))])
    error = refused(lidu, ReserveSupplies("inc-2", (thermometers(6),)), "items", InsufficientStock)
    assert error.available == {"额温枪": 5}  # type: ignore[attr-defined]
    lidu.when(ReserveSupplies("inc-2", (thermometers(5),)))
    assert lidu.then(SuppliesReserved("inc-2", (thermometers(5),))).of("额温枪").available == 0


def test_only_the_items_short_are_named(lidu: Spec) -> None:
    lidu.given(in_stock())
    error = refused(
        lidu,
        ReserveSupplies(INC, (masks(10), thermometers(12), Line("纸巾", 1))),
        "items",
        InsufficientStock,
    )
    assert error.available == {"额温枪": 11, "纸巾": 0}  # type: ignore[attr-defined]


def test_an_order_reserves_once_per_ledger(lidu: Spec) -> None:
    lidu.given([*in_stock(), SuppliesReserved(INC, (masks(1),))])
    refused(lidu, ReserveSupplies(INC, (masks(1),)), "incident_id")


@pytest.mark.parametrize(
    ("items", "field"),
    [((), "items"), ((Line("口照", 1),), "items.0.item"), ((masks(-1),), "items.0.quantity")],
)
def test_a_reservation_names_catalogue_items(
    lidu: Spec, items: tuple[Line, ...], field: str
) -> None:
    lidu.given(in_stock())
    refused(lidu, ReserveSupplies(INC, items), field)


def test_a_reservation_is_released(lidu: Spec) -> None:
    lidu.given([*in_stock(), SuppliesReserved(INC, (masks(50),))])
    lidu.when(ReleaseSupplies(INC, "退回街道"))
    state = lidu.then(ReservationReleased(INC, (masks(50),), "退回街道"))
    assert state.of("口罩") == Stock(on_hand=100, donated=100)
    assert state.reservations == {}


def test_only_a_reservation_held_is_released(lidu: Spec) -> None:
    lidu.given([*in_stock(), SuppliesReserved("inc-2", (masks(50),))])
    refused(lidu, ReleaseSupplies(INC), "incident_id")


def test_a_resolved_order_issues_what_it_reserved(lidu: Spec) -> None:
    lidu.given([*in_stock(), SuppliesReserved(INC, (masks(50), thermometers(1)))])
    lidu.when(IssueSupplies(INC, (masks(1),)))
    state = lidu.then(SuppliesIssued(INC, (masks(50), thermometers(1))))
    assert state.of("口罩") == Stock(on_hand=50, donated=100, issued=50)
    assert state.of("额温枪") == Stock(on_hand=10, donated=11, issued=1)
    assert state.reservations == {}
    assert balanced(state)


def test_an_issue_without_a_reservation_draws_from_what_is_available(lidu: Spec) -> None:
    lidu.given([*in_stock(), SuppliesReserved("inc-2", (masks(60),))])
    error = refused(lidu, IssueSupplies(INC, (masks(41),)), "items", InsufficientStock)
    assert error.available == {"口罩": 40}  # type: ignore[attr-defined]
    lidu.when(IssueSupplies(INC, (masks(40),)))
    state = lidu.then(SuppliesIssued(INC, (masks(40),)))
    assert state.of("口罩") == Stock(on_hand=60, reserved=60, donated=100, issued=40)
    assert state.reservations == {"inc-2": (masks(60),)}


def test_an_issue_without_a_reservation_names_its_items(lidu: Spec) -> None:
    lidu.given(in_stock())
    refused(lidu, IssueSupplies(INC, ()), "items")


def test_a_ledger_folds_the_same_every_time() -> None:
    history = [
        *sent_to_lidu(masks(100)),
        SuppliesReserved(INC, (thermometers(2),)),
        StockTaken("口罩", 900, 899, "破损"),
        TransferSettled(TRANSFER, LIDU, (masks(100),)),
        SuppliesIssued(INC, (thermometers(2),)),
    ]
    once = fold_ledger(CHENQIAO, history)
    assert once == fold_ledger(CHENQIAO, history)
    assert fold_ledger(CHENQIAO, history[2:], fold_ledger(CHENQIAO, history[:2])) == once
    assert once.version == len(history)
    assert once.of("口罩") == Stock(on_hand=899, donated=1000, transferred_out=100, written_off=1)
    assert once.of("额温枪") == Stock(on_hand=9, donated=11, issued=2)


# --- the draws policy: what a delivery order asks of the ledgers -------------------------

ORDER_ITEMS = (SupplyItem("口罩", 30, "个"), SupplyItem("额温枪", 1, "把"), SupplyItem("口罩", 20))
LINES = (masks(50), thermometers(1))
LATER = NOW + timedelta(minutes=30)


def drawn(
    events: Iterable[Event], held_at: str | None = None, kind: Kind = Kind.SUPPLY_DELIVERY
) -> list[tuple[str, SupplyCommand]]:
    return draws(kind, ORDER_ITEMS, INC, list(events), held_at)


def test_handing_down_reserves_at_the_community() -> None:
    assert drawn([IncidentHandedDown(LIDU)]) == [(LIDU, ReserveSupplies(INC, LINES))]


def test_dispatching_straight_to_a_community_reserves_there() -> None:
    events = [IncidentDispatched(LIDU, Level.COMMUNITY)]
    assert drawn(events) == [(LIDU, ReserveSupplies(INC, LINES))]


@pytest.mark.parametrize(
    "event",
    [IncidentDispatched(CHENQIAO, Level.STREET), IncidentDispatched(CDC, Level.DEPARTMENT)],
)
def test_dispatching_to_a_street_or_department_releases(event: Event) -> None:
    assert drawn([event], held_at=LIDU) == [(LIDU, ReleaseSupplies(INC, "the order left the unit"))]
    assert drawn([event]) == []


def test_a_return_releases() -> None:
    events = [IncidentReturned(CHENQIAO, DISTRICT, "不属于本街道")]
    assert drawn(events, held_at=LIDU) == [(LIDU, ReleaseSupplies(INC, "the order left the unit"))]
    assert drawn(events) == []


def test_a_claim_where_the_order_holds_its_reservation_asks_nothing() -> None:
    assert drawn([IncidentClaimed(VOLUNTEER, LIDU, LATER)], held_at=LIDU) == []


def test_a_claim_without_a_reservation_reserves() -> None:
    events = [IncidentClaimed(VOLUNTEER, LIDU, LATER)]
    assert drawn(events) == [(LIDU, ReserveSupplies(INC, LINES))]


def test_a_reservation_held_elsewhere_moves_with_the_order() -> None:
    assert drawn([IncidentHandedDown(LIDU)], held_at=HUAQIAO) == [
        (HUAQIAO, ReleaseSupplies(INC, f"the order moved to {LIDU}")),
        (LIDU, ReserveSupplies(INC, LINES)),
    ]


def test_resolving_issues_at_the_resolving_unit() -> None:
    events = [IncidentResolved(LIDU, SUMMARY, "张主任")]
    assert drawn(events, held_at=LIDU) == [(LIDU, IssueSupplies(INC, LINES))]
    assert drawn([IncidentResolved(CHENQIAO, SUMMARY, "张主任")]) == [
        (CHENQIAO, IssueSupplies(INC, LINES))
    ]


def test_resolving_releases_a_reservation_held_elsewhere() -> None:
    events = [IncidentResolved(CHENQIAO, SUMMARY, "张主任")]
    assert drawn(events, held_at=LIDU) == [
        (LIDU, ReleaseSupplies(INC, f"the order moved to {CHENQIAO}")),
        (CHENQIAO, IssueSupplies(INC, LINES)),
    ]


def test_the_last_move_of_a_batch_decides() -> None:
    events = [IncidentHandedDown(LIDU), IncidentResolved(LIDU, SUMMARY, "张主任")]
    assert drawn(events) == [(LIDU, IssueSupplies(INC, LINES))]


@pytest.mark.parametrize(
    "event",
    [
        IncidentSignedFor(CHENQIAO),
        IncidentReleased(VOLUNTEER, "家中有事"),
        ClaimTakenOver(VOLUNTEER, "volunteer-2", LATER),
    ],
)
def test_moves_within_the_unit_ask_nothing(event: Event) -> None:
    assert drawn([event], held_at=LIDU) == []
    assert drawn([event]) == []


@pytest.mark.parametrize("kind", [k for k in Kind if k is not Kind.SUPPLY_DELIVERY])
def test_other_orders_draw_nothing(kind: Kind) -> None:
    assert drawn([IncidentHandedDown(LIDU)], kind=kind) == []
    assert drawn([IncidentResolved(LIDU, SUMMARY, "张主任")], held_at=LIDU, kind=kind) == []
    assert draws(None, ORDER_ITEMS, INC, [IncidentHandedDown(LIDU)], None) == []


def test_the_policy_and_the_ledger_together(sctx: SupplyContext) -> None:
    """Handed down, returned, handed down elsewhere, resolved: the books follow the order."""
    books: dict[str, list[SupplyEvent]] = {
        LIDU: [donated(LIDU, masks(60), thermometers(2))],
        HUAQIAO: [donated(HUAQIAO, masks(50), thermometers(1), n=1)],
    }
    held: str | None = None
    for event in [
        IncidentHandedDown(LIDU),
        IncidentReturned(LIDU, CHENQIAO, "不在本社区"),
        IncidentHandedDown(HUAQIAO),
        IncidentClaimed(VOLUNTEER, HUAQIAO, LATER),
        IncidentResolved(HUAQIAO, SUMMARY, "张主任"),
    ]:
        for unit, command in drawn([event], held_at=held):
            produced = decide_ledger(fold_ledger(unit, books[unit]), command, sctx)
            books[unit] += produced
        held = next((u for u in books if INC in fold_ledger(u, books[u]).reservations), None)
    lidu, huaqiao = fold_ledger(LIDU, books[LIDU]), fold_ledger(HUAQIAO, books[HUAQIAO])
    assert lidu.of("口罩") == Stock(on_hand=60, donated=60)
    assert huaqiao.of("口罩") == Stock(on_hand=0, donated=50, issued=50)
    assert huaqiao.of("额温枪") == Stock(on_hand=0, donated=1, issued=1)
    assert lidu.reservations == huaqiao.reservations == {}


# --- risky deliveries ---------------------------------------------------------------------


def staff(trained: bool, unit: str = LIDU) -> StaffMember:
    return StaffMember(
        id="liu.jie", name="刘杰", unit=unit, kind=StaffKind.CADRE, active=True,
        quarantine_trained=trained,
    )  # fmt: skip


def test_an_untrained_cadre_may_not_take_a_delivery_to_a_quarantined_household() -> None:
    with pytest.raises(NotAllowed) as raised:
        check_may_take(staff(trained=False), Kind.SUPPLY_DELIVERY, home_quarantine=True)
    assert raised.value.field == "holder"
    assert "居家隔离" in raised.value.message
    assert "刘杰 is not" in raised.value.message


def test_a_trained_member_may_take_a_delivery_to_a_quarantined_household() -> None:
    check_may_take(staff(trained=True), Kind.SUPPLY_DELIVERY, home_quarantine=True)


def test_anyone_active_may_take_an_ordinary_delivery() -> None:
    check_may_take(staff(trained=False), Kind.SUPPLY_DELIVERY, home_quarantine=False)
    check_may_take(staff(trained=False), Kind.SUPPLY_DELIVERY)


@pytest.mark.parametrize(
    ("home_quarantine", "trained", "allowed"),
    [(True, False, False), (True, True, True), (False, False, True)],
)
def test_a_claim_on_a_delivery_order_checks_the_training_it_needs(
    home_quarantine: bool, trained: bool, allowed: bool
) -> None:
    order = Incident(
        status=Status.HANDED_DOWN,
        kind=Kind.SUPPLY_DELIVERY,
        unit=LIDU,
        home_quarantine=home_quarantine,
    )
    assert order.risky is home_quarantine
    if allowed:
        check_may_work_on(staff(trained), order)
    else:
        with pytest.raises(NotAllowed, match="居家隔离"):
            check_may_work_on(staff(trained), order)


def quarantined_delivery_claimed_at_lidu() -> list[Event]:
    command = supply_delivery(home_quarantine=True)
    return [
        replace(reported(command, LIDU), home_quarantine=True),
        IncidentDispatched(CHENQIAO, Level.STREET),
        IncidentSignedFor(CHENQIAO),
        IncidentHandedDown(LIDU),
        IncidentClaimed(VOLUNTEER, LIDU, NOW - timedelta(minutes=1)),
    ]


def test_a_delivery_to_a_quarantined_household_is_reported_as_risky(ctx: Context) -> None:
    events = decide(Incident(), supply_delivery(home_quarantine=True), ctx)
    assert events[0] == replace(
        reported(supply_delivery(home_quarantine=True), LIDU), home_quarantine=True
    )
    state = fold(events)
    assert state.home_quarantine and state.risky


def test_a_trained_colleague_takes_over_a_risky_delivery(ctx: Context) -> None:
    state = fold(quarantined_delivery_claimed_at_lidu())
    assert state.risky
    events = decide(state, TakeOverClaim("volunteer-2"), ctx)
    assert events == [ClaimTakenOver(VOLUNTEER, "volunteer-2", NOW + timedelta(minutes=30))]
    assert fold(events, state).holder == "volunteer-2"


def test_an_ordinary_delivery_is_not_taken_over(ctx: Context) -> None:
    state = fold(claimed_at_lidu())
    assert not state.risky
    with pytest.raises(NotAllowed) as raised:
        decide(state, TakeOverClaim("volunteer-2"), ctx)
    assert raised.value.field == "kind"
    assert "release it instead" in raised.value.message


@pytest.mark.parametrize("kind", [k for k in Kind if k is not Kind.SUPPLY_DELIVERY])
def test_home_quarantine_marks_only_a_delivery(ctx: Context, kind: Kind) -> None:
    command = report(kind, home_quarantine=True)
    with pytest.raises(DomainError) as raised:
        decide(Incident(), command, ctx)
    assert raised.value.field == "home_quarantine"
    decide(Incident(), replace(command, home_quarantine=False), ctx)


def test_a_quarantine_visit_is_risky_without_the_flag(ctx: Context) -> None:
    assert fold(decide(Incident(), quarantine_visit(), ctx)).risky


def test_claiming_a_risky_delivery_is_an_ordinary_claim(ctx: Context) -> None:
    state = fold(quarantined_delivery_claimed_at_lidu()[:-1])
    (claimed,) = decide(state, ClaimIncident("volunteer-2"), ctx)
    assert claimed == IncidentClaimed("volunteer-2", LIDU, NOW + timedelta(minutes=30))
