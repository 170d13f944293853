"""Real RQ workers and the real scheduler against a real valkey server: a forking worker
drains the catch-up an append enqueued; a worker killed with SIGKILL in the middle of a batch
leaves whole batches only, and a fresh worker finishes the job; the periodic tick heals a
lost trigger; ``coordination scheduler`` enqueues ticks that a JSON worker runs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis as redis_lib
from clock import Clock
from helpers_projection import (
    ADMIN,
    CHENQIAO,
    LIDU,
    LIVES,
    NOW,
    REPORTER,
    P,
    assert_same,
    check_read_models,
    checkpoint,
    dump_generation,
    head,
    live_through,
    rebuilt,
    services,
)
from rq import Queue
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from rq.serializers import JSONSerializer

from coordination.bootstrap import Services
from coordination.config import Config
from coordination.domain.deadlines import DeadlineKind
from coordination.domain.events import (
    Event,
    IncidentClaimed,
    IncidentDispatched,
    IncidentEscalated,
    IncidentHandedDown,
    IncidentReleased,
    IncidentReported,
    IncidentSignedFor,
)
from coordination.domain.incident import fold, pending_deadlines
from coordination.domain.units import Level
from coordination.domain.values import Kind, SupplyItem
from coordination.projections import views
from coordination.projections.projector import Projector
from coordination.store import keys
from coordination.store.eventstore import EventStore
from coordination.store.keys import current_generation
from coordination.store.triggers import CatchUpTrigger
from workers import jobs

ROOT = Path(__file__).resolve().parents[2]
RQ = str(Path(sys.executable).parent / "rq")
QUEUE = Config().queue
LOCK_SECONDS = 1.5  # the killed projector's lock outlives it by at most this (the default)


def worker_env(redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COORDINATION_")}
    env.update(REDIS_URL=redis_url, **extra)
    return env


def queue_of(redis: redis_lib.Redis) -> Queue:
    return Queue(QUEUE, connection=redis, serializer=JSONSerializer)


def burst_worker(redis_url: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """``rq worker --burst``: the default, forking worker, with the JSON serializer."""
    return subprocess.run(
        [RQ, "worker", "--burst", "--url", redis_url, "--serializer", "json", QUEUE],
        cwd=ROOT,
        env=worker_env(redis_url, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts in sessions of their own; whatever is left is killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            for pgid in [*children(proc.pid), proc.pid]:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
            proc.wait(10)


# --- a forking worker drains what an append enqueued --------------------------------------


def test_a_forking_burst_worker_drains_the_catch_up_an_append_enqueued(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    clock = Clock()
    svc = services(redis_url, redis, clock)
    live_through(svc, clock)
    total = head(redis)
    queue = queue_of(redis)
    assert queue.count == 1
    assert [(j.func_name, j.args) for j in queue.jobs] == [("workers.jobs.catch_up", [P])]
    assert svc.projector.lag(P).lag == total

    result = burst_worker(redis_url)
    assert result.returncode == 0, result.stderr[-3000:]

    assert queue.count == 0
    assert FailedJobRegistry(QUEUE, connection=redis, serializer=JSONSerializer).count == 0
    lag = svc.projector.lag(P)
    assert (lag.checkpoint, lag.lag) == (total, 0)
    assert not redis.exists(keys.trigger(P))
    assert not redis.exists(keys.projector_lock(P))
    check_read_models(redis)
    assert_same(dump_generation(redis), rebuilt(redis, svc))


# --- SIGKILL in the middle of a batch -----------------------------------------------------

BATCH = 50
LEASE = NOW + timedelta(minutes=30)


def long_life(n: int, cycles: int = 17) -> tuple[str, list[Event]]:
    """An incident handed down to lidu, then claimed and released ``cycles`` times by five
    volunteers in turn, and claimed once more (so holdings and leases are left to project);
    every other one released again. 39 or 40 events."""
    incident_id = f"gangwen-20200208-{n:08x}"
    events: list[Event] = [
        IncidentReported(
            incident_id=incident_id,
            kind=Kind.SUPPLY_DELIVERY,
            title=f"口罩 #{n}",
            place="丽都花园",
            place_unit=LIDU,
            district=P,
            reporter=REPORTER,
            items=(SupplyItem("口罩", 1 + n % 50),),
            epidemic=True,
        ),
        IncidentDispatched(CHENQIAO, Level.STREET),
        IncidentSignedFor(CHENQIAO),
        IncidentHandedDown(LIDU),
    ]
    for j in range(cycles):
        holder = f"vol-{(n + j) % 5}"
        events += [IncidentClaimed(holder, LIDU, LEASE), IncidentReleased(holder)]
    events.append(IncidentClaimed(f"vol-{n % 5}", LIDU, LEASE + timedelta(seconds=n)))
    if n % 2:
        events.append(IncidentReleased(f"vol-{n % 5}"))
    return incident_id, events


def test_sigkill_in_the_middle_of_a_batch_then_a_fresh_worker_equals_a_rebuild(
    redis: redis_lib.Redis,
    redis_url: str,
    processes: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    store = EventStore(redis)
    trigger = CatchUpTrigger(redis, QUEUE)
    appended = 0
    for n in range(500):  # 500 appends of 39 or 40 events each: 19,750 events
        incident_id, events = long_life(n)
        recorded = store.append(
            P, incident_id, 0, events, actor="seed", now=NOW + timedelta(seconds=n)
        )
        appended += len(events)
        if recorded.triggered:
            trigger(P)
    total = head(redis)
    assert total == appended == 19_750
    queue = queue_of(redis)
    assert queue.count == 1

    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [RQ, "worker", "--url", redis_url, "--serializer", "json", QUEUE],
            cwd=ROOT,
            env=worker_env(
                redis_url,
                COORDINATION_PROJECTOR_BATCH=str(BATCH),
                COORDINATION_PROJECTOR_LOCK_SECONDS=str(LOCK_SECONDS),
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    processes.append(worker)
    deadline = time.monotonic() + 60
    while checkpoint(redis) < 4_000:  # a fifth of the way, so that it dies mid-job
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the worker never started projecting"
        time.sleep(0.002)
    # The work horse runs the job; RQ puts it in a process group of its own (setpgrp), so
    # killing the worker's group alone would leave it running: kill both, horse first.
    horses = children(worker.pid)
    assert horses, "a forking worker runs the job in a child"
    for horse in horses:
        os.killpg(os.getpgid(horse), signal.SIGKILL)
    os.killpg(worker.pid, signal.SIGKILL)
    killed = time.monotonic()
    worker.wait(10)
    deadline = time.monotonic() + 10
    while not all(gone(h) for h in horses):
        assert time.monotonic() < deadline
        time.sleep(0.01)

    reached = checkpoint(redis)
    assert 0 < reached < total, "killed before the end"
    assert reached % BATCH == 0, "only whole batches landed"
    gen = current_generation(redis, P)
    indexed = redis.zrange(keys.incidents_index(P, gen), 0, -1)
    streams = {e.stream for e in store.read_partition(P, after=0, count=reached)}
    assert {m.decode() for m in indexed} == streams
    positions = [
        views.decode(raw).position
        for raw in redis.mget([keys.view(P, gen, m.decode()) for m in indexed])
    ]
    assert max(positions) == reached
    check_read_models(redis)

    # The dead projector's lock lives on until its short TTL lapses; a successor's catch-up
    # (as the tick or a later append would start) waits that out and takes over.
    lock_ttl_ms = redis.pttl(keys.projector_lock(P))
    assert 0 < lock_ttl_ms <= LOCK_SECONDS * 1000
    successor = Projector(redis, store, batch_size=BATCH, lock_ttl_ms=int(LOCK_SECONDS * 1000))
    moved = []
    waiter = threading.Thread(target=lambda: moved.append(successor.catch_up(P)))
    waiter.start()
    while checkpoint(redis) == reached:
        assert time.monotonic() - killed < 2.0, "no successor took over within 2 s"
        time.sleep(0.01)
    took_over = time.monotonic() - killed
    waiter.join(120)
    assert moved == [total - reached]
    print(f"killed at {reached}/{total}; the successor applied {took_over:.2f}s after the kill")

    result = burst_worker(redis_url, COORDINATION_PROJECTOR_BATCH=str(BATCH))
    assert result.returncode == 0, result.stderr[-3000:]
    lag = Projector(redis, store).lag(P)
    assert (lag.checkpoint, lag.lag) == (total, 0)
    check_read_models(redis)
    assert_same(dump_generation(redis), rebuilt(redis, services(redis_url, redis, stocked=False)))


# --- the periodic tick --------------------------------------------------------------------


def running_deadlines(svc: Services, ids: list[str]) -> set[tuple[str, DeadlineKind]]:
    """The deadlines still running on the incidents, as their logs fold (no projection)."""
    return {
        (incident_id, kind)
        for incident_id in ids
        for kind in pending_deadlines(fold(e.event for e in svc.store.read_stream(P, incident_id)))
    }


def test_the_tick_catches_up_a_partition_whose_trigger_was_lost(
    redis: redis_lib.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    for name in [k for k in os.environ if k.startswith("COORDINATION_")]:
        monkeypatch.delenv(name)
    jobs.services.cache_clear()
    try:
        clock = Clock()
        svc = services(redis_url, redis, clock)
        queue_of(redis).empty()  # the stock-up's catch-up too: left for the tick like the rest
        svc.incidents.on_append = None  # the trigger is lost: nothing is ever enqueued
        ids = live_through(svc, clock)
        redis.delete(keys.trigger(P))
        total = head(redis)
        queue = queue_of(redis)
        assert queue.count == 0
        held = [i for i, (*_, names) in zip(ids, LIVES, strict=True) if names[-1:] == ("claim",)]
        claimed = len(held)  # lives left claimed
        assert claimed == 2
        before = running_deadlines(svc, ids)
        assert before, "the lives leave deadlines running"

        # The tick catches up, then (on the real clock, long after 2020) expires both leases
        # and records every running deadline as breached (a breach and its escalation, two
        # events each), and catches up again so that all of it shows at once.
        applied = total + claimed + 2 * len(before)
        assert jobs.tick() == {P: {"applied": applied, "expired": claimed, "breached": len(before)}}
        assert checkpoint(redis) == head(redis) == applied
        assert svc.projector.lag(P).lag == 0
        escalated = {
            (e.stream, e.event.deadline)
            for e in svc.store.read_partition(P, after=total, count=applied)
            if isinstance(e.event, IncidentEscalated)
        }
        assert escalated == before
        # The expiries and breaches were appended by the tick's own services, which do
        # enqueue (one catch-up: the trigger deduplicates them).
        assert queue.count == 1
        # An expired claim is back in its community's queue, so a claim deadline runs again:
        # only a night emergency has one (claimed in minutes). The next tick breaches it.
        again = running_deadlines(svc, ids)
        night = [i for i in held if svc.incidents.load(ADMIN, i)[0].kind is Kind.NIGHT_EMERGENCY]
        assert len(night) == 1
        assert again == {(night[0], DeadlineKind.CLAIM)}
        assert jobs.tick() == {P: {"applied": 2 * len(again), "expired": 0, "breached": len(again)}}
        assert jobs.tick() == {P: {"applied": 0, "expired": 0, "breached": 0}}
        assert running_deadlines(svc, ids) == set()
        assert svc.projector.lag(P).lag == 0
        assert svc.reads.due_leases(P, clock.advance(days=365 * 10)) == []
        assert svc.reads.due_deadlines(P, clock.now) == []
        check_read_models(redis)
        assert_same(dump_generation(redis), rebuilt(redis, svc))
    finally:
        jobs.services.cache_clear()


def test_scheduler_enqueues_ticks_a_json_worker_runs(
    redis: redis_lib.Redis, redis_url: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    queue = queue_of(redis)
    env = worker_env(redis_url, COORDINATION_TICK_SECONDS="1")
    scheduler = subprocess.Popen(
        [str(Path(sys.executable).parent / "coordination"), "scheduler"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    processes.append(scheduler)
    started = time.monotonic()
    while queue.count < 3 and time.monotonic() - started < 20:
        assert scheduler.poll() is None, (
            scheduler.stdout.read().decode() if scheduler.stdout else ""
        )
        time.sleep(0.05)
    assert redis.exists(keys.scheduler_heartbeat()), "the compose health check relies on it"
    scheduler.send_signal(signal.SIGTERM)
    output = scheduler.communicate(timeout=10)[0].decode()
    assert scheduler.returncode == 0, output
    assert queue.count >= 3, output
    enqueued = []
    for job_id in queue.job_ids:
        job = redis.hgetall(f"rq:job:{job_id}")
        assert job[b"origin"] == QUEUE.encode()
        enqueued.append(datetime.fromisoformat(job[b"enqueued_at"].decode().rstrip("Z")))
    enqueued.sort()
    gaps = [(b - a).total_seconds() for a, b in zip(enqueued, enqueued[1:], strict=False)]
    assert all(0.5 < gap < 2.5 for gap in gaps), f"ticks {gaps} s apart, not one a second"
    # The ticks are JSON: a JSON worker runs every one of them without failing.
    count = queue.count
    subprocess.run(
        [RQ, "worker", "--burst", "--url", redis_url, "--serializer", "json", QUEUE],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert queue.count == 0
    assert FailedJobRegistry(QUEUE, connection=redis, serializer=JSONSerializer).count == 0
    assert FinishedJobRegistry(QUEUE, connection=redis, serializer=JSONSerializer).count == count
