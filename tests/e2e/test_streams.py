"""Dashboard streams (server-sent events) over real HTTP, on the session's real server: each is
scoped to its token's unit, ends within a second of its token being revoked, and is capped per
token (across processes) and per process; one poller per process reads the projections,
however many streams are open.

The app is served by a threaded werkzeug server on a loopback port (as in the page's browser
test); writes go through the test client and are projected by the ``catch_up`` fixture, so
each test decides when the projections move. Nothing mocks Redis.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import redis as redis_lib
from flask import Flask
from werkzeug.serving import make_server

from coordination.api import streams as hub
from coordination.api.app import create_app
from coordination.config import Config
from coordination.domain.access import Role
from coordination.store import keys

CLOSED = "closed"
LIDU = "gangwen/chenqiao/lidu"
HUAQIAO = "gangwen/chenqiao/huaqiao"


class Stream:
    """One ``GET /dashboard/stream`` over a raw HTTP/1.0 socket (no chunking: the body is the
    event text until the server closes)."""

    def __init__(self, base_url: str, secret: str, timeout: float = 5.0) -> None:
        url = urlsplit(base_url)
        self.sock = socket.create_connection((url.hostname, url.port), timeout=timeout)
        path = "/dashboard/stream?token=" + quote(secret)
        self.sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {url.netloc}\r\n\r\n".encode())
        self.raw = b""  # as received
        self.buffer = b""  # the body, chunked transfer decoded
        self.chunked = False
        self.closed = False
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.raw:
            assert self._recv(deadline), "no response head"
        head, _, self.raw = self.raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self._decode()

    def _recv(self, deadline: float) -> bool:
        """More bytes from the socket before the deadline; False on timeout or EOF."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return False
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self.raw += chunk
        return True

    def _decode(self) -> None:
        if not self.chunked:
            self.buffer, self.raw = self.buffer + self.raw, b""
            return
        while b"\r\n" in self.raw:
            size_line, _, rest = self.raw.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                self.closed, self.raw = True, b""
                return
            if len(rest) < size + 2:
                return
            self.buffer += rest[:size]
            self.raw = rest[size + 2 :]

    def _until(self, marker: bytes, deadline: float) -> bytes | None:
        """The body up to ``marker`` (consumed); None at the deadline or the end."""
        while marker not in self.buffer:
            if self.closed or not self._recv(deadline):
                return None
            self._decode()
        found, _, self.buffer = self.buffer.partition(marker)
        return found

    def body(self) -> Any:
        """The whole body of a refused stream, as JSON."""
        deadline = time.monotonic() + 5
        while not self.closed and time.monotonic() < deadline:
            self._until(b"\0", deadline)
        return json.loads(self.buffer)

    def next_event(self, timeout: float) -> dict[str, Any] | str | None:
        """The next event (``{"event", "id", "data"}``), CLOSED when the server ended the
        stream, or None if nothing came within ``timeout``; comments and ``retry:`` skipped."""
        deadline = time.monotonic() + timeout
        while True:
            block = self._until(b"\n\n", deadline)
            if block is None:
                return CLOSED if self.closed else None
            fields: dict[str, Any] = {}
            for line in block.decode().split("\n"):
                if line.startswith(":") or not line:
                    continue
                name, _, value = line.partition(": ")
                fields[name] = value
            if "event" in fields:
                fields["data"] = json.loads(fields["data"])
                return fields

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], str]]:
    """serve(app) -> base URL: the app on a threaded werkzeug server on a free loopback port."""
    running: list[tuple[Flask, Any, threading.Thread]] = []

    def start(app: Flask) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((app, server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for app, server, thread in running:
        hub.streams_stop(app).set()
        server.shutdown()
        thread.join(10)


@pytest.fixture
def streams() -> Iterator[Callable[..., Stream]]:
    """open(base_url, secret) -> Stream, closed after the test."""
    opened: list[Stream] = []

    def open_(base_url: str, secret: str) -> Stream:
        stream = Stream(base_url, secret)
        opened.append(stream)
        return stream

    yield open_
    for stream in opened:
        stream.close()


def token(app: Flask, role: Role, unit: str, name: str) -> tuple[str, str]:
    """A new token: (secret, token id)."""
    secret, created = app.extensions["coordination"].tokens.create(role, unit, name)
    return secret, created.id


def first_position(stream: Stream) -> dict[str, Any]:
    assert stream.status == 200, (stream.status, stream.buffer)
    event = stream.next_event(5)
    assert isinstance(event, dict) and event["event"] == "position", event
    return event


def test_the_first_event_says_where_the_projections_are(
    app: Flask, serve: Callable[[Flask], str], streams: Callable[..., Stream]
) -> None:
    base = serve(app)
    secret, _ = token(app, Role.VIEWER, LIDU, "screen@lidu")
    stream = streams(base, secret)
    assert stream.headers["content-type"].startswith("text/event-stream")
    event = first_position(stream)
    assert set(event["data"]) == {"partition", "generation", "position"}, event
    assert event["data"]["partition"] == "gangwen"
    assert event["id"] == str(event["data"]["position"])


def test_a_community_stream_is_woken_by_its_own_community_only(
    app: Flask,
    serve: Callable[[Flask], str],
    streams: Callable[..., Stream],
    http: Any,
    report_body: Callable[..., dict[str, Any]],
    catch_up: Callable[[], int],
) -> None:
    """Needs the projector's per-unit change hash (``keys.unit_changes``)."""
    base = serve(app)
    catch_up()  # the fixture's stock in every ledger (丽都's too) is projected before we watch
    lidu_secret, _ = token(app, Role.VIEWER, LIDU, "screen@lidu")
    district_secret, _ = token(app, Role.VIEWER, "gangwen", "screen@gangwen")
    lidu, district = streams(base, lidu_secret), streams(base, district_secret)
    first_position(lidu)
    first_position(district)

    # An order at 花桥, another community of the same street, handed down to it.
    elsewhere = http.ok(http.report("dispatcher@gangwen", report_body(place="花桥")), 201)
    http.ok(http.act("handler@gangwen/chenqiao", elsewhere["id"], "sign-for"))
    http.ok(http.act("handler@gangwen/chenqiao", elsewhere["id"], "hand-down"))
    catch_up()
    moved = district.next_event(3)
    assert isinstance(moved, dict), "the district's stream saw nothing of a change in it"
    assert lidu.next_event(1.5) is None, "丽都's stream was woken by a change at 花桥"

    # Then one handed down to 丽都 itself.
    here = http.ok(http.report("dispatcher@gangwen", report_body(place="丽都")), 201)
    http.ok(http.act("handler@gangwen/chenqiao", here["id"], "sign-for"))
    handed = http.ok(http.act("handler@gangwen/chenqiao", here["id"], "hand-down"))
    catch_up()
    event = lidu.next_event(3)
    assert isinstance(event, dict), "丽都's stream missed a change in 丽都"
    assert event["data"]["position"] >= handed["position"], (event, handed)


def test_a_stream_ends_within_a_second_of_its_token_being_revoked(
    app: Flask, serve: Callable[[Flask], str], streams: Callable[..., Stream]
) -> None:
    base = serve(app)
    secret, token_id = token(app, Role.VIEWER, "gangwen", "screen")
    stream = streams(base, secret)
    first_position(stream)
    assert stream.next_event(0.5) is None  # it stays open meanwhile
    revoked = time.monotonic()
    assert app.extensions["coordination"].tokens.revoke(token_id)
    assert stream.next_event(3) == CLOSED
    assert time.monotonic() - revoked < 1.5
    assert streams(base, secret).status == 401


def test_open_streams_per_token_are_capped_across_processes(
    app: Flask,
    redis_url: str,
    serve: Callable[[Flask], str],
    streams: Callable[..., Stream],
) -> None:
    """Two apps stand for two worker processes: the cap is kept in Redis, per token."""
    other = create_app(Config(redis_url=redis_url))
    base, other_base = serve(app), serve(other)
    cap = hub.STREAMS_PER_TOKEN
    secret, _ = token(app, Role.VIEWER, LIDU, "wall")
    opened = [streams(base if i % 2 else other_base, secret) for i in range(cap)]
    for stream in opened:
        first_position(stream)
    refused = streams(base, secret)
    assert refused.status == 429
    assert int(refused.headers["retry-after"]) > 0
    assert refused.headers["content-type"].startswith("application/json")
    body = refused.body()
    assert body["code"] == 429 and body["status"] == "Too Many Requests" and body["message"]
    # Another token is not held back by this one's streams.
    first_position(streams(base, token(app, Role.VIEWER, LIDU, "another")[0]))
    # A stream that ends gives its place back.
    opened[0].close()
    deadline = time.monotonic() + 20
    while True:
        again = streams(base, secret)
        if again.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    first_position(again)


def test_a_crashed_processs_streams_lapse(
    app: Flask,
    redis: redis_lib.Redis,
    serve: Callable[[Flask], str],
    streams: Callable[..., Stream],
) -> None:
    """Entries no process renews any more (it crashed) stop counting when they expire."""
    base = serve(app)
    secret, token_id = token(app, Role.VIEWER, LIDU, "wall")
    expiry = time.time() + 1.0
    redis.zadd(
        hub.stream_slots_key(token_id),
        {f"crashed-{i}": expiry for i in range(hub.STREAMS_PER_TOKEN)},
    )
    assert streams(base, secret).status == 429
    time.sleep(max(0.0, expiry - time.time()) + 0.2)
    first_position(streams(base, secret))


def test_open_streams_per_process_are_capped(
    app: Flask, serve: Callable[[Flask], str], streams: Callable[..., Stream]
) -> None:
    app.config["DASHBOARD_MAX_STREAMS"] = 2
    base = serve(app)
    for i in range(2):
        first_position(streams(base, token(app, Role.VIEWER, "gangwen", f"screen-{i}")[0]))
    refused = streams(base, token(app, Role.VIEWER, "gangwen", "one-too-many")[0])
    assert refused.status == 429
    assert refused.body()["code"] == 429


def commands(redis: redis_lib.Redis) -> int:
    """Commands the server has run so far (INFO commandstats)."""
    stats = redis.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values())


def test_one_poller_per_process_however_many_streams(
    app: Flask,
    redis: redis_lib.Redis,
    serve: Callable[[Flask], str],
    streams: Callable[..., Stream],
) -> None:
    """Many open streams cost the server about what one does: one poller reads for all."""
    base = serve(app)
    secrets = [token(app, Role.VIEWER, "gangwen", f"screen-{i}")[0] for i in range(4)]

    def commands_over(seconds: float) -> int:
        before = commands(redis)
        time.sleep(seconds)
        return commands(redis) - before - 1  # the INFO itself

    one = streams(base, secrets.pop())
    first_position(one)
    with_one = commands_over(2.0)
    many = [streams(base, s) for s in secrets for _ in range(hub.STREAMS_PER_TOKEN)]
    for stream in many:
        first_position(stream)
    with_many = commands_over(2.0)
    # Two reads per stream per 200 ms would be 2 * 12 * 10 = 240 more commands in 2 s.
    assert with_many - with_one < 60, (with_one, with_many)
    assert with_many < 150, with_many


def test_every_position_event_is_in_the_pages_format(
    app: Flask,
    serve: Callable[[Flask], str],
    streams: Callable[..., Stream],
    redis: redis_lib.Redis,
) -> None:
    """A rebuild (a new generation) is news to every stream."""
    base = serve(app)
    secret, _ = token(app, Role.VIEWER, LIDU, "screen")
    stream = streams(base, secret)
    first = first_position(stream)["data"]
    redis.set(keys.generation("gangwen"), first["generation"] + 1)
    event = stream.next_event(3)
    assert isinstance(event, dict), event
    assert event["event"] == "position"
    assert event["data"] == {
        "partition": "gangwen",
        "generation": first["generation"] + 1,
        "position": 0,
    }
