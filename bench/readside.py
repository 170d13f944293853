"""The read side of the bench: how fast the projections follow the log.

Three measurements, each on a private valkey server of its own:

1. Projection throughput. A fresh partition is filled with realistic incident lives (ten events
   each: reported, dispatched, signed, handed down, claimed, released, claimed, resolved,
   visited, closed), interleaved as they would be in a real log, through ``EventStore.append``
   whose script calls are sent in pipelines (the server runs with ``appendfsync no`` while it
   fills, then is switched to the policy under test). Then one ``Projector`` catches the whole
   partition up, timed, beside the rate of raw XRANGE reads and of ``read_partition`` over the
   same log.
2. A naive projector as the baseline: one RQ job per event (``bench.naive.apply_one``), drained
   by a real ``rq worker --burst --serializer json`` (the default forking worker).
3. End-to-end freshness: POST /incidents at a fixed rate against the API under gunicorn, a real
   RQ worker draining the catch-up jobs the appends trigger, and a watcher process that polls
   the checkpoint every millisecond; each 201 is joined with the moment its position became
   visible. Once with the default forking worker, once with ``rq.worker.SimpleWorker``.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import json
import math
import multiprocessing as mp
import os
import queue as queue_lib
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from redis import Redis
from rq import Queue, Worker
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from bench import load
from bench.servers import REPO_ROOT, Gunicorn, HostCpu, WorkerConfig, children, cpu_seconds
from coordination.bootstrap import build_services
from coordination.config import Config
from coordination.devtools.embedded import EmbeddedServer
from coordination.domain.access import Role
from coordination.domain.commands import (
    ClaimIncident,
    CloseIncident,
    HandDown,
    RecordReturnVisit,
    ReleaseIncident,
    ReportIncident,
    ResolveIncident,
    SignFor,
)
from coordination.domain.errors import DomainError
from coordination.domain.incident import Incident, decide, fold
from coordination.domain.units import Level
from coordination.domain.values import Category, Contact, Kind, Priority, Satisfaction, SupplyItem
from coordination.projections import queues, views
from coordination.projections.projector import REBUILD_BATCH, Projector
from coordination.store import keys
from coordination.store.connection import script_in
from coordination.store.eventstore import EventStore
from coordination.store.keys import current_generation
from coordination.store.segments import DirectorySegments
from coordination.store.tokens import TokenStore

PARTITION = "gangwen"
NAIVE_QUEUE = "bench-naive"
PROJECTOR_TARGET = 20_000.0  # events/s
NAIVE_RATIO_TARGET = 50.0
FRESHNESS_P99_TARGET_MS = 25.0
REBUILD_TARGET_S = 60.0  # for 1,000,000 events
LOG_BYTES_TARGET = 1.15  # the log's memory per event, against one stored record
REBUILD_TARGET_EVENTS = 1_000_000
READ_BATCH = 1000
FILL_PIPELINE = 200  # appends per pipeline while filling
WATCH_INTERVAL = 0.001  # the watcher's pause between two checkpoint reads
RQ = str(Path(sys.executable).parent / "rq")
SIMPLE_WORKER = "rq.worker.SimpleWorker"
FORKING = "forking (default)"
LIFE = (
    "reported, dispatched, signed, handed down, claimed, released, claimed, resolved, visited, "
    "closed"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("read side")
    g.add_argument(
        "--events",
        type=int,
        help="events in the projection partition (default 200000; --quick 40000)",
    )
    g.add_argument(
        "--window",
        type=int,
        default=2000,
        help="incident lives in progress at once while filling, i.e. how interleaved the log "
        "is (default 2000; 1 = each life's events contiguous)",
    )
    g.add_argument(
        "--batch",
        type=int,
        default=Config().projector_batch,
        help=f"projector batch size (default: Config's, {Config().projector_batch})",
    )
    g.add_argument(
        "--naive-events",
        type=int,
        help="events the naive one-job-per-event projector applies (default 100; --quick 60)",
    )
    g.add_argument(
        "--fresh-seconds",
        type=float,
        help="seconds of load per worker class in the freshness run (default 10; --quick 3)",
    )
    g.add_argument(
        "--fresh-rate",
        type=float,
        default=400.0,
        help="POST /incidents per second in the freshness run (default 400)",
    )
    g.add_argument(
        "--rebuild-events",
        type=int,
        help="events in the partition when `coordination projections rebuild` is timed: the "
        "projection partition is filled up to this many (default 1000000; --quick: no more "
        "than --events)",
    )
    g.add_argument(
        "--no-simple-worker",
        action="store_true",
        help="freshness with the default forking worker only",
    )
    g.add_argument(
        "--rq-worker-class",
        action="append",
        default=[],
        metavar="DOTTED.PATH",
        help="one more freshness run with this --worker-class (repeatable); to A/B a variant, "
        "e.g. a class in a scratch module found through PYTHONPATH",
    )


def finish_arguments(args: argparse.Namespace, error: Callable[[str], Any]) -> None:
    quick = args.quick
    args.events = args.events or (40_000 if quick else 200_000)
    args.naive_events = args.naive_events or (60 if quick else 100)
    args.fresh_seconds = args.fresh_seconds or (3.0 if quick else 10.0)
    args.rebuild_events = max(
        args.rebuild_events or (args.events if quick else REBUILD_TARGET_EVENTS), args.events
    )
    if args.rebuild_events > 5_000_000 or not 0 < args.fresh_rate <= 5000:
        error("--rebuild-events is at most 5000000, --fresh-rate in (0, 5000]")
    for name in ("events", "window", "batch", "naive_events"):
        if getattr(args, name) < 1:
            error(f"--{name.replace('_', '-')} must be at least 1")
    if args.events > 2_000_000 or args.naive_events > 20_000:
        error("--events is at most 2000000 and --naive-events at most 20000")
    if not 0 < args.fresh_seconds <= 600:
        error("--fresh-seconds must be in (0, 600]")


# --- figures -------------------------------------------------------------------------------


@dataclass
class Rate:
    """One throughput line: ``count`` events in ``seconds``."""

    name: str
    count: int
    seconds: float
    client_cpu_s: float = math.nan  # CPU of the process doing the work (this one, or the worker)
    valkey_cpu_s: float = math.nan
    note: str = ""
    other_cores: float = math.nan  # cores busy outside the measured processes: noise

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else math.nan

    def per_k(self, cpu_s: float) -> float:
        """CPU milliseconds per 1000 events."""
        return 1e6 * cpu_s / self.count if self.count else math.nan


@dataclass
class Fill:
    events: int
    incidents: int
    appends: int
    seconds: float
    procs: int
    cpu_s: float
    window: int  # lives in progress at once, over all fill processes


@dataclass
class Freshness:
    label: str
    results: list[load.Result]
    seconds: float
    observations: int  # checkpoint changes the watcher saw
    polls: int
    watch_s: float
    gap_p99_ms: float  # between two checkpoint reads of the watcher: its resolution
    gap_max_ms: float
    fresh_ms: list[float]  # per 201: ms from receiving it until its position was visible
    already: int  # visible by the time the 201 arrived
    never: int  # not visible before the watcher stopped
    in_queue: int  # 201s whose incident is in its unit's queue projection at the end
    jobs: int  # catch-up jobs the worker ran during the load
    failed_jobs: int
    app_cpu_s: float
    worker_cpu_s: float
    valkey_cpu_s: float
    watcher_cpu_s: float
    host_busy: float  # fraction of all cores
    other_cores: float  # cores busy outside the bench's processes (other tenants): noise
    drain_s: float  # after the last 201, until the checkpoint reached the head

    @property
    def writes(self) -> int:
        return sum(len(r.writes) for r in self.results)

    @property
    def errors(self) -> int:
        return sum(r.error_count for r in self.results)

    def p(self, q: float) -> float:
        from bench.run import percentile

        return percentile(self.fresh_ms, q)

    def per_write_ms(self, cpu_s: float) -> float:
        return 1000.0 * cpu_s / self.writes if self.writes else math.nan


@dataclass
class Report:
    fill: Fill | None = None
    reads: list[Rate] = field(default_factory=list)
    projector: Rate | None = None
    phases: dict[str, float] = field(default_factory=dict)
    projected_incidents: int = 0
    naive: Rate | None = None
    naive_detail: str = ""
    rebuild: Rate | None = None
    rebuild_detail: str = ""
    archive_detail: str = ""
    fresh: list[Freshness] = field(default_factory=list)
    profile: str | None = None
    fsync: str = ""
    seconds: float = 0.0
    log_bytes: LogBytes | None = None


@dataclass
class LogBytes:
    """What the log costs in the server's memory, per event: the partition's stream and its
    aggregates' lists (MEMORY USAGE, every element counted), against one record's length."""

    events: int
    stream_bytes: int
    list_bytes: int
    record_bytes: float  # the mean length of a stored record

    @property
    def per_event(self) -> float:
        return (self.stream_bytes + self.list_bytes) / self.events

    @property
    def ratio(self) -> float:
        return self.per_event / self.record_bytes


def log_bytes(redis: Redis, events: int) -> LogBytes:
    stream = int(redis.memory_usage(keys.log(PARTITION), samples=0) or 0)
    lists = sum(
        int(redis.memory_usage(name, samples=0) or 0)
        for name in redis.scan_iter(match=keys.stream(PARTITION, "*"), count=1000)
    )
    total = count = 0
    after = "-"
    while batch := redis.xrange(keys.log(PARTITION), min=after, max="+", count=10_000):
        total += sum(len(fields[b"e"]) for _id, fields in batch)
        count += len(batch)
        after = "(" + batch[-1][0].decode()
    return LogBytes(events, stream, lists, total / max(count, 1))


# --- filling a partition -------------------------------------------------------------------


class _Deferred:
    """Stands in for EventStore's registered append script: queues the call on a pipeline and
    answers at once as the script does for a replayed idempotency key, so that ``append``
    returns without parsing again the records it has just built (its answer is not used while
    filling). The real answers come when the pipeline runs, and each must be ``ok``."""

    def __init__(self, script: Any, pipe: Any) -> None:
        self.script = script
        self.pipe = pipe

    def __call__(self, keys: list[str], args: list[Any]) -> list[Any]:
        script_in(self.pipe, self.script, keys, args)
        # args: idempotency prefix, ttl, time (s, us), streams, then the first stream's
        # expected version and event count (see eventstore.APPEND)
        version = int(args[5]) + int(args[6])
        return [b"duplicate", json.dumps({"version": version, "position": 0}).encode()]


def _lives(index: int, procs: int, places: list[str], first: int = 0) -> Any:
    """Endless commands of incident lives for one fill process; ids never repeat (a later fill
    starts its ids at ``first``, a multiple of ``procs`` past every id an earlier one used)."""
    rng = random.Random(1234 + index + first)
    n = first + index
    while True:
        incident_id = f"{PARTITION}-20200208-{n:012x}"
        n += procs
        holder = f"field-{rng.randrange(40)}"
        kind = rng.choices(
            [Kind.WORK_ORDER, Kind.SUPPLY_DELIVERY, Kind.QUARANTINE_VISIT],
            weights=[8, 1, 1],
        )[0]
        report = ReportIncident(
            incident_id=incident_id,
            kind=kind,
            title=rng.choice(
                ["口罩价格过高", "小区封闭管理咨询", "独居老人需要送菜", "居家隔离人员上门"]
            ),
            place=rng.choice(places),
            reporter=Contact("张三", f"138{rng.randrange(10**8):08d}"),
            description="居民来电反映情况，请尽快核实处理。" * rng.randint(1, 3),
            address=f"{rng.randint(1, 40)}栋{rng.randint(1, 30)}0{rng.randint(1, 4)}",
            priority=rng.choice(list(Priority)),
            epidemic=rng.random() < 0.5,
            category=rng.choice(list(Category)) if kind is Kind.WORK_ORDER else None,
            items=(SupplyItem("大米", 2, "bag"), SupplyItem("口罩", 20))
            if kind is Kind.SUPPLY_DELIVERY
            else (),
            person=Contact("李四", "13900000000") if kind is Kind.QUARANTINE_VISIT else None,
        )
        yield (
            incident_id,
            [
                report,
                SignFor(note="已签收"),
                HandDown(note="请社区跟进"),
                ClaimIncident(holder=holder),
                ReleaseIncident(by=holder, reason="换班"),
                ClaimIncident(holder=holder),
                ResolveIncident(summary="已上门处理完毕", signed_off_by="王主任", by=holder),
                RecordReturnVisit(result=Satisfaction.SATISFIED, note="满意"),
                CloseIncident(note="办结"),
            ],
        )


def fill_process(
    url: str,
    index: int,
    procs: int,
    events: int,
    window: int,
    first: int = 0,
    partition: str = PARTITION,
    cluster: str = "",
) -> tuple[int, int, int, float]:
    """One fill process: append about ``events`` events of interleaved lives to ``partition``
    (on the cluster of seeds ``cluster`` if given; ``url`` is then RQ's server); (events,
    incidents, appends, cpu seconds)."""
    cpu0 = time.process_time()
    built = build_services(Config(redis_url=url, redis_cluster_url=cluster, rq_redis_url=url))
    ctx = built.incidents.ctx
    places = community_places(built)
    store = EventStore(built.redis)
    pipe = built.redis.pipeline(transaction=False)
    store._append = _Deferred(store._append, pipe)  # type: ignore[method-assign]
    lives = _lives(index, procs, places, first)
    rng = random.Random(99 + index)
    now = datetime(2020, 2, 8, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    active: list[list[Any]] = []  # [id, state, commands, next command]
    written = appends = incidents = queued = 0

    def flush() -> None:
        for answer in pipe.execute():
            if not isinstance(answer, list) or answer[0] != b"ok":
                raise RuntimeError(f"fill: an append answered {answer!r}")

    for _ in range(events * 4):  # bounded: each round appends or finishes a life
        if written >= events:
            break
        while len(active) < window:
            incident_id, commands = next(lives)
            active.append([incident_id, Incident(), commands, 0])
        k = rng.randrange(len(active))
        life = active[k]
        incident_id, state, commands, step = life
        now += timedelta(milliseconds=50 * procs)
        produced: list[Any] = []
        while step < len(commands) and not produced:
            try:
                produced = decide(state, commands[step], replace(ctx, now=now))
            except DomainError:
                produced = []  # this domain version skips the step (closed at the visit, say)
            step += 1
        if produced:
            store.append(partition, incident_id, state.version, produced, actor="bench", now=now)
            life[1] = fold(produced, state)
            written += len(produced)
            appends += 1
            incidents += state.version == 0
            queued += 1
            if queued == FILL_PIPELINE:
                flush()
                queued = 0
        life[3] = step
        if step >= len(commands):
            active[k] = active[-1]
            active.pop()
    if queued:
        flush()
    built.redis.close()
    return written, incidents, appends, time.process_time() - cpu0


def community_places(built: Any) -> list[str]:
    """The named places that resolve to a community (their orders go down the whole chain)."""
    data = json.loads(built.config.units_file.read_text(encoding="utf-8"))
    found = [p for p in data.get("places", {}) if _is_community(built, p)]
    if not found:
        raise RuntimeError("no place of the units file resolves to a community")
    return sorted(found)


def _is_community(built: Any, place: str) -> bool:
    try:
        return bool(built.jurisdiction.resolve(place).level is Level.COMMUNITY)
    except DomainError:
        return False


# --- the checkpoint watcher ----------------------------------------------------------------


def _watch(url: str, key: str, stop: Any, out: Any, interval: float, limit: float) -> None:
    """Poll ``key`` every ``interval`` until told to stop; report each change with the time it
    was first seen, and the gaps between reads (the resolution actually achieved)."""
    from bench.run import percentile

    redis = Redis.from_url(url)
    cpu0 = time.process_time()
    changes: list[tuple[float, int]] = []
    gaps: list[float] = []
    last = -1
    started = previous = next_at = time.monotonic()
    deadline = started + limit
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            raw = redis.get(key)
            seen = time.monotonic()
            gaps.append(seen - previous)
            previous = seen
            value = int(raw or 0)
            if value != last:
                changes.append((seen, value))
                last = value
            next_at += interval  # a fixed period, not a fixed pause after each read
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()  # behind (no CPU for a while): read now, no burst
        gaps.sort()
        figures = (
            changes,
            len(gaps),
            time.monotonic() - started,
            time.process_time() - cpu0,
            1000 * percentile(gaps, 0.99),
            1000 * percentile(gaps, 1.0),
        )
        out.put(("ok", figures))
    except BaseException as exc:
        out.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        redis.close()


class Watcher:
    """A forked process polling one checkpoint key about every millisecond."""

    def __init__(self, url: str, key: str, limit: float) -> None:
        ctx = mp.get_context("fork")
        self.stop_event = ctx.Event()
        self.out = ctx.Queue()
        self.proc = ctx.Process(
            target=_watch,
            args=(url, key, self.stop_event, self.out, WATCH_INTERVAL, limit),
            daemon=True,
        )
        self.proc.start()

    def stop(self) -> tuple[list[tuple[float, int]], int, float, float, float, float]:
        self.stop_event.set()
        try:
            status, value = self.out.get(timeout=15)
        except queue_lib.Empty:
            status, value = "error", "the watcher did not report"
        finally:
            self.close()
        if status != "ok":
            raise RuntimeError(f"checkpoint watcher: {value}")
        return value  # type: ignore[no-any-return]

    def close(self) -> None:
        self.stop_event.set()
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(timeout=5)


# --- an rq worker subprocess ---------------------------------------------------------------


class RqWorker:
    """``rq worker`` in a session of its own; SIGTERM (warm shutdown), then SIGKILL."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args = args
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RqWorker:
        path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.args,
                cwd=REPO_ROOT,
                env={**os.environ, **self.env, "PYTHONPATH": path},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self) -> float:
        """CPU of the worker, of the children it has reaped (work horses) and of those alive."""
        if self.proc is None:
            return 0.0
        return _cpu_with_reaped(self.proc.pid) + cpu_seconds(children(self.proc.pid))

    def wait(self, timeout: float) -> bool:
        assert self.proc is not None
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # its work horse or scheduler, if left
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)

    def tail(self, chars: int = 1500) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def _cpu_with_reaped(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


# --- the section ---------------------------------------------------------------------------


class ReadSide:
    def __init__(
        self, args: argparse.Namespace, tmp: Path, progress: Callable[[str], None]
    ) -> None:
        self.args = args
        self.tmp = tmp
        self.progress = progress
        self.servers: list[EmbeddedServer] = []
        self.workers: list[RqWorker] = []
        self.gunicorns: list[Gunicorn] = []
        self.watchers: list[Watcher] = []
        self.report = Report()

    def run(self) -> Report:
        started = time.monotonic()
        try:
            self._projection()
            self._freshness()
        finally:
            self.stop()
        self.report.seconds = time.monotonic() - started
        return self.report

    def stop(self) -> None:
        for watcher in self.watchers:
            watcher.close()
        for worker in self.workers:
            worker.stop()
        for server in self.gunicorns:
            server.stop()
        for valkey in self.servers:
            valkey.stop()
        self.watchers, self.workers, self.gunicorns, self.servers = [], [], [], []

    def _valkey(self, name: str, appendfsync: str) -> EmbeddedServer:
        server = EmbeddedServer(self.tmp / name, appendfsync=appendfsync)
        self.servers.append(server)
        return server.start()

    # --- 1 and 2: projection throughput and the naive baseline ----------------------------

    def _projection(self) -> None:
        args, report = self.args, self.report
        valkey = self._valkey("valkey-projection", "no")
        assert valkey.pid is not None
        redis = Redis.from_url(valkey.url)
        try:
            procs = 2 if args.events >= 20_000 else 1
            self.progress(
                f"read side: filling {PARTITION} with {args.events:,} events "
                f"({procs} processes, lives interleaved {args.window} at a time, appendfsync no)"
            )
            t0 = time.perf_counter()
            shares = load.split(args.events, procs)
            window = max(1, args.window // procs)
            jobs = [(fill_process, (valkey.url, i, procs, n, window)) for i, n in enumerate(shares)]
            results, _ = load.run_processes(jobs, limit=600)
            seconds = time.perf_counter() - t0
            head = int(redis.get(keys.head(PARTITION)) or 0)
            written = sum(r[0] for r in results)
            if head != written or redis.xlen(keys.log(PARTITION)) != head:
                raise RuntimeError(f"fill: head {head}, but {written} events written")
            report.fill = Fill(
                events=head,
                incidents=sum(r[1] for r in results),
                appends=sum(r[2] for r in results),
                seconds=seconds,
                procs=procs,
                cpu_s=sum(r[3] for r in results),
                window=window * procs,
            )
            redis.config_set("appendfsync", args.appendfsync)
            report.fsync = str(redis.config_get("appendfsync").get("appendfsync"))
            report.log_bytes = log_bytes(redis, head)

            built = build_services(Config(redis_url=valkey.url))
            report.reads.append(self._timed_read("raw XRANGE", redis, valkey, head, raw=True))
            report.reads.append(
                self._timed_read(
                    "EventStore.read_partition", redis, valkey, head, store=built.store
                )
            )
            try:
                self._catch_up(redis, valkey, built.store, head)
                self._naive(redis, valkey)
                self._rebuild(redis, valkey, head)
                self._archive(redis, valkey)
                if args.profile:
                    report.profile = self._profile(redis, built.store)
            finally:
                built.redis.close()
        finally:
            redis.close()
            valkey.stop()
            # Its gigabyte of AOF and the archive's segments, still being written back, would
            # slow the next section's fsyncs (ext4 commits other files' dirty data with them).
            if not getattr(args, "keep", False):
                shutil.rmtree(valkey.data_dir, ignore_errors=True)
                shutil.rmtree(self.tmp / "archive", ignore_errors=True)
            os.sync()

    def _timed_read(
        self,
        name: str,
        redis: Redis,
        valkey: EmbeddedServer,
        head: int,
        raw: bool = False,
        store: EventStore | None = None,
    ) -> Rate:
        self.progress(f"read side: {name} over {head:,} events, batches of {READ_BATCH}")
        log_key = keys.log(PARTITION)
        assert valkey.pid is not None
        v0, c0, t0 = cpu_seconds([valkey.pid]), time.process_time(), time.perf_counter()
        after = count = 0
        for _ in range(head // READ_BATCH + 2):
            if raw:
                entries = redis.xrange(log_key, min=f"({after}-0", max="+", count=READ_BATCH)
                if not entries:
                    break
                count += len(entries)
                after = int(entries[-1][0].split(b"-", 1)[0])
            else:
                assert store is not None
                batch = store.read_partition(PARTITION, after=after, count=READ_BATCH)
                if not batch:
                    break
                count += len(batch)
                after = batch[-1].position
        elapsed = time.perf_counter() - t0
        return Rate(
            name,
            count,
            elapsed,
            time.process_time() - c0,
            cpu_seconds([valkey.pid]) - v0,
            note="redis-py + hiredis, ids and field maps only"
            if raw
            else "json.loads + mapper (upcast) + StoredEvent",
        )

    def _catch_up(self, redis: Redis, valkey: EmbeddedServer, store: EventStore, head: int) -> None:
        args = self.args
        self.progress(f"read side: one Projector (batch {args.batch}) catching up {head:,} events")
        projector = Projector(redis, store, batch_size=args.batch)
        phases = {"read_partition": 0.0, "computing the writes": 0.0}
        read, prepare = store.read_partition, projector._prepare

        def timed_read(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return read(*a, **k)
            finally:
                phases["read_partition"] += time.perf_counter() - t

        def timed_prepare(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return prepare(*a, **k)
            finally:
                phases["computing the writes"] += time.perf_counter() - t

        store.read_partition = timed_read  # type: ignore[method-assign]
        projector._prepare = timed_prepare  # type: ignore[method-assign]
        assert valkey.pid is not None
        try:
            host0 = HostCpu.read()
            v0, c0, t0 = cpu_seconds([valkey.pid]), time.process_time(), time.perf_counter()
            applied = projector.catch_up(PARTITION)
            elapsed = time.perf_counter() - t0
            cpu, valkey_cpu = time.process_time() - c0, cpu_seconds([valkey.pid]) - v0
            busy, _steal, _total = HostCpu.read().since(host0)
        finally:
            del store.read_partition, projector._prepare  # back to the class's methods
        lag = projector.lag(PARTITION)
        if applied != head or lag.lag != 0:
            raise RuntimeError(f"catch-up applied {applied} of {head}; lag {lag.lag}")
        gen = current_generation(redis, PARTITION)
        self.report.projected_incidents = int(redis.zcard(keys.incidents_index(PARTITION, gen)))
        phases["other (reading views, waiting for a commit, the lock)"] = elapsed - sum(
            phases.values()
        )
        self.report.phases = phases
        self.report.projector = Rate(
            f"Projector.catch_up (batch {args.batch})",
            applied,
            elapsed,
            cpu,
            valkey_cpu,
            other_cores=max(busy - cpu - valkey_cpu, 0.0) / elapsed,
        )

    def _naive(self, redis: Redis, valkey: EmbeddedServer) -> None:
        """One RQ job per event into a fresh generation, drained by a real forking worker."""
        n = self.args.naive_events
        gen = current_generation(redis, PARTITION) + 1
        redis.set(keys.generation(PARTITION), gen)  # checkpoint of the new generation: 0
        checkpoint_key = keys.checkpoint(PARTITION, gen)
        queue = Queue(NAIVE_QUEUE, connection=redis, serializer=JSONSerializer)
        queue.enqueue_many(
            [
                Queue.prepare_data(
                    "bench.naive.apply_one",
                    args=(PARTITION, position),
                    timeout=60,
                    result_ttl=0,
                    failure_ttl=3600,
                    description=f"apply {PARTITION}:{position}",
                )
                for position in range(1, n + 1)
            ]
        )
        limit = 20.0 if self.args.quick else 45.0
        self.progress(
            f"read side: naive projector, {n} RQ jobs of one event each, forking worker "
            f"(--burst; stopped after {limit:g} s at most)"
        )
        command = [RQ, "worker", "--burst", "--serializer", "json", "--url", valkey.url]
        worker = RqWorker(
            [*command, NAIVE_QUEUE], {"REDIS_URL": valkey.url}, self.tmp / "rq-naive.log"
        )
        self.workers.append(worker)
        assert valkey.pid is not None
        v0 = cpu_seconds([valkey.pid])
        launched = time.monotonic()
        worker.start()
        first: tuple[float, int] | None = None
        last: tuple[float, int] = (launched, 0)
        deadline = launched + limit
        while time.monotonic() < deadline:
            value = int(redis.get(checkpoint_key) or 0)
            now = time.monotonic()
            if value != last[1]:
                last = (now, value)
                if first is None:
                    first = (now, value)
            if value >= n or not worker.alive():
                break
            time.sleep(0.002)
        worker_cpu = worker.cpu_seconds()
        finished = worker.wait(0.5 if last[1] >= n else 0.0)
        worker.stop()
        valkey_cpu = cpu_seconds([valkey.pid]) - v0
        failed = FailedJobRegistry(queue=queue).count
        if first is None or last[1] <= first[1]:
            raise RuntimeError(
                f"the naive worker applied {last[1]} of {n} events (failed jobs: {failed}):\n"
                + worker.tail()
            )
        applied = last[1] - first[1]
        self.report.naive = Rate(
            "naive: one RQ job per event (forking)",
            applied,
            last[0] - first[0],
            worker_cpu * applied / max(last[1], 1),
            valkey_cpu * applied / max(last[1], 1),
        )
        self.report.naive_detail = (
            f"{last[1]} of {n} jobs applied{'' if finished else ' (worker stopped at the limit)'}; "
            f"rate from the first to the last checkpoint move, {first[0] - launched:.2f} s of "
            f"worker start-up before the first; failed jobs: {failed}"
        )

    def _rebuild(self, redis: Redis, valkey: EmbeddedServer, head: int) -> None:
        """``coordination projections rebuild`` as an operator runs it, on the partition filled
        up to ``--rebuild-events`` (more lives of the same mix, with ids of their own)."""
        args = self.args
        if args.rebuild_events > head:
            procs = 2
            more = args.rebuild_events - head
            self.progress(f"read side: {more:,} more events for the rebuild (appendfsync no)")
            redis.config_set("appendfsync", "no")
            first = 10**9 - 10**9 % procs  # past every id of the first fill
            window = max(1, args.window // procs)
            jobs = [
                (fill_process, (valkey.url, i, procs, n, window, first))
                for i, n in enumerate(load.split(more, procs))
            ]
            load.run_processes(jobs, limit=1800)
            redis.config_set("appendfsync", args.appendfsync)
            head = int(redis.get(keys.head(PARTITION)) or 0)
        memory = int(redis.info("memory")["used_memory"])
        self.progress(f"read side: coordination projections rebuild of {head:,} events")
        assert valkey.pid is not None
        command = [str(Path(sys.executable).parent / "coordination"), "projections", "rebuild"]
        env = {**os.environ, "REDIS_URL": valkey.url}
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        host0, v0, t0 = HostCpu.read(), cpu_seconds([valkey.pid]), time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
        elapsed = time.perf_counter() - t0
        children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy, _steal, _total = HostCpu.read().since(host0)
        valkey_cpu = cpu_seconds([valkey.pid]) - v0
        cpu = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
        if done.returncode != 0:
            raise RuntimeError(f"rebuild failed ({done.returncode}):\n{done.stderr[-2000:]}")
        gen = current_generation(redis, PARTITION)
        reached = int(redis.get(keys.checkpoint(PARTITION, gen)) or 0)
        if reached != head:
            raise RuntimeError(f"rebuild reached {reached} of {head}: {done.stdout}")
        self.report.rebuild = Rate(
            "coordination projections rebuild (CLI)",
            head,
            elapsed,
            cpu,
            valkey_cpu,
            other_cores=max(busy - cpu - valkey_cpu, 0.0) / elapsed,
        )
        self.report.rebuild_detail = (
            f"{head:,} events, {int(redis.zcard(keys.incidents_index(PARTITION, gen))):,} "
            f"incidents; valkey used {memory / 2**20:,.0f} MiB before; batches of "
            f"{REBUILD_BATCH:,}; the wall time includes the command's start-up, the grace "
            "period after the swap and dropping the old generation"
        )

    def _archive(self, redis: Redis, valkey: EmbeddedServer) -> None:
        """``coordination archive`` of the rebuilt partition (every life of the mix is closed,
        in 2020: all of it goes), the server's memory before and after, reads of an order
        from the log and from the archive, and the rebuild again, from the archive."""
        root = self.tmp / "archive"
        root.mkdir(exist_ok=True)
        env = {**os.environ, "REDIS_URL": valkey.url, "COORDINATION_ARCHIVE_DIR": str(root)}
        coordination = str(Path(sys.executable).parent / "coordination")
        head = int(redis.get(keys.head(PARTITION)) or 0)
        gen = current_generation(redis, PARTITION)
        sample = [m.decode() for m in redis.zrange(keys.incidents_index(PARTITION, gen), 0, 199)]

        def reads() -> float:
            """Milliseconds per read of one order's events (a fresh reader: nothing cached)."""
            with Redis.from_url(valkey.url) as client:
                store = EventStore(client, archive=DirectorySegments(root))
                t = time.perf_counter()
                for incident in sample:
                    assert store.read_stream(PARTITION, incident)
                return (time.perf_counter() - t) / len(sample) * 1000

        live_ms = reads()
        before = int(redis.info("memory")["used_memory"])
        log_before = int(redis.memory_usage(keys.log(PARTITION), samples=0) or 0)
        self.progress(f"read side: coordination archive of {head:,} events")
        t0 = time.perf_counter()
        done = subprocess.run(
            [coordination, "archive"], env=env, capture_output=True, text=True, timeout=1800
        )
        archived_s = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"archive failed ({done.returncode}):\n{done.stderr[-2000:]}")
        after = int(redis.info("memory")["used_memory"])
        log_after = int(redis.memory_usage(keys.log(PARTITION), samples=0) or 0)
        on_disk = sum(f.stat().st_size for f in root.rglob("*.jsonl.zst"))
        archived_ms = reads()
        self.progress("read side: coordination projections rebuild, from the archive")
        t0 = time.perf_counter()
        again = subprocess.run(
            [coordination, "projections", "rebuild"], env=env, capture_output=True, text=True,
            timeout=1800,
        )  # fmt: skip
        rebuilt_s = time.perf_counter() - t0
        if again.returncode != 0:
            raise RuntimeError(f"rebuild failed ({again.returncode}):\n{again.stderr[-2000:]}")
        reached = int(redis.get(keys.checkpoint(PARTITION, current_generation(redis, PARTITION))))
        if reached != head:
            raise RuntimeError(f"the rebuild from the archive reached {reached} of {head}")
        self.report.archive_detail = (
            f"coordination archive of {head:,} events in {archived_s:.1f} s "
            f"({done.stdout.strip()}); valkey used {before / 2**20:,.0f} MiB before, "
            f"{after / 2**20:,.0f} MiB after (the log {log_before / 2**20:,.0f} -> "
            f"{log_after / 2**20:,.1f} MiB; the rest is projections, which stay), "
            f"{on_disk / 2**20:,.1f} MiB of segments on disk "
            f"({on_disk / head:,.0f} bytes per event); reading one order's events: "
            f"{live_ms:.2f} ms from the log, {archived_ms:.2f} ms from the archive "
            f"({archived_ms / live_ms:.1f}x); the rebuild again, from the archive: "
            f"{rebuilt_s:.1f} s"
        )

    def _profile(self, redis: Redis, store: EventStore) -> str:
        """One more catch-up of the whole partition, into a fresh generation, under py-spy."""
        from bench.run import summarize_profile

        spy = str(Path(sys.executable).parent / "py-spy")
        if not Path(spy).exists():
            return "py-spy not found next to this python; no profile"
        gen = int(redis.incr(keys.generations(PARTITION))) + 100
        redis.set(keys.generation(PARTITION), gen)
        self.progress("read side: profile, one more catch-up under py-spy (wall time, idle too)")
        out = self.tmp / "py-spy-catch-up.txt"
        proc = subprocess.Popen(
            [spy, "record", "--pid", str(os.getpid()), "--rate", "200", "--format", "raw",
             "--idle", "--nonblocking", "--output", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            time.sleep(1.0)
            Projector(redis, store, batch_size=self.args.batch).catch_up(PARTITION)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                _, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
        stacks: Counter[str] = Counter()
        if out.exists():
            for line in out.read_text(errors="replace").splitlines():
                stack, _, count = line.rpartition(" ")
                if stack and count.isdigit() and "catch_up" in stack:
                    stacks[stack] += int(count)
        if not stacks:
            return "py-spy produced no samples: " + err.decode(errors="replace")[-300:]
        return summarize_profile(
            stacks, what="samples of the catch-up (wall time: waits on valkey too)"
        )

    # --- 3: end-to-end freshness -----------------------------------------------------------

    def _freshness(self) -> None:
        from bench.run import BODY, UNIT, _check

        args = self.args
        valkey = self._valkey("valkey-freshness", args.appendfsync)
        assert valkey.pid is not None
        redis = Redis.from_url(valkey.url)
        try:
            secret, _ = TokenStore(redis).create(Role.DISPATCHER, UNIT, "bench-dispatcher")
            config = WorkerConfig(args.workers, "gevent", shipped=True)
            env = {"REDIS_URL": valkey.url}
            api = Gunicorn(args.api_app, config, env, self.tmp, "/openapi.json")
            self.gunicorns.append(api)
            self.progress(f"read side: freshness, API under gunicorn [{config.label}]")
            api.launch()
            api.wait_ready()
            auth = (("Authorization", f"Bearer {secret}"),)
            target = load.Target(api.host, api.port, "/incidents", BODY, auth, keep_positions=True)
            _check(target)
            classes = [(FORKING, [])]
            if not args.no_simple_worker:
                classes.append(("SimpleWorker", ["--worker-class", SIMPLE_WORKER]))
            for dotted in args.rq_worker_class:
                classes.append((dotted.rsplit(".", 1)[-1][:18], ["--worker-class", dotted]))
            for label, extra in classes:
                self.report.fresh.append(self._fresh_run(label, extra, redis, valkey, api, target))
        finally:
            redis.close()

    def _fresh_run(
        self,
        label: str,
        extra: list[str],
        redis: Redis,
        valkey: EmbeddedServer,
        api: Gunicorn,
        target: load.Target,
    ) -> Freshness:
        from bench.run import _check

        args = self.args
        config = Config.from_env({**os.environ, "REDIS_URL": valkey.url})  # as the API sees it
        command = [RQ, "worker", "--url", valkey.url, "--serializer", "json", "--with-scheduler"]
        log = self.tmp / f"rq-{label.split()[0].lower()}.log"
        worker = RqWorker([*command, *extra, config.queue], {"REDIS_URL": valkey.url}, log)
        self.workers.append(worker)
        worker.start()
        rq_queue = Queue(config.queue, connection=redis, serializer=JSONSerializer)

        def registered() -> list[Worker]:  # this worker only, not one stopped before it
            return [w for w in Worker.all(connection=redis, queue=rq_queue) if w.pid == worker.pid]

        deadline = time.monotonic() + 20
        while not registered():
            if not worker.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"rq worker [{label}] did not register:\n{worker.tail()}")
            time.sleep(0.05)
        # Warm-up: a few writes, caught up, so that the worker has run a job before the load.
        for _ in range(3):
            _check(target)
        gen = current_generation(redis, PARTITION)
        self._wait_caught_up(redis, gen, 20.0, label, worker)

        def jobs_done() -> int:
            return sum(w.successful_job_count + w.failed_job_count for w in registered())

        failed0 = FailedJobRegistry(queue=rq_queue).count
        jobs0 = jobs_done()
        self.progress(
            f"read side: freshness [{label} worker]: {args.fresh_rate:g} POST /incidents/s for "
            f"{args.fresh_seconds:g} s, watcher polling the checkpoint every ~1 ms"
        )
        watcher = Watcher(valkey.url, keys.checkpoint(PARTITION, gen), args.fresh_seconds + 60)
        self.watchers.append(watcher)
        try:
            time.sleep(0.2)  # the watcher's first read is in before the first write
            assert valkey.pid is not None
            pids = api.pids()
            app0, valkey0, worker0 = (
                cpu_seconds(pids),
                cpu_seconds([valkey.pid]),
                worker.cpu_seconds(),
            )
            host0 = HostCpu.read()
            t0 = time.monotonic()
            results = load.run_open(target, 1, args.fresh_rate, args.fresh_seconds)
            load_s = time.monotonic() - t0
            busy, _steal, total = HostCpu.read().since(host0)
            app_cpu = cpu_seconds(pids) - app0
            valkey_cpu = cpu_seconds([valkey.pid]) - valkey0
            last_201 = max((w[0] for r in results for w in r.writes), default=time.monotonic())
            self._wait_caught_up(redis, gen, 10.0, label, worker)
            drain = time.monotonic() - last_201
            worker_cpu = worker.cpu_seconds() - worker0
            jobs = jobs_done() - jobs0
            changes, polls, watch_s, watcher_cpu, gap_p99, gap_max = watcher.stop()
            gen_cpu = sum(r.cpu_s for r in results)
            # The watcher's CPU over the load only, pro rata; the worker's up to the drain.
            ours = app_cpu + valkey_cpu + worker_cpu + gen_cpu + watcher_cpu * load_s / watch_s
        finally:
            watcher.close()
            worker.stop()
        fresh, already, never = _join(results, changes)
        return Freshness(
            label=label,
            results=results,
            seconds=load_s,
            observations=len(changes),
            polls=polls,
            watch_s=watch_s,
            gap_p99_ms=gap_p99,
            gap_max_ms=gap_max,
            fresh_ms=fresh,
            already=already,
            never=never,
            in_queue=_in_queue(redis, gen, results),
            jobs=jobs,
            failed_jobs=FailedJobRegistry(queue=rq_queue).count - failed0,
            app_cpu_s=app_cpu,
            worker_cpu_s=worker_cpu,
            valkey_cpu_s=valkey_cpu,
            watcher_cpu_s=watcher_cpu,
            host_busy=busy / total,
            other_cores=max(busy - ours, 0.0) / load_s,
            drain_s=drain,
        )

    def _wait_caught_up(
        self, redis: Redis, gen: int, timeout: float, label: str, worker: RqWorker
    ) -> None:
        deadline = time.monotonic() + timeout
        while True:
            head = int(redis.get(keys.head(PARTITION)) or 0)
            reached = int(redis.get(keys.checkpoint(PARTITION, gen)) or 0)
            if reached >= head:
                return
            if time.monotonic() > deadline or not worker.alive():
                raise RuntimeError(
                    f"[{label} worker] projections stuck at {reached} of {head}:\n{worker.tail()}"
                )
            time.sleep(0.01)


def _join(
    results: list[load.Result], changes: list[tuple[float, int]]
) -> tuple[list[float], int, int]:
    """Per 201: ms until the watcher first saw the checkpoint at or past its position (0 when
    already there as the 201 arrived); how many were there already, how many never."""
    seen = [c[1] for c in changes]  # the checkpoint only moves forward within a generation
    fresh: list[float] = []
    already = never = 0
    for r in results:
        for received, position in r.writes:
            i = bisect.bisect_left(seen, position)
            if position < 0 or i == len(seen):
                never += 1
                continue
            delay = changes[i][0] - received
            if delay <= 0:
                already += 1
            fresh.append(max(delay, 0.0) * 1000.0)
    fresh.sort()
    return fresh, already, never


def _in_queue(redis: Redis, gen: int, results: list[load.Result]) -> int:
    """How many written incidents are in their unit's queue projection now (read from the log
    entries at the positions the 201s named)."""
    positions = [p for r in results for _, p in r.writes if p > 0]
    if not positions:
        return 0
    with redis.pipeline(transaction=False) as pipe:
        for p in positions:
            pipe.xrange(keys.log(PARTITION), min=f"{p}-0", max=f"{p}-0")
        entries = pipe.execute()
    ids = [json.loads(e[0][1][b"e"])["stream"] for e in entries if e]
    raws = redis.mget([keys.view(PARTITION, gen, i) for i in ids]) if ids else []
    with redis.pipeline(transaction=False) as pipe:
        for incident_id, raw in zip(ids, raws, strict=True):
            unit = queues.queue_unit(views.decode(raw).incident) if raw else None
            pipe.zscore(keys.queue(PARTITION, gen, unit or "-"), incident_id)
        scores = pipe.execute()
    return sum(s is not None for s in scores)


# --- output --------------------------------------------------------------------------------


def _cpu(ms: float) -> str:
    return f"{ms:6,.1f}" if ms < 1000 else f"{ms:6,.0f}"


def print_report(report: Report, args: argparse.Namespace) -> list[tuple[str, bool]]:
    """Print the read-side section; return its target lines with PASS (True) or MISS."""
    from bench.run import percentile

    fill = report.fill
    shape = ""
    if fill is not None and fill.window >= args.batch:
        shape = f"so a batch of {args.batch} events touches mostly distinct incidents"
    elif fill is not None:
        shape = (
            f"so a batch of {args.batch} events holds several events of each incident it "
            "touches; the projector's cost is mostly per incident and batch"
        )
    print(f"\nRead side ({report.seconds:.0f} s; private valkey servers of its own)")
    if args.quick:
        print(f"  --quick: the projection partition is scaled down to {args.events:,} events")
    if fill is not None:
        print(
            f"  Partition {PARTITION} on a fresh server: {fill.events:,} events of "
            f"{fill.incidents:,} incident lives (~10 events each: {LIFE}; "
            f"work orders, some supply deliveries and quarantine visits), "
            f"{fill.window} lives in progress at once ({shape}).\n"
            f"  Filled through EventStore.append with its script calls pipelined "
            f"{FILL_PIPELINE} at a time, {fill.procs} processes, on appendfsync no: "
            f"{fill.appends:,} appends in {fill.seconds:.1f} s ({fill.events / fill.seconds:,.0f} "
            f"events/s; not a target). Then CONFIG SET appendfsync {report.fsync} for what follows."
        )
    targets: list[tuple[str, bool]] = []
    if report.log_bytes is not None:
        lb = report.log_bytes
        ok = lb.ratio <= LOG_BYTES_TARGET
        print(
            f"  Log in the server's memory: {lb.per_event:,.0f} bytes per event (the stream "
            f"{lb.stream_bytes / 2**20:,.1f} MiB, the aggregates' lists "
            f"{lb.list_bytes / 2**20:,.1f} MiB, MEMORY USAGE) against {lb.record_bytes:,.0f} "
            "bytes of one stored record: "
            f"{lb.ratio:.2f}x   (target <= {LOG_BYTES_TARGET:g}x)  {'PASS' if ok else 'MISS'}"
        )
        targets.append(
            (
                f"log bytes per event / record = {lb.ratio:.2f}x   "
                f"(target <= {LOG_BYTES_TARGET:g}x)",
                ok,
            )
        )
    head = (
        f"  {'measurement':42} {'events':>8} {'seconds':>8} {'events/s':>9} | "
        f"cpu ms/1k events: {'client':>6} {'valkey':>6} | {'target':>10}  verdict"
    )
    print(head)
    print("  " + "-" * (len(head) - 2))

    def line(rate: Rate, target: str = "", verdict: str = "") -> None:
        print(
            f"  {rate.name:42} {rate.count:8d} {rate.seconds:8.2f} {rate.rate:9,.0f} | "
            f"{'':18}{_cpu(rate.per_k(rate.client_cpu_s))} {_cpu(rate.per_k(rate.valkey_cpu_s))} | "
            f"{target:>10}  {verdict}"
        )

    for rate in report.reads:
        line(rate)
    if report.projector is not None:
        ok = report.projector.rate >= PROJECTOR_TARGET
        line(report.projector, f">= {PROJECTOR_TARGET:,.0f}", "PASS" if ok else "MISS")
        targets.append(
            (
                f"Projector.catch_up = {report.projector.rate:,.0f} events/s   "
                f"(target >= {PROJECTOR_TARGET:,.0f})",
                ok,
            )
        )
    if report.naive is not None:
        line(report.naive)
    if report.rebuild is not None:
        rebuild = report.rebuild
        allowed = REBUILD_TARGET_S * rebuild.count / REBUILD_TARGET_EVENTS
        ok = rebuild.seconds <= allowed and rebuild.count >= REBUILD_TARGET_EVENTS
        line(rebuild, f"<= {allowed:.0f} s", "PASS" if ok else "MISS")
        targets.append(
            (
                f"rebuild of {rebuild.count:,} events = {rebuild.seconds:.1f} s   "
                f"(target <= {REBUILD_TARGET_S:g} s for {REBUILD_TARGET_EVENTS:,})"
                + ("" if rebuild.count >= REBUILD_TARGET_EVENTS else "; too few events to judge"),
                ok,
            )
        )
    print(
        "  (client = this process for the reads and the projector, the rq worker and its work "
        "horses for the naive one; valkey = the server's CPU during the measurement)"
    )
    for rate in report.reads:
        print(f"  {rate.name}: {rate.note}")
    if report.projector is not None and report.phases:
        total = report.projector.seconds
        parts = ", ".join(
            f"{name} {seconds:.2f} s ({100 * seconds / total:.0f}%)"
            for name, seconds in report.phases.items()
        )
        print(f"  catch-up wall time: {parts}")
        print(
            f"  host during the catch-up: {report.projector.other_cores:.2f} cores busy outside "
            "this process and its valkey (noise from other tenants)"
        )
        print(
            f"  projected {report.projected_incidents:,} incidents; read rate over the whole "
            f"catch-up: read_partition would allow "
            f"{report.projector.count / max(report.phases.get('read_partition', 0), 1e-9):,.0f} "
            "events/s if applying cost nothing"
        )
    if report.rebuild is not None:
        print(
            f"  rebuild: {report.rebuild_detail}; {report.rebuild.other_cores:.2f} cores busy "
            "outside the command and its valkey meanwhile"
        )
    if report.archive_detail:
        print(f"  archive: {report.archive_detail}")
    if report.naive is not None:
        print(f"  naive: {report.naive_detail}")
        if report.projector is not None and report.naive.rate > 0:
            ratio = report.projector.rate / report.naive.rate
            ok = ratio >= NAIVE_RATIO_TARGET
            targets.append(
                (
                    f"projector / naive = {report.projector.rate:,.0f} / "
                    f"{report.naive.rate:,.1f} = {ratio:,.0f}x   (target >= "
                    f"{NAIVE_RATIO_TARGET:g}x)",
                    ok,
                )
            )

    if report.fresh:
        print(
            f"\n  End-to-end freshness: {args.fresh_rate:g} POST /incidents/s for "
            f"{args.fresh_seconds:g} s "
            f"(open loop, one generator process) against the API under gunicorn "
            f"[shipped config: gevent x{args.workers}], appendfsync {args.appendfsync}, "
            "a real rq worker "
            "(devrun's command line: rq worker --url ... --serializer json --with-scheduler "
            "coordination) draining the catch-ups the appends trigger; no scheduler/tick.\n"
            "  fresh = from receiving the 201 until a watcher process polling the checkpoint "
            "(~1 ms apart) first saw it at or past the write's position (0 if already there)"
        )
        head = (
            f"  {'rq worker':18} {'201s':>5} {'2xx/s':>6} {'p50':>6} {'p90':>6} {'p99':>6} "
            f"{'max':>6} {'@201':>5} {'never':>5} {'jobs':>5} {'inQ':>5} {'err':>4} | "
            f"cpu ms/write: {'api':>5} {'worker':>6} {'valkey':>6} {'watch':>5} | host busy other"
        )
        print(head)
        print("  " + "-" * (len(head) - 2))
        for f in report.fresh:
            print(
                f"  {f.label:18} {f.writes:5d} {f.writes / args.fresh_seconds:6.0f} "
                f"{f.p(0.5):6.1f} {f.p(0.9):6.1f} {f.p(0.99):6.1f} {f.p(1.0):6.1f} "
                f"{f.already:5d} {f.never:5d} {f.jobs:5d} {f.in_queue:5d} {f.errors:4d} | {'':13}"
                f"{f.per_write_ms(f.app_cpu_s):5.2f} {f.per_write_ms(f.worker_cpu_s):6.2f} "
                f"{f.per_write_ms(f.valkey_cpu_s):6.2f} {f.per_write_ms(f.watcher_cpu_s):5.2f} | "
                f"{100 * f.host_busy:8.0f}% {f.other_cores:5.2f}"
            )
        print(
            "  (ms; @201 = already visible when the 201 arrived; never = not visible before the "
            "watcher stopped; jobs = catch-up jobs the worker ran; inQ = written incidents found "
            "in their unit's queue projection afterwards; worker cpu includes its work horses; "
            "host busy in % of all cores, other = cores busy outside the bench's processes)"
        )
        for f in report.fresh:
            lat = sorted(x for r in f.results for x in r.latencies_ms)
            print(
                f"  [{f.label}] POST p50/p99 {percentile(lat, 0.5):.1f}/{percentile(lat, 0.99):.1f}"
                f" ms; {f.writes / max(f.jobs, 1):.1f} writes per catch-up job; drained "
                f"{1000 * f.drain_s:.0f} ms after the last 201; watcher {f.polls / f.watch_s:,.0f} "
                f"reads/s, gap between reads p99 {f.gap_p99_ms:.1f} ms, max {f.gap_max_ms:.1f} ms; "
                f"{f.observations} checkpoint moves seen"
                + (f"; FAILED JOBS {f.failed_jobs}" if f.failed_jobs else "")
                + (f"; FLAGGED: {f.errors} request errors" if f.errors else "")
            )
        if len(report.fresh) >= 2:
            a, b = report.fresh[:2]
            better, worse = (a, b) if a.p(0.99) <= b.p(0.99) else (b, a)
            print(
                f"  {better.label} is better: p99 {better.p(0.99):.1f} vs {worse.p(0.99):.1f} ms "
                f"({worse.p(0.99) / max(better.p(0.99), 1e-9):.1f}x), p50 {better.p(0.5):.1f} vs "
                f"{worse.p(0.5):.1f} ms; worker CPU per write "
                f"{better.per_write_ms(better.worker_cpu_s):.2f} vs "
                f"{worse.per_write_ms(worse.worker_cpu_s):.2f} ms"
            )
        # The target is for the worker make run and compose ship (`coordination worker` runs a
        # SimpleWorker); the default forking one is shown for reference.
        for f in report.fresh:
            if f.label == FORKING:
                continue
            ok = (
                f.p(0.99) <= FRESHNESS_P99_TARGET_MS
                and not f.never
                and not f.errors
                and f.writes >= 0.95 * args.fresh_rate * args.fresh_seconds
                and f.in_queue == f.writes
            )
            targets.append(
                (
                    f"[{f.label:17}] freshness p99 = {f.p(0.99):.1f} ms   "
                    f"(target <= {FRESHNESS_P99_TARGET_MS:g} ms)",
                    ok,
                )
            )
    if report.profile:
        print(f"\n  Profile of Projector.catch_up (py-spy, in this process)\n{report.profile}")
    return targets
