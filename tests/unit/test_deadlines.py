"""Deadlines on the mainland working-day calendar: counting working days, the policy's rules,
and the deadlines the incident aggregate carries, breaches and escalates.

Every expected value is worked out by hand from the published schedules (the chinese-calendar
package's data) and noted per case. Deadlines are "the end of a day": local midnight after it.
"""

from __future__ import annotations

import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from builders import (
    CDC,
    CHENQIAO,
    DISTRICT,
    LIDU,
    MARKET,
    OFFICER,
    SUMMARY,
    VOLUNTEER,
    WANGHAI,
    night_emergency,
    reported,
    supply_delivery,
    work_order,
)

from coordination.config import DEFAULT_CALENDAR_FILE
from coordination.domain.calendar import Due, WorkingCalendar, add_working_days, same_day
from coordination.domain.commands import (
    Command,
    DispatchIncident,
    HandDown,
    RecordBreach,
    RecordReturnVisit,
    ReturnIncident,
    SignFor,
)
from coordination.domain.context import Context
from coordination.domain.deadlines import DeadlineKind, DeadlinePolicy, Deadlines
from coordination.domain.errors import DomainError
from coordination.domain.events import (
    DeadlineBreached,
    Event,
    IncidentClaimed,
    IncidentClosed,
    IncidentDispatched,
    IncidentEscalated,
    IncidentHandedDown,
    IncidentReopened,
    IncidentResolved,
    IncidentReturned,
    IncidentSignedFor,
    ReturnVisitRecorded,
)
from coordination.domain.incident import Incident, decide, fold, pending_deadlines
from coordination.domain.units import Jurisdiction, Level
from coordination.domain.values import Satisfaction, Status
from coordination.store.workcalendar import load_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
SIGN, CLAIM, RESOLVE = DeadlineKind.SIGN, DeadlineKind.CLAIM, DeadlineKind.RESOLVE


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment of Beijing time; ``at(y, m, d)`` is the midnight that ends the day before."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def calendar_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "calendar.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return load_calendar(DEFAULT_CALENDAR_FILE)


@pytest.fixture(scope="module")
def policy(calendar: WorkingCalendar) -> DeadlinePolicy:
    return DeadlinePolicy(calendar=calendar)


@pytest.fixture
def hubei(tmp_path: Path) -> WorkingCalendar:
    """The national calendar plus a further closure like Hubei's/Shanghai's of early 2020."""
    return load_calendar(
        calendar_file(tmp_path, '[extra]\nclosures = ["2020-02-03..2020-02-09"]\n')
    )


@pytest.fixture
def with_2027(tmp_path: Path) -> WorkingCalendar:
    """A (hypothetical) 2027 schedule in the operator's file: New Year's Day on a Friday, a
    Spring Festival break Sat 6 - Fri 12 Feb, and Sun 14 Feb worked instead."""
    text = """
        [years.2027]
        closures = [2027-01-01, "2027-02-06..2027-02-12"]
        workdays = [2027-02-14]
    """
    return load_calendar(calendar_file(tmp_path, text))


# --- add_working_days and same_day --------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        # Fri 13 Sep 2024 18:30, eve of Mid-Autumn (Sun 15 - Tue 17 off). Sat 14 is a swapped
        # working day, so it is the first working day: due at its end, not after the break.
        (at(2024, 9, 13, 18, 30), 1, at(2024, 9, 15)),
        # Five: Sat 14 (1), [15-17 off], Wed 18 (2), Thu 19 (3), Fri 20 (4), [21-22 weekend],
        # Mon 23 (5).
        (at(2024, 9, 13, 18, 30), 5, at(2024, 9, 24)),
        # Mon 30 Sep 2024, National Day eve (1-7 Oct off): Tue 8 Oct is the first.
        (at(2024, 9, 30, 18, 30), 1, at(2024, 10, 9)),
        # Oct 8 (1), 9 (2), 10 (3), 11 (4), Sat 12 Oct, a swapped working day (5).
        (at(2024, 9, 30, 18, 30), 5, at(2024, 10, 13)),
        # Sun 29 Sep 2024 is a swapped working day; counting starts the next day, Mon 30 (1).
        (at(2024, 9, 29, 10, 0), 1, at(2024, 10, 1)),
        # Mon 30 (1), [1-7 Oct off], Oct 8 (2), 9 (3), 10 (4), 11 (5).
        (at(2024, 9, 29, 10, 0), 5, at(2024, 10, 12)),
        # Thu 23 Jan 2020, the last day before Spring Festival; the break (24 Jan - 2 Feb,
        # extended nationally by the State Council, Sat 1 Feb no longer worked): Mon 3 Feb (1).
        (at(2020, 1, 23, 16, 0), 1, at(2020, 2, 4)),
        # Feb 3 (1), 4 (2), 5 (3), 6 (4), Fri 7 (5).
        (at(2020, 1, 23, 16, 0), 5, at(2020, 2, 8)),
        # Fri 31 Jan 2020, inside the extended break: Mon 3 Feb is still the first.
        (at(2020, 1, 31, 9, 0), 1, at(2020, 2, 4)),
        (at(2020, 1, 31, 9, 0), 5, at(2020, 2, 8)),
        # An ordinary week: Mon 2 Sep 2024 -> Tue 3 (1) ... Fri 6 (4), Mon 9 (5).
        (at(2024, 9, 2, 10, 0), 5, at(2024, 9, 10)),
    ],
)
def test_add_working_days(
    calendar: WorkingCalendar, start: datetime, days: int, due: datetime
) -> None:
    assert add_working_days(calendar, start, days) == Due(due, fallback=False)


