"""The supplies reads over HTTP: catalogue, stock within the token's subtree, reconciliation
(and its CLI, before and after tampering and a rebuild), the public list of donations without a
token (匿名, never a phone), pleas, shortages and transfers; out of scope is a 404 like any
other read's.

The app here has the catalogue and nothing in stock (not the fixture's plenty); the ledgers are
written through the handlers, the orders through HTTP, at a test clock in February 2020.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib
from click.testing import CliRunner
from clock import Clock
from flask import Flask
from supplies import ADMIN, seed_catalogue

from coordination.api.app import create_app
from coordination.bootstrap import Services
from coordination.cli import main
from coordination.config import Config
from coordination.domain.commands import (
    CloseNeed,
    DispatchTransfer,
    PostNeed,
    ReceiveDonation,
    ReceiveTransfer,
)
from coordination.domain.values import Cash, Contact, Donor, DonorKind, Earmark, Line
from coordination.store import keys

SHANGHAI = ZoneInfo("Asia/Shanghai")
DISTRICT = "gangwen"
CHENQIAO = "gangwen/chenqiao"
LIDU = "gangwen/chenqiao/lidu"
HUAQIAO = "gangwen/chenqiao/huaqiao"
HC = "handler@gangwen/chenqiao"
HB = "handler@gangwen/binjiang"
FL = "field@gangwen/chenqiao/lidu"
FH = "field@gangwen/chenqiao/huaqiao"
PHONE = "13700001111"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2020, 2, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def clock() -> Clock:
    return Clock(at(2, 9))


@pytest.fixture
def app(redis_url: str, redis: redis_lib.Redis, clock: Clock) -> Flask:
    """The application with the catalogue and empty ledgers (this module's own)."""
    application = create_app(Config(redis_url=redis_url), redis=redis, clock=clock)
    application.config["TESTING"] = True
    seed_catalogue(application.extensions["coordination"])
    return application


@pytest.fixture
def svc(app: Flask) -> Services:
    found: Services = app.extensions["coordination"]
    return found


Get = Callable[..., Any]


@pytest.fixture
def get(client: Any, auth: Callable[[str], dict[str, str]], svc: Services) -> Get:
    """get(as_, url, **query): the projections caught up first; ``as_=None`` sends no token."""

    def run(as_: str | None, url: str, **query: Any) -> Any:
        svc.projector.catch_up(DISTRICT)
        headers = auth(as_) if as_ else {}
        return client.get(url, query_string=query, headers=headers)

    return run


def ok(response: Any) -> Any:
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True))
    return response.get_json()


def donate(svc: Services, unit: str, donor: Donor, *lines: Line, cash: Cash | None = None) -> str:
    command = ReceiveDonation(unit, donor, "物资保障组", items=lines, cash=cash)
    receipt: str = svc.supplies.execute(ADMIN, unit, command).event.receipt
    return receipt


def stocked(svc: Services, clock: Clock, http: Any) -> dict[str, str]:
    """陈桥街道 receives masks and cash, passes masks to 丽都 (received) and 花桥 (on the
    road); a delivery at 丽都 is handed down (reserving 50); 丽都 pleads for thermometers."""
    did: dict[str, str] = {}
    clock.now = at(4, 10)
    company = Donor(DonorKind.COMPANY, "某公司党支部", contact=Contact("李经理", "13900002222"))
    cash = Cash(15_000_000, (Earmark("支援武汉医护人员", 8_000_000),))
    did["masks"] = donate(svc, CHENQIAO, company, Line("口罩", 1000), cash=cash)
    clock.now = at(6, 11)
    someone = Donor(DonorKind.INDIVIDUAL, "张某", anonymous=True, contact=Contact("张某", PHONE))
    did["anonymous"] = donate(svc, CHENQIAO, someone, Line("额温枪", 11))
    clock.now = at(6, 15)
    for name, to, n in (("to lidu", LIDU, 300), ("to huaqiao", HUAQIAO, 200)):
        sent = svc.supplies.execute(ADMIN, CHENQIAO, DispatchTransfer(to, (Line("口罩", n),)))
        did[name] = sent.event.transfer_id
    svc.supplies.receive(ADMIN, ReceiveTransfer(did["to lidu"]))
    clock.now = at(6, 16)
    body = {
        "kind": "supply_delivery",
        "title": "居家隔离户送口罩",
        "place": "丽都",
        "address": "丽都花园3栋201室",
        "reporter": {"name": "张三", "phone": "13812345678"},
        "items": [{"item": "口罩", "quantity": 50}],
    }
    incident = http.ok(http.report("dispatcher@gangwen", body), 201)["id"]
    http.ok(http.act(HC, incident, "sign-for", {}))
    http.ok(http.act(HC, incident, "hand-down", {}))
    clock.now = at(6, 17)
    plea = PostNeed((Line("额温枪", 5), Line("口罩", 400)), "居家隔离户多")
    did["need"] = svc.supplies.execute(ADMIN, LIDU, plea).event.need_id
    return did


