"""The deadline watch against a real valkey server: breaches recorded and escalated one level up
(督办) exactly once, even by two watcher processes at once; a re-dispatch clears the flag and
starts fresh deadlines; and the daily counts per unit, kind and metric, by hand.

Time is an injected clock that the test moves; nothing sleeps for it. Deadlines are worked out
by hand on the mainland calendar (the chinese-calendar package's 2026 schedule):

* Monday 2026-03-02 is a working day; so are 03-03 .. 03-06 and 03-09.
* A work order dispatched on 03-02 is signed for by the end of 03-03 (2026-03-04 00:00) and
  resolved within five working days: 03-03, 03-04, 03-05, 03-06, 03-09, so by 2026-03-10 00:00.
* An epidemic order is done the same day: signed for and resolved by the midnight ending it.
* A night emergency at a street is signed for and claimed within 15 minutes, resolved within 2 h.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib
from clock import Clock
from helpers_projection import check_read_models
from supplies import stock_up

from coordination.bootstrap import Services, build_services
from coordination.config import Config
from coordination.domain.access import Actor, Role
from coordination.domain.commands import (
    DispatchIncident,
    HandDown,
    RecordReturnVisit,
    ResolveIncident,
    ReturnIncident,
    SignFor,
)
from coordination.domain.deadlines import DeadlineKind
from coordination.domain.events import DeadlineBreached, IncidentEscalated
from coordination.domain.values import Category, Contact, Kind, Satisfaction, Status, SupplyItem
from coordination.projections.projector import Projector
from coordination.store import keys
from coordination.store.keys import current_generation

P = "gangwen"
DISTRICT = "gangwen"
CHENQIAO = "gangwen/chenqiao"
BINJIANG = "gangwen/binjiang"
KAIFAQU = "gangwen/kaifaqu"
LIDU = "gangwen/chenqiao/lidu"
SHANGHAI = ZoneInfo("Asia/Shanghai")
DISPATCHER = Actor(subject="dispatcher-1", role=Role.DISPATCHER, unit=DISTRICT)
ADMIN = Actor(subject="admin", role=Role.ADMIN, unit=DISTRICT)
REPORTER = Contact("王女士", "13800000000")
OFFICER = "陈桥街道 张主任"

ORDERS = 1_000
# Places of three streets (each a child of the district): 丽都 -> chenqiao, 望海 -> binjiang,
# 新港 -> kaifaqu. Each order is dispatched to the street.
PLACES = [("丽都", CHENQIAO), ("望海", BINJIANG), ("新港", KAIFAQU)]


def at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    """A moment of Beijing time."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def services_at(redis_url: str, redis: redis_lib.Redis, clock: Clock) -> Services:
    svc = build_services(Config(redis_url=redis_url), redis, clock=clock)
    stock_up(svc)  # delivery orders draw on the ledgers
    return svc


def work_order(place: str = "丽都", epidemic: bool = False, title: str = "") -> dict[str, Any]:
    return {
        "kind": Kind.WORK_ORDER,
        "title": title or f"居民投诉 {place}",
        "place": place,
        "reporter": REPORTER,
        "category": Category.COMPLAINT,
        "epidemic": epidemic,
    }


def supply_delivery(place: str = "丽都") -> dict[str, Any]:
    return {
        "kind": Kind.SUPPLY_DELIVERY,
        "title": f"口罩配送 {place}",
        "place": place,
        "reporter": REPORTER,
        "items": (SupplyItem("口罩", 50),),
        "epidemic": True,
    }


def quarantine_visit(place: str = "丽都") -> dict[str, Any]:
    return {
        "kind": Kind.QUARANTINE_VISIT,
        "title": f"隔离上门 {place}",
        "place": place,
        "reporter": REPORTER,
        "person": Contact("李先生", "13900000000"),
        "epidemic": True,
    }


