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

from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import (
    BusyLoadingError,
    ConnectionError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TimeoutError,
)
from redis.retry import Retry

from coordination.config import Config

# Replies of a server that is there but will not take writes now (out of memory, AOF/disk
# errors, a replica, a failover in progress): unavailable, not a bug.
REFUSALS = ("OOM ", "MISCONF ", "READONLY ", "MASTERDOWN ", "LOADING ", "TRYAGAIN ", "CLUSTERDOWN ")


def connect(config: Config) -> Redis:
    """A client of the configured server with the project's timeouts and retry policy."""
    retry = Retry(ExponentialBackoff(cap=0.05, base=0.01), 2, supported_errors=(ConnectionError,))
    return Redis.from_url(
        config.redis_url,
        socket_timeout=config.redis_timeout_seconds,
        socket_connect_timeout=config.redis_connect_timeout_seconds,
        retry=retry,
    )


def is_unavailable(exc: BaseException) -> bool:
    """Whether an error means the store cannot serve now (as opposed to a bug of ours)."""
    if isinstance(exc, ConnectionError | TimeoutError | BusyLoadingError | ReadOnlyError):
        return True
    return isinstance(exc, ResponseError) and str(exc).upper().startswith(REFUSALS)


__all__ = ["RedisError", "connect", "is_unavailable"]
