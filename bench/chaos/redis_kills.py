"""Scenario a: ``kill -9`` of the Redis server under write load, restarted on the same data.

Many clients POST /incidents, half with an ``Idempotency-Key`` and half without, each order
with a unique title. Meanwhile the server is killed (SIGKILL) and started again on the same
folder and port, over and over. Afterwards:

- every 201 is in the log (AOF ``appendfsync always``: nothing acknowledged is lost);
- no order is in the log twice; positions are 1..head without a gap;
- 5xx answers are counted by status (500 vs 503), 503s carry ``Retry-After``, and an answer
  that says nothing was written was not written (checked against the log before any retry);
- every 503 with an unknown outcome ("may or may not have been recorded") is reconciled: the
  request is sent again with its key (the one sent, or the ``Idempotency-Key`` the API returned
  for an un-keyed write) until it is answered 2xx, and then the order is in the log once.
"""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from bench.chaos.common import (
    UNKNOWN_OUTCOME,
    Loop,
    client,
    log_is_gapless,
    order_body,
    read_log,
    reported_titles,
    statuses,
)
from bench.chaos.http import Answer
from bench.chaos.report import Table
from bench.chaos.stack import Stack

PREFIX = "chaos-a "
CLAIMS_NOTHING = re.compile(r"nothing was written|not (been )?(recorded|written)", re.I)


@dataclass
class Attempt:
    title: str
    body: dict[str, Any]
    key: str | None  # the key sent
    answer: Answer

    @property
    def returned_key(self) -> str | None:
        return self.answer.headers.get("idempotency-key")

    @property
    def unknown(self) -> bool:
        return self.answer.status >= 500 or self.answer.status == 0


