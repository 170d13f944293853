"""End-to-end fixtures: the real Flask app on the session's real valkey server, and tokens.

Every test gets an emptied server (the root ``redis`` fixture flushes it), a fresh app bound to
it, and one bearer token per role and unit of the demo district. No RQ worker runs: reads of
incidents come from the projections, so the ``catch_up`` fixture does the catch-up job's work
synchronously before a read (``http.get`` does this). Nothing here mocks Redis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient
from supplies import stock_up
from units import CITY_FILE
from worker import RqWorker

from coordination.api.app import create_app
from coordination.config import Config
from coordination.domain.access import Actor, Role
from coordination.domain.values import StaffKind
from coordination.store import keys
from schemas.incidents import WrittenSchema

DISTRICT = "gangwen"

# label -> (role, unit); the label is how tests name a token.
TOKENS: dict[str, tuple[Role, str]] = {
    "dispatcher@gangwen": (Role.DISPATCHER, "gangwen"),
    "handler@gangwen/chenqiao": (Role.HANDLER, "gangwen/chenqiao"),
    "handler@gangwen/binjiang": (Role.HANDLER, "gangwen/binjiang"),
    "field@gangwen/chenqiao/lidu": (Role.FIELD, "gangwen/chenqiao/lidu"),
    "field@gangwen/chenqiao/huaqiao": (Role.FIELD, "gangwen/chenqiao/huaqiao"),
    "viewer@gangwen": (Role.VIEWER, "gangwen"),
    "viewer@gangwen/binjiang": (Role.VIEWER, "gangwen/binjiang"),
    "admin@gangwen": (Role.ADMIN, "gangwen"),
}

ERROR_KEYS = {"code", "status", "message", "errors"}


def log_length(redis: redis_lib.Redis, partition: str = DISTRICT) -> tuple[int, int]:
    """The partition's log length (XLEN) and its head position, to compare before and after."""
    xlen = int(redis.xlen(keys.log(partition)))
    head = int(redis.get(keys.head(partition)) or 0)
    return xlen, head


def bearer(secret: str) -> dict[str, str]:
    """The Authorization header for a token's secret."""
    return {"Authorization": f"Bearer {secret}"}


def assert_error(response: Any, status: int, *fields: str) -> dict[str, Any]:
    """The response is the one JSON error shape with this status; ``fields`` are named in it.

    A field is named when it is a key of ``errors[<location>]`` for some location
    (``json``, ``headers``, ``auth`` ...); a dotted name reaches into nested errors
    (``items.0.quantity``).
    """
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json", response.mimetype
    body = response.get_json()
    assert isinstance(body, dict), body
    assert set(body) <= ERROR_KEYS, body
    assert body["code"] == status, body
    assert isinstance(body["status"], str) and body["status"], body
    assert isinstance(body["message"], str) and body["message"], body
    if "errors" in body:
        assert isinstance(body["errors"], dict) and body["errors"], body
    for field in fields:
        assert _names(body.get("errors", {}), field), (field, body)
    return body


def _names(errors: dict[str, Any], dotted: str) -> bool:
    for by_field in errors.values():
        node: Any = by_field
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            return True
    return False


@pytest.fixture
def app(redis_url: str, redis: redis_lib.Redis) -> Flask:
    """The application on the session's server, emptied for this test."""
    application = create_app(Config(redis_url=redis_url), redis=redis)
    application.config["TESTING"] = True
    stock_up(application.extensions["coordination"])  # orders of masks draw on the ledgers
    return application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def city_app(redis_url: str, redis: redis_lib.Redis) -> Flask:
    """The application on the demo city's units file (``city.json``: 海城市 over 港闻区 and
    海韵区), on the session's server, emptied for this test."""
    application = create_app(Config(redis_url=redis_url, units_file=CITY_FILE), redis=redis)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def tokens(app: Flask) -> dict[str, str]:
    """label -> secret, one token per role and unit the tests act as."""
    store = app.extensions["coordination"].tokens
    return {label: store.create(role, unit, label)[0] for label, (role, unit) in TOKENS.items()}


