"""The store's client: bounded timeouts, and retries only where a retry cannot double a write.

redis-py's default retries a command three times with backoff of up to seconds on any
connection error or timeout: a hung server then holds a request for ~5 s, and a retried append
whose first attempt landed could write twice. Here a command that times out is not retried
(the caller answers 503 quickly), and one whose connection broke is retried twice at once: a
pooled connection left over from before a server restart is replaced, and an append is safe to
send again because every append of the API carries an idempotency key (the script answers
"duplicate" if the first attempt landed) or an expected version (a landed first attempt makes
the retry a conflict, never a second copy).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.commands.core import Script
from redis.exceptions import (
    AskError,
    BusyLoadingError,
    ClusterCrossSlotError,
    ClusterError,
    ConnectionError,
    CrossSlotTransactionError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TimeoutError,
    TryAgainError,
)
from redis.retry import Retry

from coordination.config import Config, rq_url

# Replies of a server that is there but will not take writes now (out of memory, AOF/disk
# errors, a replica, a failover in progress): unavailable, not a bug.
REFUSALS = ("OOM ", "MISCONF ", "READONLY ", "MASTERDOWN ", "LOADING ", "TRYAGAIN ", "CLUSTERDOWN ")


SLOTS = 16384


class ConfigError(Exception):
    """The configured servers are not what the settings say: the message names the setting."""


def connect(config: Config) -> Redis:
    """A client of the store, the configured server or cluster, with the project's timeouts
    and retry policy; ``ConfigError`` if a cluster is configured and is not a sound one."""
    if config.redis_cluster_url:
        return connect_cluster(config)  # type: ignore[return-value]
    return Redis.from_url(
        config.redis_url,
        socket_timeout=_timeout(config),
        socket_connect_timeout=config.redis_connect_timeout_seconds,
        retry=_retry(),
    )


def connect_cluster(config: Config) -> RedisCluster:
    """redis-py's cluster client on the seed nodes of ``REDIS_CLUSTER_URL``, once the cluster
    is seen to be one and to serve every slot."""
    setting = f"REDIS_CLUSTER_URL={config.redis_cluster_url}"
    nodes = [_node(seed) for seed in config.redis_cluster_url.split(",") if seed.strip()]
    if not nodes:
        raise ConfigError(f"{setting}: no seed node (host:port, comma-separated)")
    try:
        client = RedisCluster(
            startup_nodes=nodes,
            socket_timeout=_timeout(config),
            socket_connect_timeout=config.redis_connect_timeout_seconds,
            retry=_retry(),
            require_full_coverage=True,
        )
    except (RedisError, RedisClusterException) as exc:  # not a cluster, slots unserved...
        raise ConfigError(f"{setting}: {_reason(exc)}") from exc
    for primary in client.get_primaries():
        info = client.cluster_info(target_nodes=primary)
        state, served = info.get("cluster_state"), int(info.get("cluster_slots_ok", 0))
        if state != "ok" or served != SLOTS:
            client.close()
            raise ConfigError(
                f"{setting}: the cluster is not whole ({primary.name} says cluster_state:{state},"
                f" {served} of {SLOTS} slots served)"
            )
    return client


def connect_rq(config: Config) -> Redis:
    """A client of RQ's server, which must be a standalone one (``ConfigError`` if it is a
    cluster node); whether it is up is not checked here (the worker rides out an outage)."""
    try:
        url = rq_url(config)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    client = Redis.from_url(
        url,
        socket_timeout=max(config.redis_timeout_seconds, 5.0),
        socket_connect_timeout=max(config.redis_connect_timeout_seconds, 1.0),
        retry=_retry(),
    )
    try:
        enabled = client.info("cluster").get("cluster_enabled")
    except (ConnectionError, TimeoutError):
        return client
    if enabled:
        client.close()
        setting = "RQ_REDIS_URL" if config.rq_redis_url else "REDIS_URL"
        raise ConfigError(
            f"{setting}={url} is a cluster node: RQ needs a standalone server of its own "
            "(rq/rq#1942, CROSSSLOT); set RQ_REDIS_URL to one"
        )
    return client


def check_settings(config: Config) -> None:
    """Connect as configured and let go: ``ConfigError`` naming the setting that is wrong (a
    cluster URL on a plain server, a cluster with slots unserved, RQ on a cluster node)."""
    if config.redis_cluster_url:
        connect_cluster(config).close()
    connect_rq(config).close()


def script_in(pipe: Any, script: Script, keys: list[Any], args: list[Any]) -> None:
    """Queue ``script`` in a pipeline. A cluster's pipeline does not load scripts on the node
    it sends them to (a plain one does), so there it goes as EVAL, with its text."""
    if isinstance(pipe, ClusterPipeline) and isinstance(script, Script):
        pipe.execute_command("EVAL", script.script, len(keys), *keys, *args)
    else:
        script(keys=keys, args=args, client=pipe)


def _timeout(config: Config) -> float:
    """How long a command may take: an append that waits for replicas takes up to the wait."""
    wait = config.wait_timeout_ms / 1000 + 0.5 if config.wait_replicas else 0.0
    return max(config.redis_timeout_seconds, wait)


def _retry() -> Retry:
    return Retry(ExponentialBackoff(cap=0.05, base=0.01), 2, supported_errors=(ConnectionError,))


def _node(seed: str) -> ClusterNode:
    seed = seed.strip()
    parts = urlsplit(seed if "://" in seed else f"redis://{seed}")
    return ClusterNode(parts.hostname or "127.0.0.1", parts.port or 6379)


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "Cluster mode is not enabled" in text:
        return "that server is not a cluster node (cluster mode is not enabled); use REDIS_URL"
    if "slots are not covered" in text:
        return f"the cluster does not serve every slot ({text})"
    return text


def is_unavailable(exc: BaseException) -> bool:
    """Whether an error means the store cannot serve now (as opposed to a bug of ours): on a
    cluster, a failover under way (slots moving, a primary down, the map being refreshed)."""
    if isinstance(exc, ConnectionError | TimeoutError | BusyLoadingError | ReadOnlyError):
        return True
    if isinstance(exc, ClusterError | AskError | TryAgainError | RedisClusterException):
        return not isinstance(exc, ClusterCrossSlotError | CrossSlotTransactionError)
    return isinstance(exc, ResponseError) and str(exc).upper().startswith(REFUSALS)


__all__ = [
    "ConfigError",
    "RedisError",
    "connect",
    "connect_cluster",
    "connect_rq",
    "check_settings",
    "script_in",
    "is_unavailable",
]
