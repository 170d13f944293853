"""When the store is down, hung or refusing writes: quick, honest 503s, and nothing doubled.

Each test runs its own server (the session's is shared and must stay up), stops, pauses or
kills it for real, and talks to the app through the Flask test client.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient

from coordination.api.app import create_app
from coordination.config import Config
from coordination.devtools.embedded import EmbeddedServer
from coordination.domain.access import Role
from coordination.store import keys

# The store's timeouts under test are the shipped defaults.
DEFAULTS = Config()
QUICK = DEFAULTS.redis_timeout_seconds + 0.5  # an answer within this, never the old ~5 s


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    own = EmbeddedServer(tmp_path / "redis").start()
    try:
        yield own
    finally:
        own.stop()
        if own.port is not None:  # restarted by hand in a test
            EmbeddedServer(tmp_path / "redis", port=own.port).stop()


@pytest.fixture
def outage_app(server: EmbeddedServer) -> Flask:
    app = create_app(Config(redis_url=server.url))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def dispatcher(outage_app: Flask) -> dict[str, str]:
    secret, _ = outage_app.extensions["coordination"].tokens.create(
        Role.DISPATCHER, "gangwen", "dispatcher@gangwen"
    )
    return bearer(secret)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def order(title: str = "居民反映小区门禁") -> dict[str, Any]:
    return {
        "kind": "work_order",
        "category": "complaint",
        "title": title,
        "place": "丽都",
        "reporter": {"name": "张三", "phone": "13812345678"},
    }


def timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_a_stopped_store_answers_503_at_once_and_says_nothing_was_written(
    server: EmbeddedServer, outage_app: Flask, dispatcher: dict[str, str], expect_error: Any
) -> None:
    client = outage_app.test_client()
    server.kill()
    response, took = timed(lambda: client.post("/incidents", json=order(), headers=dispatcher))
    body = expect_error(response, 503)
    assert "nothing was written" in body["message"]
    assert response.headers["Retry-After"] == "1"
    assert took < QUICK, took
    read, took = timed(lambda: client.get("/incidents", headers=dispatcher))
    assert "retry" in expect_error(read, 503)["message"]
    assert took < QUICK, took
    health, took = timed(lambda: client.get("/healthz"))
    assert health.status_code == 503 and health.get_json()["status"] == "unavailable"
    assert took < QUICK, took


def test_a_hung_store_answers_503_within_its_timeout_healthz_included(
    server: EmbeddedServer, outage_app: Flask, dispatcher: dict[str, str]
) -> None:
    client = outage_app.test_client()
    assert client.get("/healthz").status_code == 200
    assert server.pid is not None
    os.kill(server.pid, signal.SIGSTOP)
    try:
        for call in (
            lambda: client.get("/healthz"),
            lambda: client.get("/incidents", headers=dispatcher),
            lambda: client.post("/incidents", json=order(), headers=dispatcher),
        ):
            response, took = timed(call)
            assert response.status_code == 503, response.get_data(as_text=True)
            assert took < QUICK, took
    finally:
        os.kill(server.pid, signal.SIGCONT)
    assert client.get("/healthz").status_code == 200  # and it serves again at once


class ReplyLosingProxy:
    """A TCP proxy in front of the real server that, once armed, lets the next script call
    through to the server and loses the server's replies on that connection: the append
    lands, and the client never hears of it (a reply lost in the network)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.armed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            muted = threading.Event()
            threading.Thread(target=self._up, args=(client, upstream, muted), daemon=True).start()
            threading.Thread(target=self._down, args=(upstream, client, muted), daemon=True).start()

    def _up(self, client: socket.socket, upstream: socket.socket, muted: threading.Event) -> None:
        while data := _recv(client):
            if self.armed.is_set() and b"EVALSHA" in data.upper():
                self.armed.clear()
                muted.set()
            upstream.sendall(data)
        upstream.close()

    def _down(self, upstream: socket.socket, client: socket.socket, muted: threading.Event) -> None:
        while data := _recv(upstream):
            if not muted.is_set():
                client.sendall(data)
        client.close()

    def close(self) -> None:
        self.listener.close()


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def test_an_append_whose_reply_is_lost_is_unknown_and_its_retry_settles_it(
    server: EmbeddedServer, expect_error: Any
) -> None:
    assert server.port is not None
    proxy = ReplyLosingProxy(server.port)
    app = create_app(Config(redis_url=f"redis://127.0.0.1:{proxy.port}/0"))
    secret, _ = app.extensions["coordination"].tokens.create(Role.DISPATCHER, "gangwen", "d")
    dispatcher = bearer(secret)
    client = app.test_client()
    admin = redis_lib.Redis.from_url(server.url)
    assert client.post("/incidents", json=order("first"), headers=dispatcher).status_code == 201
    assert int(admin.get(keys.head("gangwen")) or 0) == 2

    proxy.armed.set()
    response, took = timed(
        lambda: client.post("/incidents", json=order("lost reply"), headers=dispatcher)
    )
    body = expect_error(response, 503, "Idempotency-Key")
    assert took < QUICK, took
    key = response.headers["Idempotency-Key"]
    assert key.startswith("auto-") and key in body["message"]
    assert "may or may not have been recorded" in body["message"]
    assert int(admin.get(keys.head("gangwen")) or 0) == 4, "it was recorded after all"

    retry = client.post(
        "/incidents", json=order("lost reply"), headers={**dispatcher, "Idempotency-Key": key}
    )
    assert retry.status_code == 201, retry.get_data(as_text=True)
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert int(admin.get(keys.head("gangwen")) or 0) == 4, "and not twice"
    admin.close()
    proxy.close()


