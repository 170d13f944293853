"""Scenario e: the worker and the scheduler ride out server restarts.

The server is killed (SIGKILL) and started again on the same data a few times, down a second
or two each time, while the worker and the scheduler run. Afterwards both must still be the same
processes, and a new order must be projected (the trigger, or the scheduler's tick) promptly.
"""

from __future__ import annotations

import signal
import time

from bench.chaos.common import client, order_body
from bench.chaos.report import Table
from bench.chaos.stack import WORKER_KINDS, Stack
from coordination.store import keys

CATCH_UP_SECONDS = 15.0  # a trigger, or at worst a tick (5 s) and a catch-up


def run(stack: Stack, table: Table, restarts: int) -> None:
    name = "e worker/scheduler survive restarts"
    worker = stack.live_workers()[0]
    scheduler = stack.scheduler
    assert scheduler is not None
    before = (worker.pid, scheduler.pid)
    # Beside it, the other command line (the plain ``rq worker`` when the stack runs
    # ``coordination worker``, and the other way round): shown, but only the stack's own
    # worker has a verdict (make run and compose run ``coordination worker``).
    other_kind = next(k for k in WORKER_KINDS if k != stack.worker_kind)
    other = stack.start_worker(other_kind)
    stack.wait_worker_registered(other)
    for n in range(restarts):
        stack.server.kill()
        time.sleep(1.0 + n % 2)  # 1 s, 2 s, 1 s ...
        stack.server.start(timeout=30)
        time.sleep(3.0)
    time.sleep(2.0)
    table.add(
        name,
        f"{stack.worker_kind} worker pid {before[0]} alive after {restarts} restarts",
        "yes" if worker.alive() else f"no (exit {worker.proc.returncode})",
        ok=worker.alive(),
    )
    table.add(
        name,
        f"{other_kind} worker pid {other.pid} (the other command line) alive",
        "yes" if other.alive() else f"no (exit {other.proc.returncode})",
    )
    table.add(
        name,
        f"scheduler pid {before[1]} alive after {restarts} restarts",
        "yes" if scheduler.alive() else f"no (exit {scheduler.proc.returncode})",
        ok=scheduler.alive(),
    )
    http = client(stack, stack.tokens["demo-dispatcher"])
    answer = http.post("/incidents", order_body("chaos-e after restarts"))
    if answer.status != 201:
        for _ in range(20):  # the API may still be reconnecting
            time.sleep(0.5)
            answer = http.post("/incidents", order_body("chaos-e after restarts"))
            if answer.status == 201:
                break
    if answer.status != 201:
        table.add(
            name, "a report after the restarts", f"{answer.status} {answer.message}", ok=False
        )
        return
    position = answer.json()["position"]
    waited = stack.wait_caught_up(timeout=60, position=position)
    table.add(
        name,
        "the projections caught up with a report afterwards",
        f"in {waited:.1f} s" if waited is not None else "not within 60 s",
        ok=waited is not None and waited <= CATCH_UP_SECONDS,
    )
    heartbeat = bool(stack.services().redis.exists(keys.scheduler_heartbeat()))
    if other.alive():
        other.kill(signal.SIGTERM)  # back to the stack's one worker
    stack.live_workers()
    table.add(
        name, "scheduler heartbeat present afterwards", "yes" if heartbeat else "no", ok=heartbeat
    )
