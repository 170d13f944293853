"""Acknowledged appends survive a SIGKILL of the server (AOF, appendfsync always)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from redis.backoff import NoBackoff
from redis.retry import Retry

from coordination.devtools.embedded import EmbeddedServer
from coordination.domain.events import (
    IncidentClosed,
    IncidentDispatched,
    IncidentReported,
    IncidentSignedFor,
)
from coordination.domain.units import Level
from coordination.domain.values import Contact, Kind
from coordination.store import keys
from coordination.store.eventstore import EventStore, Idempotency, Recorded, WriteOutcomeUnknown

P = "gangwen"
NOW = datetime(2024, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))


def events_for(i: int, n: int) -> list[Any]:
    """``n`` distinguishable events for the ``i``-th command."""
    pool: list[Any] = [
        IncidentReported(
            incident_id=f"i-{i}",
            kind=Kind.NIGHT_EMERGENCY,
            title=f"burst pipe #{i}",
            place="gangwen/jinqiao/sunrise",
            place_unit="gangwen/jinqiao/sunrise",
            district="gangwen",
            reporter=Contact(name="张伟", phone="13900000000"),
        ),
        IncidentDispatched(unit="gangwen/jinqiao", level=Level.STREET, note=f"cmd {i}"),
        IncidentSignedFor(unit="gangwen/jinqiao", note=f"cmd {i}"),
        IncidentClosed(note=f"cmd {i}"),
    ]
    return pool[:n]


def no_retry_client(url: str) -> redis_lib.Redis:
    """A client that fails at once when the server is gone (no silent re-send)."""
    return redis_lib.Redis.from_url(url, retry=Retry(NoBackoff(), 0), socket_timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    srv = EmbeddedServer(tmp_path / "aof", appendfsync="always").start()
    try:
        yield srv
    finally:
        srv.kill()


def restart(server: EmbeddedServer) -> EmbeddedServer:
    """A new server process on the same data dir and port (the old one already killed), once
    it has finished loading the AOF."""
    assert server.pid is None
    restarted = EmbeddedServer(server.data_dir, port=server.port, appendfsync="always").start()
    # start() returns as soon as INFO answers, which a server does while still loading its AOF
    client = no_retry_client(restarted.url)
    try:
        deadline = time.monotonic() + 10
        while client.info("persistence")["loading"]:
            assert time.monotonic() < deadline, "server still loading its AOF"
            time.sleep(0.01)
    finally:
        client.close()
    return restarted


def check_log(
    store: EventStore, acked: list[tuple[str, Recorded, list[Any]]], extra: int = 0
) -> None:
    """The partition holds exactly the acknowledged commands (plus ``extra`` trailing ones)."""
    head = store.head(P)
    last = max((rec.position for _, rec, _ in acked), default=0)
    assert head - last == extra, f"head {head}, last acknowledged position {last}"
    log = store.read_partition(P, count=1_000_000)
    assert [e.position for e in log] == list(range(1, head + 1))
    by_position = {e.position: e for e in log}
    streams: dict[str, list[Any]] = {}
    for stream_id, rec, events in acked:
        n = len(events)
        stored = [by_position[p] for p in range(rec.position - n + 1, rec.position + 1)]
        assert [(e.stream, e.version, e.event, e.actor, e.time) for e in stored] == [
            (stream_id, v, ev, "op", NOW)
            for v, ev in zip(range(rec.version - n + 1, rec.version + 1), events, strict=True)
        ]
        streams.setdefault(stream_id, []).extend(stored)
    for stream_id, expected in streams.items():
        assert store.read_stream(P, stream_id)[: len(expected)] == expected
    assert len({e.id for e in log}) == len(log)


def test_acknowledged_appends_survive_sigkill(server: EmbeddedServer) -> None:
    assert server.appendfsync == "always"
    redis = no_retry_client(server.url)
    assert redis.config_get("appendfsync") == {"appendfsync": "always"}
    store = EventStore(redis)
    acked: list[tuple[str, Recorded, list[Any]]] = []
    idem = Idempotency("op", "retry-me", "hash-1")
    for i, (stream_id, expected, n) in enumerate(
        [("i-1", 0, 2), ("i-2", 0, 1), ("i-1", 2, 3), ("i-3", 0, 4)]
    ):
        events = events_for(i, n)
        kwargs: dict[str, Any] = {"idempotency": idem} if i == 2 else {}
        rec = store.append(P, stream_id, expected, events, actor="op", now=NOW, **kwargs)
        acked.append((stream_id, rec, events))
    redis.close()
    server.kill()  # immediately after the last acknowledgement

    restarted = restart(server)
    try:
        redis = no_retry_client(restarted.url)
        store = EventStore(redis)
        assert store.head(P) == 10
        check_log(store, acked)
        assert [e.version for e in store.read_stream(P, "i-1")] == [1, 2, 3, 4, 5]
        assert [e.position for e in store.read_stream(P, "i-1")] == [1, 2, 4, 5, 6]
        assert [e.position for e in store.read_stream(P, "i-2")] == [3]
        assert [e.position for e in store.read_stream(P, "i-3")] == [7, 8, 9, 10]
        assert redis.xlen(keys.log(P)) == 10
        # the idempotency record survived too, with its expiry
        previous = store.recorded(P, idem)
        assert previous is not None
        assert (previous.stream, previous.version, previous.position) == ("i-1", 5, 6)
        assert 0 < redis.ttl(keys.idempotency(P, "op", "retry-me")) <= 86400
        # and the store goes on from where it was: next position, version check intact
        rec = store.append(P, "i-2", 1, events_for(9, 1), actor="op", now=NOW)
        assert (rec.version, rec.position) == (2, 11)
        redis.close()
    finally:
        restarted.kill()


def test_a_burst_of_appends_from_a_thread_survives_sigkill(server: EmbeddedServer) -> None:
    """~200 appends from a writer thread, SIGKILL right after the last one is acknowledged."""
    acked: list[tuple[str, Recorded, list[Any]]] = []
    errors: list[BaseException] = []

    def write() -> None:
        redis = no_retry_client(server.url)
        store = EventStore(redis)
        versions: dict[str, int] = {}
        try:
            for i in range(200):
                stream_id = f"i-{i % 7}"
                events = events_for(i, 1 + i % 4)
                expected = versions.get(stream_id, 0)
                rec = store.append(P, stream_id, expected, events, actor="op", now=NOW)
                versions[stream_id] = rec.version
                acked.append((stream_id, rec, events))
            server.kill()  # from the writer, right after the last acknowledgement
        except BaseException as exc:
            errors.append(exc)
        finally:
            redis.close()

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(timeout=120)
    assert not writer.is_alive()
    assert not errors, errors
    assert len(acked) == 200

    restarted = restart(server)
    try:
        redis = no_retry_client(restarted.url)
        store = EventStore(redis)
        total = sum(len(events) for _, _, events in acked)
        assert store.head(P) == total == acked[-1][1].position
        check_log(store, acked)
        for s in range(7):
            stream = store.read_stream(P, f"i-{s}")
            assert [e.version for e in stream] == list(range(1, len(stream) + 1))
        redis.close()
    finally:
        restarted.kill()


def test_a_kill_during_appends_keeps_every_acknowledged_one_and_no_half_command(
    server: EmbeddedServer,
) -> None:
    """SIGKILL while a writer is mid-stream: all acknowledged commands survive; at most the one
    in flight may also survive, and only whole (each command is two events)."""
    acked: list[tuple[str, Recorded, list[Any]]] = []
    enough = threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        redis = no_retry_client(server.url)
        store = EventStore(redis)
        version = 0
        try:
            for i in range(100_000):
                events = events_for(i, 2)
                rec = store.append(P, "i-1", version, events, actor="op", now=NOW)
                version = rec.version
                acked.append(("i-1", rec, events))
                if len(acked) >= 200:
                    enough.set()
        except WriteOutcomeUnknown as exc:
            # expected: the server was killed under us, while an append was under way
            assert isinstance(exc.__cause__, redis_lib.ConnectionError | redis_lib.TimeoutError)
            failures.append(exc)
        finally:
            enough.set()
            redis.close()

    writer = threading.Thread(target=write)
    writer.start()
    assert enough.wait(timeout=120)
    server.kill()
    writer.join(timeout=30)
    assert not writer.is_alive()
    assert failures, "the writer should have been cut off by the kill"
    assert len(acked) >= 200

    restarted = restart(server)
    try:
        redis = no_retry_client(restarted.url)
        store = EventStore(redis)
        head = store.head(P)
        last = acked[-1][1].position
        assert head in (last, last + 2)  # the in-flight command is either all there or absent
        check_log(store, acked, extra=head - last)
        stream = store.read_stream(P, "i-1")
        assert len(stream) == head == redis.xlen(keys.log(P))
        assert [e.version for e in stream] == list(range(1, head + 1))
        redis.close()
    finally:
        restarted.kill()