def test_a_further_closure_in_the_operators_file_moves_the_deadline(
    hubei: WorkingCalendar,
) -> None:
    # Closed 3-9 Feb 2020 too: Mon 10 Feb is the first working day after 23 Jan or 31 Jan,
    # and the fifth is Fri 14 Feb (10, 11, 12, 13, 14).
    for start in (at(2020, 1, 23, 16, 0), at(2020, 1, 31, 9, 0)):
        assert add_working_days(hubei, start, 1) == Due(at(2020, 2, 11))
        assert add_working_days(hubei, start, 5) == Due(at(2020, 2, 15))


def test_the_local_day_decides_not_the_utc_day(calendar: WorkingCalendar) -> None:
    # 16:30 UTC on Fri 13 Sep is 00:30 on Sat 14 Sep in Beijing: the order arrives on the
    # swapped Saturday, so the first working day after it is Wed 18 (15-17 off).
    start = datetime(2024, 9, 13, 16, 30, tzinfo=UTC)
    assert add_working_days(calendar, start, 1) == Due(at(2024, 9, 19))
    assert same_day(calendar, start) == Due(at(2024, 9, 15))
    # 10:30 UTC is 18:30 the same Friday in Beijing.
    early = datetime(2024, 9, 13, 10, 30, tzinfo=UTC)
    assert add_working_days(calendar, early, 1) == Due(at(2024, 9, 15))


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (at(2020, 2, 8, 17, 50), at(2020, 2, 9)),  # 疫情工单不过夜: local midnight that day
        (at(2020, 2, 8, 23, 55), at(2020, 2, 9)),  # five minutes left, still that day
        (at(2020, 2, 8, 0, 0), at(2020, 2, 9)),  # the first moment of the day
        (at(2020, 1, 25, 10, 0), at(2020, 1, 26)),  # Spring Festival day: holidays do not count
        (at(2027, 3, 1, 9, 0), at(2027, 3, 2)),  # no calendar needed: never a fallback
    ],
)
def test_same_day_is_local_midnight(
    calendar: WorkingCalendar, start: datetime, due: datetime
) -> None:
    assert same_day(calendar, start) == Due(due, fallback=False)


# --- the policy ---------------------------------------------------------------------------


def test_an_ordinary_order_at_a_street(policy: DeadlinePolicy) -> None:
    # Mon 2 Sep 2024 10:00: signed by the end of Tue 3; resolved by the end of the fifth
    # working day, Mon 9 (3, 4, 5, 6, 9).
    assert policy.on_dispatch(at(2024, 9, 2, 10, 0), Level.STREET, False, False) == Deadlines(
        sign_by=at(2024, 9, 4), resolve_by=at(2024, 9, 10)
    )


def test_friday_evening_before_mid_autumn(policy: DeadlinePolicy) -> None:
    # Fri 13 Sep 2024 18:30: sign by the end of the swapped Saturday 14; resolve by the end of
    # Mon 23 (14, 18, 19, 20, 23). A department gets the same as a street.
    expected = Deadlines(sign_by=at(2024, 9, 15), resolve_by=at(2024, 9, 24))
    now = at(2024, 9, 13, 18, 30)
    assert policy.on_dispatch(now, Level.STREET, False, False) == expected
    assert policy.on_dispatch(now, Level.DEPARTMENT, False, False) == expected


def test_national_day_eve(policy: DeadlinePolicy) -> None:
    # Mon 30 Sep 2024 18:30: sign by the end of Tue 8 Oct; resolve by the end of the swapped
    # Saturday 12 Oct (8, 9, 10, 11, 12).
    assert policy.on_dispatch(at(2024, 9, 30, 18, 30), Level.STREET, False, False) == Deadlines(
        sign_by=at(2024, 10, 9), resolve_by=at(2024, 10, 13)
    )


