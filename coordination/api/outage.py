"""When the store cannot serve: 503 with Retry-After, and the truth about the write.

A write that failed before its append was sent was not recorded, and says so; one that failed
while its append was under way may or may not have been recorded, and says that, with the
idempotency key that settles it on a retry (the client's, or the one drawn for the request and
returned in the ``Idempotency-Key`` header of every write's answer).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, request
from redis.exceptions import RedisClusterException, RedisError

from coordination.api.errors import error_response
from coordination.store.connection import is_unavailable
from coordination.store.eventstore import WriteOutcomeUnknown

RETRY_AFTER_SECONDS = 1
log = logging.getLogger(__name__)


def register(app: Flask) -> None:
    @app.errorhandler(WriteOutcomeUnknown)
    def outcome_unknown(exc: WriteOutcomeUnknown) -> Any:
        log.warning("store failed during an append: %s", exc.__cause__)
        key = g.get("idempotency_key") or (exc.idempotency.key if exc.idempotency else "")
        message = (
            "The store did not confirm this write: it may or may not have been recorded. "
            f"Retry with the same Idempotency-Key ({key}) to learn which; it is never "
            "recorded twice."
        )
        problem = {"headers": {"Idempotency-Key": [f"retry with {key}"]}}
        return error_response(503, message, problem, _headers())

    @app.errorhandler(RedisClusterException)  # not a RedisError: a cluster's map being redrawn
    @app.errorhandler(RedisError)
    def store_error(exc: RedisError | RedisClusterException) -> Any:
        if not is_unavailable(exc):  # a bug of ours, not an outage
            log.exception("store error")
            return error_response(500, "Internal error.")
        log.warning("store unavailable: %s", exc)
        if request.method in ("GET", "HEAD", "OPTIONS"):
            message = "The store is unavailable; retry shortly."
        else:
            message = "The store is unavailable; nothing was written. Retry shortly."
        return error_response(503, message, None, _headers())

    @app.after_request
    def idempotency_key(response: Response) -> Response:
        if (key := g.get("idempotency_key")) is not None:
            response.headers.setdefault("Idempotency-Key", key)
        return response


def _headers() -> dict[str, str]:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if (key := g.get("idempotency_key")) is not None:
        headers["Idempotency-Key"] = key
    return headers
