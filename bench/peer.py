"""A peer for the store: the same work against the Python ``eventsourcing`` library, same run.

1. Appends, one event per command, by 4 concurrent writers, durable commits, expected versions
   checked. Ours: ``EventStore.append`` of a claim or a release decided by ``decide`` on the
   writer's own incident (handed down to a community first), on a private valkey with
   ``appendfsync always``. Theirs: an ``Aggregate`` with the same claim/release cycle, one
   ``app.save`` per command, on SQLite (a file in the temp dir, 4 processes), and on the
   in-memory POPO recorder (4 threads of one process: it cannot be shared) as a ceiling.
2. Replay of one aggregate of 1,000 events: ``read_stream`` + ``fold`` against
   ``app.repository.get`` (no snapshots, no cache).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import queue as queue_lib
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import PersistenceError, RecordConflictError
from redis import Redis
from redis.exceptions import RedisError

from bench.readside import PARTITION, community_places
from bench.servers import HostCpu, cpu_seconds
from coordination.bootstrap import build_services
from coordination.config import Config
from coordination.devtools.embedded import EmbeddedServer
from coordination.domain.commands import (
    ClaimIncident,
    HandDown,
    ReleaseIncident,
    ReportIncident,
    SignFor,
)
from coordination.domain.incident import Incident, decide, fold
from coordination.domain.values import Category, Contact, Kind
from coordination.store import keys
from coordination.store.eventstore import ConcurrencyConflict, EventStore, WriteOutcomeUnknown

WRITERS = 4
REPLAY_EVENTS = 1000
APPEND_TARGET = 3.0  # ours / their SQLite, appends/s
REPLAY_TARGET = 1.0  # ours / their SQLite, replays/s
HOLDER = "field-7"
START = datetime(2020, 2, 8, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("peer")
    g.add_argument(
        "--peer-seconds",
        type=float,
        help="seconds of appends per side against the eventsourcing library (default 5; --quick 2)",
    )
    g.add_argument(
        "--replays",
        type=int,
        help=f"replays of the {REPLAY_EVENTS:,}-event aggregate per side (default 200; --quick 50)",
    )


def finish_arguments(args: argparse.Namespace, error: Callable[[str], Any]) -> None:
    args.peer_seconds = args.peer_seconds or (2.0 if args.quick else 5.0)
    args.replays = args.replays or (50 if args.quick else 200)
    if not 0 < args.peer_seconds <= 600:
        error("--peer-seconds must be in (0, 600]")
    if not 1 <= args.replays <= 100_000:
        error("--replays must be in [1, 100000]")


# --- figures -------------------------------------------------------------------------------


@dataclass
class Run:
    """One writer's (or one replayer's) count, its own clock and its CPU."""

    count: int = 0
    errors: int = 0
    started: float = 0.0
    finished: float = 0.0
    cpu_s: float = 0.0
    error: str = ""


@dataclass
class Figure:
    """One line: ``count`` appends or replays in ``seconds``."""

    name: str
    count: int
    seconds: float
    client_cpu_s: float
    server_cpu_s: float = math.nan
    errors: int = 0
    other_cores: float = math.nan  # cores busy outside the measured processes: noise

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else math.nan

    def per(self, cpu_s: float, unit: int) -> float:
        """CPU milliseconds per ``unit`` appends or replays."""
        return 1000.0 * unit * cpu_s / self.count if self.count else math.nan


@dataclass
class PeerReport:
    library: str = ""
    appends: list[Figure] = field(default_factory=list)  # ours, SQLite, POPO, the bound
    replays: list[Figure] = field(default_factory=list)
    sqlite: str = ""  # its durability settings as the library leaves them
    filesystem: str = ""
    record_bytes: tuple[float, float] = (0.0, 0.0)  # mean per replayed event: ours, theirs
    seconds: float = 0.0


# --- their side ----------------------------------------------------------------------------


class Ticket(Aggregate):
    """The library's aggregate for the same work: reported, then claimed and released."""

    @event("Reported")
    def __init__(self, kind: str, title: str, place: str, reporter: str, phone: str) -> None:
        self.kind, self.title, self.place = kind, title, place
        self.reporter, self.phone = reporter, phone
        self.holder = ""
        self.lease_expires_at: datetime | None = None

    def claim(self, holder: str, unit: str, now: datetime) -> None:
        if self.holder:
            raise ValueError(f"claimed by {self.holder}")
        self._claimed(holder, unit, now + timedelta(minutes=30))

    @event("Claimed")
    def _claimed(self, holder: str, unit: str, lease_expires_at: datetime) -> None:
        self.holder, self.lease_expires_at = holder, lease_expires_at

    def release(self, by: str, reason: str) -> None:
        if self.holder != by:
            raise ValueError(f"held by {self.holder!r}, not {by}")
        self._released(by, reason)

    @event("Released")
    def _released(self, holder: str, reason: str) -> None:
        self.holder, self.lease_expires_at = "", None


