"""The event store against a real valkey server: atomic, checked, gapless, idempotent appends."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import redis as redis_lib
from redis.crc import key_slot

from coordination.domain.errors import TimeWentBackwards
from coordination.domain.events import (
    IncidentClosed,
    IncidentDispatched,
    IncidentReported,
    IncidentSignedFor,
)
from coordination.domain.units import Level
from coordination.domain.values import Contact, Kind, Priority, SupplyItem
from coordination.store import keys
from coordination.store.eventstore import (
    ConcurrencyConflict,
    EventStore,
    Idempotency,
    Recorded,
    StoredEvent,
)
from coordination.store.mapper import Mapper

P = "gangwen"
NOW = datetime(2024, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))


def reported(incident_id: str = "i-1") -> IncidentReported:
    return IncidentReported(
        incident_id=incident_id,
        kind=Kind.SUPPLY_DELIVERY,
        title="rice for flat 3-201",
        place="gangwen/jinqiao/sunrise",
        place_unit="gangwen/jinqiao/sunrise",
        district="gangwen",
        reporter=Contact(name="李明", phone="13800000000"),
        priority=Priority.HIGH,
        epidemic=True,
        items=(SupplyItem(item="rice", quantity=2, measure="bag"),),
    )


def command(n: int) -> list[Any]:
    """``n`` events of one command (reported, then dispatched/signed/closed cycling)."""
    tail: list[Any] = [
        IncidentDispatched(unit="gangwen/jinqiao", level=Level.STREET),
        IncidentSignedFor(unit="gangwen/jinqiao", note="on it"),
        IncidentClosed(note="done"),
    ]
    return [reported(), *(tail[i % len(tail)] for i in range(n - 1))]


def client(url: str) -> redis_lib.Redis:
    return redis_lib.Redis.from_url(url, decode_responses=False)


def sizes(redis: redis_lib.Redis, stream_id: str) -> tuple[int, int, int]:
    """(head, log length, stream length), read atomically."""
    pipe = redis.pipeline(transaction=True)
    pipe.get(keys.head(P))
    pipe.xlen(keys.log(P))
    pipe.llen(keys.stream(P, stream_id))
    head, log_len, stream_len = pipe.execute()
    return int(head or 0), log_len, stream_len


def at(rec: Recorded) -> tuple[str, int, int, bool]:
    """What a Recorded says about the append: (stream, version, position, duplicate)."""
    return rec.stream, rec.version, rec.position, rec.duplicate


# --- atomic append ------------------------------------------------------------------------


def test_one_append_writes_all_events_of_a_command(redis: redis_lib.Redis) -> None:
    store = EventStore(redis)
    first = command(3)
    rec1 = store.append(P, "i-1", 0, first, actor="op-1", now=NOW)
    assert at(rec1) == ("i-1", 3, 3, False)

    second = [IncidentSignedFor(unit="gangwen/jinqiao"), IncidentClosed(note="x")]
    rec2 = store.append(P, "i-1", 3, second, actor="op-2", now=NOW)
    assert at(rec2) == ("i-1", 5, 5, False)

    stream = store.read_stream(P, "i-1")
    log = store.read_partition(P)
    assert stream == log
    assert [e.version for e in stream] == [1, 2, 3, 4, 5]
    assert [e.position for e in stream] == [1, 2, 3, 4, 5]
    assert [e.event for e in stream] == first + second
    assert [e.actor for e in stream] == ["op-1"] * 3 + ["op-2"] * 2
    assert sizes(redis, "i-1") == (5, 5, 5)
    # what the append returned is what was stored
    assert rec1.events + rec2.events == tuple(stream)
    # the log's entry ids are the positions
    assert [i for i, _ in redis.xrange(keys.log(P))] == [f"{p}-0".encode() for p in range(1, 6)]


def test_a_command_that_cannot_be_encoded_writes_nothing(redis: redis_lib.Redis) -> None:
    @dataclass(frozen=True)
    class Unmapped:
        x: int = 1

    store = EventStore(redis)
    with pytest.raises(TypeError):
        store.append(P, "i-1", 0, [*command(2), Unmapped()], actor="op", now=NOW)
    with pytest.raises(ValueError):
        store.append(P, "i-1", 0, [], actor="op", now=NOW)
    assert redis.dbsize() == 0


def test_readers_never_see_part_of_a_command(
    store_client: Callable[[], Any], redis: redis_lib.Redis, redis_url: str
) -> None:
    """A reader polling concurrently only ever sees whole 5-event commands."""
    store = EventStore(redis)
    done = threading.Event()
    seen: list[tuple[int, int, int]] = []

    def read() -> None:
        reader = store_client()
        try:
            while not done.is_set():
                seen.append(sizes(reader, "i-1"))
        finally:
            reader.close()

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for i in range(60):
            store.append(P, "i-1", 5 * i, command(5), actor="op", now=NOW)
    finally:
        done.set()
        thread.join()
    assert len(seen) > 10
    for head, log_len, stream_len in seen:
        assert head == log_len == stream_len
        assert head % 5 == 0
    assert sizes(redis, "i-1") == (300, 300, 300)


# --- version check ------------------------------------------------------------------------


@pytest.mark.parametrize("expected", [0, 1, 3, 100])
def test_wrong_expected_version_conflicts_and_writes_nothing(
    redis: redis_lib.Redis, expected: int
) -> None:
    store = EventStore(redis)
    store.append(P, "i-1", 0, command(2), actor="op", now=NOW)
    store.append(P, "i-2", 0, command(2), actor="op", now=NOW)
    before = sizes(redis, "i-1")
    keys_before = set(redis.keys("*"))
    log_before = redis.xrange(keys.log(P))

    idem = Idempotency("op", "k-conflict", "h")
    with pytest.raises(ConcurrencyConflict) as info:
        store.append(P, "i-1", expected, command(1), actor="op", now=NOW, idempotency=idem)
    assert (info.value.stream_id, info.value.expected, info.value.actual) == ("i-1", expected, 2)

    assert sizes(redis, "i-1") == before == (4, 4, 2)
    assert redis.xrange(keys.log(P)) == log_before
    assert set(redis.keys("*")) == keys_before  # no idempotency key either
    assert store.recorded(P, idem) is None
    # the right version still works, and takes the next position
    assert at(store.append(P, "i-1", 2, command(1), actor="op", now=NOW)) == ("i-1", 3, 5, False)


def test_new_stream_must_be_expected_at_zero(redis: redis_lib.Redis) -> None:
    store = EventStore(redis)
    with pytest.raises(ConcurrencyConflict) as info:
        store.append(P, "i-1", 1, command(1), actor="op", now=NOW)
    assert info.value.actual == 0
    assert redis.dbsize() == 0


def test_racing_writers_on_one_stream_exactly_one_wins(
    store_client: Callable[[], Any], redis: redis_lib.Redis, redis_url: str
) -> None:
    n = 16
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def write(i: int) -> None:
        own = store_client()
        try:
            store = EventStore(own)
            store.redis.ping()  # connect before the race
            barrier.wait()
            try:
                results[i] = store.append(P, "i-1", 0, command(2), actor=f"writer-{i}", now=NOW)
            except ConcurrencyConflict as exc:
                results[i] = exc
        except BaseException as exc:  # surfaced below
            results[i] = exc
        finally:
            own.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    wins = [r for r in results if isinstance(r, Recorded)]
    conflicts = [r for r in results if isinstance(r, ConcurrencyConflict)]
    assert len(wins) == 1, results
    assert len(conflicts) == n - 1, results
    assert at(wins[0]) == ("i-1", 2, 2, False)
    assert all(c.expected == 0 and c.actual == 2 for c in conflicts)
    stored = EventStore(redis).read_stream(P, "i-1")
    assert len(stored) == 2
    assert len({e.actor for e in stored}) == 1
    assert sizes(redis, "i-1") == (2, 2, 2)


# --- positions ----------------------------------------------------------------------------


def test_positions_are_gapless_and_in_commit_order_under_concurrent_writers(
    store_client: Callable[[], Any], redis: redis_lib.Redis, redis_url: str
) -> None:
    writers, appends = 8, 30
    barrier = threading.Barrier(writers)
    # per writer: (stream, events in the command, Recorded, sent at, acknowledged at)
    log: list[list[tuple[str, int, Recorded, float, float]]] = [[] for _ in range(writers)]
    errors: list[BaseException] = []

    def write(w: int) -> None:
        own = store_client()
        try:
            store = EventStore(own)
            own.ping()
            stream_id, version = f"i-{w}", 0
            barrier.wait()
            for a in range(appends):
                n = 1 + (a + w) % 3
                sent = time.monotonic()
                rec = store.append(P, stream_id, version, command(n), actor=f"w{w}", now=NOW)
                log[w].append((stream_id, n, rec, sent, time.monotonic()))
                version = rec.version
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors

    total = sum(n for entries in log for _, n, _, _, _ in entries)
    store = EventStore(redis)
    events = store.read_partition(P, count=total + 10)
    assert [e.position for e in events] == list(range(1, total + 1))
    assert store.head(P) == total
    raw_ids = [i for i, _ in redis.xrange(keys.log(P))]
    assert raw_ids == [f"{p}-0".encode() for p in range(1, total + 1)]

    for w in range(writers):
        stream = store.read_stream(P, f"i-{w}")
        assert [e.version for e in stream] == list(range(1, len(stream) + 1))
        assert len(stream) == sum(n for _, n, _, _, _ in log[w])
        positions = [e.position for e in stream]
        assert positions == sorted(positions)
        assert stream == [e for e in events if e.stream == f"i-{w}"]

    # every command occupies consecutive positions, with its stream's consecutive versions
    by_position = {e.position: e for e in events}
    all_appends = [entry for entries in log for entry in entries]
    for stream_id, n, rec, _, _ in all_appends:
        block = [by_position[p] for p in range(rec.position - n + 1, rec.position + 1)]
        assert [(e.stream, e.version) for e in block] == [
            (stream_id, v) for v in range(rec.version - n + 1, rec.version + 1)
        ]

    # commit order: an append acknowledged before another was sent has a lower position
    for _, _, a, _, a_acked in all_appends:
        for _, _, b, b_sent, _ in all_appends:
            if a_acked < b_sent:
                assert a.position < b.position


# --- the stored event ---------------------------------------------------------------------


def test_each_stored_event_carries_its_metadata(redis: redis_lib.Redis) -> None:
    store = EventStore(redis)
    events = command(3)
    store.append(P, "i-1", 0, events, actor="street-officer", now=NOW)
    later = datetime(2024, 3, 2, 1, 0, tzinfo=UTC)
    store.append(P, "i-2", 0, command(1), actor="op", now=later)

    stored = store.read_partition(P)
    assert len({e.id for e in stored}) == 4
    for e in stored:
        assert isinstance(e, StoredEvent)
        assert uuid.UUID(e.id)
        assert e.time.tzinfo is not None and e.time.utcoffset() is not None
        assert e.schema_version == 1
        assert e.type == type(e.event).__name__
    first = stored[:3]
    assert [(e.stream, e.version, e.position) for e in first] == [
        ("i-1", 1, 1),
        ("i-1", 2, 2),
        ("i-1", 3, 3),
    ]
    assert all(e.time == NOW and e.time.utcoffset() == timedelta(hours=8) for e in first)
    assert all(e.actor == "street-officer" for e in first)
    assert [e.type for e in first] == [
        "IncidentReported",
        "IncidentDispatched",
        "IncidentSignedFor",
    ]
    assert [e.event for e in first] == events
    assert first[0].event.reporter.name == "李明"  # non-ASCII survives
    assert first[0].event.items == (SupplyItem("rice", 2, "bag"),)
    assert first[1].event.level is Level.STREET
    assert (stored[3].stream, stored[3].time, stored[3].actor) == ("i-2", later, "op")

    # each record is kept once, in the log; the stream's list holds the positions
    assert [int(p) for p in redis.lrange(keys.stream(P, "i-1"), 0, -1)] == [
        e.position for e in first
    ]
    # the raw record is JSON with exactly these fields, position first
    raw = json.loads(redis.xrange(keys.log(P), count=1)[0][1][b"e"])
    assert list(raw) == [
        "position", "id", "stream", "version", "time", "actor", "type", "schema_version", "data",
    ]  # fmt: skip


def test_naive_datetime_is_refused(redis: redis_lib.Redis) -> None:
    store = EventStore(redis)
    with pytest.raises(ValueError, match="timezone"):
        store.append(P, "i-1", 0, command(2), actor="op", now=datetime(2024, 3, 1, 9, 30))
    assert redis.dbsize() == 0


# --- idempotency --------------------------------------------------------------------------


def test_same_idempotency_key_returns_the_first_result_and_appends_nothing(
    redis: redis_lib.Redis,
) -> None:
    store = EventStore(redis)
    store.append(P, "other", 0, command(1), actor="op", now=NOW)
    idem = Idempotency(principal="op-1", key="key-1", request_hash="hash-1")
    first = store.append(P, "i-1", 0, command(2), actor="op-1", now=NOW, idempotency=idem)
    assert at(first) == ("i-1", 2, 3, False)
    after_first = sizes(redis, "i-1")
    log_after_first = redis.xrange(keys.log(P))

    # a retry (same expected version, now stale) is a duplicate, not a conflict
    again = store.append(P, "i-1", 0, command(2), actor="op-1", now=NOW, idempotency=idem)
    assert at(again) == ("i-1", 2, 3, True)
    assert again.request_hash == "hash-1"
    assert sizes(redis, "i-1") == after_first == (3, 3, 2)
    assert redis.xrange(keys.log(P)) == log_after_first

    # a different body under the same key still returns the first result (with its hash)
    other_body = Idempotency("op-1", "key-1", "hash-2")
    clash = store.append(P, "i-1", 2, command(1), actor="op-1", now=NOW, idempotency=other_body)
    assert clash == again
    assert sizes(redis, "i-1") == after_first

    assert store.recorded(P, idem) == again
    assert store.recorded(P, Idempotency("op-1", "key-unknown", "hash-1")) is None

    # the same key from another principal is independent
    theirs = Idempotency(principal="op-2", key="key-1", request_hash="hash-1")
    assert store.recorded(P, theirs) is None
    rec = store.append(P, "i-1", 2, command(1), actor="op-2", now=NOW, idempotency=theirs)
    assert at(rec) == ("i-1", 3, 4, False)
    assert at(store.recorded(P, theirs)) == ("i-1", 3, 4, True)
    assert store.recorded(P, theirs).request_hash == "hash-1"
    assert store.recorded(P, idem) == again
    assert sizes(redis, "i-1") == (4, 4, 3)


def test_idempotency_key_expires_after_the_store_ttl(redis: redis_lib.Redis) -> None:
    idem = Idempotency("op-1", "key-1", "hash-1")
    EventStore(redis, idempotency_ttl=1).append(
        P, "i-1", 0, command(1), actor="op", now=NOW, idempotency=idem
    )
    key = keys.idempotency(P, "op-1", "key-1")
    assert redis.exists(key)
    assert redis.ttl(key) == 1
    assert 0 < redis.pttl(key) <= 1000

    default = EventStore(redis)
    assert default.idempotency_ttl == 86400
    other = Idempotency("op-1", "key-2", "hash-1")
    default.append(P, "i-1", 1, command(1), actor="op", now=NOW, idempotency=other)
    assert 86390 < redis.ttl(keys.idempotency(P, "op-1", "key-2")) <= 86400

    # once the key is gone, the same key appends again (here: a conflict, the stream moved on)
    redis.delete(key)  # stands in for the expiry the TTL guarantees
    with pytest.raises(ConcurrencyConflict):
        default.append(P, "i-1", 0, command(1), actor="op", now=NOW, idempotency=idem)


def test_append_without_idempotency_writes_no_idempotency_key(redis: redis_lib.Redis) -> None:
    EventStore(redis).append(P, "i-1", 0, command(2), actor="op", now=NOW)
    assert sorted(redis.keys("*")) == sorted(
        k.encode() for k in (keys.log(P), keys.head(P), keys.stream(P, "i-1"), keys.trigger(P))
    )
    assert redis.ttl(keys.head(P)) == -1


def test_append_asks_for_a_catch_up_only_when_none_is_pending(redis: redis_lib.Redis) -> None:
    store = EventStore(redis)
    first = store.append(P, "i-1", 0, command(1), actor="op", now=NOW)
    second = store.append(P, "i-1", 1, command(1), actor="op", now=NOW)
    redis.delete(keys.trigger(P))  # what a finished catch-up does
    third = store.append(P, "i-1", 2, command(1), actor="op", now=NOW)
    assert (first.triggered, second.triggered, third.triggered) == (True, False, True)
    assert 0 < redis.ttl(keys.trigger(P)) <= 60, "a lost catch-up must not block triggers"


# --- reading ------------------------------------------------------------------------------


def test_read_partition_in_batches_equals_reading_all(redis: redis_lib.Redis) -> None:
    store = EventStore(redis)
    versions = {"i-1": 0, "i-2": 0, "i-3": 0}
    for i in range(7):
        stream_id = f"i-{1 + i % 3}"
        versions[stream_id] = store.append(
            P, stream_id, versions[stream_id], command(1 + i % 2), actor="op", now=NOW
        ).version
    everything = store.read_partition(P)
    total = len(everything)
    assert total == store.head(P) == 10
    assert [e.position for e in everything] == list(range(1, total + 1))

    batches, after = [], 0
    while batch := store.read_partition(P, after=after, count=3):
        assert len(batch) <= 3
        assert batch[0].position == after + 1
        batches.append(batch)
        after = batch[-1].position
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert [e for b in batches for e in b] == everything

    assert store.read_partition(P, after=4, count=2) == everything[4:6]
    assert store.read_partition(P, after=total) == []
    assert store.read_partition(P, after=total + 50) == []
    assert store.read_partition("elsewhere") == []
    assert store.read_stream(P, "nope") == []
    assert store.head("elsewhere") == 0


# --- keys ---------------------------------------------------------------------------------


def test_every_key_an_append_writes_carries_the_partition_hash_tag(
    redis: redis_lib.Redis,
) -> None:
    store = EventStore(redis)
    store.append(P, "i-1", 0, command(2), actor="op", now=NOW)
    store.append(
        P, "i-2", 0, command(1), actor="op", now=NOW, idempotency=Idempotency("op", "k", "h")
    )
    written = list(redis.scan_iter(match="*", count=100))
    assert len(written) == 6  # log, head, two streams, one idempotency key, the trigger
    assert all(k.startswith(b"{gangwen}:") for k in written), written
    assert {key_slot(k) for k in written} == {key_slot(b"{gangwen}")}


# --- upcasting ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteAdded:
    """A test-only event, now at schema version 2 (v1 was ``{"note": ...}``)."""

    text: str
    author: str


def _upcast_note_v1(data: dict[str, Any]) -> dict[str, Any]:
    return {"text": data["note"], "author": "unknown"}


def note_mapper(calls: list[dict[str, Any]]) -> Mapper:
    def upcast(data: dict[str, Any]) -> dict[str, Any]:
        calls.append(data)
        return _upcast_note_v1(data)

    return Mapper([NoteAdded], versions={"NoteAdded": 2}, upcasters={("NoteAdded", 1): upcast})


def raw_record(position: int, stream_id: str, version: int, schema: int, data: Any) -> str:
    """A record in exactly the store's format: its ``_record`` JSON with position in front."""
    body = {
        "id": str(uuid.uuid4()),
        "stream": stream_id,
        "version": version,
        "time": NOW.isoformat(),
        "actor": "legacy",
        "type": "NoteAdded",
        "schema_version": schema,
        "data": data,
    }
    return json.dumps({"position": position, **body}, ensure_ascii=False, separators=(",", ":"))


