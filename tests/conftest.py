"""Root fixtures: one real Redis-compatible server per test session, never a mock."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis as redis_lib
from redis.cluster import RedisCluster

from coordination.config import Config
from coordination.devtools.cluster import EmbeddedCluster
from coordination.devtools.embedded import EmbeddedServer
from coordination.store.connection import connect_cluster


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


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    """A real Valkey Cluster, 3 primaries with a replica each, from the same server binary,
    started once per session by the first test that asks for it (about 6 s)."""
    with EmbeddedCluster(tmp_path_factory.mktemp("cluster")) as started:
        yield started


@pytest.fixture
def cluster_redis(cluster: EmbeddedCluster) -> Iterator[RedisCluster]:
    """The store's cluster client (as ``REDIS_CLUSTER_URL`` makes it), every primary emptied."""
    client = connect_cluster(Config(redis_cluster_url=cluster.seeds))
    client.flushall(target_nodes=RedisCluster.PRIMARIES)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def store_client(redis_url: str) -> Callable[[], redis_lib.Redis]:
    """Makes another client of the store, for a test's threads and processes of their own
    (the cluster's suites make cluster clients instead)."""
    return lambda: redis_lib.Redis.from_url(redis_url, decode_responses=False)
