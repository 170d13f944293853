"""The arithmetic of dashboards and the daily report: tallies of a day's counters, durations,
queues and late deadlines, and the figures made from them. No I/O here.

* A rate is ``on time / (on time + late)`` and the like, floored to four decimals, so that it
  shows 1.0 only when every one counts (99.996% is not 100%); with nothing to divide by it is
  None (shown as "—"), never a division error.
* Median and p90 use the nearest-rank method: the value at rank ``ceil(p/100 * n)`` of the
  sorted values (1-based), so the median of an even count is the lower middle value and every
  figure is a duration that was actually seen. Of no values, None.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from coordination.domain.values import Kind, Satisfaction

KINDS: tuple[str, ...] = tuple(k.value for k in Kind)
VISITS: tuple[str, ...] = tuple(s.value for s in Satisfaction)
ESCALATED = "escalated"  # a summary's copy of an order flagged in its escalation's queue
RATE_DIGITS = 10_000


def ratio(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator`` floored to four decimals; None when the denominator is 0."""
    if denominator <= 0:
        return None
    return (numerator * RATE_DIGITS // denominator) / RATE_DIGITS


def nearest_rank(values: Iterable[int], percent: int) -> int | None:
    """The ``percent``-th percentile by the nearest-rank method; None of no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(-(-percent * len(ordered) // 100), 1)  # ceil without floats
    return ordered[rank - 1]


def median(values: Iterable[int]) -> int | None:
    """The nearest-rank median: the lower middle value of an even count."""
    return nearest_rank(values, 50)


def p90(values: Iterable[int]) -> int | None:
    return nearest_rank(values, 90)


@dataclass
class Tally:
    """What one group of orders (a unit or a subtree, one kind or all) adds up to."""

    counts: Counter[str] = field(default_factory=Counter)  # the day's metrics
    sign: list[int] = field(default_factory=list)  # the day's seconds to sign for
    resolve: list[int] = field(default_factory=list)  # the day's seconds to resolve
    open: Counter[str] = field(default_factory=Counter)  # open orders now, by state
    overdue: set[str] = field(default_factory=set)  # orders with a deadline late now

    def add(self, other: Tally) -> Tally:
        self.counts.update(other.counts)
        self.sign.extend(other.sign)
        self.resolve.extend(other.resolve)
        self.open.update(other.open)
        self.overdue |= other.overdue
        return self


def tallies(
    counts: Mapping[str, int],
    durations: Mapping[str, int],
    summaries: Mapping[str, Mapping[str, int]],
    late: Iterable[tuple[str, str, str]],
    keep: Callable[[str], bool],
) -> dict[str, Tally]:
    """Per kind, the tally of the units ``keep`` accepts, from a day's counters
    (``<unit>|<kind>|<metric>``) and durations (``<unit>|<kind>|sign|<position>``), queue
    summaries (unit -> ``<status>|<kind>``; escalation copies left out, so each order counts
    once) and late deadlines as (unit, kind, incident id)."""
    found = {kind: Tally() for kind in KINDS}
    for name, n in counts.items():
        unit, kind, metric = name.split("|", 2)
        if keep(unit):
            found.setdefault(kind, Tally()).counts[metric] += n
    for name, seconds in durations.items():
        unit, kind, what, _ = name.split("|", 3)
        if keep(unit):
            tally = found.setdefault(kind, Tally())
            (tally.sign if what == "sign" else tally.resolve).append(seconds)
    for unit, fields in summaries.items():
        if not keep(unit):
            continue
        for name, n in fields.items():
            status, _, kind = name.partition("|")
            if status != ESCALATED:
                found.setdefault(kind, Tally()).open[status] += n
    for unit, kind, incident_id in late:
        if keep(unit):
            found.setdefault(kind, Tally()).overdue.add(incident_id)
    return found


def total(by_kind: Mapping[str, Tally]) -> Tally:
    summed = Tally()
    for tally in by_kind.values():
        summed.add(tally)
    return summed


def day_figures(tally: Tally) -> dict[str, Any]:
    """A day's figures: new orders and the epidemic share, signing and resolving on time (with
    median and p90 seconds), return visits and satisfaction, escalations and reopenings; and
    the calls taken (受理量): each new order's call and each repeated call linked to an open
    order (重复件), which adds a call and no order."""
    c = tally.counts
    visits = {result: c[f"visit_{result}"] for result in VISITS}
    visited = sum(visits.values())
    pleased = visits[Satisfaction.SATISFIED] + visits[Satisfaction.BASICALLY_SATISFIED]
    return {
        "reported": c["reported"],
        "epidemic": c["epidemic"],
        "epidemic_share": ratio(c["epidemic"], c["reported"]),
        "signed": _timeliness(c, "signed", tally.sign),
        "resolved": _timeliness(c, "resolved", tally.resolve),
        "visits": {**visits, "total": visited, "satisfaction_rate": ratio(pleased, visited)},
        "escalated": c["escalated"],
        "reopened": c["reopened"],
        "breached": sum(n for metric, n in c.items() if metric.startswith("breached_")),
        "calls": c["reported"] + c["linked_calls"],
        "linked_calls": c["linked_calls"],
    }


def now_figures(tally: Tally) -> dict[str, Any]:
    """Open orders by state, and how many have a deadline late, right now."""
    return {
        "open": {"total": sum(tally.open.values()), "by_state": dict(sorted(tally.open.items()))},
        "overdue": len(tally.overdue),
    }


def _timeliness(c: Counter[str], what: str, seconds: list[int]) -> dict[str, Any]:
    on_time, late = c[f"{what}_on_time"], c[f"{what}_late"]
    return {
        "on_time": on_time,
        "late": late,
        "no_deadline": c[f"{what}_no_deadline"],
        "on_time_rate": ratio(on_time, on_time + late),
        "median_seconds": median(seconds),
        "p90_seconds": p90(seconds),
    }


def flatten(figures: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested figures as one level: ``{"signed": {"late": 1}}`` -> ``{"signed_late": 1}``."""
    flat: dict[str, Any] = {}
    for name, value in figures.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{name}_"))
        else:
            flat[f"{prefix}{name}"] = value
    return flat