def test_an_old_event_is_upcast_on_read_and_never_rewritten(redis: redis_lib.Redis) -> None:
    calls: list[dict[str, Any]] = []
    store = EventStore(redis, note_mapper(calls))
    v1 = raw_record(1, "n-1", 1, 1, {"note": "water pipe fixed"})
    redis.xadd(keys.log(P), {"e": v1}, id="1-0")
    redis.rpush(keys.stream(P, "n-1"), v1)
    redis.set(keys.head(P), 1)

    [from_stream] = store.read_stream(P, "n-1")
    [from_log] = store.read_partition(P)
    assert from_stream == from_log
    assert from_stream.event == NoteAdded(text="water pipe fixed", author="unknown")
    assert isinstance(from_stream.event, NoteAdded)
    assert (from_stream.type, from_stream.schema_version) == ("NoteAdded", 1)
    assert (from_stream.version, from_stream.position, from_stream.actor) == (1, 1, "legacy")
    assert from_stream.time == NOW
    assert calls == [{"note": "water pipe fixed"}] * 2

    # the stored record stays v1
    assert redis.lindex(keys.stream(P, "n-1"), 0) == v1.encode()
    assert redis.xrange(keys.log(P)) == [(b"1-0", {b"e": v1.encode()})]

    # the store continues the stream (version and position) after the hand-written record,
    # writing the current schema version, which reads back without upcasting
    current = NoteAdded(text="pipe inspected", author="王芳")
    rec = store.append(P, "n-1", 1, [current], actor="op", now=NOW)
    assert at(rec) == ("n-1", 2, 2, False)
    calls.clear()
    stream = store.read_stream(P, "n-1")
    assert stream == store.read_partition(P)
    assert [e.event for e in stream] == [
        NoteAdded(text="water pipe fixed", author="unknown"),
        current,
    ]
    assert (stream[1].type, stream[1].schema_version) == ("NoteAdded", 2)
    assert calls == [{"note": "water pipe fixed"}] * 2  # only the v1 record was upcast

    # the list written before each record was kept once holds the record itself, the store
    # goes on with positions, and both read alike (above)
    assert redis.lrange(keys.stream(P, "n-1"), 0, -1) == [v1.encode(), b"2"]
    # the hand-written v1 record has the very shape the store writes
    written = json.loads(redis.xrange(keys.log(P), "2-0", "2-0")[0][1][b"e"])
    assert list(written) == list(json.loads(v1))
    assert written["data"] == {"text": "pipe inspected", "author": "王芳"}


