"""What a seeded day holds, per local day as each day's report counts it, and the check
against those reports."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from coordination.bootstrap import Services
from coordination.devtools.demo.data import (
    CATALOGUE,
    DISTRICT,
    UNCOVERED,
)
from coordination.domain.values import (
    Satisfaction,
)
from coordination.projections import reports

# The day's report's figures (its ``total``), by the names of the day's counters.
REPORT_METRICS = (
    "reported",
    "epidemic",
    "signed_on_time",
    "signed_late",
    "signed_no_deadline",
    "resolved_on_time",
    "resolved_late",
    "resolved_no_deadline",
    *(f"visit_{s.value}" for s in Satisfaction),
    "escalated",
    "reopened",
    "breached",
)


@dataclass
class Summary:
    """What the seeded day holds: per local day, what that day's report counts; and the
    orders left open when the demo stopped (at ``cutoff``)."""

    day: date
    district: str = DISTRICT
    cutoff: datetime | None = None
    reported: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    epidemic: int = 0
    returned: int = 0
    signed: int = 0
    signed_late: int = 0
    resolved: int = 0
    resolved_late: int = 0
    claimed: int = 0
    breaches: int = 0
    escalations: int = 0  # breaches (each escalated) and night emergencies with nobody on duty
    visits: Counter[str] = field(default_factory=Counter)
    reopened: int = 0
    closed: int = 0
    staff: int = 0
    night_shifts: int = 0
    uncovered: str = UNCOVERED
    writes: int = 0
    failures: list[str] = field(default_factory=list)
    days: dict[str, Counter[str]] = field(default_factory=dict)  # local date -> report metric
    open: list[dict[str, str]] = field(default_factory=list)  # left open, and what was next
    supplies: Counter[str] = field(default_factory=Counter)  # what the demo wrote to the books
    issued: Counter[str] = field(default_factory=Counter)  # item -> issued by its deliveries
    books: dict[str, Any] = field(default_factory=dict)  # the ledgers at the end
    supply_days: dict[str, Counter[str]] = field(default_factory=dict)  # as days, for supplies

    def count(self, metric: str, at: datetime, tz: ZoneInfo) -> None:
        """One more of a report's metric, on the local day of ``at`` (as the report counts)."""
        self.days.setdefault(at.astimezone(tz).date().isoformat(), Counter())[metric] += 1

    def count_supplies(self, metric: str, n: int, at: datetime, tz: ZoneInfo) -> None:
        """``n`` more of a supplies figure of the day's report (``donations``, ``cash_fen``,
        ``issued|<item>``), on the local day of ``at``."""
        self.supply_days.setdefault(at.astimezone(tz).date().isoformat(), Counter())[metric] += n

    def supply_figures(self, day: str) -> dict[str, int]:
        return dict(sorted((+self.supply_days.get(day, Counter())).items()))

    def figures(self, day: str) -> dict[str, int]:
        """A day's figures as its report counts them: every metric, zeros included."""
        counted = self.days.get(day, Counter())
        return {metric: counted[metric] for metric in REPORT_METRICS}

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return {
            "day": self.day.isoformat(),
            "district": self.district,
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
            "by_kind": dict(sorted(self.by_kind.items())),
            "days": {day: self.figures(day) for day in sorted(self.days)},
            "open": self.open,
            "returned": self.returned,
            "claimed": self.claimed,
            "staff": self.staff,
            "night_shifts": self.night_shifts,
            "writes": self.writes,
            "failures": self.failures,
            "supplies": {
                **{k: self.supplies[k] for k in SUPPLY_COUNTS},
                "issued": dict(sorted(self.issued.items())),
                "books": self.books,
                "days": {day: self.supply_figures(day) for day in sorted(self.supply_days)},
            },
        }

    def lines(self) -> list[str]:
        """The summary for people: per day what its report counts, then what is left open."""
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.by_kind.items()))
        lines = [
            f"demo day {self.day} seeded into {self.district}: {self.reported} orders, "
            f"{self.epidemic} about the epidemic",
            f"  by kind: {kinds}; returned and re-dispatched: {self.returned}",
        ]
        for day in sorted(self.days):
            if day == self.day.isoformat():
                lines.append(f"  on {day} (what the day's report counts):")
            else:
                lines.append(
                    f"  on {day}, after midnight (counted in {day}'s report, not "
                    f"{self.day}'s: the evening's unsigned orders signed late, the day's "
                    "unfinished work and late call-backs):"
                )
            lines.append("    " + _figures_line(self.figures(day)))
        lines.append(
            f"  staff: {self.staff} registered, {self.night_shifts} night shifts "
            f"({self.uncovered} uncovered); writes: {self.writes}, failures: {len(self.failures)}"
        )
        lines += self.supply_lines()
        if not self.open:
            lines.append("  left open: none (every order is closed)")
            return lines
        lines.append(
            f"  left open at {self.cutoff:%Y-%m-%d %H:%M} ({len(self.open)}; the live system "
            "carries them on: their deadlines run, the watch breaches them when due):"
        )
        lines += [
            f"    {o['id']} {o['kind']} {o['status']} at {o['unit']}; next: {o['next']} "
            f"at {o['at']}"
            for o in self.open
        ]
        return lines

    def supply_lines(self) -> list[str]:
        s, books = self.supplies, self.books
        issued = ", ".join(
            f"{item} {n} {MEASURES.get(item, '')}" for item, n in sorted(self.issued.items())
        )
        lines = [
            f"  supplies: {s['catalogue_added']} catalogue items added; {s['donations']} "
            f"donations recorded (¥{s['cash_fen'] / 100:,.2f} in cash), {s['transfers']} "
            f"transfers ({s['received']} received, {s['received_short']} of them short, the "
            f"loss written off with its reason), {s['pleas']} pleas; the deliveries issued "
            f"{issued or 'nothing'}",
        ]
        if books:
            balance = (
                "balance"
                if books["balanced"]
                else "DO NOT balance: " + ", ".join(books["differences"])
            )
            short = ", ".join(
                f"{x['unit']} {x['item']} {x['short']} {x['measure']}" for x in books["shortages"]
            )
            lines.append(
                f"  books of {books['units']} units {balance}; short (open pleas beyond what is "
                f"available): {short or 'nothing'}"
            )
        return lines


