"""The daily report (日报) end to end: a hand-worked Monday through the API at an injected
clock (projected by an explicit catch-up), reported as JSON, as CSV (with a BOM), as an Excel
workbook and by the CLI; the same bytes (the same cells) after later events and after
``coordination projections rebuild``; no resident's name, phone or address anywhere; and who
may read it.

Monday 2026-03-02 (an epidemic order is done by 03-03 00:00):

  09:00  A  epidemic work order at 丽都 -> chenqiao; signed 09:10; resolved 11:00; called back
            satisfied 12:00
  09:30  B  epidemic supply delivery at 望海 -> binjiang; signed 10:00; resolved 23:59
  10:00  C  work order at 丽都 -> chenqiao; unsigned (due 03-04 00:00)
  11:00  Q  quarantine visit at 丽都 (epidemic) -> chenqiao; signed 11:10, handed down to lidu;
            resolved 03-03 00:01, a minute late (due 03-03 00:00: not late at the day's end)
  22:00  N  night emergency at 陈桥街道 -> chenqiao; sign_by 22:15 passes; the watch at 22:20
            escalates it to the district; still unsigned at the day's end: 105 minutes late
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import redis as redis_lib
from click.testing import CliRunner
from clock import Clock
from flask import Flask
from people import (
    ADMIN,
    CHENQIAO,
    DISTRICT,
    FL,
    HB,
    HC,
    LIDU,
    RESOLVE,
    VIEWER,
    Api,
    D,
    at,
    make_app,
)
from people import report_body as people_report_body

from coordination.cli import main
from coordination.domain.access import Actor, Role
from coordination.domain.commands import CorrectDonation, ReceiveDonation
from coordination.domain.values import Cash, Contact, Donor, DonorKind, Earmark, Line
from coordination.projections.reports import CSV_COLUMNS
from schemas.reports import DailyReportSchema

MONDAY = "2026-03-02"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The residents of the fixtures: none of this may appear in a report or a dashboard.
PERSONAL = ("张三", "13812345678", "丽都花园3栋201室", "3栋201", "李四", "13987654321")


@pytest.fixture
def clock() -> Clock:
    return Clock(at(2026, 3, 2, 9, 0))


@pytest.fixture
def app(redis_url: str, redis: redis_lib.Redis, clock: Clock) -> Flask:
    return make_app(redis_url, redis, clock)


@pytest.fixture
def api(app: Flask, tokens: dict[str, str]) -> Api:
    return Api(app, tokens)


def report_body(kind: str, **overrides: Any) -> dict[str, Any]:
    body = people_report_body(kind, **overrides)
    body["description"] = "来电人张三, 电话13812345678, 住丽都花园3栋201室"
    return body


def monday(api: Api, clock: Clock) -> dict[str, str]:
    ids: dict[str, str] = {}

    def report(name: str, when: tuple[int, int], kind: str, **overrides: Any) -> None:
        clock.now = at(2026, 3, 2, *when)
        ids[name] = api.report(report_body(kind, **overrides))["id"]

    def act(as_: str, name: str, action: str, when: tuple[int, ...], body: Any = None) -> None:
        clock.now = at(2026, 3, *when)
        api.act(as_, ids[name], action, body)

    report("A", (9, 0), "work_order", epidemic=True)
    act(HC, "A", "sign-for", (2, 9, 10))
    act(HC, "A", "resolve", (2, 11, 0), RESOLVE)
    act(D, "A", "return-visit", (2, 12, 0), {"result": "satisfied"})
    report("B", (9, 30), "supply_delivery", place="望海", epidemic=True)
    act(HB, "B", "sign-for", (2, 10, 0))
    act(HB, "B", "resolve", (2, 23, 59), RESOLVE)
    report("C", (10, 0), "work_order")
    report("Q", (11, 0), "quarantine_visit")
    act(HC, "Q", "sign-for", (2, 11, 10))
    act(HC, "Q", "hand-down", (2, 11, 20), {"community": LIDU})
    report("N", (22, 0), "night_emergency", place="陈桥街道")
    clock.now = at(2026, 3, 2, 22, 20)
    api.services.projector.catch_up(DISTRICT)
    assert api.watch(api.head()) == 1
    act(HC, "Q", "resolve", (3, 0, 1), RESOLVE)
    api.services.projector.catch_up(DISTRICT)
    return ids


def get_report(api: Api, as_: str = D, accept: str | None = None, **query: Any) -> Any:
    headers = api.headers(as_)
    if accept:
        headers["Accept"] = accept
    return api.client.get("/reports/daily", query_string=query, headers=headers)


def day_row(**overrides: Any) -> dict[str, Any]:
    """A by-unit or by-kind line of nothing, with ``overrides``."""
    row: dict[str, Any] = {
        "reported": 0,
        "epidemic": 0,
        "epidemic_share": None,
        "signed": timeliness(),
        "resolved": timeliness(),
        "visits": visits(),
        "escalated": 0,
        "reopened": 0,
        "breached": 0,
        "linked_calls": 0,
    }
    row.update(overrides)
    row["calls"] = row["reported"] + row["linked_calls"]  # no repeated calls unless told
    return row


def timeliness(on_time: int = 0, late: int = 0, rate: float | None = None, **more: Any) -> Any:
    found = {
        "on_time": on_time,
        "late": late,
        "no_deadline": 0,
        "on_time_rate": rate,
        "median_seconds": None,
        "p90_seconds": None,
    }
    found.update(more)
    return found


def visits(satisfied: int = 0) -> dict[str, Any]:
    return {
        "satisfied": satisfied,
        "basically_satisfied": 0,
        "unsatisfied": 0,
        "total": satisfied,
        "satisfaction_rate": 1.0 if satisfied else None,
    }


def test_mondays_report_by_hand(api: Api, clock: Clock) -> None:
    ids = monday(api, clock)
    clock.now = at(2026, 3, 3, 9, 0)
    response = get_report(api, date=MONDAY)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    report = response.get_json()
    assert DailyReportSchema().dump(report) == report  # the schema says what is sent
    assert (report["district"], report["district_name"], report["date"]) == (
        DISTRICT,
        "港闻区",
        MONDAY,
    )
    assert report["as_of"] == "2026-03-03T00:00:00+08:00"  # the day is over: its end
    assert report["total"] == day_row(
        reported=5,  # A B C Q N
        epidemic=3,  # A B Q
        epidemic_share=0.6,
        signed=timeliness(3, 0, 1.0, median_seconds=600, p90_seconds=1800),
        resolved=timeliness(2, 0, 1.0, median_seconds=7200, p90_seconds=52140),
        visits=visits(1),
        escalated=1,
        breached=1,
    )
    kinds = {row.pop("kind"): row for row in report["by_kind"]}
    assert list(kinds) == ["supply_delivery", "quarantine_visit", "night_emergency", "work_order"]
    assert kinds["night_emergency"] == day_row(
        reported=1, epidemic_share=0.0, escalated=1, breached=1
    )
    assert kinds["work_order"]["reported"] == 2 and kinds["work_order"]["epidemic_share"] == 0.5
    units = {row["unit"]: row for row in report["by_unit"]}
    assert list(units) == [
        "gangwen/binjiang",
        "gangwen/cdc",
        "gangwen/chenqiao",
        "gangwen/health",
        "gangwen/kaifaqu",
        "gangwen/market",
    ]
    chenqiao = units[CHENQIAO]
    assert (chenqiao["name"], chenqiao["level"]) == ("陈桥街道", "street")
    assert (chenqiao["reported"], chenqiao["epidemic"], chenqiao["epidemic_share"]) == (4, 2, 0.5)
    assert chenqiao["resolved"]["on_time"] == 1 and chenqiao["visits"]["satisfaction_rate"] == 1.0
    assert units["gangwen/binjiang"]["resolved"]["median_seconds"] == 52140  # 09:30 to 23:59
    assert units["gangwen/cdc"]["reported"] == 0
    assert units["gangwen/cdc"]["visits"]["satisfaction_rate"] is None
    # Overdue at the day's end: N's signing, 105 minutes; Q's resolve_by falls due just then.
    assert report["overdue"] == [
        {
            "incident": ids["N"],
            "kind": "night_emergency",
            "unit": CHENQIAO,
            "unit_name": "陈桥街道",
            "deadline": "sign_by",
            "due_at": "2026-03-02T22:15:00+08:00",
            "minutes_late": 105,
        }
    ]


def test_todays_report_is_as_of_now_with_a_minute_late_resolution(api: Api, clock: Clock) -> None:
    ids = monday(api, clock)
    clock.now = at(2026, 3, 3, 9, 0)
    report = api.ok(get_report(api, VIEWER, date="2026-03-03"))
    assert report["as_of"] == "2026-03-03T09:00:00+08:00"
    assert report["total"]["resolved"] == timeliness(
        0,
        1,
        0.0,
        median_seconds=46860,
        p90_seconds=46860,  # Q: 11:00 to 00:01
    )
    assert report["total"]["reported"] == 0 and report["total"]["epidemic_share"] is None
    assert [(o["incident"], o["deadline"], o["minutes_late"]) for o in report["overdue"]] == [
        (ids["N"], "sign_by", 645),
        (ids["N"], "resolve_by", 540),  # due 00:00; Q's was done at 00:01: no longer late
    ]


def test_the_report_as_csv(api: Api, clock: Clock) -> None:
    ids = monday(api, clock)
    clock.now = at(2026, 3, 3, 9, 0)
    by_accept = get_report(api, ADMIN, accept="text/csv", date=MONDAY)
    by_suffix = api.client.get(
        "/reports/daily.csv", query_string={"date": MONDAY}, headers=api.headers(D)
    )
    for response in (by_accept, by_suffix):
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "text/csv"
        assert response.mimetype_params == {"charset": "utf-8"}
        assert "daily-gangwen-2026-03-02.csv" in response.headers["Content-Disposition"]
    assert by_accept.data == by_suffix.data
    assert by_accept.data.startswith(b"\xef\xbb\xbfdate,as_of,section,")  # UTF-8's BOM first
    rows = list(csv.reader(io.StringIO(by_accept.data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    sections = [r["section"] for r in records]
    assert sections[:12] == ["total"] + ["kind"] * 4 + ["unit"] * 6 + ["overdue"]
    # then the day's supplies (the fixture's stock, B's masks): test_the_days_supplies_lines
    assert set(sections[12:]) == {"donations", "donated", "issued"}
    assert {r["date"] for r in records} == {MONDAY}
    total = records[0]
    assert (total["reported"], total["epidemic_share"], total["visits_satisfaction_rate"]) == (
        "5",
        "0.6",
        "1.0",
    )
    cdc = next(r for r in records if r["unit"] == "gangwen/cdc")
    assert (cdc["unit_name"], cdc["reported"], cdc["visits_satisfaction_rate"]) == (
        "区疾控中心",
        "0",
        "",
    )
    overdue = records[11]
    assert (overdue["incident"], overdue["unit_name"], overdue["minutes_late"]) == (
        ids["N"],
        "陈桥街道",
        "105",
    )
    assert api.ok(get_report(api, accept="application/json", date=MONDAY))["date"] == MONDAY


# The Chinese headers of a day's figures, in their order on every sheet that has them.
FIGURE_HEADERS = (
    "新增工单",
    "疫情工单",
    "疫情工单占比",
    "按时签收",
    "超时签收",
    "签收(无时限)",
    "按时签收率",
    "签收用时中位数(秒)",
    "签收用时P90(秒)",
    "按时办结",
    "超时办结",
    "办结(无时限)",
    "按时办结率",
    "办结用时中位数(秒)",
    "办结用时P90(秒)",
    "回访满意",
    "回访基本满意",
    "回访不满意",
    "回访总数",
    "满意率",
    "督办升级",
    "重办",
    "超时次数",
    "受理量",
    "重复件",
)


def figure_cells(row: dict[str, Any]) -> tuple[Any, ...]:
    """A JSON report's figures in the order of ``FIGURE_HEADERS``."""
    signed, resolved, visits = row["signed"], row["resolved"], row["visits"]
    timeliness = ("on_time", "late", "no_deadline", "on_time_rate", "median_seconds")
    return (
        row["reported"],
        row["epidemic"],
        row["epidemic_share"],
        *(signed[k] for k in timeliness),
        signed["p90_seconds"],
        *(resolved[k] for k in timeliness),
        resolved["p90_seconds"],
        visits["satisfied"],
        visits["basically_satisfied"],
        visits["unsatisfied"],
        visits["total"],
        visits["satisfaction_rate"],
        row["escalated"],
        row["reopened"],
        row["breached"],
        row["calls"],
        row["linked_calls"],
    )