def test_a_current_record_written_by_hand_reads_back_unchanged(redis: redis_lib.Redis) -> None:
    calls: list[dict[str, Any]] = []
    store = EventStore(redis, note_mapper(calls))
    v2 = raw_record(1, "n-1", 1, 2, {"text": "t", "author": "a"})
    redis.xadd(keys.log(P), {"e": v2}, id="1-0")
    redis.rpush(keys.stream(P, "n-1"), v2)
    [event] = store.read_partition(P)
    assert event.event == NoteAdded(text="t", author="a")
    assert event.schema_version == 2
    assert calls == []


# --- time only moves forward in a stream --------------------------------------------------


def test_an_event_dated_before_its_streams_last_event_is_refused_and_writes_nothing(
    redis: redis_lib.Redis,
) -> None:
    store = EventStore(redis)
    store.append(P, "i-1", 0, command(2), actor="op", now=NOW)
    log_before = redis.xrange(keys.log(P))
    stream_before = redis.lrange(keys.stream(P, "i-1"), 0, -1)
    head_before = redis.get(keys.head(P))
    # the same instant in another offset is not earlier; a microsecond before is
    earlier = (NOW - timedelta(microseconds=1)).astimezone(UTC)
    with pytest.raises(TimeWentBackwards) as refused:
        store.append(
            P,
            "i-1",
            2,
            [IncidentClosed(note="x")],
            actor="op",
            now=earlier,
            idempotency=Idempotency("op", "k-1", "h"),
        )
    assert (refused.value.stream, refused.value.at, refused.value.last) == ("i-1", earlier, NOW)
    assert "time only moves forward" in refused.value.message
    assert NOW.isoformat() in refused.value.message
    # nothing was written: not the log, the head, the stream nor the idempotency key
    assert redis.xrange(keys.log(P)) == log_before
    assert redis.lrange(keys.stream(P, "i-1"), 0, -1) == stream_before
    assert redis.get(keys.head(P)) == head_before
    assert redis.get(keys.idempotency(P, "op", "k-1")) is None
    # the same instant (written in UTC) and anything later are accepted
    rec = store.append(P, "i-1", 2, [IncidentClosed(note="y")], actor="op", now=NOW.astimezone(UTC))
    assert at(rec) == ("i-1", 3, 3, False)
    later = NOW + timedelta(days=400, microseconds=7)
    assert store.append(P, "i-1", 3, [IncidentClosed(note="z")], actor="op", now=later).version == 4
    with pytest.raises(TimeWentBackwards):
        store.append(P, "i-1", 4, [IncidentClosed(note="w")], actor="op", now=later - HOUR)
    assert [e.time for e in store.read_stream(P, "i-1")] == [NOW, NOW, NOW, later]


HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    "last",
    [
        "2024-03-01T09:30:00+08:00",  # no fraction (isoformat leaves it out at .000000)
        "2024-03-01T01:30:00.000001+00:00",
        "2024-02-29T20:29:59.5-05:00",  # a short fraction, a negative offset, a leap day
        "1969-12-31T23:59:59.999999+00:00",  # before the epoch
    ],
)
def test_the_script_reads_the_last_events_time_in_any_form_python_writes(
    redis: redis_lib.Redis, last: str
) -> None:
    """A stream written before the check existed (by hand here) is checked by its last record."""
    record = raw_record(1, "n-1", 1, 2, {"text": "t", "author": "a"}).replace(
        json.dumps(NOW.isoformat()), json.dumps(last)
    )
    redis.xadd(keys.log(P), {"e": record}, id="1-0")
    redis.rpush(keys.stream(P, "n-1"), record)
    redis.set(keys.head(P), 1)
    store = EventStore(redis, note_mapper([]))
    when = datetime.fromisoformat(last)
    with pytest.raises(TimeWentBackwards):
        store.append(P, "n-1", 1, [NoteAdded("x", "y")], actor="op", now=when - MICRO)
    assert redis.llen(keys.stream(P, "n-1")) == 1
    assert store.append(P, "n-1", 1, [NoteAdded("x", "y")], actor="op", now=when).version == 2


