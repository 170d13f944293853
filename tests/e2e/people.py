"""Helpers for the end-to-end tests of time and people: an application at a clock the test
moves (tests/support/clock.py), and the HTTP calls of staff, duty, queues and incidents as a
named token, each read waiting for the position its write reached (``min_position``) so that a
real RQ worker's projection is what is read.

A plain module rather than conftest.py so that tests can import it by name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import redis as redis_lib
from clock import Clock
from flask import Flask
from supplies import stock_up

from coordination.api.app import create_app
from coordination.bootstrap import Services
from coordination.config import Config
from coordination.domain.access import Role

SHANGHAI = ZoneInfo("Asia/Shanghai")
DISTRICT = "gangwen"
CHENQIAO = "gangwen/chenqiao"
BINJIANG = "gangwen/binjiang"
LIDU = "gangwen/chenqiao/lidu"
HUAQIAO = "gangwen/chenqiao/huaqiao"
YONGHE = "gangwen/chenqiao/yonghe"
GONGYUAN = "gangwen/chenqiao/gongyuan"

# The token labels of tests/e2e/conftest.py.
D = "dispatcher@gangwen"
HC = "handler@gangwen/chenqiao"
HB = "handler@gangwen/binjiang"
FL = "field@gangwen/chenqiao/lidu"  # a field token whose name is no registered staff member
VIEWER = "viewer@gangwen"
ADMIN = "admin@gangwen"

REPORTER = {"name": "张三", "phone": "13812345678"}
RESOLVE = {"summary": "已上门处理", "signed_off_by": "负责同志"}


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A moment of Beijing time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def iso(moment: datetime) -> str:
    """How the API writes a Beijing time: ``2026-03-02T22:00:00+08:00``."""
    return moment.astimezone(SHANGHAI).isoformat()


def make_app(redis_url: str, redis: redis_lib.Redis, clock: Clock) -> Flask:
    """The application on the session's server, reading the test's clock: ``clock.now`` is
    what it reads, and only the test moves it."""
    application = create_app(Config(redis_url=redis_url), redis=redis, clock=clock)
    application.config["TESTING"] = True
    stock_up(application.extensions["coordination"])  # orders of masks draw on the ledgers
    return application


def report_body(kind: str = "work_order", **overrides: Any) -> dict[str, Any]:
    """A valid report body of ``kind`` at 丽都 (not about the epidemic unless told)."""
    data: dict[str, Any] = {
        "kind": kind,
        "title": f"{kind} 丽都",
        "place": "丽都",
        "address": "丽都花园3栋201室",
        "reporter": REPORTER,
    }
    if kind == "work_order":
        data["category"] = "complaint"
    if kind == "supply_delivery":
        data["items"] = [{"item": "口罩", "quantity": 50}]
    if kind == "quarantine_visit":
        data.update(person={"name": "李四", "phone": "13987654321"}, epidemic=True)
    data.update(overrides)
    return data


def member_body(
    staff_id: str,
    name: str,
    unit: str = LIDU,
    kind: str = "volunteer",
    trained: bool = False,
    party_member: bool = False,
) -> dict[str, Any]:
    return {
        "staff_id": staff_id,
        "name": name,
        "unit": unit,
        "kind": kind,
        "party_member": party_member,
        "quarantine_trained": trained,
    }


class Api:
    """The HTTP calls of these tests, as a named token, through one app's test client."""

    def __init__(self, app: Flask, secrets: dict[str, str]) -> None:
        self.app = app
        self.client = app.test_client()
        self.secrets = dict(secrets)

    @property
    def services(self) -> Services:
        found: Services = self.app.extensions["coordination"]
        return found

    def field_token(self, staff_id: str, unit: str = LIDU) -> str:
        """A field token of a staff member: its name is the member's id, which its claims
        record."""
        secret, _ = self.services.tokens.create(Role.FIELD, unit, staff_id)
        self.secrets[staff_id] = secret
        return staff_id

    def headers(self, as_: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[as_]}"}

    # raw calls

    def get(self, as_: str, url: str, **query: Any) -> Any:
        return self.client.get(url, query_string=query, headers=self.headers(as_))

    def post(self, as_: str, url: str, body: Any = None) -> Any:
        return self.client.post(url, json={} if body is None else body, headers=self.headers(as_))

    @staticmethod
    def ok(response: Any, status: int = 200) -> Any:
        assert response.status_code == status, (response.status_code, response.get_data(True))
        return response.get_json()

    # writes: each returns what the write answered (with its ``position``)

    def report(self, body: dict[str, Any], as_: str = D) -> dict[str, Any]:
        written: dict[str, Any] = self.ok(self.post(as_, "/incidents", body), 201)
        return written

    def act(self, as_: str, incident_id: str, action: str, body: Any = None) -> dict[str, Any]:
        written: dict[str, Any] = self.ok(
            self.post(as_, f"/incidents/{incident_id}/{action}", body)
        )
        assert written["id"] == incident_id, written
        return written

    def handed_down(self, body: dict[str, Any], community: str = LIDU) -> dict[str, Any]:
        """Report at a chenqiao community, sign for it and hand it down there."""
        incident_id = self.report(body)["id"]
        self.act(HC, incident_id, "sign-for")
        written = self.act(HC, incident_id, "hand-down", {"community": community})
        assert written["incident"]["status"] == "handed_down", written
        return written

    def register(self, body: dict[str, Any], as_: str = HC) -> dict[str, Any]:
        written: dict[str, Any] = self.ok(self.post(as_, "/staff", body), 201)
        return written

    def schedule(
        self, staff_id: str, shift_id: str, start: datetime, end: datetime, as_: str = HC
    ) -> dict[str, Any]:
        body = {"shift_id": shift_id, "start": iso(start), "end": iso(end)}
        written: dict[str, Any] = self.ok(self.post(as_, f"/staff/{staff_id}/shifts", body))
        return written

    # reads: each waits for ``min_position``

    def incident(self, as_: str, incident_id: str, min_position: int) -> dict[str, Any]:
        found: dict[str, Any] = self.ok(
            self.get(as_, f"/incidents/{incident_id}", min_position=min_position)
        )
        assert found["position"] >= min_position, found
        return found

    def events(self, as_: str, incident_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.ok(self.get(as_, f"/incidents/{incident_id}/events"))
        return found

    def head(self) -> int:
        """The log's head position: a read at it sees every write so far, the watch's too."""
        return self.services.store.head(DISTRICT)

    def last_position(self, incident_id: str) -> int:
        """The log position of the incident's last event (a watch reports no position)."""
        position: int = self.events(ADMIN, incident_id)[-1]["position"]
        return position

    def queue(self, as_: str, unit: str, min_position: int, **query: Any) -> list[dict[str, Any]]:
        page = self.ok(self.get(as_, f"/units/{unit}/queue", min_position=min_position, **query))
        assert page["position"] >= min_position, page
        items: list[dict[str, Any]] = page["items"]
        return items

    def summary(self, as_: str, unit: str, min_position: int) -> dict[str, Any]:
        body: dict[str, Any] = self.ok(
            self.get(as_, f"/units/{unit}/queue/summary", min_position=min_position)
        )
        assert body["position"] >= min_position, body
        return body

    def assignments(self, as_: str, min_position: int) -> list[str]:
        page = self.ok(self.get(as_, "/me/assignments", min_position=min_position))
        return [item["id"] for item in page["items"]]

    def staff_of(self, as_: str, unit: str, min_position: int) -> list[dict[str, Any]]:
        body = self.ok(self.get(as_, f"/units/{unit}/staff", min_position=min_position))
        items: list[dict[str, Any]] = body["items"]
        return items

    def duty(self, as_: str, unit: str, min_position: int, **query: Any) -> dict[str, Any]:
        body: dict[str, Any] = self.ok(
            self.get(as_, f"/units/{unit}/duty", min_position=min_position, **query)
        )
        return body

    def stats(self, as_: str, unit: str, day: str, min_position: int) -> dict[str, Any]:
        body: dict[str, Any] = self.ok(
            self.get(as_, f"/units/{unit}/stats", date=day, min_position=min_position)
        )
        assert (body["date"], body["unit"]) == (day, unit), body
        counts: dict[str, Any] = body["counts"]
        return counts

    # the watch, as the tick runs it, at the application's clock

    def watch(self, min_position: int) -> int:
        """Run the deadline watch once the projection has reached ``min_position`` (it reads
        the running deadlines from there); how many deadlines it found breached."""
        self.services.reads.snapshot(DISTRICT, min_position)
        breached: int = self.services.watchers.watch_deadlines(DISTRICT)
        return breached


def of_type(events: list[dict[str, Any]], *types: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] in types]


def interval(start: datetime, end: datetime) -> dict[str, str]:
    return {"start": iso(start), "end": iso(end)}
