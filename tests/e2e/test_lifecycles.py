"""Each kind's whole life through HTTP: report, sign for, hand down, resolve, call back, close.

Every write answers with the incident's new version and the log position it reached; both only
grow, the ETag is the version, and the incident's events read back in the order they happened.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from supplies import donate

D = "dispatcher@gangwen"
HC = "handler@gangwen/chenqiao"
HB = "handler@gangwen/binjiang"
FL = "field@gangwen/chenqiao/lidu"
FH = "field@gangwen/chenqiao/huaqiao"
A = "admin@gangwen"

CHENQIAO = "gangwen/chenqiao"
HUAQIAO = "gangwen/chenqiao/huaqiao"
SHANGHAI = ZoneInfo("Asia/Shanghai")
BINJIANG = "gangwen/binjiang"


class Life:
    """Follows one incident through its writes, checking what each write answers."""

    def __init__(self, http: Any, log_len: Callable[..., tuple[int, int]]) -> None:
        self.http = http
        self.log_len = log_len
        self.id = ""
        self.version = 0
        self.position = 0

    def report(
        self, body: dict[str, Any], *, status: str, unit: str, events: int = 2
    ) -> dict[str, Any]:
        response = self.http.report(D, body)
        written = self.http.ok(response, 201)
        self.id = written["id"]
        assert response.headers["Location"].endswith(f"/incidents/{self.id}")
        return self._check(response, written, status=status, unit=unit, events=events)

    def act(
        self,
        as_: str,
        action: str,
        body: dict[str, Any] | None = None,
        *,
        status: str,
        unit: str,
        events: int = 1,
    ) -> dict[str, Any]:
        response = self.http.act(as_, self.id, action, body)
        written = self.http.ok(response, 200)
        return self._check(response, written, status=status, unit=unit, events=events)

    def _check(
        self, response: Any, written: dict[str, Any], *, status: str, unit: str, events: int
    ) -> dict[str, Any]:
        incident = written["incident"]
        assert written["id"] == incident["id"] == self.id
        assert incident["status"] == status, incident
        assert incident["unit"] == unit, incident
        assert written["version"] == incident["version"] == self.version + events
        assert written["position"] > self.position
        assert response.headers["ETag"] == f'"{written["version"]}"'
        # The write is in the log, and it is the last thing there: nobody else writes here.
        xlen, head = self.log_len(absolute=True)
        assert head == written["position"]
        assert xlen == head
        self.version, self.position = written["version"], written["position"]
        return incident

    def claim(self, as_: str, *, unit: str) -> dict[str, Any]:
        """Claim the incident as a field token: field staff resolve only what they hold."""
        response = self.http.client.post(
            f"/incidents/{self.id}/claim", json={}, headers=self.http.auth(as_)
        )
        written = self.http.ok(response, 200)
        incident = self._check(response, written, status="claimed", unit=unit, events=1)
        assert incident["holder"] == as_, incident
        return incident

    def get(self, as_: str = D) -> dict[str, Any]:
        # Read your writes: ask for at least the position of the last write.
        response = self.http.get(as_, self.id, min_position=self.position)
        incident = self.http.ok(response)
        assert incident["version"] == self.version
        assert response.headers["ETag"] == f'"{self.version}"'
        return incident

    def events(self, as_: str = D) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.http.ok(self.http.events(as_, self.id))
        assert [e["version"] for e in events] == list(range(1, self.version + 1))
        positions = [e["position"] for e in events]
        assert positions == sorted(set(positions)), positions
        assert positions[-1] == self.position
        assert {e["stream"] for e in events} == {self.id}
        assert len({e["id"] for e in events}) == len(events)
        return events

    def event_types(self, as_: str = D) -> list[str]:
        return [e["type"] for e in self.events(as_)]

    def queue(
        self, as_: str, unit: str
    ) -> tuple[list[tuple[str, str, str | None]], dict[str, Any]]:
        """(id, status, queue_unit) of ``unit``'s queue, and its summary, as of the last write."""
        self.http.catch_up()
        at = {"min_position": self.position}
        page = self.http.ok(
            self.http.client.get(
                f"/units/{unit}/queue", query_string=at, headers=self.http.auth(as_)
            )
        )
        summary = self.http.ok(
            self.http.client.get(
                f"/units/{unit}/queue/summary", query_string=at, headers=self.http.auth(as_)
            )
        )
        rows = [(i["id"], i["status"], i["queue_unit"]) for i in page["items"]]
        return rows, {k: summary[k] for k in ("total", "by_state", "by_state_and_kind")}