def test_the_catalogue_with_counting_units(get: Get) -> None:
    items = ok(get("viewer@gangwen", "/supplies/catalogue"))["items"]
    assert {"name": "额温枪", "category": "temperature", "unit": "把"} in items
    assert [i["name"] for i in items] == sorted(i["name"] for i in items)
    assert get(None, "/supplies/catalogue").status_code == 401


def test_stock_in_the_subtree_reserved_and_in_transit(
    get: Get, svc: Services, clock: Clock, http: Any, expect_error: Any
) -> None:
    stocked(svc, clock, http)
    body = ok(get(HC, "/supplies/stock"))
    assert body["unit"] == CHENQIAO and body["position"] == svc.store.head(DISTRICT)
    rows = {(r["unit"], r["item"]): r for r in body["rows"]}
    assert list(rows) == [(CHENQIAO, "口罩"), (CHENQIAO, "额温枪"), (LIDU, "口罩")]
    assert rows[CHENQIAO, "口罩"] == {
        "unit": CHENQIAO,
        "name": "陈桥街道",
        "item": "口罩",
        "measure": "个",
        "on_hand": 500,
        "reserved": 0,
        "available": 500,
        "in_transit": 200,
    }
    lidu = rows[LIDU, "口罩"]
    assert (lidu["on_hand"], lidu["reserved"], lidu["available"], lidu["name"]) == (
        300,
        50,
        250,
        "丽都社区",
    )
    # A field token reads its own community by default; one item; an unknown one is a 422.
    mine = ok(get(FL, "/supplies/stock"))["rows"]
    assert [(r["unit"], r["item"]) for r in mine] == [(LIDU, "口罩")]
    only = ok(get(HC, "/supplies/stock", item="额温枪"))["rows"]
    assert [(r["unit"], r["on_hand"], r["measure"]) for r in only] == [(CHENQIAO, 11, "把")]
    error = expect_error(get(HC, "/supplies/stock", item="额温"), 422, "item")
    assert "额温枪" in error["message"]


def test_a_community_cannot_read_a_siblings_stock(
    get: Get, svc: Services, clock: Clock, http: Any, expect_error: Any
) -> None:
    stocked(svc, clock, http)
    sibling = get(FL, "/supplies/stock", unit=HUAQIAO)
    other_read = get(FL, f"/units/{HUAQIAO}/queue")
    expect_error(sibling, 404)
    assert (sibling.status_code, sibling.get_json()) == (
        other_read.status_code,
        other_read.get_json(),
    )
    for url in ("/supplies/reconciliation", "/supplies/needs", "/supplies/shortages"):
        expect_error(get(FL, url, unit=HUAQIAO), 404)
        expect_error(get(HB, url, unit=CHENQIAO), 404)
        expect_error(get(HC, url, unit="nowhere"), 404)
    expect_error(get(FL, "/supplies/transfers", unit=CHENQIAO), 404)
    assert get(None, "/supplies/stock").status_code == 401
    assert get(None, "/supplies/reconciliation").status_code == 401