MICRO = timedelta(microseconds=1)


def test_concurrent_appends_on_many_streams_keep_working_with_the_time_check(
    store_client: Callable[[], Any], redis: redis_lib.Redis, redis_url: str
) -> None:
    """Writers racing on shared streams, each with a clock that only moves forward: every
    append either lands or loses a version race, none is refused for its time, and each
    stream's times never go backwards."""
    streams = [f"s-{n}" for n in range(4)]
    base = datetime(2024, 3, 1, tzinfo=UTC)
    tick = iter(range(10**9))
    lock = threading.Lock()
    refused: list[Exception] = []

    def clock() -> datetime:
        with lock:  # one clock for all writers, as the services share one
            return base + timedelta(microseconds=next(tick))

    def write(n: int) -> None:
        store = EventStore(store_client())
        for i in range(60):
            stream = streams[(n + i) % len(streams)]
            while True:
                version = store.versions(P, [stream])[0]
                try:
                    store.append(P, stream, version, command(1), actor=f"w{n}", now=clock())
                    break
                except ConcurrencyConflict:
                    continue
                except TimeWentBackwards as exc:  # noqa: PERF203 - must never happen here
                    refused.append(exc)
                    break

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert refused == []
    store = EventStore(redis)
    assert sum(len(store.read_stream(P, s)) for s in streams) == 240 == store.head(P)
    for stream in streams:
        times = [e.time for e in store.read_stream(P, stream)]
        assert times == sorted(times)


