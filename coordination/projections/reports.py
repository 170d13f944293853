"""Dashboards and the daily report (日报), built from the read models; shared by the API and
the CLI. Nothing here names a resident: orders appear by id, kind and unit only."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from redis.exceptions import RedisClusterException, RedisError

from coordination.domain.units import HANDLING_LEVELS, Jurisdiction, Unit
from coordination.projections import figures
from coordination.projections.reads import Figures, ReadModels
from coordination.projections.supply_books import SupplyDay
from coordination.projections.views import Spell
from coordination.store.connection import is_unavailable
from coordination.store.mapper import to_data


class FutureDay(ValueError):
    """A report for a day that has not begun."""


def subtree(jurisdiction: Jurisdiction, unit: str) -> list[Unit]:
    """The unit and every unit below it, by id."""
    return sorted(
        (u for u in jurisdiction.units.values() if jurisdiction.within(u.id, unit)),
        key=lambda u: u.id,
    )


def dashboard(
    reads: ReadModels,
    jurisdiction: Jurisdiction,
    unit: str,
    day: date,
    now: datetime,
    tz: ZoneInfo,
    min_position: int | None = None,
) -> dict[str, Any]:
    """A unit's figures, its own and rolled up over its subtree, per kind and in total: open
    orders and overdue ones now (at the unit holding them), and the day's figures; and each
    unit's own queue and overdue orders."""
    units = subtree(jurisdiction, unit)
    found = reads.figures(
        jurisdiction.district_of(unit),
        day.isoformat(),
        [u.id for u in units],
        now,
        min_position,
        held_now=True,
    )

    per_unit = []
    for each in units:
        tally = figures.total(_tallies(found, lambda u, me=each.id: u == me))
        per_unit.append({**_describe(each), "parent": each.parent, **figures.now_figures(tally)})
    return {
        **_describe(jurisdiction.get(unit)),
        "date": day.isoformat(),
        "as_of": now.astimezone(tz).isoformat(),
        "position": found.position,
        "own": _group(_tallies(found, lambda u: u == unit)),
        "subtree": _group(_tallies(found, lambda u: jurisdiction.within(u, unit))),
        "units": per_unit,
    }


def city_summary(
    reads: ReadModels,
    jurisdiction: Jurisdiction,
    city: str,
    day: date,
    now: datetime,
    tz: ZoneInfo,
) -> dict[str, Any]:
    """A city's figures: each district's over its whole subtree, per kind and in total (open
    and overdue now, the day's figures), and the city's, summed from the districts' counts (so
    its rates and percentiles are the city's own, not an average of the districts'). Each
    district is read at its own generation, in one transaction on its own slot.

    A district whose shard cannot answer now (a failover under way) is listed as
    ``unavailable``, with why, and left out of the city's figures, which then say they are not
    ``complete``: the other districts are still shown. If no district answers, the error is
    raised."""
    as_of(day, now, tz)  # refuses a day not yet begun
    rows: list[dict[str, Any]] = []
    summed: dict[str, figures.Tally] = {}
    missing: list[str] = []
    failure: BaseException | None = None
    for district in jurisdiction.districts(city):
        units = subtree(jurisdiction, district)
        try:
            found = reads.figures(
                district, day.isoformat(), [u.id for u in units], now, held_now=True
            )
        except (RedisError, RedisClusterException) as exc:
            if not is_unavailable(exc):
                raise
            failure = exc
            missing.append(district)
            rows.append({**_describe(jurisdiction.get(district)), "unavailable": unavailable(exc)})
            continue
        by_kind = _tallies(found, lambda u: True)  # a district's figures are all its own
        for kind, tally in by_kind.items():
            summed.setdefault(kind, figures.Tally()).add(tally)
        rows.append(
            {
                **_describe(jurisdiction.get(district)),
                "position": found.position,
                **_group(by_kind),
            }
        )
    if failure is not None and len(missing) == len(rows):
        raise failure
    return {
        **_describe(jurisdiction.get(city)),
        "date": day.isoformat(),
        "as_of": now.astimezone(tz).isoformat(),
        "complete": not missing,
        "unavailable": missing,
        **_group(summed),
        "districts": rows,
    }


