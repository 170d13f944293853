"""The API's one range of dates fits what the read side packs: a queue's urgency score holds
the deadline minute in 26 bits (to August 2097), so an order made on any day of the range, with
its longest deadline, still sorts by its own deadline rather than by a clamped one."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from coordination.domain.deadlines import DeadlinePolicy
from coordination.domain.incident import Incident
from coordination.domain.units import Level
from coordination.domain.values import Kind, Status
from coordination.projections.queues import urgency
from coordination.projections.views import View
from schemas.base import FIRST_DAY, LAST_DAY

SHANGHAI = ZoneInfo("Asia/Shanghai")
MINUTE_BITS = 26
CEILING = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(minutes=(1 << MINUTE_BITS) - 1)


def dispatched_at(made: datetime) -> View:
    """A work order dispatched to a street at ``made``: deadlines of 1 and 5 working days."""
    deadlines = DeadlinePolicy().on_dispatch(made, Level.STREET, night=False, epidemic=False)
    incident = Incident(id="x", kind=Kind.WORK_ORDER, status=Status.DISPATCHED, deadlines=deadlines)
    return View(incident, made, made, 1, 1)


def packed_minute(view: View) -> int:
    return (int(urgency(view)) >> 21) & ((1 << MINUTE_BITS) - 1)


@pytest.mark.parametrize(("day", "at"), [(FIRST_DAY, time(0, 0)), (LAST_DAY, time(23, 59, 59))])
def test_an_order_of_the_first_or_last_day_sorts_by_its_own_deadline(day: date, at: time) -> None:
    view = dispatched_at(datetime.combine(day, at, tzinfo=SHANGHAI))
    deadlines = view.incident.deadlines
    assert deadlines.sign_by is not None and deadlines.resolve_by is not None
    assert packed_minute(view) == int(deadlines.sign_by.timestamp() // 60)
    assert deadlines.resolve_by + timedelta(days=180) < CEILING