@pytest.fixture
def register_staff(app: Flask) -> Callable[..., str]:
    """register_staff(staff_id, unit, name, quarantine_trained=False) -> staff_id: an active
    volunteer of ``unit``, registered by the district's admin.

    A claim needs the caller to be a registered staff member (a quarantine visit, one trained
    for it), and the caller is the token's name: the labels above. Those are no valid ids for
    ``POST /staff`` (no ``@`` or ``/`` there), so this registers through the staff service, as
    the demo set-up does; tests that exercise the endpoint itself use ids it takes.
    """
    staff = app.extensions["coordination"].staff
    admin = Actor("admin@gangwen", Role.ADMIN, DISTRICT)

    def register(staff_id: str, unit: str, name: str, *, quarantine_trained: bool = False) -> str:
        fields = {
            "staff_id": staff_id,
            "name": name,
            "unit": unit,
            "kind": StaffKind.VOLUNTEER,
            "quarantine_trained": quarantine_trained,
        }
        staff.register(admin, fields)
        return staff_id

    return register


@pytest.fixture
def auth(tokens: dict[str, str]) -> Callable[[str], dict[str, str]]:
    """auth("handler@gangwen/chenqiao") -> that token's Authorization header."""

    def header(label: str) -> dict[str, str]:
        return bearer(tokens[label])

    return header


@pytest.fixture
def expect_error() -> Callable[..., dict[str, Any]]:
    """expect_error(response, status, *fields): see ``assert_error``."""
    return assert_error


@pytest.fixture
def log_len(app: Flask, redis: redis_lib.Redis) -> Callable[..., tuple[int, int]]:
    """log_len() -> (XLEN of the gangwen log, head position) right now, counted from the log
    the test began with (the app's stock of supplies, appended before the test: see ``app``);
    log_len(absolute=True): as they are."""
    start_xlen, start_head = log_length(redis)

    def length(absolute: bool = False) -> tuple[int, int]:
        xlen, head = log_length(redis)
        if absolute:
            return xlen, head
        return xlen - start_xlen, head - start_head

    return length


@pytest.fixture
def report_body() -> Callable[..., dict[str, Any]]:
    """A valid report body for a kind (a consultation work order by default), overridable."""

    def body(kind: str = "work_order", **overrides: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": kind,
            "title": "居民反映问题",
            "description": "来电详情",
            "place": "丽都",
            "address": "丽都花园3栋201室",
            "priority": "normal",
            "epidemic": True,
            "reporter": {"name": "张三", "phone": "13812345678"},
        }
        if kind == "work_order":
            data["category"] = "consultation"
        if kind == "supply_delivery":
            data["items"] = [{"item": "口罩", "quantity": 50}]
        if kind == "quarantine_visit":
            data["person"] = {"name": "李四", "phone": "13987654321"}
        data.update(overrides)
        return data

    return body


@pytest.fixture
def catch_up(app: Flask) -> Callable[[], int]:
    """Do what the RQ catch-up job does, here and now: project the gangwen log to its head.

    Reads of incidents are served from the projections; no worker runs in these tests, so a
    test that reads calls this first (the helpers below do).
    """

    def run() -> int:
        applied: int = app.extensions["coordination"].projector.catch_up(DISTRICT)
        return applied

    return run


def as_documented(response: Any) -> Any:
    """A write's answer, checked: a 2xx body is exactly what ``WrittenSchema`` dumps of it (the
    API encodes the presented incident without dumping it through the schema): no field the
    schema does not declare, none of another type."""
    if 200 <= response.status_code < 300:
        body = response.get_json()
        assert WrittenSchema().dump(body) == body, body
    return response


class Http:
    """Thin helpers over the test client: report, act, get, each as a given token."""

    ACTIONS = ("dispatch", "sign-for", "return", "hand-down", "resolve", "return-visit", "close")

    def __init__(
        self,
        client: FlaskClient,
        auth: Callable[[str], dict[str, str]],
        catch_up: Callable[[], int],
    ) -> None:
        self.client = client
        self.auth = auth
        self.catch_up = catch_up

    def report(self, as_: str, body: dict[str, Any], **headers: str) -> Any:
        return as_documented(
            self.client.post("/incidents", json=body, headers={**self.auth(as_), **headers})
        )

    def act(self, as_: str, incident_id: str, action: str, body: Any = None, **headers: str) -> Any:
        assert action in self.ACTIONS, action
        return as_documented(
            self.client.post(
                f"/incidents/{incident_id}/{action}",
                json={} if body is None else body,
                headers={**self.auth(as_), **headers},
            )
        )

    def get(self, as_: str, incident_id: str, min_position: int | None = None) -> Any:
        """The incident as the projections show it, after the projector has caught up."""
        self.catch_up()
        query = {} if min_position is None else {"min_position": min_position}
        return self.client.get(
            f"/incidents/{incident_id}", query_string=query, headers=self.auth(as_)
        )

    def events(self, as_: str, incident_id: str) -> Any:
        return self.client.get(f"/incidents/{incident_id}/events", headers=self.auth(as_))

    def ok(self, response: Any, status: int = 200) -> dict[str, Any]:
        assert response.status_code == status, (
            response.status_code,
            response.get_data(as_text=True),
        )
        body: dict[str, Any] = response.get_json()
        return body