def test_on_a_swapped_working_sunday(policy: DeadlinePolicy) -> None:
    # Sun 29 Sep 2024 (worked): Mon 30 is the first day; then 8, 9, 10, 11 Oct.
    assert policy.on_dispatch(at(2024, 9, 29, 10, 0), Level.STREET, False, False) == Deadlines(
        sign_by=at(2024, 10, 1), resolve_by=at(2024, 10, 12)
    )


@pytest.mark.parametrize("now", [at(2020, 1, 23, 16, 0), at(2020, 1, 31, 9, 0)])
def test_the_extended_spring_festival_of_2020(policy: DeadlinePolicy, now: datetime) -> None:
    # Break extended to Sun 2 Feb: sign by the end of Mon 3 Feb, resolve by the end of Fri 7.
    assert policy.on_dispatch(now, Level.STREET, False, False) == Deadlines(
        sign_by=at(2020, 2, 4), resolve_by=at(2020, 2, 8)
    )


@pytest.mark.parametrize("now", [at(2020, 1, 23, 16, 0), at(2020, 1, 31, 9, 0)])
def test_a_local_further_extension_moves_the_deadlines(
    hubei: WorkingCalendar, now: datetime
) -> None:
    # Closed 3-9 Feb as well: sign by the end of Mon 10 Feb, resolve by the end of Fri 14.
    local = DeadlinePolicy(calendar=hubei)
    assert local.on_dispatch(now, Level.STREET, False, False) == Deadlines(
        sign_by=at(2020, 2, 11), resolve_by=at(2020, 2, 15)
    )


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (at(2020, 2, 8, 17, 50), at(2020, 2, 9)),  # due at midnight, not the next evening
        (at(2020, 2, 8, 23, 55), at(2020, 2, 9)),  # five minutes: the rule is the local day
    ],
)
def test_an_epidemic_order_is_done_the_same_day(
    policy: DeadlinePolicy, now: datetime, due: datetime
) -> None:
    assert policy.on_dispatch(now, Level.COMMUNITY, False, True) == Deadlines(resolve_by=due)
    # At a street one working day to sign for would end after the order is due (Sat 8 Feb
    # 2020 -> Mon 10 Feb): an order done the same day is signed for the same day too.
    street = policy.on_dispatch(now, Level.STREET, False, True)
    assert street == Deadlines(sign_by=due, resolve_by=due)


def test_a_night_emergency_is_counted_in_minutes(policy: DeadlinePolicy) -> None:
    # 23:10: claimed within 15 minutes (23:25), resolved within two hours (01:10 next day),
    # whatever the calendar says (Mon 30 Sep 2024, the eve of National Day).
    now = at(2024, 9, 30, 23, 10)
    assert policy.on_dispatch(now, Level.COMMUNITY, True, True) == Deadlines(
        claim_by=at(2024, 9, 30, 23, 25), resolve_by=at(2024, 10, 1, 1, 10)
    )


def test_a_community_dispatch_has_no_sign_deadline(policy: DeadlinePolicy) -> None:
    # Fri 13 Sep 2024 18:30, an ordinary order handed straight to a community: only resolve_by
    # (five working days, as at a street).
    assert policy.on_dispatch(at(2024, 9, 13, 18, 30), Level.COMMUNITY, False, False) == Deadlines(
        resolve_by=at(2024, 9, 24)
    )


def test_reopening_restarts_only_the_resolve_clock(policy: DeadlinePolicy) -> None:
    # Reopened Mon 30 Sep 2024 15:00: five working days from there end on Sat 12 Oct.
    assert policy.on_reopen(at(2024, 9, 30, 15, 0), Level.STREET, False, False) == Deadlines(
        resolve_by=at(2024, 10, 13)
    )
    assert policy.on_reopen(at(2024, 9, 30, 15, 0), Level.STREET, False, True) == Deadlines(
        resolve_by=at(2024, 10, 1)
    )
    # A night emergency back in its community's queue is claimed again within minutes.
    assert policy.on_reopen(at(2024, 9, 30, 23, 10), Level.COMMUNITY, True, True) == Deadlines(
        claim_by=at(2024, 9, 30, 23, 25), resolve_by=at(2024, 10, 1, 1, 10)
    )


# --- the year the calendar does not know --------------------------------------------------


def test_a_deadline_in_an_unknown_year_is_counted_from_weekends_and_marked(
    policy: DeadlinePolicy,
) -> None:
    # Thu 31 Dec 2026; 2027 is unknown, so Fri 1 Jan 2027 counts as a working day (it will be
    # New Year's Day): sign by the end of 1 Jan; resolve 1, 4, 5, 6, 7 Jan -> end of 7 Jan.
    assert policy.on_dispatch(at(2026, 12, 31, 18, 0), Level.STREET, False, False) == Deadlines(
        sign_by=at(2027, 1, 2), resolve_by=at(2027, 1, 8), fallback=True
    )