def _app(db: str | None) -> Application[Any]:
    env = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    if db is not None:
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": db}
    return Application(env={**env, "IS_SNAPSHOTTING_ENABLED": "no", "AGGREGATE_CACHE_MAXSIZE": ""})


def _new_ticket() -> Ticket:
    return Ticket("work_order", "口罩价格过高", "丽都", "张三", "13812345678")


def _toggle(ticket: Ticket, now: datetime) -> None:
    if ticket.holder:
        ticket.release(HOLDER, "换班")
    else:
        ticket.claim(HOLDER, "community-1", now)


def their_writer(app_or_db: Application[Any] | str, index: int) -> Callable[[], bool]:
    """Set up one writer's aggregate; return its command: one event, one ``app.save``."""
    app = _app(app_or_db) if isinstance(app_or_db, str) else app_or_db
    ticket = _new_ticket()
    app.save(ticket)
    now = START

    def step() -> bool:
        nonlocal ticket, now
        now += timedelta(seconds=1)
        try:
            _toggle(ticket, now)
            app.save(ticket)
            return True
        except (PersistenceError, RecordConflictError):  # e.g. "database is locked"
            ticket = app.repository.get(ticket.id)  # as its users would: reload, go on
            return False

    return step


# --- our side ------------------------------------------------------------------------------


def _setup_commands(incident_id: str, place: str) -> list[Any]:
    report = ReportIncident(
        incident_id=incident_id,
        kind=Kind.WORK_ORDER,
        title="口罩价格过高",
        place=place,
        reporter=Contact("张三", "13812345678"),
        category=Category.COMPLAINT,
        epidemic=True,
    )
    return [report, SignFor(note="已签收"), HandDown(note="请社区跟进")]


def _cycle(state: Incident) -> Any:
    if state.holder:
        return ReleaseIncident(by=HOLDER, reason="换班")
    return ClaimIncident(holder=HOLDER)


def our_writer(url: str, index: int) -> Callable[[], bool]:
    """Set up one writer's incident (reported, signed for, handed down to its community);
    return its command: a claim or a release decided on the state, one ``append``."""
    built = build_services(Config(redis_url=url))
    ctx, store = built.incidents.ctx, EventStore(built.redis)
    incident_id = f"{PARTITION}-20200208-peer{index:04d}"
    state, now = Incident(), START
    for command in _setup_commands(incident_id, community_places(built)[0]):
        events = decide(state, command, replace(ctx, now=now))
        store.append(PARTITION, incident_id, state.version, events, actor="bench", now=now)
        state = fold(events, state)

    def step() -> bool:
        nonlocal state, now
        now += timedelta(seconds=1)
        events = decide(state, _cycle(state), replace(ctx, now=now))
        try:
            store.append(PARTITION, incident_id, state.version, events, actor="bench", now=now)
        except (ConcurrencyConflict, WriteOutcomeUnknown, RedisError):
            state = fold(e.event for e in store.read_stream(PARTITION, incident_id))
            return False
        state = fold(events, state)
        return True

    return step


