"""Working days on the mainland calendar, and the deadlines computed from them.

The calendar is data (closures, swapped working days, the years it knows); where it comes from
(the chinese-calendar package, the operator's file) is the adapters' business. A year the
calendar does not know falls back to weekends only, and the deadlines so computed say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class WorkingCalendar:
    closures: frozenset[date] = frozenset()  # days off: holidays, an outbreak's extended break
    workdays: frozenset[date] = frozenset()  # weekend days worked instead (调休)
    known_years: frozenset[int] = frozenset()
    timezone: str = "Asia/Shanghai"

    def knows(self, year: int) -> bool:
        return year in self.known_years

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.closures:
            return False
        return day.weekday() < 5

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Due:
    """A deadline, and whether it was computed from weekends alone for an unknown year."""

    at: datetime
    fallback: bool = False


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight at the end of ``day``: the last moment of it."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


def add_working_days(calendar: WorkingCalendar, start: datetime, days: int) -> Due:
    """The end of the ``days``-th working day after the local day of ``start``.

    An order dispatched on Friday evening before a holiday is due at the end of the first working
    day after it (which is Saturday, when that Saturday is a swapped working day); one
    dispatched on a swapped working Sunday counts Monday as its first day. The end of a day is
    the midnight that starts the next.
    """
    tz = calendar.tz
    day = start.astimezone(tz).date()
    fallback = not calendar.knows(day.year)
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        fallback = fallback or not calendar.knows(day.year)
        if calendar.is_workday(day):
            counted += 1
    return Due(end_of_day(day, tz), fallback)


def same_day(calendar: WorkingCalendar, start: datetime) -> Due:
    """The end of the local day of ``start`` (疫情工单不过夜: not overnight)."""
    day = start.astimezone(calendar.tz).date()
    return Due(end_of_day(day, calendar.tz))
