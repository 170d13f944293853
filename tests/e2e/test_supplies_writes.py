"""The supplies writes through HTTP: the catalogue, donations and their corrections, transfers
and their receipts, pleas and stock-takes; retries under one Idempotency-Key; deliveries to
quarantined households (risky work); and the log deciding who gets the last thermometer.

Each write answers 201 (closing a plea, 200) with the entry's number, the ledger's version and
the log position it reached; the ledger as the log folds it (``services().supplies.load``) is
what the books say afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import redis as redis_lib
from flask import Flask
from supplies import CATALOGUE, seed_catalogue

from coordination.api.app import create_app
from coordination.api.present import donor as present_donor
from coordination.config import Config
from coordination.domain.access import Actor, Role
from coordination.domain.supplies import Ledger, ledger_stream
from coordination.domain.values import CatalogueItem, Contact, Donor, DonorKind, SupplyCategory

DISTRICT = "gangwen"
CHENQIAO = "gangwen/chenqiao"
LIDU = "gangwen/chenqiao/lidu"
HUAQIAO = "gangwen/chenqiao/huaqiao"
CDC = "gangwen/cdc"
D = "dispatcher@gangwen"
HC = "handler@gangwen/chenqiao"
ADMIN = "admin@gangwen"
ADMIN_ACTOR = Actor(ADMIN, Role.ADMIN, DISTRICT)

COMPANY = {
    "kind": "company",
    "name": "某公司党支部",
    "contact": {"name": "王经理", "phone": "13912345678"},
}
RESOLVE = {"summary": "已送到门口", "signed_off_by": "社区书记"}


def lines(*pairs: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"item": item, "quantity": n} for item, n in pairs]


class Supplies:
    """POSTs as a named token, and the books as the log has them."""

    def __init__(self, app: Flask, auth: Callable[[str], dict[str, str]]) -> None:
        self.app = app
        self.client = app.test_client()
        self.auth = auth
        self.services = app.extensions["coordination"]
        self.staff_secrets: dict[str, str] = {}

    def field_token(self, staff_id: str, unit: str = LIDU) -> str:
        """A field token of a registered staff member, named by the member's id."""
        self.staff_secrets[staff_id] = self.services.tokens.create(Role.FIELD, unit, staff_id)[0]
        return staff_id

    def post(self, as_: str, path: str, body: Any, key: str | None = None) -> Any:
        if as_ in self.staff_secrets:
            headers = {"Authorization": f"Bearer {self.staff_secrets[as_]}"}
        else:
            headers = self.auth(as_)
        if key is not None:
            headers = {**headers, "Idempotency-Key": key}
        return self.client.post(path, json=body, headers=headers)

    def ok(self, response: Any, status: int = 201) -> dict[str, Any]:
        assert response.status_code == status, (response.status_code, response.get_data(True))
        body: dict[str, Any] = response.get_json()
        assert body["position"] == self.head(), body  # nothing written after it
        return body

    def donate(self, unit: str, *pairs: tuple[str, int], as_: str = HC) -> dict[str, Any]:
        body = {"unit": unit, "donor": COMPANY, "received_by": "物资保障组", "items": lines(*pairs)}
        return self.ok(self.post(as_, "/supplies/donations", body))

    def ledger(self, unit: str) -> Ledger:
        ledger: Ledger = self.services.supplies.load(ADMIN_ACTOR, unit)
        return ledger

    def head(self) -> int:
        head: int = self.services.store.head(DISTRICT)
        return head


@pytest.fixture
def app(redis_url: str, redis: redis_lib.Redis) -> Flask:
    """The application on the emptied server, with the standard catalogue and no stock at all
    (not the conftest's, stocked with masks everywhere): these tests count every item."""
    application = create_app(Config(redis_url=redis_url), redis=redis)
    application.config["TESTING"] = True
    seed_catalogue(application.extensions["coordination"])
    return application


@pytest.fixture
def sup(app: Flask, auth: Callable[[str], dict[str, str]]) -> Supplies:
    return Supplies(app, auth)


