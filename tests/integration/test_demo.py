"""The seeded demo day against a real valkey server: a realistic day of 港闻区 reaches the
log through the real services, its figures are there in the projections, and it is seeded once.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib
from rq import Queue
from rq.serializers import JSONSerializer

from coordination.bootstrap import build_services
from coordination.config import Config
from coordination.devtools.demo import (
    TICK_JOB,
    UNCOVERED,
    DayNotEmpty,
    LaterHistory,
    LiveWatchers,
    TickFence,
    report_figures,
    seed_day,
)
from coordination.domain.events import IncidentEscalated
from coordination.domain.values import Kind, Status
from coordination.projections import reports
from coordination.store import keys

P = "gangwen"
DAY = date(2020, 2, 8)  # a Saturday of the outbreak: epidemic orders are done the same day
NEXT = "2020-02-09"
NEXT_DAY = date(2020, 2, 9)


def total(counts: dict[str, int], metric: str, kind: str | None = None) -> int:
    """The sum of ``<unit>|<kind>|<metric>`` over units (and kinds, unless one is named)."""
    found = 0
    for name, count in counts.items():
        _, got_kind, got_metric = name.split("|")
        if got_metric == metric and kind in (None, got_kind):
            found += count
    return found


def test_a_seeded_day_has_something_to_say_and_is_seeded_once(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    config = Config(redis_url=redis_url)
    started = time.monotonic()
    summary = seed_day(config, DAY, redis=redis)
    seeded_in = time.monotonic() - started
    assert seeded_in < 30, seeded_in
    assert summary.failures == []

    services = build_services(config, redis)
    services.projector.catch_up(P)
    head = services.store.head(P)
    counts = services.reads.day_counts(P, DAY.isoformat(), min_position=head)
    after = services.reads.day_counts(P, NEXT, min_position=head)

    # about a hundred epidemic orders and forty ordinary ones, night emergencies among them
    assert total(counts, "epidemic") >= 90
    assert total(counts, "reported") >= 130
    assert total(counts, "reported") == summary.reported
    assert total(counts, "reported", Kind.NIGHT_EMERGENCY.value) >= 3
    assert {k.value for k in Kind} <= set(summary.by_kind)
    assert summary.returned >= 1
    # most signed for on time; some late: a night emergency at a street that day, and the
    # evening orders left unsigned at midnight the next morning (breached and escalated)
    assert total(counts, "signed_on_time") >= 100
    assert total(counts, "signed_late") >= 1
    assert total(counts, "signed_late") + total(after, "signed_late") == summary.signed_late >= 3
    assert total(counts, "escalated") + total(after, "escalated") == summary.escalations >= 3
    assert total(counts, "breached_sign_by") + total(after, "breached_sign_by") >= 2
    assert summary.breaches >= 3
    # return visits: mostly satisfied, a few basically, one or two unsatisfied and reopened
    visits: dict[str, Any] = {
        result: total(counts, f"visit_{result}") + total(after, f"visit_{result}")
        for result in ("satisfied", "basically_satisfied", "unsatisfied")
    }
    assert visits == dict(summary.visits), (visits, summary.visits)
    assert visits["satisfied"] >= 80
    assert visits["basically_satisfied"] >= 1
    assert 1 <= visits["unsatisfied"] <= 3
    assert total(counts, "reopened") == visits["unsatisfied"]

    # the uncovered community's night emergency went to its street at once: nobody on duty
    night = services.reads.incidents(
        P,
        lambda v: v.incident.kind is Kind.NIGHT_EMERGENCY and v.incident.place_unit == UNCOVERED,
        min_position=head,
    ).items
    assert night, "no night emergency in the uncovered community"
    history = services.store.read_stream(P, night[0].incident.id)
    escalations = [e.event for e in history if isinstance(e.event, IncidentEscalated)]
    assert any(e.reason == "nobody on duty" for e in escalations), escalations
    assert night[0].incident.on_duty == ()

    # seeding again is refused and changes nothing
    marker = redis.get(keys.demo_day(P, DAY.isoformat()))
    with pytest.raises(DayNotEmpty):
        seed_day(config, DAY, redis=redis)
    with pytest.raises(DayNotEmpty):
        seed_day(config, DAY, seed=7, redis=redis)
    assert services.store.head(P) == head
    assert redis.get(keys.demo_day(P, DAY.isoformat())) == marker
    assert services.reads.day_counts(P, DAY.isoformat()) == counts


def test_a_day_with_orders_already_is_refused(redis: redis_lib.Redis, redis_url: str) -> None:
    """A day with real orders in the log is not seeded over, even without the demo's marker."""
    config = Config(redis_url=redis_url)
    seed_day(config, DAY, redis=redis)
    redis.delete(keys.demo_day(P, DAY.isoformat()))
    head = build_services(config, redis).store.head(P)
    with pytest.raises(DayNotEmpty, match="orders in the log"):
        seed_day(config, DAY, redis=redis)
    assert build_services(config, redis).store.head(P) == head


