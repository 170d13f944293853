"""claim-next keeps handing out work however many orders are claimed above the next one.

The projection keeps a community's claimable orders apart from its queue, so that pulling the
next one never steps over claimed ones; these tests fill a community with more orders than any
fixed window of the queue and drain it, alone and with many field workers at once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import redis as redis_lib
from clock import Clock
from helpers_projection import (
    ADMIN,
    LIDU,
    P,
    check_read_models,
    drive,
    register_volunteer,
    report_fields,
    services,
)

from coordination.bootstrap import Services
from coordination.domain.access import Actor, Role
from coordination.domain.commands import ResolveIncident
from coordination.domain.events import IncidentClaimed
from coordination.domain.incident import fold
from coordination.domain.values import Kind, Status
from coordination.projections.reads import NotYetVisible, PositionNotWritten


def hand_down_orders(svc: Services, clock: Clock, n: int) -> list[str]:
    """``n`` supply deliveries handed down to 丽都, a second apart; their ids."""
    ids = []
    for _ in range(n):
        clock.advance(seconds=1)
        written = svc.incidents.report(ADMIN, report_fields(Kind.SUPPLY_DELIVERY))
        drive(svc, written.incident.id, "sign", "hand_down")
        ids.append(written.incident.id)
    return ids


def claims_in_log(svc: Services) -> Counter[str]:
    """How many times each incident was claimed, from the log itself."""
    found: Counter[str] = Counter()
    after = 0
    while batch := svc.store.read_partition(P, after=after, count=5000):
        found.update(e.stream for e in batch if isinstance(e.event, IncidentClaimed))
        after = batch[-1].position
    return found


def test_one_worker_claims_all_205_orders_one_after_another(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    clock = Clock()
    svc = services(redis_url, redis, clock)
    actor = Actor(register_volunteer(svc, "vol-1", "李红"), Role.FIELD, LIDU)
    orders = hand_down_orders(svc, clock, 205)
    svc.projector.catch_up(P)
    claimed = []
    for _ in range(205):
        written = svc.watchers.claim_next(actor, LIDU)
        assert written is not None, f"nothing handed out after {len(claimed)} claims"
        claimed.append(written.incident.id)
        svc.projector.catch_up(P)
    assert sorted(claimed) == sorted(orders)
    assert svc.watchers.claim_next(actor, LIDU) is None
    # the oldest first: equal priority and deadline, so by age
    assert claimed == orders
    check_read_models(redis)


def test_claimed_orders_not_yet_projected_are_passed_over_for_one_still_free(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    clock = Clock()
    svc = services(redis_url, redis, clock)
    first = Actor(register_volunteer(svc, "vol-1", "李红"), Role.FIELD, LIDU)
    second = Actor(register_volunteer(svc, "vol-2", "王芳"), Role.FIELD, LIDU)
    orders = hand_down_orders(svc, clock, 30)
    svc.projector.catch_up(P)
    # the first worker takes 25 while no projector runs: the claimable set still lists them
    taken = [svc.watchers.claim_next(first, LIDU) for _ in range(25)]
    assert [w.incident.id for w in taken if w] == orders[:25]
    rest = [svc.watchers.claim_next(second, LIDU) for _ in range(5)]
    assert [w.incident.id for w in rest if w] == orders[25:]
    assert svc.watchers.claim_next(second, LIDU) is None
    assert set(claims_in_log(svc).values()) == {1}


def test_fifty_workers_claim_then_resolve_a_thousand_orders_each_claimed_once(
    store_client: Callable[[], Any], redis: redis_lib.Redis, redis_url: str
) -> None:
    clock = Clock()
    svc = services(redis_url, redis, clock)
    workers = [register_volunteer(svc, f"vol-{i}", f"志愿者{i}") for i in range(50)]
    orders = set(hand_down_orders(svc, clock, 1000))
    svc.projector.catch_up(P)
    done = threading.Event()
    premature: list[tuple[str, int]] = []
    resolved: list[str] = []
    lock = threading.Lock()

    def project() -> None:  # what the RQ worker does, as appends trigger it
        client = store_client()
        mine = services(redis_url, client, clock)
        while not done.is_set():
            mine.projector.catch_up(P)
            time.sleep(0.005)
        client.close()

    def field_worker(staff_id: str) -> None:
        client = store_client()
        mine = services(redis_url, client, clock)
        actor = Actor(staff_id, Role.FIELD, LIDU)
        try:
            while True:
                written = mine.watchers.claim_next(actor, LIDU)
                if written is None:
                    left = unclaimed_in_log(mine, orders)
                    if left:
                        with lock:
                            premature.append((staff_id, left))
                    return
                done_by = ResolveIncident("已送达", "丽都社区 李书记", by=staff_id)
                mine.incidents.execute(actor, written.incident.id, done_by)
                with lock:
                    resolved.append(written.incident.id)
        finally:
            client.close()

    projector = threading.Thread(target=project)
    projector.start()
    threads = [threading.Thread(target=field_worker, args=(w,)) for w in workers]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    done.set()
    projector.join()
    assert not any(t.is_alive() for t in threads), "a field worker is stuck"
    assert premature == [], "claim-next said nothing is left while orders were claimable"
    assert sorted(resolved) == sorted(orders)
    claims = claims_in_log(svc)
    assert set(claims) == orders and set(claims.values()) == {1}
    svc.projector.catch_up(P)
    check_read_models(redis)
    print(f"1,000 orders claimed and resolved by 50 workers in {time.monotonic() - started:.1f}s")


def unclaimed_in_log(svc: Services, orders: set[str]) -> int:
    """How many of ``orders`` are still claimable by the log (not its projections)."""
    states = [fold(e.event for e in svc.store.read_stream(P, i)) for i in orders]
    return sum(state.status is Status.HANDED_DOWN for state in states)


def test_claim_next_at_a_position_answers_from_projections_that_reached_it(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    """A 204 is only ever said of projections at or after the client's ``min_position``: one
    not yet there makes the client wait (bounded), never hear "nothing" about an old state."""
    clock = Clock()
    svc = services(redis_url, redis, clock)
    actor = Actor(register_volunteer(svc, "vol-1", "李红"), Role.FIELD, LIDU)
    svc.projector.catch_up(P)
    order = svc.incidents.report(ADMIN, report_fields(Kind.SUPPLY_DELIVERY)).incident.id
    handed = drive(svc, order, "sign", "hand_down")
    assert svc.watchers.claim_next(actor, LIDU) is None  # the projection has not seen it
    svc.reads.wait_seconds = 0.2
    with pytest.raises(NotYetVisible):
        svc.watchers.claim_next(actor, LIDU, min_position=handed.position)
    with pytest.raises(PositionNotWritten):
        svc.watchers.claim_next(actor, LIDU, min_position=handed.position + 1)
    svc.projector.catch_up(P)
    claimed = svc.watchers.claim_next(actor, LIDU, min_position=handed.position)
    assert claimed is not None and claimed.incident.id == order


def test_paging_the_claimable_set_while_claims_leave_it_steps_over_none(
    redis: redis_lib.Redis, redis_url: str
) -> None:
    """The set shrinks from the front while a claim-next reads it page by page (others' claims,
    projected meanwhile): the next page starts after the last order read, not at an offset."""
    clock = Clock()
    svc = services(redis_url, redis, clock)
    other = Actor(register_volunteer(svc, "vol-2", "王芳"), Role.FIELD, LIDU)
    orders = hand_down_orders(svc, clock, 30)
    svc.projector.catch_up(P)
    first, cursor = svc.reads.claimable(P, LIDU, None, 10)
    assert [v.incident.id for v in first] == orders[:10]
    for _ in range(15):  # someone else takes the first 15, and the projector sees it
        assert svc.watchers.claim_next(other, LIDU) is not None
    svc.projector.catch_up(P)
    second, cursor = svc.reads.claimable(P, LIDU, cursor, 10)
    assert [v.incident.id for v in second] == orders[15:25]
    third, cursor = svc.reads.claimable(P, LIDU, cursor, 10)
    assert [v.incident.id for v in third] == orders[25:]
    assert svc.reads.claimable(P, LIDU, cursor, 10) == ([], None)