# --- the catalogue ----------------------------------------------------------------------------


def test_an_admin_adds_a_catalogue_item_and_the_same_name_again_is_a_409(
    sup: Supplies, expect_error: Callable[..., Any], log_len: Callable[[], tuple[int, int]]
) -> None:
    body = {"name": "一次性手套", "category": "protection", "unit": "副"}
    added = sup.ok(sup.post(ADMIN, "/supplies/catalogue", body, key="glove-1"))
    assert added["id"] == "一次性手套"
    assert (added["district"], added["unit"]) == (DISTRICT, DISTRICT)
    assert added["item"] == {"name": "一次性手套", "category": "protection", "unit": "副"}
    assert added["version"] == len(CATALOGUE) + 1
    catalogue = sup.services.supplies.catalogue.current(DISTRICT)
    assert catalogue.items["一次性手套"] == CatalogueItem(
        "一次性手套", SupplyCategory.PROTECTION, "副"
    )

    before = log_len()
    replay = sup.post(ADMIN, "/supplies/catalogue", body, key="glove-1")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == added
    again = expect_error(sup.post(ADMIN, "/supplies/catalogue", body), 409, "name")
    assert "一次性手套" in again["message"]
    assert log_len() == before


# --- donations and corrections ------------------------------------------------------------------


def test_a_donation_gets_a_receipt_and_a_retry_with_its_key_gets_the_same_one(
    sup: Supplies, log_len: Callable[[], tuple[int, int]]
) -> None:
    # 2月2日: a company's party branch brings two boxes of tissues to 花桥社区 for its lifts.
    body = {
        "unit": HUAQIAO,
        "donor": COMPANY,
        "received_by": "花桥社区居委会",
        "items": lines(("纸巾", 2)),
        "note": "电梯间使用",
    }
    first = sup.post(HC, "/supplies/donations", body, key="tissues-0202")
    written = sup.ok(first)
    assert "Idempotent-Replayed" not in first.headers
    assert written["receipt"] == written["id"] == "JZ-gangwen.chenqiao.huaqiao-0001"
    assert (written["unit"], written["version"]) == (HUAQIAO, 1)
    assert written["donation"] == {
        "receipt": "JZ-gangwen.chenqiao.huaqiao-0001",
        "unit": HUAQIAO,
        "donor": {**COMPANY, "anonymous": False},  # a handler sees the contact in full
        "received_by": "花桥社区居委会",
        "items": [{"item": "纸巾", "quantity": 2, "measure": "箱"}],
        "cash": None,
        "note": "电梯间使用",
        "corrections": 0,
    }

    before = log_len()
    retry = sup.post(HC, "/supplies/donations", body, key="tissues-0202")
    assert retry.status_code == 201, retry.get_data(True)
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json() == written
    assert log_len() == before
    assert sup.ledger(HUAQIAO).of("纸巾").on_hand == 2

    another = sup.ok(sup.post(HC, "/supplies/donations", body, key="tissues-0202-b"))
    assert another["receipt"] == "JZ-gangwen.chenqiao.huaqiao-0002"
    stock = sup.ledger(HUAQIAO).of("纸巾")
    assert (stock.on_hand, stock.donated, stock.difference) == (4, 4, 0)


def test_a_cash_gift_with_earmarks_and_an_anonymous_donor(sup: Supplies) -> None:
    # 2月5日: 5 barrels of medical alcohol to 陈桥街道, and ¥150,000 of which ¥80,000 for the
    # medical staff sent to Wuhan and ¥70,000 for protective equipment of the front line.
    body = {
        "unit": CHENQIAO,
        "donor": {"kind": "individual", "anonymous": True},
        "received_by": "物资保障组",
        "items": lines(("医用酒精", 5)),
        "cash": {
            "amount_fen": 15_000_000,
            "earmarks": [
                {"purpose": "援鄂医护人员", "amount_fen": 8_000_000},
                {"purpose": "一线防护物资采购", "amount_fen": 7_000_000},
            ],
        },
    }
    written = sup.ok(sup.post(HC, "/supplies/donations", body))
    donation = written["donation"]
    assert donation["donor"] == {
        "kind": "individual",
        "name": "",
        "anonymous": True,
        "contact": None,
    }
    assert donation["cash"] == body["cash"]
    assert donation["items"] == [{"item": "医用酒精", "quantity": 5, "measure": "桶"}]
    ledger = sup.ledger(CHENQIAO)
    assert ledger.cash_fen == 15_000_000
    assert ledger.earmarked == {"援鄂医护人员": 8_000_000, "一线防护物资采购": 7_000_000}
    assert ledger.of("医用酒精").on_hand == 5


