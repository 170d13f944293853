"""The staff aggregate: given events, when a command, then exactly these events; and the duty
queries (who is on duty, the night window, coverage) and who may take risky work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from builders import CDC, CHENQIAO, DISTRICT, HUAQIAO, LIDU, NOW
from hypothesis import given, settings
from hypothesis import strategies as st
from spec import Spec, refused

from coordination.domain.commands import (
    CancelShift,
    DeactivateStaff,
    RegisterStaff,
    ScheduleShift,
    StaffCommand,
    UpdateStaff,
)
from coordination.domain.context import Context
from coordination.domain.errors import Conflict, DomainError, NotAllowed, UnknownPlace
from coordination.domain.events import (
    STAFF_EVENT_TYPES,
    ShiftCancelled,
    ShiftScheduled,
    StaffDeactivated,
    StaffEvent,
    StaffRegistered,
    StaffUpdated,
)
from coordination.domain.staff import (
    Shift,
    StaffMember,
    check_may_take,
    coverage,
    decide_staff,
    fold_staff,
    night_window,
    on_duty,
)
from coordination.domain.units import Jurisdiction
from coordination.domain.values import Kind, StaffKind
from coordination.store.mapper import Mapper, encode_json

TZ = ZoneInfo("Asia/Shanghai")
TONIGHT = night_window(NOW.date(), TZ)  # 2020-02-08 18:00 to 2020-02-09 08:00
HOUR = timedelta(hours=1)
STAFF = "staff-1"
NAME = "张敏"


@pytest.fixture
def spec(ctx: Context) -> Spec[StaffMember, StaffCommand, StaffEvent]:
    """Given these staff events, when this command, then these events."""
    return Spec(decide_staff, fold_staff, ctx)


def registered(unit: str = LIDU, trained: bool = True) -> list[StaffEvent]:
    return [StaffRegistered(STAFF, NAME, unit, StaffKind.VOLUNTEER, True, trained)]


def on_night_duty(unit: str = LIDU) -> list[StaffEvent]:
    return [*registered(unit), ShiftScheduled("night-1", unit, *TONIGHT)]


def deactivated() -> list[StaffEvent]:
    return [*on_night_duty(), StaffDeactivated("调离")]


def profile(unit: str = LIDU, name: str = NAME, trained: bool = True) -> UpdateStaff:
    return UpdateStaff(name, unit, StaffKind.VOLUNTEER, True, trained)


EVERY_COMMAND_BUT_REGISTER: list[StaffCommand] = [
    profile(HUAQIAO),
    DeactivateStaff("调离"),
    ScheduleShift("night-2", *TONIGHT),
    CancelShift("night-1"),
]

# --- register -----------------------------------------------------------------------------


def test_register_a_trained_party_member_volunteer_at_a_community(spec: Spec) -> None:
    spec.given([])
    spec.when(RegisterStaff(STAFF, NAME, LIDU, StaffKind.VOLUNTEER, True, True))
    state = spec.then(*registered())
    assert (state.id, state.name, state.unit, state.kind) == (
        STAFF,
        NAME,
        LIDU,
        StaffKind.VOLUNTEER,
    )
    assert state.party_member and state.quarantine_trained and state.active
    assert (state.shifts, state.version) == ((), 1)


def test_register_defaults_to_neither_party_member_nor_trained(spec: Spec) -> None:
    spec.given([])
    spec.when(RegisterStaff(STAFF, NAME, LIDU, StaffKind.CADRE))
    state = spec.then(StaffRegistered(STAFF, NAME, LIDU, StaffKind.CADRE, False, False))
    assert not state.party_member and not state.quarantine_trained


@pytest.mark.parametrize("unit", [CHENQIAO, CDC])
def test_register_at_a_street_or_department(spec: Spec, unit: str) -> None:
    spec.given([])
    spec.when(RegisterStaff(STAFF, NAME, unit, StaffKind.CADRE))
    spec.then(StaffRegistered(STAFF, NAME, unit, StaffKind.CADRE))


def test_register_twice_conflicts_on_staff_id(spec: Spec) -> None:
    spec.given(registered())
    refused(spec, RegisterStaff(STAFF, NAME, LIDU, StaffKind.CADRE), "staff_id", Conflict)


def test_register_again_after_deactivation_conflicts(spec: Spec) -> None:
    spec.given(deactivated())
    refused(spec, RegisterStaff(STAFF, NAME, LIDU, StaffKind.CADRE), "staff_id", Conflict)


def test_register_at_the_district_is_refused_on_unit(spec: Spec) -> None:
    spec.given([])
    error = refused(spec, RegisterStaff(STAFF, NAME, DISTRICT, StaffKind.CADRE), "unit")
    assert DISTRICT in error.message


def test_register_at_an_unknown_unit_is_refused_on_unit(spec: Spec) -> None:
    spec.given([])
    command = RegisterStaff(STAFF, NAME, "gangwen/nowhere", StaffKind.CADRE)
    refused(spec, command, "unit", UnknownPlace)


@pytest.mark.parametrize(
    ("staff_id", "name", "field"), [("", NAME, "staff_id"), (STAFF, "  ", "name")]
)
def test_register_without_id_or_name_is_refused(
    spec: Spec, staff_id: str, name: str, field: str
) -> None:
    spec.given([])
    refused(spec, RegisterStaff(staff_id, name, LIDU, StaffKind.CADRE), field)


@pytest.mark.parametrize("command", EVERY_COMMAND_BUT_REGISTER)
def test_nothing_but_register_on_a_new_member(spec: Spec, command: StaffCommand) -> None:
    spec.given([])
    refused(spec, command, "staff_id")


@pytest.mark.parametrize("command", EVERY_COMMAND_BUT_REGISTER)
def test_nothing_changes_a_deactivated_member(spec: Spec, command: StaffCommand) -> None:
    spec.given(deactivated())
    error = refused(spec, command, "state")
    assert "deactivated" in error.message


# --- update -------------------------------------------------------------------------------


def test_update_replaces_the_whole_profile(spec: Spec) -> None:
    spec.given(registered())
    spec.when(UpdateStaff("张敏敏", HUAQIAO, StaffKind.CADRE, False, False))
    state = spec.then(StaffUpdated("张敏敏", HUAQIAO, StaffKind.CADRE, False, False))
    assert (state.name, state.unit, state.kind) == ("张敏敏", HUAQIAO, StaffKind.CADRE)
    assert not state.party_member and not state.quarantine_trained and state.active


def test_update_that_changes_nothing_records_nothing(spec: Spec) -> None:
    spec.given(registered())
    spec.when(profile())
    spec.then()


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (profile(DISTRICT), DomainError),
        (profile("gangwen/nowhere"), UnknownPlace),
    ],
)
def test_update_to_the_district_or_an_unknown_unit_is_refused(
    spec: Spec, command: UpdateStaff, error: type[DomainError]
) -> None:
    spec.given(registered())
    refused(spec, command, "unit", error)


def test_update_to_a_blank_name_is_refused(spec: Spec) -> None:
    spec.given(registered())
    refused(spec, profile(name=""), "name")


def test_moving_someone_with_a_shift_still_to_come_is_refused(spec: Spec) -> None:
    spec.given(on_night_duty())
    error = refused(spec, profile(HUAQIAO), "unit")
    assert "night-1" in error.message


def test_moving_someone_whose_shifts_are_over_or_cancelled(spec: Spec) -> None:
    past = ShiftScheduled("day-0", LIDU, NOW - 10 * HOUR, NOW - 2 * HOUR)
    spec.given([*on_night_duty(), past, ShiftCancelled("night-1")])
    spec.when(profile(HUAQIAO))
    state = spec.then(StaffUpdated(NAME, HUAQIAO, StaffKind.VOLUNTEER, True, True))
    assert state.unit == HUAQIAO


# --- deactivate ---------------------------------------------------------------------------


def test_deactivate_keeps_the_shifts_but_takes_the_member_off_duty(spec: Spec) -> None:
    spec.given(on_night_duty())
    spec.when(DeactivateStaff("调离"))
    state = spec.then(StaffDeactivated("调离"))
    assert not state.active
    assert [s.shift_id for s in state.shifts] == ["night-1"]
    assert on_duty([state], LIDU, TONIGHT[0]) == []


def test_deactivate_without_a_reason_is_refused(spec: Spec) -> None:
    spec.given(registered())
    refused(spec, DeactivateStaff(" "), "reason")


# --- schedule -----------------------------------------------------------------------------


def test_schedule_a_night_shift_on_the_members_unit(spec: Spec) -> None:
    spec.given(registered())
    spec.when(ScheduleShift("night-1", *TONIGHT))
    state = spec.then(ShiftScheduled("night-1", LIDU, *TONIGHT))
    assert state.shifts == (Shift("night-1", LIDU, *TONIGHT),)


def test_a_shift_is_on_the_unit_the_member_has_now(spec: Spec) -> None:
    spec.given([*registered(), StaffUpdated(NAME, HUAQIAO, StaffKind.VOLUNTEER, True, True)])
    spec.when(ScheduleShift("night-1", *TONIGHT))
    spec.then(ShiftScheduled("night-1", HUAQIAO, *TONIGHT))


def test_shifts_are_kept_in_order_of_start() -> None:
    start, end = TONIGHT
    later = ShiftScheduled("late", LIDU, end, end + 4 * HOUR)
    earlier = ShiftScheduled("early", LIDU, start, end)
    state = fold_staff([*registered(), later, earlier])
    assert [s.shift_id for s in state.shifts] == ["early", "late"]


def test_a_shift_that_already_started_may_still_be_scheduled(spec: Spec) -> None:
    spec.given(registered())
    spec.when(ScheduleShift("day-1", NOW - 4 * HOUR, NOW + HOUR))
    spec.then(ShiftScheduled("day-1", LIDU, NOW - 4 * HOUR, NOW + HOUR))


def test_a_shift_of_exactly_24_hours_is_allowed(spec: Spec) -> None:
    spec.given(registered())
    spec.when(ScheduleShift("day-1", NOW, NOW + 24 * HOUR))
    spec.then(ShiftScheduled("day-1", LIDU, NOW, NOW + 24 * HOUR))


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (NOW + HOUR, NOW + HOUR, "end"),
        (NOW + 2 * HOUR, NOW + HOUR, "end"),
        (NOW, NOW + 24 * HOUR + timedelta(minutes=1), "end"),
        (NOW - 8 * HOUR, NOW, "end"),
        (NOW - 8 * HOUR, NOW - HOUR, "end"),
        (NOW.replace(tzinfo=None), NOW.replace(tzinfo=None) + HOUR, "start"),
    ],
    ids=["empty", "backwards", "over-24h", "ends-now", "ended", "naive"],
)
def test_a_bad_shift_is_refused(spec: Spec, start: datetime, end: datetime, field: str) -> None:
    spec.given(registered())
    refused(spec, ScheduleShift("day-1", start, end), field)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (TONIGHT[0] - HOUR, TONIGHT[0] + HOUR),
        (TONIGHT[1] - HOUR, TONIGHT[1] + HOUR),
        (TONIGHT[0] + HOUR, TONIGHT[1] - HOUR),
        (TONIGHT[0] - HOUR, TONIGHT[1] + HOUR),
        TONIGHT,
    ],
    ids=["across-start", "across-end", "inside", "around", "same"],
)
def test_an_overlapping_shift_is_refused(spec: Spec, start: datetime, end: datetime) -> None:
    spec.given(on_night_duty())
    error = refused(spec, ScheduleShift("night-2", start, end), "start")
    assert "night-1" in error.message


@pytest.mark.parametrize(
    ("start", "end"),
    [(TONIGHT[0] - 4 * HOUR, TONIGHT[0]), (TONIGHT[1], TONIGHT[1] + 4 * HOUR)],
    ids=["ends-as-it-starts", "starts-as-it-ends"],
)
def test_a_shift_next_to_another_is_allowed(spec: Spec, start: datetime, end: datetime) -> None:
    spec.given(on_night_duty())
    spec.when(ScheduleShift("day-1", start, end))
    state = spec.then(ShiftScheduled("day-1", LIDU, start, end))
    assert len(state.shifts) == 2


def test_a_cancelled_shift_no_longer_blocks_its_hours(spec: Spec) -> None:
    spec.given([*on_night_duty(), ShiftCancelled("night-1")])
    spec.when(ScheduleShift("night-2", *TONIGHT))
    spec.then(ShiftScheduled("night-2", LIDU, *TONIGHT))


def test_a_shift_id_in_use_conflicts(spec: Spec) -> None:
    spec.given(on_night_duty())
    refused(spec, ScheduleShift("night-1", TONIGHT[1], TONIGHT[1] + HOUR), "shift_id", Conflict)


def test_a_shift_without_an_id_is_refused(spec: Spec) -> None:
    spec.given(registered())
    refused(spec, ScheduleShift("", *TONIGHT), "shift_id")


def test_scheduling_needs_the_time(jurisdiction: Jurisdiction) -> None:
    with pytest.raises(ValueError):
        decide_staff(fold_staff(registered()), ScheduleShift("n", *TONIGHT), Context(jurisdiction))


# --- cancel -------------------------------------------------------------------------------


def test_cancel_a_shift_with_its_reason(spec: Spec) -> None:
    spec.given(on_night_duty())
    spec.when(CancelShift("night-1", "家中有事"))
    state = spec.then(ShiftCancelled("night-1", "家中有事"))
    assert state.shifts == ()
    assert state.version == 3


@pytest.mark.parametrize("history", [registered, on_night_duty])
def test_cancelling_an_unknown_shift_is_refused(
    spec: Spec, history: Callable[[], list[StaffEvent]]
) -> None:
    spec.given(history())
    error = refused(spec, CancelShift("night-9"), "shift_id")
    assert "night-9" in error.message


def test_cancelling_a_shift_twice_is_refused(spec: Spec) -> None:
    spec.given([*on_night_duty(), ShiftCancelled("night-1")])
    refused(spec, CancelShift("night-1"), "shift_id")


# --- storage ------------------------------------------------------------------------------


def test_every_event_survives_the_mapper() -> None:
    mapper = Mapper(STAFF_EVENT_TYPES)
    events: list[StaffEvent] = [
        *on_night_duty(),
        StaffUpdated("张敏敏", LIDU, StaffKind.CADRE, False, True),
        ShiftCancelled("night-1", "家中有事"),
        StaffDeactivated("调离"),
    ]
    assert {type(e) for e in events} == set(STAFF_EVENT_TYPES)
    assert [mapper.from_json(*mapper.type_of(e), encode_json(e)) for e in events] == events
    assert fold_staff(events).version == len(events)


# --- who is on duty -----------------------------------------------------------------------


def member(
    staff_id: str,
    *shifts: tuple[datetime, datetime],
    unit: str = LIDU,
    active: bool = True,
    trained: bool = False,
    kind: StaffKind = StaffKind.CADRE,
) -> StaffMember:
    """A folded member of ``unit`` with ``shifts`` there."""
    duty = tuple(Shift(f"{staff_id}-{i}", unit, *s) for i, s in enumerate(shifts))
    return StaffMember(staff_id, staff_id, unit, kind, False, trained, active, duty, 1)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (TONIGHT[0] - timedelta(seconds=1), []),
        (TONIGHT[0], ["a"]),
        (TONIGHT[1] - timedelta(seconds=1), ["a"]),
        (TONIGHT[1], []),
    ],
    ids=["before-start", "at-start", "just-before-end", "at-end"],
)
def test_on_duty_from_the_start_of_a_shift_up_to_its_end(at: datetime, expected: list[str]) -> None:
    assert [m.id for m in on_duty([member("a", TONIGHT)], LIDU, at)] == expected


def test_on_duty_lists_active_members_of_the_unit_by_id_once_each() -> None:
    at = TONIGHT[0] + HOUR
    members = [
        member("c", TONIGHT),
        member("a", (TONIGHT[0], at + HOUR), (TONIGHT[0] - HOUR, at + HOUR)),
        member("b", TONIGHT, active=False),
        member("d", TONIGHT, unit=HUAQIAO),
        member("e", (TONIGHT[1], TONIGHT[1] + HOUR)),
    ]
    assert [m.id for m in on_duty(members, LIDU, at)] == ["a", "c"]
    assert [m.id for m in on_duty(members, HUAQIAO, at)] == ["d"]


def test_on_duty_counts_a_shift_at_the_unit_it_was_scheduled_on() -> None:
    moved = fold_staff(
        [*on_night_duty(), StaffUpdated(NAME, HUAQIAO, StaffKind.VOLUNTEER, True, True)]
    )
    assert on_duty([moved], LIDU, TONIGHT[0]) == [moved]
    assert on_duty([moved], HUAQIAO, TONIGHT[0]) == []


# --- the night window ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [
        (date(2020, 2, 8), datetime(2020, 2, 8, 18), datetime(2020, 2, 9, 8)),
        (date(2020, 1, 31), datetime(2020, 1, 31, 18), datetime(2020, 2, 1, 8)),
        (date(2019, 12, 31), datetime(2019, 12, 31, 18), datetime(2020, 1, 1, 8)),
        (date(2020, 2, 28), datetime(2020, 2, 28, 18), datetime(2020, 2, 29, 8)),
        (date(2020, 2, 29), datetime(2020, 2, 29, 18), datetime(2020, 3, 1, 8)),
    ],
    ids=["ordinary", "month-end", "year-end", "leap-day-next", "leap-day"],
)
def test_night_window_runs_from_six_in_the_evening_to_eight_next_morning(
    day: date, start: datetime, end: datetime
) -> None:
    window = night_window(day, TZ)
    assert window == (start.replace(tzinfo=TZ), end.replace(tzinfo=TZ))
    assert all(t.tzinfo is TZ for t in window)


def test_night_window_with_other_hours() -> None:
    start, end = night_window(date(2020, 12, 31), TZ, starts=time(22), ends=time(6, 30))
    assert (start, end) == (
        datetime(2020, 12, 31, 22, tzinfo=TZ),
        datetime(2021, 1, 1, 6, 30, tzinfo=TZ),
    )


def test_night_window_ending_later_the_same_day() -> None:
    start, end = night_window(date(2020, 2, 8), TZ, starts=time(0), ends=time(6))
    assert (start, end) == (datetime(2020, 2, 8, tzinfo=TZ), datetime(2020, 2, 8, 6, tzinfo=TZ))


# --- coverage -----------------------------------------------------------------------------

START, END = TONIGHT


def test_coverage_with_nobody_on_duty_is_one_gap() -> None:
    result = coverage([member("a")], LIDU, START, END)
    assert (result.covered, result.gaps, result.complete) == ((), ((START, END),), False)


def test_coverage_by_one_shift_beyond_the_window_is_clipped_and_complete() -> None:
    result = coverage([member("a", (START - HOUR, END + HOUR))], LIDU, START, END)
    assert (result.covered, result.gaps, result.complete) == (((START, END),), (), True)


def test_coverage_with_gaps_at_either_end_and_between() -> None:
    t = [START + i * HOUR for i in range(15)]  # 18:00 .. 08:00
    members = [member("a", (t[1], t[4])), member("b", (t[6], t[12]))]
    result = coverage(members, LIDU, START, END)
    assert result.covered == ((t[1], t[4]), (t[6], t[12]))
    assert result.gaps == ((START, t[1]), (t[4], t[6]), (t[12], END))
    assert not result.complete


def test_coverage_merges_overlapping_and_adjoining_shifts() -> None:
    t = [START + i * HOUR for i in range(15)]
    members = [
        member("a", (t[0], t[6])),
        member("b", (t[4], t[8])),
        member("c", (t[8], t[14])),
        member("d", (t[2], t[3])),
    ]
    result = coverage(members, LIDU, START, END)
    assert (result.covered, result.gaps, result.complete) == (((START, END),), (), True)


def test_coverage_ignores_other_units_and_deactivated_staff() -> None:
    members = [
        member("a", TONIGHT, unit=HUAQIAO),
        member("b", TONIGHT, active=False),
        member("c", (START, START + HOUR)),
    ]
    result = coverage(members, LIDU, START, END)
    assert result.covered == ((START, START + HOUR),)
    assert result.gaps == ((START + HOUR, END),)


def test_coverage_of_an_empty_window_is_refused() -> None:
    with pytest.raises(ValueError):
        coverage([], LIDU, END, START)


# Whole hours on a short range make shifts that meet end to end common, not a rare draw.
hours = st.integers(min_value=-6, max_value=24)
shift_spans = st.tuples(hours, st.integers(min_value=1, max_value=12))
members_st = st.lists(
    st.tuples(
        st.sampled_from([LIDU, LIDU, HUAQIAO]),
        st.sampled_from([True, True, False]),
        st.lists(shift_spans, max_size=4),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(members_st, st.integers(min_value=1, max_value=30))
def test_covered_and_gaps_tile_the_window_exactly(
    specs: list[tuple[str, bool, list[tuple[int, int]]]], length: int
) -> None:
    def at(hour: int) -> datetime:
        return START + timedelta(hours=hour)

    members = [
        member(f"s{i}", *[(at(m), at(m + n)) for m, n in spans], unit=unit, active=active)
        for i, (unit, active, spans) in enumerate(specs)
    ]
    end = at(length)
    result = coverage(members, LIDU, START, end)

    pieces = sorted([*result.covered, *result.gaps])
    assert pieces[0][0] == START and pieces[-1][1] == end
    assert all(lo < hi for lo, hi in pieces)
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:], strict=False))
    assert all(a[1] < b[0] for a, b in zip(result.covered, result.covered[1:], strict=False))
    assert result.complete == (result.gaps == ())

    # Every endpoint is a whole hour, so hour by hour is an exact oracle.
    duty = [s for m in members if m.active for s in m.shifts if s.unit == LIDU]
    for hour in range(length):
        staffed = any(s.covers(at(hour)) for s in duty)
        assert staffed == any(lo <= at(hour) < hi for lo, hi in result.covered)


# --- who may take risky work --------------------------------------------------------------


def test_a_trained_volunteer_may_take_a_quarantine_visit() -> None:
    check_may_take(member("v", kind=StaffKind.VOLUNTEER, trained=True), Kind.QUARANTINE_VISIT)


def test_an_untrained_cadre_may_not_take_a_quarantine_visit() -> None:
    cadre = replace(member("c"), name="刘书记")
    with pytest.raises(NotAllowed) as raised:
        check_may_take(cadre, Kind.QUARANTINE_VISIT)
    assert raised.value.field == "holder"
    assert raised.value.message == "a quarantine visit needs someone trained for it; 刘书记 is not"


@pytest.mark.parametrize("kind", list(Kind))
def test_a_deactivated_member_may_take_nothing(kind: Kind) -> None:
    with pytest.raises(NotAllowed) as raised:
        check_may_take(member("v", active=False, trained=True), kind)
    assert raised.value.field == "holder"
    assert "deactivated" in raised.value.message


@pytest.mark.parametrize("who", [None, StaffMember()], ids=["none", "new"])
@pytest.mark.parametrize("kind", list(Kind))
def test_someone_not_registered_may_take_nothing(who: StaffMember | None, kind: Kind) -> None:
    with pytest.raises(NotAllowed) as raised:
        check_may_take(who, kind)
    assert raised.value.field == "holder"
    assert raised.value.message == "not a registered staff member"


@pytest.mark.parametrize("kind", [k for k in Kind if k is not Kind.QUARANTINE_VISIT])
@pytest.mark.parametrize("staff_kind", list(StaffKind))
def test_any_active_member_may_take_other_work(kind: Kind, staff_kind: StaffKind) -> None:
    check_may_take(member("m", kind=staff_kind, trained=False), kind)


def test_staff_claim_only_in_their_own_community() -> None:
    from coordination.domain.incident import Incident
    from coordination.domain.staff import check_may_work_on
    from coordination.domain.values import Status

    member = StaffMember(id="wang.fang", name="王芳", unit=HUAQIAO, active=True)
    at_lidu = Incident(status=Status.HANDED_DOWN, kind=Kind.WORK_ORDER, unit=LIDU)
    with pytest.raises(NotAllowed, match=f"works at {HUAQIAO}"):
        check_may_work_on(member, at_lidu)
    check_may_work_on(member, replace(at_lidu, unit=HUAQIAO))