@pytest.fixture
def life(http: Any, log_len: Callable[[], tuple[int, int]]) -> Life:
    return Life(http, log_len)


FULL_LIFE = [
    "IncidentReported",
    "IncidentDispatched",
    "IncidentSignedFor",
    "IncidentHandedDown",
    "IncidentResolved",
    "ReturnVisitRecorded",
    "IncidentClosed",
]
# Field staff claim before they resolve; a handler resolves on the community's behalf.
FIELD_LIFE = [*FULL_LIFE[:4], "IncidentClaimed", *FULL_LIFE[4:]]


@pytest.mark.parametrize(
    ("kind", "extra", "place", "community", "resolver"),
    [
        pytest.param(
            "work_order", {"category": "consultation"}, "丽都", "lidu", FL, id="consultation"
        ),
        pytest.param("work_order", {"category": "tip"}, "花桥新村", "huaqiao", FH, id="tip"),
        # No field staff token at Gongyuan: the street's handler resolves it for the community.
        pytest.param(
            "work_order", {"category": "complaint"}, "公园路", "gongyuan", HC, id="complaint"
        ),
        pytest.param(
            "supply_delivery",
            {
                "items": [
                    {"item": "口罩", "quantity": 1000},
                    {"item": "额温枪", "quantity": 11},
                    {"item": "84消毒液", "quantity": 1040, "measure": "斤"},
                ]
            },
            "花桥",
            "huaqiao",
            FH,
            id="supply_delivery",
        ),
        pytest.param(
            "quarantine_visit",
            {
                "person": {"name": "李四", "phone": "13987654321"},
                "address": "丽都花园7栋1单元502",
            },
            "丽都花园",
            "lidu",
            FL,
            id="quarantine_visit",
        ),
    ],
)
def test_full_life_of_each_kind_through_http(
    life: Life,
    app: Any,
    report_body: Callable[..., dict[str, Any]],
    register_staff: Callable[..., str],
    kind: str,
    extra: dict[str, Any],
    place: str,
    community: str,
    resolver: str,
) -> None:
    if kind == "supply_delivery":  # the district's stock has masks; the community needs more
        donate(
            app.extensions["coordination"],
            f"{CHENQIAO}/{community}",
            ("额温枪", 11),
            ("84消毒液", 1040),
        )
    field_staff = resolver.startswith("field@")
    if field_staff:
        register_staff(resolver, f"{CHENQIAO}/{community}", "社区志愿者", quarantine_trained=True)
    body = report_body(kind, place=place, **extra)
    reported = life.report(body, status="dispatched", unit=CHENQIAO)
    assert reported["kind"] == kind
    assert reported["place"] == place
    assert reported["place_unit"] == f"{CHENQIAO}/{community}"
    assert reported["district"] == "gangwen"
    assert reported["reporter"] == body["reporter"]
    for field in ("category", "person", "address", "title", "epidemic", "priority"):
        if field in body:
            assert reported[field] == body[field], field
    if kind == "supply_delivery":
        assert [(i["item"], i["quantity"]) for i in reported["items"]] == [
            (i["item"], i["quantity"]) for i in body["items"]
        ]
        # Counted in the catalogue's own units, whether the report named them or not.
        assert [i["measure"] for i in reported["items"]] == ["个", "把", "斤"]

    life.act(HC, "sign-for", {"note": "已签收"}, status="signed", unit=CHENQIAO)
    life.act(HC, "hand-down", {}, status="handed_down", unit=f"{CHENQIAO}/{community}")
    if field_staff:
        life.claim(resolver, unit=f"{CHENQIAO}/{community}")
    resolved = life.act(
        resolver,
        "resolve",
        {"summary": "已上门处理完毕", "signed_off_by": "陈主任"},
        status="resolved",
        unit=f"{CHENQIAO}/{community}",
    )
    assert resolved["resolution"] == "已上门处理完毕"
    assert resolved["signed_off_by"] == "陈主任"
    visited = life.act(
        D,
        "return-visit",
        {"result": "satisfied"},
        status="closed",
        unit=f"{CHENQIAO}/{community}",
        events=2,
    )
    assert visited["satisfaction"] == "satisfied", "a satisfied call-back closes the order"

    final = life.get()
    assert final["status"] == "closed"
    assert final["satisfaction"] == "satisfied"
    assert final["resolution"] == "已上门处理完毕"
    assert final["reopened"] == 0
    assert final["created_at"] <= final["updated_at"]
    assert life.event_types() == (FIELD_LIFE if field_staff else FULL_LIFE)