def test_a_donor_contact_is_masked_for_those_who_may_not_see_personal_data() -> None:
    given = Donor(DonorKind.COMPANY, "某超市", contact=Contact("李经理", "13812345678"))
    viewer = Actor("viewer@gangwen", Role.VIEWER, DISTRICT)
    handler = Actor(HC, Role.HANDLER, CHENQIAO)
    assert present_donor(given, viewer)["contact"] == {"name": "李**", "phone": "138****5678"}
    assert present_donor(given, handler)["contact"] == {"name": "李经理", "phone": "13812345678"}
    assert present_donor(given, viewer)["name"] == "某超市"  # who gave is public (捐赠公示)


def test_a_correction_is_a_compensating_entry_and_the_books_follow_it(
    sup: Supplies, redis: Any
) -> None:
    donated = sup.donate(HUAQIAO, ("纸巾", 2))
    receipt = donated["receipt"]
    body = {"reason": "实为三箱, 登记有误", "items": lines(("纸巾", 3), ("口罩", 50))}
    written = sup.ok(sup.post(HC, f"/supplies/donations/{receipt}/corrections", body, key="c1"))
    assert (written["id"], written["receipt"], written["version"]) == (receipt, receipt, 2)
    assert written["donation"]["items"] == [
        {"item": "纸巾", "quantity": 3, "measure": "箱"},
        {"item": "口罩", "quantity": 50, "measure": "个"},
    ]
    assert written["donation"]["corrections"] == 1
    assert written["correction"]["reason"] == "实为三箱, 登记有误"
    replay = sup.post(HC, f"/supplies/donations/{receipt}/corrections", body, key="c1")
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.get_json() == written

    # Never edited: the first entry is still in the log, the correction after it.
    stream = sup.services.store.read_stream(DISTRICT, ledger_stream(HUAQIAO))
    assert [e.type for e in stream] == ["DonationReceived", "DonationCorrected"]
    ledger = sup.ledger(HUAQIAO)
    assert (ledger.of("纸巾").on_hand, ledger.of("口罩").on_hand) == (3, 50)
    assert ledger.balanced


# --- transfers and their receipts ----------------------------------------------------------------