SUPPLY_COUNTS = (
    "catalogue_added",
    "donations",
    "cash_fen",
    "transfers",
    "received",
    "received_short",
    "pleas",
)
MEASURES = {item.name: item.unit for item in CATALOGUE}


def _in_report_order(metric: str) -> tuple[int, str]:
    return (REPORT_METRICS.index(metric), "") if metric in REPORT_METRICS else (99, metric)


def _figures_line(f: dict[str, int]) -> str:
    visits = ", ".join(f"{s.value} {f['visit_' + s.value]}" for s in Satisfaction)
    return (
        f"reported {f['reported']} ({f['epidemic']} epidemic); signed {f['signed_on_time']} on "
        f"time, {f['signed_late']} late, {f['signed_no_deadline']} with no deadline; resolved "
        f"{f['resolved_on_time']} on time, {f['resolved_late']} late, "
        f"{f['resolved_no_deadline']} with no deadline; return visits: {visits}; breached "
        f"{f['breached']}; escalated {f['escalated']}; reopened {f['reopened']}"
    )


def report_figures(total: dict[str, Any]) -> dict[str, int]:
    """A daily report's ``total`` by the demo's metric names (``Summary.figures``)."""
    found = {"reported": total["reported"], "epidemic": total["epidemic"]}
    for what in ("signed", "resolved"):
        for how in ("on_time", "late", "no_deadline"):
            found[f"{what}_{how}"] = total[what][how]
    for result in Satisfaction:
        found[f"visit_{result.value}"] = total["visits"][result.value]
    for metric in ("escalated", "reopened", "breached"):
        found[metric] = total[metric]
    return found


def report_supply_figures(supplies: list[dict[str, Any]]) -> dict[str, int]:
    """A daily report's ``supplies`` summed over its units, by ``Summary.supply_figures``'
    names."""
    found: Counter[str] = Counter()
    for unit in supplies:
        found["donations"] += unit["donations"]["count"]
        found["cash_fen"] += unit["donations"]["cash_fen"]
        for line in unit["issued"]:
            found[f"issued|{line['item']}"] += line["quantity"]
    return dict(sorted((+found).items()))


def compare_with_reports(services: Services, summary: Summary, now: datetime) -> list[str]:
    """For each day the demo wrote to, whether that day's report counts what the summary does
    (read once the projections reach the log's head), and if not, the figures that differ."""
    tz = services.calendar.tz
    head = services.store.head(DISTRICT)
    services.projector.catch_up(DISTRICT)
    lines = []
    for day in sorted(summary.days):
        report = reports.daily_report(
            services.reads, services.jurisdiction, DISTRICT, date.fromisoformat(day), now, tz,
            min_position=head,
        )  # fmt: skip
        counted, ours = report_figures(report["total"]), summary.figures(day)
        counted.update(report_supply_figures(report.get("supplies", [])))
        ours.update(summary.supply_figures(day))
        if counted == ours:
            lines.append(f"report for {day}: counts the same as this summary")
            continue
        differ = ", ".join(
            f"{metric} {counted.get(metric, 0)} (demo: {ours.get(metric, 0)})"
            for metric in sorted(set(counted) | set(ours), key=_in_report_order)
            if counted.get(metric, 0) != ours.get(metric, 0)
        )
        lines.append(
            f"report for {day}: {differ}; the report also counts what others did that day "
            "(live use, or an earlier demo)"
        )
    return lines
