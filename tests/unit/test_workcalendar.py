"""The working-day calendar from its sources: the chinese-calendar package's published schedules
and the operator's TOML file (extra closures and working days, whole years the package lacks).

Expected days are read off the State Council's published schedules, noted per case.
"""

from __future__ import annotations

import logging
import textwrap
from datetime import date, timedelta
from pathlib import Path

import pytest

from coordination.config import DEFAULT_CALENDAR_FILE
from coordination.domain.calendar import WorkingCalendar
from coordination.store.workcalendar import load_calendar, missing_years, warn_missing

# The operator's calendar for a year the package does not know (hypothetical 2027 schedule,
# shaped like the example in coordination/data/calendar.toml).
YEAR_2027 = """
    [years.2027]
    closures = [2027-01-01, "2027-02-06..2027-02-12"]
    workdays = [2027-02-14]
"""


def calendar_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "calendar.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> WorkingCalendar:
    return load_calendar(calendar_file(tmp_path, text))


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return load_calendar(DEFAULT_CALENDAR_FILE)


# --- the package's published schedules ----------------------------------------------------


def test_the_package_knows_its_years_and_not_the_next(calendar: WorkingCalendar) -> None:
    # chinese-calendar 1.11 publishes 2004-2026; 2027's schedule is not out yet.
    assert calendar.knows(2004)
    assert calendar.knows(2020)
    assert calendar.knows(2026)
    assert not calendar.knows(2003)
    assert not calendar.knows(2027)
    assert calendar.timezone == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("day", "working"),
    [
        # Mid-Autumn 2024: Sun 15 - Tue 17 Sep off; Sat 14 Sep worked instead (调休).
        (date(2024, 9, 13), True),
        (date(2024, 9, 14), True),
        (date(2024, 9, 15), False),
        (date(2024, 9, 16), False),
        (date(2024, 9, 17), False),
        (date(2024, 9, 18), True),
        # National Day 2024: 1-7 Oct off; Sun 29 Sep and Sat 12 Oct worked instead.
        (date(2024, 9, 28), False),  # an ordinary Saturday
        (date(2024, 9, 29), True),
        (date(2024, 9, 30), True),
        (date(2024, 10, 1), False),
        (date(2024, 10, 7), False),
        (date(2024, 10, 8), True),
        (date(2024, 10, 12), True),
        (date(2024, 10, 13), False),
        # Spring Festival 2020: 24-30 Jan, extended by the State Council to Sun 2 Feb. The
        # original schedule had Sat 1 Feb as a swapped working day; the extension cancelled it.
        (date(2020, 1, 19), True),  # the swapped Sunday before the festival
        (date(2020, 1, 23), True),
        (date(2020, 1, 24), False),
        (date(2020, 1, 31), False),
        (date(2020, 2, 1), False),
        (date(2020, 2, 2), False),
        (date(2020, 2, 3), True),
    ],
)
def test_published_schedules(calendar: WorkingCalendar, day: date, working: bool) -> None:
    assert calendar.is_workday(day) is working


def test_the_shipped_file_adds_nothing_to_the_package() -> None:
    assert load_calendar(DEFAULT_CALENDAR_FILE) == load_calendar(None)


def test_the_timezone_is_passed_through() -> None:
    assert load_calendar(None, timezone="Asia/Urumqi").timezone == "Asia/Urumqi"


# --- parsing the operator's file ----------------------------------------------------------


def test_toml_dates_and_inclusive_ranges(tmp_path: Path) -> None:
    # Hubei-style extension: 3-7 Feb 2020 (Mon-Fri) closed on top of the national break; the
    # range includes both its ends. A single-day range and spaces around ".." are fine too.
    cal = load(
        tmp_path,
        """
        [extra]
        closures = [2020-02-03, " 2020-02-04 .. 2020-02-06 ", "2020-02-07..2020-02-07"]
        workdays = [2020-02-08]
        """,
    )
    for day in range(3, 8):
        assert not cal.is_workday(date(2020, 2, day)), day
    assert cal.is_workday(date(2020, 2, 8))  # a Saturday listed as a working day
    assert not cal.is_workday(date(2020, 2, 9))  # an ordinary Sunday
    assert cal.is_workday(date(2020, 2, 10))
    assert {date(2020, 2, d) for d in range(3, 8)} <= cal.closures


def test_an_empty_file_is_the_package_alone(tmp_path: Path) -> None:
    assert load(tmp_path, "") == load_calendar(None)


def test_a_reversed_range_is_refused_naming_it(tmp_path: Path) -> None:
    text = '[extra]\nclosures = ["2020-02-09..2020-02-03"]\n'
    with pytest.raises(ValueError, match="2020-02-09..2020-02-03"):
        load(tmp_path, text)