def unavailable(exc: BaseException) -> str:
    """Why a district's figures could not be read now, for the reader."""
    return f"the store of this district is unavailable now ({type(exc).__name__}); retry shortly"


def as_of(day: date, now: datetime, tz: ZoneInfo) -> datetime:
    """When a day's report looks at its deadlines: the day's end once it is over, else now."""
    if day > now.astimezone(tz).date():
        raise FutureDay(f"{day.isoformat()} has not begun")
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
    return min(end, now.astimezone(tz))


def daily_report(
    reads: ReadModels,
    jurisdiction: Jurisdiction,
    district: str,
    day: date,
    now: datetime,
    tz: ZoneInfo,
    min_position: int | None = None,
) -> dict[str, Any]:
    """The daily report (日报) of a district for a local day: new orders and the epidemic share,
    by kind and by handling unit (streets and departments, their communities rolled in), on
    time or not, return visits and satisfaction, and the orders overdue at its ``as_of``."""
    moment = as_of(day, now, tz)
    found = reads.figures(district, day.isoformat(), [], moment, min_position)
    by_kind = _tallies(found, lambda u: jurisdiction.within(u, district))
    handling = [u for u in subtree(jurisdiction, district) if u.level in HANDLING_LEVELS]
    by_unit = [
        {**_describe(u), **_day(found, lambda x, top=u.id: jurisdiction.within(x, top))}
        for u in handling
    ]
    at_district = _tallies(found, lambda u: u == district)
    if any(t.counts for t in at_district.values()):
        by_unit.insert(
            0, {**_describe(jurisdiction.get(district)), **_day(found, lambda u: u == district)}
        )
    supplied = reads.supply_day(district, day.isoformat(), min_position)
    return {
        "district": district,
        "district_name": jurisdiction.get(district).name,
        "date": day.isoformat(),
        "as_of": moment.isoformat(),
        "total": figures.day_figures(figures.total(by_kind)),
        "by_kind": [{"kind": k, **figures.day_figures(t)} for k, t in by_kind.items()],
        "by_unit": by_unit,
        "overdue": [
            _overdue(s, jurisdiction, moment)
            for s in sorted(found.late, key=lambda s: (s.due, s.incident, s.deadline.value))
            if jurisdiction.within(s.unit, district)
        ],
        "supplies": [
            _supplied(d, jurisdiction) for d in supplied if jurisdiction.within(d.unit, district)
        ],
    }


def _supplied(day: SupplyDay, jurisdiction: Jurisdiction) -> dict[str, Any]:
    """A unit's supplies of the day: the donations it received (corrections counted the day
    they were made) and what it issued to delivery orders."""
    return {
        **_describe(jurisdiction.get(day.unit)),
        "donations": {
            "count": day.donations,
            "corrections": day.corrections,
            "items": [to_data(line) for line in day.donated],
            "cash_fen": day.cash_fen,
        },
        "issued": [to_data(line) for line in day.issued],
    }


def render_json(report: dict[str, Any]) -> bytes:
    """The report as UTF-8 JSON, the same bytes for the same report."""
    return (json.dumps(report, ensure_ascii=False, indent=2) + "\n").encode()


CSV_COLUMNS = (
    "date",
    "as_of",
    "section",
    "kind",
    "unit",
    "unit_name",
    "reported",
    "epidemic",
    "epidemic_share",
    "signed_on_time",
    "signed_late",
    "signed_on_time_rate",
    "signed_median_seconds",
    "signed_p90_seconds",
    "resolved_on_time",
    "resolved_late",
    "resolved_no_deadline",
    "resolved_on_time_rate",
    "resolved_median_seconds",
    "resolved_p90_seconds",
    "visits_total",
    "visits_satisfied",
    "visits_basically_satisfied",
    "visits_unsatisfied",
    "visits_satisfaction_rate",
    "escalated",
    "reopened",
    "breached",
    "incident",
    "deadline",
    "due_at",
    "minutes_late",
    "donations",
    "corrections",
    "cash_fen",
    "item",
    "measure",
    "quantity",
    "calls",
    "linked_calls",
)


