"""Dates and times the API accepts lie in one supported range; outside it, a 422 naming them.

Outside that range Python's calendar overflows (year 9999 plus a night is a 500) and the time
zone answers in local mean time (``+08:05:43`` before 1901: not RFC 3339). Every offset an
answer carries is whole minutes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from schemas.base import FIRST_DAY, LAST_DAY

D = "dispatcher@gangwen"
HC = "handler@gangwen/chenqiao"
ADMIN = "admin@gangwen"
LIDU = "gangwen/chenqiao/lidu"

# (path, query argument): every date a query takes.
DATE_ARGS = [
    ("/units/gangwen/duty", "night"),
    ("/units/gangwen/stats", "date"),
    ("/dashboard/units/gangwen", "date"),
    ("/dashboard/today", "date"),
    ("/reports/daily", "date"),
    ("/reports/daily.csv", "date"),
]
OUTSIDE = [
    "9999-12-31",
    "0001-01-01",
    "0576-05-11",
    "1900-01-01",
    (FIRST_DAY - timedelta(days=1)).isoformat(),
    (LAST_DAY + timedelta(days=1)).isoformat(),
]
NOT_RFC3339 = ["20200101", "2020-W01-1", "2020-001", "+02020-01-01"]
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?([+-][0-9:.]+|Z)?")


def test_the_range_is_a_whole_span_of_years() -> None:
    assert f"{FIRST_DAY}..{LAST_DAY}" == "2000-01-01..2096-12-31"


@pytest.mark.parametrize(("path", "arg"), DATE_ARGS)
@pytest.mark.parametrize("value", OUTSIDE + NOT_RFC3339)
def test_a_query_date_outside_the_range_is_a_422_naming_it(
    client: Any,
    auth: Any,
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    path: str,
    arg: str,
    value: str,
) -> None:
    before = log_len()
    response = client.get(path, query_string={arg: value}, headers=auth(ADMIN))
    body = expect_error(response, 422, arg)
    if value in OUTSIDE:
        assert FIRST_DAY.isoformat() in body["message"], body
        assert LAST_DAY.isoformat() in body["message"], body
    assert log_len() == before


def offsets(text: str) -> list[str]:
    """The UTC offsets of every timestamp written in an answer."""
    return [m.group(1) or "" for m in TIMESTAMP.finditer(text)]


@pytest.mark.parametrize(("path", "arg"), DATE_ARGS)
@pytest.mark.parametrize("day", [FIRST_DAY, LAST_DAY])
def test_the_first_and_last_day_are_answered_with_whole_minute_offsets(
    client: Any, auth: Any, path: str, arg: str, day: date
) -> None:
    response = client.get(path, query_string={arg: day.isoformat()}, headers=auth(ADMIN))
    assert response.status_code in (200, 422), response.get_data(as_text=True)
    text = response.get_data(as_text=True)
    if response.status_code == 422:  # a daily report of a day that has not begun
        assert day == LAST_DAY and "has not begun" in text, text
        return
    found = offsets(text)
    assert found or path.startswith("/units/gangwen/stats") or "csv" in path, text
    for offset in found:
        assert offset == "Z" or re.fullmatch(r"[+-]\d\d:\d\d", offset), (offset, text)


@pytest.fixture
def member(client: Any, auth: Any) -> str:
    body = {"staff_id": "zhou.li", "name": "周丽", "unit": LIDU, "kind": "cadre"}
    response = client.post("/staff", json=body, headers=auth(HC))
    assert response.status_code == 201, response.get_data(as_text=True)
    return "zhou.li"


GOOD_START = "2090-03-02T22:00:00+08:00"
GOOD_END = "2090-03-03T06:00:00+08:00"
BAD_MOMENTS = [
    "9999-12-31T20:00:00+08:00",
    "0001-01-01T00:00:00+08:00",  # a 500 today: UTC is before year 1
    "1999-12-31T23:59:59+08:00",
    "2097-01-01T00:00:00+08:00",
    "2090-03-02T22:00:00+08:05:43",  # local mean time: not whole minutes
    "2090-03-02T22:00:00+08:05:43.5",
    "2090-03-02T22:00:00+0800",  # not RFC 3339
    "20900302T220000+08:00",
    "2090-03-02 22:00:00+08:00",
    "2090-03-02T22+08:00",
    "2090-W09-6T22:00:00+08:00",
]


@pytest.mark.parametrize("field", ["start", "end"])
@pytest.mark.parametrize("moment", BAD_MOMENTS)
def test_a_shift_time_outside_the_range_or_not_rfc3339_is_a_422_naming_it(
    client: Any,
    auth: Any,
    member: str,
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    field: str,
    moment: str,
) -> None:
    body = {"shift_id": "night-1", "start": GOOD_START, "end": GOOD_END, field: moment}
    before = log_len()
    response = client.post(f"/staff/{member}/shifts", json=body, headers=auth(HC))
    expect_error(response, 422, field)
    assert log_len() == before
    good = {**body, field: GOOD_START if field == "start" else GOOD_END}
    accepted = client.post(f"/staff/{member}/shifts", json=good, headers=auth(HC))
    assert accepted.status_code == 200, accepted.get_data(as_text=True)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2090-03-02T22:00:00Z", "2090-03-03T06:00:00Z"),
        ("2090-03-02T22:00:00.250+08:00", "2090-03-03T06:00:00+08:00"),
        ("2090-03-02t22:00:00-05:30", "2090-03-03T06:00:00z"),
        ("2096-12-31T10:00:00+08:00", "2096-12-31T18:00:00+08:00"),
    ],
)
def test_rfc3339_times_within_the_range_are_accepted_with_whole_minute_offsets(
    client: Any, auth: Any, member: str, start: str, end: str
) -> None:
    body = {"shift_id": "night-1", "start": start, "end": end}
    response = client.post(f"/staff/{member}/shifts", json=body, headers=auth(HC))
    assert response.status_code == 200, response.get_data(as_text=True)
    for offset in offsets(response.get_data(as_text=True)):
        assert offset == "Z" or re.fullmatch(r"[+-]\d\d:\d\d", offset), offset


def test_each_date_the_api_takes_says_the_range(client: Any) -> None:
    spec = client.get("/openapi.json").get_json()
    seen = 0
    for path, item in spec["paths"].items():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("schema", {}).get("format") in ("date", "date-time"):
                    seen += 1
                    described = parameter.get("description", "")
                    assert FIRST_DAY.isoformat() in described, (path, parameter)
                    assert LAST_DAY.isoformat() in described, (path, parameter)
    assert seen >= len(DATE_ARGS)
    shift = spec["components"]["schemas"]["ScheduleShift"]["properties"]
    for field in ("start", "end"):
        assert shift[field]["format"] == "date-time"
        assert FIRST_DAY.isoformat() in shift[field]["description"]
        assert LAST_DAY.isoformat() in shift[field]["description"]
