"""The archive: orders closed long ago leave Redis for segment files and nothing is lost.

A partition is filled with orders of every kind over several days, most of them closed; after
the cutoff has passed, ``Services.archive`` moves the closed ones out. Then every event is in
exactly one place (a segment or the log), each archived order reads back as it did, a rebuild
from archive + live equals the projections from before key by key, and past daily reports are
byte-identical. The log's memory drops. Orders still open, and everything a command needs,
stay in Redis.
"""

from __future__ import annotations

import collections
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib
from clock import START, Clock
from helpers_projection import (
    ADMIN,
    P,
    assert_same,
    drive,
    dump_generation,
    rebuilt,
    report_fields,
    step,
)
from supplies import stock_up

from coordination.bootstrap import Services, build_services
from coordination.config import Config
from coordination.domain.errors import DomainError
from coordination.domain.events import IncidentClosed
from coordination.domain.values import Kind
from coordination.projections import reports
from coordination.store import keys
from coordination.store.eventstore import StreamArchived
from coordination.store.segments import CorruptSegment, DirectorySegments

SHANGHAI = ZoneInfo("Asia/Shanghai")
KINDS = [Kind.SUPPLY_DELIVERY, Kind.QUARANTINE_VISIT, Kind.WORK_ORDER, Kind.NIGHT_EMERGENCY]
# How an order's life goes: closed after a satisfied call-back, closed without one, or left open
# at some stage (every fifth).
CLOSED_LIVES = [("sign", "hand_down", "resolve", "visit"), ("sign", "resolve", "close")]
OPEN_LIVES = [(), ("sign",), ("sign", "hand_down"), ("sign", "resolve")]


def archiving_services(
    redis_url: str, redis: redis_lib.Redis, root: Path, clock: Clock
) -> Services:
    root.mkdir(exist_ok=True)
    svc = build_services(Config(redis_url=redis_url, archive_dir=root), redis, clock=clock)
    return svc


def fill(
    svc: Services, clock: Clock, orders: int, start: int = 0, every: timedelta = timedelta(hours=1)
) -> tuple[list[str], list[str]]:
    """Report ``orders`` orders ``every`` hour apart, and live each through: closed, or left
    open (every fifth); the ids of the closed ones and of the open ones."""
    closed, still_open = [], []
    for i in range(start, start + orders):
        clock.now = clock.now + every
        kind = KINDS[i % len(KINDS)]
        written = svc.incidents.report(ADMIN, report_fields(kind, "丽都花园"))
        incident = written.incident.id
        lives = OPEN_LIVES if i % 5 == 4 else CLOSED_LIVES
        names = lives[i % len(lives)]
        if kind is Kind.NIGHT_EMERGENCY:  # handed straight down to the community on duty
            names = tuple(n for n in names if n not in ("sign", "hand_down"))
        for name in names:
            clock.advance(minutes=3)
            drive(svc, incident, name)
        (still_open if i % 5 == 4 else closed).append(incident)
    return closed, still_open


def closed_orders(
    redis_url: str, redis: redis_lib.Redis, root: Path, orders: int
) -> tuple[Services, Clock, list[str]]:
    """Services archiving into ``root``, stocked, with ``orders`` orders lived through from
    ``START`` (most of them closed) and projected; the services, their clock, the closed ids."""
    clock = Clock(START)
    svc = archiving_services(redis_url, redis, root, clock)
    stock_up(svc)
    closed, _ = fill(svc, clock, orders)
    svc.projector.catch_up(P)
    return svc, clock, closed


def everywhere(redis: redis_lib.Redis, segments: DirectorySegments) -> collections.Counter[int]:
    """How many times each position is held, in the log and in the archive's segments."""
    held: collections.Counter[int] = collections.Counter()
    for entry_id, _ in redis.xrange(keys.log(P)):
        held[int(entry_id.split(b"-")[0])] += 1
    for manifest in segments.manifests(P):
        segments.verify(manifest)
        for i in range(len(manifest.frames)):
            for record in segments.frame(manifest, i):
                held[int(record.split(b",", 1)[0].split(b":")[1])] += 1
    return held


def daily_reports(svc: Services, days: list[date]) -> list[bytes]:
    return [
        reports.render_json(
            reports.daily_report(
                svc.reads, svc.jurisdiction, P, day, svc.incidents.clock(), SHANGHAI
            )
        )
        for day in days
    ]


