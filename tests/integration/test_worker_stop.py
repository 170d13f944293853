"""A stopping ``coordination worker`` does not sit out RQ's pubsub poll.

RQ listens to its worker channel on a thread that polls every 60 s, and redis-py 8 joins that
thread without a timeout on stop: a SIGTERM that caught it between an unsubscribe and the next
poll held the warm shutdown for up to a minute (found by tests/integration/test_quiet_worker.py
under load). The race is made certain here: the thread has seen its unsubscribe and waits."""

from __future__ import annotations

import threading
import time

import redis as redis_lib
from rq import Queue
from rq.serializers import JSONSerializer

from coordination.cli.worker import Worker


def waiting_worker(redis: redis_lib.Redis) -> Worker:
    """A worker whose pubsub thread has processed an unsubscribe and waits to be subscribed."""
    queue = Queue("stop-test", connection=redis, serializer=JSONSerializer)
    worker = Worker([queue], connection=redis, serializer=JSONSerializer)
    worker.subscribe()
    deadline = time.monotonic() + 5
    while not worker.pubsub.subscribed:  # the thread reads the subscription's confirmation
        assert time.monotonic() < deadline, "never subscribed"
        time.sleep(0.01)
    worker.pubsub.unsubscribe()
    while worker.pubsub.subscribed:  # ... and then the unsubscription's
        assert time.monotonic() < deadline, "never unsubscribed"
        time.sleep(0.01)
    time.sleep(0.1)  # back in get_message: waiting (RQ: up to 60 s) to be subscribed again
    assert worker.pubsub_thread is not None and worker.pubsub_thread.is_alive()
    return worker


def test_unsubscribing_a_waiting_pubsub_thread_takes_a_second_at_most(
    redis: redis_lib.Redis,
) -> None:
    worker = waiting_worker(redis)
    started = time.monotonic()
    worker.unsubscribe()
    assert time.monotonic() - started < 2.5
    assert worker.pubsub_thread is not None and worker.pubsub_thread.daemon


def test_the_thread_it_leaves_behind_ends_with_its_poll(redis: redis_lib.Redis) -> None:
    """Not a leak: the daemon thread sees its cleared flag when its wait ends."""
    worker = waiting_worker(redis)
    worker.unsubscribe()
    thread = worker.pubsub_thread
    assert thread is not None
    assert not thread._running.is_set()
    assert thread in threading.enumerate()  # still in its wait: stop() would have blocked here