def run(stack: Stack, table: Table, kills: int, clients: int) -> None:
    name = "a redis kill -9"
    token = stack.tokens["demo-dispatcher"]
    attempts: list[Attempt] = []
    lock = threading.Lock()
    counters = [0] * clients

    def writer(n: int) -> Loop:
        http = client(stack, token, timeout=20.0)

        def step() -> None:
            counters[n] += 1
            title = f"{PREFIX}{n}-{counters[n]}"
            body = order_body(title)
            key = f"chaos-a-{n}-{counters[n]}" if n % 2 == 0 else None
            answer = http.post("/incidents", body, headers={"Idempotency-Key": key} if key else {})
            with lock:
                attempts.append(Attempt(title, body, key, answer))
            if answer.status == 0 or answer.status >= 500:
                time.sleep(0.05)  # do not spin while the server is down

        return Loop(step)

    loops = [writer(n) for n in range(clients)]
    for loop in loops:
        loop.start()
    downtimes = []
    rng = random.Random(8)
    try:
        time.sleep(2.0)
        for _ in range(kills):
            time.sleep(rng.uniform(1.0, 2.0))
            stack.server.kill()
            down = time.monotonic()
            time.sleep(rng.uniform(0.3, 1.0))
            stack.server.start(timeout=30)
            downtimes.append(time.monotonic() - down)
        time.sleep(2.0)
    finally:
        for loop in loops:
            loop.stop()
        for loop in loops:
            loop.join(30)
    # What the log holds before any retry: what a 5xx answer said can be checked against it.
    before = reported_titles(read_log(stack), PREFIX)
    answers = [a.answer for a in attempts]
    five = [a for a in attempts if a.answer.status >= 500]
    no_answer = [a for a in attempts if a.answer.status == 0]
    table.add(
        name,
        "server kills (down, restart included)",
        f"{len(downtimes)} (mean {sum(downtimes) / max(len(downtimes), 1):.2f} s)",
    )
    table.add(
        name,
        "writes sent (keyed / un-keyed)",
        f"{len(attempts)} ({sum(1 for a in attempts if a.key)} / "
        f"{sum(1 for a in attempts if not a.key)})",
    )
    table.add(name, "answers by status", statuses(answers))
    table.add(
        name,
        "500 answers",
        sum(1 for a in five if a.answer.status == 500),
        ok=not any(a.answer.status == 500 for a in five),
    )
    five03 = [a for a in five if a.answer.status == 503]
    with_retry = sum(1 for a in five03 if "retry-after" in a.answer.headers)
    table.add(
        name,
        "503 answers with Retry-After",
        f"{with_retry}/{len(five03)}",
        ok=with_retry == len(five03),
    )
    lies = [a for a in five if CLAIMS_NOTHING.search(a.answer.message) and a.title in before]
    table.add(
        name,
        "5xx saying nothing was written, yet written",
        f"{len(lies)}"
        + (f" (e.g. {lies[0].answer.status} {lies[0].answer.message!r})" if lies else ""),
        ok=not lies,
    )
    nothing = [a for a in five if CLAIMS_NOTHING.search(a.answer.message)]
    table.add(
        name,
        "5xx by what they say",
        f"nothing was written: {len(nothing)}; may or may not (unknown outcome): "
        f"{sum(1 for a in five if UNKNOWN_OUTCOME in a.answer.message)}; other: "
        f"{sum(1 for a in five if a not in nothing and UNKNOWN_OUTCOME not in a.answer.message)}",
    )
    # A write whose outcome is unknown needs a key to settle it: the client's, or one returned.
    unkeyed = [a for a in five if not a.key and a not in nothing]
    given_key = sum(1 for a in unkeyed if a.returned_key)
    table.add(
        name,
        "un-keyed 5xx of unknown outcome returning an Idempotency-Key",
        f"{given_key}/{len(unkeyed)}",
        ok=given_key == len(unkeyed),
    )
    table.add(name, "no answer (connection dropped or timed out)", len(no_answer), ok=None)
    # Reconcile: every unknown outcome with a key is sent again with it until it is answered.
    unknown_503 = [a for a in five03 if UNKNOWN_OUTCOME in a.answer.message]
    retried = reconcile(stack, token, [a for a in attempts if a.unknown])
    reconciled = sum(1 for a in unknown_503 if retried.get(id(a), (None, 0))[0] == "ok")
    table.add(
        name,
        "503 'unknown outcome' reconciled by a retry with its key",
        f"{reconciled}/{len(unknown_503)}",
        ok=reconciled == len(unknown_503),
    )
    other = [a for a in attempts if a.unknown and a not in unknown_503]
    table.add(
        name,
        "other 5xx/no answer reconciled (a key known)",
        f"{sum(1 for a in other if retried.get(id(a), (None, 0))[0] == 'ok')}/{len(other)}"
        f" ({sum(1 for a in other if not (a.key or a.returned_key))} had no key)",
    )
    # The log afterwards.
    after = reported_titles(read_log(stack), PREFIX)
    acknowledged = {a.title for a in attempts if a.answer.status == 201}
    acknowledged |= {a.title for a in attempts if retried.get(id(a), (None, 0))[0] == "ok"}
    lost = sorted(acknowledged - set(after))
    table.add(name, "acknowledged (201, first or on retry)", len(acknowledged))
    table.add(
        name,
        "acknowledged but not in the log (lost)",
        f"{len(lost)}" + (f" e.g. {lost[:3]}" if lost else ""),
        ok=not lost,
    )
    doubles = {t: ids for t, ids in after.items() if len(ids) > 1}
    table.add(
        name,
        "orders in the log twice (duplicates)",
        f"{len(doubles)}" + (f" e.g. {next(iter(doubles.items()))}" if doubles else ""),
        ok=not doubles,
    )
    gapless, detail = log_is_gapless(stack)
    table.add(name, "positions gapless", detail, ok=gapless)
    alive = [w.alive() for w in stack.workers] + [bool(stack.scheduler and stack.scheduler.alive())]
    table.add(
        name,
        "worker(s) and scheduler still running afterwards",
        f"{sum(alive)}/{len(alive)} (scenario e measures this)",
    )
    stray = sorted(set(after) - {a.title for a in attempts})
    table.add(name, "orders in the log nobody sent", len(stray), ok=not stray)


def reconcile(stack: Stack, token: str, unknown: list[Attempt]) -> dict[int, tuple[str, int]]:
    """id(attempt) -> ("ok" | "refused" | "no key" | "gave up", status) after retries."""
    http = client(stack, token, timeout=20.0)
    outcome: dict[int, tuple[str, int]] = {}
    for attempt in unknown:
        key = attempt.key or attempt.returned_key
        if key is None:
            outcome[id(attempt)] = ("no key", attempt.answer.status)
            continue
        result = ("gave up", 0)
        for _ in range(20):
            answer = http.post("/incidents", attempt.body, headers={"Idempotency-Key": key})
            if 200 <= answer.status < 300:
                result = ("ok", answer.status)
                break
            if 400 <= answer.status < 500:
                result = ("refused", answer.status)
                break
            time.sleep(0.5)
        outcome[id(attempt)] = result
    return outcome
