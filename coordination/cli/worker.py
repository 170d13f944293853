"""The RQ worker of ``make run`` and compose, which rides out store outages.

``rq worker`` quits when the server is briefly gone (a timeout, a heartbeat or a job's bookkeeping
failing on a dead connection, a server still loading its AOF). Here the same worker (a
``SimpleWorker``: jobs run in its own process) is started again with backoff after any such
exit, until it is asked to stop (SIGTERM or Ctrl-C, handled by RQ as a warm shutdown).
A job cut off by the outage is not lost work: catch-ups resume from the checkpoint, and the
periodic tick starts them again.

It logs at WARNING by default (RQ's worker writes a few INFO lines for every job, the periodic
tick's included: ~48 a minute when idle); ``--verbose`` or ``COORDINATION_LOG_LEVEL=info``
brings them back.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rq import Queue
from rq.serializers import JSONSerializer
from rq.worker import SimpleWorker

from coordination.config import Config
from coordination.store.connection import connect_rq

log = logging.getLogger(__name__)
BACKOFF_SECONDS = (0.2, 5.0)  # the first wait after an exit, and the longest


class Worker(SimpleWorker):
    """A SimpleWorker that remembers whether it was asked to stop."""

    stopping = False

    def request_stop(self, signum: Any, frame: Any) -> None:
        self.stopping = True
        super().request_stop(signum, frame)

    def unsubscribe(self) -> None:
        """RQ's, with a bounded wait. RQ polls its pubsub thread every 60 s, and redis-py 8's
        ``PubSubWorkerThread.stop()`` joins that thread without a timeout: a stop that caught
        it between two polls (unsubscribed, waiting to be subscribed again) sat out the 60 s
        (seen under load: a SIGTERMed worker still up 15 s later). The thread is a daemon."""
        if self.pubsub_thread:
            self.pubsub.unsubscribe()
            self.pubsub_thread._running.clear()  # what stop() does, without its join
            self.pubsub_thread.join(timeout=1)


def setup_logging(config: Config, verbose: bool = False) -> str:
    """Log to stderr at ``config.log_level`` (INFO with ``verbose``); the level's name."""
    level = "INFO" if verbose else config.log_level.upper()
    # A handler on the root logger: RQ then adds none of its own (rq.logutils
    # setup_loghandlers), and its records, the jobs' and ours all go through this one.
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return level


def run(config: Config, burst: bool = False, verbose: bool = False) -> None:
    """Work the queue until asked to stop; start again after any exit an outage caused."""
    level = setup_logging(config, verbose)
    wait, longest = BACKOFF_SECONDS
    while True:
        redis = connect_rq(config)
        started = time.monotonic()
        worker: Worker | None = None
        try:
            worker = Worker(
                [Queue(config.queue, connection=redis, serializer=JSONSerializer)],
                connection=redis,
                serializer=JSONSerializer,
            )
            worker.work(burst=burst, logging_level=level)  # RQ sets its loggers' level
        except Exception as exc:  # noqa: BLE001 - RQ's start-up and teardown need the store
            log.warning("the worker failed: %s", exc)
        finally:
            redis.close()
        if burst or (worker is not None and worker.stopping):
            return
        if time.monotonic() - started > 60:
            wait = BACKOFF_SECONDS[0]  # it had been working: a fresh outage
        log.warning("the worker exited (the store may be unavailable); again in %.1f s", wait)
        time.sleep(wait)
        wait = min(wait * 2, longest)