def test_each_days_report_counts_what_the_summary_says_and_every_order_is_closed(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    config = Config(redis_url=redis_url)
    summary = seed_day(config, DAY, redis=redis)
    services = build_services(config, redis)
    head = services.store.head(P)
    tz = ZoneInfo(config.timezone)
    assert sorted(summary.days) == [DAY.isoformat(), NEXT]  # the rest falls on the next day
    for day in summary.days:
        report = reports.daily_report(
            services.reads, services.jurisdiction, P, date.fromisoformat(day),
            datetime.now(tz), tz, min_position=head,
        )  # fmt: skip
        assert report_figures(report["total"]) == summary.figures(day), day
    assert summary.open == []
    views = list(services.reads.every_incident(P, head))
    assert len(views) == summary.reported
    assert {v.incident.status for v in views} == {Status.CLOSED}
    assert services.reads.due_deadlines(P, datetime.now(tz)) == []


def test_a_past_day_is_refused_while_live_watchers_run_on_the_data(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    redis.set(keys.scheduler_heartbeat(), "1", ex=60)  # as a running scheduler keeps it
    with pytest.raises(LiveWatchers, match="--isolated"):
        seed_day(Config(redis_url=redis_url), DAY, redis=redis)
    assert redis.keys("{gangwen}:*") == []  # nothing written, not even the marker


def test_a_past_day_is_refused_where_the_demos_streams_have_later_events(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    config = Config(redis_url=redis_url)
    seed_day(config, NEXT_DAY, redis=redis)  # the demo's staff now have events of that day
    head = build_services(config, redis).store.head(P)
    with pytest.raises(LaterHistory, match="demo-yonghe-1"):
        seed_day(config, DAY, redis=redis)
    assert build_services(config, redis).store.head(P) == head
    assert redis.get(keys.demo_day(P, DAY.isoformat())) is None


def test_today_is_driven_up_to_now_and_what_is_due_later_is_left_open_and_listed(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    """Today at 13:00 (a clock of the test's): nothing is dated after it, and the orders whose
    next step is later are listed with it, open."""
    tz = ZoneInfo("Asia/Shanghai")
    now = datetime(2020, 2, 8, 13, 0, tzinfo=tz)
    summary = seed_day(Config(redis_url=redis_url), redis=redis, clock=lambda: now)
    assert summary.day == DAY and summary.failures == []
    events = build_services(Config(redis_url=redis_url), redis).store.read_partition(P, count=10**5)
    assert max(e.time for e in events) <= now
    assert list(summary.days) == [DAY.isoformat()]
    assert summary.open, "a weekday afternoon with nothing in progress"
    for order in summary.open:
        assert order["at"] > "2020-02-08 13:00", order
        assert order["status"] != "closed"
    services = build_services(Config(redis_url=redis_url), redis)
    views = list(services.reads.every_incident(P, services.store.head(P)))
    still_open = {v.incident.id for v in views if v.incident.status is not Status.CLOSED}
    assert still_open == {o["id"] for o in summary.open}


def test_the_demo_holds_the_tick_slot_so_no_live_tick_runs_meanwhile(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    """A scheduler (tick every second) enqueues no tick while the fence is held; one queued
    before is dropped; after it, ticks come again."""
    env = {"PATH": str(Path(sys.executable).parent), "REDIS_URL": redis_url}
    env["COORDINATION_TICK_SECONDS"] = "1"
    queue = Queue("coordination", connection=redis, serializer=JSONSerializer)
    queue.enqueue(TICK_JOB)
    scheduler = subprocess.Popen(
        [str(Path(sys.executable).parent / "coordination"), "scheduler"], env=env
    )
    try:
        with TickFence(redis, "coordination"):
            assert queue.get_job_ids() == []  # the queued tick was dropped
            time.sleep(2.5)
            assert queue.get_job_ids() == []  # and none came while the demo held the slot
        deadline = time.monotonic() + 10
        while not queue.get_job_ids():
            assert time.monotonic() < deadline, "no tick after the fence"
            time.sleep(0.1)
    finally:
        scheduler.terminate()
        scheduler.wait(10)