NIGHT_EMERGENCY_AT_HUAQIAO = {
    "title": "隔离户体温计摔碎, 急需新体温计",
    "place": "花桥新村",
    "priority": "urgent",
    "person": {"name": "王五", "phone": "13700001111"},
}
NOTHING_QUEUED: dict[str, Any] = {"total": 0, "by_state": {}, "by_state_and_kind": {}}


def test_night_emergency_at_a_community_goes_straight_to_the_community(
    life: Life, report_body: Callable[..., dict[str, Any]], register_staff: Callable[..., str]
) -> None:
    # No staff are registered at Huaqiao, so nobody is on duty there now.
    body = report_body("night_emergency", **NIGHT_EMERGENCY_AT_HUAQIAO)
    life.report(body, status="handed_down", unit=HUAQIAO, events=3)
    reported, dispatched, escalated = life.events()
    assert reported["type"] == "IncidentReported"
    assert (dispatched["type"], dispatched["data"]["unit"]) == ("IncidentDispatched", HUAQIAO)
    assert dispatched["data"]["on_duty"] == []
    assert escalated["type"] == "IncidentEscalated"
    assert escalated["data"] == {
        "from_unit": HUAQIAO,
        "to_unit": CHENQIAO,
        "deadline": None,
        "reason": "nobody on duty",
    }
    # Handed down already: the street has nothing to sign for ...
    assert life.http.act(HC, life.id, "sign-for").status_code == 422
    # ... but sees it flagged in its queue while it is open, and Huaqiao has it to do.
    assert life.queue(HC, CHENQIAO) == (
        [(life.id, "handed_down", HUAQIAO)],
        {
            "total": 1,
            "by_state": {"escalated": 1},
            "by_state_and_kind": {"escalated": {"night_emergency": 1}},
        },
    )
    assert life.queue(FH, HUAQIAO) == (
        [(life.id, "handed_down", HUAQIAO)],
        {
            "total": 1,
            "by_state": {"handed_down": 1},
            "by_state_and_kind": {"handed_down": {"night_emergency": 1}},
        },
    )

    register_staff(FH, HUAQIAO, "花桥志愿者")  # not on duty: registered after the report
    life.claim(FH, unit=HUAQIAO)
    life.act(
        FH,
        "resolve",
        {"summary": "值班人员23:20送达体温计", "signed_off_by": "花桥值班长"},
        status="resolved",
        unit=HUAQIAO,
    )
    assert life.queue(HC, CHENQIAO) == ([], NOTHING_QUEUED), "no longer open: no longer flagged"
    life.act(D, "return-visit", {"result": "satisfied"}, status="closed", unit=HUAQIAO, events=2)
    assert life.get(FH)["priority"] == "urgent"
    assert life.event_types() == [
        "IncidentReported",
        "IncidentDispatched",
        "IncidentEscalated",
        "IncidentClaimed",
        "IncidentResolved",
        "ReturnVisitRecorded",
        "IncidentClosed",
    ]