def test_a_transfer_is_in_transit_until_received_and_a_shortfall_is_written_off(
    sup: Supplies, log_len: Callable[[], tuple[int, int]]
) -> None:
    # 2月6日: a parcel for 陈桥街道: 11 thermometers and 1,000 masks; some go on to 丽都社区.
    sup.donate(CHENQIAO, ("额温枪", 11), ("口罩", 1000))
    body = {
        "from_unit": CHENQIAO,
        "to_unit": LIDU,
        "items": lines(("口罩", 200), ("额温枪", 5)),
        "note": "支援丽都",
    }
    sent = sup.ok(sup.post(HC, "/supplies/transfers", body, key="t1"))
    transfer_id = "DB-gangwen.chenqiao-0001"
    assert (sent["id"], sent["transfer_id"], sent["unit"]) == (transfer_id, transfer_id, CHENQIAO)
    assert sent["transfer"]["in_transit"] is True
    assert sent["transfer"]["items"] == [
        {"item": "口罩", "quantity": 200, "measure": "个"},
        {"item": "额温枪", "quantity": 5, "measure": "把"},
    ]
    replay = sup.post(HC, "/supplies/transfers", body, key="t1")
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.get_json() == sent
    masks = sup.ledger(CHENQIAO).of("口罩")
    assert (masks.on_hand, masks.in_transit, masks.difference) == (800, 200, 0)

    receipt = {"received": lines(("口罩", 190), ("额温枪", 5)), "loss_reason": "途中破损"}
    url = f"/supplies/transfers/{transfer_id}/receipt"
    got = sup.ok(sup.post(HC, url, receipt, key="r1"))
    assert (got["id"], got["transfer_id"], got["unit"], got["version"]) == (
        transfer_id,
        transfer_id,
        LIDU,
        1,
    )
    assert got["transfer"]["in_transit"] is False
    assert got["transfer"]["received"] == [
        {"item": "口罩", "quantity": 190, "measure": "个"},
        {"item": "额温枪", "quantity": 5, "measure": "把"},
    ]
    assert got["transfer"]["lost"] == [{"item": "口罩", "quantity": 10, "measure": "个"}]
    assert got["transfer"]["loss_reason"] == "途中破损"

    before = log_len()
    replay = sup.post(HC, url, receipt, key="r1")
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.get_json() == got
    assert log_len() == before

    lidu, chenqiao = sup.ledger(LIDU), sup.ledger(CHENQIAO)
    assert (lidu.of("口罩").on_hand, lidu.of("额温枪").on_hand) == (190, 5)
    sender = chenqiao.of("口罩")
    assert (sender.on_hand, sender.in_transit, sender.transferred_out, sender.written_off) == (
        800,
        0,
        190,
        10,
    )
    assert lidu.balanced and chenqiao.balanced


def test_a_transfer_received_with_no_count_is_all_that_was_sent(sup: Supplies) -> None:
    sup.donate(CHENQIAO, ("防护服", 30))
    body = {"from_unit": CHENQIAO, "to_unit": LIDU, "items": lines(("防护服", 12))}
    transfer_id = sup.ok(sup.post(HC, "/supplies/transfers", body))["transfer_id"]
    got = sup.ok(sup.post(HC, f"/supplies/transfers/{transfer_id}/receipt", {}))
    assert got["transfer"]["lost"] == [] and got["transfer"]["loss_reason"] == ""
    assert sup.ledger(LIDU).of("防护服").on_hand == 12
    assert sup.ledger(CHENQIAO).of("防护服").transferred_out == 12


# --- pleas ----------------------------------------------------------------------------------------


def test_a_plea_is_met_by_what_arrives_and_closed_with_a_reason(sup: Supplies) -> None:
    # 2月4日 evening 陈桥街道's supplies team posts a plea; 2月6日 a parcel arrives.
    body = {"unit": CHENQIAO, "items": lines(("额温枪", 20), ("口罩", 1000)), "note": "物资告急"}
    posted = sup.ok(sup.post(HC, "/supplies/needs", body, key="plea-1"))
    need_id = "QZ-gangwen.chenqiao-0001"
    assert (posted["id"], posted["need_id"], posted["unit"]) == (need_id, need_id, CHENQIAO)
    assert posted["need"]["status"] == "open"
    assert posted["need"]["remaining"] == [
        {"item": "额温枪", "quantity": 20, "measure": "把"},
        {"item": "口罩", "quantity": 1000, "measure": "个"},
    ]
    replay = sup.post(HC, "/supplies/needs", body, key="plea-1")
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.get_json() == posted

    sup.donate(CHENQIAO, ("额温枪", 11), ("口罩", 1000))
    need = sup.ledger(CHENQIAO).needs[need_id]
    assert [(line.item, line.quantity) for line in need.remaining] == [("额温枪", 9)]

    closed = sup.ok(
        sup.post(HC, f"/supplies/needs/{need_id}/close", {"reason": "区里已调拨"}, key="x"), 200
    )
    assert closed["need"]["status"] == "closed" and closed["need"]["reason"] == "区里已调拨"
    assert closed["version"] == 3
    assert sup.ledger(CHENQIAO).needs[need_id].status == "closed"