def test_the_reconciliation_and_its_cli_before_and_after_tampering(
    get: Get,
    svc: Services,
    clock: Clock,
    http: Any,
    redis: redis_lib.Redis,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stocked(svc, clock, http)
    books = ok(get("admin@gangwen", "/supplies/reconciliation"))
    assert (books["unit"], books["name"], books["balanced"], books["differences"]) == (
        DISTRICT,
        "港闻区",
        True,
        [],
    )
    totals = {t["item"]: t for t in books["totals"]}
    masks = totals["口罩"]
    assert (masks["donated"], masks["on_hand"], masks["reserved"], masks["in_transit"]) == (
        1000,
        800,
        50,
        200,
    )
    assert (masks["booked"], masks["held"], masks["difference"]) == (1000, 1000, 0)
    assert books["cash_total"] == {
        "unit": DISTRICT,
        "name": "港闻区",
        "cash_fen": 15_000_000,
        "earmarked": {"支援武汉医护人员": 8_000_000},
    }
    assert {r["unit"] for r in books["rows"]} == {CHENQIAO, LIDU}
    lidu_only = ok(get(FL, "/supplies/reconciliation"))
    assert {r["unit"] for r in lidu_only["rows"]} == {LIDU}

    monkeypatch.setenv("REDIS_URL", redis_url)
    runner = CliRunner()
    as_json = runner.invoke(main, ["supplies", "reconcile", "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == books
    text = runner.invoke(main, ["supplies", "reconcile", "--unit", CHENQIAO])
    assert text.exit_code == 0, text.output
    assert "balanced" in text.output.splitlines()[-1]
    assert "口罩 (个): donated 1000" in text.output and "¥150,000.00" in text.output

    # A ledger key tampered with: the API and the CLI name the unit and item.
    key = keys.supply_ledger(DISTRICT, keys.current_generation(redis, DISTRICT), LIDU)
    data = json.loads(redis.get(key))
    data["stock"]["口罩"]["on_hand"] -= 3
    redis.set(key, json.dumps(data, ensure_ascii=False))
    wrong = ok(get("admin@gangwen", "/supplies/reconciliation"))
    assert wrong["balanced"] is False
    assert [(d["unit"], d["name"], d["item"], d["difference"]) for d in wrong["differences"]] == [
        (LIDU, "丽都社区", "口罩", 3)
    ]
    unbalanced = runner.invoke(main, ["supplies", "reconcile"])
    assert unbalanced.exit_code == 1
    assert "NOT BALANCED" in unbalanced.output and "丽都社区" in unbalanced.output

    rebuilt = runner.invoke(main, ["projections", "rebuild", "--partition", DISTRICT])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert ok(get("admin@gangwen", "/supplies/reconciliation")) == books
    again = runner.invoke(main, ["supplies", "reconcile", "--json", "--district", DISTRICT])
    assert again.exit_code == 0 and json.loads(again.stdout) == books
    bad = runner.invoke(main, ["supplies", "reconcile", "--unit", "nowhere"])
    assert bad.exit_code != 0


def test_the_public_list_needs_no_token_and_shows_no_contact(
    get: Get, svc: Services, clock: Clock, http: Any, client: Any
) -> None:
    did = stocked(svc, clock, http)
    response = get(None, "/supplies/donations/public")
    page = ok(response)
    text = response.get_data(as_text=True)
    assert PHONE not in text and "13900002222" not in text and "李经理" not in text
    assert "张某" not in text
    assert [d["receipt"] for d in page["items"]] == [did["anonymous"], did["masks"]]
    anonymous, company = page["items"]
    assert anonymous == {
        "receipt": did["anonymous"],
        "donor": "匿名",
        "donor_kind": "individual",
        "to": {"unit": CHENQIAO, "name": "陈桥街道"},
        "items": [{"item": "额温枪", "quantity": 11, "measure": "把"}],
        "cash_fen": 0,
        "earmarks": [],
        "received_at": "2020-02-06T11:00:00+08:00",
        "corrected": False,
    }
    assert (company["donor"], company["donor_kind"], company["cash_fen"]) == (
        "某公司党支部",
        "company",
        15_000_000,
    )
    assert company["earmarks"] == [{"purpose": "支援武汉医护人员", "amount_fen": 8_000_000}]
    assert page["next_cursor"] is None

    first = ok(get(None, "/supplies/donations/public", limit=1))
    assert [d["receipt"] for d in first["items"]] == [did["anonymous"]]
    rest = ok(get(None, "/supplies/donations/public", limit=1, cursor=first["next_cursor"]))
    assert [d["receipt"] for d in rest["items"]] == [did["masks"]]
    bad = get(None, "/supplies/donations/public", cursor="not-a-cursor")
    assert bad.status_code == 422 and "cursor" in bad.get_json()["errors"]["query"]


def test_pleas_shortages_and_transfers(get: Get, svc: Services, clock: Clock, http: Any) -> None:
    did = stocked(svc, clock, http)
    needs = ok(get(HC, "/supplies/needs"))["needs"]
    assert needs == [
        {
            "need_id": did["need"],
            "unit": LIDU,
            "name": "丽都社区",
            "status": "open",
            "note": "居家隔离户多",
            "reason": "",
            "items": [
                {"item": "额温枪", "quantity": 5, "measure": "把"},
                {"item": "口罩", "quantity": 400, "measure": "个"},
            ],
            "remaining": [
                {"item": "额温枪", "quantity": 5, "measure": "把"},
                {"item": "口罩", "quantity": 400, "measure": "个"},
            ],
        }
    ]
    shortages = ok(get(FL, "/supplies/shortages"))["rows"]
    assert [(r["item"], r["needed"], r["available"], r["short"]) for r in shortages] == [
        ("口罩", 400, 250, 150),
        ("额温枪", 5, 0, 5),
    ]
    # The masks on the road to 花桥 are listed there as in transit; 丽都 sees its own.
    to_huaqiao = ok(get(FH, "/supplies/transfers"))["transfers"]
    assert [(t["transfer_id"], t["in_transit"], t["from_name"]) for t in to_huaqiao] == [
        (did["to huaqiao"], True, "陈桥街道")
    ]
    assert to_huaqiao[0]["received_at"] is None
    assert to_huaqiao[0]["dispatched_at"] == "2020-02-06T15:00:00+08:00"
    at_lidu = ok(get(FL, "/supplies/transfers"))["transfers"]
    assert [(t["transfer_id"], t["in_transit"], t["received"]) for t in at_lidu] == [
        (did["to lidu"], False, [{"item": "口罩", "quantity": 300, "measure": "个"}])
    ]
    assert len(ok(get(HC, "/supplies/transfers"))["transfers"]) == 2

    clock.now = at(7, 9)
    svc.supplies.execute(ADMIN, LIDU, CloseNeed(did["need"], "街道已调拨"))
    assert ok(get(HC, "/supplies/needs"))["needs"] == []
    closed = ok(get(HC, "/supplies/needs", status="closed"))["needs"]
    assert [(n["need_id"], n["reason"]) for n in closed] == [(did["need"], "街道已调拨")]
    assert len(ok(get(HC, "/supplies/needs", status="all"))["needs"]) == 1
    assert ok(get(FL, "/supplies/shortages"))["rows"] == []
    assert get(HC, "/supplies/needs", status="lost").status_code == 422
