"""Scenario b: SIGKILL of the projecting worker under mixed load, a successor started each time.

Load: dispatchers report orders at 永和佳苑, 陈桥's handler signs for and hands down what was
reported, readers read the queue and their own writes (``min_position``). Two workers run: the
one projecting (its RQ state busy, the projector lock held, when the kill can catch it so) is
killed with SIGKILL, a new one is started in its place, and the time until the live checkpoint
moves again is measured: the surviving worker should take over within about 2 s. Afterwards the
projections must equal a rebuild key by key.
"""

from __future__ import annotations

import queue
import time

from bench.chaos.common import CHENQIAO, Loop, client, order_body, statuses
from bench.chaos.http import Answer
from bench.chaos.projections import compare_with_rebuild
from bench.chaos.report import Table, percentile
from bench.chaos.stack import Stack

TAKEOVER_SECONDS = 2.0
PLACE = "永和佳苑"
YONGHE = "gangwen/chenqiao/yonghe"


def mixed_load(stack: Stack, answers: list[Answer], prefix: str) -> list[Loop]:
    """Reporters, a handler moving orders along, and readers; each a Loop."""
    reported: queue.Queue[str] = queue.Queue()
    positions = [0]
    counter = [0]

    def reporter() -> Loop:
        http = client(stack, stack.tokens["demo-dispatcher"])

        def step() -> None:
            counter[0] += 1
            # At 永和佳苑, so that what is handed down here is not in 丽都's queue (scenario c).
            answer = http.post("/incidents", order_body(f"{prefix} {counter[0]}", place=PLACE))
            answers.append(answer)
            if answer.status == 201:
                body = answer.json()
                reported.put(body["id"])
                positions[0] = max(positions[0], body["position"])

        return Loop(step, pause=0.02)

    def handler() -> Loop:
        http = client(stack, stack.tokens["demo-handler-chenqiao"])

        def step() -> None:
            try:
                incident_id = reported.get(timeout=0.5)
            except queue.Empty:
                return
            for action in ("sign-for", "hand-down"):
                answer = http.post(f"/incidents/{incident_id}/{action}", {})
                answers.append(answer)
                if answer.status != 200:
                    return

        return Loop(step, pause=0.01)

    def reader() -> Loop:
        http = client(stack, stack.tokens["demo-viewer"])

        def step() -> None:
            answers.append(http.get(f"/units/{CHENQIAO}/queue?limit=20"))
            answers.append(http.get(f"/units/{YONGHE}/queue/summary?min_position={positions[0]}"))

        return Loop(step, pause=0.05)

    return [reporter(), reporter(), reporter(), handler(), handler(), reader()]


def run(stack: Stack, table: Table, kills: int) -> None:
    name = "b worker SIGKILL"
    answers: list[Answer] = []
    # A second worker: the successor of whichever one is killed.
    stack.wait_worker_registered(stack.start_worker())
    loops = mixed_load(stack, answers, "chaos-b")
    for loop in loops:
        loop.start()
    takeovers: list[float] = []
    stalled = 0
    caught_holding = 0
    try:
        time.sleep(2.0)
        for _ in range(kills):
            victim = None
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:  # catch it projecting, if it can be caught
                if stack.projector_lock_held():
                    victim = stack.busy_worker()
                    if victim is not None:
                        break
                time.sleep(0.002)
            if victim is not None:
                caught_holding += 1
            else:
                victim = stack.live_workers()[0]
            victim.kill()
            killed = time.monotonic()
            _, checkpoint = stack.lag()  # where the victim left it
            successor = stack.start_worker()  # the restart; the other worker takes over now
            moved = None
            while time.monotonic() - killed < 60:
                head, now = stack.lag()
                if now > checkpoint:
                    moved = time.monotonic() - killed
                    break
                time.sleep(0.01)
            if moved is None:
                stalled += 1
            else:
                takeovers.append(moved)
            stack.wait_worker_registered(successor)
            time.sleep(0.5)
    finally:
        for loop in loops:
            loop.stop()
        for loop in loops:
            loop.join(30)
    table.add(name, "kills (caught holding the projector lock)", f"{kills} ({caught_holding})")
    table.add(name, "requests during the kills", statuses(answers))
    table.add(
        name,
        "projections moved again after a kill: p50 / max",
        f"{percentile(takeovers, 50):.2f} s / {max(takeovers, default=float('nan')):.2f} s"
        f" over {len(takeovers)}; stalled > 60 s: {stalled}",
        ok=stalled == 0 and max(takeovers, default=0) <= TAKEOVER_SECONDS,
    )
    waited = stack.wait_caught_up(timeout=60)
    head, checkpoint = stack.lag()
    table.add(
        name,
        "caught up with the head after the load",
        f"in {waited:.1f} s" if waited is not None else f"no: {checkpoint} of {head}",
        ok=waited is not None,
    )
    equal, detail = compare_with_rebuild(stack)
    table.add(name, "projections equal a rebuild, key by key", detail, ok=equal)
    for extra in stack.live_workers()[1:]:  # back to one worker, as make run has
        extra.kill()
