"""``GET /incidents`` in report order: the latest reported first (one report time: the greater id
first), whatever order the log holds them in, paged by a cursor that orders reported between two
page reads do not move; the same order after ``coordination projections rebuild``; and the
readers of the same index (the live page's orders per hour, ``every_incident``) reading each
incident once.

A report's time is its first event's time, from the clock of the process that took it. Two
processes' clocks (or an import of an earlier day) do not agree with the log's order, so here
the test clock is set back and forth between reports: log order and report order differ.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
import redis as redis_lib
from clock import Clock
from flask import Flask
from people import ADMIN, CHENQIAO, DISTRICT, HC, SHANGHAI, Api, D, at, make_app, report_body
from worker import RqWorker

from coordination.projections import reports, views
from coordination.store import keys

START = at(2026, 3, 2, 9, 0)
# Minutes after START of each report, in the order they are made: back and forth, with ties.
OFFSETS = [60, 0, 120, 0, 90, 30, -60, 120, 45, 0, 60, 15, -30]


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def app(redis_url: str, redis: redis_lib.Redis, clock: Clock) -> Flask:
    return make_app(redis_url, redis, clock)


@pytest.fixture
def api(app: Flask, tokens: dict[str, str]) -> Api:
    return Api(app, tokens)


def report_at(api: Api, clock: Clock, moment: datetime) -> tuple[str, int]:
    """Report an order at ``moment``: its id and the position the write reached."""
    clock.now = moment
    written = api.report(report_body(title=f"reported {moment:%H:%M}"))
    return written["id"], written["position"]


def report_order(created: dict[str, datetime]) -> list[str]:
    """The ids latest reported first, one report time's by id, greatest first."""
    return sorted(created, key=lambda i: (created[i], i), reverse=True)


def page(api: Api, as_: str, position: int, cursor: str | None, **query: Any) -> dict[str, Any]:
    args = dict(query, min_position=position) | ({"cursor": cursor} if cursor else {})
    found: dict[str, Any] = api.ok(api.get(as_, "/incidents", **args))
    assert found["position"] >= position, found
    return found


def test_incidents_page_in_report_order_while_more_are_reported(
    api: Api, clock: Clock, worker: RqWorker
) -> None:
    created: dict[str, datetime] = {}
    for minutes in OFFSETS:
        incident_id, p = report_at(api, clock, START + timedelta(minutes=minutes))
        created[incident_id] = START + timedelta(minutes=minutes)
    before = report_order(created)
    assert before != list(reversed(created)), "the log's order must differ from report order"

    first = page(api, D, p, None)
    assert [i["id"] for i in first["items"]] == before  # one page: all, in report order
    assert first["next_cursor"] is None
    listed = [datetime.fromisoformat(i["created_at"]) for i in first["items"]]
    assert listed == sorted(listed, reverse=True)

    # Three at a time; between two page reads more orders come in: later ones (they sort above
    # the cursor), at the very time of the last one read (ids on both sides of it), and one
    # dated before all the others (a clock behind, or an import): it sorts below, still to come.
    seen: list[str] = []
    cursor = None
    later = [START + timedelta(hours=h) for h in (3, 4, 5)]
    for step in range(len(OFFSETS)):
        body = page(api, D, p, cursor, limit=3)
        assert len(body["items"]) <= 3, body
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        if step < len(later):
            new_id, p = report_at(api, clock, later[step])
            created[new_id] = later[step]
        if step == 1:
            for _ in range(4):  # random ids: some sort before the last one read, some after
                new_id, p = report_at(api, clock, created[seen[-1]])
                created[new_id] = created[seen[-1]]
        if step == 2:
            new_id, p = report_at(api, clock, START - timedelta(hours=5))
            created[new_id] = START - timedelta(hours=5)
    else:
        raise AssertionError(f"the cursor never ran out: {seen}")
    assert len(seen) == len(set(seen)), "an order listed twice"
    assert [i for i in seen if i in before] == before, "one reported before the walk skipped"
    assert seen == [i for i in report_order(created) if i in seen], "out of report order"
    assert seen[-1] == report_order(created)[-1]  # the early one came, last
    assert not set(seen) & {i for i in created if created[i] in later}  # above the cursor

    # The API's filters page the same way; a rebuild gives the same order and keeps cursors.
    everything = report_order(created)
    for query in ({"limit": 2}, {"limit": 5, "unit": CHENQIAO}, {"limit": 4, "kind": "work_order"}):
        assert walk(api, p, **query) == everything
    cut = page(api, D, p, None, limit=4)
    rebuilt = api.services.projector.rebuild(DISTRICT)
    assert rebuilt == 2
    assert walk(api, p, limit=3) == everything
    rest = walk(api, p, cursor=cut["next_cursor"], limit=4)
    assert [i["id"] for i in cut["items"]] + rest == everything


