"""The unit dashboard end to end: a hand-worked Monday at 陈桥 and 滨江, written through the API
at an injected clock and projected by a REAL RQ worker (each read asks for the log's head),
then read as figures per unit, subtree and kind; and its scope.

Monday 2026-03-02 (a working day; an epidemic order is done by 03-03 00:00):

  09:00  A  epidemic work order at 丽都 -> chenqiao; signed 09:10 (600 s); handed down to lidu
  09:30  B  epidemic supply delivery at 丽都 -> chenqiao; signed 10:30 (3600 s); resolved by
            the street 11:30 (7200 s, on time); called back satisfied 12:00 (closed)
  10:00  C  work order at 丽都 -> chenqiao; left unsigned (due 03-04 00:00)
  10:30  D  quarantine visit at 望海 (epidemic) -> binjiang; signed 10:40 (600 s); resolved
            11:00 (1800 s); called back basically satisfied 12:00 (closed)
  10:45  E  work order at 丽都 -> chenqiao; signed 11:00 (900 s); resolved 11:15 (1800 s);
            called back unsatisfied 11:30: reopened at chenqiao (signed, fresh deadlines)
  20:00  F  epidemic supply delivery at 丽都 -> chenqiao; signed 20:05 (300 s); resolved
            03-03 00:01: one minute late, 14460 s after dispatch, counted on Tuesday
"""

from __future__ import annotations

from typing import Any

import pytest
import redis as redis_lib
from clock import Clock
from flask import Flask
from people import (
    BINJIANG,
    CHENQIAO,
    DISTRICT,
    FL,
    HB,
    HC,
    LIDU,
    RESOLVE,
    VIEWER,
    Api,
    D,
    at,
    make_app,
    report_body,
)
from worker import RqWorker

MONDAY = "2026-03-02"


@pytest.fixture
def clock() -> Clock:
    return Clock(at(2026, 3, 2, 9, 0))


@pytest.fixture
def app(redis_url: str, redis: redis_lib.Redis, clock: Clock) -> Flask:
    return make_app(redis_url, redis, clock)


@pytest.fixture
def api(app: Flask, tokens: dict[str, str]) -> Api:
    return Api(app, tokens)


def monday(api: Api, clock: Clock) -> dict[str, str]:
    """The day above, through the API; the orders' ids by letter."""
    ids: dict[str, str] = {}

    def report(name: str, hour: int, minute: int, body: dict[str, Any]) -> None:
        clock.now = at(2026, 3, 2, hour, minute)
        ids[name] = api.report(body)["id"]

    def act(as_: str, name: str, action: str, when: tuple[int, ...], body: Any = None) -> None:
        clock.now = at(2026, 3, *when)
        api.act(as_, ids[name], action, body)

    report("A", 9, 0, report_body("work_order", epidemic=True))
    act(HC, "A", "sign-for", (2, 9, 10))
    act(HC, "A", "hand-down", (2, 9, 20), {"community": LIDU})
    report("B", 9, 30, report_body("supply_delivery", epidemic=True))
    act(HC, "B", "sign-for", (2, 10, 30))
    act(HC, "B", "resolve", (2, 11, 30), RESOLVE)
    act(D, "B", "return-visit", (2, 12, 0), {"result": "satisfied"})
    report("C", 10, 0, report_body("work_order"))
    report("D", 10, 30, report_body("quarantine_visit", place="望海"))
    act(HB, "D", "sign-for", (2, 10, 40))
    act(HB, "D", "resolve", (2, 11, 0), RESOLVE)
    act(D, "D", "return-visit", (2, 12, 0), {"result": "basically_satisfied"})
    report("E", 10, 45, report_body("work_order"))
    act(HC, "E", "sign-for", (2, 11, 0))
    act(HC, "E", "resolve", (2, 11, 15), RESOLVE)
    act(D, "E", "return-visit", (2, 11, 30), {"result": "unsatisfied"})
    report("F", 20, 0, report_body("supply_delivery", epidemic=True))
    act(HC, "F", "sign-for", (2, 20, 5))
    return ids


def dashboard(api: Api, as_: str, unit: str, **query: Any) -> dict[str, Any]:
    body: dict[str, Any] = api.ok(
        api.get(as_, f"/dashboard/units/{unit}", min_position=api.head(), **query)
    )
    assert body["position"] >= api.head(), body
    return body


