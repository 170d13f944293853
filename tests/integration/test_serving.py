"""The API under a real gunicorn with the shipped configuration (coordination/gunicorn_conf.py),
on the session's real server: gunicorn's own errors in the project's JSON shape, no token
secret in its logs, and dashboard streams and slow clients that never starve a dispatcher.

Figures of how much better or worse are the flood bench's (``python -m bench.flood``); these
tests only assert that nothing times out.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import signal
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from shipped_gunicorn import HOST, Server, start_gunicorn, stop

from coordination import gunicorn_conf
from coordination.domain.access import Role
from coordination.store.tokens import TokenStore

REPORT = {
    "kind": "work_order",
    "category": "complaint",
    "title": "口罩价格过高",
    "place": "丽都",
    "reporter": {"name": "张三", "phone": "13812345678"},
}


@pytest.fixture(scope="module")
def served(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_gunicorn(redis_url, tmp_path_factory.mktemp("gunicorn"))
    try:
        yield server
    finally:
        stop(server)


@pytest.fixture
def store(redis: redis_lib.Redis) -> TokenStore:
    return TokenStore(redis)


def raw(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send bytes, read the answer until the server closes."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def parse(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
    }
    return int(lines[0].split()[1]), headers, body


def assert_json_error(answer: bytes, status: int) -> dict[str, Any]:
    code, headers, body = parse(answer)
    assert code == status, answer[:500]
    assert headers["content-type"] == "application/json", headers
    assert int(headers["content-length"]) == len(body), (headers, body)
    found: dict[str, Any] = json.loads(body)
    assert set(found) <= {"code", "status", "message", "errors"}, found
    assert found["code"] == status and found["status"] and found["message"], found
    return found


def test_gunicorns_own_errors_are_in_the_json_shape(served: Server) -> None:
    long_line = b"GET /healthz?" + b"a" * (gunicorn_conf.limit_request_line + 10) + b" HTTP/1.1"
    found = assert_json_error(raw(served.port, long_line + b"\r\nHost: x\r\n\r\n"), 414)
    assert found["status"] == HTTPStatus(414).phrase

    many = b"".join(b"X-H%d: v\r\n" % i for i in range(gunicorn_conf.limit_request_fields + 5))
    found = assert_json_error(raw(served.port, b"GET /healthz HTTP/1.1\r\n" + many + b"\r\n"), 431)
    assert found["status"] == HTTPStatus(431).phrase == "Request Header Fields Too Large"

    big = b"X-Big: " + b"v" * (gunicorn_conf.limit_request_field_size + 10) + b"\r\n"
    answer = raw(served.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
    assert_json_error(answer, 431)

    found = assert_json_error(raw(served.port, b"NOT A REQUEST\r\n\r\n"), 400)
    assert found["status"] == "Bad Request"


def test_no_token_secret_reaches_the_logs(served: Server, store: TokenStore) -> None:
    # The server (and so its access log) is the module's: read only what this test logs.
    logged_before = served.access_log.stat().st_size

    def logged_since() -> str:
        return served.access_log.read_bytes()[logged_before:].decode(errors="replace")

    secret, _ = store.create(Role.VIEWER, "gangwen", "wall")
    requests = [
        f"GET /healthz?x=1&token={secret} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        f"GET /dashboard/today HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {secret}\r\n"
        f"Referer: http://x/dashboard?token={secret}#top\r\nConnection: close\r\n\r\n",
        f"GET /dashboard/stream?token=nope{secret} HTTP/1.1\r\nHost: x\r\n"
        "Connection: close\r\n\r\n",
        # refused by gunicorn (400): its messages quote the request line, a header line
        f"GET /dashboard/stream?token={secret}\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
        f"GET /dashboard/today HTTP/1.1\r\nHost: x\r\nAuthorization Bearer {secret}\r\n\r\n",
    ]
    answers = [raw(served.port, request.encode()) for request in requests]
    assert_json_error(answers[-2], 400)
    assert_json_error(answers[-1], 400)
    assert not [answer for answer in answers if secret.encode() in answer]
    # Streams, the name of the parameter percent-encoded too: logged when they end.
    for query in (f"token={secret}", f"a=1&%74oken={secret}"):
        with socket.create_connection((HOST, served.port), timeout=5) as sock:
            sock.sendall(f"GET /dashboard/stream?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            received = b""
            while b"event: position" not in received:
                chunk = sock.recv(65536)
                assert chunk, received
                received += chunk
    deadline = time.monotonic() + 10
    while logged_since().count("/dashboard/stream") < 3:
        assert time.monotonic() < deadline, logged_since()
        time.sleep(0.2)
    logs = served.logs()
    assert secret not in logs, [line for line in logs.splitlines() if secret in line]
    assert secret.removeprefix("cdn_")[:12] not in logs
    assert "token=[redacted]" in logged_since()


def test_secrets_are_recognised_by_their_shape_too() -> None:
    from coordination.serving.redact import redact
    from coordination.store import tokens

    secret = tokens.PREFIX + "x" * 43
    assert tokens.PREFIX == "cdn_", "coordination/serving/redact.py knows the prefix"
    assert redact(f"Invalid HTTP Header: 'Authorization Bearer {secret}'") == (
        "Invalid HTTP Header: 'Authorization Bearer [redacted]'"
    )


def test_the_logger_redacts_every_atom_that_may_carry_a_secret() -> None:
    from gunicorn.config import Config as GunicornConfig

    from coordination.serving.accesslog import RedactingLogger

    secret = "cdn_s3cr3t-value"
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/dashboard/stream?token={secret}",
        "PATH_INFO": "/dashboard/stream",
        "QUERY_STRING": f"token={secret}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": f"http://x/dashboard?a=b&TOKEN={secret}",
        "HTTP_AUTHORIZATION": f"Bearer {secret}",
        "REMOTE_ADDR": "127.0.0.1",
    }

    class Response:
        status = "200 OK"
        sent = 10
        headers: list[tuple[str, str]] = []

    headers = [("AUTHORIZATION", f"Bearer {secret}"), ("REFERER", environ["HTTP_REFERER"])]
    logger = RedactingLogger(GunicornConfig())
    atoms = logger.atoms(Response(), headers, environ, timedelta(seconds=0.01))
    leaked = {k: v for k, v in atoms.items() if secret in str(v)}
    assert not leaked, leaked
    assert atoms["r"] == "GET /dashboard/stream?token=[redacted] HTTP/1.1"
    assert atoms["q"] == "token=[redacted]"
    assert atoms["f"] == "http://x/dashboard?a=b&TOKEN=[redacted]"


class Dribbler:
    """Slow clients: each connection gets one more byte every ``every`` seconds."""

    def __init__(self, every: float = 0.5) -> None:
        self.every = every
        self.socks: list[tuple[socket.socket, bytes]] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def add(self, sock: socket.socket, trickle: bytes) -> None:
        self.socks.append((sock, trickle))

    def run(self) -> None:
        i = 0
        while not self.stopped.wait(self.every):
            for sock, trickle in self.socks:
                with contextlib.suppress(OSError):
                    sock.send(trickle[i % len(trickle) : i % len(trickle) + 1])
            i += 1


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed the connection within ``seconds``, and what it sent."""
    sock.settimeout(seconds)
    data = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return False, data
        except ConnectionResetError:
            return True, data
        if not chunk:
            return True, data
        data += chunk
    return False, data


