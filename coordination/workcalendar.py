"""The working-day calendar from its sources: the chinese-calendar package and the operator's
calendar file (extra closures and working days, and whole years the package does not know)."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar

from coordination.domain.calendar import WorkingCalendar

log = logging.getLogger(__name__)


def load_calendar(path: Path | None, timezone: str = "Asia/Shanghai") -> WorkingCalendar:
    """The package's years, with the file's extras and years laid over them."""
    closures = set(chinese_calendar.holidays)
    workdays = set(chinese_calendar.workdays)
    years = {d.year for d in closures | workdays}
    known = set(range(min(years), max(years) + 1))
    data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8")) if path else {}
    for section in [data.get("extra", {}), *data.get("years", {}).values()]:
        extra_closures = set(_days(section.get("closures", [])))
        extra_workdays = set(_days(section.get("workdays", [])))
        closures = (closures - extra_workdays) | extra_closures
        workdays = (workdays - extra_closures) | extra_workdays
    for year in data.get("years", {}):
        known.add(int(year))
    return WorkingCalendar(frozenset(closures), frozenset(workdays), frozenset(known), timezone)


def missing_years(calendar: WorkingCalendar, today: date) -> list[int]:
    """This year and the next, where the calendar does not know them (deadlines reach ahead)."""
    return [y for y in (today.year, today.year + 1) if not calendar.knows(y)]


def warn_missing(calendar: WorkingCalendar, today: date) -> list[str]:
    warnings = [
        f"the working-day calendar does not know {year}: deadlines then count weekends only; "
        f"add [years.{year}] to the calendar file"
        for year in missing_years(calendar, today)
    ]
    for warning in warnings:
        log.warning(warning)
    return warnings


def _days(entries: Iterable[Any]) -> Iterable[date]:
    for entry in entries:
        if isinstance(entry, date):
            yield entry
        elif isinstance(entry, str) and ".." in entry:
            first, last = (date.fromisoformat(part.strip()) for part in entry.split("..", 1))
            if last < first:
                raise ValueError(f"calendar range {entry!r} ends before it starts")
            yield from (first + timedelta(days=n) for n in range((last - first).days + 1))
        elif isinstance(entry, str):
            yield date.fromisoformat(entry)
        else:
            raise ValueError(f"calendar entry {entry!r} is neither a date nor a range")