@pytest.fixture
def http(
    client: FlaskClient, auth: Callable[[str], dict[str, str]], catch_up: Callable[[], int]
) -> Http:
    return Http(client, auth, catch_up)


# A valid body for each action.
VALID_BODIES: dict[str, dict[str, Any]] = {
    "dispatch": {"unit": "gangwen/binjiang", "note": "改派"},
    "sign-for": {"note": "已签收"},
    "return": {"reason": "非本单位辖区"},
    "hand-down": {"note": "请社区上门"},
    "resolve": {"summary": "已处理完毕", "signed_off_by": "负责同志"},
    "return-visit": {"result": "satisfied"},
    "close": {"note": "三次回访未接通, 归档"},
}


@pytest.fixture
def valid_bodies() -> dict[str, dict[str, Any]]:
    """A fresh copy of a valid body per action."""
    return {action: dict(body) for action, body in VALID_BODIES.items()}


@pytest.fixture
def prepare(http: Http, report_body: Callable[..., dict[str, Any]]) -> Callable[..., str]:
    """prepare(state, place=..., kind=...) -> the id of a new incident in that state.

    The incident is reported by the district's dispatcher, signed for, handed down and resolved
    by its street's handler and called back (which closes it) by the dispatcher: each step
    through HTTP.
    """
    handlers = {
        "gangwen/chenqiao": "handler@gangwen/chenqiao",
        "gangwen/binjiang": "handler@gangwen/binjiang",
    }
    steps: list[tuple[str, str | None, str]] = [
        ("dispatched", None, ""),
        ("signed", "handler", "sign-for"),
        ("handed_down", "handler", "hand-down"),
        ("resolved", "handler", "resolve"),
        ("closed", "dispatcher@gangwen", "return-visit"),  # a satisfied call-back closes
    ]

    def at(state: str, place: str = "丽都", kind: str = "quarantine_visit") -> str:
        reported = http.ok(http.report("dispatcher@gangwen", report_body(kind, place=place)), 201)
        incident_id: str = reported["id"]
        handler = handlers.get(reported["incident"]["unit"], "admin@gangwen")
        if state == "returned":
            http.ok(http.act(handler, incident_id, "return", VALID_BODIES["return"]))
            return incident_id
        for reached, who, action in steps:
            if action:
                as_ = handler if who == "handler" else who
                written = http.ok(http.act(as_, incident_id, action, VALID_BODIES[action]))
                assert written["incident"]["status"] == reached, written
            if reached == state:
                return incident_id
        raise ValueError(f"no such state: {state}")

    return at


@pytest.fixture
def worker(redis: redis_lib.Redis, redis_url: str, tmp_path: Path) -> Iterator[RqWorker]:
    """A real ``rq worker`` subprocess draining the application's queue, one per test.

    SimpleWorker, not the default worker: RQ 3's default worker spawns a fresh Python for every
    job (posix_spawn + setpgroup), so each catch-up pays for importing and building the
    services again: about 80-100 ms a job against about 10 ms here, and a process group of its
    own per job that teardown would have to hunt down. SimpleWorker runs the job in the worker
    process itself (one process, one group, killed with one killpg).

    One per test, started after the ``redis`` fixture has flushed the server: a worker does
    survive FLUSHALL, but a catch-up still running from the previous test could then write its
    checkpoint into this test's emptied keyspace. Killing the worker (SIGKILL, reaped) before
    the next flush rules that out, at the cost of ~0.3 s of start-up per test.
    """
    started = RqWorker(redis_url, Config().queue, tmp_path / "worker.log").start()
    try:
        yield started
        failed = started.failed_jobs()
        assert not failed, f"jobs failed on the worker: {failed}\n{started.log_tail()}"
    finally:
        started.close()
