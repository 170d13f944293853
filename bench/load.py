"""HTTP load generators, closed loop and open loop, each run in separate processes.

A generator process drives its share of the connections from one thread with non-blocking
sockets and a selector: the request is pre-encoded once, responses are parsed just far enough to
find the status, the length and ``Connection: close``. Gunicorn's sync worker closes every
connection after one response, so a connection is re-opened whenever the server asks; the
gthread worker keeps connections alive and they are reused.

Only the standard library is used here, and per request a generator does no more than send
pre-encoded bytes and find the end of the answer, so its own CPU (which is measured and shown)
stays small beside the servers'. Generators are forked (multiprocessing), one per process, so
the generator's GIL is not the limit.
"""

from __future__ import annotations

import contextlib
import errno
import json
import multiprocessing as mp
import os
import queue
import selectors
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

MAX_SAMPLES = 3  # bodies of non-2xx responses kept for the report


@dataclass(frozen=True)
class Target:
    """One POST endpoint and the exact request sent to it."""

    host: str
    port: int
    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    keep_positions: bool = False  # record (receive time, "position") of every 201 (read side)

    def request_bytes(self) -> bytes:
        lines = [
            f"POST {self.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            f"Content-Length: {len(self.body)}",
            *(f"{name}: {value}" for name, value in self.headers),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


@dataclass
class Result:
    """What one generator process measured (all times from time.monotonic, shared by processes)."""

    latencies_ms: list[float] = field(default_factory=list)
    send_lag_ms: list[float] = field(default_factory=list)  # open loop: actual - scheduled send
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # transport errors, timeouts
    samples: list[str] = field(default_factory=list)
    writes: list[tuple[float, int]] = field(default_factory=list)  # (201 received, position)
    connects: int = 0
    retried: int = 0
    queued: int = 0  # open loop: sends delayed because every connection was busy
    unsent: int = 0  # open loop: scheduled requests never sent before the hard stop
    started: float = 0.0
    finished: float = 0.0
    cpu_s: float = 0.0

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    @property
    def error_count(self) -> int:
        return self.non_2xx + sum(self.errors.values()) + self.unsent


# --- the client ----------------------------------------------------------------------------

IDLE, CONNECTING, SENDING, READING = range(4)


class _Conn:
    __slots__ = (
        "sock", "state", "out", "buf", "sched", "sent", "deadline", "reused", "head", "retry",
    )  # fmt: skip

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.state = IDLE
        self.out = memoryview(b"")
        self.buf = bytearray()
        self.sched = 0.0
        self.sent = 0.0
        self.deadline = 0.0
        self.reused = False
        self.head: tuple[int, int, int | None, bool, bool] | None = None
        self.retry = False


def _parse_head(buf: bytearray) -> tuple[int, int, int | None, bool, bool] | None:
    """(status, body offset, content length or None, close, chunked) once the head is in."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length: int | None = None
    close = lines[0].startswith("HTTP/1.0")
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "connection":
            close = value.strip().lower() == "close"
        elif name == "transfer-encoding":
            chunked = "chunked" in value.lower()
    return status, end + 4, length, close, chunked


class Driver:
    """Up to ``max_conns`` connections to one target, driven by one selector."""

    def __init__(self, target: Target, max_conns: int, timeout: float, result: Result) -> None:
        self.addr = (target.host, target.port)
        self.request = target.request_bytes()
        self.keep_positions = target.keep_positions
        self.max_conns = max_conns
        self.timeout = timeout
        self.result = result
        self.sel = selectors.DefaultSelector()
        self.conns: list[_Conn] = []
        self.idle: list[_Conn] = []
        self.busy: set[_Conn] = set()
        self.completed: list[_Conn] = []  # conns whose request finished during the last poll

    # A request starts on an idle (or new) connection; False when all are busy.
    def submit(self, sched: float) -> bool:
        if self.idle:
            conn = self.idle.pop()
        elif len(self.conns) < self.max_conns:
            conn = _Conn()
            self.conns.append(conn)
        else:
            return False
        conn.sched = sched
        conn.retry = False
        self._start(conn)
        return True

    def _start(self, conn: _Conn) -> None:
        now = time.monotonic()
        conn.sent = now
        conn.deadline = now + self.timeout
        conn.buf = bytearray()
        conn.head = None
        conn.out = memoryview(self.request)
        self.busy.add(conn)
        if conn.sock is None:
            self._connect(conn)
            return
        conn.reused = True
        conn.state = SENDING
        self._send(conn)

    def _connect(self, conn: _Conn) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        conn.sock = sock
        conn.reused = False
        conn.state = CONNECTING
        self.result.connects += 1
        code = sock.connect_ex(self.addr)
        if code not in (0, errno.EINPROGRESS):
            self._fail(conn, f"connect: {errno.errorcode.get(code, code)}")
            return
        self.sel.register(sock, selectors.EVENT_WRITE, conn)

    def _send(self, conn: _Conn) -> None:
        assert conn.sock is not None
        try:
            sent = conn.sock.send(conn.out)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._broken(conn, f"send: {type(exc).__name__}")
            return
        conn.out = conn.out[sent:]
        # The socket is always registered while open; modify() is free when nothing changes.
        if conn.out:
            conn.state = SENDING
            self.sel.modify(conn.sock, selectors.EVENT_WRITE, conn)
        else:
            conn.state = READING
            self.sel.modify(conn.sock, selectors.EVENT_READ, conn)

    def _on_event(self, conn: _Conn, mask: int) -> None:
        if conn.state == CONNECTING:
            assert conn.sock is not None
            code = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self._fail(conn, f"connect: {errno.errorcode.get(code, code)}")
                return
            conn.state = SENDING
            self._send(conn)
        elif conn.state == SENDING:
            self._send(conn)
        elif conn.state == READING:
            self._read(conn)
        else:  # an idle keep-alive connection became readable: the server closed it
            self._close(conn)

    def _read(self, conn: _Conn) -> None:
        assert conn.sock is not None
        try:
            chunk = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self._broken(conn, f"recv: {type(exc).__name__}")
            return
        if chunk:
            conn.buf += chunk
        if conn.head is None:
            conn.head = _parse_head(conn.buf)
            if conn.head is None:
                if not chunk:
                    self._broken(conn, "eof before response")
                return
        status, offset, length, close, chunked = conn.head
        have = len(conn.buf) - offset
        if length is not None:
            done = have >= length
        elif chunked:
            done = conn.buf.endswith(b"0\r\n\r\n")
        else:
            done = not chunk  # body delimited by the end of the connection
            close = True
        if not done:
            if not chunk:
                self._broken(conn, "eof in body")
            return
        self._complete(conn, status, offset, close)

    def _complete(self, conn: _Conn, status: int, offset: int, close: bool) -> None:
        now = time.monotonic()
        result = self.result
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if not 200 <= status < 300 and len(result.samples) < MAX_SAMPLES:
            body = bytes(conn.buf[offset : offset + 300]).decode("utf-8", "replace")
            result.samples.append(f"{status}: {body}")
        result.latencies_ms.append((now - conn.sched) * 1000.0)
        if self.keep_positions and status == 201:
            try:
                position = json.loads(bytes(conn.buf[offset:]))["position"]
            except (ValueError, KeyError, TypeError):
                position = -1  # counted as a write that never became visible
            result.writes.append((now, int(position)))
        if close:
            self._close(conn)
        else:
            assert conn.sock is not None
            self.sel.modify(conn.sock, selectors.EVENT_READ, conn)
        self._release(conn)

    def _broken(self, conn: _Conn, reason: str) -> None:
        """The connection failed. A reused keep-alive connection that said nothing is retried
        once on a fresh one (the server may have closed it just as we sent); else an error."""
        nothing_read = not conn.buf
        if conn.reused and nothing_read and not conn.retry:
            self._close(conn)
            self.result.retried += 1
            conn.retry = True
            self.busy.discard(conn)
            sched = conn.sched
            self._start(conn)
            conn.sched = sched
            return
        self._fail(conn, reason)

    def _fail(self, conn: _Conn, reason: str) -> None:
        self.result.errors[reason] = self.result.errors.get(reason, 0) + 1
        self._close(conn)
        self._release(conn)

    def _close(self, conn: _Conn) -> None:
        if conn.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(conn.sock)
            conn.sock.close()
            conn.sock = None
        conn.state = IDLE

    def _release(self, conn: _Conn) -> None:
        if conn.sock is not None:
            conn.state = IDLE
        self.busy.discard(conn)
        self.idle.append(conn)
        self.completed.append(conn)

    def poll(self, timeout: float) -> None:
        """Wait up to ``timeout`` for socket events and handle them; expire overdue requests."""
        self.completed.clear()
        for key, mask in self.sel.select(max(timeout, 0.0)):
            self._on_event(key.data, mask)
        now = time.monotonic()
        for conn in [c for c in self.busy if c.deadline < now]:
            self._fail(conn, "timeout")

    def close(self) -> None:
        for conn in self.conns:
            self._close(conn)
        self.sel.close()


# --- the two loops, as run inside one generator process ------------------------------------


def closed_loop(
    target: Target, conns: int, start_at: float, seconds: float, timeout: float
) -> Result:
    """Keep ``conns`` requests in flight until ``seconds`` have passed; each connection sends its
    next request as soon as its last response is in."""
    result = Result()
    driver = Driver(target, conns, timeout, result)
    _sleep_until(start_at)
    cpu0 = _cpu()
    result.started = time.monotonic()
    stop = result.started + seconds
    hard_stop = stop + timeout + 1.0
    try:
        for _ in range(conns):
            driver.submit(time.monotonic())
        while driver.busy and time.monotonic() < hard_stop:
            driver.poll(0.05)
            now = time.monotonic()
            if now < stop:
                for _ in range(len(driver.completed)):
                    driver.submit(now)
    finally:
        result.finished = time.monotonic()
        result.cpu_s = _cpu() - cpu0
        driver.close()
    return result


def open_loop(
    target: Target,
    rate: float,
    index: int,
    share: int,
    max_conns: int,
    start_at: float,
    seconds: float,
    timeout: float,
) -> Result:
    """Send this process's share of a fixed schedule (one request every 1/rate s overall; this
    process takes every ``share``-th slot from ``index``); latency counts from the scheduled time,
    so a slow server shows up in the figures instead of slowing the schedule down."""
    result = Result()
    driver = Driver(target, max_conns, timeout, result)
    total = int(rate * seconds)
    schedule = deque(start_at + i / rate for i in range(index, total, share))
    pending: deque[float] = deque()
    _sleep_until(start_at)
    cpu0 = _cpu()
    result.started = time.monotonic()
    hard_stop = start_at + seconds + timeout + 1.0
    try:
        while (schedule or pending or driver.busy) and time.monotonic() < hard_stop:
            now = time.monotonic()
            while schedule and schedule[0] <= now:
                pending.append(schedule.popleft())
            while pending:
                sched = pending[0]
                if not driver.submit(sched):
                    break
                pending.popleft()
                lag = time.monotonic() - sched
                result.send_lag_ms.append(lag * 1000.0)
                if lag > 0.001:
                    result.queued += 1
            wait = (schedule[0] - time.monotonic()) if schedule and not pending else 0.05
            driver.poll(min(max(wait, 0.0), 0.05))
    finally:
        result.unsent = len(schedule) + len(pending)
        result.finished = time.monotonic()
        result.cpu_s = _cpu() - cpu0
        driver.close()
    return result


def _sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


# --- running generators in processes -------------------------------------------------------


def _child(out: Any, fn: Any, args: tuple[Any, ...]) -> None:
    try:
        out.put(("ok", fn(*args)))
    except BaseException as exc:  # reported to the parent, which decides
        out.put(("error", f"{type(exc).__name__}: {exc}"))


Job = tuple[Any, tuple[Any, ...]]


def run_processes(jobs: list[Job], limit: float) -> tuple[list[Result], list[int]]:
    """Run each (function, args) in its own forked process; gather their Results.

    Returns the results and the pids (for CPU accounting the children measured themselves).
    Every child is joined or terminated before this returns.
    """
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_child, args=(out, fn, args), daemon=True) for fn, args in jobs]
    results: list[Result] = []
    failures: list[str] = []
    try:
        for proc in procs:
            proc.start()
        deadline = time.monotonic() + limit
        for _ in procs:
            try:
                status, value = out.get(timeout=max(deadline - time.monotonic(), 0.1))
            except queue.Empty:
                failures.append("a load generator process did not report in time")
                break
            if status == "ok":
                results.append(value)
            else:
                failures.append(value)
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        out.close()
    if failures:
        raise RuntimeError("; ".join(failures))
    return results, [p.pid for p in procs if p.pid is not None]


def split(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal non-zero shares."""
    parts = max(1, min(parts, total))
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run_closed(
    target: Target, procs: int, conns: int, seconds: float, timeout: float = 10.0
) -> list[Result]:
    start_at = time.monotonic() + 0.3  # every process starts sending together
    jobs = [(closed_loop, (target, n, start_at, seconds, timeout)) for n in split(conns, procs)]
    results, _ = run_processes(jobs, limit=seconds + timeout + 30)
    return results


def run_open(
    target: Target,
    procs: int,
    rate: float,
    seconds: float,
    max_conns: int = 64,
    timeout: float = 10.0,
) -> list[Result]:
    start_at = time.monotonic() + 0.3
    jobs = [
        (open_loop, (target, rate, i, procs, max_conns, start_at, seconds, timeout))
        for i in range(procs)
    ]
    results, _ = run_processes(jobs, limit=seconds + timeout + 30)
    return results