def test_a_deadline_wholly_in_a_known_year_is_not_marked(policy: DeadlinePolicy) -> None:
    # Mon 21 Dec 2026: sign by the end of Tue 22; resolve 22, 23, 24, 25, 28 -> end of 28.
    assert policy.on_dispatch(at(2026, 12, 21, 10, 0), Level.STREET, False, False) == Deadlines(
        sign_by=at(2026, 12, 23), resolve_by=at(2026, 12, 29)
    )
    # Thu 24 Dec 2026: the fifth working day is Thu 31 Dec, so the deadline is the midnight
    # that starts 2027 - but no day of 2027 was counted, so it is not marked.
    assert add_working_days(policy.calendar, at(2026, 12, 24, 10, 0), 5) == Due(
        at(2027, 1, 1), fallback=False
    )


def test_an_epidemic_order_on_new_years_eve(policy: DeadlinePolicy) -> None:
    # Same-day resolution needs no calendar: at a community nothing is marked; at a street the
    # sign deadline was counted into 2027 (which marks the set) but is capped at the same day.
    now = at(2026, 12, 31, 18, 0)
    assert policy.on_dispatch(now, Level.COMMUNITY, False, True) == Deadlines(
        resolve_by=at(2027, 1, 1)
    )
    assert policy.on_dispatch(now, Level.STREET, False, True) == Deadlines(
        sign_by=at(2027, 1, 1), resolve_by=at(2027, 1, 1), fallback=True
    )


def test_the_operators_year_makes_2027_known(with_2027: WorkingCalendar) -> None:
    policy = DeadlinePolicy(calendar=with_2027)
    # Thu 31 Dec 2026: Fri 1 Jan closed, 2-3 the weekend: sign by the end of Mon 4 Jan;
    # resolve 4, 5, 6, 7, 8 Jan -> end of Fri 8. Not marked.
    assert policy.on_dispatch(at(2026, 12, 31, 18, 0), Level.STREET, False, False) == Deadlines(
        sign_by=at(2027, 1, 5), resolve_by=at(2027, 1, 9)
    )
    # Fri 5 Feb 2027: 6-12 closed (the range), Sat 13 an ordinary weekend day, Sun 14 worked
    # (1): sign by its end; resolve 14, 15, 16, 17, 18 Feb -> end of Thu 18.
    assert policy.on_dispatch(at(2027, 2, 5, 18, 0), Level.STREET, False, False) == Deadlines(
        sign_by=at(2027, 2, 15), resolve_by=at(2027, 2, 19)
    )


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (at(2027, 6, 4, 12, 0), 1, at(2027, 6, 8)),  # Fri -> Mon 7 Jun
        (at(2030, 6, 1, 12, 0), 1, at(2030, 6, 4)),  # Sat -> Mon 3 Jun
        (at(2030, 12, 31, 12, 0), 5, at(2031, 1, 8)),  # Tue -> 1, 2, 3, 6, 7 Jan 2031
    ],
)
def test_unknown_years_never_raise(
    calendar: WorkingCalendar, start: datetime, days: int, due: datetime
) -> None:
    assert add_working_days(calendar, start, days) == Due(due, fallback=True)


# --- the aggregate: deadlines carried in the events ---------------------------------------


@pytest.fixture(scope="module")
def deadline_ctx(jurisdiction: Jurisdiction, policy: DeadlinePolicy) -> Context:
    return Context(jurisdiction, now=at(2024, 9, 13, 18, 30), deadlines=policy)


def run(
    ctx: Context, steps: list[tuple[datetime, Command]], history: list[Event] | None = None
) -> list[Event]:
    """Decide each command at its time, folding as we go; the whole history."""
    events = list(history or [])
    for now, command in steps:
        events += decide(fold(events), command, replace(ctx, now=now))
    return events


def test_a_report_carries_its_deadlines(deadline_ctx: Context) -> None:
    # Fri 13 Sep 2024 18:30 (Mid-Autumn eve): a complaint at 丽都花园 goes to Chenqiao street.
    command = work_order()
    assert decide(Incident(), command, deadline_ctx) == [
        reported(command, LIDU),
        IncidentDispatched(
            CHENQIAO,
            Level.STREET,
            deadlines=Deadlines(sign_by=at(2024, 9, 15), resolve_by=at(2024, 9, 24)),
        ),
    ]


