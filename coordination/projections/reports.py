"""Dashboards and the daily report (日报), built from the read models; shared by the API and
the CLI. Nothing here names a resident: orders appear by id, kind and unit only."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from coordination.domain.units import HANDLING_LEVELS, Jurisdiction, Unit
from coordination.projections import figures
from coordination.projections.reads import Figures, ReadModels
from coordination.projections.views import Spell


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

    def group(keep: Any) -> dict[str, Any]:
        by_kind = _tallies(found, keep)
        return {
            "total": _both(figures.total(by_kind)),
            "by_kind": {kind: _both(t) for kind, t in by_kind.items()},
        }

    per_unit = []
    for each in units:
        tally = figures.total(_tallies(found, lambda u, me=each.id: u == me))
        per_unit.append({**_describe(each), "parent": each.parent, **figures.now_figures(tally)})
    return {
        **_describe(jurisdiction.get(unit)),
        "date": day.isoformat(),
        "as_of": now.astimezone(tz).isoformat(),
        "position": found.position,
        "own": group(lambda u: u == unit),
        "subtree": group(lambda u: jurisdiction.within(u, unit)),
        "units": per_unit,
    }


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
)


def render_csv(report: dict[str, Any]) -> bytes:
    """The report as one UTF-8 CSV table with a header row: a ``total`` row, a row per
    ``kind``, per ``unit`` and per ``overdue`` deadline; a rate with nothing to divide by is
    left empty."""
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
    return out.getvalue().encode()


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    return figures.flatten({k: v for k, v in row.items() if k not in ("name", "level")})


def _tallies(found: Figures, keep: Any) -> dict[str, figures.Tally]:
    late = [(s.unit, s.kind, s.incident) for s in found.late]
    return figures.tallies(found.counts, found.durations, found.summaries, late, keep)


def _both(tally: figures.Tally) -> dict[str, Any]:
    return {**figures.now_figures(tally), **figures.day_figures(tally)}


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
    only: the incidents index and the views, then the late deadline spells."""
    district = jurisdiction.district_of(unit)
    hours = [0] * 24
    for view in reads.every_incident(district, min_position, chunk):
        local = view.created_at.astimezone(tz)
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
