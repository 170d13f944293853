"""The dashboard's read models against a real valkey server: times to sign for and to resolve
from the latest dispatch (or reopening), and the spells of deadlines done late, each applied
exactly once and equal to a rebuild, also after a crash half way through a batch.

Hand-worked on the 2026 calendar: Monday 2026-03-02 is a working day; an epidemic order is
signed for and resolved by the midnight ending its day (2026-03-03 00:00); an ordinary work
order is signed for by the end of the next working day (2026-03-04 00:00).
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib
from clock import Clock
from helpers_projection import (
    ADMIN,
    BINJIANG,
    CHENQIAO,
    REPORTER,
    Boom,
    CrashAt,
    P,
    assert_no_zero_counters,
    assert_same,
    check_read_models,
    drive,
    dump_generation,
    live_through,
    rebuilt,
    services,
)

from coordination.bootstrap import Services
from coordination.domain.commands import DispatchIncident, RecordReturnVisit, ResolveIncident
from coordination.domain.deadlines import DeadlineKind
from coordination.domain.incident import Incident
from coordination.domain.values import Category, Kind, Satisfaction
from coordination.projections import views
from coordination.projections.projector import Projector
from coordination.store import keys
from coordination.store.keys import current_generation

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICER = "陈桥街道 张主任"


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def work_order(epidemic: bool) -> dict[str, object]:
    return {
        "kind": Kind.WORK_ORDER,
        "title": "居民投诉",
        "place": "丽都",
        "reporter": REPORTER,
        "category": Category.COMPLAINT,
        "epidemic": epidemic,
    }


def a_day(svc: Services, clock: Clock) -> dict[str, str]:
    """Monday 03-02, by hand:

    10:00  E epidemic work order -> chenqiao (due 03-03 00:00 both); signed 10:10 (600 s);
           resolved 03-03 00:01 (one minute late; 50460 s after dispatch).
    10:30  R work order -> chenqiao; signed 11:30 (3600 s); resolved 12:30 (7200 s); called
           back unsatisfied at 13:00 (reopened, fresh deadlines); resolved again at 13:20
           (1200 s after the reopening, not 10200 s after the first dispatch).
    11:00  M work order -> chenqiao, returned and re-dispatched to binjiang at 11:40; signed
           there at 11:45 (300 s after the re-dispatch).
    """
    inc = svc.incidents
    clock.now = at(2026, 3, 2, 10, 0)
    e = inc.report(ADMIN, work_order(True)).incident.id
    clock.now = at(2026, 3, 2, 10, 10)
    drive(svc, e, "sign")
    clock.now = at(2026, 3, 2, 10, 30)
    r = inc.report(ADMIN, work_order(False)).incident.id
    clock.now = at(2026, 3, 2, 11, 0)
    m = inc.report(ADMIN, work_order(False)).incident.id
    clock.now = at(2026, 3, 2, 11, 30)
    drive(svc, r, "sign")
    drive(svc, m, "return")
    clock.now = at(2026, 3, 2, 11, 40)
    inc.execute(ADMIN, m, DispatchIncident(BINJIANG))
    clock.now = at(2026, 3, 2, 11, 45)
    drive(svc, m, "sign")
    clock.now = at(2026, 3, 2, 12, 30)
    drive(svc, r, "resolve")
    clock.now = at(2026, 3, 2, 13, 0)
    visit = RecordReturnVisit(Satisfaction.UNSATISFIED)
    inc.execute(ADMIN, r, visit)
    clock.now = at(2026, 3, 2, 13, 20)
    inc.execute(ADMIN, r, ResolveIncident("再次处理", OFFICER))
    clock.now = at(2026, 3, 3, 0, 1)
    inc.execute(ADMIN, e, ResolveIncident("已处理", OFFICER))
    return {"E": e, "R": r, "M": m}


def durations_by_hand(svc: Services, ids: dict[str, str], day: str) -> dict[str, list[int]]:
    """A day's durations, keyed ``<order>|<unit>|<kind>|<sign or resolve>``."""
    names = {v: k for k, v in ids.items()}
    streams = {s.position: s.stream for s in svc.store.read_partition(P, after=0, count=1000)}
    found: dict[str, list[int]] = {}
    for field, seconds in svc.reads.figures(P, day, [], at(2026, 3, 4)).durations.items():
        unit, kind, what, position = field.split("|")
        found.setdefault(f"{names[streams[int(position)]]}|{unit}|{kind}|{what}", []).append(
            seconds
        )
    return {name: sorted(values) for name, values in found.items()}


