"""Repeated calls (重复件) through HTTP: a call linked to the open order it repeats records one
more caller and counts in the day's figures as a call, not as an order; linking is refused for a
closed order and across districts; before filing, the intake desk reads the possible duplicates
(open orders at the same place about the same thing, the caller's own earlier orders) and place
names to pick from."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from clock import Clock
from flask import Flask
from people import (
    ADMIN,
    CHENQIAO,
    HB,
    HC,
    RESOLVE,
    VIEWER,
    Api,
    D,
    at,
    make_app,
    report_body,
)
from units import two_districts_tree

from coordination.api.app import create_app
from coordination.config import Config
from coordination.domain.access import Role

FL = "field@gangwen/chenqiao/lidu"
CALLER = {"name": "赵先生", "phone": "13700001111"}
OTHER = {"name": "钱女士", "phone": "136 0000 2222"}
TODAY = "2026-03-02"


@pytest.fixture
def clock() -> Clock:
    return Clock(at(2026, 3, 2, 9, 0))


@pytest.fixture
def app(redis_url: str, redis: redis_lib.Redis, clock: Clock) -> Flask:
    return make_app(redis_url, redis, clock)


@pytest.fixture
def api(app: Flask, tokens: dict[str, str]) -> Api:
    return Api(app, tokens)


def projected(api: Api) -> int:
    """Do the catch-up job's work now (no worker runs here); the position reads then ask for."""
    api.services.projector.catch_up("gangwen")
    return api.head()


def link(api: Api, incident_id: str, body: Any, as_: str = D, **headers: str) -> Any:
    return api.client.post(
        f"/incidents/{incident_id}/link-call",
        json=body,
        headers={**api.headers(as_), **headers},
    )


def test_a_linked_call_records_one_more_caller_and_its_event(
    api: Api, clock: Clock, log_len: Callable[..., tuple[int, int]]
) -> None:
    order = api.report(report_body("work_order", place="丽都花园"))
    clock.advance(minutes=5)
    body = {"caller": CALLER, "place": "丽都", "note": "同一门禁问题"}
    first = link(api, order["id"], body, **{"If-Match": '"2"', "Idempotency-Key": "call-0043"})
    written = api.ok(first)
    assert first.headers["ETag"] == '"3"'
    assert (written["version"], written["incident"]["status"]) == (3, "dispatched")
    assert written["incident"]["callers"] == [CALLER]
    assert written["incident"]["reporter"] == {"name": "张三", "phone": "13812345678"}
    moved = log_len()
    again = link(api, order["id"], body, **{"If-Match": '"2"', "Idempotency-Key": "call-0043"})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert api.ok(again)["version"] == 3 and log_len() == moved  # nothing written twice

    stale = link(api, order["id"], {"caller": OTHER}, **{"If-Match": '"2"'})
    assert stale.status_code == 409 and stale.headers["ETag"] == '"3"'
    assert log_len() == moved
    api.ok(link(api, order["id"], {"caller": OTHER, "expected_version": 3}))

    seen = api.incident(VIEWER, order["id"], projected(api))
    assert seen["callers"] == [
        {"name": "赵**", "phone": "137****1111"},
        {"name": "钱**", "phone": "136******2222"},
    ]
    assert api.incident(D, order["id"], projected(api))["callers"] == [CALLER, OTHER]
    events = api.events(VIEWER, order["id"])
    assert [e["type"] for e in events] == [
        "IncidentReported",
        "IncidentDispatched",
        "DuplicateCallLinked",
        "DuplicateCallLinked",
    ]
    assert events[2]["data"] == {
        "caller": {"name": "赵**", "phone": "137****1111"},
        "place": "丽都",
        "note": "同一门禁问题",
    }
    assert events[2]["actor"] == D
    assert api.events(D, order["id"])[2]["data"]["caller"] == CALLER


def test_a_closed_order_takes_no_call_and_nothing_is_written(
    api: Api, log_len: Callable[..., tuple[int, int]], expect_error: Any
) -> None:
    order = api.report(report_body("work_order"))
    api.act(HC, order["id"], "sign-for")
    api.act(HC, order["id"], "resolve", RESOLVE)
    resolved = link(api, order["id"], {"caller": CALLER})
    assert api.ok(resolved)["incident"]["status"] == "resolved"  # open until closed
    api.act(D, order["id"], "return-visit", {"result": "satisfied"})
    before = log_len()
    error = expect_error(link(api, order["id"], {"caller": OTHER}), 422, "state")
    assert error["message"] == "cannot link a call to an incident that is closed"
    assert log_len() == before


