"""Time and people, end to end: deadlines on the real calendar and their breaches escalated one
level up (督办), return visits that close or reopen, staff and their duty shifts kept by their
units' handlers, night duty coverage, night emergencies sent to whoever is on duty (or escalated
at once), quarantine visits only for the trained, daily counts, and a calendar year the package
lacks.

Everything goes through the Flask test client of an application whose clock the test moves
(no sleeping for time); a REAL RQ worker subprocess projects every append (the catch-up job a
write enqueues), and each read asks for the position its write reached (``min_position``). The
deadline watch is run here, at the application's clock, as the periodic tick runs it.

Deadlines are worked out by hand from the chinese-calendar package's 2026 schedule: National
Day closes 2026-10-01..10-07, Saturday 10-10 is worked instead; 2026-03-02..06 and 03-09..13
are ordinary working weeks. A deadline is the end of a day: the midnight that starts the next.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis as redis_lib
from clock import Clock
from flask import Flask
from people import (
    ADMIN,
    BINJIANG,
    CHENQIAO,
    DISTRICT,
    FL,
    GONGYUAN,
    HB,
    HC,
    HUAQIAO,
    LIDU,
    RESOLVE,
    VIEWER,
    YONGHE,
    Api,
    D,
    at,
    interval,
    iso,
    make_app,
    member_body,
    of_type,
    report_body,
)
from worker import RqWorker

from coordination.domain.deadlines import DeadlineKind
from coordination.projections.views import View

# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock(at(2026, 3, 2, 9, 0))  # a Monday


@pytest.fixture
def app(redis_url: str, redis: redis_lib.Redis, clock: Clock) -> Flask:
    """The application on the session's emptied server, reading the test's clock (this
    overrides conftest's ``app``, so its ``tokens`` are made here too)."""
    return make_app(redis_url, redis, clock)


@pytest.fixture
def api(app: Flask, tokens: dict[str, str]) -> Api:
    return Api(app, tokens)


def view_of(api: Api, incident_id: str, min_position: int) -> View:
    """The incident's view as the worker projected it (the read model the API serves)."""
    found = api.services.reads.incident(DISTRICT, incident_id, min_position)
    assert found is not None, incident_id
    return found


def deadlines_of(event: dict[str, Any]) -> dict[str, Any]:
    """The deadlines an IncidentDispatched or IncidentReopened carries, as the API shows them."""
    assert event["type"] in ("IncidentDispatched", "IncidentReopened"), event
    deadlines: dict[str, Any] = event["data"]["deadlines"]
    return deadlines


# --- 1. a breach on the real calendar, escalated to the district ----------------------------


def test_an_unsigned_order_breaches_after_the_holiday_and_is_flagged_in_the_districts_queue(
    api: Api, worker: RqWorker, clock: Clock
) -> None:
    clock.now = at(2026, 9, 30, 10, 0)  # the Wednesday before National Day
    ordinary = api.report(report_body("work_order", title="普通工单"))["id"]
    epidemic = api.report(report_body("work_order", title="疫情工单", epidemic=True))["id"]
    (dispatched,) = of_type(api.events(D, ordinary), "IncidentDispatched")
    assert dispatched["data"]["unit"] == CHENQIAO
    # Signed for within one working day: the first after 09-30 is 10-08 (10-01..07 closed).
    # Resolved within five: 10-08, 10-09, 10-10 (a worked Saturday), 10-12, 10-13.
    assert deadlines_of(dispatched) == {
        "sign_by": "2026-10-09T00:00:00+08:00",
        "claim_by": None,
        "resolve_by": "2026-10-14T00:00:00+08:00",
        "fallback": False,
    }
    (same_day,) = of_type(api.events(D, epidemic), "IncidentDispatched")
    assert deadlines_of(same_day) == {  # 疫情工单不过夜: signed for and resolved the same day
        "sign_by": "2026-10-01T00:00:00+08:00",
        "claim_by": None,
        "resolve_by": "2026-10-01T00:00:00+08:00",
        "fallback": False,
    }

    clock.now = at(2026, 9, 30, 23, 59)
    assert api.watch(api.head()) == 0
    clock.now = at(2026, 10, 1, 0, 1)
    assert api.watch(api.head()) == 2  # the epidemic order's sign_by and resolve_by
    clock.now = at(2026, 10, 8, 23, 59)  # a whole holiday later, the ordinary one is not late
    assert api.watch(api.head()) == 0
    clock.now = at(2026, 10, 9, 0, 1)
    assert api.watch(api.head()) == 1

    events = api.events(ADMIN, ordinary)
    breached = of_type(events, "DeadlineBreached", "IncidentEscalated")
    assert [(e["type"], e["actor"], e["data"]) for e in breached] == [
        (
            "DeadlineBreached",
            "system:deadline-watch",
            {"deadline": "sign_by", "due_at": "2026-10-09T00:00:00+08:00", "unit": CHENQIAO},
        ),
        (
            "IncidentEscalated",
            "system:deadline-watch",
            {"from_unit": CHENQIAO, "to_unit": DISTRICT, "deadline": "sign_by", "reason": ""},
        ),
    ]
    same_day_breaches = of_type(api.events(D, epidemic), "DeadlineBreached")
    assert sorted(e["data"]["deadline"] for e in same_day_breaches) == ["resolve_by", "sign_by"]

    p = api.head()
    # Flagged in the district's queue (督办) ...
    assert {item["id"] for item in api.queue(D, DISTRICT, p)} == {ordinary, epidemic}
    district = api.summary(D, DISTRICT, p)
    assert district["by_state"] == {"escalated": 2}
    assert district["by_state_and_kind"] == {"escalated": {"work_order": 2}}
    # ... while the street's queue still lists it, with its breached deadline.
    at_street = {item["id"]: item for item in api.queue(HC, CHENQIAO, p)}
    assert set(at_street) == {ordinary, epidemic}
    assert (at_street[ordinary]["status"], at_street[ordinary]["queue_unit"]) == (
        "dispatched",
        CHENQIAO,
    )
    assert api.summary(HC, CHENQIAO, p)["by_state"] == {"dispatched": 2}
    found = api.incident(HC, ordinary, p)
    assert (found["status"], found["unit"], found["version"]) == ("dispatched", CHENQIAO, 4)
    # IncidentSchema does not serialize breached, escalated_to, deadlines or on_duty, so the
    # API's JSON lacks them: they are checked in the read model that GET serves from.
    view = view_of(api, ordinary, p).incident
    assert view.breached == (DeadlineKind.SIGN,)
    assert view.escalated_to == DISTRICT
    assert iso(view.deadlines.sign_by) == "2026-10-09T00:00:00+08:00"  # type: ignore[arg-type]

    # Run twice, nothing more: the breach is recorded and the running deadline is gone.
    assert api.watch(p) == 0
    assert api.head() == p


# --- 2. return visits -----------------------------------------------------------------------


def test_an_unsatisfied_return_visit_reopens_at_the_community_with_fresh_deadlines(
    api: Api, worker: RqWorker, clock: Clock
) -> None:
    clock.now = at(2026, 3, 2, 10, 0)
    reopened_id = api.handed_down(report_body("work_order", title="回访不满意"))["id"]
    satisfied_id = api.handed_down(report_body("work_order", title="回访满意"))["id"]
    basic_id = api.handed_down(report_body("work_order", title="回访基本满意"))["id"]
    (first,) = of_type(api.events(D, reopened_id), "IncidentDispatched")
    assert deadlines_of(first)["resolve_by"] == "2026-03-10T00:00:00+08:00"  # 03-03..06, 03-09

    clock.now = at(2026, 3, 3, 15, 0)
    for incident_id in (reopened_id, satisfied_id, basic_id):
        resolved = api.act(HC, incident_id, "resolve", RESOLVE)
        assert resolved["incident"]["status"] == "resolved"
    p = resolved["position"]
    assert {i["id"] for i in api.queue(D, DISTRICT, p)} == {reopened_id, satisfied_id, basic_id}

    clock.now = at(2026, 3, 4, 10, 0)  # Wednesday
    for incident_id, result in ((satisfied_id, "satisfied"), (basic_id, "basically_satisfied")):
        closed = api.act(D, incident_id, "return-visit", {"result": result})
        assert (closed["incident"]["status"], closed["incident"]["satisfaction"]) == (
            "closed",
            result,
        )
    written = api.act(D, reopened_id, "return-visit", {"result": "unsatisfied", "note": "没人来"})
    incident = written["incident"]
    assert (incident["status"], incident["unit"], incident["reopened"]) == (
        "handed_down",
        LIDU,
        1,
    )
    assert incident["satisfaction"] is None and incident["resolution"] == ""
    visit, reopen = api.events(D, reopened_id)[-2:]
    assert (visit["type"], visit["data"]) == (
        "ReturnVisitRecorded",
        {"result": "unsatisfied", "note": "没人来"},
    )
    assert (reopen["type"], reopen["data"]["unit"], reopen["data"]["level"]) == (
        "IncidentReopened",
        LIDU,
        "community",
    )
    # A fresh clock from Wednesday: 03-05, 03-06, 03-09, 03-10, 03-11.
    assert deadlines_of(reopen) == {
        "sign_by": None,
        "claim_by": None,
        "resolve_by": "2026-03-12T00:00:00+08:00",
        "fallback": False,
    }

    p = written["position"]
    lidu = api.queue(FL, LIDU, p)
    assert [(i["id"], i["status"]) for i in lidu] == [(reopened_id, "handed_down")]
    assert api.queue(D, DISTRICT, p) == []  # none awaits a call-back any more
    assert api.summary(FL, LIDU, p)["by_state"] == {"handed_down": 1}
    view = view_of(api, reopened_id, p).incident
    assert view.deadlines.resolve_by == at(2026, 3, 12)
    assert view.deadlines.resolve_by > at(2026, 3, 10)  # later than before

    # The fresh deadline is the one watched: not due on the old one, due after the new one.
    clock.now = at(2026, 3, 10, 0, 1)
    assert api.watch(p) == 0
    clock.now = at(2026, 3, 12, 0, 1)
    assert api.watch(p) == 1
    (escalated,) = of_type(api.events(D, reopened_id), "IncidentEscalated")
    assert escalated["data"] == {
        "from_unit": LIDU,
        "to_unit": CHENQIAO,
        "deadline": "resolve_by",
        "reason": "",
    }
    assert api.summary(HC, CHENQIAO, api.head())["by_state"] == {"escalated": 1}


# --- 3. staff, kept by their unit's handlers -------------------------------------------------


def test_a_street_handler_keeps_a_community_volunteer_and_others_cannot(
    api: Api, worker: RqWorker, clock: Clock, expect_error: Callable[..., Any]
) -> None:
    clock.now = at(2026, 3, 2, 15, 0)
    body = member_body("wang.fang", "王芳", LIDU, "volunteer", party_member=True)
    registered = api.register(body)
    assert registered["id"] == "wang.fang" and registered["version"] == 1
    assert registered["member"] == {
        "id": "wang.fang",
        "name": "王芳",
        "unit": LIDU,
        "kind": "volunteer",
        "party_member": True,
        "quarantine_trained": False,
        "active": True,
        "shifts": [],
        "version": 1,
    }

    profile = {**body, "name": "王芳芳", "quarantine_trained": True}
    profile.pop("staff_id")
    updated = api.ok(api.post(HC, "/staff/wang.fang/profile", profile))
    assert updated["version"] == 2
    assert (updated["member"]["name"], updated["member"]["quarantine_trained"]) == ("王芳芳", True)

    start, end = at(2026, 3, 2, 22), at(2026, 3, 3, 6)
    scheduled = api.schedule("wang.fang", "night-0302", start, end)
    assert scheduled["member"]["shifts"] == [
        {"shift_id": "night-0302", "unit": LIDU, "start": iso(start), "end": iso(end)}
    ]
    cancelled = api.ok(
        api.post(HC, "/staff/wang.fang/shifts/night-0302/cancel", {"reason": "家中有事"})
    )
    assert cancelled["member"]["shifts"] == [] and cancelled["version"] == 4

    found = api.ok(api.get(HC, "/staff/wang.fang"))
    assert (found["name"], found["version"], found["active"]) == ("王芳芳", 4, True)
    listed = api.staff_of(HC, LIDU, cancelled["position"])
    assert [(m["id"], m["name"], m["active"]) for m in listed] == [("wang.fang", "王芳芳", True)]
    assert api.staff_of(D, LIDU, cancelled["position"]) == listed  # the district sees it too
    assert api.staff_of(HC, HUAQIAO, cancelled["position"]) == []  # only lidu's own

    # Another street's handler: the member, and chenqiao's units, do not exist for them.
    expect_error(api.get(HB, "/staff/wang.fang"), 404)
    expect_error(api.post(HB, "/staff/wang.fang/profile", {**profile, "unit": BINJIANG}), 404)
    expect_error(
        api.post(HB, "/staff/wang.fang/deactivate", {"reason": "越权"}),
        404,
    )
    expect_error(api.post(HB, "/staff", member_body("li.si", "李四", LIDU)), 404)
    expect_error(api.post(HB, "/staff", member_body("li.si", "李四", CHENQIAO)), 404)
    expect_error(api.get(HB, f"/units/{LIDU}/staff"), 404)
    # A field token and a viewer may read but not keep staff.
    expect_error(api.post(FL, "/staff", member_body("li.si", "李四", LIDU)), 403, "role")
    expect_error(api.post(VIEWER, "/staff", member_body("li.si", "李四", LIDU)), 403, "role")
    expect_error(api.post(FL, "/staff/wang.fang/deactivate", {"reason": "x"}), 403, "role")
    # The binjiang handler keeps its own street's staff.
    api.register(member_body("li.si", "李四", "gangwen/binjiang/wanghai"), as_=HB)

    deactivated = api.ok(api.post(HC, "/staff/wang.fang/deactivate", {"reason": "返乡"}))
    assert deactivated["member"]["active"] is False and deactivated["version"] == 5
    listed = api.staff_of(HC, LIDU, deactivated["position"])
    assert [(m["id"], m["active"]) for m in listed] == [("wang.fang", False)]
    shift = {"shift_id": "n2", "start": iso(at(2026, 3, 3, 22)), "end": iso(at(2026, 3, 4, 6))}
    refused = expect_error(api.post(HC, "/staff/wang.fang/shifts", shift), 422, "state")
    assert "deactivated" in refused["message"], refused


def test_bad_staff_input_is_a_422_naming_the_field_and_writes_nothing(
    api: Api,
    clock: Clock,
    expect_error: Callable[..., Any],
    log_len: Callable[[], tuple[int, int]],
) -> None:
    clock.now = at(2026, 3, 2, 15, 0)
    api.register(member_body("zhou.li", "周丽", LIDU, "cadre"))
    api.schedule("zhou.li", "night-1", at(2026, 3, 2, 22), at(2026, 3, 3, 6))
    before = log_len()

    def shift(start: str, end: str, shift_id: str = "night-2") -> Any:
        return api.post(
            HC, "/staff/zhou.li/shifts", {"shift_id": shift_id, "start": start, "end": end}
        )

    cases = [
        (api.post(HC, "/staff", member_body("x.y", "某某", "gangwen/chenqiao/nowhere")), "unit"),
        (api.post(ADMIN, "/staff", member_body("x.y", "某某", DISTRICT)), "unit"),
        (api.post(HC, "/staff", member_body("X Y", "某某", LIDU)), "staff_id"),
        (api.post(HC, "/staff", {**member_body("x.y", "某某", LIDU), "kind": "boss"}), "kind"),
        (api.post(HC, "/staff", member_body("x.y", " ", LIDU)), "name"),
        (shift("2026-03-03T22:00:00", "2026-03-04T06:00:00+08:00"), "start"),  # naive
        (shift("2026-03-03T22:00:00+08:00", "2026-03-04T06:00:00"), "end"),  # naive
        (shift("2026-03-03T22:00:00+08:00", "2026-03-03T21:00:00+08:00"), "end"),  # before
        (shift("2026-03-03T22:00:00+08:00", "2026-03-05T06:00:00+08:00"), "end"),  # > 24 h
        (shift("2026-03-01T22:00:00+08:00", "2026-03-02T06:00:00+08:00"), "end"),  # past
        (shift("2026-03-03T05:00:00+08:00", "2026-03-03T09:00:00+08:00"), "start"),  # overlap
        (api.post(HC, "/staff/zhou.li/shifts/none/cancel", {}), "shift_id"),
        (api.post(HC, "/staff/zhou.li/deactivate", {"reason": ""}), "reason"),
    ]
    for n, (response, field) in enumerate(cases):
        assert response.status_code == 422, (n, response.get_json())
        expect_error(response, 422, field)
    overlap = cases[10][0].get_json()
    assert "overlaps shift night-1" in overlap["message"], overlap
    again = shift("2026-03-03T22:00:00+08:00", "2026-03-04T06:00:00+08:00", "night-1")
    expect_error(again, 409, "shift_id")  # that shift id is taken
    expect_error(api.post(HC, "/staff", member_body("zhou.li", "周丽", LIDU)), 409)
    assert log_len() == before, "a refused command wrote nothing"


# --- 4. night duty ------------------------------------------------------------------------


def test_duty_coverage_of_the_coming_night_shows_each_communitys_gaps(
    api: Api, worker: RqWorker, clock: Clock, expect_error: Callable[..., Any]
) -> None:
    clock.now = at(2026, 3, 2, 15, 0)
    api.register(member_body("zhou.li", "周丽", LIDU, "cadre"))
    api.schedule("zhou.li", "night-0302", at(2026, 3, 2, 22), at(2026, 3, 3, 6))
    # Someone at huaqiao had a shift, but was deactivated: it covers nothing.
    api.register(member_body("sun.hua", "孙华", HUAQIAO, "volunteer"))
    api.schedule("sun.hua", "night-0302", at(2026, 3, 2, 18), at(2026, 3, 3, 8))
    p = api.ok(api.post(HC, "/staff/sun.hua/deactivate", {"reason": "隔离中"}))["position"]

    duty = api.duty(HC, CHENQIAO, p, night="2026-03-02")
    night = (at(2026, 3, 2, 18), at(2026, 3, 3, 8))
    assert (duty["night_start"], duty["night_end"]) == (iso(night[0]), iso(night[1]))
    by_unit = {c["unit"]: c for c in duty["communities"]}
    assert list(by_unit) == sorted([GONGYUAN, HUAQIAO, LIDU, YONGHE])
    assert by_unit[LIDU] == {
        "unit": LIDU,
        "name": "丽都社区",
        "on_duty_now": [],
        "covered": [interval(at(2026, 3, 2, 22), at(2026, 3, 3, 6))],
        "gaps": [
            interval(at(2026, 3, 2, 18), at(2026, 3, 2, 22)),
            interval(at(2026, 3, 3, 6), at(2026, 3, 3, 8)),
        ],
        "complete": False,
    }
    for unit in (HUAQIAO, GONGYUAN, YONGHE):
        assert by_unit[unit]["covered"] == [], unit
        assert by_unit[unit]["gaps"] == [interval(*night)], unit
        assert by_unit[unit]["complete"] is False, unit

    # Who is on duty now, tonight; and the night is complete once the gaps are filled.
    api.register(member_body("wu.an", "吴安", LIDU, "volunteer"))
    api.schedule("wu.an", "evening", at(2026, 3, 2, 18), at(2026, 3, 2, 22, 30))
    p = api.schedule("wu.an", "morning", at(2026, 3, 3, 5), at(2026, 3, 3, 8))["position"]
    clock.now = at(2026, 3, 2, 22, 15)
    duty = api.duty(FL, LIDU, p)  # tonight, by default
    (lidu,) = duty["communities"]
    assert lidu["on_duty_now"] == ["wu.an", "zhou.li"]
    assert (lidu["covered"], lidu["gaps"], lidu["complete"]) == ([interval(*night)], [], True)
    expect_error(api.get(HB, f"/units/{CHENQIAO}/duty"), 404)
    expect_error(api.get(HC, f"/units/{CHENQIAO}/duty", night="tonight"), 422, "night")


# --- 5. night emergencies -----------------------------------------------------------------


def test_a_night_emergency_goes_to_whoever_is_on_duty_or_to_the_street_at_once(
    api: Api, worker: RqWorker, clock: Clock
) -> None:
    clock.now = at(2026, 3, 2, 21, 0)
    api.register(member_body("zhou.li", "周丽", LIDU, "cadre"))
    api.schedule("zhou.li", "night-0302", at(2026, 3, 2, 22), at(2026, 3, 3, 6))
    urgent = api.handed_down(report_body("work_order", priority="urgent", title="紧急工单"))
    api.staff_of(HC, LIDU, urgent["position"])  # the roster is projected before the call comes

    clock.now = at(2026, 3, 2, 23, 10)
    sent = api.report(report_body("night_emergency", place="丽都花园", title="体温计打碎了"))
    assert (sent["incident"]["status"], sent["incident"]["unit"]) == ("handed_down", LIDU)
    events = api.events(D, sent["id"])
    assert [e["type"] for e in events] == ["IncidentReported", "IncidentDispatched"]
    dispatched = events[1]["data"]
    assert (dispatched["unit"], dispatched["level"], dispatched["on_duty"]) == (
        LIDU,
        "community",
        ["zhou.li"],
    )
    assert dispatched["deadlines"] == {
        "sign_by": None,
        "claim_by": "2026-03-02T23:25:00+08:00",
        "resolve_by": "2026-03-03T01:10:00+08:00",
        "fallback": False,
    }
    p = sent["position"]
    assert [i["id"] for i in api.queue(FL, LIDU, p)] == [sent["id"], urgent["id"]]
    assert "escalated" not in api.summary(HC, CHENQIAO, p)["by_state"]

    nobody = api.report(report_body("night_emergency", place="花桥", title="老人摔倒"))
    events = api.events(D, nobody["id"])
    assert [e["type"] for e in events] == [
        "IncidentReported",
        "IncidentDispatched",
        "IncidentEscalated",
    ]
    assert events[1]["data"]["on_duty"] == []
    assert events[2]["data"] == {
        "from_unit": HUAQIAO,
        "to_unit": CHENQIAO,
        "deadline": None,
        "reason": "nobody on duty",
    }
    p = nobody["position"]
    assert nobody["id"] in {i["id"] for i in api.queue(HC, CHENQIAO, p)}
    street = api.summary(HC, CHENQIAO, p)
    assert street["by_state_and_kind"] == {"escalated": {"night_emergency": 1}}
    assert [i["id"] for i in api.queue(HC, HUAQIAO, p)] == [nobody["id"]]
    assert view_of(api, nobody["id"], p).incident.escalated_to == CHENQIAO

    # The one on duty claims in time (the claim records who); the other's claim_by passes.
    clock.now = at(2026, 3, 2, 23, 20)
    secret_holder = api.field_token("zhou.li")
    claimed = api.ok(api.post(secret_holder, f"/incidents/{sent['id']}/claim"))
    assert claimed["incident"]["holder"] == "zhou.li"
    clock.now = at(2026, 3, 2, 23, 26)
    assert api.watch(claimed["position"]) == 1
    (breach,) = of_type(api.events(D, nobody["id"]), "DeadlineBreached")
    assert breach["data"] == {
        "deadline": "claim_by",
        "due_at": "2026-03-02T23:25:00+08:00",
        "unit": HUAQIAO,
    }
    assert of_type(api.events(D, sent["id"]), "DeadlineBreached") == []


# --- 6. risky work ------------------------------------------------------------------------


def test_only_trained_staff_take_quarantine_visits_and_a_colleague_may_take_one_over(
    api: Api, worker: RqWorker, clock: Clock, expect_error: Callable[..., Any]
) -> None:
    clock.now = at(2026, 3, 2, 10, 0)
    api.register(member_body("li.gang", "李刚", LIDU, "cadre", trained=False))
    api.register(member_body("wang.fang", "王芳", LIDU, "volunteer", trained=True))
    api.register(member_body("zhao.min", "赵敏", LIDU, "volunteer", trained=True))
    untrained, first, second = (api.field_token(s) for s in ("li.gang", "wang.fang", "zhao.min"))
    visit = api.handed_down(report_body("quarantine_visit", priority="urgent"))["id"]
    order = api.handed_down(report_body("work_order"))
    p = order["position"]
    assert [i["id"] for i in api.queue(HC, LIDU, p)] == [visit, order["id"]]

    refused = expect_error(api.post(untrained, f"/incidents/{visit}/claim"), 422, "holder")
    assert "quarantine visit needs someone trained" in refused["message"], refused
    assert "李刚" in refused["message"], refused
    stranger = expect_error(api.post(FL, f"/incidents/{visit}/claim"), 422, "holder")
    assert stranger["message"] == "not a registered staff member", stranger

    # claim-next passes over the visit this member may not take, to the next order.
    nxt = api.ok(api.post(untrained, f"/units/{LIDU}/queue/claim-next", {}))
    assert (nxt["id"], nxt["incident"]["holder"]) == (order["id"], "li.gang")
    assert api.post(untrained, f"/units/{LIDU}/queue/claim-next", {}).status_code == 204

    claimed = api.ok(api.post(first, f"/incidents/{visit}/claim"))
    assert (claimed["incident"]["status"], claimed["incident"]["holder"]) == (
        "claimed",
        "wang.fang",
    )
    expect_error(api.post(untrained, f"/incidents/{visit}/take-over"), 422, "holder")
    expect_error(api.post(first, f"/incidents/{visit}/take-over"), 422, "holder")  # hers already
    expect_error(api.post(second, f"/incidents/{order['id']}/take-over"), 422, "kind")

    clock.now = at(2026, 3, 2, 10, 5)
    taken = api.ok(api.post(second, f"/incidents/{visit}/take-over"))
    assert (taken["incident"]["status"], taken["incident"]["holder"]) == ("claimed", "zhao.min")
    assert taken["incident"]["lease_expires_at"] == "2026-03-02T10:35:00+08:00"
    (over,) = of_type(api.events(HC, visit), "ClaimTakenOver")
    assert (over["actor"], over["data"]["from_holder"], over["data"]["holder"]) == (
        "zhao.min",
        "wang.fang",
        "zhao.min",
    )
    p = taken["position"]
    assert api.assignments(first, p) == []
    assert api.assignments(second, p) == [visit]
    assert api.assignments(untrained, p) == [order["id"]]
    assert [(i["id"], i["holder"]) for i in api.queue(HC, LIDU, p)] == [
        (visit, "zhao.min"),
        (order["id"], "li.gang"),
    ]

    # Training can be given; deactivation takes every claim away.
    profile = {"name": "李刚", "unit": LIDU, "kind": "cadre", "quarantine_trained": True}
    api.ok(api.post(HC, "/staff/li.gang/profile", profile))
    api.ok(api.post(HC, "/staff/zhao.min/deactivate", {"reason": "返乡"}))
    expect_error(api.post(second, f"/incidents/{visit}/take-over"), 401)  # her token is revoked
    back = api.ok(api.post(untrained, f"/incidents/{visit}/take-over"))
    assert back["incident"]["holder"] == "li.gang"
    assert sorted(api.assignments(untrained, back["position"])) == sorted([visit, order["id"]])


# --- 7. a year the calendar lacks -----------------------------------------------------------


def test_a_year_the_calendar_lacks_is_a_warning_and_its_deadlines_are_marked_fallback(
    redis_url: str, redis: redis_lib.Redis, tokens: dict[str, str]
) -> None:
    known = make_app(redis_url, redis, Clock(at(2025, 6, 1, 12)))
    health = known.test_client().get("/healthz")
    assert health.status_code == 200
    assert (health.get_json()["status"], health.get_json()["warnings"]) == ("ok", [])

    clock = Clock(at(2026, 11, 29, 12))
    api = Api(make_app(redis_url, redis, clock), tokens)
    health = api.client.get("/healthz")
    assert health.status_code == 200, health.get_data(True)
    body = health.get_json()
    assert (body["status"], body["redis"]) == ("warning", "ok")
    (warning,) = body["warnings"]
    assert "2027" in warning and "[years.2027]" in warning, warning

    clock.now = at(2026, 11, 30, 10)  # Monday: every deadline within 2026
    in_2026 = api.report(report_body("work_order"))["id"]
    (dispatched,) = of_type(api.events(D, in_2026), "IncidentDispatched")
    assert deadlines_of(dispatched) == {
        "sign_by": "2026-12-02T00:00:00+08:00",
        "claim_by": None,
        "resolve_by": "2026-12-08T00:00:00+08:00",
        "fallback": False,
    }

    clock.now = at(2026, 12, 31, 10)  # Thursday: the deadlines fall in 2027
    in_2027 = api.report(report_body("work_order"))["id"]
    (dispatched,) = of_type(api.events(D, in_2027), "IncidentDispatched")
    # Weekends only: Friday 2027-01-01 counts as a working day; then 01-04 .. 01-07.
    assert deadlines_of(dispatched) == {
        "sign_by": "2027-01-02T00:00:00+08:00",
        "claim_by": None,
        "resolve_by": "2027-01-08T00:00:00+08:00",
        "fallback": True,
    }
    assert api.client.get("/healthz").get_json()["status"] == "warning"


# --- 8. daily counts ------------------------------------------------------------------------


def test_the_days_counts_by_unit_kind_and_metric(
    api: Api, worker: RqWorker, clock: Clock, expect_error: Callable[..., Any]
) -> None:
    clock.now = at(2026, 3, 2, 9, 0)
    delivery = api.report(report_body("supply_delivery", epidemic=True))["id"]  # -> chenqiao
    api.report(report_body("work_order", place="望海", title="望海投诉"))  # -> binjiang
    clock.now = at(2026, 3, 2, 10, 0)
    api.act(HC, delivery, "sign-for")
    api.act(HC, delivery, "hand-down")
    clock.now = at(2026, 3, 2, 16, 0)
    p = api.act(HC, delivery, "resolve", RESOLVE)["position"]
    clock.now = at(2026, 3, 2, 17, 0)
    p = api.act(D, delivery, "return-visit", {"result": "basically_satisfied"})["position"]

    monday = {
        CHENQIAO: {"supply_delivery": {"reported": 1, "epidemic": 1, "signed_on_time": 1}},
        LIDU: {"supply_delivery": {"resolved_on_time": 1, "visit_basically_satisfied": 1}},
        BINJIANG: {"work_order": {"reported": 1}},
    }
    assert api.stats(D, DISTRICT, "2026-03-02", p) == monday
    assert api.stats(HC, CHENQIAO, "2026-03-02", p) == {k: monday[k] for k in (CHENQIAO, LIDU)}
    assert api.stats(FL, LIDU, "2026-03-02", p) == {LIDU: monday[LIDU]}
    assert api.stats(D, DISTRICT, "2026-03-03", p) == {}

    clock.now = at(2026, 3, 4, 0, 30)  # binjiang did not sign for it by the end of Tuesday
    assert api.watch(p) == 1
    p = api.head()
    assert api.stats(D, DISTRICT, "2026-03-04", p) == {
        BINJIANG: {"work_order": {"breached_sign_by": 1, "escalated": 1}}
    }
    assert api.stats(D, DISTRICT, "2026-03-02", p) == monday
    expect_error(api.get(HB, f"/units/{CHENQIAO}/stats", date="2026-03-02"), 404)
    expect_error(api.get(D, f"/units/{DISTRICT}/stats", date="03/02/2026"), 422, "date")
    expect_error(api.get(D, f"/units/{DISTRICT}/stats"), 422, "date")


# --- 9. the tick on the worker ----------------------------------------------------------------


def test_the_periodic_tick_on_the_worker_records_breaches_once(
    api: Api, worker: RqWorker, clock: Clock
) -> None:
    """The tick job (catch up, expire leases, watch deadlines, catch up) on the real worker, at
    the worker's own clock (the real one), for an order whose deadlines passed long ago."""
    clock.now = at(2021, 3, 1, 10, 0)  # a Monday of 2021: the report is written then
    old = api.report(report_body("work_order", title="2021年的工单"))["id"]
    (dispatched,) = of_type(api.events(D, old), "IncidentDispatched")
    assert deadlines_of(dispatched)["sign_by"] == "2021-03-03T00:00:00+08:00"

    job = worker.queue.enqueue("workers.jobs.tick", result_ttl=60, failure_ttl=3600)
    worker.wait_for(job)
    done = job.return_value()
    assert (done[DISTRICT]["breached"], done[DISTRICT]["expired"]) == (2, 0), done
    again = worker.queue.enqueue("workers.jobs.tick", result_ttl=60, failure_ttl=3600)
    worker.wait_for(again)
    assert again.return_value()[DISTRICT] == {"applied": 0, "expired": 0, "breached": 0}

    breaches = of_type(api.events(D, old), "DeadlineBreached")
    assert [(b["actor"], b["data"]["deadline"]) for b in breaches] == [
        ("system:deadline-watch", "sign_by"),
        ("system:deadline-watch", "resolve_by"),
    ]
    assert api.summary(D, DISTRICT, api.head())["by_state"] == {"escalated": 1}
