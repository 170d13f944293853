"""The seeded demo day against a real valkey server: a realistic day of 港闻区 reaches the
log through the real services, its figures are there in the projections, and it is seeded once.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import pytest
import redis as redis_lib

from coordination.bootstrap import build_services
from coordination.config import Config
from coordination.devtools.demo import UNCOVERED, DayNotEmpty, seed_day
from coordination.domain.events import IncidentEscalated
from coordination.domain.values import Kind
from coordination.store import keys

P = "gangwen"
DAY = date(2020, 2, 8)  # a Saturday of the outbreak: epidemic orders are done the same day
NEXT = "2020-02-09"


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