def bare_writer(url: str, index: int) -> Callable[[], bool]:
    """The server's own bound: one XADD of a record as long as ours (283 bytes) per command,
    no expected version, no idempotency, no domain code, no Lua; redis-py as ours uses it."""
    redis = Redis.from_url(url)
    stream, record = f"bare:{index}", "x" * 283

    def step() -> bool:
        redis.xadd(stream, {"e": record})
        return True

    return step


# --- running writers -----------------------------------------------------------------------


def _loop(step: Callable[[], bool], seconds: float, clock: Callable[[], float]) -> Run:
    run = Run(started=time.monotonic())
    c0, deadline = clock(), run.started + seconds
    while time.monotonic() < deadline:
        if step():
            run.count += 1
        else:
            run.errors += 1
    run.finished, run.cpu_s = time.monotonic(), clock() - c0
    return run


def _child(setup: Callable[..., Callable[[], bool]], arg: str, index: int, seconds: float,
           ready: Any, go: Any, out: Any) -> None:  # fmt: skip
    try:
        step = setup(arg, index)
    except BaseException:
        ready.put(traceback.format_exc())
        return
    ready.put("")
    go.wait()
    try:
        out.put(_loop(step, seconds, time.process_time))
    except BaseException:
        out.put(Run(error=traceback.format_exc()))


def _processes(
    setup: Callable[..., Callable[[], bool]], arg: str, seconds: float, server: int | None
) -> tuple[list[Run], float, float]:
    """WRITERS processes (spawned) set up, then start together; (runs, server CPU, host busy
    CPU seconds over the run). Every process is joined or terminated before this returns."""
    ctx = mp.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=_child, args=(setup, arg, i, seconds, ready, go, out), daemon=True)
        for i in range(WRITERS)
    ]
    try:
        for proc in procs:
            proc.start()
        for _ in procs:
            failure = ready.get(timeout=120)
            if failure:
                raise RuntimeError(f"a writer failed to set up:\n{failure}")
        host0, s0 = HostCpu.read(), cpu_seconds([server]) if server else 0.0
        go.set()
        runs = [out.get(timeout=seconds + 120) for _ in procs]
        busy, _steal, _total = HostCpu.read().since(host0)
        server_cpu = cpu_seconds([server]) - s0 if server else math.nan
    except queue_lib.Empty:
        raise RuntimeError("a writer did not report in time") from None
    finally:
        go.set()
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        ready.close()
        out.close()
    failed = [r.error for r in runs if r.error]
    if failed:
        raise RuntimeError(f"a writer failed:\n{failed[0]}")
    return runs, server_cpu, busy


def _threads(app: Application[Any], seconds: float) -> tuple[list[Run], float]:
    """WRITERS threads of this process on one in-memory application; (runs, host busy)."""
    steps = [their_writer(app, i) for i in range(WRITERS)]
    go, runs = threading.Event(), [Run() for _ in steps]

    def work(k: int) -> None:
        go.wait()
        runs[k] = _loop(steps[k], seconds, time.thread_time)

    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(WRITERS)]
    for t in threads:
        t.start()
    host0 = HostCpu.read()
    go.set()
    for t in threads:
        t.join(seconds + 60)
    busy, _steal, _total = HostCpu.read().since(host0)
    return runs, busy


def _figure(name: str, runs: list[Run], server_cpu: float, busy: float) -> Figure:
    elapsed = max(r.finished for r in runs) - min(r.started for r in runs)
    client = sum(r.cpu_s for r in runs)
    fig = Figure(name, sum(r.count for r in runs), elapsed, client, server_cpu)
    fig.errors = sum(r.errors for r in runs)
    server = 0.0 if math.isnan(server_cpu) else server_cpu
    fig.other_cores = max(busy - client - server, 0.0) / elapsed
    return fig


