"""The periodic tick: every few seconds, enqueue ``workers.jobs.tick`` (catch up what a lost
trigger missed, expire leases).

``rq cron`` would do, but RQ 3.0's cron enqueues with pickle whatever ``--serializer`` says,
and the workers read JSON only. Two schedulers may run: a slot key lets one tick through per
interval, and the tick is idempotent anyway.

It logs at WARNING by default; ``--verbose`` or ``COORDINATION_LOG_LEVEL=info`` adds a line for
each tick it enqueues.
"""

from __future__ import annotations

import logging
import threading

from redis.exceptions import RedisError
from rq import Queue
from rq.serializers import JSONSerializer

from coordination.cli.worker import setup_logging
from coordination.config import Config
from coordination.store import keys
from coordination.store.connection import connect_rq, is_unavailable

TICK = "workers.jobs.tick"
BACKOFF_SECONDS = (0.2, 5.0)  # the first wait while the store is unavailable, and the longest
log = logging.getLogger(__name__)


def run(config: Config, stop: threading.Event | None = None, verbose: bool = False) -> None:
    """Enqueue a tick every ``config.tick_seconds`` until ``stop`` is set; while the store
    is unavailable, try again with backoff instead of exiting."""
    setup_logging(config, verbose)
    stop = stop or threading.Event()
    redis = connect_rq(config)  # the tick's slot and the heartbeat live with RQ's queue
    queue = Queue(config.queue, connection=redis, serializer=JSONSerializer)
    interval = config.tick_seconds
    backoff = BACKOFF_SECONDS[0]
    log.info("a tick every %d s on the queue %s", interval, config.queue)
    while not stop.is_set():
        try:
            redis.set(keys.scheduler_heartbeat(), "1", ex=3 * interval)
            if redis.set(keys.tick_slot(), "1", nx=True, ex=interval):
                # A tick not started within a few intervals is dropped: a newer one follows.
                job = queue.enqueue(TICK, job_timeout=600, ttl=max(30, 3 * interval), result_ttl=60)
                log.info("enqueued the tick %s on %s", job.id, config.queue)
        except RedisError as exc:
            if not is_unavailable(exc):
                raise
            log.warning("store unavailable (%s); the tick again in %.1f s", exc, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, BACKOFF_SECONDS[1])
            continue
        backoff = BACKOFF_SECONDS[0]
        stop.wait(interval)
