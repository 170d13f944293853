"""The dashboard arithmetic by hand: rates with nothing to divide by, nearest-rank median and
p90, tallies of a day's counters, durations, queues and late deadlines."""

from __future__ import annotations

import pytest

from coordination.projections.figures import (
    Tally,
    day_figures,
    flatten,
    median,
    nearest_rank,
    now_figures,
    p90,
    ratio,
    tallies,
    total,
)

CHENQIAO = "gangwen/chenqiao"
LIDU = "gangwen/chenqiao/lidu"
BINJIANG = "gangwen/binjiang"


def in_chenqiao(unit: str) -> bool:
    return unit == CHENQIAO or unit.startswith(CHENQIAO + "/")


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (0, 0, None),
        (5, 0, None),
        (0, 4, 0.0),
        (3, 4, 0.75),
        (2, 3, 0.6666),  # floored, not rounded up
        (2499, 2500, 0.9996),
        (99999, 100000, 0.9999),  # never 1.0 unless every one counts
        (7, 7, 1.0),
    ],
)
def test_ratio_floors_to_four_decimals_and_is_none_without_a_denominator(
    numerator: int, denominator: int, expected: float | None
) -> None:
    assert ratio(numerator, denominator) == expected


@pytest.mark.parametrize(
    ("values", "expected_median", "expected_p90"),
    [
        ([], None, None),
        ([42], 42, 42),
        ([30, 10], 10, 30),  # nearest rank: the lower middle of an even count
        ([3, 1, 2], 2, 3),
        ([4, 1, 3, 2], 2, 4),
        (list(range(10, 0, -1)), 5, 9),  # ranks ceil(5) = 5 and ceil(9) = 9
        (list(range(1, 12)), 6, 10),  # n = 11: ranks ceil(5.5) = 6 and ceil(9.9) = 10
        ([60, 60, 60, 3600], 60, 3600),
    ],
)
def test_median_and_p90_by_nearest_rank(
    values: list[int], expected_median: int | None, expected_p90: int | None
) -> None:
    assert median(values) == expected_median
    assert p90(values) == expected_p90


def test_nearest_rank_of_the_extremes() -> None:
    assert nearest_rank([5, 1, 9], 0) == 1  # rank at least 1
    assert nearest_rank([5, 1, 9], 100) == 9


# A hand-computed day at 陈桥 (the street, its community 丽都) and 滨江:
# - four work orders reported at chenqiao, three about the epidemic; one at binjiang;
# - chenqiao signed for three on time (after 600, 1200 and 3000 s) and one late (90000 s);
# - one order resolved one minute late at 丽都 (86460 s), two on time at chenqiao (7200 and
#   3600 s), and a reopened order resolved again on time at 丽都 (1800 s);
# - return visits: one satisfied, one basically satisfied, one unsatisfied (which reopened);
# - one escalation from chenqiao.
COUNTS = {
    f"{CHENQIAO}|work_order|reported": 4,
    f"{CHENQIAO}|work_order|epidemic": 3,
    f"{BINJIANG}|work_order|reported": 1,
    f"{CHENQIAO}|work_order|signed_on_time": 3,
    f"{CHENQIAO}|work_order|signed_late": 1,
    f"{LIDU}|work_order|resolved_late": 1,
    f"{CHENQIAO}|work_order|resolved_on_time": 2,
    f"{LIDU}|work_order|resolved_on_time": 1,
    f"{CHENQIAO}|work_order|visit_satisfied": 1,
    f"{LIDU}|work_order|visit_basically_satisfied": 1,
    f"{LIDU}|work_order|visit_unsatisfied": 1,
    f"{LIDU}|work_order|reopened": 1,
    f"{CHENQIAO}|work_order|escalated": 1,
    f"{CHENQIAO}|work_order|breached_sign_by": 1,
}
DURATIONS = {
    f"{CHENQIAO}|work_order|sign|11": 600,
    f"{CHENQIAO}|work_order|sign|12": 1200,
    f"{CHENQIAO}|work_order|sign|13": 3000,
    f"{CHENQIAO}|work_order|sign|14": 90000,
    f"{LIDU}|work_order|resolve|21": 86460,
    f"{CHENQIAO}|work_order|resolve|22": 7200,
    f"{CHENQIAO}|work_order|resolve|23": 3600,
    f"{LIDU}|work_order|resolve|24": 1800,
}
SUMMARIES = {
    "gangwen": {"escalated|work_order": 1, "resolved|work_order": 2},
    CHENQIAO: {"dispatched|work_order": 1, "signed|quarantine_visit": 2},
    LIDU: {"handed_down|supply_delivery": 1, "escalated|night_emergency": 1},
}
LATE = [
    (CHENQIAO, "work_order", "o-1"),  # sign_by and resolve_by late: one order
    (CHENQIAO, "work_order", "o-1"),
    (LIDU, "supply_delivery", "o-2"),
    (BINJIANG, "work_order", "o-3"),
]