def _replay(name: str, replays: int, once: Callable[[], int], server: int | None) -> Figure:
    if once() != REPLAY_EVENTS:  # warm, and check
        raise RuntimeError(f"{name}: the replayed aggregate is not at version {REPLAY_EVENTS}")
    s0, c0, t0 = cpu_seconds([server]) if server else 0.0, time.process_time(), time.perf_counter()
    for _ in range(replays):
        once()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return Figure(name, replays, elapsed, cpu, cpu_seconds([server]) - s0 if server else math.nan)


def _filesystem(path: Path) -> str:
    best = ("", "?", "?")
    with open("/proc/mounts") as f:
        for line in f:
            device, mount, fstype, *_ = line.split()
            if str(path).startswith(mount) and len(mount) > len(best[0]):
                best = (mount, fstype, device)
    return f"{best[1]} ({best[2]} on {best[0]})"


# --- the section ---------------------------------------------------------------------------


def run(args: argparse.Namespace, tmp: Path, progress: Callable[[str], None]) -> PeerReport:
    report = PeerReport(library=f"eventsourcing {version('eventsourcing')}")
    started, seconds = time.monotonic(), args.peer_seconds
    report.filesystem = _filesystem(tmp.resolve())
    valkey = EmbeddedServer(tmp / "valkey-peer", appendfsync="always")
    db = str(tmp / "peer-eventsourcing.sqlite")
    try:
        progress(f"peer: starting valkey (appendfsync always) in {tmp}")
        valkey.start()
        assert valkey.pid is not None
        progress(f"peer: ours, {WRITERS} writer processes, {seconds:g} s of EventStore.append")
        runs, vcpu, busy = _processes(our_writer, valkey.url, seconds, valkey.pid)
        report.appends.append(_figure("ours: EventStore.append, valkey", runs, vcpu, busy))

        sqlite_app = _app(db)  # creates the table and turns WAL on before the writers start
        pool = sqlite_app.factory.datastore.pool  # type: ignore[attr-defined]
        with sqlite_app.factory.datastore.transaction(commit=False) as c:  # type: ignore[attr-defined]
            c.execute("PRAGMA journal_mode")
            journal = c.fetchone()[0]
            c.execute("PRAGMA synchronous")
            sync = c.fetchone()[0]
        report.sqlite = (
            f"journal_mode={journal}, synchronous={SYNCHRONOUS.get(sync, sync)}, lock timeout "
            f"{pool.lock_timeout or 'the library default, 5'} s"
        )
        progress(f"peer: theirs on SQLite ({report.sqlite}), {WRITERS} writer processes")
        runs, _, busy = _processes(their_writer, db, seconds, None)
        report.appends.append(_figure("theirs: app.save, SQLite", runs, math.nan, busy))
        progress(f"peer: theirs in memory (POPO), {WRITERS} threads of one process")
        runs, busy = _threads(_app(None), seconds)
        report.appends.append(_figure("theirs: app.save, POPO (4 threads)", runs, math.nan, busy))
        progress(f"peer: the bound, a bare XADD per command, {WRITERS} writer processes")
        runs, vcpu, busy = _processes(bare_writer, valkey.url, seconds, valkey.pid)
        report.appends.append(_figure("bound: a bare XADD, valkey", runs, vcpu, busy))

        progress(f"peer: replaying a {REPLAY_EVENTS:,}-event aggregate {args.replays} times each")
        report.replays.append(_our_replay(valkey, args.replays, report))
        ticket_id = _their_fill(sqlite_app)
        stored = sqlite_app.recorder.select_events(ticket_id)
        theirs = sum(len(e.state) + len(e.topic) for e in stored) / len(stored)
        report.record_bytes = (report.record_bytes[0], theirs)

        def get(app: Application[Any], aggregate_id: Any) -> Callable[[], int]:
            return lambda: app.repository.get(aggregate_id).version

        report.replays.append(
            _replay(
                "theirs: repository.get, SQLite", args.replays, get(sqlite_app, ticket_id), None
            )
        )
        popo = _app(None)
        report.replays.append(
            _replay(
                "theirs: repository.get, POPO", args.replays, get(popo, _their_fill(popo)), None
            )
        )
        sqlite_app.close()
    finally:
        valkey.stop()
    report.seconds = time.monotonic() - started
    return report