def test_a_year_of_closed_orders_leaves_redis_and_every_read_still_finds_it(
    redis_url: str, redis: redis_lib.Redis, tmp_path: Path
) -> None:
    clock = Clock(START)
    svc = archiving_services(redis_url, redis, tmp_path / "archive", clock)
    stock_up(svc)
    # A year: an order every 36 hours, most of them closed within the hour.
    closed, still_open = fill(svc, clock, 240, every=timedelta(hours=36))
    svc.projector.catch_up(P)
    days = [START.date() + timedelta(days=d) for d in range(0, 361, 30)]
    histories = {i: svc.store.read_stream(P, i) for i in closed + still_open}
    before = dump_generation(redis)
    clock.advance(days=1)  # the days reported on are over: their reports no longer change
    reports_before = daily_reports(svc, days)
    head = int(redis.get(keys.head(P)))
    log_bytes = redis.memory_usage(keys.log(P), samples=0)
    memory = int(redis.info("memory")["used_memory"])

    # Those closed more than 90 days ago go; the last quarter's stay.
    cutoff = clock() - timedelta(days=90)
    early = svc.archive(P)
    old = [i for i in closed if histories[i][-1].time < cutoff]
    assert early.streams == len(old) and 0 < len(old) < len(closed)
    assert redis.hlen(keys.archived(P)) == len(old)
    clock.advance(days=100)
    done = svc.archive(P)
    assert early.streams + done.streams == len(closed)

    # Every event is held exactly once, in a segment or in the log, and the log holds what is open.
    segments = svc.archiver.segments
    assert everywhere(redis, segments) == collections.Counter(range(1, head + 1))
    live = sum(len(histories[i]) for i in still_open)
    staff_and_ledgers = head - sum(len(h) for h in histories.values())
    assert redis.xlen(keys.log(P)) == live + staff_and_ledgers
    for incident in closed:
        assert not redis.exists(keys.stream(P, incident))
        assert redis.hget(keys.archived(P), keys.stream(P, incident)).startswith(b"0")
    for incident in still_open:
        assert redis.llen(keys.stream(P, incident)) == len(histories[incident])
    log_after = redis.memory_usage(keys.log(P), samples=0)
    memory_after = int(redis.info("memory")["used_memory"])
    print(
        f"{head} events; the log {log_bytes:,} B before, {log_after:,} B after; "
        f"the server {memory:,} B before, {memory_after:,} B after"
    )
    assert log_after < log_bytes * (live + staff_and_ledgers) / head * 1.5

    # Each archived order reads back as it was, from a fresh reader of the segments.
    fresh = archiving_services(redis_url, redis, tmp_path / "archive", clock)
    for incident in closed + still_open:
        assert fresh.store.read_stream(P, incident) == histories[incident]
        assert fresh.store.read_stream_tail(P, incident, 2) == histories[incident][2:]
    # It takes no more events: the domain sees it closed, the log refuses it all the same.
    with pytest.raises(DomainError):
        fresh.incidents.execute(ADMIN, closed[0], step("close"))
    with pytest.raises(StreamArchived):
        fresh.store.append(P, closed[0], len(histories[closed[0]]), [IncidentClosed("again")],
                           actor="admin", now=clock())  # fmt: skip

    # The partition reads whole, archive and live merged, in batches of any size.
    for size in (1, 7, 1000):
        read, after = [], 0
        while batch := fresh.store.read_partition(P, after=after, count=size):
            read += batch
            after = batch[-1].position
        assert [e.position for e in read] == list(range(1, head + 1))

    # Reports are byte-identical, before and after a rebuild from archive + live.
    assert daily_reports(fresh, days) == reports_before
    assert_same(rebuilt(redis, fresh), before)
    assert daily_reports(fresh, days) == reports_before

    # A second run finds nothing more to do; the open orders close later and go in their turn.
    again = fresh.archive(P)
    assert (again.streams, again.events) == (0, 0)
    assert everywhere(redis, segments) == collections.Counter(range(1, head + 1))


def test_nothing_is_let_go_that_a_projection_has_not_applied(
    redis_url: str, redis: redis_lib.Redis, tmp_path: Path
) -> None:
    clock = Clock(START)
    svc = archiving_services(redis_url, redis, tmp_path / "archive", clock)
    stock_up(svc)
    closed, _ = fill(svc, clock, 10)
    clock.advance(days=100)
    # The projector is behind: nothing it has not applied leaves the log.
    assert svc.archive(P).streams == 0
    assert redis.hlen(keys.archived(P)) == 0

    svc.projector.catch_up(P)
    # A rebuild is running (its lock held, its generation at 0): its checkpoint counts too.
    token = "rebuilding"
    redis.set(keys.rebuild_lock(P), token)
    redis.incr(keys.generations(P))
    redis.incr(keys.generations(P))  # the counter is ahead of the generation in use
    assert svc.archive(P).streams == 0
    redis.delete(keys.rebuild_lock(P))
    done = svc.archive(P)
    assert done.streams == len(closed)