def walk(api: Api, position: int, cursor: str | None = None, **query: Any) -> list[str]:
    """Every id the pages list, from ``cursor`` on, as the administrator."""
    found: list[str] = []
    for _ in range(100):
        body = page(api, ADMIN, position, cursor, **query)
        found += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return found
    raise AssertionError(f"the cursor never ran out: {found}")


def test_the_index_is_scored_by_report_time_in_microseconds(
    api: Api, clock: Clock, redis: redis_lib.Redis
) -> None:
    moment = at(2026, 3, 2, 9, 0) + timedelta(microseconds=123_457)
    incident_id, _ = report_at(api, clock, moment)
    earlier_id, _ = report_at(api, clock, moment - timedelta(microseconds=1))
    api.services.projector.catch_up(DISTRICT)
    gen = keys.current_generation(redis, DISTRICT)
    scores = dict(redis.zrange(keys.incidents_index(DISTRICT, gen), 0, -1, withscores=True))
    expected = int(moment.timestamp()) * 1_000_000 + 123_457
    assert scores[incident_id.encode()] == expected
    assert scores[earlier_id.encode()] == expected - 1  # a microsecond apart, apart in the index
    view = api.services.reads.incident(DISTRICT, incident_id)
    assert view is not None and views.reported_score(view) == expected
    listed = [v.incident.id for v in api.services.reads.every_incident(DISTRICT)]
    assert listed == [incident_id, earlier_id]


def test_every_incident_reads_each_once_while_more_are_reported(api: Api, clock: Clock) -> None:
    created: dict[str, datetime] = {}
    for minutes in OFFSETS:
        incident_id, _ = report_at(api, clock, START + timedelta(minutes=minutes))
        created[incident_id] = START + timedelta(minutes=minutes)
    api.services.projector.catch_up(DISTRICT)
    walking = api.services.reads.every_incident(DISTRICT, chunk=2)
    got = [next(walking).incident.id for _ in range(3)]
    # Later orders come in half way (an offset would then read the last ones of a chunk again).
    for hours in (4, 5, 6):
        report_at(api, clock, START + timedelta(hours=hours))
    api.services.projector.catch_up(DISTRICT)
    got += [v.incident.id for v in walking]
    assert got == report_order(created)


def test_the_live_pages_hours_count_the_day_in_any_log_order(api: Api, clock: Clock) -> None:
    """The hours read the index back to the day's start only: an order of the day reported
    (appended) after one of the next day and one of the day before still counts."""
    report_at(api, clock, at(2026, 3, 2, 10, 5))
    report_at(api, clock, at(2026, 3, 3, 8, 0))  # the next day
    report_at(api, clock, at(2026, 3, 1, 23, 0))  # the day before, appended later
    report_at(api, clock, at(2026, 3, 2, 23, 59))
    report_at(api, clock, at(2026, 3, 2, 0, 0))
    api.services.projector.catch_up(DISTRICT)
    clock.now = at(2026, 3, 3, 9, 0)
    svc = api.services
    found = reports.today(
        svc.reads, svc.jurisdiction, CHENQIAO, date(2026, 3, 2), clock.now, SHANGHAI
    )
    hours = {hour: n for hour, n in enumerate(found["hours"]) if n}
    assert hours == {0: 1, 10: 1, 23: 1} and found["reported"] == 3
    body = api.ok(api.get(HC, "/dashboard/today", date="2026-03-02"))
    assert body["hours"] == found["hours"]