def test_night_emergency_with_someone_on_duty_names_them_and_is_not_escalated(
    life: Life, http: Any, report_body: Callable[..., dict[str, Any]]
) -> None:
    # The street's handler registers a Huaqiao volunteer and puts them on duty now.
    on_duty = "huaqiao-night-duty"
    profile = {"staff_id": on_duty, "name": "花桥值班员", "unit": HUAQIAO, "kind": "volunteer"}
    http.ok(http.client.post("/staff", json=profile, headers=http.auth(HC)), 201)
    now = datetime.now(SHANGHAI)
    shift = {
        "shift_id": "tonight",
        "start": (now - timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(hours=1)).isoformat(),
    }
    http.ok(http.client.post(f"/staff/{on_duty}/shifts", json=shift, headers=http.auth(HC)))
    http.catch_up()  # who is on duty is read from the staff projection

    body = report_body("night_emergency", **NIGHT_EMERGENCY_AT_HUAQIAO)
    life.report(body, status="handed_down", unit=HUAQIAO)
    reported, dispatched = life.events()
    assert reported["type"] == "IncidentReported"
    assert (dispatched["type"], dispatched["data"]["unit"]) == ("IncidentDispatched", HUAQIAO)
    assert dispatched["data"]["on_duty"] == [on_duty]
    # Someone is there to go: the street is not asked to see to it.
    assert life.queue(HC, CHENQIAO) == ([], NOTHING_QUEUED)
    assert life.queue(FH, HUAQIAO)[0] == [(life.id, "handed_down", HUAQIAO)]


def test_department_order_is_resolved_by_the_department_without_hand_down(
    life: Life, report_body: Callable[..., dict[str, Any]]
) -> None:
    body = report_body(category="complaint", title="药店口罩哄抬价格", place="gangwen/market")
    life.report(body, status="dispatched", unit="gangwen/market")
    life.act(A, "sign-for", status="signed", unit="gangwen/market")
    life.act(
        A,
        "resolve",
        {"summary": "已立案查处", "signed_off_by": "市场监管局负责人"},
        status="resolved",
        unit="gangwen/market",
    )
    life.act(
        D,
        "return-visit",
        {"result": "basically_satisfied"},
        status="closed",
        unit="gangwen/market",
        events=2,
    )
    assert life.get()["satisfaction"] == "basically_satisfied"


def test_returned_order_is_never_closed_and_is_redispatched(
    life: Life,
    http: Any,
    report_body: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    expect_error: Callable[..., Any],
) -> None:
    life.report(report_body(place="丽都"), status="dispatched", unit=CHENQIAO)
    returned = life.act(
        HC,
        "return",
        {"reason": "该地址属滨江街道辖区, 非本单位"},
        status="returned",
        unit="gangwen",
    )
    assert returned["return_reason"] == "该地址属滨江街道辖区, 非本单位"

    # Returning never closes an order, and nothing else moves it on but a new dispatch.
    before = log_len()
    for as_, action, body in [
        (D, "close", {}),
        (D, "return-visit", {"result": "satisfied"}),
        (A, "resolve", {"summary": "x", "signed_off_by": "y"}),
        (A, "sign-for", {}),
        (A, "hand-down", {}),
        (A, "return", {"reason": "again"}),
    ]:
        expect_error(http.act(as_, life.id, action, body), 422, "state")
    assert log_len() == before
    assert life.get()["status"] == "returned"
    # It sits with the district now, out of the street's sight.
    expect_error(http.get(HC, life.id), 404)

    redispatched = life.act(
        D, "dispatch", {"unit": BINJIANG, "note": "改派滨江"}, status="dispatched", unit=BINJIANG
    )
    assert redispatched["return_reason"] == ""
    expect_error(http.act(HC, life.id, "sign-for"), 404)
    life.act(HB, "sign-for", status="signed", unit=BINJIANG)

    incident = life.get(HB)
    assert incident["status"] == "signed"
    assert incident["place_unit"] == f"{CHENQIAO}/lidu"
    assert life.event_types() == [
        "IncidentReported",
        "IncidentDispatched",
        "IncidentReturned",
        "IncidentDispatched",
        "IncidentSignedFor",
    ]