def night_emergency(place: str) -> dict[str, Any]:
    return {
        "kind": Kind.NIGHT_EMERGENCY,
        "title": f"夜间突发 {place}",
        "place": place,
        "reporter": REPORTER,
    }


def events_of(svc: Services, incident_id: str) -> list[Any]:
    return [stored.event for stored in svc.store.read_stream(P, incident_id)]


def breaches_and_escalations(events: list[Any]) -> tuple[list[Any], list[Any]]:
    breached = [e for e in events if isinstance(e, DeadlineBreached)]
    escalated = [e for e in events if isinstance(e, IncidentEscalated)]
    return breached, escalated


def deadline_entries(redis: redis_lib.Redis) -> dict[str, float]:
    """The deadline watch's sorted set in the current generation: ``<id>|<kind>`` -> due."""
    gen = current_generation(redis, P)
    found = redis.zrange(keys.deadlines(P, gen), 0, -1, withscores=True)
    return {member.decode(): score for member, score in found}


# --- 1. two watcher processes, 1,000 overdue orders ---------------------------------------


def watch_in_process(redis_url: str, now_iso: str, barrier: Any, results: Any, name: str) -> None:
    """A watcher of its own (its own services and connections), at the test's clock.

    Runs in a process started with 'spawn': the barrier lets both start their sweep together,
    and each reports its count and when its sweep started and ended (CLOCK_MONOTONIC is one
    clock for every process of the machine)."""
    clock = Clock(datetime.fromisoformat(now_iso))
    # On the cluster when the suite runs there (tests/cluster sets these, and a spawned
    # process inherits the environment).
    cluster = os.environ.get("REDIS_CLUSTER_URL", "")
    config = Config(redis_url=redis_url, redis_cluster_url=cluster, rq_redis_url=redis_url)
    svc = build_services(config, clock=clock)
    svc.reads.snapshot(P)  # connect before the start line
    barrier.wait(timeout=60)
    started = time.monotonic()
    count = svc.watchers.watch_deadlines(P)
    results.put((name, count, started, time.monotonic()))


def test_two_watcher_processes_escalate_each_of_1000_overdue_orders_exactly_once(
    redis_url: str, redis: redis_lib.Redis
) -> None:
    clock = Clock(at(3, 2, 9, 0))  # Monday
    svc = services_at(redis_url, redis, clock)
    ids: dict[str, str] = {}  # id -> the street it was dispatched to
    for n in range(ORDERS):
        place, street = PLACES[n % len(PLACES)]
        written = svc.incidents.report(DISPATCHER, work_order(place, title=f"工单 {n}"))
        assert written.incident.unit == street
        assert written.incident.deadlines.sign_by == at(3, 4)
        assert written.incident.deadlines.resolve_by == at(3, 10)
        ids[written.incident.id] = street
    assert len(ids) == ORDERS
    svc.projector.catch_up(P)
    assert len(deadline_entries(redis)) == 2 * ORDERS  # sign_by and resolve_by of each

    # Not due yet: the last moment of Tuesday is still within the deadline.
    clock.now = at(3, 3, 23, 59)
    assert svc.watchers.watch_deadlines(P) == 0

    clock.now = at(3, 5, 9, 0)  # three days on: every sign_by has passed, no resolve_by has
    head_before = int(redis.get(keys.head(P)))
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    watchers = [
        ctx.Process(
            target=watch_in_process,
            args=(redis_url, clock.now.isoformat(), barrier, results, f"watcher-{n}"),
        )
        for n in (1, 2)
    ]
    for process in watchers:
        process.start()
    reports = [results.get(timeout=60) for _ in watchers]
    for process in watchers:
        process.join(30)
        assert process.exitcode == 0, process
    counts = {name: count for name, count, _, _ in reports}
    assert sum(counts.values()) == ORDERS, counts
    starts = [started for _, _, started, _ in reports]
    ends = [ended for _, _, _, ended in reports]
    assert max(starts) < min(ends), "the two sweeps did not overlap"

    # Each order: exactly one breach of its sign_by and one escalation to the district.
    assert int(redis.get(keys.head(P))) == head_before + 2 * ORDERS
    for incident_id, street in ids.items():
        breached, escalated = breaches_and_escalations(events_of(svc, incident_id))
        assert breached == [DeadlineBreached(DeadlineKind.SIGN, at(3, 4), street)], incident_id
        assert escalated == [IncidentEscalated(street, DISTRICT, DeadlineKind.SIGN)], incident_id

    # One run again before the projection has seen the breaches: the log refuses them all.
    assert svc.watchers.watch_deadlines(P) == 0
    assert int(redis.get(keys.head(P))) == head_before + 2 * ORDERS

    svc.projector.catch_up(P)
    counts_at_district, _ = svc.reads.summary(P, DISTRICT)
    assert counts_at_district == {"escalated": {"work_order": ORDERS}}
    page = svc.reads.queue(P, DISTRICT, lambda view: True, limit=ORDERS)
    assert {v.incident.id for v in page.items} == set(ids)
    assert all(v.incident.escalated_to == DISTRICT for v in page.items)
    assert all(v.incident.breached == (DeadlineKind.SIGN,) for v in page.items)
    for street in (CHENQIAO, BINJIANG, KAIFAQU):  # still in its own street's queue, too
        at_street, _ = svc.reads.summary(P, street)
        expected = sum(1 for s in ids.values() if s == street)
        assert at_street == {"dispatched": {"work_order": expected}}, street
    # Only the resolve_by deadlines still run.
    entries = deadline_entries(redis)
    assert set(entries) == {f"{i}|resolve_by" for i in ids}
    check_read_models(redis, P)

    # And once more after the catch-up: nothing new is due.
    assert svc.watchers.watch_deadlines(P) == 0
    assert int(redis.get(keys.head(P))) == head_before + 2 * ORDERS


