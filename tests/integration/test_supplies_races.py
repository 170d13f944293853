"""The log decides who gets the last box, and a crash never unbalances the books.

On the real server: many writers race for the same ledger at once, and processes that move
supplies are SIGKILLed at random moments; the ledgers, folded from the log, stay balanced and
never negative, and what a killed process left half done (a transfer in transit) is finished by
a successor.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import redis as redis_lib
from clock import Clock
from helpers_projection import CHENQIAO, LIDU, services
from supplies import ADMIN, seed_catalogue

from coordination.domain.access import Actor, Role
from coordination.domain.commands import (
    DispatchTransfer,
    HandDown,
    ReceiveDonation,
    ReceiveTransfer,
    SignFor,
)
from coordination.domain.supplies import InsufficientStock, Ledger, TransferDispatched
from coordination.domain.values import Contact, Donor, DonorKind, Kind, Line, SupplyItem

P = "gangwen"
HUAQIAO = "gangwen/chenqiao/huaqiao"
HANDLER = Actor("handler@gangwen/chenqiao", Role.HANDLER, CHENQIAO)
DONOR = Donor(DonorKind.COMPANY, "某公司")


def donate(svc: Any, unit: str, item: str, n: int) -> None:
    svc.supplies.execute(
        ADMIN, unit, ReceiveDonation(unit, DONOR, "库管员", items=(Line(item, n),))
    )


def ledgers(svc: Any) -> dict[str, Ledger]:
    """Every unit's ledger, folded from the log."""
    return {
        unit: svc.supplies.ledger(P, unit)
        for unit in svc.jurisdiction.units
        if svc.jurisdiction.district_of(unit) == P
    }


def assert_books_balance(found: dict[str, Ledger]) -> None:
    for unit, ledger in found.items():
        for item, stock in ledger.stock.items():
            assert stock.difference == 0, (unit, item, stock)
            for name in ("on_hand", "reserved", "available", "in_transit"):
                assert getattr(stock, name) >= 0, (unit, item, name, stock)
    # The district as a whole: what came in less what went out is on a shelf or on the road.
    for item in {i for ledger in found.values() for i in ledger.stock}:
        stocks = [ledger.of(item) for ledger in found.values()]
        came = sum(s.donated - s.issued - s.written_off for s in stocks)
        assert came == sum(s.on_hand + s.in_transit for s in stocks), item


