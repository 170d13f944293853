"""The tick fence: no live deadline watch or lease expiry while the demo writes with its own
clock."""

from __future__ import annotations

import time as timer

from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from coordination.devtools.demo.errors import DemoRefused
from coordination.store import keys

TICK_JOB = "workers.jobs.tick"  # the scheduler's periodic job, by its dotted name
FENCE_SECONDS = 30  # the tick slot the demo holds lapses this long after a demo that died


class TickFence:
    """Holds the scheduler's tick slot while the demo writes with its own clock, so that no
    live tick (deadline watch, lease expiry, with the real clock) runs meanwhile and dates an
    event into a demo order between two of the demo's: ticks already queued are dropped (the
    next tick does the same work) and a running one is waited for."""

    def __init__(self, redis: Redis, queue: str) -> None:
        self.redis = redis
        self.queue = Queue(queue, connection=redis, serializer=JSONSerializer)
        self.renewed = 0.0

    def __enter__(self) -> TickFence:
        self.renew(force=True)
        for job in self.queue.get_jobs():
            if job.func_name == TICK_JOB:
                self.queue.remove(job.id)
        deadline = timer.monotonic() + FENCE_SECONDS
        while self._tick_running():
            if timer.monotonic() > deadline:
                raise DemoRefused(f"a tick has been running for {FENCE_SECONDS} s; try again")
            timer.sleep(0.05)
        return self

    def renew(self, force: bool = False) -> None:
        """Hold the slot a while longer (every few seconds of the demo's run)."""
        if force or timer.monotonic() - self.renewed > FENCE_SECONDS / 6:
            self.redis.set(keys.tick_slot(), "demo", ex=FENCE_SECONDS)
            self.renewed = timer.monotonic()

    def __exit__(self, *exc_info: object) -> None:
        self.redis.delete(keys.tick_slot())

    def _tick_running(self) -> bool:
        ids = StartedJobRegistry(queue=self.queue).get_job_ids()
        jobs = Job.fetch_many(ids, connection=self.redis, serializer=JSONSerializer)
        return any(job is not None and job.func_name == TICK_JOB for job in jobs)
