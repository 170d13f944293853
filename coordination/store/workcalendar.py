"""The working-day calendar from its sources: the chinese-calendar package and the operator's
calendar file (extra closures and working days, and whole years the package does not know)."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable
from datetime import date, datetime, timedelta
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
    sections = [("extra", data.get("extra", {}))]
    sections += [(f"years.{year}", body) for year, body in data.get("years", {}).items()]
    for name, section in sections:
        extra_closures = set(_days(section, "closures", f"{path}: [{name}]"))
        extra_workdays = set(_days(section, "workdays", f"{path}: [{name}]"))
        closures = (closures - extra_workdays) | extra_closures
        workdays = (workdays - extra_closures) | extra_workdays
    for year in data.get("years", {}):
        if not str(year).isdigit():
            raise ValueError(f"{path}: [years.{year}] is not a year")
        known.add(int(year))
    return WorkingCalendar(frozenset(closures), frozenset(workdays), frozenset(known), timezone)


def missing_years(calendar: WorkingCalendar, today: date) -> list[int]:
    """This year and the next, where the calendar does not know them (deadlines reach ahead)."""
    return [y for y in (today.year, today.year + 1) if not calendar.knows(y)]


def missing_years_warnings(calendar: WorkingCalendar, today: date) -> list[str]:
    """What to tell the operator about the years the calendar lacks."""
    return [
        f"the working-day calendar does not know {year}: deadlines then count weekends only; "
        f"add [years.{year}] to the calendar file"
        for year in missing_years(calendar, today)
    ]


def warn_missing(calendar: WorkingCalendar, today: date) -> list[str]:
    """Log the missing years as warnings (at start-up), and return them."""
    warnings = missing_years_warnings(calendar, today)
    for warning in warnings:
        log.warning(warning)
    return warnings


def _days(section: dict[str, Any], key: str, where: str) -> Iterable[date]:
    entries = section.get(key, [])
    if not isinstance(entries, list):
        raise ValueError(f"{where} {key} must be a list of dates or ranges")
    for entry in entries:
        try:
            yield from _entry(entry)
        except ValueError as exc:
            raise ValueError(f"{where} {key}: {entry!r}: {exc}") from None


def _entry(entry: Any) -> Iterable[date]:
    if isinstance(entry, datetime):
        raise ValueError("a day, not a time of day")
    if isinstance(entry, date):
        yield entry
    elif isinstance(entry, str) and ".." in entry:
        first, last = (date.fromisoformat(part.strip()) for part in entry.split("..", 1))
        if last < first:
            raise ValueError("the range ends before it starts")
        yield from (first + timedelta(days=n) for n in range((last - first).days + 1))
    elif isinstance(entry, str):
        yield date.fromisoformat(entry)
    else:
        raise ValueError("neither a date nor a range")
