"""Scenario d: open streams and slow clients must not starve a dispatcher's request.

First a baseline: one dispatcher POSTs /incidents, one after another, for a while; latency of
each, and timeouts (no answer within 5 s). Then the same while the API also holds many open
``/dashboard/stream?token=`` connections (server-sent events, read and discarded) and
slow-loris connections: half send their headers a line every 2 s and never finish them, half
send complete headers with a large ``Content-Length`` and then the body a byte every 2 s.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections import Counter
from urllib.parse import quote

from bench.chaos.common import client, order_body
from bench.chaos.http import raw_connect
from bench.chaos.report import Table, ms, percentile
from bench.chaos.stack import HOST, Stack
from coordination.domain.access import Role

TIMEOUT = 5.0
P99_LIMIT = 1.0  # seconds: a dispatcher's report answered within a second, flood or not


def dispatcher_run(stack: Stack, seconds: float, tag: str) -> tuple[list[float], int, int]:
    """(latencies of answered requests, timeouts, other failures) of sequential reports."""
    http = client(stack, stack.tokens["demo-dispatcher"], timeout=TIMEOUT)
    latencies: list[float] = []
    timeouts = failures = 0
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
        answer = http.post("/incidents", order_body(f"chaos-{tag} {n}"))
        if answer.status == 201:
            latencies.append(answer.elapsed)
        elif answer.status == 0 and "timed out" in answer.error:
            timeouts += 1
        else:
            failures += 1
        time.sleep(0.1)
    return latencies, timeouts, failures


class Flood(threading.Thread):
    """Holds the streams and the slow-loris connections, reopening any the server closes."""

    def __init__(self, stack: Stack, streams: int, slow: int, walls: list[str]) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.streams = streams
        self.slow = slow
        self.stop_event = threading.Event()
        self.selector = selectors.DefaultSelector()
        self.stream_ok: set[int] = set()  # sockets that got "HTTP/1.1 200"
        self.first_lines: Counter[str] = Counter()  # streams' status lines
        self.closed: Counter[str] = Counter()  # connections the server closed, by kind
        self.answered: set[int] = set()
        self.reopened = 0
        self.refused = 0
        self.kinds: dict[int, str] = {}  # "stream:<n>", "slow-headers", "slow-body"
        self.socks: dict[int, socket.socket] = {}
        self.pending: list[tuple[float, str]] = []  # (when, kind): reopened a second later
        # One viewer token per stream, as one per wall screen: a token may hold only a few.
        self.stream_requests = [
            (
                f"GET /dashboard/stream?token={quote(wall)} HTTP/1.1\r\nHost: {HOST}\r\n"
                "Accept: text/event-stream\r\n\r\n"
            ).encode()
            for wall in walls
        ]
        dispatcher = stack.tokens["demo-dispatcher"]
        self.slow_body_head = (
            f"POST /incidents HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {dispatcher}\r\n"
            "Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n"
        ).encode()

    def open(self, kind: str) -> None:
        try:
            sock = raw_connect(HOST, self.stack.port)
            if kind.startswith("stream"):
                sock.sendall(self.stream_requests[int(kind.split(":")[1])])
            elif kind == "slow-headers":
                sock.sendall(f"POST /incidents HTTP/1.1\r\nHost: {HOST}\r\n".encode())
            else:
                sock.sendall(self.slow_body_head + b"{")
            sock.setblocking(False)
        except OSError:
            self.refused += 1
            return
        self.socks[sock.fileno()] = sock
        self.kinds[sock.fileno()] = kind
        self.selector.register(sock, selectors.EVENT_READ)

    def close(self, fd: int) -> str:
        sock = self.socks.pop(fd)
        kind = self.kinds.pop(fd)
        self.stream_ok.discard(fd)
        self.answered.discard(fd)
        with contextlib.suppress(Exception):
            self.selector.unregister(sock)
        sock.close()
        return kind

    def start_all(self) -> None:
        for n in range(self.streams):
            self.open(f"stream:{n}")
        for n in range(self.slow):
            self.open("slow-headers" if n % 2 == 0 else "slow-body")

    def run(self) -> None:
        last_drip = time.monotonic()
        while not self.stop_event.is_set():
            for key, _ in self.selector.select(timeout=0.2):
                fd = key.fd
                try:
                    data = self.socks[fd].recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:  # closed by the server: open another of the same kind
                    self.reclose(fd)
                    continue
                if fd not in self.answered:
                    self.answered.add(fd)
                    kind = self.kinds.get(fd, "").split(":")[0]
                    line = data.split(b"\r\n", 1)[0].decode(errors="replace")
                    self.first_lines[f"{kind}: {line}"] += 1
                    if kind == "stream" and line.startswith("HTTP/1.1 200"):
                        self.stream_ok.add(fd)
            now = time.monotonic()
            due = [k for when, k in self.pending if when <= now]
            self.pending = [(when, k) for when, k in self.pending if when > now]
            for kind in due:
                self.open(kind)
            if time.monotonic() - last_drip >= 2.0:  # the slow ones send a little more
                last_drip = time.monotonic()
                for fd, kind in list(self.kinds.items()):
                    drip = {"slow-headers": b"X-Slow: 1\r\n", "slow-body": b" "}.get(kind)
                    if drip is None:
                        continue
                    try:
                        self.socks[fd].send(drip)
                    except OSError:
                        self.reclose(fd)

    def reclose(self, fd: int) -> None:
        """The server closed it: count it, and open another of its kind a second later."""
        self.reopened += 1
        kind = self.close(fd)
        self.closed[kind.split(":")[0]] += 1
        self.pending.append((time.monotonic() + 1.0, kind))

    def stop(self) -> None:
        self.stop_event.set()
        self.join(10)
        for fd in list(self.socks):
            self.close(fd)


def run(stack: Stack, table: Table, streams: int, slow: int, seconds: float) -> None:
    name = "d streams + slow clients"
    base, base_timeouts, base_failures = dispatcher_run(stack, seconds, "d-base")
    table.add(
        name,
        "baseline reports p50 / p99 (timeouts, failures)",
        f"{ms(percentile(base, 50))} / {ms(percentile(base, 99))} over {len(base)}"
        f" ({base_timeouts}, {base_failures})",
        ok=base_timeouts == 0 and base_failures == 0,
    )
    tokens = stack.services().tokens
    walls = [tokens.create(Role.VIEWER, "gangwen", f"chaos-wall-{n}")[0] for n in range(streams)]
    flood = Flood(stack, streams, slow, walls)
    flood.start_all()
    flood.start()
    try:
        time.sleep(2.0)
        lat, timeouts, failures = dispatcher_run(stack, seconds, "d-flood")
        connected = len(flood.stream_ok)
    finally:
        flood.stop()
    p99 = percentile(lat, 99)
    table.add(
        name,
        f"flood: {streams} streams + {slow} slow-loris connections",
        f"streams open with 200 at the end: {connected}/{streams}; closed by the server: "
        + (", ".join(f"{k} {n}" for k, n in sorted(flood.closed.items())) or "none")
        + f"; connects refused {flood.refused}; first answers: "
        + "; ".join(f"{k} x{n}" for k, n in sorted(flood.first_lines.items())),
    )
    table.add(
        name,
        "under flood reports p50 / p99 (timeouts, failures)",
        f"{ms(percentile(lat, 50))} / {ms(p99)} over {len(lat)} ({timeouts}, {failures})",
        ok=timeouts == 0 and failures == 0 and bool(lat) and p99 <= P99_LIMIT,
    )