# --- stock-takes ----------------------------------------------------------------------------------


def test_a_stock_take_writes_off_the_difference_with_its_reason(sup: Supplies) -> None:
    sup.donate(CHENQIAO, ("医用酒精", 5))
    body = {"unit": CHENQIAO, "item": "医用酒精", "counted": 4, "reason": "一桶渗漏"}
    taken = sup.ok(sup.post(HC, "/supplies/stocktakes", body, key="st-1"))
    assert (taken["id"], taken["unit"], taken["version"]) == ("医用酒精", CHENQIAO, 2)
    assert taken["stocktake"] == {
        "item": "医用酒精",
        "measure": "桶",
        "recorded": 5,
        "counted": 4,
        "written_off": 1,
        "reason": "一桶渗漏",
        "on_hand": 4,
        "reserved": 0,
        "available": 4,
    }
    replay = sup.post(HC, "/supplies/stocktakes", body, key="st-1")
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.get_json() == taken
    alcohol = sup.ledger(CHENQIAO).of("医用酒精")
    assert (alcohol.on_hand, alcohol.written_off, alcohol.difference) == (4, 1, 0)


def test_admin_keeps_the_books_of_a_department_too(sup: Supplies) -> None:
    # 2月3日: 1,200 protective suits to the district CDC.
    body = {
        "unit": CDC,
        "donor": {"kind": "organisation", "name": "某基金会"},
        "received_by": "疾控中心办公室",
        "items": lines(("防护服", 1200)),
    }
    written = sup.ok(sup.post(ADMIN, "/supplies/donations", body))
    assert written["receipt"] == "JZ-gangwen.cdc-0001"
    assert sup.ledger(CDC).of("防护服").on_hand == 1200


# --- risky deliveries -----------------------------------------------------------------------------


def test_a_delivery_to_a_quarantined_household_is_risky_and_says_so(
    sup: Supplies,
    http: Any,
    report_body: Callable[..., dict[str, Any]],
    expect_error: Callable[..., Any],
) -> None:
    sup.donate(LIDU, ("口罩", 100))
    risky = http.ok(http.report(D, report_body("supply_delivery", home_quarantine=True)), 201)[
        "incident"
    ]
    plain = http.ok(http.report(D, report_body("supply_delivery")), 201)["incident"]
    visit = http.ok(http.report(D, report_body("quarantine_visit")), 201)["incident"]
    assert (risky["home_quarantine"], risky["risky"]) == (True, True)
    assert (plain["home_quarantine"], plain["risky"]) == (False, False)
    assert (visit["home_quarantine"], visit["risky"]) == (False, True)
    assert risky["items"] == [{"item": "口罩", "quantity": 50, "measure": "个"}]
    read = http.ok(http.get("viewer@gangwen", risky["id"]))  # from the projections
    assert (read["home_quarantine"], read["risky"]) == (True, True)
    events = http.ok(http.events(D, risky["id"]))
    assert events[0]["data"]["home_quarantine"] is True

    refused = expect_error(
        http.report(D, report_body("work_order", home_quarantine=True)), 422, "home_quarantine"
    )
    assert "supply delivery" in refused["message"]