# --- 2. a re-dispatch clears the flag -----------------------------------------------------


def test_a_redispatch_after_a_breach_clears_the_flag_and_starts_fresh_deadlines(
    redis_url: str, redis: redis_lib.Redis
) -> None:
    clock = Clock(at(3, 2, 9, 0))
    svc = services_at(redis_url, redis, clock)
    moved = svc.incidents.report(DISPATCHER, work_order("丽都")).incident.id
    returned = svc.incidents.report(DISPATCHER, work_order("丽都")).incident.id
    svc.projector.catch_up(P)

    clock.now = at(3, 4, 0, 30)  # Wednesday, half past midnight: both sign_by have passed
    assert svc.watchers.watch_deadlines(P) == 2
    svc.projector.catch_up(P)
    district, _ = svc.reads.summary(P, DISTRICT)
    assert district == {"escalated": {"work_order": 2}}

    # One is dispatched elsewhere by the district; the street returns the other, which the
    # district sends back to it.
    clock.now = at(3, 4, 9, 0)
    svc.incidents.execute(ADMIN, moved, DispatchIncident(BINJIANG))
    svc.incidents.execute(ADMIN, returned, ReturnIncident("不是本街道的"))
    clock.now = at(3, 4, 9, 30)
    svc.incidents.execute(ADMIN, returned, DispatchIncident(CHENQIAO))
    svc.projector.catch_up(P)

    for incident_id, unit in ((moved, BINJIANG), (returned, CHENQIAO)):
        view = svc.reads.incident(P, incident_id)
        assert view is not None
        incident = view.incident
        assert (incident.status, incident.unit) == (Status.DISPATCHED, unit)
        assert (incident.breached, incident.escalated_to) == ((), "")
        # Wednesday's dispatch: sign for by the end of Thursday, resolve by the end of
        # Wednesday 03-11 (03-05, 03-06, 03-09, 03-10, 03-11).
        assert incident.deadlines.sign_by == at(3, 6)
        assert incident.deadlines.resolve_by == at(3, 12)
    district, _ = svc.reads.summary(P, DISTRICT)
    assert district == {}, "no longer flagged in the district's queue"
    assert svc.reads.queue(P, DISTRICT, lambda view: True).items == []
    assert deadline_entries(redis) == {
        f"{moved}|sign_by": at(3, 6).timestamp(),
        f"{moved}|resolve_by": at(3, 12).timestamp(),
        f"{returned}|sign_by": at(3, 6).timestamp(),
        f"{returned}|resolve_by": at(3, 12).timestamp(),
    }
    check_read_models(redis, P)

    # Not due before the fresh deadline; due after it: a second breach, escalated again.
    clock.now = at(3, 5, 23, 59)
    assert svc.watchers.watch_deadlines(P) == 0
    clock.now = at(3, 6, 0, 1)
    assert svc.watchers.watch_deadlines(P) == 2
    for incident_id, unit in ((moved, BINJIANG), (returned, CHENQIAO)):
        breached, escalated = breaches_and_escalations(events_of(svc, incident_id))
        assert [b.due_at for b in breached] == [at(3, 4), at(3, 6)]
        assert [b.unit for b in breached] == [CHENQIAO, unit]
        assert [(e.from_unit, e.to_unit) for e in escalated] == [
            (CHENQIAO, DISTRICT),
            (unit, DISTRICT),
        ]
    svc.projector.catch_up(P)
    district, _ = svc.reads.summary(P, DISTRICT)
    assert district == {"escalated": {"work_order": 2}}
    check_read_models(redis, P)