# --- each record kept once: the lists written before, and their migration -----------------


def records_in_lists(redis: redis_lib.Redis, stream_ids: list[str]) -> None:
    """Turn the streams' lists back into the layout before positions: the records themselves
    (each as the log holds it), as a server written by an earlier version has them."""
    for stream_id in stream_ids:
        name = keys.stream(P, stream_id)
        for i, position in enumerate(redis.lrange(name, 0, -1)):
            record = redis.xrange(keys.log(P), f"{int(position)}-0", f"{int(position)}-0")
            redis.lset(name, i, record[0][1][b"e"])


def test_a_stream_list_holds_positions_and_costs_a_fraction_of_its_records(
    redis: redis_lib.Redis,
) -> None:
    store = EventStore(redis)
    store.append(P, "i-1", 0, command(10), actor="op", now=NOW)
    records = [fields[b"e"] for _id, fields in redis.xrange(keys.log(P))]
    assert redis.lrange(keys.stream(P, "i-1"), 0, -1) == [str(n).encode() for n in range(1, 11)]
    held = int(redis.memory_usage(keys.stream(P, "i-1")))
    assert held < sum(len(r) for r in records) / 10, "a list of positions, not of records"


def test_log_migrate_turns_records_into_positions_once_and_reads_stay_the_same(
    redis: redis_lib.Redis,
) -> None:
    store = EventStore(redis)
    store.append(P, "i-1", 0, command(3), actor="op", now=NOW)
    store.append(P, "i-2", 0, command(2), actor="op", now=NOW)
    store.append(P, "i-1", 3, [IncidentClosed(note="x")], actor="op", now=NOW + HOUR)
    before = {s: store.read_stream(P, s) for s in ("i-1", "i-2")}
    records_in_lists(redis, ["i-1", "i-2"])
    assert redis.lindex(keys.stream(P, "i-1"), 0).startswith(b'{"position":1,')
    assert {s: store.read_stream(P, s) for s in before} == before  # the old layout reads alike
    assert store.read_stream_tail(P, "i-1", 2) == before["i-1"][2:]

    assert store.migrate(P) == (2, 6)
    assert [int(p) for p in redis.lrange(keys.stream(P, "i-1"), 0, -1)] == [1, 2, 3, 6]
    assert {s: store.read_stream(P, s) for s in before} == before
    assert store.migrate(P) == (2, 0), "a second run changes nothing"
    # appends go on: versions and the time check read the migrated list
    with pytest.raises(TimeWentBackwards):
        store.append(P, "i-1", 4, [IncidentClosed(note="y")], actor="op", now=NOW)
    assert store.append(P, "i-1", 4, [IncidentClosed(note="y")], actor="op", now=NOW + HOUR)


