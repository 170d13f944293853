"""Shared helpers for the projection and worker tests: report fields, lives to live through at
a test clock (tests/support/clock.py), and a dump of every projection key with its type and
content, to compare projections key by key.

A plain module rather than conftest.py so that tests can import it by name.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import redis as redis_lib
from clock import START, Clock
from supplies import stock_up

from coordination.bootstrap import Services, build_services
from coordination.config import Config
from coordination.domain.access import Actor, Role
from coordination.domain.commands import (
    ClaimIncident,
    CloseIncident,
    Command,
    DispatchIncident,
    ExpireClaim,
    HandDown,
    RecordReturnVisit,
    ReleaseIncident,
    ResolveIncident,
    ReturnIncident,
    SignFor,
)
from coordination.domain.values import (
    Category,
    Contact,
    Kind,
    Priority,
    Satisfaction,
    StaffKind,
    Status,
    SupplyItem,
)
from coordination.handlers.incidents import Written
from coordination.projections import views
from coordination.projections.projector import Projector
from coordination.projections.queues import placements, urgency
from coordination.store import keys
from coordination.store.keys import current_generation

P = "gangwen"
DISTRICT = "gangwen"
CHENQIAO = "gangwen/chenqiao"
LIDU = "gangwen/chenqiao/lidu"
BINJIANG = "gangwen/binjiang"
WANGHAI = "gangwen/binjiang/wanghai"
NOW = START  # where a Clock() starts: noon of 2020-02-08, Beijing time
ADMIN = Actor(subject="admin", role=Role.ADMIN, unit=DISTRICT)
REPORTER = Contact("王女士", "13800000000")


class Boom(Exception):
    """The crash a ``before_commit`` hook raises in the middle of a batch."""


@dataclass
class CrashAt:
    """A ``before_commit`` hook that raises on its ``nth`` call (1-based), once or each time."""

    nth: int
    calls: int = 0
    crashed: list[int] = field(default_factory=list)

    def __call__(self, position: int) -> None:
        self.calls += 1
        if self.calls == self.nth:
            self.crashed.append(position)
            raise Boom(f"crash before committing the batch ending at {position}")


def services(
    redis_url: str, redis: redis_lib.Redis | None = None, clock: Any = None, stocked: bool = True
) -> Services:
    """Services on the test's server; ``stocked``: with the catalogue and masks in every unit,
    so that delivery orders can be handed down, claimed and resolved."""
    svc = build_services(Config(redis_url=redis_url), redis, clock=clock or Clock())
    if stocked:
        stock_up(svc)
    return svc


def register_volunteer(
    svc: Services, staff_id: str, name: str, unit: str = LIDU, *, quarantine_trained: bool = False
) -> str:
    """Register ``staff_id`` as an active volunteer of ``unit`` (claims need a registered
    member; quarantine visits, one trained for them); the id, to act as."""
    fields = {
        "staff_id": staff_id,
        "name": name,
        "unit": unit,
        "kind": StaffKind.VOLUNTEER,
        "quarantine_trained": quarantine_trained,
    }
    svc.staff.register(ADMIN, fields)
    return staff_id


def report_fields(
    kind: Kind = Kind.SUPPLY_DELIVERY,
    place: str = "丽都花园",
    priority: Priority | None = None,
    title: str = "",
) -> dict[str, Any]:
    """Valid fields of a report of ``kind`` at ``place`` for ``IncidentHandler.report``."""
    fields: dict[str, Any] = {
        "kind": kind,
        "title": title or f"{kind.value} at {place}",
        "place": place,
        "reporter": REPORTER,
    }
    if kind is Kind.SUPPLY_DELIVERY:
        fields.update(items=(SupplyItem("口罩", 50),), epidemic=True)
    elif kind is Kind.QUARANTINE_VISIT:
        fields.update(person=Contact("李先生", "13900000000"), epidemic=True)
    elif kind is Kind.WORK_ORDER:
        fields.update(category=Category.COMPLAINT)
    elif kind is Kind.NIGHT_EMERGENCY:
        fields.update(priority=Priority.URGENT)
    if priority is not None:
        fields["priority"] = priority
    return fields


# --- dumping projections ------------------------------------------------------------------


def _content(redis: redis_lib.Redis, key: bytes, kind: str) -> Any:
    if kind == "string":
        raw = redis.get(key)
        try:
            return json.loads(raw)  # a view: compare it as data, so a diff reads well
        except (TypeError, ValueError):
            return raw
    if kind == "hash":
        return dict(sorted(redis.hgetall(key).items()))
    if kind == "zset":
        return redis.zrange(key, 0, -1, withscores=True)
    if kind == "set":
        return sorted(redis.smembers(key))
    if kind == "list":
        return redis.lrange(key, 0, -1)
    raise AssertionError(f"unexpected type {kind} of {key!r}")


def dump_all(redis: redis_lib.Redis, partition: str = P) -> dict[str, tuple[str, Any, int]]:
    """Every key of every generation of ``partition``: name -> (type, content, ttl)."""
    out: dict[str, tuple[str, Any, int]] = {}
    for key in sorted(redis.scan_iter(match=f"{keys.tag(partition)}:g*", count=1000)):
        kind = redis.type(key).decode()
        out[key.decode()] = (kind, _content(redis, key, kind), redis.ttl(key))
    return out


def dump_generation(
    redis: redis_lib.Redis, partition: str = P, gen: int | None = None
) -> dict[str, tuple[str, Any, int]]:
    """The keys of one generation (the current one by default), without their prefix."""
    gen = current_generation(redis, partition) if gen is None else gen
    prefix = keys.projection_prefix(partition, gen)
    return {
        name[len(prefix) :]: value
        for name, value in dump_all(redis, partition).items()
        if name.startswith(prefix)
    }


def rebuilt(redis: redis_lib.Redis, services: Services, partition: str = P) -> dict[str, Any]:
    """Rebuild ``partition`` from its log into a fresh generation (which is swapped in) and
    return that generation's dump; the generation it replaced must be gone."""
    old = current_generation(redis, partition)
    projector = Projector(redis, services.store, rebuild_grace_seconds=0, rebuild_batch=997)
    new = projector.rebuild(partition)
    assert new != old
    assert current_generation(redis, partition) == new
    assert not dump_generation(redis, partition, old), "the old generation was not dropped"
    return dump_generation(redis, partition, new)