def _our_replay(valkey: EmbeddedServer, replays: int, report: PeerReport) -> Figure:
    assert valkey.pid is not None
    built = build_services(Config(redis_url=valkey.url))
    ctx, store = built.incidents.ctx, EventStore(built.redis)
    incident_id = f"{PARTITION}-20200208-replay"
    state, events = Incident(), []
    commands = iter(_setup_commands(incident_id, community_places(built)[0]))
    while state.version < REPLAY_EVENTS:
        new = decide(state, next(commands, None) or _cycle(state), replace(ctx, now=START))
        state, events = fold(new, state), events + new
    store.append(PARTITION, incident_id, 0, events, actor="bench", now=START)
    # its records (kept once, in the log): the last ones appended
    log = built.redis.xrevrange(keys.log(PARTITION), count=len(events))
    raw = [fields[b"e"] for _id, fields in log]
    report.record_bytes = (sum(len(r) for r in raw) / len(raw), report.record_bytes[1])

    def once() -> int:
        return fold(e.event for e in store.read_stream(PARTITION, incident_id)).version

    try:
        return _replay("ours: read_stream + fold, valkey", replays, once, valkey.pid)
    finally:
        built.redis.close()


def _their_fill(app: Application[Any]) -> Any:
    """A ticket of REPLAY_EVENTS events, saved at once."""
    ticket, now = _new_ticket(), START
    while ticket.version < REPLAY_EVENTS:
        now += timedelta(seconds=1)
        _toggle(ticket, now)
    app.save(ticket)
    return ticket.id


# --- output --------------------------------------------------------------------------------


def _num(x: float, fmt: str) -> str:
    return "-" if math.isnan(x) else format(x, fmt)


def _ratio(ours: Figure, theirs: Figure) -> float:
    return ours.rate / theirs.rate if theirs.rate > 0 else math.inf