def test_who_may_link_a_call(
    api: Api, log_len: Callable[..., tuple[int, int]], expect_error: Any
) -> None:
    order = api.report(report_body("work_order"))["id"]
    before = log_len()
    for as_ in (HC, VIEWER):
        error = expect_error(link(api, order, {"caller": CALLER}, as_), 403, "role")
        assert "may not link a call to an order" in error["message"]
    for as_ in (HB, FL):  # another street's order; not yet handed down to this community
        expect_error(link(api, order, {"caller": CALLER}, as_), 404)
    expect_error(link(api, "gangwen-20260302-000000000000", {"caller": CALLER}), 404)
    assert log_len() == before
    api.ok(link(api, order, {"caller": CALLER}, ADMIN))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "caller"),
        ({"caller": {"name": "赵先生"}}, "caller.phone"),
        ({"caller": {"name": "赵先生", "phone": "call me"}}, "caller.phone"),
        ({"caller": {"name": "", "phone": "13700001111"}}, "caller.name"),
        ({"caller": CALLER, "place": "丽" * 101}, "place"),
        ({"caller": CALLER, "place": "月亮湾"}, "place"),
        ({"caller": CALLER, "note": "长" * 1001}, "note"),
        ({"caller": CALLER, "expected_version": "2"}, "expected_version"),
        ({"caller": CALLER, "who": "x"}, "who"),
        ({"caller": "赵先生"}, "caller"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    api: Api,
    log_len: Callable[..., tuple[int, int]],
    expect_error: Any,
    body: dict[str, Any],
    field: str,
) -> None:
    order = api.report(report_body("work_order"))["id"]
    before = log_len()
    expect_error(link(api, order, body), 422, field)
    assert log_len() == before


def test_the_days_report_counts_calls_and_orders_apart(api: Api, clock: Clock) -> None:
    first = api.report(report_body("work_order", epidemic=True))["id"]
    api.report(report_body("supply_delivery", place="望海"))
    for caller in (CALLER, OTHER):
        clock.advance(minutes=10)
        api.ok(link(api, first, {"caller": caller}))
    clock.advance(hours=1)
    report = api.ok(api.get(D, "/reports/daily", date=TODAY, min_position=projected(api)))
    total = report["total"]
    assert (total["reported"], total["calls"], total["linked_calls"]) == (2, 4, 2)
    assert total["epidemic_share"] == 0.5  # a share of orders, not of calls
    units = {row["unit"]: row for row in report["by_unit"]}
    chenqiao, binjiang = units[CHENQIAO], units["gangwen/binjiang"]
    assert (chenqiao["reported"], chenqiao["calls"], chenqiao["linked_calls"]) == (1, 3, 2)
    assert (binjiang["reported"], binjiang["calls"], binjiang["linked_calls"]) == (1, 1, 0)
    kinds = {row["kind"]: row for row in report["by_kind"]}
    assert (kinds["work_order"]["calls"], kinds["supply_delivery"]["calls"]) == (3, 1)

    as_csv = api.get(D, "/reports/daily.csv", date=TODAY)
    rows = list(csv.DictReader(io.StringIO(as_csv.data.decode("utf-8-sig"))))
    total_row = next(r for r in rows if r["section"] == "total")
    assert (total_row["reported"], total_row["calls"], total_row["linked_calls"]) == ("2", "4", "2")
    dashboard = api.ok(api.get(D, f"/dashboard/units/{CHENQIAO}", min_position=projected(api)))
    assert dashboard["own"]["total"]["calls"] == 3
    assert dashboard["own"]["total"]["reported"] == 1


@pytest.fixture
def two_districts(tmp_path: Path) -> Path:
    """The demo district and a neighbour, 海西区 (``units.two_districts_tree``), on disk."""
    tree = two_districts_tree()
    path = tmp_path / "units.json"
    path.write_text(json.dumps(tree, ensure_ascii=False), encoding="utf-8")
    return path


def test_linking_is_refused_across_districts(
    redis_url: str,
    redis: redis_lib.Redis,
    two_districts: Path,
    expect_error: Any,
) -> None:
    app = create_app(Config(redis_url=redis_url, units_file=two_districts), redis=redis)
    store = app.extensions["coordination"].tokens
    secrets = {
        label: store.create(role, unit, label)[0]
        for label, role, unit in (
            ("dispatcher@gangwen", Role.DISPATCHER, "gangwen"),
            ("dispatcher@haixi", Role.DISPATCHER, "haixi"),
        )
    }
    api = Api(app, secrets)
    ours = api.report(report_body("work_order"))["id"]
    theirs = api.report(report_body("work_order", place="兰亭花园"), as_="dispatcher@haixi")["id"]
    assert theirs.startswith("haixi-")
    heads = (api.services.store.head("gangwen"), api.services.store.head("haixi"))
    error = expect_error(link(api, ours, {"caller": CALLER, "place": "兰亭花园"}), 422, "place")
    assert "haixi" in error["message"] and "gangwen" in error["message"]
    # Another district's order does not exist for this dispatcher, nor ours for theirs.
    expect_error(link(api, theirs, {"caller": CALLER}), 404)
    expect_error(link(api, ours, {"caller": CALLER}, "dispatcher@haixi"), 404)
    assert (api.services.store.head("gangwen"), api.services.store.head("haixi")) == heads
    api.ok(link(api, theirs, {"caller": CALLER, "place": "兰亭花园"}, "dispatcher@haixi"))


