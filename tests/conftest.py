"""Root fixtures: one real Redis-compatible server per test session, never a mock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis as redis_lib

from coordination.devtools.embedded import EmbeddedServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """A private valkey/redis server on a free port, started once per session."""
    server = EmbeddedServer(tmp_path_factory.mktemp("redis-data"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: EmbeddedServer) -> str:
    """The URL of the session's server."""
    return redis_server.url


@pytest.fixture
def redis(redis_url: str) -> Iterator[redis_lib.Redis]:
    """A bytes client on an emptied server, closed after the test."""
    client = redis_lib.Redis.from_url(redis_url, decode_responses=False)
    client.flushall()
    try:
        yield client
    finally:
        client.close()
