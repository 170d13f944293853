"""Starting a catch-up: an RQ job named by its dotted path, so nothing here imports workers/."""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

CATCH_UP = "workers.jobs.catch_up"
log = logging.getLogger(__name__)


class CatchUpTrigger:
    def __init__(self, redis: Redis, queue_name: str) -> None:
        self.queue = Queue(queue_name, connection=redis, serializer=JSONSerializer)

    def __call__(self, partition: str) -> None:
        """Enqueue a catch-up; if that fails the write still stands and the tick catches up."""
        try:
            self.queue.enqueue(
                CATCH_UP,
                partition,
                job_timeout=600,
                result_ttl=0,
                failure_ttl=7 * 86400,
                description=f"catch up {partition}",
            )
        except Exception:
            log.exception("could not enqueue a catch-up of %s; the periodic tick will", partition)