def open_stream(port: int, secret: str) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=5)
    sock.sendall(f"GET /dashboard/stream?token={secret} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert b" 200 " in sock.recv(65536).split(b"\r\n", 1)[0]
    return sock


def dispatcher_post(port: int, secret: str, timeout: float) -> float:
    """One ``POST /incidents``; its latency in seconds (a timeout fails the test)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        body = json.dumps(REPORT, ensure_ascii=False).encode()
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        conn.request("POST", "/incidents", body=body, headers=headers)
        response = conn.getresponse()
        assert response.status == 201, (response.status, response.read())
        response.read()
    finally:
        conn.close()
    return time.monotonic() - started


def test_streams_and_slow_clients_never_starve_a_dispatcher(
    served: Server, store: TokenStore
) -> None:
    from coordination.api.streams import STREAMS_PER_TOKEN

    dispatcher, _ = store.create(Role.DISPATCHER, "gangwen", "dispatcher")
    viewers = [store.create(Role.VIEWER, "gangwen/chenqiao/lidu", f"wall-{i}")[0] for i in range(5)]
    streams = [open_stream(served.port, v) for v in viewers for _ in range(STREAMS_PER_TOKEN)]
    dribbler = Dribbler()
    slow_headers, slow_bodies = [], []
    for _ in range(15):
        sock = socket.create_connection((HOST, served.port), timeout=5)
        sock.sendall(b"POST /incidents HTTP/1.1\r\nHost: x\r\n")
        dribbler.add(sock, b"X-Slow: still-typing\r\n")
        slow_headers.append(sock)
    for _ in range(15):
        sock = socket.create_connection((HOST, served.port), timeout=5)
        sock.sendall(
            b"POST /incidents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + dispatcher.encode() + b"\r\nContent-Length: 4000\r\n\r\n{"
        )
        dribbler.add(sock, b" ")
        slow_bodies.append(sock)
    started = time.monotonic()
    dribbler.thread.start()
    try:
        time.sleep(1.0)  # every slow client is in the middle of its request
        latencies = [dispatcher_post(served.port, dispatcher, timeout=1.0) for _ in range(10)]
        assert max(latencies) < 1.0, latencies

        header_timeout = gunicorn_conf.keepalive
        for sock in slow_headers:
            left = header_timeout + 2.0 - (time.monotonic() - started)
            closed, _ = closed_within(sock, max(left, 0.1))
            assert closed, "a client still sending its headers was not cut off"
        body_timeout = gunicorn_conf.request_body_timeout
        for sock in slow_bodies:
            left = body_timeout + 2.0 - (time.monotonic() - started)
            closed, answer = closed_within(sock, max(left, 0.1))
            assert closed, "a client still sending its body was not cut off"
            assert_json_error(answer, 408)
        assert dispatcher_post(served.port, dispatcher, timeout=1.0) < 1.0
    finally:
        dribbler.stopped.set()
        for sock in [*streams, *slow_headers, *slow_bodies]:
            sock.close()


def test_threaded_workers_bound_a_slow_body_too(redis_url: str, tmp_path: Path) -> None:
    """The body deadline holds on gunicorn's gthread worker as well (a watchdog, not
    gevent's timeout)."""
    config = tmp_path / "conf.py"
    config.write_text(
        "from coordination.gunicorn_conf import *  # noqa: F403\n"
        "from coordination.serving.hooks import serving_hook\n"
        "request_body_timeout = 1.0\n"
        "post_worker_init = serving_hook(request_body_timeout)\n"
    )
    server = start_gunicorn(
        redis_url,
        tmp_path / "gthread",
        "--worker-class",
        "coordination.serving.workers.ThreadWorker",
        "--threads",
        "4",
        "--workers",
        "1",
        config=f"file:{config}",
    )
    try:
        sock = socket.create_connection((HOST, server.port), timeout=5)
        sock.sendall(b"POST /incidents HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        closed, answer = closed_within(sock, 4.0)
        sock.close()
        assert closed
        assert_json_error(answer, 408)
        # gunicorn's own errors are JSON on this worker too.
        assert_json_error(raw(server.port, b"NOT A REQUEST\r\n\r\n"), 400)
    finally:
        stop(server)


def test_a_graceful_stop_ends_open_streams_instead_of_waiting_for_them(
    redis_url: str, tmp_path: Path, store: TokenStore
) -> None:
    secret, _ = store.create(Role.VIEWER, "gangwen", "wall")
    server = start_gunicorn(redis_url, tmp_path / "stop", "--workers", "1")
    try:
        sock = open_stream(server.port, secret)
        stopping = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        closed, _ = closed_within(sock, gunicorn_conf.graceful_timeout)
        sock.close()
        assert closed, "the stream outlived the worker's graceful stop"
        server.proc.wait(10)
        assert time.monotonic() - stopping < gunicorn_conf.graceful_timeout - 1
    finally:
        stop(server)
