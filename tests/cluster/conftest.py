"""The store's own suites again, on a real Valkey Cluster (3 primaries, a replica each): the
``redis`` fixture is the cluster client here, while ``redis_url`` stays the session's
standalone server, which holds RQ's queues (RQ does not run on a cluster). Workers started by
these tests find the cluster through ``REDIS_CLUSTER_URL`` and RQ through ``RQ_REDIS_URL``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis as redis_lib
from redis.cluster import RedisCluster

from coordination.config import Config
from coordination.devtools.cluster import EmbeddedCluster
from coordination.store.connection import connect_cluster

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS / "integration")]  # the suites imported from there, by name


@pytest.fixture(autouse=True)
def cluster_settings(
    cluster: EmbeddedCluster, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_CLUSTER_URL", cluster.seeds)
    monkeypatch.setenv("RQ_REDIS_URL", redis_url)


@pytest.fixture
def redis(cluster_redis: RedisCluster, redis_url: str) -> Iterator[RedisCluster]:
    """The cluster, emptied, and RQ's server emptied too."""
    with redis_lib.Redis.from_url(redis_url) as rq:
        rq.flushall()
    yield cluster_redis


@pytest.fixture
def store_client(cluster: EmbeddedCluster) -> Callable[[], RedisCluster]:
    return lambda: connect_cluster(Config(redis_cluster_url=cluster.seeds))
