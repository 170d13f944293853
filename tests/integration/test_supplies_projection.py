"""The supplies projections on the real server: each unit's projected ledger is the domain's
fold of its stream, whatever the batch size; the books reconcile after donations, corrections,
transfers (one with a loss, one still on the road), stock-takes and deliveries, and identically
after a rebuild, key by key; a tampered ledger key is named; the public list shows no contact;
and the day's donations and issues are counted on their local day.

The district's record of early February 2020 (ISSUE 10), at a test clock.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib
from clock import Clock
from helpers_projection import (
    ADMIN,
    CHENQIAO,
    DISTRICT,
    LIDU,
    P,
    assert_same,
    dump_generation,
    head,
    rebuilt,
    report_fields,
    step,
)
from supplies import seed_catalogue

from coordination.bootstrap import Services, build_services
from coordination.config import Config
from coordination.domain.commands import (
    CorrectDonation,
    DispatchTransfer,
    PostNeed,
    ReceiveDonation,
    ReceiveTransfer,
    TakeStock,
)
from coordination.domain.supplies import ledger_stream
from coordination.domain.values import Cash, Contact, Donor, DonorKind, Earmark, Line
from coordination.projections.projector import Projector
from coordination.projections.supply_books import Measured
from coordination.store import keys
from coordination.store.keys import current_generation

SHANGHAI = ZoneInfo("Asia/Shanghai")
HUAQIAO = "gangwen/chenqiao/huaqiao"
GONGYUAN = "gangwen/chenqiao/gongyuan"
CDC = "gangwen/cdc"
PHONE = "13700001111"
CHENQIAO_UNITS = [CHENQIAO, LIDU, HUAQIAO, GONGYUAN, "gangwen/chenqiao/yonghe"]


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2020, month, day, hour, minute, tzinfo=SHANGHAI)


def fresh(redis_url: str, redis: redis_lib.Redis, clock: Clock) -> Services:
    """Services with the catalogue and nothing in stock."""
    svc = build_services(Config(redis_url=redis_url), redis, clock=clock)
    seed_catalogue(svc)
    return svc


def donate(svc: Services, unit: str, donor: Donor, *lines: Line, cash: Cash | None = None) -> str:
    command = ReceiveDonation(unit, donor, "物资保障组 王磊", items=lines, cash=cash)
    receipt: str = svc.supplies.execute(ADMIN, unit, command).event.receipt
    return receipt


def early_february(svc: Services, clock: Clock) -> dict[str, str]:
    """The record of 2月2日 to 2月6日, and deliveries; the numbers it hands out, by name."""
    did: dict[str, str] = {}
    clock.now = at(2, 2, 10)
    branch = Donor(DonorKind.ORGANISATION, "某公司党支部")
    did["tissues"] = donate(svc, HUAQIAO, branch, Line("纸巾", 2))
    clock.now = at(2, 3, 9)
    did["suits"] = donate(
        svc, CDC, Donor(DonorKind.COMPANY, "某医疗器械公司"), Line("防护服", 1200)
    )
    clock.now = at(2, 4, 15)
    charity = Donor(DonorKind.ORGANISATION, "某慈善会")
    did["disinfectant"] = donate(svc, GONGYUAN, charity, Line("84消毒液", 1040))
    clock.now = at(2, 4, 20)
    plea = PostNeed((Line("额温枪", 20), Line("口罩", 3000)), "物资保障组求助")
    did["need"] = svc.supplies.execute(ADMIN, CHENQIAO, plea).event.need_id
    clock.now = at(2, 5, 10)
    cash = Cash(
        15_000_000, (Earmark("支援武汉医护人员", 8_000_000), Earmark("一线防护物资", 7_000_000))
    )
    did["alcohol"] = donate(
        svc, CHENQIAO, Donor(DonorKind.COMPANY, "某药业公司"), Line("医用酒精", 5), cash=cash
    )
    clock.now = at(2, 6, 11)
    someone = Donor(DonorKind.INDIVIDUAL, "张某", anonymous=True, contact=Contact("张某", PHONE))
    did["parcel"] = donate(svc, CHENQIAO, someone, Line("额温枪", 11), Line("口罩", 1000))
    clock.now = at(2, 6, 14)
    did["more masks"] = donate(svc, CHENQIAO, branch, Line("口罩", 1000))
    # 2月6日 afternoon: the correction, the transfers down, a stock-take.
    clock.now = at(2, 6, 15)
    fix = CorrectDonation(did["disinfectant"], "过磅复核", (Line("84消毒液", 1000),))
    svc.supplies.execute(ADMIN, GONGYUAN, fix)
    clock.now = at(2, 6, 16)
    for name, to, n in (("to lidu", LIDU, 500), ("to huaqiao", HUAQIAO, 300)):
        sent = svc.supplies.execute(ADMIN, CHENQIAO, DispatchTransfer(to, (Line("口罩", n),)))
        did[name] = sent.event.transfer_id
    alcohol = DispatchTransfer(GONGYUAN, (Line("医用酒精", 2),), "路上")
    did["on the road"] = svc.supplies.execute(ADMIN, CHENQIAO, alcohol).event.transfer_id
    clock.now = at(2, 6, 17)
    svc.supplies.receive(ADMIN, ReceiveTransfer(did["to lidu"]))
    short = ReceiveTransfer(did["to huaqiao"], (Line("口罩", 290),), "运输途中破损10个")
    svc.supplies.receive(ADMIN, short)
    svc.supplies.execute(ADMIN, HUAQIAO, TakeStock("纸巾", 1, "受潮一箱"))
    # Deliveries at 丽都花园: one done (reserved at lidu, then issued), one handed down only.
    for name, steps in (
        ("delivered", ("sign", "hand_down", "resolve")),
        ("promised", ("sign", "hand_down")),
    ):
        clock.advance(minutes=5)
        did[name] = svc.incidents.report(ADMIN, report_fields()).incident.id
        for each in steps:
            clock.advance(minutes=5)
            svc.incidents.execute(ADMIN, did[name], step(each))
    clock.advance(minutes=5)
    plea = PostNeed((Line("口罩", 1000), Line("额温枪", 5)))
    did["lidu need"] = svc.supplies.execute(ADMIN, LIDU, plea).event.need_id
    return did


@pytest.fixture
def clock() -> Clock:
    return Clock(at(2, 1, 9))


@pytest.fixture
def svc(redis_url: str, redis: redis_lib.Redis, clock: Clock) -> Services:
    return fresh(redis_url, redis, clock)


def units_with_ledgers(svc: Services) -> list[str]:
    return sorted(u for u in svc.jurisdiction.units if svc.store.read_stream(P, ledger_stream(u)))


@pytest.mark.parametrize("batch_size", [1, 3, 1000])
def test_the_projected_ledgers_are_the_domain_fold_of_their_streams(
    svc: Services, clock: Clock, redis: redis_lib.Redis, batch_size: int
) -> None:
    early_february(svc, clock)
    Projector(redis, svc.store, batch_size=batch_size).catch_up(P)
    found = svc.reads.ledgers(P)
    assert (
        list(found.ledgers) == units_with_ledgers(svc) == [CDC, CHENQIAO, GONGYUAN, HUAQIAO, LIDU]
    )
    for unit, ledger in found.ledgers.items():
        assert ledger == svc.supplies.ledger(P, unit), unit
    assert found.position == svc.store.head(P)
    assert [i.name for i in svc.reads.catalogue(P)] == sorted(
        ["口罩", "额温枪", "84消毒液", "医用酒精", "防护服", "纸巾"]
    )


def test_the_books_reconcile_and_are_identical_after_a_rebuild(
    svc: Services, clock: Clock, redis: redis_lib.Redis
) -> None:
    did = early_february(svc, clock)
    Projector(redis, svc.store, batch_size=4).catch_up(P)
    books = svc.reads.reconciliation(P)
    assert books.balanced, books.differences
    assert books.position == svc.store.head(P)
    rows = {(b.unit, b.item): b for b in books.rows}
    masks = rows[CHENQIAO, "口罩"]
    assert (masks.donated, masks.transferred_out, masks.written_off, masks.on_hand) == (
        2000,
        790,  # 500 to lidu, 290 of 300 to huaqiao
        10,  # lost on the road
        1200,
    )
    lidu = rows[LIDU, "口罩"]
    assert (lidu.transferred_in, lidu.issued, lidu.on_hand, lidu.reserved, lidu.available) == (
        500,
        50,
        450,
        50,
        400,
    )
    alcohol = rows[CHENQIAO, "医用酒精"]
    assert (alcohol.on_hand, alcohol.in_transit, alcohol.booked, alcohol.difference) == (3, 2, 5, 0)
    assert rows[GONGYUAN, "84消毒液"].donated == 1000  # as corrected
    tissues = rows[HUAQIAO, "纸巾"]
    assert (tissues.written_off, tissues.on_hand, tissues.measure) == (1, 1, "箱")
    totals = {b.item: b for b in books.totals}
    assert (totals["口罩"].donated, totals["口罩"].issued, totals["口罩"].written_off) == (
        2000,
        50,
        10,
    )
    assert totals["口罩"].on_hand == 1200 + 450 + 290
    assert totals["医用酒精"].in_transit == 2 and totals["医用酒精"].difference == 0
    assert books.cash_total.cash_fen == 15_000_000
    assert books.cash_total.earmarked == {"一线防护物资": 7_000_000, "支援武汉医护人员": 8_000_000}

    before = dump_generation(redis)
    assert any(name.startswith("ledger:") for name in before)
    assert_same(rebuilt(redis, svc), before)
    assert svc.reads.reconciliation(P) == books

    # The plea was met in part by what arrived; the transfers are listed, one on the road.
    needs, _ = svc.reads.needs(P, CHENQIAO_UNITS)
    assert [(n.need_id, n.unit, n.remaining) for n in needs] == [
        (did["need"], CHENQIAO, (Measured("额温枪", 9, "把"), Measured("口罩", 1000, "个"))),
        (did["lidu need"], LIDU, (Measured("口罩", 1000, "个"), Measured("额温枪", 5, "把"))),
    ]
    # chenqiao has what its plea still names; lidu has 400 masks free and no thermometer.
    shortages, _ = svc.reads.shortages(P, CHENQIAO_UNITS)
    assert [(s.unit, s.item, s.needed, s.available, s.short) for s in shortages] == [
        (LIDU, "口罩", 1000, 400, 600),
        (LIDU, "额温枪", 5, 0, 5),
    ]
    transfers, _ = svc.reads.transfers(P, lambda u: svc.jurisdiction.within(u, HUAQIAO))
    assert [(t.transfer_id, t.in_transit, t.lost, t.loss_reason) for t in transfers] == [
        (did["to huaqiao"], False, (Measured("口罩", 10, "个"),), "运输途中破损10个")
    ]
    every, _ = svc.reads.transfers(P, lambda u: True)
    assert {t.transfer_id: t.in_transit for t in every} == {
        did["to lidu"]: False,
        did["to huaqiao"]: False,
        did["on the road"]: True,
    }


def test_a_tampered_ledger_key_is_named(
    svc: Services, clock: Clock, redis: redis_lib.Redis
) -> None:
    did = early_february(svc, clock)
    svc.projector.catch_up(P)
    assert svc.reads.reconciliation(P).balanced
    key = keys.supply_ledger(P, current_generation(redis, P), LIDU)
    data = json.loads(redis.get(key))
    data["stock"]["口罩"]["on_hand"] += 7
    redis.set(key, json.dumps(data, ensure_ascii=False))
    books = svc.reads.reconciliation(P)
    assert not books.balanced
    assert [(d.unit, d.item, d.difference) for d in books.differences] == [(LIDU, "口罩", -7)]
    assert "booked 450, held 457" in books.differences[0].explanation

    # A transfer settled at its sender but missing at its receiver is named too.
    redis.set(key, json.dumps({**json.loads(redis.get(key)), "received": []}))
    named = {d.item for d in svc.reads.reconciliation(P).differences}
    assert did["to lidu"] in named
    # A rebuild puts the books right again.
    rebuilt(redis, svc)
    assert svc.reads.reconciliation(P).balanced


def test_the_public_list_newest_first_without_contact_or_anonymous_names(
    svc: Services, clock: Clock, redis: redis_lib.Redis
) -> None:
    did = early_february(svc, clock)
    svc.projector.catch_up(P)
    page = svc.reads.donations([P], limit=4)
    assert [d.receipt for d in page.items] == [
        did["more masks"],
        did["parcel"],
        did["alcohol"],
        did["disinfectant"],
    ]
    parcel = page.items[1]
    assert (parcel.donor, parcel.anonymous, parcel.donor_kind) == ("", True, "individual")
    assert parcel.items == (Measured("额温枪", 11, "把"), Measured("口罩", 1000, "个"))
    assert parcel.received_at == at(2, 6, 11)
    alcohol = page.items[2]
    assert (alcohol.cash_fen, len(alcohol.earmarks), alcohol.corrected) == (15_000_000, 2, False)
    corrected = page.items[3]
    assert corrected.corrected and corrected.items == (Measured("84消毒液", 1000, "斤"),)
    assert page.next_cursor
    rest = svc.reads.donations([P], page.next_cursor, limit=4)
    assert [d.receipt for d in rest.items] == [did["suits"], did["tissues"]]
    assert rest.next_cursor is None
    gen = current_generation(redis, P)
    stored = b" ".join(redis.hgetall(keys.donation_entries(P, gen)).values()).decode()
    assert PHONE not in stored and "张某" not in stored  # nor the anonymous donor's name
    assert "某公司党支部" in stored


def test_each_days_donations_and_issues_are_counted_on_their_local_day(
    svc: Services, clock: Clock, redis: redis_lib.Redis
) -> None:
    early_february(svc, clock)
    svc.projector.catch_up(P)

    def day(d: str) -> dict[str, Any]:
        return {x.unit: x for x in svc.reads.supply_day(P, d)}

    assert list(day("2020-02-02")) == [HUAQIAO]
    assert day("2020-02-02")[HUAQIAO].donated == (Measured("纸巾", 2, "箱"),)
    fifth = day("2020-02-05")[CHENQIAO]
    assert (fifth.donations, fifth.cash_fen, fifth.donated) == (
        1,
        15_000_000,
        (Measured("医用酒精", 5, "桶"),),
    )
    sixth = day("2020-02-06")
    assert (sixth[CHENQIAO].donations, sixth[CHENQIAO].donated) == (
        2,
        (Measured("口罩", 2000, "个"), Measured("额温枪", 11, "把")),
    )
    # The correction counts on the day it was made: 40 斤 fewer than booked on 2月4日.
    assert (sixth[GONGYUAN].corrections, sixth[GONGYUAN].donated) == (
        1,
        (Measured("84消毒液", -40, "斤"),),
    )
    assert day("2020-02-04")[GONGYUAN].donated == (Measured("84消毒液", 1040, "斤"),)
    assert sixth[LIDU].issued == (Measured("口罩", 50, "个"),)
    assert sixth[LIDU].donations == 0
    before = {d: svc.reads.supply_day(P, d) for d in ("2020-02-04", "2020-02-06")}
    rebuilt(redis, svc)
    assert {d: svc.reads.supply_day(P, d) for d in before} == before


def test_the_districts_own_stock_is_a_row_like_any_units(svc: Services, clock: Clock) -> None:
    clock.now = at(2, 7, 9)
    donate(svc, DISTRICT, Donor(DonorKind.COMPANY, "某公司"), Line("口罩", 10))
    svc.projector.catch_up(P)
    rows, _ = svc.reads.stock(P, [DISTRICT, CHENQIAO])
    assert [(r.unit, r.item, r.on_hand, r.available, r.measure) for r in rows] == [
        (DISTRICT, "口罩", 10, 10, "个")
    ]


def test_a_ledger_that_moves_wakes_the_dashboards_that_watch_its_unit(
    redis_url: str, redis: redis_lib.Redis, clock: Clock
) -> None:
    """A live dashboard looks again when an order of its subtree changed, and when a ledger
    of its subtree moved: a donation, each end of a transfer, and the catalogue (the
    district's) mark their unit at the position that moved it."""
    svc = fresh(redis_url, redis, clock)
    svc.projector.catch_up(P)
    catalogue_at = head(redis)
    clock.now = at(2, 2, 10)
    donate(svc, HUAQIAO, Donor(DonorKind.ORGANISATION, "某公司党支部"), Line("纸巾", 2))
    donated_at = head(redis)
    clock.now = at(2, 2, 11)
    sent = svc.supplies.execute(ADMIN, HUAQIAO, DispatchTransfer(CHENQIAO, (Line("纸巾", 1),)))
    sent_at = head(redis)
    svc.projector.catch_up(P)
    _, _, changes = svc.reads.unit_changes(P)
    assert changes[P] == catalogue_at
    assert changes[HUAQIAO] == sent_at > donated_at  # the sender's ledger moved last then
    assert CHENQIAO not in changes and LIDU not in changes  # on its way: nothing there yet
    clock.now = at(2, 2, 12)
    svc.supplies.receive(ADMIN, ReceiveTransfer(sent.event.transfer_id))
    svc.projector.catch_up(P)
    _, _, changes = svc.reads.unit_changes(P)
    # The receipt is one append to both ledgers: received at one end, settled at the other.
    assert sorted([changes[CHENQIAO], changes[HUAQIAO]]) == [head(redis) - 1, head(redis)]
    assert LIDU not in changes