def test_fifty_concurrent_hand_downs_for_ten_thermometers_exactly_ten_win(
    redis_url: str, redis: redis_lib.Redis
) -> None:
    svc = services(redis_url, redis, Clock(tick=timedelta(milliseconds=1)), stocked=False)
    seed_catalogue(svc)
    donate(svc, LIDU, "额温枪", 10)
    ids = []
    for i in range(50):
        fields = {
            "kind": Kind.SUPPLY_DELIVERY,
            "title": f"送额温枪 #{i}",
            "place": "丽都",
            "reporter": Contact("王女士", "13800000000"),
            "items": (SupplyItem("额温枪", 1),),
        }
        order = svc.incidents.report(ADMIN, fields).incident
        svc.incidents.execute(HANDLER, order.id, SignFor())
        ids.append(order.id)

    start = threading.Barrier(50)
    won: list[str] = []
    refused: list[InsufficientStock] = []
    other: list[BaseException] = []

    def hand_down(incident_id: str) -> None:
        start.wait()
        try:
            svc.incidents.execute(HANDLER, incident_id, HandDown(LIDU))
            won.append(incident_id)
        except InsufficientStock as exc:
            refused.append(exc)
        except BaseException as exc:  # noqa: BLE001 - anything else fails the test below
            other.append(exc)

    threads = [threading.Thread(target=hand_down, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not other, other
    assert len(won) == 10 and len(refused) == 40
    assert all(exc.available == {"额温枪": 0} for exc in refused)
    lidu = svc.supplies.ledger(P, LIDU)
    stock = lidu.of("额温枪")
    assert (stock.on_hand, stock.reserved, stock.available) == (10, 10, 0)
    assert sorted(lidu.reservations) == sorted(won)
    # The refused orders are still where they were: signed for at the street, not handed down.
    for incident_id in set(ids) - set(won):
        assert svc.incidents.load(ADMIN, incident_id)[0].unit == CHENQIAO


MOVER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timezone
    from coordination.bootstrap import build_services
    from coordination.config import Config
    from coordination.domain.access import Actor, Role
    from coordination.domain.commands import DispatchTransfer, ReceiveTransfer
    from coordination.domain.values import Line

    svc = build_services(Config(redis_url=sys.argv[1]), clock=lambda: datetime.now(timezone.utc))
    street = Actor("handler@gangwen/chenqiao", Role.HANDLER, "gangwen/chenqiao")
    units = ["gangwen/chenqiao/lidu", "gangwen/chenqiao/huaqiao"]
    n = 0
    while True:
        n += 1
        to = units[n % 2]
        sent = svc.supplies.execute(
            street, "gangwen/chenqiao", DispatchTransfer(to, (Line("口罩", 7), Line("额温枪", 1)))
        )
        got = 7 if n % 3 else 5
        svc.supplies.receive(
            street,
            ReceiveTransfer(sent.event.transfer_id, (Line("口罩", got), Line("额温枪", 1)),
                            "路上破损" if got < 7 else ""),
        )
        back = DispatchTransfer("gangwen/chenqiao", (Line("口罩", 1),))
        back = svc.supplies.execute(street, to, back)
        svc.supplies.receive(street, ReceiveTransfer(back.event.transfer_id))
        print(n, flush=True)
    """
)


def test_transfers_killed_half_way_leave_the_books_balanced_and_a_successor_finishes(
    redis_url: str, redis: redis_lib.Redis
) -> None:
    svc = services(
        redis_url, redis, lambda: datetime.now(UTC), stocked=False
    )  # the movers' clock too
    seed_catalogue(svc)
    donate(svc, CHENQIAO, "口罩", 100_000)
    donate(svc, CHENQIAO, "额温枪", 10_000)
    rng = random.Random(20200204)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    kills = 0
    for _ in range(8):
        mover = subprocess.Popen(
            [sys.executable, "-c", MOVER, redis_url], stdout=subprocess.PIPE, env=env
        )
        assert mover.stdout is not None
        assert mover.stdout.readline()  # it has moved supplies at least once
        time.sleep(rng.uniform(0.0, 0.3))
        mover.send_signal(signal.SIGKILL)
        mover.wait(timeout=10)
        kills += 1
        assert_books_balance(ledgers(svc))

    # Every transfer is received and settled both, or neither: never one without the other.
    found = ledgers(svc)
    transfers = {t.id: t for ledger in found.values() for t in ledger.transfers.values()}
    assert len(transfers) >= kills * 2
    for transfer in transfers.values():
        received = transfer.id in found[transfer.to_unit].received
        assert received == transfer.settled, transfer

    # The liveness twin: what a killed mover left on the road, a successor receives.
    pending = [t for t in transfers.values() if not t.settled]
    for transfer in pending:
        receiver = Actor("handler@gangwen/chenqiao", Role.HANDLER, CHENQIAO)
        svc.supplies.receive(receiver, ReceiveTransfer(transfer.id))
    found = ledgers(svc)
    assert_books_balance(found)
    assert all(s.in_transit == 0 for ledger in found.values() for s in ledger.stock.values())
    assert all(t.settled for ledger in found.values() for t in ledger.transfers.values())
    # Nothing a process did was lost or doubled: the masks are all somewhere.
    masks = [ledger.of("口罩") for ledger in found.values()]
    assert sum(s.on_hand for s in masks) == 100_000 - sum(s.written_off for s in masks)


def test_a_transfer_is_received_once_even_when_two_receive_it_at_once(
    redis_url: str, redis: redis_lib.Redis
) -> None:
    svc = services(redis_url, redis, Clock(tick=timedelta(milliseconds=1)), stocked=False)
    seed_catalogue(svc)
    donate(svc, CHENQIAO, "口罩", 100)
    sent = svc.supplies.execute(HANDLER, CHENQIAO, DispatchTransfer(HUAQIAO, (Line("口罩", 40),)))
    transfer_id = sent.event.transfer_id
    assert isinstance(sent.event, TransferDispatched)
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def receive() -> None:
        start.wait()
        try:
            svc.supplies.receive(HANDLER, ReceiveTransfer(transfer_id))
            outcomes.append("received")
        except Exception as exc:  # noqa: BLE001
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=receive) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert outcomes.count("received") == 1, outcomes
    assert set(outcomes) == {"received", "Conflict"}, outcomes
    huaqiao = svc.supplies.ledger(P, HUAQIAO).of("口罩")
    assert (huaqiao.on_hand, huaqiao.transferred_in) == (40, 40)
    assert_books_balance(ledgers(svc))
