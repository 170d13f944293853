"""The gevent worker the API is served with (``worker_class`` of coordination/gunicorn_conf.py).

gunicorn's gevent worker serves each connection on a greenlet: a dashboard stream or a slow
client costs a greenlet and a socket, not one of a few threads, up to ``worker_connections``
per process. It bounds the wait for each request's headers (the first one too) by
``keepalive`` (gunicorn/workers/base_async.py, ``timeout_ctx``), and closes the connection
when that runs out; the body is bounded by the worker hook (coordination.serving.body).
"""

from __future__ import annotations

from gunicorn.workers.ggevent import GeventWorker as GunicornGeventWorker

from coordination.serving.workers import JsonErrors


class GeventWorker(JsonErrors, GunicornGeventWorker):  # type: ignore[misc]
    """gunicorn's gevent worker, its own errors in JSON."""