def test_log_migrate_leaves_a_list_whose_record_is_not_the_logs_and_names_it(
    redis: redis_lib.Redis,
) -> None:
    store = EventStore(redis)
    store.append(P, "i-1", 0, command(3), actor="op", now=NOW)
    records_in_lists(redis, ["i-1"])
    name = keys.stream(P, "i-1")
    altered = redis.lindex(name, 1).replace(b'"actor":"op"', b'"actor":"someone else"')
    redis.lset(name, 1, altered)
    before = redis.lrange(name, 0, -1)
    with pytest.raises(redis_lib.ResponseError, match=f"{name} item 1 is not the record"):
        store.migrate(P)
    assert redis.lrange(name, 0, -1) == before, "nothing of the list was changed"


def test_the_log_migrate_command_reports_per_district(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    from click.testing import CliRunner

    from coordination.cli import main

    store = EventStore(redis)
    store.append(P, "i-1", 0, command(2), actor="op", now=NOW)
    records_in_lists(redis, ["i-1"])
    result = CliRunner().invoke(main, ["log", "migrate"], env={"REDIS_URL": redis_url})
    assert result.exit_code == 0, result.output
    assert result.output == f"{P}\tstreams=1\treplaced=2\n"
    assert redis.lrange(keys.stream(P, "i-1"), 0, -1) == [b"1", b"2"]