def test_only_trained_staff_claim_a_delivery_to_a_quarantined_household(
    sup: Supplies,
    app: Flask,
    http: Any,
    report_body: Callable[..., dict[str, Any]],
    register_staff: Callable[..., str],
    expect_error: Callable[..., Any],
) -> None:
    sup.donate(LIDU, ("口罩", 100))
    for staff_id, name, trained in (
        ("li.gang", "李刚", False),
        ("wang.fang", "王芳", True),
        ("zhao.min", "赵敏", True),
    ):
        sup.field_token(register_staff(staff_id, LIDU, name, quarantine_trained=trained))
    order = http.ok(http.report(D, report_body("supply_delivery", home_quarantine=True)), 201)
    order_id = order["id"]
    http.ok(http.act(HC, order_id, "sign-for", {}))
    handed = http.ok(http.act(HC, order_id, "hand-down", {"community": LIDU}))
    assert handed["incident"]["status"] == "handed_down"
    assert sup.ledger(LIDU).of("口罩").reserved == 50

    untrained = sup.post("li.gang", f"/incidents/{order_id}/claim", {})
    refused = expect_error(untrained, 422, "holder")
    assert "home quarantine" in refused["message"] and "trained" in refused["message"], refused
    assert "李刚" in refused["message"], refused

    claimed = sup.post("wang.fang", f"/incidents/{order_id}/claim", {})
    assert claimed.status_code == 200, claimed.get_data(True)
    assert claimed.get_json()["incident"]["holder"] == "wang.fang"
    expect_error(sup.post("li.gang", f"/incidents/{order_id}/take-over", {}), 422)
    taken = sup.post("zhao.min", f"/incidents/{order_id}/take-over", {})
    assert taken.status_code == 200, taken.get_data(True)
    assert taken.get_json()["incident"]["holder"] == "zhao.min"

    resolved = sup.post("zhao.min", f"/incidents/{order_id}/resolve", RESOLVE)
    assert resolved.status_code == 200, resolved.get_data(True)
    masks = sup.ledger(LIDU).of("口罩")
    assert (masks.on_hand, masks.reserved, masks.issued, masks.difference) == (50, 0, 50, 0)


# --- the log decides who gets the last thermometer ------------------------------------------------

RACERS = 50


def race(app: Flask, n: int, send: Callable[[Any, int], Any]) -> list[Any]:
    """``send(client, i)`` in ``n`` threads at once, each with its own test client."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            results[i] = send(client, i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert all(r is not None for r in results)
    return results


def test_fifty_hand_downs_for_ten_thermometers_exactly_ten_get_one(
    sup: Supplies,
    app: Flask,
    http: Any,
    auth: Callable[[str], dict[str, str]],
    report_body: Callable[..., dict[str, Any]],
    expect_error: Callable[..., Any],
) -> None:
    sup.donate(LIDU, ("额温枪", 10))
    orders = []
    for n in range(RACERS):
        body = report_body("supply_delivery", title=f"送额温枪 {n}", items=lines(("额温枪", 1)))
        order_id = http.ok(http.report(D, body), 201)["id"]
        http.ok(http.act(HC, order_id, "sign-for", {}))
        orders.append(order_id)
    before = sup.head()
    headers = auth(HC)

    responses = race(
        app,
        RACERS,
        lambda c, i: c.post(
            f"/incidents/{orders[i]}/hand-down", json={"community": LIDU}, headers=headers
        ),
    )

    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 10 and statuses.count(409) == RACERS - 10, statuses
    for response in responses:
        if response.status_code == 409:
            body = expect_error(response, 409, "items")
            assert body["errors"]["available"] == {"额温枪": 0}, body
            assert "额温枪" in body["message"]
    thermometers = sup.ledger(LIDU).of("额温枪")
    assert (thermometers.on_hand, thermometers.reserved, thermometers.available) == (10, 10, 0)
    http.catch_up()  # no worker runs here: project the log, as the catch-up job would
    stock = http.ok(
        sup.client.get(
            "/supplies/stock",
            query_string={"unit": LIDU, "item": "额温枪", "min_position": sup.head()},
            headers=auth(HC),
        )
    )
    assert [
        (r["unit"], r["item"], r["on_hand"], r["reserved"], r["available"]) for r in stock["rows"]
    ] == [(LIDU, "额温枪", 10, 10, 0)]
    # Each winner wrote its hand-down and its reservation, the losers nothing.
    assert sup.head() == before + 2 * 10
    reserved = [
        e.event.incident_id
        for e in sup.services.store.read_stream(DISTRICT, ledger_stream(LIDU))
        if e.type == "SuppliesReserved"
    ]
    won = {orders[i] for i, r in enumerate(responses) if r.status_code == 200}
    assert sorted(reserved) == sorted(won)