# --- 3. daily counts, by hand -------------------------------------------------------------


def test_daily_counts_of_two_days_by_hand_and_after_a_rebuild(
    redis_url: str, redis: redis_lib.Redis
) -> None:
    """Sunday 03-01 prepares two orders for their call-back; Monday 03-02 is the day counted.

    03-01 10:00  C quarantine visit at 丽都 (epidemic) -> chenqiao: signed, handed down to lidu,
                 resolved by the street's handler at lidu before the day ends (on time).
    03-01 11:00  D work order at 丽都 -> chenqiao: signed, resolved by the street (on time).
    03-02 09:00  A supply delivery at 丽都 (epidemic) -> chenqiao; signed at 10:00 (on time).
    03-02 10:30  C called back: satisfied (closes).  D called back: unsatisfied (reopens at
                 chenqiao with a fresh resolve_by).
    03-02 22:00  N night emergency at 陈桥街道 -> chenqiao, sign_by 22:15; the watch at 22:20
                 records the breach and escalates it to the district; signed at 22:30 (late).
    """
    clock = Clock(at(3, 1, 10, 0))
    svc = services_at(redis_url, redis, clock)
    inc = svc.incidents

    c = inc.report(DISPATCHER, quarantine_visit()).incident.id
    clock.now = at(3, 1, 10, 5)
    inc.execute(ADMIN, c, SignFor())
    inc.execute(ADMIN, c, HandDown())
    clock.now = at(3, 1, 11, 0)
    d = inc.report(DISPATCHER, work_order()).incident.id
    clock.now = at(3, 1, 11, 30)
    inc.execute(ADMIN, d, SignFor())
    clock.now = at(3, 1, 16, 0)
    resolved_c = inc.execute(ADMIN, c, ResolveIncident("已上门测温", OFFICER))
    assert resolved_c.incident.unit == LIDU
    clock.now = at(3, 1, 17, 0)
    inc.execute(ADMIN, d, ResolveIncident("已答复", OFFICER))

    clock.now = at(3, 2, 9, 0)
    a = inc.report(DISPATCHER, supply_delivery()).incident.id
    clock.now = at(3, 2, 10, 0)
    inc.execute(ADMIN, a, SignFor())
    clock.now = at(3, 2, 10, 30)
    closed = inc.execute(ADMIN, c, RecordReturnVisit(Satisfaction.SATISFIED))
    assert closed.incident.status is Status.CLOSED
    reopened = inc.execute(ADMIN, d, RecordReturnVisit(Satisfaction.UNSATISFIED))
    assert (reopened.incident.status, reopened.incident.unit) == (Status.SIGNED, CHENQIAO)
    # Reopened on Monday: five working days from 03-03 on, as at first from Sunday.
    assert reopened.incident.deadlines.resolve_by == at(3, 10)

    clock.now = at(3, 2, 22, 0)
    n = inc.report(DISPATCHER, night_emergency("陈桥街道")).incident.id
    svc.projector.catch_up(P)
    clock.now = at(3, 2, 22, 20)
    assert svc.watchers.watch_deadlines(P) == 1  # N's sign_by (22:15); nothing else is due
    clock.now = at(3, 2, 22, 30)
    inc.execute(ADMIN, n, SignFor())
    svc.projector.catch_up(P)

    day0 = {
        f"{CHENQIAO}|quarantine_visit|reported": 1,
        f"{CHENQIAO}|quarantine_visit|epidemic": 1,
        f"{CHENQIAO}|quarantine_visit|signed_on_time": 1,
        f"{LIDU}|quarantine_visit|resolved_on_time": 1,
        f"{CHENQIAO}|work_order|reported": 1,
        f"{CHENQIAO}|work_order|signed_on_time": 1,
        f"{CHENQIAO}|work_order|resolved_on_time": 1,
    }
    day1 = {
        # two reported, one of them about the epidemic
        f"{CHENQIAO}|supply_delivery|reported": 1,
        f"{CHENQIAO}|supply_delivery|epidemic": 1,
        f"{CHENQIAO}|night_emergency|reported": 1,
        # one signed on time, one late after its breach and escalation
        f"{CHENQIAO}|supply_delivery|signed_on_time": 1,
        f"{CHENQIAO}|night_emergency|breached_sign_by": 1,
        f"{CHENQIAO}|night_emergency|escalated": 1,
        f"{CHENQIAO}|night_emergency|signed_late": 1,
        # the call-backs: one satisfied (at lidu, where it was done), one unsatisfied, reopened
        f"{LIDU}|quarantine_visit|visit_satisfied": 1,
        f"{CHENQIAO}|work_order|visit_unsatisfied": 1,
        f"{CHENQIAO}|work_order|reopened": 1,
    }
    assert svc.reads.day_counts(P, "2026-03-01") == day0
    assert svc.reads.day_counts(P, "2026-03-02") == day1
    assert svc.reads.day_counts(P, "2026-03-03") == {}

    old = current_generation(redis, P)
    projector = Projector(redis, svc.store, rebuild_grace_seconds=0, rebuild_batch=3)
    assert projector.rebuild(P) != old
    assert svc.reads.day_counts(P, "2026-03-01") == day0
    assert svc.reads.day_counts(P, "2026-03-02") == day1
    check_read_models(redis, P)


@pytest.mark.parametrize("batch_size", [1, 1000])
def test_a_report_is_counted_once_whatever_the_batch_boundaries(
    redis_url: str, redis: redis_lib.Redis, batch_size: int
) -> None:
    """IncidentReported and IncidentDispatched land in one batch or two: one ``reported``; a
    later re-dispatch is no new report."""
    clock = Clock(at(3, 2, 9, 0))
    svc = build_services(
        Config(redis_url=redis_url, projector_batch=batch_size), redis, clock=clock
    )
    first = svc.incidents.report(DISPATCHER, work_order("丽都", epidemic=True)).incident.id
    svc.incidents.execute(ADMIN, first, DispatchIncident(BINJIANG))
    svc.projector.catch_up(P)
    assert svc.reads.day_counts(P, "2026-03-02") == {
        f"{CHENQIAO}|work_order|reported": 1,
        f"{CHENQIAO}|work_order|epidemic": 1,
    }