def test_a_reversed_range_in_a_year_section_is_refused(tmp_path: Path) -> None:
    text = '[years.2027]\nworkdays = ["2027-02-20..2027-02-14"]\n'
    with pytest.raises(ValueError, match="2027-02-20..2027-02-14"):
        load(tmp_path, text)


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ("20200203", "20200203"),  # a TOML integer, not a date
        ('"tomorrow"', "tomorrow"),  # a string that is neither a date nor a range
        ("10:00:00", r"time\(10, 0\)"),  # a TOML local time
        ("true", "True"),
    ],
)
def test_a_non_date_entry_is_refused_naming_it(tmp_path: Path, entry: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        load(tmp_path, f"[extra]\nclosures = [{entry}]\n")


@pytest.mark.parametrize(
    "entry",
    [
        "2020-02-03..soon",  # the message names only the bad half, 'soon'
        "2020-02-30",  # the message is "day is out of range for month", naming nothing
    ],
)
def test_a_malformed_date_string_is_refused(tmp_path: Path, entry: str) -> None:
    # Refused, but without naming the whole entry (or the section): see the report.
    with pytest.raises(ValueError):
        load(tmp_path, f'[extra]\nclosures = ["{entry}"]\n')


def test_a_file_workday_overrides_a_package_closure(tmp_path: Path) -> None:
    # Mon 7 Oct 2024 is a National Day closure in the package; the operator works it.
    cal = load(tmp_path, "[extra]\nworkdays = [2024-10-07]\n")
    assert cal.is_workday(date(2024, 10, 7))
    assert date(2024, 10, 7) not in cal.closures
    assert not cal.is_workday(date(2024, 10, 6))  # the rest of the break stands


def test_a_file_closure_overrides_a_package_workday(tmp_path: Path) -> None:
    # Sat 14 Sep 2024 is a swapped working day in the package; the operator closes it.
    cal = load(tmp_path, "[extra]\nclosures = [2024-09-14]\n")
    assert not cal.is_workday(date(2024, 9, 14))
    assert date(2024, 9, 14) not in cal.workdays
    assert cal.is_workday(date(2024, 9, 29))  # the other swapped day stands


def test_a_year_section_makes_the_year_known_with_its_days(tmp_path: Path) -> None:
    cal = load(tmp_path, YEAR_2027)
    assert cal.knows(2027)
    assert not cal.knows(2028)
    assert not cal.is_workday(date(2027, 1, 1))  # listed closure, a Friday
    assert cal.is_workday(date(2027, 1, 4))  # an ordinary Monday
    for day in range(6, 13):  # the listed range, Sat 6 - Fri 12 Feb
        assert not cal.is_workday(date(2027, 2, day)), day
    assert not cal.is_workday(date(2027, 2, 13))  # an ordinary Saturday: weekends are off
    assert cal.is_workday(date(2027, 2, 14))  # listed working Sunday
    assert cal.is_workday(date(2020, 2, 3))  # the package's years are untouched
    assert not cal.is_workday(date(2020, 2, 2))


def test_extra_days_in_an_unknown_year_do_not_make_it_known(tmp_path: Path) -> None:
    cal = load(tmp_path, "[extra]\nclosures = [2027-01-01]\n")
    assert not cal.is_workday(date(2027, 1, 1))
    assert not cal.knows(2027)


# --- the years the calendar lacks ---------------------------------------------------------


def test_missing_years_without_the_next_years_schedule(calendar: WorkingCalendar) -> None:
    # Late 2026: deadlines soon reach into 2027, which the package does not know.
    assert missing_years(calendar, date(2026, 11, 29)) == [2027]
    assert missing_years(calendar, date(2025, 6, 1)) == []  # 2025 and 2026 both published
    assert missing_years(calendar, date(2030, 6, 1)) == [2030, 2031]


def test_missing_years_with_the_year_in_the_file(tmp_path: Path) -> None:
    assert missing_years(load(tmp_path, YEAR_2027), date(2026, 11, 29)) == []


def test_warn_missing_names_the_year_and_the_section_to_add(
    calendar: WorkingCalendar, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="coordination.store.workcalendar"):
        warnings = warn_missing(calendar, date(2026, 11, 29))
    assert len(warnings) == 1
    assert "2027" in warnings[0]
    assert "[years.2027]" in warnings[0]
    records = [r for r in caplog.records if r.name == "coordination.store.workcalendar"]
    assert [r.levelno for r in records] == [logging.WARNING]
    assert records[0].getMessage() == warnings[0]


def test_warn_missing_is_silent_when_the_years_are_known(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="coordination.store.workcalendar"):
        assert warn_missing(load(tmp_path, YEAR_2027), date(2026, 11, 29)) == []
    assert not [r for r in caplog.records if r.name == "coordination.store.workcalendar"]


def test_warn_missing_for_a_far_year_names_both(
    calendar: WorkingCalendar, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="coordination.store.workcalendar"):
        warnings = warn_missing(calendar, date(2030, 1, 1))
    assert ["[years.2030]" in warnings[0], "[years.2031]" in warnings[1]] == [True, True]
    assert len([r for r in caplog.records if r.name == "coordination.store.workcalendar"]) == 2


@pytest.mark.parametrize("year", [2027, 2030])
def test_an_unknown_year_never_raises_and_counts_weekends(
    calendar: WorkingCalendar, year: int
) -> None:
    # Unlike chinese_calendar.is_workday, which raises NotImplementedError past its data.
    for day in (date(year, 1, 1) + timedelta(days=n) for n in range(365)):
        assert calendar.is_workday(day) is (day.weekday() < 5), day


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[extra]\nclosures = [2020-02-03T10:00:00]\n", "a day, not a time of day"),
        ('[extra]\nclosures = ["2020-02-30"]\n', "'2020-02-30'"),
        ('[extra]\nclosures = "2020-02-03"\n', "must be a list"),
        ("[years.next]\nclosures = []\n", "[years.next] is not a year"),
    ],
)
def test_file_errors_name_the_section_and_the_entry(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ValueError) as raised:
        load(tmp_path, text)
    assert named in str(raised.value)
    assert "calendar" in str(raised.value), "the message names the file"
