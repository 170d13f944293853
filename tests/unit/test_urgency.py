"""The order of a queue: night emergencies, then priority, then deadline, then age."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from coordination.domain.deadlines import Deadlines
from coordination.domain.incident import Incident
from coordination.domain.values import Kind, Priority, Status
from coordination.projections.queues import urgency
from coordination.projections.views import View

T = datetime(2020, 2, 10, 9, 0, 4, tzinfo=ZoneInfo("Asia/Shanghai"))


def view(
    created: datetime,
    due: datetime | None = None,
    kind: Kind = Kind.WORK_ORDER,
    priority: Priority = Priority.NORMAL,
) -> View:
    incident = Incident(
        id="x",
        kind=kind,
        priority=priority,
        status=Status.DISPATCHED,
        deadlines=Deadlines(sign_by=due),
    )
    return View(incident, created, created, 1, 1)


def test_deadlines_in_one_minute_put_the_older_order_first() -> None:
    later = T + timedelta(seconds=4)
    older = view(T, T + timedelta(minutes=15), Kind.NIGHT_EMERGENCY)
    newer = view(later, later + timedelta(minutes=15), Kind.NIGHT_EMERGENCY)
    assert urgency(older) < urgency(newer)


def test_the_earlier_deadline_goes_first_whatever_the_age() -> None:
    old_but_later = view(T - timedelta(days=3), T + timedelta(days=2))
    new_but_sooner = view(T, T + timedelta(hours=1))
    assert urgency(new_but_sooner) < urgency(old_but_later)


def test_without_deadlines_the_older_goes_first_even_within_a_minute() -> None:
    assert urgency(view(T)) < urgency(view(T + timedelta(seconds=1)))


def test_night_emergencies_then_priorities_come_before_any_deadline() -> None:
    later = T + timedelta(days=5)
    ordered = [
        view(T, later, Kind.NIGHT_EMERGENCY, Priority.LOW),
        view(T, later, Kind.WORK_ORDER, Priority.URGENT),
        view(T, T + timedelta(minutes=1), Kind.WORK_ORDER, Priority.HIGH),
        view(T, T + timedelta(minutes=1), Kind.WORK_ORDER, Priority.NORMAL),
        view(T, T + timedelta(minutes=1), Kind.WORK_ORDER, Priority.LOW),
    ]
    scores = [urgency(v) for v in ordered]
    assert scores == sorted(scores) and len(set(scores)) == len(scores)