def chenqiao() -> dict[str, Tally]:
    return tallies(COUNTS, DURATIONS, SUMMARIES, LATE, in_chenqiao)


def test_a_day_by_hand_over_a_subtree() -> None:
    figures = day_figures(total(chenqiao()))
    assert figures == {
        "reported": 4,
        "epidemic": 3,
        "epidemic_share": 0.75,
        "signed": {
            "on_time": 3,
            "late": 1,
            "no_deadline": 0,
            "on_time_rate": 0.75,
            "median_seconds": 1200,  # of 600, 1200, 3000, 90000: rank 2
            "p90_seconds": 90000,  # rank ceil(3.6) = 4
        },
        "resolved": {
            "on_time": 3,  # the reopened order counts each time it is resolved
            "late": 1,  # the one resolved a minute late
            "no_deadline": 0,
            "on_time_rate": 0.75,
            "median_seconds": 3600,  # of 1800, 3600, 7200, 86460
            "p90_seconds": 86460,
        },
        "visits": {
            "satisfied": 1,
            "basically_satisfied": 1,
            "unsatisfied": 1,
            "total": 3,
            "satisfaction_rate": 0.6666,  # (1 + 1) / 3
        },
        "escalated": 1,
        "reopened": 1,
        "breached": 1,
        "calls": 4,  # no repeated call linked: a call per new order
        "linked_calls": 0,
    }


def test_open_orders_count_each_order_once_and_overdue_counts_orders() -> None:
    figures = now_figures(total(chenqiao()))
    # Escalation copies (督办 flags) are left out: each order counts in its own queue only.
    assert figures == {
        "open": {"total": 4, "by_state": {"dispatched": 1, "handed_down": 1, "signed": 2}},
        "overdue": 2,  # o-1 (two deadlines, one order) and o-2; o-3 is binjiang's
    }
    district = total(tallies(COUNTS, DURATIONS, SUMMARIES, LATE, lambda u: True))
    assert now_figures(district)["open"]["by_state"] == {
        "dispatched": 1,
        "handed_down": 1,
        "resolved": 2,
        "signed": 2,
    }


def test_per_kind_and_the_units_own() -> None:
    own = tallies(COUNTS, DURATIONS, SUMMARIES, LATE, lambda u: u == LIDU)
    assert set(own) == {"supply_delivery", "quarantine_visit", "night_emergency", "work_order"}
    work = day_figures(own["work_order"])
    assert (work["reported"], work["epidemic_share"]) == (0, None)
    assert work["resolved"] == {
        "on_time": 1,
        "late": 1,
        "no_deadline": 0,
        "on_time_rate": 0.5,
        "median_seconds": 1800,
        "p90_seconds": 86460,
    }
    assert work["visits"]["satisfaction_rate"] == 0.5  # basically satisfied + unsatisfied
    assert now_figures(own["supply_delivery"]) == {
        "open": {"total": 1, "by_state": {"handed_down": 1}},
        "overdue": 1,
    }
    assert now_figures(own["night_emergency"])["open"]["total"] == 0  # an escalation copy


def test_a_day_with_no_visits_and_nothing_signed_has_no_rates() -> None:
    counts = {f"{CHENQIAO}|supply_delivery|reported": 2}
    figures = day_figures(total(tallies(counts, {}, {}, [], in_chenqiao)))
    assert figures["visits"] == {
        "satisfied": 0,
        "basically_satisfied": 0,
        "unsatisfied": 0,
        "total": 0,
        "satisfaction_rate": None,
    }
    assert figures["signed"]["on_time_rate"] is None
    assert figures["signed"]["median_seconds"] is None
    assert figures["resolved"]["p90_seconds"] is None
    assert figures["epidemic_share"] == 0.0


def test_an_empty_day_is_all_zeros_and_nones() -> None:
    figures = day_figures(total(tallies({}, {}, {}, [], lambda u: True)))
    assert figures["reported"] == 0
    assert figures["epidemic_share"] is None
    assert figures["resolved"]["on_time_rate"] is None


def test_only_signed_without_deadlines_gives_no_on_time_rate() -> None:
    counts = {f"{CHENQIAO}|work_order|signed_no_deadline": 2}
    figures = day_figures(total(tallies(counts, {}, {}, [], in_chenqiao)))
    assert figures["signed"]["no_deadline"] == 2
    assert figures["signed"]["on_time_rate"] is None


def test_flatten() -> None:
    assert flatten({"a": 1, "b": {"c": None, "d": {"e": 2}}}) == {"a": 1, "b_c": None, "b_d_e": 2}