def render_csv(report: dict[str, Any]) -> bytes:
    """The report as one CSV table with a header row: a ``total`` row, a row per ``kind``, per
    ``unit`` and per ``overdue`` deadline, then the day's supplies (``donations`` per unit,
    ``donated`` and ``issued`` per unit and item); a rate with nothing to divide by is left
    empty.
    UTF-8 with a byte order mark, which Excel needs to read it as UTF-8 (not GBK) on a Chinese
    Windows; Python reads it with ``encoding="utf-8-sig"``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    common = {"date": report["date"], "as_of": report["as_of"]}
    writer.writerow({**common, "section": "total", **figures.flatten(report["total"])})
    for row in report["by_kind"]:
        writer.writerow({**common, "section": "kind", **figures.flatten(row)})
    for row in report["by_unit"]:
        writer.writerow({**common, "section": "unit", "unit_name": row["name"], **_flat(row)})
    for row in report["overdue"]:
        writer.writerow({**common, "section": "overdue", **row})
    for section, rows in _supply_rows(report).items():
        for row in rows:
            writer.writerow({**common, "section": section, **row})
    return out.getvalue().encode("utf-8-sig")


def _supply_rows(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The day's supplies as flat rows: ``donations`` a row per unit (their number,
    corrections and cash), ``donated`` and ``issued`` a row per unit and item."""
    rows: dict[str, list[dict[str, Any]]] = {"donations": [], "donated": [], "issued": []}
    for unit in report.get("supplies", []):
        where = {"unit": unit["unit"], "unit_name": unit["name"]}
        gifts = unit["donations"]
        if gifts["count"] or gifts["corrections"] or gifts["cash_fen"]:
            rows["donations"].append(
                {
                    **where,
                    "donations": gifts["count"],
                    "corrections": gifts["corrections"],
                    "cash_fen": gifts["cash_fen"],
                }
            )
        rows["donated"] += [{**where, **line} for line in gifts["items"]]
        rows["issued"] += [{**where, **line} for line in unit["issued"]]
    return rows


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Column = tuple[str, str, str | None]  # a field of the rows, its Chinese header, its cell format
# The day's figures as columns, in the order of ``figures.flatten(figures.day_figures(...))``.
RATE, SECONDS, MOMENT, DAY = "0.00%", "#,##0", "yyyy-mm-dd hh:mm:ss", "yyyy-mm-dd"
FIGURE_COLUMNS: tuple[Column, ...] = (
    ("reported", "新增工单", None),
    ("epidemic", "疫情工单", None),
    ("epidemic_share", "疫情工单占比", RATE),
    ("signed_on_time", "按时签收", None),
    ("signed_late", "超时签收", None),
    ("signed_no_deadline", "签收(无时限)", None),
    ("signed_on_time_rate", "按时签收率", RATE),
    ("signed_median_seconds", "签收用时中位数(秒)", SECONDS),
    ("signed_p90_seconds", "签收用时P90(秒)", SECONDS),
    ("resolved_on_time", "按时办结", None),
    ("resolved_late", "超时办结", None),
    ("resolved_no_deadline", "办结(无时限)", None),
    ("resolved_on_time_rate", "按时办结率", RATE),
    ("resolved_median_seconds", "办结用时中位数(秒)", SECONDS),
    ("resolved_p90_seconds", "办结用时P90(秒)", SECONDS),
    ("visits_satisfied", "回访满意", None),
    ("visits_basically_satisfied", "回访基本满意", None),
    ("visits_unsatisfied", "回访不满意", None),
    ("visits_total", "回访总数", None),
    ("visits_satisfaction_rate", "满意率", RATE),
    ("escalated", "督办升级", None),
    ("reopened", "重办", None),
    ("breached", "超时次数", None),
    ("calls", "受理量", None),
    ("linked_calls", "重复件", None),
)
OVERDUE_COLUMNS: tuple[Column, ...] = (
    ("incident", "工单编号", None),
    ("kind", "类别", None),
    ("unit", "单位编号", None),
    ("unit_name", "单位名称", None),
    ("deadline", "时限", None),
    ("due_at", "到期时间", MOMENT),
    ("minutes_late", "超时(分钟)", None),
)
TOTAL_LEAD: tuple[Column, ...] = (
    ("date", "日期", DAY),
    ("as_of", "截至", MOMENT),
)
KIND_LEAD: tuple[Column, ...] = (("kind", "类别", None),)
UNIT_LEAD: tuple[Column, ...] = (
    ("unit", "单位编号", None),
    ("name", "单位名称", None),
    ("level", "层级", None),
)
DONATION_COLUMNS: tuple[Column, ...] = (
    ("unit", "单位编号", None),
    ("unit_name", "单位名称", None),
    ("donations", "受赠笔数", None),
    ("corrections", "更正笔数", None),
    ("cash_yuan", "现金(元)", "#,##0.00"),
)
SUPPLY_COLUMNS: tuple[Column, ...] = (
    ("unit", "单位编号", None),
    ("unit_name", "单位名称", None),
    ("item", "物资", None),
    ("measure", "计量单位", None),
    ("donated", "受赠数量", None),
    ("issued", "发放数量", None),
)
# total, by kind, by unit, overdue; the day's donations, and supplies received and issued
XLSX_SHEETS = ("合计", "按类别", "按单位", "超期工单", "捐赠", "物资收发")
MAX_WIDTH = 60  # characters: a longer text is shown cut at the column's edge