def test_an_epidemic_report_is_due_that_night(deadline_ctx: Context) -> None:
    command = supply_delivery()
    assert decide(Incident(), command, deadline_ctx)[1] == IncidentDispatched(
        CHENQIAO,
        Level.STREET,
        deadlines=Deadlines(sign_by=at(2024, 9, 14), resolve_by=at(2024, 9, 14)),
    )


def test_a_night_emergency_report_goes_to_the_community_with_minutes(
    deadline_ctx: Context,
) -> None:
    command = night_emergency()
    ctx = replace(deadline_ctx, now=at(2024, 9, 13, 23, 10))
    assert decide(Incident(), command, ctx) == [
        reported(command, LIDU),
        IncidentDispatched(
            LIDU,
            Level.COMMUNITY,
            deadlines=Deadlines(
                claim_by=at(2024, 9, 13, 23, 25), resolve_by=at(2024, 9, 14, 1, 10)
            ),
        ),
    ]


def test_a_report_in_the_unknown_year_is_marked(deadline_ctx: Context) -> None:
    ctx = replace(deadline_ctx, now=at(2026, 12, 31, 18, 0))
    # Thu 31 Dec 2026: counted over 2027's weekends alone (see the policy case above).
    events = decide(Incident(), work_order(), ctx)
    due = Deadlines(sign_by=at(2027, 1, 2), resolve_by=at(2027, 1, 8), fallback=True)
    assert events[1] == IncidentDispatched(CHENQIAO, Level.STREET, deadlines=due)
    assert fold(events).deadlines.fallback


def test_without_a_policy_orders_get_no_deadlines(jurisdiction: Jurisdiction) -> None:
    ctx = Context(jurisdiction, now=at(2024, 9, 13, 18, 30))
    assert decide(Incident(), work_order(), ctx)[1] == IncidentDispatched(CHENQIAO, Level.STREET)


def test_a_returned_order_is_dispatched_again_on_a_fresh_clock(deadline_ctx: Context) -> None:
    # Reported Fri 13 Sep 2024, returned, dispatched again on the swapped Sunday 29 Sep:
    # sign by the end of Mon 30; resolve by the end of Fri 11 Oct (30, 8, 9, 10, 11).
    history = run(
        deadline_ctx,
        [
            (at(2024, 9, 13, 18, 30), work_order()),
            (at(2024, 9, 14, 9, 0), ReturnIncident("不属于本街道辖区")),
        ],
    )
    ctx = replace(deadline_ctx, now=at(2024, 9, 29, 10, 0))
    assert decide(fold(history), DispatchIncident("gangwen/binjiang"), ctx) == [
        IncidentDispatched(
            "gangwen/binjiang",
            Level.STREET,
            deadlines=Deadlines(sign_by=at(2024, 10, 1), resolve_by=at(2024, 10, 12)),
        )
    ]


def test_a_dispatched_order_moved_to_a_department_gets_fresh_deadlines(
    deadline_ctx: Context,
) -> None:
    # Moved on Mon 30 Sep 2024 18:30 to market regulation: the National Day eve deadlines.
    history = run(deadline_ctx, [(at(2024, 9, 13, 18, 30), work_order())])
    ctx = replace(deadline_ctx, now=at(2024, 9, 30, 18, 30))
    assert decide(fold(history), DispatchIncident(MARKET), ctx) == [
        IncidentDispatched(
            MARKET,
            Level.DEPARTMENT,
            deadlines=Deadlines(sign_by=at(2024, 10, 9), resolve_by=at(2024, 10, 13)),
        )
    ]


def test_a_dispatch_straight_to_a_community_has_no_sign_deadline(deadline_ctx: Context) -> None:
    history = run(
        deadline_ctx,
        [
            (at(2024, 9, 13, 18, 30), work_order()),
            (at(2024, 9, 13, 19, 0), ReturnIncident("不属于本街道辖区")),
        ],
    )
    # Again at 19:00 that Friday, to 望海 community: resolve within five working days only.
    ctx = replace(deadline_ctx, now=at(2024, 9, 13, 19, 0))
    events = decide(fold(history), DispatchIncident(WANGHAI), ctx)
    assert events == [
        IncidentDispatched(
            WANGHAI, Level.COMMUNITY, deadlines=Deadlines(resolve_by=at(2024, 9, 24))
        )
    ]
    state = fold([*history, *events])
    assert state.status is Status.HANDED_DOWN
    assert pending_deadlines(state) == {RESOLVE: at(2024, 9, 24)}


def resolved_work_order(ctx: Context) -> list[Event]:
    """A complaint reported Fri 13 Sep 2024, signed for, handed down to Lidu, resolved."""
    return run(
        ctx,
        [
            (at(2024, 9, 13, 18, 30), work_order()),
            (at(2024, 9, 14, 9, 0), SignFor()),
            (at(2024, 9, 14, 10, 0), HandDown()),
        ],
        [],
    ) + [IncidentResolved(LIDU, SUMMARY, OFFICER)]