def test_a_stream_fenced_and_written_is_kept_until_a_rebuild_that_began_meanwhile_passes_it(
    redis_url: str, redis: redis_lib.Redis, tmp_path: Path
) -> None:
    svc, clock, closed = closed_orders(redis_url, redis, tmp_path / "archive", 10)
    clock.advance(days=100)

    def rebuild_begins(step: str) -> None:
        if step == "written":
            redis.set(keys.rebuild_lock(P), "rebuilding")
            redis.set(keys.generations(P), 2)

    svc.archiver.on_step = rebuild_begins
    kept = svc.archive(P)
    assert (kept.streams, kept.later) == (0, len(closed))
    # Fenced meanwhile: still read from the log, and refusing new events.
    assert svc.store.read_stream(P, closed[0])[-1].type == "IncidentClosed"
    with pytest.raises(StreamArchived):
        svc.store.append(P, closed[0], 6, [IncidentClosed("again")], actor="a", now=clock())

    svc.archiver.on_step = lambda step: None
    redis.delete(keys.rebuild_lock(P))
    done = svc.archive(P)
    assert (done.streams, done.later) == (len(closed), 0)
    assert redis.smembers(keys.archive_open(P)) == set()


def test_a_corrupted_segment_fails_reads_loudly_naming_the_file(
    redis_url: str, redis: redis_lib.Redis, tmp_path: Path
) -> None:
    svc, clock, closed = closed_orders(redis_url, redis, tmp_path / "archive", 10)
    clock.advance(days=100)
    svc.archive(P)
    (manifest,) = svc.archiver.segments.manifests(P)
    path = tmp_path / "archive" / P / manifest.file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    fresh = archiving_services(redis_url, redis, tmp_path / "archive", clock)
    failed = 0
    for incident in closed:
        try:
            fresh.store.read_stream(P, incident)
        except CorruptSegment as exc:
            assert str(path) in str(exc)
            failed += 1
    assert failed >= 1  # the frames that hold the flipped byte; the others still verify
    with pytest.raises(CorruptSegment, match=str(path)):
        fresh.archiver.segments.verify(manifest)
    with pytest.raises(CorruptSegment, match=str(path)):
        fresh.projector.rebuild(P)


def test_standard_tools_read_the_segments_as_they_are(
    redis_url: str, redis: redis_lib.Redis, tmp_path: Path
) -> None:
    """The README's DuckDB query, run over the segments, counts what was archived."""
    import duckdb

    root = tmp_path / "archive"
    svc, clock, closed = closed_orders(redis_url, redis, root, 30)
    expected = collections.Counter(e.type for i in closed for e in svc.store.read_stream(P, i))
    clock.advance(days=100)
    svc.archiver.segment_events, svc.archiver.chunk = 40, 4  # several segments
    assert svc.archive(P).events == sum(expected.values())
    assert len(svc.archiver.segments.manifests(P)) > 1
    pattern = root / P / "*.jsonl.zst"
    rows = duckdb.sql(
        "SELECT type, count(*) AS events, min(position), max(position) "
        f"FROM read_json('{pattern}', format = 'newline_delimited') "
        "GROUP BY type ORDER BY events DESC"
    ).fetchall()
    assert {kind: n for kind, n, _, _ in rows} == dict(expected)


def test_the_tick_archives_when_enabled_at_most_once_an_hour(
    redis_url: str, redis: redis_lib.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workers import jobs

    root = tmp_path / "archive"
    clock = Clock(START)  # 2020: the tick's own clock (now) is years later
    svc = archiving_services(redis_url, redis, root, clock)
    stock_up(svc)
    closed, _ = fill(svc, clock, 10)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("COORDINATION_ARCHIVE_DIR", str(root))
    monkeypatch.setenv("COORDINATION_ARCHIVE_ON_TICK", "0")
    jobs.services.cache_clear()
    try:
        assert "archived" not in jobs.tick()[P]
        assert redis.hlen(keys.archived(P)) == 0
        monkeypatch.setenv("COORDINATION_ARCHIVE_ON_TICK", "1")
        jobs.services.cache_clear()
        first = jobs.tick()[P]
        assert first["archived"] == sum(len(svc.store.read_stream(P, i)) for i in closed)
        assert redis.hlen(keys.archived(P)) == len(closed)
        assert 3500 < redis.ttl(keys.archive_tick(P)) <= 3600
        closed_later, _ = fill(svc, clock, 5, start=10)
        assert jobs.tick()[P]["archived"] == 0  # within the hour: not again
        redis.delete(keys.archive_tick(P))
        assert jobs.tick()[P]["archived"] > 0
        assert redis.hlen(keys.archived(P)) == len(closed) + len(closed_later)
    finally:
        jobs.services.cache_clear()
