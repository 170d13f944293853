"""Reads that wait for a position are bounded: in time, in number, and not at all for a
position the log has not reached, so that waiting readers cannot starve anyone else."""

from __future__ import annotations

import threading
import time

import pytest
import redis as redis_lib
from helpers_projection import ADMIN, P, report_fields, services

from coordination.projections.reads import NotYetVisible, PositionNotWritten, ReadModels


def test_a_position_beyond_the_log_is_refused_at_once(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    svc = services(redis_url, redis)
    written = svc.incidents.report(ADMIN, report_fields())
    svc.projector.catch_up(P)
    started = time.monotonic()
    with pytest.raises(PositionNotWritten) as refused:
        svc.reads.snapshot(P, 999_999_999)
    assert time.monotonic() - started < 0.1
    assert refused.value.head == written.position


def test_waiting_reads_past_the_limit_are_answered_at_once_and_the_rest_still_see_the_write(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    svc = services(redis_url, redis)
    position = svc.incidents.report(ADMIN, report_fields()).position  # not yet projected
    reads = ReadModels(redis, wait_seconds=1.0, max_waiting=2)
    outcomes: list[str] = []

    def wait() -> None:
        try:
            reads.snapshot(P, position)
            outcomes.append("read")
        except NotYetVisible:
            outcomes.append("refused")

    waiters = [threading.Thread(target=wait) for _ in range(2)]
    for waiter in waiters:
        waiter.start()
    time.sleep(0.1)  # both are waiting now
    started = time.monotonic()
    with pytest.raises(NotYetVisible):
        reads.snapshot(P, position)  # a third: no room to wait
    assert time.monotonic() - started < 0.1
    svc.projector.catch_up(P)
    for waiter in waiters:
        waiter.join(5)
    assert outcomes == ["read", "read"]
    assert reads.snapshot(P, position)[1] == position  # the slots were given back


def test_a_position_written_but_not_projected_is_waited_for_no_longer_than_configured(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    svc = services(redis_url, redis)
    position = svc.incidents.report(ADMIN, report_fields()).position  # no projector runs
    reads = ReadModels(redis, wait_seconds=0.3)
    started = time.monotonic()
    with pytest.raises(NotYetVisible) as refused:
        reads.snapshot(P, position)
    assert 0.3 <= time.monotonic() - started < 0.6
    assert refused.value.reached == 0