def test_an_unsatisfied_return_visit_reopens_on_a_fresh_clock(deadline_ctx: Context) -> None:
    # Called back Mon 30 Sep 2024 15:00: five working days end on the swapped Sat 12 Oct.
    history = resolved_work_order(deadline_ctx)
    ctx = replace(deadline_ctx, now=at(2024, 9, 30, 15, 0))
    events = decide(fold(history), RecordReturnVisit(Satisfaction.UNSATISFIED), ctx)
    assert events == [
        ReturnVisitRecorded(Satisfaction.UNSATISFIED),
        IncidentReopened(LIDU, Level.COMMUNITY, Deadlines(resolve_by=at(2024, 10, 13))),
    ]
    state = fold([*history, *events])
    assert state.status is Status.HANDED_DOWN
    assert pending_deadlines(state) == {RESOLVE: at(2024, 10, 13)}


def test_a_reopened_epidemic_order_at_a_street_is_due_that_night(deadline_ctx: Context) -> None:
    command = supply_delivery()
    history = run(
        deadline_ctx, [(at(2020, 2, 8, 9, 0), command), (at(2020, 2, 8, 9, 30), SignFor())]
    ) + [IncidentResolved(CHENQIAO, SUMMARY, OFFICER)]
    ctx = replace(deadline_ctx, now=at(2020, 2, 8, 17, 50))
    assert decide(fold(history), RecordReturnVisit(Satisfaction.UNSATISFIED), ctx)[1] == (
        IncidentReopened(CHENQIAO, Level.STREET, Deadlines(resolve_by=at(2020, 2, 9)))
    )


def test_a_satisfied_return_visit_sets_no_deadlines(deadline_ctx: Context) -> None:
    history = resolved_work_order(deadline_ctx)
    ctx = replace(deadline_ctx, now=at(2024, 9, 30, 15, 0))
    assert decide(fold(history), RecordReturnVisit(Satisfaction.SATISFIED), ctx) == [
        ReturnVisitRecorded(Satisfaction.SATISFIED),
        IncidentClosed(note="return visit: satisfied"),
    ]


# --- breaches and escalation --------------------------------------------------------------


def street_order(ctx: Context) -> list[Event]:
    """A complaint dispatched to Chenqiao on Fri 13 Sep 2024 18:30: sign by 15 Sep 00:00,
    resolve by 24 Sep 00:00."""
    return run(ctx, [(at(2024, 9, 13, 18, 30), work_order())])


def breach(history: list[Event], ctx: Context, kind: DeadlineKind, now: datetime) -> list[Event]:
    return decide(fold(history), RecordBreach(kind), replace(ctx, now=now))


def test_a_breach_before_the_deadline_is_refused(deadline_ctx: Context) -> None:
    history = street_order(deadline_ctx)
    with pytest.raises(DomainError) as raised:
        breach(history, deadline_ctx, SIGN, at(2024, 9, 14, 23, 59))
    assert raised.value.field == "deadline"
    with pytest.raises(DomainError) as raised:
        breach(history, deadline_ctx, SIGN, at(2024, 9, 15) - timedelta(microseconds=1))
    assert raised.value.field == "deadline"


def test_a_missed_sign_deadline_escalates_from_street_to_district(deadline_ctx: Context) -> None:
    history = street_order(deadline_ctx)
    events = breach(history, deadline_ctx, SIGN, at(2024, 9, 15, 9, 0))
    assert events == [
        DeadlineBreached(SIGN, at(2024, 9, 15), CHENQIAO),
        IncidentEscalated(CHENQIAO, DISTRICT, SIGN),
    ]
    state = fold([*history, *events])
    assert state.breached == (SIGN,)
    assert state.escalated_to == DISTRICT
    assert state.status is Status.DISPATCHED  # a breach changes who watches, not the status
    assert pending_deadlines(state) == {RESOLVE: at(2024, 9, 24)}


def test_a_breach_at_the_very_deadline_is_accepted(deadline_ctx: Context) -> None:
    # Due at midnight ending Sat 14 Sep; the watcher at exactly that instant records it.
    history = street_order(deadline_ctx)
    assert breach(history, deadline_ctx, SIGN, at(2024, 9, 15))[0] == DeadlineBreached(
        SIGN, at(2024, 9, 15), CHENQIAO
    )


