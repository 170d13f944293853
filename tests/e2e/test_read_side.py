"""The read side end to end: writes through HTTP, a REAL RQ worker projecting, reads through HTTP.

No test here calls the projector: every append enqueues a catch-up job (deduplicated), the
worker subprocess runs it, and each read asks for the position the write returned
(``min_position``), waiting (bounded) until the worker's projection has reached it. So these
tests prove the whole loop: append -> trigger -> RQ -> projector -> queues -> HTTP reads.

The worker is ``rq worker --worker-class rq.worker.SimpleWorker`` (see ``worker`` below for
why), one per test, on the session's real valkey server.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib
from clock import Clock
from flask import Flask
from worker import RqWorker

from coordination.api.app import create_app
from coordination.config import Config
from coordination.domain.access import Role

DISTRICT = "gangwen"
STREET = "gangwen/chenqiao"
LIDU = "gangwen/chenqiao/lidu"
HUAQIAO = "gangwen/chenqiao/huaqiao"

D = "dispatcher@gangwen"
HC = "handler@gangwen/chenqiao"
HB = "handler@gangwen/binjiang"
FL = "field@gangwen/chenqiao/lidu"
FH = "field@gangwen/chenqiao/huaqiao"

RESOLVE = {"summary": "已上门处理", "signed_off_by": "负责同志"}
START = datetime(2020, 2, 10, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


# --- fixtures and helpers ---------------------------------------------------------------------


def ticking_clock() -> Clock:
    """A clock that moves one second each time it is read (so that every report has a time of
    its own and the queue's oldest-first order is certain) and jumps when told."""
    return Clock(START, tick=timedelta(seconds=1))


def make_app(
    redis_url: str, redis: redis_lib.Redis, clock: Clock | None = None, **settings: Any
) -> Flask:
    """Another application on the same server (and so the same tokens and log)."""
    application = create_app(Config(redis_url=redis_url, **settings), redis=redis, clock=clock)
    application.config["TESTING"] = True
    return application


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


class Api:
    """The HTTP calls these tests make, as a named token, through one app's test client."""

    def __init__(self, app: Flask, secrets: dict[str, str]) -> None:
        self.app = app
        self.client = app.test_client()
        self.secrets = secrets

    def on(self, app: Flask) -> Api:
        """The same tokens, through another application."""
        return Api(app, self.secrets)

    def add_token(self, label: str, role: Role, unit: str) -> str:
        """A new token named ``label`` (its name is the holder of what it claims)."""
        secret, _ = self.app.extensions["coordination"].tokens.create(role, unit, label)
        self.secrets[label] = secret
        return label

    def headers(self, as_: str) -> dict[str, str]:
        return bearer(self.secrets[as_])

    # raw calls

    def get(self, as_: str, url: str, **query: Any) -> Any:
        return self.client.get(url, query_string=query, headers=self.headers(as_))

    def post(self, as_: str, url: str, body: Any = None) -> Any:
        return self.client.post(url, json={} if body is None else body, headers=self.headers(as_))

    @staticmethod
    def ok(response: Any, status: int = 200) -> Any:
        assert response.status_code == status, (response.status_code, response.get_data(True))
        return response.get_json()

    # writes: each returns what the write answered, with its position

    def report(self, body: dict[str, Any], as_: str = D) -> tuple[str, int]:
        written = self.ok(self.post(as_, "/incidents", body), 201)
        return written["id"], written["position"]

    def act(self, as_: str, incident_id: str, action: str, body: Any = None) -> dict[str, Any]:
        written: dict[str, Any] = self.ok(
            self.post(as_, f"/incidents/{incident_id}/{action}", body)
        )
        assert written["id"] == incident_id
        return written

    def handed_down_to_lidu(self, body: dict[str, Any]) -> tuple[str, int]:
        """Report at 丽都 (dispatched to its street), sign for it and hand it down to lidu."""
        incident_id, _ = self.report(body)
        self.act(HC, incident_id, "sign-for")
        written = self.act(HC, incident_id, "hand-down", {"note": "请社区上门"})
        assert written["incident"]["unit"] == LIDU, written
        return incident_id, written["position"]

    # reads: each waits for ``min_position``

    def queue(self, as_: str, unit: str, min_position: int, **query: Any) -> dict[str, Any]:
        page: dict[str, Any] = self.ok(
            self.get(as_, f"/units/{unit}/queue", min_position=min_position, **query)
        )
        assert page["position"] >= min_position, page
        return page

    def rows(
        self, as_: str, unit: str, min_position: int, **query: Any
    ) -> list[tuple[str, str, str]]:
        """(id, status, holder) of the queue's items, in queue order."""
        page = self.queue(as_, unit, min_position, **query)
        for item in page["items"]:
            assert item["queue_unit"] == unit, item
        return [(i["id"], i["status"], i["holder"]) for i in page["items"]]

    def summary(self, as_: str, unit: str, min_position: int) -> dict[str, Any]:
        body: dict[str, Any] = self.ok(
            self.get(as_, f"/units/{unit}/queue/summary", min_position=min_position)
        )
        assert body["unit"] == unit and body["position"] >= min_position, body
        assert body["total"] == sum(body["by_state"].values()), body
        for state, kinds in body["by_state_and_kind"].items():
            assert sum(kinds.values()) == body["by_state"][state], body
        return body

    def counts(self, as_: str, unit: str, min_position: int) -> dict[str, int]:
        by_state: dict[str, int] = self.summary(as_, unit, min_position)["by_state"]
        return by_state

    def assignments(self, as_: str, min_position: int) -> list[tuple[str, str, str]]:
        page = self.ok(self.get(as_, "/me/assignments", min_position=min_position))
        assert page["position"] >= min_position, page
        return [(i["id"], i["status"], i["holder"]) for i in page["items"]]

    def incident(self, as_: str, incident_id: str, min_position: int) -> dict[str, Any]:
        found: dict[str, Any] = self.ok(
            self.get(as_, f"/incidents/{incident_id}", min_position=min_position)
        )
        assert found["id"] == incident_id, found
        return found

    def events(self, as_: str, incident_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.ok(self.get(as_, f"/incidents/{incident_id}/events"))
        return found

    def health(self) -> dict[str, Any]:
        body = self.ok(self.client.get("/healthz"))
        assert body["redis"] == "ok", body
        (partition,) = [p for p in body["partitions"] if p["partition"] == DISTRICT]
        assert partition["lag"] == partition["head"] - partition["checkpoint"], partition
        return {k: partition[k] for k in ("head", "checkpoint", "lag")}


@pytest.fixture
def api(app: Flask, tokens: dict[str, str]) -> Api:
    return Api(app, dict(tokens))


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# --- 1. the flow, queue by queue --------------------------------------------------------------


def test_an_order_moves_from_queue_to_queue_as_the_worker_projects_each_step(
    api: Api,
    worker: RqWorker,
    report_body: Callable[..., dict[str, Any]],
    register_staff: Callable[..., str],
) -> None:
    register_staff(FL, LIDU, "丽都 volunteer who claims the work order")
    incident_id, p = api.report(report_body("work_order"))
    dispatched = [(incident_id, "dispatched", "")]
    assert api.rows(HC, STREET, p) == dispatched
    assert api.summary(HC, STREET, p) | {"position": 0} == {
        "unit": STREET,
        "position": 0,
        "total": 1,
        "by_state": {"dispatched": 1},
        "by_state_and_kind": {"dispatched": {"work_order": 1}},
    }
    assert api.counts(FL, LIDU, p) == {}
    assert api.rows(D, DISTRICT, p) == []

    p = api.act(HC, incident_id, "sign-for", {"note": "已签收"})["position"]
    assert api.rows(HC, STREET, p) == [(incident_id, "signed", "")]
    assert api.counts(HC, STREET, p) == {"signed": 1}

    p = api.act(HC, incident_id, "hand-down", {"note": "请社区上门"})["position"]
    assert api.rows(FL, LIDU, p) == [(incident_id, "handed_down", "")]
    assert api.rows(HC, STREET, p) == []
    assert api.counts(FL, LIDU, p) == {"handed_down": 1}
    assert api.counts(HC, STREET, p) == {}

    claimed = api.ok(api.post(FL, f"/incidents/{incident_id}/claim"))
    assert claimed["incident"]["holder"] == FL and claimed["incident"]["lease_expires_at"]
    p = claimed["position"]
    assert api.rows(FL, LIDU, p) == [(incident_id, "claimed", FL)]
    assert api.counts(FL, LIDU, p) == {"claimed": 1}
    assert api.assignments(FL, p) == [(incident_id, "claimed", FL)]

    p = api.act(FL, incident_id, "resolve", RESOLVE)["position"]
    assert api.rows(D, DISTRICT, p) == [(incident_id, "resolved", "")]  # awaits the return visit
    assert api.counts(D, DISTRICT, p) == {"resolved": 1}
    assert api.rows(FL, LIDU, p) == []
    assert api.counts(FL, LIDU, p) == {}
    assert api.assignments(FL, p) == []

    last = api.act(D, incident_id, "return-visit", {"result": "satisfied"})
    assert last["incident"]["status"] == "closed", "a satisfied call-back closes the order"
    p = last["position"]
    for as_, unit in ((D, DISTRICT), (HC, STREET), (FL, LIDU)):
        assert api.rows(as_, unit, p) == [], unit
        assert api.summary(as_, unit, p)["total"] == 0, unit
    found = api.incident(D, incident_id, p)
    assert (found["status"], found["queue_unit"]) == ("closed", None)
    assert (found["version"], found["position"]) == (last["version"], p)


# --- 2. queue order, filters and pages --------------------------------------------------------

# (name, kind, priority, place), in the order they are reported; the clock moves a second
# between any two. A night emergency at a street's own place is dispatched to that street.
ORDERS = [
    ("low work order", "work_order", "low", "丽都"),
    ("normal delivery", "supply_delivery", "normal", "丽都"),
    ("urgent visit", "quarantine_visit", "urgent", "丽都"),
    ("low-priority night emergency", "night_emergency", "low", "陈桥街道"),
    ("high work order", "work_order", "high", "丽都"),
    ("urgent work order", "work_order", "urgent", "丽都"),
    ("normal visit", "quarantine_visit", "normal", "丽都"),
    ("second night emergency", "night_emergency", "normal", "陈桥街道"),
]
QUEUE_ORDER = [
    "low-priority night emergency",
    "second night emergency",
    "urgent visit",
    "urgent work order",
    "high work order",
    "normal delivery",
    "normal visit",
    "low work order",
]
SIGNED = {"urgent visit", "normal visit"}


def test_the_queue_is_ordered_filtered_and_paged_through_http(
    api: Api,
    worker: RqWorker,
    redis_url: str,
    redis: redis_lib.Redis,
    report_body: Callable[..., dict[str, Any]],
    expect_error: Callable[..., Any],
) -> None:
    api = api.on(make_app(redis_url, redis, clock=ticking_clock()))
    ids: dict[str, str] = {}
    for name, kind, priority, place in ORDERS:
        ids[name], p = api.report(report_body(kind, priority=priority, place=place, title=name))
    for name in SIGNED:
        p = api.act(HC, ids[name], "sign-for")["position"]
    names = {v: k for k, v in ids.items()}

    def listed(**query: Any) -> list[str]:
        return [names[i] for i, *_ in api.rows(HC, STREET, p, **query)]

    assert listed() == QUEUE_ORDER
    assert listed(state="signed") == [n for n in QUEUE_ORDER if n in SIGNED]
    assert listed(state="dispatched") == [n for n in QUEUE_ORDER if n not in SIGNED]
    assert listed(kind="work_order") == ["urgent work order", "high work order", "low work order"]
    assert listed(kind="night_emergency") == QUEUE_ORDER[:2]
    assert listed(state="signed", kind="quarantine_visit") == ["urgent visit", "normal visit"]
    assert listed(state="handed_down") == []

    def walk(**query: Any) -> list[str]:
        seen: list[str] = []
        cursor = None
        for _ in range(len(ORDERS) + 2):
            args = dict(query, limit=2) | ({"cursor": cursor} if cursor else {})
            page = api.queue(HC, STREET, p, **args)
            assert len(page["items"]) <= 2, page
            seen += [names[i["id"]] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return seen
        raise AssertionError(f"the cursor never ran out: {seen}")

    assert walk() == QUEUE_ORDER  # every item exactly once, in order
    assert walk(kind="work_order") == listed(kind="work_order")
    assert walk(state="dispatched") == listed(state="dispatched")

    url = f"/units/{STREET}/queue"
    for bad in ("not-a-cursor", b64("{}"), b64("[1]"), b64('["x", "y"]'), b64("[null, 1]")):
        expect_error(api.get(HC, url, cursor=bad, min_position=p), 422, "cursor")
    expect_error(api.get(HC, url, state="lost"), 422, "state")
    expect_error(api.get(HC, url, kind="alien"), 422, "kind")
    expect_error(api.get(HC, url, limit=0), 422, "limit")


# --- 3. twenty field workers, ten orders ------------------------------------------------------


def test_twenty_concurrent_claim_next_calls_on_ten_orders_give_each_order_to_one(
    api: Api,
    app: Flask,
    worker: RqWorker,
    report_body: Callable[..., dict[str, Any]],
    register_staff: Callable[..., str],
) -> None:
    # Registered staff all: claims need that (and supply deliveries no training).
    volunteers = [
        register_staff(api.add_token(f"vol{i}", Role.FIELD, LIDU), LIDU, f"racing volunteer {i}")
        for i in range(20)
    ]
    register_staff(FL, LIDU, "丽都 volunteer who comes when all is taken")
    orders = [api.handed_down_to_lidu(report_body("supply_delivery")) for _ in range(10)]
    p = max(position for _, position in orders)
    queued = api.rows(FL, LIDU, p)
    assert sorted(queued) == sorted((i, "handed_down", "") for i, _ in orders)

    url = f"/units/{LIDU}/queue/claim-next"
    start = threading.Barrier(len(volunteers))
    answers: dict[str, tuple[int, Any]] = {}
    errors: list[BaseException] = []

    def claim(volunteer: str) -> None:
        client = app.test_client()
        try:
            start.wait(timeout=10)
            response = client.post(url, json={}, headers=api.headers(volunteer))
            answers[volunteer] = (response.status_code, response.get_json(silent=True))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(v,)) for v in volunteers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert len(answers) == 20
    assert Counter(status for status, _ in answers.values()) == {200: 10, 204: 10}, answers

    won = {v: body for v, (status, body) in answers.items() if status == 200}
    for volunteer, body in won.items():
        assert body["incident"]["status"] == "claimed"
        assert body["incident"]["holder"] == volunteer  # the holder is the caller
    assert sorted(b["id"] for b in won.values()) == sorted(i for i, _ in orders)  # distinct
    assert all(answers[v][1] is None for v in volunteers if v not in won)  # 204: no body

    for incident_id, _ in orders:
        types = [e["type"] for e in api.events(HC, incident_id)]
        assert types.count("IncidentClaimed") == 1, (incident_id, types)

    # The worker projects the claims: the queue shows each order held by its claimant.
    p = max(b["position"] for b in won.values())
    holders = {b["id"]: v for v, b in won.items()}
    assert sorted(api.rows(FL, LIDU, p)) == sorted((i, "claimed", holders[i]) for i, _ in orders)
    assert api.counts(FL, LIDU, p) == {"claimed": 10}
    for volunteer, body in won.items():
        assert api.assignments(volunteer, p) == [(body["id"], "claimed", volunteer)]
    assert api.post(FL, url).status_code == 204


# --- 4. read your writes, within a bound ------------------------------------------------------


def test_a_read_past_the_head_is_a_422_at_once(
    api: Api,
    worker: RqWorker,
    redis_url: str,
    redis: redis_lib.Redis,
    report_body: Callable[..., dict[str, Any]],
    expect_error: Callable[..., Any],
) -> None:
    incident_id, p = api.report(report_body())
    assert api.incident(D, incident_id, p)["status"] == "dispatched"  # own write: visible
    url = f"/incidents/{incident_id}"
    # No write returned such a position, so there is nothing to wait for: a 422 at once (the
    # bounded wait for a position written but not yet projected: test_read_waits.py).
    started = time.monotonic()
    response = api.get(D, url, min_position=p + 1000)
    took = time.monotonic() - started
    body = expect_error(response, 422, "min_position")
    assert took < 0.5, took
    assert response.headers["X-Position"] == str(p)  # the log's head
    assert str(p) in body["message"] and str(p + 1000) in body["message"], body

    # Every read that takes min_position answers the same way.
    for as_, path in (
        (D, url),
        (HC, f"/units/{STREET}/queue"),
        (HC, f"/units/{STREET}/queue/summary"),
        (FL, "/me/assignments"),
        (D, "/incidents"),
    ):
        started = time.monotonic()
        response = api.get(as_, path, min_position=p + 1)
        assert time.monotonic() - started < 0.5, path
        expect_error(response, 422, "min_position")
        assert response.headers["X-Position"] == str(p), path

    for bad in ("abc", "-1", "1.5"):
        expect_error(api.get(D, url, min_position=bad), 422, "min_position")


# --- 5. who sees and pulls which queue --------------------------------------------------------


def test_queues_are_scoped_to_the_callers_subtree_and_claims_to_field_staff(
    api: Api,
    worker: RqWorker,
    report_body: Callable[..., dict[str, Any]],
    expect_error: Callable[..., Any],
    log_len: Callable[[], tuple[int, int]],
    register_staff: Callable[..., str],
) -> None:
    register_staff(FL, LIDU, "丽都 volunteer who pulls the order")
    # Another lidu field token, of nobody registered as staff.
    other = api.add_token("field-2@gangwen/chenqiao/lidu", Role.FIELD, LIDU)
    incident_id, p = api.handed_down_to_lidu(report_body())
    assert api.rows(FL, LIDU, p) == [(incident_id, "handed_down", "")]

    # Out of the caller's subtree, a queue does not exist.
    expect_error(api.get(HB, f"/units/{STREET}/queue", min_position=p), 404)
    expect_error(api.get(HB, f"/units/{STREET}/queue/summary", min_position=p), 404)
    expect_error(api.get(FL, f"/units/{HUAQIAO}/queue", min_position=p), 404)
    expect_error(api.get(FH, f"/units/{LIDU}/queue", min_position=p), 404)

    before = log_len()
    expect_error(api.post(HC, f"/units/{LIDU}/queue/claim-next"), 403, "role")
    expect_error(api.post(FL, f"/units/{HUAQIAO}/queue/claim-next"), 404)
    expect_error(api.post(FH, f"/units/{LIDU}/queue/claim-next"), 404)
    # Field staff means a registered staff member: a field token alone claims nothing.
    refused = expect_error(api.post(other, f"/units/{LIDU}/queue/claim-next"), 422, "holder")
    assert "not a registered staff member" in refused["message"], refused
    refused = expect_error(api.post(other, f"/incidents/{incident_id}/claim"), 422, "holder")
    assert "not a registered staff member" in refused["message"], refused
    assert log_len() == before, "a refused claim wrote nothing"

    claimed = api.ok(api.post(FL, f"/units/{LIDU}/queue/claim-next"))
    assert (claimed["id"], claimed["incident"]["holder"]) == (incident_id, FL)
    assert api.rows(FL, LIDU, claimed["position"]) == [(incident_id, "claimed", FL)]

    # Another lidu field worker may not give back what FL holds: a 422 naming the holder.
    before = log_len()
    refused = api.post(other, f"/incidents/{incident_id}/release", {"reason": "不是我的"})
    body = expect_error(refused, 422, "holder")
    assert FL in body["message"], body
    assert log_len() == before

    # lidu's handler overrides: the order is back in the queue, unclaimed.
    handler = api.add_token("handler@gangwen/chenqiao/lidu", Role.HANDLER, LIDU)
    released = api.act(handler, incident_id, "release", {"reason": "人手调整"})
    assert (released["incident"]["status"], released["incident"]["holder"]) == ("handed_down", "")
    p = released["position"]
    assert api.rows(FL, LIDU, p) == [(incident_id, "handed_down", "")]
    assert api.counts(FL, LIDU, p) == {"handed_down": 1}
    assert api.assignments(FL, p) == []
    last = api.events(HC, incident_id)[-1]
    assert (last["type"], last["actor"], last["data"]["holder"]) == (
        "IncidentReleased",
        handler,
        FL,
    )


# --- 6. a lease runs out ----------------------------------------------------------------------


def test_an_expired_lease_returns_the_order_to_the_queue_end_to_end(
    api: Api,
    worker: RqWorker,
    redis_url: str,
    redis: redis_lib.Redis,
    report_body: Callable[..., dict[str, Any]],
    register_staff: Callable[..., str],
) -> None:
    register_staff(FL, LIDU, "丽都 volunteer whose lease runs out")
    clock = ticking_clock()
    app = make_app(redis_url, redis, clock=clock)
    api = api.on(app)
    watchers = app.extensions["coordination"].watchers
    lease_minutes = app.extensions["coordination"].config.lease_minutes

    incident_id, _ = api.handed_down_to_lidu(report_body())
    claimed = api.ok(api.post(FL, f"/incidents/{incident_id}/claim"))
    p = claimed["position"]
    assert api.rows(FL, LIDU, p) == [(incident_id, "claimed", FL)]
    assert watchers.expire_leases(DISTRICT) == 0  # not due yet

    # What the lease job (workers.jobs.expire_leases) runs, with this app's clock.
    clock.advance(minutes=lease_minutes + 1)
    assert watchers.expire_leases(DISTRICT) == 1
    assert watchers.expire_leases(DISTRICT) == 0  # the domain refuses a second expiry

    head = api.health()["head"]
    assert head == p + 1
    assert api.rows(FL, LIDU, head) == [(incident_id, "handed_down", "")]
    assert api.counts(FL, LIDU, head) == {"handed_down": 1}
    assert api.assignments(FL, head) == []
    view = api.incident(FL, incident_id, head)
    assert (view["holder"], view["lease_expires_at"]) == ("", None)
    last = api.events(FL, incident_id)[-1]
    assert (last["type"], last["data"]["holder"], last["position"]) == ("ClaimExpired", FL, head)
    assert api.health()["lag"] == 0

    # Back in the queue, it can be pulled again.
    again = api.ok(api.post(FL, f"/units/{LIDU}/queue/claim-next"))
    assert (again["id"], again["incident"]["holder"]) == (incident_id, FL)


# --- 7. health shows the lag ------------------------------------------------------------------


def test_health_shows_the_lag_of_what_no_worker_has_projected(
    api: Api,
    worker: RqWorker,
    redis_url: str,
    redis: redis_lib.Redis,
    report_body: Callable[..., dict[str, Any]],
) -> None:
    incident_id, p = api.report(report_body())
    api.incident(D, incident_id, p)
    worker.wait_idle()
    assert api.health() == {"head": p, "checkpoint": p, "lag": 0}

    # An application whose catch-ups go to a queue no worker drains: a lost trigger.
    stray = api.on(make_app(redis_url, redis, queue="read-side-nobody-drains"))
    lost, _ = stray.report(report_body())  # 2 events
    stray.act(HC, lost, "sign-for")  # 1 event
    time.sleep(0.3)
    assert api.health() == {"head": p + 3, "checkpoint": p, "lag": 3}
    # The periodic tick (what the scheduler enqueues) catches up what the trigger missed.
    worker.wait_for(worker.queue.enqueue("workers.jobs.tick", result_ttl=60))
    assert api.incident(D, lost, p + 3)["status"] == "signed"
    assert api.health() == {"head": p + 3, "checkpoint": p + 3, "lag": 0}

    # The worker is killed: an append's catch-up waits in the queue, and the lag shows it.
    worker.wait_idle()
    worker.stop()
    waiting, q = api.report(report_body())
    time.sleep(0.3)
    assert q == p + 5
    assert api.health() == {"head": q, "checkpoint": p + 3, "lag": 2}
    assert worker.queue.count == 1
    # A worker that starts later drains it.
    worker.start(warm_up=False)
    assert api.incident(D, waiting, q)["status"] == "dispatched"
    assert api.health() == {"head": q, "checkpoint": q, "lag": 0}


@pytest.mark.parametrize("cursor", [[float("nan"), "a"], ["nan", "a"], ["inf", "a"]])
def test_a_cursor_with_a_score_that_is_not_a_number_is_a_422(
    client: Any, auth: Callable[[str], dict[str, str]], cursor: list[Any]
) -> None:
    raw = json.dumps(cursor).encode()
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    for path in ("/units/gangwen/chenqiao/queue", "/incidents"):
        response = client.get(f"{path}?cursor={token}", headers=auth(HC))
        assert response.status_code == 422, (path, response.get_json())
        assert "cursor" in response.get_json()["errors"]["query"]