def test_times_to_sign_and_resolve_count_from_the_latest_dispatch_or_reopening(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    clock = Clock(at(2026, 3, 2, 9, 0))
    svc = services(redis_url, redis, clock)
    ids = a_day(svc, clock)
    svc.projector.catch_up(P)
    assert durations_by_hand(svc, ids, "2026-03-02") == {
        f"E|{CHENQIAO}|work_order|sign": [600],
        f"R|{CHENQIAO}|work_order|sign": [3600],
        f"M|{BINJIANG}|work_order|sign": [300],  # from the re-dispatch, not the report
        f"R|{CHENQIAO}|work_order|resolve": [1200, 7200],  # 1200: from the reopening
    }
    assert durations_by_hand(svc, ids, "2026-03-03") == {
        f"E|{CHENQIAO}|work_order|resolve": [50460]  # 14 h 1 min: a minute late
    }
    # The day's counters are what they were: durations are not counters.
    counts = svc.reads.day_counts(P, "2026-03-03")
    assert counts == {f"{CHENQIAO}|work_order|resolved_late": 1}


def test_a_deadline_done_a_minute_late_is_kept_as_a_late_spell(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    clock = Clock(at(2026, 3, 2, 9, 0))
    svc = services(redis_url, redis, clock)
    ids = a_day(svc, clock)
    svc.projector.catch_up(P)
    gen = current_generation(redis, P)
    members = {m.decode() for m in redis.zrange(keys.deadline_spells(P, gen), 0, -1)}
    e_resolve = [m for m in members if m.startswith(ids["E"] + "|resolve_by|")]
    assert len(e_resolve) == 1, members
    # Done on time and gone: E's sign_by, R's and M's signings, R's first resolve_by.
    running = {views.spell_deadline(m) for m in members if not m.startswith(ids["E"])}
    # R is resolved (no deadline runs), M runs its resolve_by at binjiang.
    assert running == {DeadlineKind.RESOLVE}
    info = json.loads(redis.hget(keys.deadline_spell_info(P, gen), e_resolve[0]))
    assert info == {
        "incident": ids["E"],
        "kind": "work_order",
        "unit": CHENQIAO,
        "deadline": "resolve_by",
        "due": "2026-03-03T00:00:00+08:00",
    }
    ended = redis.hget(keys.deadline_spell_ends(P, gen), e_resolve[0])
    assert datetime.fromisoformat(ended.decode()) == at(2026, 3, 3, 0, 1)

    def late_at(moment: datetime) -> list[tuple[str, str]]:
        return [(s.incident, s.deadline.value) for s in svc.reads.figures(P, "x", [], moment).late]

    assert late_at(at(2026, 3, 3, 0, 0)) == []  # due at midnight: not late at midnight
    assert late_at(at(2026, 3, 3, 0, 0, 30)) == [(ids["E"], "resolve_by")]
    assert late_at(at(2026, 3, 3, 0, 1)) == []  # done at 00:01
    # M, dispatched to binjiang on Monday, is due in five working days: late on 03-10.
    assert late_at(at(2026, 3, 10, 0, 0, 1)) == [(ids["M"], "resolve_by")]


def test_durations_and_spells_are_applied_once_and_equal_a_rebuild(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    clock = Clock(at(2026, 3, 2, 9, 0))
    svc = services(redis_url, redis, clock)
    a_day(svc, clock)
    live_through(svc, clock)
    Projector(redis, svc.store, batch_size=1).catch_up(P)
    once = dump_generation(redis)
    assert Projector(redis, svc.store, batch_size=5).catch_up(P) == 0
    assert dump_generation(redis) == once
    assert any(name.startswith("spells") for name in once)
    assert_no_zero_counters(once)
    check_read_models(redis)
    assert_same(rebuilt(redis, svc), once)


@pytest.mark.parametrize("nth", [1, 2, 4])
def test_a_crash_half_way_through_a_batch_leaves_no_duration_or_spell_behind(
    redis: redis_lib.Redis, redis_url: str, nth: int
) -> None:
    clock = Clock(at(2026, 3, 2, 9, 0))
    svc = services(redis_url, redis, clock)
    a_day(svc, clock)
    crash = CrashAt(nth)
    crashing = Projector(redis, svc.store, batch_size=4, before_commit=crash)
    with pytest.raises(Boom):
        crashing.catch_up(P)
    redis.delete(keys.projector_lock(P))  # the crashed holder's lock would expire
    assert crash.crashed
    gen = current_generation(redis, P)
    checkpoint = int(redis.get(keys.checkpoint(P, gen)) or 0)
    assert checkpoint < crash.crashed[0]
    # Nothing of the crashed batch landed: every duration is of an event before the checkpoint.
    for day in ("2026-03-02", "2026-03-03"):
        for field in svc.reads.figures(P, day, [], at(2026, 3, 4)).durations:
            assert int(field.rsplit("|", 1)[1]) <= checkpoint
    Projector(redis, svc.store, batch_size=4).catch_up(P)
    after = dump_generation(redis)
    check_read_models(redis)
    assert_same(rebuilt(redis, svc), after)


def test_an_old_view_without_dispatch_time_or_spells_still_decodes() -> None:
    view = views.View(
        Incident(id="x"),
        at(2026, 3, 2, 9),
        at(2026, 3, 2, 9),
        3,
        1,
    )
    data = json.loads(views.encode(view))
    del data["dispatched_at"], data["spells"]
    old = views.decode(json.dumps(data))
    assert (old.dispatched_at, old.spells) == (None, ())
    assert old.incident.id == "x"
