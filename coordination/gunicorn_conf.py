"""How the API is served under gunicorn: ``gunicorn --config python:coordination.gunicorn_conf``.

One place for ``make run``, the image and compose, so that all three serve alike; the command
line adds only ``--bind`` (and, in the image, ``--access-logfile -``).

Liveness first: dashboard streams (server-sent events, open for minutes) and slow clients must
never starve a dispatcher's request. gunicorn's gevent worker serves each connection on a
greenlet, so neither holds one of a few threads (the gthread worker, 2 x 8 threads, was held by
18 streams or 20 slow clients; ``python -m bench.flood`` has the figures). Each phase of a
request has a bound:

* the wait for a request's headers (the first one's too): ``keepalive`` seconds, after which
  the gevent worker closes the connection;
* its body: ``request_body_timeout`` seconds from the end of the headers, then ``408``
  (coordination.serving.body, put in front of the app by ``post_worker_init``);
* its size: the request line and header limits below (gunicorn answers ``414``/``431``, and
  here in the API's JSON error shape), the body's ``MAX_CONTENT_LENGTH`` (the app's ``413``);
* connections per worker: ``worker_connections`` (half of them may be dashboard streams).
"""

from pathlib import Path
from typing import Any

from coordination.config import Config
from coordination.metrics import multiproc
from coordination.serving.hooks import serving_hook
from coordination.store.connection import ConfigError, check_settings

bind = "127.0.0.1:8000"
workers = 2
worker_class = "coordination.serving.green.GeventWorker"
worker_connections = 1000
# Under gevent, also the request header timeout: idle time plus the headers' arrival.
keepalive = 5
request_body_timeout = 10.0  # not a gunicorn setting: read by the hook below
# The longest request line the API needs is a list query with a cursor (~300 bytes); a
# stream's URL with its token is ~110. Headers: a browser sends ~15, none long.
limit_request_line = 2048
limit_request_fields = 50
limit_request_field_size = 4096
# Open streams would hold a graceful stop for 30 s; 5 s is enough for the rest.
graceful_timeout = 5
# One access line per request (JSON, or text on a terminal; route, status, duration, request
# id, token id), without token secrets (the dashboard stream's ``?token=``).
logger_class = "coordination.serving.accesslog.RedactingLogger"
wsgi_app = "coordination.api.app:create_app()"
post_worker_init = serving_hook(request_body_timeout)
# gunicorn's control socket (gunicornc) is one path under the home directory, shared by every
# copy on the machine: one stopping removes another's. Nothing here uses it.
control_socket_disable = True


# /metrics adds up every worker's counters (prometheus_client's multiprocess mode): the master
# names their shared directory before the first worker starts (the workers inherit it), empty.
_metrics_dirs: list[Path] = []  # one made here, removed on exit; not one the operator named


def on_starting(server: Any) -> None:
    # A store or RQ server that is not what the settings say stops here, named, rather than
    # as each worker's stack trace or the first request's 500.
    try:
        check_settings(Config.from_env())
    except (ConfigError, ValueError) as exc:
        server.log.error("%s", exc)
        raise SystemExit(1) from None
    folder, made = multiproc.prepare()
    if made:
        _metrics_dirs.append(folder)


def child_exit(server: Any, worker: Any) -> None:
    multiproc.mark_dead(worker.pid)


def on_exit(server: Any) -> None:
    while _metrics_dirs:
        multiproc.remove(_metrics_dirs.pop())