def test_a_streets_figures_for_a_day_by_hand(api: Api, worker: RqWorker, clock: Clock) -> None:
    monday(api, clock)
    clock.now = at(2026, 3, 2, 23, 0)
    body = dashboard(api, HC, CHENQIAO)  # the date defaults to today, local time
    assert (body["unit"], body["name"], body["level"]) == (CHENQIAO, "陈桥街道", "street")
    assert (body["date"], body["as_of"]) == (MONDAY, "2026-03-02T23:00:00+08:00")

    subtree = body["subtree"]["total"]
    # Open now, each order once: C unsigned, E reopened (signed), F signed, A at lidu.
    assert subtree["open"] == {
        "total": 4,
        "by_state": {"dispatched": 1, "handed_down": 1, "signed": 2},
    }
    assert body["own"]["total"]["open"]["by_state"] == {"dispatched": 1, "signed": 2}
    assert subtree["overdue"] == 0
    # Reported A B C E F; A B F about the epidemic.
    assert (subtree["reported"], subtree["epidemic"], subtree["epidemic_share"]) == (5, 3, 0.6)
    assert subtree["signed"] == {
        "on_time": 4,
        "late": 0,
        "no_deadline": 0,
        "on_time_rate": 1.0,
        "median_seconds": 600,  # of 300 (F), 600 (A), 900 (E), 3600 (B): rank 2
        "p90_seconds": 3600,
    }
    assert subtree["resolved"] == {
        "on_time": 2,
        "late": 0,
        "no_deadline": 0,
        "on_time_rate": 1.0,
        "median_seconds": 1800,  # E 1800, B 7200
        "p90_seconds": 7200,
    }
    assert subtree["visits"] == {
        "satisfied": 1,
        "basically_satisfied": 0,
        "unsatisfied": 1,
        "total": 2,
        "satisfaction_rate": 0.5,
    }
    assert (subtree["reopened"], subtree["escalated"]) == (1, 0)
    work = body["subtree"]["by_kind"]["work_order"]
    assert (work["reported"], work["epidemic_share"]) == (3, 0.3333)
    quarantine = body["subtree"]["by_kind"]["quarantine_visit"]
    assert quarantine["visits"]["satisfaction_rate"] is None  # no visits: shown as —
    assert quarantine["resolved"]["median_seconds"] is None
    lines = {line["unit"]: line for line in body["units"]}
    assert set(lines) == {
        CHENQIAO,
        *(f"{CHENQIAO}/{c}" for c in ("yonghe", "huaqiao", "gongyuan", "lidu")),
    }
    assert lines[LIDU]["open"]["total"] == 1 and lines[LIDU]["name"] == "丽都社区"

    district = dashboard(api, D, DISTRICT)["subtree"]["total"]
    assert (district["reported"], district["epidemic_share"]) == (6, 0.6666)  # A B D F of 6
    assert district["visits"]["satisfaction_rate"] == 0.6666  # satisfied + basically, of 3


def test_an_order_resolved_a_minute_late_and_overdue_now(
    api: Api, worker: RqWorker, clock: Clock
) -> None:
    ids = monday(api, clock)
    clock.now = at(2026, 3, 3, 0, 1)
    api.act(HC, ids["F"], "resolve", RESOLVE)
    clock.now = at(2026, 3, 3, 0, 30)
    api.watch(api.head())  # A's resolve_by (03-03 00:00) breached, escalated to chenqiao
    body = dashboard(api, HC, CHENQIAO)
    assert body["date"] == "2026-03-03"
    tuesday = body["subtree"]["total"]
    assert tuesday["resolved"] == {
        "on_time": 0,
        "late": 1,
        "no_deadline": 0,
        "on_time_rate": 0.0,
        "median_seconds": 14460,  # 20:00 to 00:01
        "p90_seconds": 14460,
    }
    assert (tuesday["reported"], tuesday["epidemic_share"]) == (0, None)
    assert tuesday["escalated"] == 1 and tuesday["breached"] == 1
    # A, held at lidu, is overdue now; its escalation copy in chenqiao's queue is not counted.
    assert tuesday["overdue"] == 1
    assert tuesday["open"]["by_state"] == {"dispatched": 1, "handed_down": 1, "signed": 1}
    lines = {line["unit"]: line for line in body["units"]}
    assert (lines[LIDU]["overdue"], lines[CHENQIAO]["overdue"]) == (1, 0)
    assert body["own"]["total"]["overdue"] == 0
    assert body["subtree"]["by_kind"]["work_order"]["overdue"] == 1
    # Monday asked for by date: as it was counted then, with the open orders of now.
    asked = dashboard(api, HC, CHENQIAO, date=MONDAY)["subtree"]["total"]
    assert (asked["reported"], asked["resolved"]["on_time"]) == (5, 2)


def test_a_dashboard_outside_ones_subtree_does_not_exist(
    api: Api, clock: Clock, expect_error: Any
) -> None:
    api.services.projector.catch_up(DISTRICT)
    expect_error(api.get(HB, f"/dashboard/units/{CHENQIAO}"), 404)
    expect_error(api.get(FL, f"/dashboard/units/{CHENQIAO}"), 404)
    expect_error(api.get(HC, "/dashboard/units/nowhere"), 404)
    assert api.ok(api.get(FL, f"/dashboard/units/{LIDU}"))["unit"] == LIDU
    assert api.ok(api.get(VIEWER, f"/dashboard/units/{BINJIANG}"))["level"] == "street"
    expect_error(api.get(VIEWER, f"/dashboard/units/{BINJIANG}", date="2026-13-01"), 422, "date")
    assert api.client.get(f"/dashboard/units/{LIDU}").status_code == 401