def render_xlsx(report: dict[str, Any]) -> bytes:
    """The report as an Excel workbook, a sheet per section (total, by kind, by unit, overdue,
    the day's donations, supplies received and issued) with Chinese headers; times are the
    report's local times, a rate is a fraction shown as a percentage, and one with nothing to
    divide by is an empty cell; cash is in yuan."""
    book = Workbook()
    book.remove(book.active)
    book.properties.title = f"{report['district_name']} {report['date']} 日报"
    total = {
        "date": date.fromisoformat(report["date"]),
        "as_of": _local(report["as_of"]),
        **figures.flatten(report["total"]),
    }
    by_kind = [figures.flatten(r) for r in report["by_kind"]]
    by_unit = [figures.flatten(r) for r in report["by_unit"]]
    overdue = [{**r, "due_at": _local(r["due_at"])} for r in report["overdue"]]
    supplied = _supply_rows(report)
    donations = [{**r, "cash_yuan": r["cash_fen"] / 100} for r in supplied["donations"]]
    moved: dict[tuple[str, str], dict[str, Any]] = {}
    for what in ("donated", "issued"):
        for r in supplied[what]:
            key = (r["unit"], r["item"])
            moved.setdefault(key, {**r, "donated": None, "issued": None})[what] = r["quantity"]
    sections = (
        (TOTAL_LEAD + FIGURE_COLUMNS, [total]),
        (KIND_LEAD + FIGURE_COLUMNS, by_kind),
        (UNIT_LEAD + FIGURE_COLUMNS, by_unit),
        (OVERDUE_COLUMNS, overdue),
        (DONATION_COLUMNS, donations),
        (SUPPLY_COLUMNS, [moved[k] for k in sorted(moved)]),
    )
    for title, (columns, rows) in zip(XLSX_SHEETS, sections, strict=True):
        _sheet(book.create_sheet(title), columns, rows)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet(sheet: Worksheet, columns: tuple[Column, ...], rows: list[dict[str, Any]]) -> None:
    """A header row in bold (kept in view while scrolling), then a row per entry."""
    sheet.append([header for _, header, _ in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for row in rows:
        sheet.append([row.get(name) for name, _, _ in columns])
    for index, (name, header, fmt) in enumerate(columns, start=1):
        if fmt is not None:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = fmt
        shown = [_shown(row.get(name), fmt) for row in rows]
        width = max(map(_display_width, [header, *shown]))
        sheet.column_dimensions[get_column_letter(index)].width = min(width + 2, MAX_WIDTH)


def _local(moment: str) -> datetime:
    """An ISO time with its offset as the naive local time Excel keeps (it has no zones)."""
    return datetime.fromisoformat(moment).replace(tzinfo=None)


def _shown(value: Any, fmt: str | None) -> str:
    """Roughly what Excel shows for a cell, to size its column."""
    if value is None:
        return ""
    if fmt == RATE:
        return f"{value:.2%}"
    if isinstance(value, datetime):
        return value.isoformat(" ", "seconds")
    return f"{value:,}" if isinstance(value, int) else str(value)


def _display_width(text: str) -> int:
    """Columns ``text`` takes in a fixed-width font: a CJK character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    return figures.flatten({k: v for k, v in row.items() if k not in ("name", "level")})


def _tallies(found: Figures, keep: Any) -> dict[str, figures.Tally]:
    late = [(s.unit, s.kind, s.incident) for s in found.late]
    return figures.tallies(found.counts, found.durations, found.summaries, late, keep)


def _both(tally: figures.Tally) -> dict[str, Any]:
    return {**figures.now_figures(tally), **figures.day_figures(tally)}


def _group(by_kind: dict[str, figures.Tally]) -> dict[str, Any]:
    return {
        "total": _both(figures.total(by_kind)),
        "by_kind": {kind: _both(t) for kind, t in by_kind.items()},
    }


def _day(found: Figures, keep: Any) -> dict[str, Any]:
    return figures.day_figures(figures.total(_tallies(found, keep)))


def _describe(unit: Unit) -> dict[str, Any]:
    return {"unit": unit.id, "name": unit.name, "level": unit.level.value}


def _overdue(spell: Spell, jurisdiction: Jurisdiction, moment: datetime) -> dict[str, Any]:
    tz = moment.tzinfo
    return {
        "incident": spell.incident,
        "kind": spell.kind,
        "unit": spell.unit,
        "unit_name": jurisdiction.get(spell.unit).name,
        "deadline": spell.deadline.value,
        "due_at": spell.due.astimezone(tz).isoformat(),
        "minutes_late": int((moment - spell.due).total_seconds() // 60),
    }


def today(
    reads: ReadModels,
    jurisdiction: Jurisdiction,
    unit: str,
    day: date,
    now: datetime,
    tz: ZoneInfo,
    min_position: int | None = None,
    chunk: int = 500,
) -> dict[str, Any]:
    """What the live page adds to a unit's figures, read at one generation: the orders its
    subtree was given on a local day, per hour of their report (24 counts), and the orders
    overdue now (at the unit holding them, in the subtree), latest first. Reads projections
    only: the incidents index and the views (back to the day's start), then the late deadline
    spells."""
    district = jurisdiction.district_of(unit)
    hours = [0] * 24
    for view in reads.every_incident(district, min_position, chunk):
        local = view.created_at.astimezone(tz)
        if local.date() < day:
            break  # the index is in report time, latest first: the rest were reported before
        if local.date() == day and jurisdiction.within(view.incident.unit, unit):
            hours[local.hour] += 1
    moment = as_of(day, now, tz)
    found = reads.figures(district, day.isoformat(), [], moment, held_now=True)
    late = sorted(found.late, key=lambda s: (s.due, s.incident, s.deadline.value))
    return {
        **_describe(jurisdiction.get(unit)),
        "district": district,
        "date": day.isoformat(),
        "as_of": moment.isoformat(),
        "position": found.position,
        "hours": hours,
        "reported": sum(hours),
        "overdue": [
            _overdue(s, jurisdiction, moment) for s in late if jurisdiction.within(s.unit, unit)
        ],
    }
