"""Failover without loss: writers append to two districts on two shards, each append
acknowledged only once the primary's AOF has it and its replica has it too (WAIT), while a primary
is killed with SIGKILL ten times (and started again, as a replica). Afterwards every
acknowledged event is in the log once, positions are gapless in each district, and the
projections equal a rebuild. What the writers saw meanwhile is counted: the appends that got
no answer (the API's 503 "may or may not have landed"), and how long each failover held them.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import TypeVar

from helpers_projection import assert_same, dump_generation, rebuilt
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError
from test_eventstore import NOW, command

from coordination.config import Config
from coordination.devtools.cluster import EmbeddedCluster
from coordination.projections.projector import Projector
from coordination.store import keys
from coordination.store.connection import connect_cluster, is_unavailable
from coordination.store.eventstore import EventStore, Idempotency, WriteOutcomeUnknown

DISTRICTS = ("gangwen", "haiyun")
T = TypeVar("T")
ROUNDS = 10
WRITERS = 4


@dataclass
class Seen:
    acknowledged: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    unanswered: int = 0  # appends that got no answer and were retried with their key
    stalls: list[float] = field(default_factory=list)  # from a first failure to the next ack
    crashed: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def retrying(seen: Seen, attempt: Callable[[], T]) -> tuple[T, float | None]:
    """``attempt()`` until it answers, sent again after each unavailability (an append with
    the same idempotency key); the answer, and when the first failure was."""
    failed_at = None
    while True:
        try:
            return attempt(), failed_at
        except (WriteOutcomeUnknown, RedisError, RedisClusterException) as exc:
            if not isinstance(exc, WriteOutcomeUnknown) and not is_unavailable(exc):
                raise
            with seen.lock:
                seen.unanswered += 1
            failed_at = failed_at or time.monotonic()
            time.sleep(0.05)


def writer(cluster: EmbeddedCluster, n: int, stop: threading.Event, seen: Seen) -> None:
    """Appends to streams of its own in both districts, one command at a time, each with an
    idempotency key; an append without an answer is sent again with the same key until it
    has one (the first landed, or this one does): never twice."""
    client = connect_cluster(Config(redis_cluster_url=cluster.seeds, redis_timeout_seconds=1.0))
    store = EventStore(client, wait_replicas=1, wait_timeout_ms=1000)
    versions: dict[tuple[str, str], int] = defaultdict(int)
    i = 0
    try:
        while not stop.is_set():
            i += 1
            partition = DISTRICTS[i % 2]
            stream = f"{partition}-w{n}-{i % 7}"
            version = versions[partition, stream]
            events = command(1) if version == 0 else command(2)[1:]
            key = Idempotency(f"writer-{n}", uuid.uuid4().hex, "h")
            recorded, failed_at = retrying(
                seen,
                lambda: store.append(
                    partition, stream, version, events,  # noqa: B023 - called at once
                    actor=f"writer-{n}", now=NOW + timedelta(seconds=i), idempotency=key,  # noqa: B023
                ),
            )  # fmt: skip
            versions[partition, stream] = recorded.version
            if recorded.duplicate:  # the first attempt landed: its events, read back
                history, _ = retrying(seen, lambda: store.read_stream(partition, stream))  # noqa: B023
                ids = [e.id for e in history[recorded.version - 1 : recorded.version]]
            else:
                ids = [e.id for e in recorded.events]
            with seen.lock:
                if failed_at is not None:
                    seen.stalls.append(time.monotonic() - failed_at)
                seen.acknowledged[partition].extend(ids)
    except BaseException as exc:
        with seen.lock:
            seen.crashed.append(exc)
        raise
    finally:
        client.close()


def test_ten_primaries_killed_under_load_lose_no_acknowledged_event(
    cluster: EmbeddedCluster, redis: RedisCluster, redis_url: str
) -> None:
    seen = Seen()
    stop = threading.Event()
    threads = [
        threading.Thread(target=writer, args=(cluster, n, stop, seen), daemon=True)
        for n in range(WRITERS)
    ]
    for t in threads:
        t.start()
    failovers = []
    try:
        time.sleep(1.0)
        for round_ in range(ROUNDS):
            district = DISTRICTS[round_ % 2]
            victim = cluster.owner(keys.log(district))
            before = sum(len(ids) for ids in seen.acknowledged.values())
            killed_at = time.monotonic()
            victim.kill()
            cluster.wait_ready(timeout=60)  # a replica took over every slot
            failovers.append(time.monotonic() - killed_at)
            assert cluster.owner(keys.log(district)) is not victim
            victim.start()  # back, as the new primary's replica
            cluster.wait_ready(timeout=60)
            time.sleep(0.5)
            after = sum(len(ids) for ids in seen.acknowledged.values())
            assert after > before, f"round {round_}: no write was acknowledged"
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not seen.crashed, f"a writer failed: {seen.crashed[0]!r}"
    print(
        f"\n{ROUNDS} failovers: {', '.join(f'{s:.1f}' for s in failovers)} s until the cluster "
        f"was whole again; {seen.unanswered} appends without an answer, retried with their key; "
        f"longest wait for an acknowledgement {max(seen.stalls, default=0):.1f} s; "
        f"{sum(len(v) for v in seen.acknowledged.values())} events acknowledged"
    )

    client = connect_cluster(Config(redis_cluster_url=cluster.seeds))
    store = EventStore(client)
    for district in DISTRICTS:
        log = []
        while batch := store.read_partition(district, after=len(log), count=1000):
            log += batch
        head = int(client.get(keys.head(district)))
        assert [e.position for e in log] == list(range(1, head + 1)), "positions have a gap"
        ids = [e.id for e in log]
        assert len(set(ids)) == len(ids), "an event is in the log twice"
        missing = set(seen.acknowledged[district]) - set(ids)
        assert not missing, f"{len(missing)} acknowledged events of {district} were lost"
        assert len(seen.acknowledged[district]) == len(set(seen.acknowledged[district]))
        Projector(client, store).catch_up(district)
        projected = dump_generation(client, district)
        assert projected, "nothing was projected"
        assert_same(rebuilt(client, SimpleNamespace(store=store), district), projected)
    client.close()


def test_an_append_no_replica_confirms_in_time_is_an_honest_unknown_and_a_retry_settles_it(
    cluster: EmbeddedCluster, redis: RedisCluster
) -> None:
    """Waiting for two replicas where there is one: the append lands on the primary and its
    replica, yet the answer is "it may or may not have landed"; a retry with the same key
    finds the first result, and answers it once it is as durable as asked (one replica)."""
    key = Idempotency("writer", "k-1", "h")
    greedy = EventStore(redis, wait_replicas=2, wait_timeout_ms=100)
    started = time.monotonic()
    try:
        greedy.append("haiyun", "haiyun-s", 0, command(1), actor="w", now=NOW, idempotency=key)
    except WriteOutcomeUnknown as exc:
        assert exc.idempotency == key
    else:
        raise AssertionError("two replicas confirmed where there is one")
    assert time.monotonic() - started < 2.0  # an answer soon after the timeout
    assert redis.llen(keys.stream("haiyun", "haiyun-s")) == 1  # it did land
    try:
        greedy.append("haiyun", "haiyun-s", 0, command(1), actor="w", now=NOW, idempotency=key)
    except WriteOutcomeUnknown:
        pass
    else:
        raise AssertionError("a retry claimed what no second replica confirmed")
    try:  # the handlers' path for a retried key: the first result, looked up
        greedy.replay("haiyun", key)
    except WriteOutcomeUnknown:
        pass
    else:
        raise AssertionError("a replay claimed what no second replica confirmed")
    honest = EventStore(redis, wait_replicas=1, wait_timeout_ms=1000)
    again = honest.append("haiyun", "haiyun-s", 0, command(1), actor="w", now=NOW, idempotency=key)
    assert again.duplicate and again.version == 1
    replayed = honest.replay("haiyun", key)
    assert replayed is not None and [e.version for e in replayed[1]] == [1]
    assert redis.llen(keys.stream("haiyun", "haiyun-s")) == 1  # never twice
