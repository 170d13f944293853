"""The district's own record of supplies, 2月2日 to 2月7日, replayed through HTTP end to end.

Donations to a community, the district CDC and a street; a street's plea and the parcel that
meets it; a cash gift with earmarks; transfers down to 丽都社区 (one arriving short); a delivery
to a household under home quarantine that an untrained cadre may not claim and a trained one
does; then the reconciliation balances, the public list shows what came from whom, and each
day's report counts what came in and went out. Every read is at the position its write reached,
from the projections a real RQ worker keeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_lib
from clock import Clock
from flask import Flask
from people import ADMIN, CHENQIAO, DISTRICT, HC, LIDU, Api, D, at

from coordination.api.app import create_app
from coordination.config import Config

HUAQIAO = "gangwen/chenqiao/huaqiao"
GONGYUAN = "gangwen/chenqiao/gongyuan"
CDC = "gangwen/cdc"
PHONE = "13912345678"

CATALOGUE = [
    ("纸巾", "daily_needs", "箱"),
    ("防护服", "protection", "件"),
    ("84消毒液", "disinfection", "斤"),
    ("84消毒液(桶装)", "disinfection", "桶"),
    ("额温枪", "temperature", "把"),
    ("口罩", "protection", "个"),
    ("医用酒精", "disinfection", "桶"),
]


@pytest.fixture
def clock() -> Clock:
    return Clock(at(2020, 2, 2, 9, 0))


@pytest.fixture
def app(redis_url: str, redis: redis_lib.Redis, clock: Clock) -> Flask:
    """A district with nothing in stock and no catalogue yet: the story brings both."""
    application = create_app(Config(redis_url=redis_url), redis=redis, clock=clock)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def api(app: Flask, tokens: dict[str, str], worker: Any) -> Iterator[Api]:
    yield Api(app, tokens)


def lines(*pairs: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"item": item, "quantity": n} for item, n in pairs]


def donor(kind: str, name: str = "", anonymous: bool = False) -> dict[str, Any]:
    found: dict[str, Any] = {"kind": kind, "contact": {"name": "联系人", "phone": PHONE}}
    if anonymous:
        found["anonymous"] = True
    else:
        found["name"] = name
    return found


def test_the_districts_record_from_donor_to_doorstep(
    api: Api, clock: Clock, register_staff: Any, expect_error: Any
) -> None:
    for name, category, unit in CATALOGUE:
        body = {"name": name, "category": category, "unit": unit}
        api.ok(api.post(ADMIN, "/supplies/catalogue", body), 201)

    def donate(as_: str, unit: str, giver: dict[str, Any], **rest: Any) -> dict[str, Any]:
        body = {"unit": unit, "donor": giver, "received_by": "物资保障组 张强", **rest}
        written: dict[str, Any] = api.ok(api.post(as_, "/supplies/donations", body), 201)
        return written

    # 2月2日: a company's party branch brings two boxes of tissues to 花桥社区 for its lifts.
    tissues = donate(HC, HUAQIAO, donor("organisation", "某公司党支部"), items=lines(("纸巾", 2)))
    assert tissues["receipt"] == "JZ-gangwen.chenqiao.huaqiao-0001"
    # 2月3日: 1,200 protective suits to the district CDC.
    clock.now = at(2020, 2, 3, 10, 0)
    donate(ADMIN, CDC, donor("company", "某生物实验室"), items=lines(("防护服", 1200)))
    # 2月4日: a charity gives 1,040 斤 of 84 disinfectant for 公园社区.
    clock.now = at(2020, 2, 4, 11, 0)
    donate(HC, GONGYUAN, donor("organisation", "某慈善会"), items=lines(("84消毒液", 1040)))
    # 2月4日 evening: 陈桥街道's supplies team posts a plea.
    clock.now = at(2020, 2, 4, 20, 30)
    plea = api.ok(
        api.post(
            HC,
            "/supplies/needs",
            {
                "unit": CHENQIAO,
                "items": lines(("额温枪", 10), ("口罩", 1000)),
                "note": "物资保障组求助",
            },
        ),
        201,
    )
    # 2月5日: 5 barrels of medical alcohol to 陈桥街道, and ¥150,000 in cash, earmarked.
    clock.now = at(2020, 2, 5, 9, 0)
    donate(HC, CHENQIAO, donor("company", "某医药公司"), items=lines(("医用酒精", 5)))
    cash = {
        "amount_fen": 15_000_000,
        "earmarks": [
            {"purpose": "支援武汉医护人员", "amount_fen": 8_000_000},
            {"purpose": "区一线防护物资采购", "amount_fen": 7_000_000},
        ],
    }
    donate(HC, CHENQIAO, donor("company", "某企业"), cash=cash)
    # 2月6日: the parcel from 200 km away: 11 thermometers and 1,000 masks; it meets the plea.
    clock.now = at(2020, 2, 6, 14, 0)
    parcel = donate(
        HC,
        CHENQIAO,
        donor("individual", anonymous=True),
        items=lines(("额温枪", 11), ("口罩", 1000)),
    )
    needs = api.ok(
        api.get(HC, "/supplies/needs", unit=CHENQIAO, status="all", min_position=parcel["position"])
    )
    [met] = [n for n in needs["needs"] if n["need_id"] == plea["need_id"]]
    assert met["status"] == "met" and met["remaining"] == []
    # 2月6日: a supermarket gives 6 barrels of 84 disinfectant to 丽都社区.
    donate(HC, LIDU, donor("company", "某超市"), items=lines(("84消毒液(桶装)", 6)))

    # The street passes thermometers and masks down to 丽都社区; 10 masks are lost on the way.
    clock.now = at(2020, 2, 6, 16, 0)
    sent = api.ok(
        api.post(
            HC,
            "/supplies/transfers",
            {"from_unit": CHENQIAO, "to_unit": LIDU, "items": lines(("额温枪", 3), ("口罩", 300))},
        ),
        201,
    )
    in_transit = api.ok(
        api.get(HC, "/supplies/stock", unit=CHENQIAO, item="口罩", min_position=sent["position"])
    )
    [street_masks] = [r for r in in_transit["rows"] if r["unit"] == CHENQIAO]
    assert (street_masks["on_hand"], street_masks["in_transit"]) == (700, 300)
    clock.now = at(2020, 2, 6, 17, 0)
    short = {"received": lines(("额温枪", 3), ("口罩", 290)), "loss_reason": "运输途中破损"}
    received = api.ok(
        api.post(HC, f"/supplies/transfers/{sent['transfer_id']}/receipt", short), 201
    )

    # 2月7日: a delivery to a household under home quarantine at 丽都: risky work.
    clock.now = at(2020, 2, 7, 8, 0)
    for staff_id, name, trained in (("li.gang", "李刚", False), ("wang.fang", "王芳", True)):
        register_staff(staff_id, LIDU, name, quarantine_trained=trained)
        api.field_token(staff_id)
    order = api.report(
        {
            "kind": "supply_delivery",
            "title": "居家隔离户需要额温枪和口罩",
            "place": "丽都",
            "address": "丽都花园5栋302",
            "reporter": {"name": "赵女士", "phone": "13800001111"},
            "epidemic": True,
            "home_quarantine": True,
            "items": lines(("额温枪", 1), ("口罩", 20)),
        }
    )
    assert order["incident"]["risky"] is True
    api.act(HC, order["id"], "sign-for")
    handed = api.act(HC, order["id"], "hand-down", {"community": LIDU})
    stock = api.ok(
        api.get(HC, "/supplies/stock", unit=LIDU, item="额温枪", min_position=handed["position"])
    )
    assert [(r["on_hand"], r["reserved"], r["available"]) for r in stock["rows"]] == [(3, 1, 2)]
    refused = expect_error(api.post("li.gang", f"/incidents/{order['id']}/claim"), 422, "holder")
    assert "trained" in refused["message"] and "李刚" in refused["message"]
    claimed = api.ok(api.post("wang.fang", f"/incidents/{order['id']}/claim"))
    assert claimed["incident"]["holder"] == "wang.fang"
    clock.now = at(2020, 2, 7, 9, 30)
    done = api.act(
        "wang.fang",
        order["id"],
        "resolve",
        {"summary": "已送到门口，未接触", "signed_off_by": "丽都社区书记"},
    )

    # The books balance, per unit and for the district, and say where everything is.
    books = api.ok(
        api.get(ADMIN, "/supplies/reconciliation", unit=DISTRICT, min_position=done["position"])
    )
    assert books["balanced"] is True and books["differences"] == []
    rows = {(r["unit"], r["item"]): r for r in books["rows"]}
    lidu = rows[(LIDU, "额温枪")]
    assert (lidu["transferred_in"], lidu["issued"], lidu["on_hand"], lidu["reserved"]) == (
        3,
        1,
        2,
        0,
    )
    street = rows[(CHENQIAO, "口罩")]
    assert (street["donated"], street["transferred_out"], street["written_off"]) == (1000, 290, 10)
    assert street["on_hand"] == 700 and street["in_transit"] == 0
    totals = {r["item"]: r for r in books["totals"]}
    assert totals["口罩"]["on_hand"] == 700 + 290 - 20
    assert totals["防护服"]["on_hand"] == 1200
    assert books["cash_total"]["cash_fen"] == 15_000_000
    assert books["cash_total"]["earmarked"] == {
        "支援武汉医护人员": 8_000_000,
        "区一线防护物资采购": 7_000_000,
    }

    # The public list (捐赠公示): who gave what to whom and when, newest first, no contacts.
    public = api.client.get("/supplies/donations/public")
    assert public.status_code == 200
    assert PHONE not in public.get_data(as_text=True)
    listed = public.get_json()["items"]
    assert [d["receipt"] for d in listed][-1] == tissues["receipt"]
    assert len(listed) == 7
    by_receipt = {d["receipt"]: d for d in listed}
    assert by_receipt[parcel["receipt"]]["donor"] == "匿名"
    assert by_receipt[tissues["receipt"]]["donor"] == "某公司党支部"
    assert by_receipt[tissues["receipt"]]["to"]["unit"] == HUAQIAO
    assert by_receipt[tissues["receipt"]]["items"] == [
        {"item": "纸巾", "quantity": 2, "measure": "箱"}
    ]

    # Each day's report counts the donations that day and what went out to households.
    feb6 = api.ok(api.get(D, "/reports/daily", district=DISTRICT, date="2020-02-06"))
    units6 = {s["unit"]: s for s in feb6["supplies"]}
    assert units6[CHENQIAO]["donations"]["count"] == 1
    assert units6[LIDU]["donations"]["count"] == 1
    feb7 = api.ok(api.get(D, "/reports/daily", district=DISTRICT, date="2020-02-07"))
    issued = {s["unit"]: s["issued"] for s in feb7["supplies"]}
    assert sorted((i["item"], i["quantity"]) for i in issued[LIDU]) == [("口罩", 20), ("额温枪", 1)]
    assert received["position"] < done["position"]
