"""Time only moves forward in a stream, over HTTP: a write whose clock is behind the incident's
last event is a 409 in the one error shape, naming the problem, and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import redis as redis_lib
from clock import Clock

from coordination.api.app import create_app
from coordination.config import Config
from coordination.domain.access import Role

T = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Beijing


def test_a_write_dated_before_the_incidents_last_event_is_a_409_and_writes_nothing(
    redis_url: str,
    redis: redis_lib.Redis,
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    report_body: Callable[..., dict[str, Any]],
) -> None:
    clock = Clock(T)
    app = create_app(Config(redis_url=redis_url), redis=redis, clock=clock)
    client = app.test_client()
    tokens = app.extensions["coordination"].tokens
    dispatcher = {"Authorization": "Bearer " + tokens.create(Role.DISPATCHER, "gangwen", "d")[0]}
    handler = {"Authorization": "Bearer " + tokens.create(Role.HANDLER, "gangwen/chenqiao", "h")[0]}
    body = report_body(title="路灯不亮", epidemic=False)
    created = client.post("/incidents", json=body, headers=dispatcher)
    assert created.status_code == 201, created.get_json()
    incident = created.get_json()["id"]
    before = log_len()

    clock.now = T - timedelta(minutes=5)  # another clock, behind the one that wrote last
    refused = client.post(f"/incidents/{incident}/sign-for", json={}, headers=handler)
    error = expect_error(refused, 409)
    assert "time only moves forward" in error["message"], error
    assert incident in error["message"] and T.isoformat() in error["message"], error
    assert "errors" not in error  # no field of the request is at fault
    assert log_len() == before

    clock.now = T  # the same instant is not before it: the retry lands
    signed = client.post(f"/incidents/{incident}/sign-for", json={}, headers=handler)
    assert signed.status_code == 200, signed.get_json()
    assert signed.get_json()["version"] == 3
    assert log_len() == (before[0] + 1, before[1] + 1)
