"""The worker hook of coordination/gunicorn_conf.py: what gunicorn has no setting for.

``serving_hook(request_body_timeout)`` is a ``post_worker_init`` that, in each worker, once the
application is loaded:

* puts the request body deadline in front of it (coordination.serving.body), with the
  application's own ``MAX_CONTENT_LENGTH``;
* caps the dashboard streams one process holds open (``DASHBOARD_MAX_STREAMS``) by what the
  worker can hold without starving other requests: half its ``worker_connections`` for an
  asynchronous worker (gevent), half its threads otherwise (gthread; a sync worker, one thread,
  holds no stream at all);
* lets the streams know when the worker stops (``DASHBOARD_SERVING``): they end within a
  second, so that a graceful stop does not wait ``graceful_timeout`` for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def stream_cap(worker: Any) -> int:
    from gunicorn.workers.base_async import AsyncWorker

    if isinstance(worker, AsyncWorker):
        return max(1, int(worker.cfg.worker_connections) // 2)
    return int(worker.cfg.threads) // 2


def serving_hook(request_body_timeout: float) -> Callable[[Any], None]:
    def post_worker_init(worker: Any) -> None:
        from coordination.serving.body import BodyDeadline

        app = worker.wsgi
        config = getattr(app, "config", None)
        max_bytes = None
        if config is not None:
            config["DASHBOARD_MAX_STREAMS"] = stream_cap(worker)
            config["DASHBOARD_SERVING"] = lambda: bool(worker.alive)
            max_bytes = config.get("MAX_CONTENT_LENGTH")
        worker.wsgi = BodyDeadline(app, request_body_timeout, max_bytes)

    return post_worker_init
