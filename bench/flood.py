"""``python -m bench.flood``: can a dispatcher still report an order while the API holds many
dashboard streams and slow clients? (issue 8: liveness.)

On a private valkey server, with a real RQ worker projecting (so that streams have events to
send), the API runs under the shipped gunicorn configuration (coordination/gunicorn_conf.py)
twice: with its gevent worker, and with gunicorn's gthread worker (2 x 8 threads, what was
shipped before; ``--worker-class coordination.serving.workers.ThreadWorker``). For each, a
dispatcher's ``POST /incidents`` (open loop at ``--rate`` per second, a fresh connection each,
a 5 s timeout) is measured twice:

* quiet: nothing else going on;
* flood: ``--streams`` dashboard streams (viewer tokens spread over the district's units, a few
  per token: the per-token cap) and ``--slow`` slow-loris connections, half sending their
  headers and half their body one byte a second, each reconnecting as soon as the server
  closes it.

It prints, per worker and phase, the requests' p50/p99/max and timeouts, the streams the
server admitted (200), refused (429) or could not answer, the slow clients the server cut off
(and with which answer), the API's CPU, and the flood-to-quiet ratios. Only the standard
library drives the load: one thread with a selector for the flood, a thread pool for the
dispatcher's requests.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import math
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis

from bench.readside import RQ, SIMPLE_WORKER, RqWorker
from bench.run import BODY, UNIT  # the same report as the write benchmark's
from bench.servers import REPO_ROOT, Gunicorn, WorkerConfig, cpu_seconds
from coordination.api.streams import STREAMS_PER_TOKEN
from coordination.bootstrap import load_jurisdiction
from coordination.config import Config
from coordination.devtools.embedded import EmbeddedServer, free_port
from coordination.domain.access import Role
from coordination.store.tokens import TokenStore

TIMEOUT = 5.0  # a dispatcher's patience, as in the issue's reproduction
GTHREAD = "coordination.serving.workers.ThreadWorker"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.flood",
        description="A dispatcher's POST /incidents latency under the shipped gunicorn "
        "config, quiet and while dashboard streams and slow-loris clients flood it; gevent "
        "against gthread workers.",
    )
    p.add_argument("--quick", action="store_true", help="short phases (~1 min in all)")
    p.add_argument("--seconds", type=float, help="flood phase length (default 30; --quick 12)")
    p.add_argument("--quiet-seconds", type=float, help="quiet phase (default 15; --quick 5)")
    p.add_argument("--rate", type=float, default=5.0, help="dispatcher requests/s (default 5)")
    p.add_argument("--streams", type=int, default=200, help="dashboard streams (default 200)")
    p.add_argument("--slow", type=int, default=50, help="slow-loris connections (default 50)")
    p.add_argument(
        "--workers",
        default="gthread,gevent",
        help="worker kinds to measure, comma-separated: gthread, gevent (default both)",
    )
    p.add_argument("--threads", type=int, default=8, help="threads per gthread worker (8)")
    p.add_argument("--keep", action="store_true", help="keep the temporary data dir and logs")
    args = p.parse_args(argv)
    args.seconds = args.seconds or (12.0 if args.quick else 30.0)
    args.quiet_seconds = args.quiet_seconds or (5.0 if args.quick else 15.0)
    args.kinds = [k.strip() for k in args.workers.split(",") if k.strip()]
    unknown = set(args.kinds) - {"gthread", "gevent"}
    if unknown:
        p.error(f"unknown worker kinds: {', '.join(sorted(unknown))}")
    return args


# --- the API under the shipped configuration -------------------------------------------------


class ShippedGunicorn(Gunicorn):
    """gunicorn with ``--config python:coordination.gunicorn_conf``, as make run and the image
    start it; ``extra`` overrides (the worker class) come after it on the command line."""

    def __init__(self, kind: str, extra: list[str], workers: WorkerConfig, env: dict[str, str],
                 log_dir: Path) -> None:  # fmt: skip
        super().__init__("coordination.api.app:create_app()", workers, env, log_dir, "/healthz")
        self.kind = kind
        self.extra = extra
        self.log = log_dir / f"gunicorn-{kind}.log"

    def launch(self) -> None:
        self.port = free_port(self.host)
        path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, **self.env, "PYTHONPATH": path}
        args = [
            sys.executable, "-m", "gunicorn",
            "--config", "python:coordination.gunicorn_conf",
            "--bind", f"{self.host}:{self.port}",
            "--log-level", "warning",
            *self.extra,
        ]  # fmt: skip
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                args,
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )


# --- the dispatcher ---------------------------------------------------------------------------


@dataclass
class Probe:
    latencies_ms: list[float] = field(default_factory=list)
    timeouts: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def sent(self) -> int:
        return len(self.latencies_ms) + self.timeouts + sum(self.errors.values())

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return math.nan
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def post_incident(host: str, port: int, secret: str) -> tuple[str, float]:
    """One ``POST /incidents`` on a fresh connection: ("ok" | "timeout" | an error, ms)."""
    request = (
        f"POST /incidents HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {secret}\r\nContent-Length: {len(BODY)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + BODY
    started = time.monotonic()
    deadline = started + TIMEOUT
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
            sock.sendall(request)
            answer = b""
            while b"\r\n" not in answer:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                chunk = sock.recv(65536)
                if not chunk:
                    return "closed", 0.0
                answer += chunk
    except TimeoutError:
        return "timeout", 0.0
    except OSError as exc:
        return type(exc).__name__, 0.0
    status = answer.split(b"\r\n", 1)[0].split()[1].decode()
    elapsed = (time.monotonic() - started) * 1000
    return ("ok" if status == "201" else f"HTTP {status}"), elapsed


def probe(host: str, port: int, secret: str, rate: float, seconds: float) -> Probe:
    """Requests at ``rate`` per second for ``seconds`` (open loop: a slow answer does not
    delay the next request), each with a 5 s timeout."""
    result = Probe()
    count = max(1, int(rate * seconds))
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=int(rate * TIMEOUT) + 4) as pool:
        futures = []
        for i in range(count):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(post_incident, host, port, secret))
        for future in futures:
            outcome, ms = future.result()
            if outcome == "ok":
                result.latencies_ms.append(ms)
            elif outcome == "timeout":
                result.timeouts += 1
            else:
                result.errors[outcome] += 1
    return result


# --- the flood --------------------------------------------------------------------------------


@dataclass
class Conn:
    kind: str  # "stream", "slow-header" or "slow-body"
    sock: socket.socket
    trickle: bytes = b""
    received: bytes = b""
    status: str = ""
    next_send: float = 0.0


@dataclass
class FloodFigures:
    streams: Counter[str] = field(default_factory=Counter)  # by first answer: 200, 429...
    streams_ended: int = 0
    events: int = 0
    slow_cut: Counter[str] = field(default_factory=Counter)  # "slow-body 408", ...
    slow_connects: int = 0


class Flood:
    """Dashboard streams and slow clients against one server, from one selector thread."""

    def __init__(self, host: str, port: int, secrets: list[str], streams: int, slow: int,
                 dispatcher: str) -> None:  # fmt: skip
        self.host, self.port = host, port
        self.secrets = secrets
        self.n_streams, self.n_slow = streams, slow
        self.dispatcher = dispatcher
        self.sel = selectors.DefaultSelector()
        self.figures = FloodFigures()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="flood", daemon=True)

    def start(self) -> None:
        for i in range(self.n_streams):
            secret = self.secrets[i // STREAMS_PER_TOKEN % len(self.secrets)]
            request = f"GET /dashboard/stream?token={secret} HTTP/1.1\r\nHost: x\r\n\r\n"
            self._open("stream", request.encode())
        for i in range(self.n_slow):
            self._open_slow("slow-header" if i % 2 == 0 else "slow-body")
        self.thread.start()

    def _open(self, kind: str, first: bytes, trickle: bytes = b"") -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=TIMEOUT)
            sock.sendall(first)
        except OSError as exc:
            if kind == "stream":
                self.figures.streams[f"no connection ({type(exc).__name__})"] += 1
            return
        sock.setblocking(False)
        conn = Conn(kind, sock, trickle, next_send=time.monotonic() + 1.0)
        self.sel.register(sock, selectors.EVENT_READ, conn)
        if kind != "stream":
            self.figures.slow_connects += 1

    def _open_slow(self, kind: str) -> None:
        if kind == "slow-header":
            self._open(kind, b"POST /incidents HTTP/1.1\r\nHost: x\r\n", b"X-Slow: typing\r\n")
        else:
            head = (
                "POST /incidents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {self.dispatcher}\r\nContent-Length: 10000\r\n\r\n{{"
            )
            self._open(kind, head.encode(), b" ")

    def _run(self) -> None:
        while not self.stopped.is_set():
            for key, _ in self.sel.select(timeout=0.1):
                self._readable(key.data)
            now = time.monotonic()
            for key in list(self.sel.get_map().values()):
                conn: Conn = key.data
                if conn.trickle and now >= conn.next_send:
                    conn.next_send = now + 1.0
                    try:
                        conn.sock.send(conn.trickle[:1])
                        conn.trickle = conn.trickle[1:] + conn.trickle[:1]
                    except BlockingIOError:
                        pass
                    except OSError:
                        self._closed(conn)

    def _readable(self, conn: Conn) -> None:
        try:
            chunk = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._closed(conn)
            return
        if conn.kind == "stream":
            if not conn.status:
                conn.received += chunk
                if b"\r\n" in conn.received:
                    conn.status = conn.received.split(b"\r\n", 1)[0].split()[1].decode()
                    self.figures.streams[conn.status] += 1
                    conn.received = b""
            self.figures.events += chunk.count(b"event: position")
        else:
            conn.received += chunk

    def _closed(self, conn: Conn) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(conn.sock)
        conn.sock.close()
        if conn.kind == "stream":
            if conn.status == "200":
                self.figures.streams_ended += 1
            elif not conn.status:
                self.figures.streams["closed unanswered"] += 1
            return
        answer = conn.received.split(b"\r\n", 1)[0].split()
        status = answer[1].decode() if len(answer) > 1 else "closed"
        self.figures.slow_cut[f"{conn.kind} {status}"] += 1
        if not self.stopped.is_set():
            self._open_slow(conn.kind)  # a determined client comes straight back

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        for key in list(self.sel.get_map().values()):
            with contextlib.suppress(OSError):
                key.data.sock.close()
        self.sel.close()

    def open_now(self) -> Counter[str]:
        return Counter(key.data.kind for key in self.sel.get_map().values())


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Phase:
    kind: str
    name: str
    probe: Probe
    app_cpu_s: float
    seconds: float
    flood: FloodFigures | None = None
    open_at_end: Counter[str] | None = None


class FloodBench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="coordination-flood-"))
        self.valkey: EmbeddedServer | None = None
        self.worker: RqWorker | None = None
        self.servers: list[ShippedGunicorn] = []

    def progress(self, text: str) -> None:
        print(f"[flood {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def run(self) -> int:
        started = time.monotonic()
        try:
            phases = self._run()
        finally:
            self.progress("stopping gunicorn, the rq worker and valkey")
            for server in self.servers:
                server.stop()
            if self.worker is not None:
                self.worker.stop()
            if self.valkey is not None:
                self.valkey.stop()
            if self.args.keep:
                print(f"data and logs kept in {self.tmp}")
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        report(phases, self.args)
        print(f"\ntotal bench time {time.monotonic() - started:.0f} s")
        return 0

    def _run(self) -> list[Phase]:
        args = self.args
        self.progress(f"starting valkey and an rq worker in {self.tmp}")
        self.valkey = EmbeddedServer(self.tmp / "valkey").start()
        env = {"REDIS_URL": self.valkey.url}
        queue = Config.from_env({**os.environ, **env}).queue
        command = [RQ, "worker", "--url", self.valkey.url, "--serializer", "json"]
        self.worker = RqWorker(
            [*command, "--worker-class", SIMPLE_WORKER, queue], env, self.tmp / "rq.log"
        ).start()
        redis = Redis.from_url(self.valkey.url)
        store = TokenStore(redis)
        dispatcher, _ = store.create(Role.DISPATCHER, UNIT, "bench-dispatcher")
        units = sorted(load_jurisdiction(Config.from_env({**os.environ, **env})).units)
        n_tokens = max(1, math.ceil(args.streams / STREAMS_PER_TOKEN))
        viewers = [
            store.create(Role.VIEWER, units[i % len(units)], f"wall-{i}")[0]
            for i in range(n_tokens)
        ]
        phases: list[Phase] = []
        for kind in args.kinds:
            if kind == "gthread":
                extra = ["--worker-class", GTHREAD, "--threads", str(args.threads)]
                config = WorkerConfig(2, "gthread", args.threads)
            else:
                extra, config = [], WorkerConfig(2, "gevent")
            server = ShippedGunicorn(kind, extra, config, env, self.tmp)
            self.servers.append(server)
            self.progress(f"{kind}: starting gunicorn (shipped config {' '.join(extra)})")
            server.launch()
            server.wait_ready()
            post_incident(server.host, server.port, dispatcher)  # warm
            phases.append(self._phase(kind, "quiet", server, dispatcher, args.quiet_seconds))
            flood = Flood(server.host, server.port, viewers, args.streams, args.slow, dispatcher)
            self.progress(f"{kind}: opening {args.streams} streams and {args.slow} slow clients")
            flood.start()
            time.sleep(2.0)  # every slow client is mid-request, every stream has its answer
            phase = self._phase(kind, "flood", server, dispatcher, args.seconds)
            phase.open_at_end = flood.open_now()
            flood.stop()
            phase.flood = flood.figures
            phases.append(phase)
            server.stop()
            self.servers.remove(server)
        return phases

    def _phase(
        self, kind: str, name: str, server: ShippedGunicorn, secret: str, seconds: float
    ) -> Phase:
        self.progress(f"{kind}: {name}, {self.args.rate:g} requests/s for {seconds:g} s")
        pids = server.pids()
        cpu0 = cpu_seconds(pids)
        result = probe(server.host, server.port, secret, self.args.rate, seconds)
        return Phase(kind, name, result, cpu_seconds(pids) - cpu0, seconds)


def report(phases: list[Phase], args: argparse.Namespace) -> None:
    print(
        f"\nA dispatcher's POST /incidents at {args.rate:g}/s (fresh connection, "
        f"{TIMEOUT:g} s timeout), shipped gunicorn config, 2 workers; flood: {args.streams} "
        f"dashboard streams ({STREAMS_PER_TOKEN} per token) + {args.slow} slow-loris "
        "(half headers, half bodies, 1 byte/s, reconnecting)\n"
    )
    head = (
        f"{'worker':<16}{'phase':<7}{'sent':>6}{'ok':>6}{'timeout':>9}{'other':>7}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'API CPU s':>11}"
    )
    print(head)
    print("-" * len(head))
    for ph in phases:
        pr = ph.probe
        label = f"gthread 2x{args.threads}" if ph.kind == "gthread" else "gevent 2x1000"
        ok = len(pr.latencies_ms)
        top = max(pr.latencies_ms) if pr.latencies_ms else math.nan
        print(
            f"{label:<16}{ph.name:<7}{pr.sent:>6}{ok:>6}{pr.timeouts:>9}"
            f"{sum(pr.errors.values()):>7}{pr.p(0.5):>9.1f}{pr.p(0.99):>9.1f}{top:>9.1f}"
            f"{ph.app_cpu_s:>11.2f}"
        )
    print("\nThe flood, as the server answered it")
    for ph in phases:
        if ph.flood is None:
            continue
        fl = ph.flood
        streams = ", ".join(f"{k}: {v}" for k, v in sorted(fl.streams.items())) or "none"
        cut = ", ".join(f"{k}: {v}" for k, v in sorted(fl.slow_cut.items())) or "none"
        still = ", ".join(f"{k} {v}" for k, v in sorted((ph.open_at_end or {}).items()))
        print(f"  {ph.kind}: streams answered {streams}; {fl.events} position events")
        print(f"    slow clients cut off: {cut} ({fl.slow_connects} connections in all)")
        print(f"    still open at the end: {still or 'none'}")
        errors = ", ".join(f"{k}: {v}" for k, v in ph.probe.errors.items())
        if errors:
            print(f"    dispatcher errors: {errors}")
    print("\nFlood against quiet (ratio of latencies; timeouts of the flood phase)")
    by = {(ph.kind, ph.name): ph for ph in phases}
    for kind in args.kinds:
        quiet, flood = by.get((kind, "quiet")), by.get((kind, "flood"))
        if quiet is None or flood is None:
            continue
        ratios = []
        for q in (0.5, 0.99):
            a, b = quiet.probe.p(q), flood.probe.p(q)
            ratios.append(f"p{int(q * 100)} x{b / a:.2f}" if a and not math.isnan(b) else "n/a")
        sent = flood.probe.sent
        print(f"  {kind:<8} {', '.join(ratios)}; timed out {flood.probe.timeouts}/{sent}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return FloodBench(args).run()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"bench aborted: {exc}", file=sys.stderr)
        return 1


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