def duplicates(api: Api, as_: str = D, **query: Any) -> Any:
    return api.get(as_, "/incidents/possible-duplicates", **query)


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def test_possible_duplicates_are_open_orders_at_the_place_and_the_callers_own(
    api: Api, clock: Clock
) -> None:
    caller = {"name": "赵先生", "phone": "13700001111"}

    def report(minutes: int, kind: str = "work_order", **overrides: Any) -> str:
        clock.now = at(2026, 3, 2, 9, minutes)
        return str(api.report(report_body(kind, **overrides))["id"])

    clock.now = at(2026, 2, 20, 9, 0)
    old = str(api.report(report_body("work_order", place="丽都花园"))["id"])  # 10 days ago
    gate = report(1, place="丽都花园")
    same_unit = report(2, place="丽都")  # another name of the same community
    done = report(3, place="丽都", reporter=caller)
    api.act(HC, done, "sign-for")
    api.act(HC, done, "resolve", RESOLVE)
    api.act(D, done, "return-visit", {"result": "satisfied"})
    report(4, place="丽都", category="consultation")  # about something else
    report(5, "supply_delivery", place="丽都")
    report(6, place="望海")
    theirs = report(7, place="望海", reporter=caller)
    linked = report(8, place="花桥")
    clock.now = at(2026, 3, 2, 9, 9)
    api.ok(link(api, linked, {"caller": {"name": "赵", "phone": "137-0000-1111"}}))
    clock.now = at(2026, 3, 2, 10, 0)

    found = api.ok(
        duplicates(
            api,
            place="丽都花园",
            kind="work_order",
            category="complaint",
            phone="137 0000 1111",
            min_position=projected(api),
        )
    )
    assert found["place_unit"] == "gangwen/chenqiao/lidu"
    assert ids(found["same_place"]) == [same_unit, gate]  # open, latest first; not the old one
    assert ids(found["same_caller"]) == [linked, theirs, done]  # closed ones too
    assert found["same_place"][0]["reporter"] == {"name": "张三", "phone": "13812345678"}
    assert found["position"] == api.head()

    wider = api.ok(duplicates(api, place="丽都", kind="work_order", days=30))
    assert ids(wider["same_place"])[-1] == old and wider["same_caller"] == []
    any_category = api.ok(duplicates(api, place="丽都", kind="work_order"))
    assert len(any_category["same_place"]) == 3  # the consultation too
    kind = api.ok(duplicates(api, place="丽都", kind="supply_delivery"))
    assert len(kind["same_place"]) == 1


def test_possible_duplicates_refusals(api: Api, expect_error: Any) -> None:
    for as_ in (HC, FL, VIEWER):
        expect_error(duplicates(api, as_, place="丽都", kind="work_order"), 403, "role")
    expect_error(duplicates(api, place="月亮湾", kind="work_order"), 422, "place")
    expect_error(duplicates(api, place="丽都"), 422, "kind")
    expect_error(duplicates(api, kind="work_order"), 422, "place")
    expect_error(duplicates(api, place="丽都", kind="noise"), 422, "kind")
    expect_error(duplicates(api, place="丽都", kind="work_order", phone="x"), 422, "phone")
    expect_error(duplicates(api, place="丽都", kind="work_order", days=0), 422, "days")
    expect_error(duplicates(api, place="丽都", kind="work_order", days=31), 422, "days")
    store = api.services.tokens
    api.secrets["d@binjiang"] = store.create(Role.DISPATCHER, "gangwen/binjiang", "d@binjiang")[0]
    expect_error(duplicates(api, "d@binjiang", place="丽都", kind="work_order"), 403, "place")


def test_place_names_are_suggested_within_the_callers_unit(api: Api, expect_error: Any) -> None:
    found = api.ok(api.get(D, "/places", q="丽都"))
    assert found["places"] == [
        {
            "place": "丽都",
            "unit": "gangwen/chenqiao/lidu",
            "unit_name": "丽都社区",
            "handling_unit": CHENQIAO,
            "handling_unit_name": "陈桥街道",
        },
        {
            "place": "丽都花园",
            "unit": "gangwen/chenqiao/lidu",
            "unit_name": "丽都社区",
            "handling_unit": CHENQIAO,
            "handling_unit_name": "陈桥街道",
        },
    ]
    assert [p["place"] for p in api.ok(api.get(HB, "/places", q="望"))["places"]] == [
        "望海",
        "望海苑",
    ]
    assert api.ok(api.get(HB, "/places", q="丽都"))["places"] == []  # another street's
    assert len(api.ok(api.get(D, "/places", q="港", limit=1))["places"]) == 1
    expect_error(api.get(D, "/places"), 422, "q")
    expect_error(api.get(D, "/places", q="丽", limit=0), 422, "limit")
    expect_error(api.client.get("/places", query_string={"q": "丽"}), 401)


def test_me_says_who_the_token_is(api: Api) -> None:
    me = api.ok(api.get(HC, "/me"))
    assert me == {
        "subject": HC,
        "role": "handler",
        "unit": CHENQIAO,
        "unit_name": "陈桥街道",
        "level": "street",
        "district": "gangwen",
        "staff_id": "",
        "actions": me["actions"],
    }
    assert "sign_for" in me["actions"] and "link_call" not in me["actions"]
    assert "link_call" in api.ok(api.get(D, "/me"))["actions"]
