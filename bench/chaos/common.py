"""What the scenarios share: sizes, order bodies, reading the log, running threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from bench.chaos.http import Answer, Client
from bench.chaos.stack import DISTRICT, HOST, Stack
from coordination.domain.events import IncidentReported
from coordination.store import keys
from coordination.store.eventstore import StoredEvent

T = TypeVar("T")
R = TypeVar("R")

LIDU = "gangwen/chenqiao/lidu"
CHENQIAO = "gangwen/chenqiao"
UNKNOWN_OUTCOME = "may or may not have been recorded"


@dataclass(frozen=True)
class Sizes:
    redis_kills: int
    write_clients: int
    worker_kills: int
    claim_orders: int
    claim_clients: int
    hold_orders: int
    streams: int
    slow_clients: int
    flood_seconds: float
    restarts: int
    fuzz_requests: int

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        if quick:
            return cls(3, 8, 3, 100, 10, 250, 40, 10, 6.0, 2, 1000)
        return cls(20, 32, 20, 1000, 50, 1000, 200, 50, 20.0, 5, 10_000)


def order_body(title: str, place: str = "丽都花园", kind: str = "work_order") -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": kind,
        "title": title,
        "place": place,
        "address": f"{place} 3栋 502",
        "priority": "normal",
        "epidemic": False,
        "reporter": {"name": "王丽", "phone": "13800001234"},
    }
    if kind == "work_order":
        body["category"] = "consultation"
    if kind == "supply_delivery":
        body["items"] = [{"item": "口罩", "quantity": 10}]
    return body


def client(stack: Stack, token: str | None = None, timeout: float = 15.0) -> Client:
    return Client(HOST, stack.port, token=token, timeout=timeout)


def read_log(stack: Stack, after: int = 0) -> list[StoredEvent]:
    store = stack.services().store
    found: list[StoredEvent] = []
    while True:
        batch = store.read_partition(DISTRICT, after=after, count=2000)
        if not batch:
            return found
        found.extend(batch)
        after = batch[-1].position


def log_is_gapless(stack: Stack) -> tuple[bool, str]:
    """Positions 1..head each once, and the stream's length is the head."""
    redis = stack.services().redis
    head = int(redis.get(keys.head(DISTRICT)) or 0)
    xlen = int(redis.xlen(keys.log(DISTRICT)))
    positions = [e.position for e in read_log(stack)]
    ok = positions == list(range(1, head + 1)) and xlen == head
    detail = f"head {head}, {xlen} entries"
    if not ok:
        missing = sorted(set(range(1, head + 1)) - set(positions))[:5]
        detail += f", missing {missing}, out of order {positions != sorted(positions)}"
    return ok, detail


def reported_titles(events: Iterable[StoredEvent], prefix: str) -> dict[str, list[str]]:
    """title -> the incident ids reported with it (titles starting with ``prefix``)."""
    found: dict[str, list[str]] = {}
    for event in events:
        if isinstance(event.event, IncidentReported) and event.event.title.startswith(prefix):
            found.setdefault(event.event.title, []).append(event.stream)
    return found


def parallel(threads: int, items: list[T], work: Callable[[T], R]) -> list[R]:
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(work, items))


class Loop(threading.Thread):
    """A thread running ``step()`` until stopped (exceptions are kept, not raised)."""

    def __init__(self, step: Callable[[], None], pause: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.step = step
        self.pause = pause
        self.stopping = threading.Event()
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.step()
            except Exception as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.1)
            if self.pause:
                self.stopping.wait(self.pause)

    def stop(self) -> None:
        self.stopping.set()


def statuses(answers: Iterable[Answer]) -> str:
    counts: dict[int, int] = {}
    for answer in answers:
        counts[answer.status] = counts.get(answer.status, 0) + 1
    return ", ".join(f"{s or 'no answer'}: {n}" for s, n in sorted(counts.items())) or "none"
