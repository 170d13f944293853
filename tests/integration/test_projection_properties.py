"""Property: however commands and catch-ups interleave, with whatever batch sizes and crashes,
the projections equal, key by key, a clean rebuild from the log (against a real server)."""

from __future__ import annotations

import contextlib
from typing import Any

import redis as redis_lib
from clock import Clock
from helpers_projection import (
    ADMIN,
    BINJIANG,
    CHENQIAO,
    LIDU,
    WANGHAI,
    Boom,
    CrashAt,
    P,
    assert_same,
    check_read_models,
    dump_generation,
    rebuilt,
    report_fields,
    services,
)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from coordination.domain.commands import (
    ClaimIncident,
    CloseIncident,
    DispatchIncident,
    ExpireClaim,
    HandDown,
    RecordReturnVisit,
    ReleaseIncident,
    ResolveIncident,
    ReturnIncident,
    SignFor,
)
from coordination.domain.errors import DomainError
from coordination.domain.values import Kind, Priority, Satisfaction, Status
from coordination.handlers.base import NotFound, VersionMismatch
from coordination.projections.projector import Projector
from coordination.store import keys

HOLDERS = ("vol-a", "vol-b")
PLACES = ("丽都花园", "丽都花园", "望海苑", "花桥新村")
UNITS = (CHENQIAO, BINJIANG, LIDU, WANGHAI, "gangwen/market", "gangwen/chenqiao/huaqiao")


def command(name: str, unit: str, holder: str) -> Any:
    return {
        "sign": SignFor(),
        "return": ReturnIncident("不属于本辖区"),
        "dispatch": DispatchIncident(unit=unit),
        "hand_down": HandDown(),
        "claim": ClaimIncident(holder=holder),
        "release": ReleaseIncident(by=holder),
        "release_override": ReleaseIncident(by="handler", override=True),
        "expire": ExpireClaim(holder=holder),
        "resolve": ResolveIncident("已处理", "张主任"),
        "visit": RecordReturnVisit(Satisfaction.SATISFIED),
        "visit_unsatisfied": RecordReturnVisit(Satisfaction.UNSATISFIED),
        "close": CloseIncident(),
    }[name]


# The commands that may apply in each status: a "next" step picks one of them, so that
# incidents travel far through their lives instead of mostly bouncing off the rules.
NEXT: dict[Status, tuple[str, ...]] = {
    Status.DISPATCHED: ("sign", "sign", "return", "dispatch"),
    Status.SIGNED: ("hand_down", "hand_down", "resolve"),
    Status.RETURNED: ("dispatch",),
    Status.HANDED_DOWN: ("claim", "claim", "resolve"),
    Status.CLAIMED: ("release", "release_override", "expire", "resolve", "resolve"),
    Status.RESOLVED: ("visit", "visit_unsatisfied"),
    Status.VISITED: ("close",),
    Status.CLOSED: ("close",),
}

reports = st.tuples(
    st.just("report"),
    st.sampled_from(list(Kind)),
    st.sampled_from(PLACES),
    st.sampled_from(list(Priority)),
)
commands = st.tuples(
    st.just("cmd"),
    st.integers(0, 5),
    st.sampled_from(
        [
            "sign",
            "sign",
            "return",
            "dispatch",
            "hand_down",
            "hand_down",
            "claim",
            "claim",
            "release",
            "release_override",
            "expire",
            "resolve",
            "resolve",
            "visit",
            "visit_unsatisfied",
            "close",
        ]
    ),
    st.sampled_from(UNITS),
    st.sampled_from(HOLDERS),
)
nexts = st.tuples(
    st.just("next"),
    st.integers(0, 5),
    st.integers(0, 11),
    st.sampled_from(UNITS),
    st.sampled_from(HOLDERS),
)
advances = st.tuples(st.just("advance"), st.integers(1, 45))
projections = st.tuples(
    st.just("project"), st.integers(1, 7), st.one_of(st.none(), st.integers(1, 4))
)
steps = st.lists(
    st.one_of(reports, commands, nexts, nexts, nexts, nexts, advances, projections),
    min_size=20,
    max_size=120,
)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(first=st.lists(reports, min_size=1, max_size=4), then=steps, final_batch=st.integers(1, 9))
def test_incremental_projection_with_crashes_equals_a_rebuild(
    redis_url: str,
    first: list[tuple[Any, ...]],
    then: list[tuple[Any, ...]],
    final_batch: int,
) -> None:
    plan = first + then
    redis = redis_lib.Redis.from_url(redis_url)
    try:
        redis.flushall()
        clock = Clock()
        svc = services(redis_url, redis, clock)
        ids: list[str] = []
        for item in plan:
            match item:
                case ("report", kind, place, priority):
                    fields = report_fields(kind, place, priority=priority)
                    ids.append(svc.incidents.report(ADMIN, fields).incident.id)
                case ("cmd", index, name, unit, holder) if ids:
                    cmd = command(name, unit, holder)
                    with contextlib.suppress(DomainError, VersionMismatch, NotFound):
                        svc.incidents.execute(ADMIN, ids[index % len(ids)], cmd)
                case ("next", index, choice, unit, holder) if ids:
                    incident_id = ids[index % len(ids)]
                    state, _ = svc.incidents.load(ADMIN, incident_id)
                    options = NEXT[state.status]
                    name = options[choice % len(options)]
                    if name == "release" or name == "expire":
                        holder = state.holder  # an expiry still fails while the lease runs
                    cmd = command(name, unit, holder)
                    with contextlib.suppress(DomainError, VersionMismatch, NotFound):
                        svc.incidents.execute(ADMIN, incident_id, cmd)
                case ("advance", minutes):
                    clock.advance(minutes=minutes)
                case ("project", batch_size, crash_at):
                    hook = CrashAt(crash_at) if crash_at else None
                    projector = Projector(redis, svc.store, batch_size, before_commit=hook)
                    with contextlib.suppress(Boom):
                        projector.catch_up(P)
                    assert not redis.exists(keys.projector_lock(P))
                    check_read_models(redis)

        Projector(redis, svc.store, batch_size=final_batch).catch_up(P)
        statuses = {v.incident.status for v in svc.reads.incidents(P, lambda v: True).items}
        for status in statuses:
            event(f"an incident ends {status.value}")
        event(f"events in the log: {svc.projector.lag(P).head // 20 * 20}+")
        assert svc.projector.lag(P).lag == 0
        check_read_models(redis)
        assert_same(dump_generation(redis), rebuilt(redis, svc))
    finally:
        redis.close()