def test_a_breach_is_recorded_once(deadline_ctx: Context) -> None:
    history = street_order(deadline_ctx)
    history += breach(history, deadline_ctx, SIGN, at(2024, 9, 15, 9, 0))
    with pytest.raises(DomainError) as raised:
        breach(history, deadline_ctx, SIGN, at(2024, 9, 15, 9, 5))
    assert raised.value.field == "deadline"


def test_no_sign_breach_once_signed_for(deadline_ctx: Context) -> None:
    history = run(deadline_ctx, [(at(2024, 9, 14, 9, 0), SignFor())], street_order(deadline_ctx))
    with pytest.raises(DomainError) as raised:
        breach(history, deadline_ctx, SIGN, at(2024, 9, 16, 9, 0))
    assert raised.value.field == "deadline"


def test_a_signed_order_can_still_miss_resolve(deadline_ctx: Context) -> None:
    history = run(deadline_ctx, [(at(2024, 9, 14, 9, 0), SignFor())], street_order(deadline_ctx))
    assert breach(history, deadline_ctx, RESOLVE, at(2024, 9, 24, 0, 1)) == [
        DeadlineBreached(RESOLVE, at(2024, 9, 24), CHENQIAO),
        IncidentEscalated(CHENQIAO, DISTRICT, RESOLVE),
    ]


def test_a_department_escalates_to_the_district(deadline_ctx: Context) -> None:
    history = run(deadline_ctx, [(at(2024, 9, 13, 18, 30), work_order(CDC))])
    assert breach(history, deadline_ctx, SIGN, at(2024, 9, 15, 9, 0)) == [
        DeadlineBreached(SIGN, at(2024, 9, 15), CDC),
        IncidentEscalated(CDC, DISTRICT, SIGN),
    ]


def test_a_community_escalates_to_its_street(deadline_ctx: Context) -> None:
    # Night emergency at Lidu, 23:10: claim by 23:25, resolve by 01:10.
    history = run(deadline_ctx, [(at(2024, 9, 13, 23, 10), night_emergency())])
    events = breach(history, deadline_ctx, CLAIM, at(2024, 9, 13, 23, 26))
    assert events == [
        DeadlineBreached(CLAIM, at(2024, 9, 13, 23, 25), LIDU),
        IncidentEscalated(LIDU, CHENQIAO, CLAIM),
    ]
    history += events
    # Claimed late; then not resolved in time either.
    history += [IncidentClaimed(VOLUNTEER, LIDU, at(2024, 9, 13, 23, 40))]
    with pytest.raises(DomainError):  # claimed: no claim deadline runs (and it was breached)
        breach(history, deadline_ctx, CLAIM, at(2024, 9, 14, 0, 30))
    assert breach(history, deadline_ctx, RESOLVE, at(2024, 9, 14, 1, 11)) == [
        DeadlineBreached(RESOLVE, at(2024, 9, 14, 1, 10), LIDU),
        IncidentEscalated(LIDU, CHENQIAO, RESOLVE),
    ]


def test_a_handed_down_order_breaches_at_the_community(deadline_ctx: Context) -> None:
    history = run(
        deadline_ctx,
        [(at(2024, 9, 14, 9, 0), SignFor()), (at(2024, 9, 14, 10, 0), HandDown())],
        street_order(deadline_ctx),
    )
    assert breach(history, deadline_ctx, RESOLVE, at(2024, 9, 24, 8, 0))[1] == (
        IncidentEscalated(LIDU, CHENQIAO, RESOLVE)
    )


def test_a_redispatch_clears_breaches_and_escalation(deadline_ctx: Context) -> None:
    history = street_order(deadline_ctx)
    history += breach(history, deadline_ctx, SIGN, at(2024, 9, 15, 9, 0))
    # Moved to Binjiang on Mon 30 Sep 2024 18:30 (National Day eve).
    history = run(
        deadline_ctx, [(at(2024, 9, 30, 18, 30), DispatchIncident("gangwen/binjiang"))], history
    )
    state = fold(history)
    assert state.breached == ()
    assert state.escalated_to == ""
    assert state.deadlines == Deadlines(sign_by=at(2024, 10, 9), resolve_by=at(2024, 10, 13))
    assert pending_deadlines(state) == {SIGN: at(2024, 10, 9), RESOLVE: at(2024, 10, 13)}
    # ... so the new sign deadline can be breached in its turn, by the new unit.
    assert breach(history, deadline_ctx, SIGN, at(2024, 10, 9, 9, 0)) == [
        DeadlineBreached(SIGN, at(2024, 10, 9), "gangwen/binjiang"),
        IncidentEscalated("gangwen/binjiang", DISTRICT, SIGN),
    ]