def test_every_write_answer_carries_the_key_that_would_replay_it(
    outage_app: Flask, dispatcher: dict[str, str]
) -> None:
    client = outage_app.test_client()
    first = client.post("/incidents", json=order(), headers=dispatcher)
    assert first.status_code == 201
    key = first.headers["Idempotency-Key"]
    again = client.post("/incidents", json=order(), headers={**dispatcher, "Idempotency-Key": key})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    other = client.post("/incidents", json=order(), headers=dispatcher)
    assert (
        other.headers["Idempotency-Key"] != key and other.get_json()["id"] != first.get_json()["id"]
    )
    sent = client.post("/incidents", json=order(), headers={**dispatcher, "Idempotency-Key": "k-1"})
    assert sent.headers["Idempotency-Key"] == "k-1"


def test_a_store_killed_under_write_load_loses_no_acknowledged_order_and_tells_the_truth(
    tmp_path: Path,
    server: EmbeddedServer,
    outage_app: Flask,
    dispatcher: dict[str, str],
    request: pytest.FixtureRequest,
) -> None:
    """Eight clients post while the server is killed and restarted three times on the same
    data: every 201 is in the log, every answer is a 201 or an honest 503, and every unknown
    outcome is settled by retrying with its key, without a second copy."""
    port = server.port
    stop = threading.Event()
    results: list[tuple[int, str, str, str]] = []  # status, key, message, incident id
    lock = threading.Lock()

    def post_loop(n: int) -> None:
        client: FlaskClient = outage_app.test_client()
        i = 0
        while not stop.is_set():
            i += 1
            body = order(f"client {n} call {i}")
            response = client.post("/incidents", json=body, headers=dispatcher)
            data = response.get_json()
            with lock:
                results.append(
                    (
                        response.status_code,
                        response.headers.get("Idempotency-Key", ""),
                        data.get("message", ""),
                        data.get("id", "") + "|" + body["title"],
                    )
                )

    threads = [threading.Thread(target=post_loop, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    restarted = server
    try:
        for _ in range(3):
            time.sleep(0.7)
            restarted.kill()
            time.sleep(0.3)
            restarted = EmbeddedServer(tmp_path / "redis", port=port).start()
        time.sleep(0.7)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    request.addfinalizer(restarted.stop)  # the fixture stops only the first server

    statuses = {status for status, *_ in results}
    assert statuses <= {201, 503}, statuses
    assert 201 in statuses and 503 in statuses, "the kills fell between requests"
    store = outage_app.extensions["coordination"].store
    logged = {e.stream for e in store.read_partition("gangwen", count=100_000)}
    acked = {row[3].split("|")[0] for row in results if row[0] == 201}
    assert acked <= logged, "an acknowledged order was lost"
    client = outage_app.test_client()
    unknown = [row for row in results if row[0] == 503 and "may or may not" in row[2]]
    for _status, key, _message, tagged in unknown:
        title = tagged.split("|", 1)[1]
        retry = client.post(
            "/incidents", json=order(title), headers={**dispatcher, "Idempotency-Key": key}
        )
        assert retry.status_code == 201, retry.get_data(as_text=True)
    for _status, _key, message, _tagged in results:
        assert "nothing was written" in message or "may or may not" in message or not message
    nothing = {row[3].split("|", 1)[1] for row in results if "nothing was written" in row[2]}
    titles = [
        e.event.title
        for e in store.read_partition("gangwen", count=100_000)
        if type(e.event).__name__ == "IncidentReported"
    ]
    assert len(titles) == len(set(titles)), "an order was recorded twice"
    reported = {row[3].split("|", 1)[1] for row in results if row[0] == 201} | {
        row[3].split("|", 1)[1] for row in unknown
    }
    assert reported <= set(titles)
    assert not nothing & set(titles), "told 'nothing was written' of an order that was"