def test_unsatisfied_return_visit_reopens_to_the_same_community(
    life: Life,
    http: Any,
    report_body: Callable[..., dict[str, Any]],
    register_staff: Callable[..., str],
) -> None:
    register_staff(FL, f"{CHENQIAO}/lidu", "丽都志愿者", quarantine_trained=True)
    life.report(report_body("quarantine_visit", place="丽都"), status="dispatched", unit=CHENQIAO)
    life.act(HC, "sign-for", status="signed", unit=CHENQIAO)
    life.act(
        HC,
        "hand-down",
        {"community": f"{CHENQIAO}/lidu"},
        status="handed_down",
        unit=f"{CHENQIAO}/lidu",
    )
    resolve = {"summary": "已上门测温", "signed_off_by": "丽都书记"}
    life.claim(FL, unit=f"{CHENQIAO}/lidu")
    life.act(FL, "resolve", resolve, status="resolved", unit=f"{CHENQIAO}/lidu")

    reopened = life.act(
        D,
        "return-visit",
        {"result": "unsatisfied", "note": "居民称无人上门"},
        status="handed_down",
        unit=f"{CHENQIAO}/lidu",
        events=2,
    )
    assert reopened["reopened"] == 1
    assert reopened["resolution"] == ""
    assert reopened["signed_off_by"] == ""
    # A reopened order is work again, not something to close.
    assert http.act(D, life.id, "close").status_code == 422

    again = {"summary": "再次上门, 已送体温计", "signed_off_by": "丽都书记"}
    life.claim(FL, unit=f"{CHENQIAO}/lidu")
    resolved = life.act(FL, "resolve", again, status="resolved", unit=f"{CHENQIAO}/lidu")
    assert resolved["resolution"] == again["summary"]
    life.act(
        D,
        "return-visit",
        {"result": "satisfied"},
        status="closed",
        unit=f"{CHENQIAO}/lidu",
        events=2,
    )

    final = life.get(FL)
    assert final["reopened"] == 1
    assert final["satisfaction"] == "satisfied"
    assert life.event_types() == [
        "IncidentReported",
        "IncidentDispatched",
        "IncidentSignedFor",
        "IncidentHandedDown",
        "IncidentClaimed",
        "IncidentResolved",
        "ReturnVisitRecorded",
        "IncidentReopened",
        "IncidentClaimed",
        "IncidentResolved",
        "ReturnVisitRecorded",
        "IncidentClosed",
    ]


def test_unsatisfied_return_visit_reopens_a_street_order_as_signed(
    life: Life, report_body: Callable[..., dict[str, Any]]
) -> None:
    life.report(report_body(place="陈桥街道"), status="dispatched", unit=CHENQIAO)
    life.act(HC, "sign-for", status="signed", unit=CHENQIAO)
    resolve = {"summary": "电话答复政策", "signed_off_by": "陈桥主任"}
    life.act(HC, "resolve", resolve, status="resolved", unit=CHENQIAO)
    reopened = life.act(
        D, "return-visit", {"result": "unsatisfied"}, status="signed", unit=CHENQIAO, events=2
    )
    assert reopened["reopened"] == 1
    life.act(HC, "resolve", resolve, status="resolved", unit=CHENQIAO)
    assert life.event_types() == [
        "IncidentReported",
        "IncidentDispatched",
        "IncidentSignedFor",
        "IncidentResolved",
        "ReturnVisitRecorded",
        "IncidentReopened",
        "IncidentResolved",
    ]


def test_positions_keep_increasing_across_incidents(
    http: Any, report_body: Callable[..., dict[str, Any]], log_len: Callable[[], tuple[int, int]]
) -> None:
    first = http.ok(http.report(D, report_body(place="丽都")), 201)
    second = http.ok(http.report(D, report_body(place="望海")), 201)
    assert first["id"] != second["id"]
    assert second["incident"]["unit"] == BINJIANG
    assert (first["version"], second["version"]) == (2, 2)
    assert second["position"] > first["position"]
    signed = http.ok(http.act(HC, first["id"], "sign-for"))
    assert signed["version"] == 3
    assert signed["position"] > second["position"]
    assert log_len(absolute=True) == (signed["position"], signed["position"])
    events = http.ok(http.events(D, first["id"]))
    assert [e["version"] for e in events] == [1, 2, 3]
    assert events[-1]["position"] == signed["position"]