def test_a_reopen_clears_breaches_and_escalation(deadline_ctx: Context) -> None:
    history = run(
        deadline_ctx,
        [(at(2024, 9, 14, 9, 0), SignFor()), (at(2024, 9, 14, 10, 0), HandDown())],
        street_order(deadline_ctx),
    )
    history += breach(history, deadline_ctx, RESOLVE, at(2024, 9, 24, 8, 0))
    history += [IncidentResolved(LIDU, SUMMARY, OFFICER)]
    history = run(
        deadline_ctx,
        [(at(2024, 9, 30, 15, 0), RecordReturnVisit(Satisfaction.UNSATISFIED))],
        history,
    )
    state = fold(history)
    assert (state.breached, state.escalated_to) == ((), "")
    assert pending_deadlines(state) == {RESOLVE: at(2024, 10, 13)}


def test_no_breach_for_a_resolved_order(deadline_ctx: Context) -> None:
    history = resolved_work_order(deadline_ctx)
    with pytest.raises(DomainError) as raised:
        breach(history, deadline_ctx, RESOLVE, at(2024, 10, 1))
    assert raised.value.field == "deadline"


# --- pending deadlines per status ---------------------------------------------------------

STREET_DUE = Deadlines(sign_by=at(2024, 9, 15), resolve_by=at(2024, 9, 24))
NIGHT_DUE = Deadlines(claim_by=at(2024, 9, 13, 23, 25), resolve_by=at(2024, 9, 14, 1, 10))


def _street(*more: Event) -> list[Event]:
    return [
        reported(supply_delivery(), LIDU),
        IncidentDispatched(CHENQIAO, Level.STREET, deadlines=STREET_DUE),
        *more,
    ]


def _night(*more: Event) -> list[Event]:
    return [
        reported(night_emergency(), LIDU),
        IncidentDispatched(LIDU, Level.COMMUNITY, deadlines=NIGHT_DUE),
        *more,
    ]


SIGNED = IncidentSignedFor(CHENQIAO)
HANDED = IncidentHandedDown(LIDU)
CLAIMED = IncidentClaimed(VOLUNTEER, LIDU, at(2024, 9, 13, 23, 40))
RESOLVED = IncidentResolved(LIDU, SUMMARY, OFFICER)
VISITED = ReturnVisitRecorded(Satisfaction.SATISFIED)


@pytest.mark.parametrize(
    ("history", "status", "pending"),
    [
        ([], Status.NEW, {}),
        (_street(), Status.DISPATCHED, {SIGN: STREET_DUE.sign_by, RESOLVE: STREET_DUE.resolve_by}),
        (_street(IncidentReturned(CHENQIAO, DISTRICT, "不属于")), Status.RETURNED, {}),
        (_street(SIGNED), Status.SIGNED, {RESOLVE: STREET_DUE.resolve_by}),
        (_street(SIGNED, HANDED), Status.HANDED_DOWN, {RESOLVE: STREET_DUE.resolve_by}),
        (_street(SIGNED, HANDED, CLAIMED), Status.CLAIMED, {RESOLVE: STREET_DUE.resolve_by}),
        (_street(SIGNED, HANDED, RESOLVED), Status.RESOLVED, {}),
        (_street(SIGNED, HANDED, RESOLVED, VISITED), Status.VISITED, {}),
        (_street(SIGNED, HANDED, RESOLVED, VISITED, IncidentClosed()), Status.CLOSED, {}),
        (_night(), Status.HANDED_DOWN, {CLAIM: NIGHT_DUE.claim_by, RESOLVE: NIGHT_DUE.resolve_by}),
        (_night(CLAIMED), Status.CLAIMED, {RESOLVE: NIGHT_DUE.resolve_by}),
        (_night(CLAIMED, RESOLVED), Status.RESOLVED, {}),
    ],
)
def test_pending_deadlines_per_status(
    history: list[Event], status: Status, pending: dict[DeadlineKind, datetime]
) -> None:
    state = fold(history)
    assert state.status is status
    assert pending_deadlines(state) == pending


def test_a_breached_deadline_is_no_longer_pending() -> None:
    history = _street(DeadlineBreached(SIGN, at(2024, 9, 15), CHENQIAO))
    assert pending_deadlines(fold(history)) == {RESOLVE: STREET_DUE.resolve_by}


def test_a_night_emergency_at_a_street_is_signed_for_in_minutes(policy: DeadlinePolicy) -> None:
    # A night emergency whose place is a street, not a community, goes to the street: it must
    # be signed for (and handed down) as fast as it must be claimed.
    now = at(2024, 9, 13, 23, 10)
    assert policy.on_dispatch(now, Level.STREET, True, False) == Deadlines(
        sign_by=at(2024, 9, 13, 23, 25),
        claim_by=at(2024, 9, 13, 23, 25),
        resolve_by=at(2024, 9, 14, 1, 10),
    )
