"""Scenario c: the claim race at 丽都.

Orders are reported at 丽都花园 (routed to 陈桥), signed for and handed down to 丽都 by 陈桥's
handler. Staff members of 丽都 are registered through ``POST /staff`` (as 陈桥's handler) and
get field tokens (``TokenStore``). Then every field client loops ``claim-next`` and, in the
first variant, resolves what it got; it stops at its first 204. In the second ("hold") variant
nobody resolves, so claimed orders pile up above the unclaimed ones in the queue: claim-next
must still hand out every one.

Checked: every order claimed exactly once (the log's ``IncidentClaimed`` events), no two
clients handed the same order, and no 204 while a claimable order remained (a 204 is premature
when some order was claimed by a request sent after that 204 had been received, or when orders
are left unclaimed at the end).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.chaos.common import LIDU, client, order_body, parallel, read_log, statuses
from bench.chaos.http import Answer
from bench.chaos.report import Table
from bench.chaos.stack import Stack
from coordination.domain.access import Role
from coordination.domain.events import IncidentClaimed

RESOLVE = {"summary": "已上门处理", "signed_off_by": "丽都社区 李书记"}


@dataclass
class Claimer:
    staff_id: str
    token: str
    claims: list[tuple[str, Answer]] = field(default_factory=list)  # (incident id, answer)
    empty: list[Answer] = field(default_factory=list)  # 204s
    other: list[Answer] = field(default_factory=list)
    resolves: list[Answer] = field(default_factory=list)


def register_staff(stack: Stack, count: int, tag: str) -> list[Claimer]:
    http = client(stack, stack.tokens["demo-handler-chenqiao"])
    claimers = []
    for n in range(count):
        staff_id = f"chaos-{tag}-{n:03d}"
        body = {
            "staff_id": staff_id,
            "name": f"志愿者{n}",
            "unit": LIDU,
            "kind": "volunteer",
            "party_member": n % 3 == 0,
            "quarantine_trained": True,
        }
        answer = http.post("/staff", body)
        if answer.status != 201:
            raise RuntimeError(f"POST /staff: {answer.status} {answer.body[:300]!r}")
        secret, _ = stack.services().tokens.create(Role.FIELD, LIDU, staff_id)
        claimers.append(Claimer(staff_id, secret))
    return claimers


def stock_up(stack: Stack, count: int) -> None:
    """Masks for every delivery order among ``count``: each draws 10 from 丽都's stock when it
    is handed down (the catalogue is the one ``make run`` gives the district)."""
    handler = client(stack, stack.tokens["demo-handler-chenqiao"])
    body = {
        "unit": LIDU,
        "donor": {"kind": "company", "name": "chaos"},
        "received_by": "chaos",
        "items": [{"item": "口罩", "quantity": 10 * count}],
    }
    answer = handler.post("/supplies/donations", body)
    if answer.status != 201:
        raise RuntimeError(f"POST /supplies/donations: {answer.status} {answer.body[:300]!r}")


def hand_down(stack: Stack, count: int, tag: str) -> tuple[list[str], list[Answer]]:
    """``count`` orders handed down to 丽都; their ids and every answer that was not 2xx."""
    failures: list[Answer] = []
    local = threading.local()

    def one(n: int) -> str | None:
        if not hasattr(local, "dispatcher"):
            local.dispatcher = client(stack, stack.tokens["demo-dispatcher"])
            local.handler = client(stack, stack.tokens["demo-handler-chenqiao"])
        kind = "supply_delivery" if n % 2 else "work_order"
        answer = local.dispatcher.post("/incidents", order_body(f"chaos-{tag} {n}", kind=kind))
        if answer.status != 201:
            failures.append(answer)
            return None
        incident_id = answer.json()["id"]
        for action in ("sign-for", "hand-down"):
            answer = local.handler.post(f"/incidents/{incident_id}/{action}", {})
            if answer.status != 200:
                failures.append(answer)
                return None
        return str(incident_id)

    ids = parallel(12, list(range(count)), one)
    return [i for i in ids if i is not None], failures


def race(stack: Stack, claimers: list[Claimer], resolve: bool) -> float:
    path = f"/units/{LIDU}/queue/claim-next"

    def work(claimer: Claimer) -> None:
        http = client(stack, claimer.token, timeout=30.0)
        errors = 0
        while errors < 20:
            answer = http.post(path, {})
            if answer.status == 204:
                claimer.empty.append(answer)
                return
            if answer.status != 200:
                claimer.other.append(answer)
                errors += 1
                time.sleep(0.05)
                continue
            incident_id = answer.json()["id"]
            claimer.claims.append((incident_id, answer))
            if resolve:
                claimer.resolves.append(http.post(f"/incidents/{incident_id}/resolve", RESOLVE))

    started = time.monotonic()
    parallel(len(claimers), claimers, work)
    return time.monotonic() - started


def run(stack: Stack, table: Table, orders: int, clients: int, resolve: bool) -> None:
    tag = "c" if resolve else "c-hold"
    name = "c claim race" + ("" if resolve else " (hold)")
    claimers = register_staff(stack, clients, tag)
    started = time.monotonic()
    stock_up(stack, orders)
    ids, failures = hand_down(stack, orders, tag)
    setup = time.monotonic() - started
    table.add(
        name,
        f"orders handed down to 丽都 ({clients} staff registered)",
        f"{len(ids)}/{orders} in {setup:.0f} s"
        + (f"; refused: {statuses(failures)}" if failures else ""),
        ok=len(ids) == orders,
    )
    waited = stack.wait_caught_up(timeout=120)
    if waited is None:
        head, checkpoint = stack.lag()
        table.add(
            name, "projections caught up before the race", f"no: {checkpoint} of {head}", ok=False
        )
    elapsed = race(stack, claimers, resolve)
    wanted = set(ids)
    handed = Counter(i for c in claimers for i, _ in c.claims)
    in_log = Counter(
        e.stream
        for e in read_log(stack)
        if isinstance(e.event, IncidentClaimed) and e.stream in wanted
    )
    once = sum(1 for i in ids if in_log[i] == 1)
    table.add(name, "orders claimed exactly once (log)", f"{once}/{len(ids)}", ok=once == len(ids))
    twice = [i for i, n in handed.items() if n > 1] + [i for i, n in in_log.items() if n > 1]
    table.add(name, "orders handed to two clients", len(set(twice)), ok=not twice)
    never = sorted(wanted - set(in_log))
    sends = sorted(answer.sent for c in claimers for _, answer in c.claims)
    empties = [answer for c in claimers for answer in c.empty]
    # A 204 is premature if an order was claimed by a request sent after it was received.
    left = [sum(1 for sent in sends if sent > e.received) for e in empties]
    premature = sum(1 for n in left if n or never)
    table.add(
        name,
        "204 while claimable orders remained",
        f"{premature}/{len(empties)} 204s (orders still unclaimed then: up to "
        f"{max(left, default=0) + len(never)}); never claimed: {len(never)}",
        ok=premature == 0 and not never,
    )
    answers = [a for c in claimers for _, a in c.claims] + empties
    answers += [a for c in claimers for a in c.other]
    table.add(name, "claim-next answers", statuses(answers))
    if resolve:
        resolves = [a for c in claimers for a in c.resolves]
        table.add(
            name, "resolve answers", statuses(resolves), ok=all(a.status == 200 for a in resolves)
        )
    rate = len(handed) / elapsed if elapsed else 0
    table.add(name, f"total time, {clients} clients", f"{elapsed:.1f} s ({rate:.0f} claims/s)")
