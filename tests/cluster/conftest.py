"""The store's own suites again, on a real Valkey Cluster (3 primaries, a replica each): the
``redis`` fixture is the cluster client here, while ``redis_url`` stays the session's
standalone server, which holds RQ's queues (RQ does not run on a cluster). Workers started by
these tests find the cluster through ``REDIS_CLUSTER_URL`` and RQ through ``RQ_REDIS_URL``."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis as redis_lib
from _pytest.fixtures import FixtureFunctionDefinition
from redis.cluster import RedisCluster

from coordination.config import Config
from coordination.devtools.cluster import EmbeddedCluster
from coordination.store.connection import connect_cluster

TESTS = Path(__file__).resolve().parents[1]
# The suites imported from there, by name (and the end-to-end suite's helper modules).
sys.path[:0] = [str(TESTS / "integration"), str(TESTS / "e2e")]


def _e2e_fixtures() -> dict[str, object]:
    """The end-to-end suite's fixtures (its conftest, loaded under a name of its own), for its
    tests collected here: they take this directory's ``redis``, the cluster's."""
    spec = importlib.util.spec_from_file_location("e2e_fixtures", TESTS / "e2e" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {
        name: value
        for name, value in vars(module).items()
        if isinstance(value, FixtureFunctionDefinition) and name not in ("redis", "redis_url")
    }


globals().update(_e2e_fixtures())


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
