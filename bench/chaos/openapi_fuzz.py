"""Scenario f: schemathesis over ``/openapi.json`` against gunicorn, ≥ 10,000 requests.

The same engine and checks as ``tests/e2e/test_fuzz_openapi.py`` (``bench/chaos/fuzz.py``),
over HTTP to the stack's API with the demo admin and dispatcher tokens, and the real worker
projecting. Events appended meanwhile by others than those two (the scheduler's tick) are left
out of the accounting.
"""

from __future__ import annotations

from typing import Any

import requests
import schemathesis

from bench.chaos.common import client
from bench.chaos.fuzz import DISTRICT, Fuzzer, World, account_log, seed_world
from bench.chaos.report import Table
from bench.chaos.stack import HOST, Stack

SEED = 20200208


def run(stack: Stack, table: Table, requests_wanted: int) -> None:
    name = "f schemathesis"
    base = f"http://{HOST}:{stack.port}"
    admin, dispatcher = stack.tokens["demo-admin"], stack.tokens["demo-dispatcher"]
    services = stack.services()
    world = World.of_district([admin, dispatcher], lambda: services.store.head(DISTRICT))
    http = client(stack, timeout=30.0)

    def post(path: str, secret: str, body: dict[str, Any]) -> tuple[int, Any]:
        answer = http.post(path, body, token=secret)
        return answer.status, answer.json()

    seed_world(world, post, admin, dispatcher)
    baseline = services.store.head(DISTRICT)
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    session = requests.Session()

    def send(case: Any) -> Any:
        return case.call(base_url=base, session=session, timeout=30)

    # Over HTTP a far-off min_position costs the full read wait (2 s): point most at the head.
    fuzzer = Fuzzer(schema, world, send, seed=SEED, keep_min_position=0.05)
    report = fuzzer.run_until(requests_wanted)
    problems = account_log(
        services.store, baseline, report.writes, actors={"demo-admin", "demo-dispatcher"}
    )
    kinds = report.failures_by_kind()
    table.add(
        name,
        "requests (operations, seconds)",
        f"{report.requests} ({len(fuzzer.operations())} operations, {report.elapsed:.0f} s)",
        ok=report.requests >= requests_wanted,
    )
    table.add(
        name,
        "answers by status",
        ", ".join(f"{s or 'no answer'}: {n}" for s, n in sorted(report.statuses.items())),
    )
    table.add(
        name,
        "2xx writes (operations with one)",
        f"{sum(report.writes_2xx.values())} ({len(report.writes_2xx)})",
    )
    five = {s: n for s, n in report.statuses.items() if s >= 500 or s == 0}
    table.add(
        name,
        "5xx answers (or none)",
        ", ".join(f"{s}: {n}" for s, n in five.items()) or "0",
        ok=not five,
    )
    nonconforming = {k: n for k, n in kinds.items() if k != "Server error"}
    table.add(
        name,
        "answers not as documented (by check)",
        "; ".join(f"{k}: {n}" for k, n in sorted(nonconforming.items())) or "0",
        ok=not nonconforming,
    )
    table.add(
        name,
        "events not from a 2xx write",
        f"{len(problems)}" + (f": {problems[0]}" if problems else ""),
        ok=not problems,
    )
    (stack.logs / "fuzz-report.txt").write_text(
        report.summary(limit=400) + "\n" + "\n".join(problems)
    )
