"""The embedded server: free port, PING, durability across SIGKILL, clean stop."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import redis as redis_lib

from coordination.devtools.embedded import EmbeddedServer, find_server_binary, free_port


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_find_server_binary_is_executable() -> None:
    path = find_server_binary()
    assert os.access(path, os.X_OK)


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 0 < port < 65536


def test_starts_on_a_free_port_and_answers_ping(tmp_path: Path) -> None:
    with EmbeddedServer(tmp_path / "data") as server:
        assert server.port is not None
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        client = redis_lib.Redis.from_url(server.url)
        try:
            assert client.ping() is True
            assert client.config_get("appendonly")["appendonly"] == "yes"
            assert client.config_get("appendfsync")["appendfsync"] == "always"
        finally:
            client.close()
    assert list(tmp_path.iterdir()) == [tmp_path / "data"]


def test_value_survives_sigkill_and_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = EmbeddedServer(data_dir).start()
    port, pid = server.port, server.pid
    assert pid is not None
    client = redis_lib.Redis.from_url(server.url)
    client.set("k", b"v1")
    client.xadd("s", {"f": "1"}, id="1-0")
    client.close()

    server.kill()
    assert server.pid is None
    assert not _alive(pid)

    restarted = EmbeddedServer(data_dir, port=port).start()
    try:
        assert restarted.port == port
        client = redis_lib.Redis.from_url(restarted.url)
        assert client.get("k") == b"v1"
        assert client.xrange("s") == [(b"1-0", {b"f": b"1"})]
        client.close()
    finally:
        restarted.stop()


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "data").start()
    pid = server.pid
    assert pid is not None and _alive(pid)
    server.stop()
    assert server.pid is None
    assert not _alive(pid)
    assert server.port is not None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
    server.stop()  # idempotent


def test_session_fixture_serves_a_flushed_db(redis: redis_lib.Redis) -> None:
    assert redis.dbsize() == 0
    redis.set("x", b"1")
    assert redis.get("x") == b"1"


def test_taken_port_is_reported_not_mistaken_for_ours(tmp_path: Path) -> None:
    with EmbeddedServer(tmp_path / "a") as first:
        second = EmbeddedServer(tmp_path / "b", port=first.port)
        with pytest.raises(RuntimeError, match="did not start"):
            second.start(timeout=5)
        assert second.pid is None