def cells(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    """Each sheet of a workbook by title, its rows' values (an empty cell is None)."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book}


def test_the_report_as_an_excel_workbook(api: Api, clock: Clock) -> None:
    ids = monday(api, clock)
    clock.now = at(2026, 3, 3, 9, 0)
    report = api.ok(get_report(api, date=MONDAY))
    by_accept = get_report(api, VIEWER, accept=XLSX, date=MONDAY)
    by_suffix = api.client.get(
        "/reports/daily.xlsx", query_string={"date": MONDAY}, headers=api.headers(D)
    )
    for response in (by_accept, by_suffix):
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == XLSX
        assert response.headers["Content-Disposition"] == (
            'attachment; filename="daily-gangwen-2026-03-02.xlsx"'
        )
    sheets = cells(by_accept.data)
    assert cells(by_suffix.data) == sheets
    assert list(sheets) == ["合计", "按类别", "按单位", "超期工单", "捐赠", "物资收发"]
    assert sheets["合计"] == [
        ("日期", "截至", *FIGURE_HEADERS),
        (datetime(2026, 3, 2), datetime(2026, 3, 3), *figure_cells(report["total"])),
    ]
    assert sheets["合计"][1][2:6] == (5, 3, 0.6, 3)  # reported, epidemic, share, signed on time
    assert sheets["按类别"] == [
        ("类别", *FIGURE_HEADERS),
        *((row["kind"], *figure_cells(row)) for row in report["by_kind"]),
    ]
    assert sheets["按单位"] == [
        ("单位编号", "单位名称", "层级", *FIGURE_HEADERS),
        *(
            (row["unit"], row["name"], row["level"], *figure_cells(row))
            for row in report["by_unit"]
        ),
    ]
    cdc = next(row for row in sheets["按单位"] if row[0] == "gangwen/cdc")
    assert cdc[1:4] == ("区疾控中心", "department", 0) and cdc[22] is None  # no visits: no rate
    assert sheets["超期工单"] == [
        ("工单编号", "类别", "单位编号", "单位名称", "时限", "到期时间", "超时(分钟)"),
        (
            ids["N"],
            "night_emergency",
            CHENQIAO,
            "陈桥街道",
            "sign_by",
            datetime(2026, 3, 2, 22, 15),
            105,
        ),
    ]

    book = openpyxl.load_workbook(io.BytesIO(by_accept.data))
    total, units, overdue = book["合计"], book["按单位"], book["超期工单"]
    assert all(sheet.freeze_panes == "A2" and sheet["A1"].font.b for sheet in book)
    assert (total["E2"].number_format, total["B2"].number_format) == (
        "0.00%",
        "yyyy-mm-dd hh:mm:ss",
    )
    assert overdue["F2"].number_format == "yyyy-mm-dd hh:mm:ss"
    # Wide enough for the widest text, a Chinese character counting two: 区疾控中心, 签收用时….
    assert 10 < units.column_dimensions["B"].width <= 60
    assert total.column_dimensions["J"].width >= 18  # 签收用时中位数(秒): 8 wide, 2 narrow
    assert overdue.column_dimensions["A"].width >= len(ids["N"])


def test_no_residents_name_phone_or_address_in_reports_or_dashboards(
    api: Api, clock: Clock
) -> None:
    monday(api, clock)
    clock.now = at(2026, 3, 3, 9, 0)
    outputs = [
        get_report(api, date=MONDAY).data,
        get_report(api, date="2026-03-03").data,
        get_report(api, accept="text/csv", date=MONDAY).data,
        repr(cells(get_report(api, accept=XLSX, date=MONDAY).data)).encode(),
        api.get(ADMIN, f"/dashboard/units/{DISTRICT}", date=MONDAY).data,
        api.get(HC, f"/dashboard/units/{LIDU}").data,
    ]
    # The incident itself does carry them (to a dispatcher): the fixtures do hold them.
    assert "13812345678" in api.get(D, f"/incidents/{monday_ids(api)[0]}").get_data(as_text=True)
    for raw in outputs:
        text = raw.decode("utf-8")
        for personal in PERSONAL:
            assert personal not in text, (personal, text[:200])


def monday_ids(api: Api) -> list[str]:
    page = api.ok(api.get(ADMIN, "/incidents", limit=10))
    return [item["id"] for item in page["items"]]


def test_a_past_days_report_is_the_same_bytes_later_and_after_a_rebuild(
    api: Api, clock: Clock, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = monday(api, clock)
    clock.now = at(2026, 3, 3, 9, 0)
    first_json = get_report(api, date=MONDAY).data
    first_csv = get_report(api, accept="text/csv", date=MONDAY).data
    first_xlsx = cells(get_report(api, accept=XLSX, date=MONDAY).data)
    # Tuesday goes on: N is signed for and resolved, C too; Monday's report does not change.
    clock.now = at(2026, 3, 3, 9, 30)
    api.act(HC, ids["N"], "sign-for")
    api.act(HC, ids["N"], "resolve", RESOLVE)
    api.act(HC, ids["C"], "sign-for")
    api.services.projector.catch_up(DISTRICT)
    assert get_report(api, date=MONDAY).data == first_json
    assert get_report(api, accept="text/csv", date=MONDAY).data == first_csv
    assert cells(get_report(api, accept=XLSX, date=MONDAY).data) == first_xlsx

    monkeypatch.setenv("REDIS_URL", redis_url)
    runner = CliRunner()
    rebuilt = runner.invoke(main, ["projections", "rebuild", "--partition", DISTRICT])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "generation=2" in rebuilt.output
    assert get_report(api, date=MONDAY).data == first_json
    assert get_report(api, accept="text/csv", date=MONDAY).data == first_csv
    assert cells(get_report(api, accept=XLSX, date=MONDAY).data) == first_xlsx

    # The CLI writes the very same bytes.
    for fmt, expected in (("json", first_json), ("csv", first_csv)):
        out = tmp_path / f"monday.{fmt}"
        args = ["reports", "daily", "--date", MONDAY, "--format", fmt, "--output", str(out)]
        written = runner.invoke(main, args)
        assert written.exit_code == 0, written.output
        assert out.read_bytes() == expected
    printed = runner.invoke(main, ["reports", "daily", "--date", MONDAY, "--district", DISTRICT])
    assert printed.exit_code == 0 and json.loads(printed.stdout)["date"] == MONDAY
    wrong = runner.invoke(main, ["reports", "daily", "--date", MONDAY, "--district", CHENQIAO])
    assert wrong.exit_code != 0 and "not a district" in wrong.output


def test_who_may_read_the_daily_report(api: Api, clock: Clock, expect_error: Any) -> None:
    api.services.projector.catch_up(DISTRICT)
    for allowed in (D, VIEWER, ADMIN):
        assert get_report(api, allowed, date=MONDAY).status_code == 200
    expect_error(get_report(api, HC, date=MONDAY), 403, "role")
    xlsx = api.client.get(
        "/reports/daily.xlsx", query_string={"date": MONDAY}, headers=api.headers(HC)
    )
    expect_error(xlsx, 403, "role")
    expect_error(get_report(api, FL, date=MONDAY), 403, "role")
    expect_error(get_report(api, "viewer@gangwen/binjiang", date=MONDAY), 404)
    expect_error(get_report(api, D, date=MONDAY, district=CHENQIAO), 404)  # not a district
    expect_error(get_report(api, D, date=MONDAY, district="nowhere"), 404)
    expect_error(get_report(api, D, date="2026-03-03"), 422, "date")  # has not begun
    expect_error(get_report(api, D), 422, "date")
    assert api.client.get("/reports/daily", query_string={"date": MONDAY}).status_code == 401


# --- the day's supplies: donations received and supplies issued, per unit ------------------

WEDNESDAY = "2026-03-04"
GONGYUAN = "gangwen/chenqiao/gongyuan"
HUAQIAO = "gangwen/chenqiao/huaqiao"


def supplies_week(api: Api, clock: Clock) -> None:
    """Tuesday 84 disinfectant for 公园社区; on Wednesday it is corrected (40 斤 fewer),
    tissues come to 花桥社区, alcohol and ¥150,000 (two earmarks) to 陈桥街道, and 丽都社区
    delivers 50 masks (from the stock the fixture gave it on Monday)."""
    ledgers = api.services.supplies
    admin = Actor(ADMIN, Role.ADMIN, DISTRICT)

    def donate(unit: str, donor: Donor, *lines: Line, cash: Cash | None = None) -> str:
        command = ReceiveDonation(unit, donor, "物资保障组", items=lines, cash=cash)
        receipt: str = ledgers.execute(admin, unit, command).event.receipt
        return receipt

    clock.now = at(2026, 3, 3, 15, 0)
    receipt = donate(GONGYUAN, Donor(DonorKind.ORGANISATION, "某慈善会"), Line("84消毒液", 1040))
    clock.now = at(2026, 3, 4, 9, 0)
    ledgers.execute(
        admin, GONGYUAN, CorrectDonation(receipt, "过磅复核", (Line("84消毒液", 1000),))
    )
    donate(HUAQIAO, Donor(DonorKind.ORGANISATION, "某公司党支部"), Line("纸巾", 2))
    cash = Cash(
        15_000_000, (Earmark("支援武汉医护人员", 8_000_000), Earmark("一线防护", 7_000_000))
    )
    donate(CHENQIAO, Donor(DonorKind.COMPANY, "某药业公司"), Line("医用酒精", 5), cash=cash)
    donate(CHENQIAO, Donor(DonorKind.INDIVIDUAL, anonymous=True), Line("医用酒精", 1))
    clock.now = at(2026, 3, 4, 10, 0)
    order = api.handed_down(people_report_body("supply_delivery", place="丽都"), LIDU)["id"]
    clock.now = at(2026, 3, 4, 11, 0)
    api.act(HC, order, "resolve", RESOLVE)
    clock.now = at(2026, 3, 5, 1, 0)  # the next day: a delivery then is not Wednesday's
    order = api.handed_down(people_report_body("supply_delivery", place="丽都"), LIDU)["id"]
    api.act(HC, order, "resolve", RESOLVE)
    api.services.projector.catch_up(DISTRICT)


def test_the_days_supplies_lines(
    api: Api, clock: Clock, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    supplies_week(api, clock)
    clock.now = at(2026, 3, 5, 9, 0)
    report = api.ok(get_report(api, date=WEDNESDAY))
    assert DailyReportSchema().dump(report) == report
    assert report["supplies"] == [
        {
            "unit": CHENQIAO,
            "name": "陈桥街道",
            "level": "street",
            "donations": {
                "count": 2,
                "corrections": 0,
                "items": [{"item": "医用酒精", "quantity": 6, "measure": "桶"}],
                "cash_fen": 15_000_000,
            },
            "issued": [],
        },
        {
            "unit": GONGYUAN,
            "name": "公园社区",
            "level": "community",
            "donations": {
                "count": 0,
                "corrections": 1,
                "items": [{"item": "84消毒液", "quantity": -40, "measure": "斤"}],
                "cash_fen": 0,
            },
            "issued": [],
        },
        {
            "unit": HUAQIAO,
            "name": "花桥社区",
            "level": "community",
            "donations": {
                "count": 1,
                "corrections": 0,
                "items": [{"item": "纸巾", "quantity": 2, "measure": "箱"}],
                "cash_fen": 0,
            },
            "issued": [],
        },
        {
            "unit": LIDU,
            "name": "丽都社区",
            "level": "community",
            "donations": {"count": 0, "corrections": 0, "items": [], "cash_fen": 0},
            "issued": [{"item": "口罩", "quantity": 50, "measure": "个"}],
        },
    ]
    tuesday = api.ok(get_report(api, date="2026-03-03"))["supplies"]
    assert [(u["unit"], u["donations"]["items"]) for u in tuesday] == [
        (GONGYUAN, [{"item": "84消毒液", "quantity": 1040, "measure": "斤"}])
    ]

    as_csv = get_report(api, accept="text/csv", date=WEDNESDAY).data
    rows = list(csv.DictReader(io.StringIO(as_csv.decode("utf-8-sig"))))
    supplied = [
        (r["section"], r["unit_name"], r["donations"], r["cash_fen"], r["item"], r["quantity"])
        for r in rows
        if r["section"] in ("donations", "donated", "issued")
    ]
    assert supplied == [
        ("donations", "陈桥街道", "2", "15000000", "", ""),
        ("donations", "公园社区", "0", "0", "", ""),
        ("donations", "花桥社区", "1", "0", "", ""),
        ("donated", "陈桥街道", "", "", "医用酒精", "6"),
        ("donated", "公园社区", "", "", "84消毒液", "-40"),
        ("donated", "花桥社区", "", "", "纸巾", "2"),
        ("issued", "丽都社区", "", "", "口罩", "50"),
    ]
    assert next(r for r in rows if r["section"] == "issued")["measure"] == "个"

    as_xlsx = get_report(api, accept=XLSX, date=WEDNESDAY).data
    sheets = cells(as_xlsx)
    assert sheets["捐赠"] == [
        ("单位编号", "单位名称", "受赠笔数", "更正笔数", "现金(元)"),
        (CHENQIAO, "陈桥街道", 2, 0, 150000),
        (GONGYUAN, "公园社区", 0, 1, 0),
        (HUAQIAO, "花桥社区", 1, 0, 0),
    ]
    assert sheets["物资收发"] == [
        ("单位编号", "单位名称", "物资", "计量单位", "受赠数量", "发放数量"),
        (CHENQIAO, "陈桥街道", "医用酒精", "桶", 6, None),
        (GONGYUAN, "公园社区", "84消毒液", "斤", -40, None),
        (HUAQIAO, "花桥社区", "纸巾", "箱", 2, None),
        (LIDU, "丽都社区", "口罩", "个", None, 50),
    ]
    book = openpyxl.load_workbook(io.BytesIO(as_xlsx))
    assert book["捐赠"]["E2"].number_format == "#,##0.00"

    # The same lines after a rebuild, to the byte.
    first_json = get_report(api, date=WEDNESDAY).data
    monkeypatch.setenv("REDIS_URL", redis_url)
    rebuilt = CliRunner().invoke(main, ["projections", "rebuild", "--partition", DISTRICT])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert get_report(api, date=WEDNESDAY).data == first_json
    assert get_report(api, accept="text/csv", date=WEDNESDAY).data == as_csv
    assert cells(get_report(api, accept=XLSX, date=WEDNESDAY).data) == sheets


def test_no_donors_contact_in_the_report(api: Api, clock: Clock) -> None:
    clock.now = at(2026, 3, 4, 9, 0)
    donor = Donor(DonorKind.INDIVIDUAL, "赵某", contact=Contact("赵某", "13611112222"))
    command = ReceiveDonation(LIDU, donor, "物资保障组", items=(Line("口罩", 100),))
    api.services.supplies.execute(Actor(ADMIN, Role.ADMIN, DISTRICT), LIDU, command)
    api.services.projector.catch_up(DISTRICT)
    clock.now = at(2026, 3, 5, 9, 0)
    outputs = [
        get_report(api, date=WEDNESDAY).data.decode(),
        get_report(api, accept="text/csv", date=WEDNESDAY).data.decode("utf-8-sig"),
        repr(cells(get_report(api, accept=XLSX, date=WEDNESDAY).data)),
    ]
    for text in outputs:
        assert "口罩" in text and "13611112222" not in text and "赵某" not in text