def assert_same(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Key by key, with a readable message on the first difference."""
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    assert not missing, f"keys missing: {missing[:10]}"
    assert not extra, f"keys extra: {extra[:10]}"
    for name in sorted(expected):
        assert actual[name] == expected[name], f"{name}: {actual[name]!r} != {expected[name]!r}"


def assert_no_zero_counters(dump: dict[str, tuple[str, Any, int]]) -> None:
    """Summary counters drop their field at zero and never go negative."""
    for name, (kind, content, _ttl) in dump.items():
        if "summary:" in name:
            assert kind == "hash", name
            for fld, value in content.items():
                assert int(value) > 0, f"{name} has {fld!r} = {value!r}"


def head(redis: redis_lib.Redis, partition: str = P) -> int:
    return int(redis.get(keys.head(partition)) or 0)


def checkpoint(redis: redis_lib.Redis, partition: str = P) -> int:
    gen = current_generation(redis, partition)
    return int(redis.get(keys.checkpoint(partition, gen)) or 0)


# --- driving incidents through their life -------------------------------------------------

VOLUNTEER = "vol-1"


def step(name: str, unit: str = CHENQIAO) -> Command:
    """The command of one named step of an incident's life."""
    steps: dict[str, Command] = {
        "sign": SignFor(),
        "return": ReturnIncident("不属于本街道辖区"),
        "dispatch": DispatchIncident(unit=unit),
        "hand_down": HandDown(),
        "claim": ClaimIncident(holder=VOLUNTEER),
        "release": ReleaseIncident(by=VOLUNTEER),
        "expire": ExpireClaim(holder=VOLUNTEER),
        "resolve": ResolveIncident("已送达口罩", "陈桥街道 张主任"),
        "visit": RecordReturnVisit(Satisfaction.SATISFIED),
        "visit_unsatisfied": RecordReturnVisit(Satisfaction.UNSATISFIED),
        "close": CloseIncident(note="回访未接通"),
    }
    return steps[name]


def drive(svc: Services, incident_id: str, *names: str) -> Written:
    """Carry out the named steps in order (each must succeed); the last write."""
    written: Written | None = None
    for name in names:
        written = svc.incidents.execute(ADMIN, incident_id, step(name))
    assert written is not None
    return written


# Lives that end in every status and every queue; (kind, place, steps).
LIVES: list[tuple[Kind, str, tuple[str, ...]]] = [
    (Kind.SUPPLY_DELIVERY, "丽都花园", ()),
    (Kind.QUARANTINE_VISIT, "丽都花园", ("sign",)),
    (Kind.WORK_ORDER, "丽都花园", ("return",)),
    (Kind.SUPPLY_DELIVERY, "丽都花园", ("return", "dispatch")),
    (Kind.SUPPLY_DELIVERY, "丽都花园", ("sign", "hand_down")),
    (Kind.QUARANTINE_VISIT, "丽都花园", ("sign", "hand_down", "claim")),
    (Kind.SUPPLY_DELIVERY, "丽都花园", ("sign", "hand_down", "claim", "release")),
    (Kind.WORK_ORDER, "丽都花园", ("sign", "hand_down", "claim", "resolve")),
    (Kind.SUPPLY_DELIVERY, "丽都花园", ("sign", "resolve", "visit")),
    (Kind.SUPPLY_DELIVERY, "丽都花园", ("sign", "hand_down", "resolve", "close")),
    (Kind.QUARANTINE_VISIT, "丽都花园", ("sign", "hand_down", "resolve", "visit_unsatisfied")),
    (Kind.NIGHT_EMERGENCY, "丽都花园", ()),
    (Kind.NIGHT_EMERGENCY, "丽都花园", ("claim",)),
    (Kind.WORK_ORDER, "望海苑", ()),
    (Kind.SUPPLY_DELIVERY, "望海苑", ("sign",)),
]


def live_through(svc: Services, clock: Clock, lives: list[Any] | None = None) -> list[str]:
    """Report one incident per life and carry out its steps, a minute apart; their ids."""
    ids = []
    for kind, place, names in LIVES if lives is None else lives:
        clock.advance(minutes=1)
        written = svc.incidents.report(ADMIN, report_fields(kind, place))
        ids.append(written.incident.id)
        for name in names:
            clock.advance(seconds=7)
            drive(svc, written.incident.id, name)
    return ids


# --- what the read models must hold, computed from the views ------------------------------


def check_read_models(redis: redis_lib.Redis, partition: str = P) -> None:
    """The queues, summaries, holdings and leases of the current generation agree with its
    views: each open order in its queue (and an escalated one in its escalation's too), at its
    urgency, summaries counting the queues by ``status|kind`` with no zero fields, holders and
    leases of claims, and the running deadlines."""
    gen = current_generation(redis, partition)
    prefix = keys.projection_prefix(partition, gen)
    ids = [m.decode() for m in redis.zrange(keys.incidents_index(partition, gen), 0, -1)]
    raws = redis.mget([keys.view(partition, gen, i) for i in ids]) if ids else []
    assert all(r is not None for r in raws), "an indexed incident without a view"
    found = [views.decode(r) for r in raws]
    queues: dict[str, dict[bytes, float]] = {}
    summaries: dict[str, Counter[str]] = {}
    holdings: dict[str, set[bytes]] = {}
    leases: dict[bytes, float] = {}
    deadlines: dict[bytes, float] = {}
    claimable: dict[str, dict[bytes, float]] = {}
    for view in found:
        incident = view.incident
        member = incident.id.encode()
        if incident.status is Status.HANDED_DOWN:
            claimable.setdefault(incident.unit, {})[member] = urgency(view)
        for unit, counted_as in placements(incident).items():
            queues.setdefault(unit, {})[member] = urgency(view)
            summaries.setdefault(unit, Counter())[counted_as] += 1
        deadlines.update({m.encode(): due for m, due in views.deadline_members(incident).items()})
        if incident.holder:
            holdings.setdefault(incident.holder, set()).add(member)
        if incident.lease_expires_at is not None:
            leases[member] = incident.lease_expires_at.timestamp()
    actual_queues = {
        k.decode()[len(prefix + "queue:") :]: dict(redis.zrange(k, 0, -1, withscores=True))
        for k in redis.scan_iter(match=prefix + "queue:*")
    }
    assert actual_queues == queues
    actual_summaries = {
        k.decode()[len(prefix + "summary:") :]: {
            f.decode(): int(v) for f, v in redis.hgetall(k).items()
        }
        for k in redis.scan_iter(match=prefix + "summary:*")
    }
    assert actual_summaries == {u: dict(c) for u, c in summaries.items()}
    for unit, counts in actual_summaries.items():
        assert all(v > 0 for v in counts.values()), f"a zero or negative count at {unit}"
    actual_holdings = {
        k.decode()[len(prefix + "holder:") :]: redis.smembers(k)
        for k in redis.scan_iter(match=prefix + "holder:*")
    }
    assert actual_holdings == holdings
    assert dict(redis.zrange(keys.leases(partition, gen), 0, -1, withscores=True)) == leases
    assert dict(redis.zrange(keys.deadlines(partition, gen), 0, -1, withscores=True)) == deadlines
    actual_claimable = {
        k.decode()[len(prefix + "claimable:") :]: dict(redis.zrange(k, 0, -1, withscores=True))
        for k in redis.scan_iter(match=prefix + "claimable:*")
    }
    assert actual_claimable == claimable