def print_report(report: PeerReport, args: argparse.Namespace) -> list[tuple[str, bool]]:
    """Print the peer section; return its target lines with PASS (True) or MISS."""
    print(
        f"\nPeer: our store against {report.library} (Python), same machine, same run "
        f"({report.seconds:.0f} s); data files on {report.filesystem}"
    )
    print(
        f"  1. Appends, one event per command (a claim or a release of the writer's own "
        f"aggregate), {WRITERS} concurrent writers, {args.peer_seconds:g} s each side, durable "
        "commits, expected versions checked.\n"
        "     ours: spawned processes, decide + EventStore.append (one Lua script call) on a "
        "private valkey, appendfsync always.\n"
        f"     SQLite: spawned processes, Aggregate method + app.save, one file; {report.sqlite}."
        "\n     POPO: 4 threads of one process (the in-memory recorder can't be shared), a "
        "ceiling without I/O.\n"
        "     bound: spawned processes, one XADD of a 283-byte record per command on the same "
        "valkey: no version check, no idempotency, no domain code; what the server and the "
        "client library give at most."
    )
    head = (
        f"  {'side':38} {'appends':>8} {'seconds':>7} {'appends/s':>9} {'err':>4} | "
        f"cpu ms/1k appends: {'client':>6} {'server':>6} | other cores"
    )
    print(head + "\n  " + "-" * (len(head) - 2))
    for f in report.appends:
        print(
            f"  {f.name:38} {f.count:8d} {f.seconds:7.2f} {f.rate:9,.0f} {f.errors:4d} | "
            f"{'':19}{f.per(f.client_cpu_s, 1000):6,.0f} "
            f"{_num(f.per(f.server_cpu_s, 1000), '6,.0f'):>6} | "
            f"{f.other_cores:11.2f}"
        )
    print(
        "  (client = the writers' own CPU, the SQLite engine included; server = valkey; other "
        "cores = busy outside the writers and valkey, whatever else ran meanwhile)"
    )
    targets: list[tuple[str, bool]] = []
    ours, sqlite = report.appends[0], report.appends[1]
    ratio = _ratio(ours, sqlite)
    ok = ratio >= APPEND_TARGET
    print(
        f"  ours / their SQLite = {ours.rate:,.0f} / {sqlite.rate:,.0f} = {ratio:.1f}x   "
        f"(target >= {APPEND_TARGET:g}x) {'PASS' if ok else 'MISS'}; ours / their POPO = "
        f"{_ratio(ours, report.appends[2]):.2f}x"
    )
    bound = _ratio(report.appends[3], sqlite)
    print(
        f"  the bound / their SQLite = {report.appends[3].rate:,.0f} / {sqlite.rate:,.0f} = "
        f"{bound:.1f}x; ours / the bound = {_ratio(ours, report.appends[3]):.2f}x"
        + (
            f": the {APPEND_TARGET:g}x target lies above what a bare XADD reaches here"
            if bound < APPEND_TARGET
            else ""
        )
    )
    targets.append((f"peer appends ours / SQLite = {ratio:.1f}x   (target >= 3x)", ok))

    print(
        f"\n  2. Replay of one aggregate with {REPLAY_EVENTS:,} events, {args.replays} times "
        "each, in this process (no snapshots, no aggregate cache).\n"
        "     ours: read_stream (one script: the aggregate's positions, each record from the log;"
        " msgspec) + fold; theirs:"
        " repository.get (SELECT by originator_id, mapper, mutate each event)."
    )
    head = (
        f"  {'side':38} {'replays':>8} {'seconds':>7} {'replays/s':>9} {'ms/replay':>9} | "
        f"cpu ms/replay: {'client':>6} {'server':>6}"
    )
    print(head + "\n  " + "-" * (len(head) - 2))
    for f in report.replays:
        print(
            f"  {f.name:38} {f.count:8d} {f.seconds:7.2f} {f.rate:9,.1f} "
            f"{1000 * f.seconds / f.count:9.2f} | {'':15}{f.per(f.client_cpu_s, 1):6.2f} "
            f"{_num(f.per(f.server_cpu_s, 1), '6.2f'):>6}"
        )
    ours, sqlite = report.replays[0], report.replays[1]
    ratio = _ratio(ours, sqlite)
    ok = ratio >= REPLAY_TARGET
    print(
        f"  ours / their SQLite = {ours.rate:,.1f} / {sqlite.rate:,.1f} = {ratio:.2f}x   "
        f"(target >= {REPLAY_TARGET:g}x) {'PASS' if ok else 'MISS'}; ours / their POPO = "
        f"{_ratio(ours, report.replays[2]):.2f}x"
    )
    mine, theirs = report.record_bytes
    print(
        f"  bytes per stored event of the replayed aggregate: ours {mine:.0f} (a JSON record: "
        f"id, stream, version, position, time, actor, type, schema, data), theirs {theirs:.0f} "
        "(topic + JSON state)"
    )
    targets.append((f"peer replay ours / SQLite = {ratio:.2f}x   (target >= 1x)", ok))
    return targets


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.peer",
        description="Our event store against the Python eventsourcing library: appends by 4 "
        "durable writers, and the replay of a 1,000-event aggregate.",
    )
    p.add_argument("--quick", action="store_true", help="short run: 2 s per side, 50 replays")
    add_arguments(p)
    args = p.parse_args(argv)
    finish_arguments(args, p.error)

    def progress(text: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp:
        report = run(args, Path(tmp), progress)
    targets = print_report(report, args)
    print()
    for text, ok in targets:
        print(f"  {'PASS' if ok else 'MISS'}  {text}")
    return 0 if all(ok for _, ok in targets) else 1


if __name__ == "__main__":
    from bench.peer import main as _main  # the module by its name: spawned children import it

    sys.exit(_main())
