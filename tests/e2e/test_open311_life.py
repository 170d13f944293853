"""An order filed through Open311 lives the same life as one posted to our own API, and an
Open311 client following it sees that life: filed with a form and an open311 api_key at
``address_string=丽都花园``, it is dispatched to 陈桥街道, signed for and handed down to 丽都社区,
shows in 丽都社区's queue, is claimed and resolved there, all through our API; at every step
``GET requests/<id>.json`` and ``.xml`` tell the same status (open → closed), status_notes,
agency_responsible, updated_datetime and expected_datetime as our API's view of the order.

And privacy: nothing any Open311 answer of the test carries has the reporter's name or phone or
the street address, and non-public orders (a quarantine visit, a delivery to a household under
home quarantine) are not listed and read by id as an empty list.

The app runs at a test clock (a Monday morning) that the test moves between steps, so that each
step's time is its own. No worker: the projector catches up synchronously before each read.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import redis as redis_lib
from clock import Clock
from flask import Flask
from flask.testing import FlaskClient
from open311_schemas import REQUEST_POSTED, REQUESTS, check
from people import HC, LIDU, at, make_app, report_body

from coordination.domain.access import Role

V2 = "/open311/v2"
NAME, PHONE, STREET = "张三", "13812345678", "丽都花园3栋201室"
SECRETS = (NAME, PHONE, "3栋201室", "201室")
FIELDS = (
    "status",
    "status_notes",
    "agency_responsible",
    "updated_datetime",
    "expected_datetime",
)
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'


@pytest.fixture
def clock() -> Clock:
    return Clock(at(2026, 3, 2, 9, 0))  # a Monday morning


@pytest.fixture
def app(redis_url: str, redis: redis_lib.Redis, clock: Clock) -> Flask:
    """The application at the test's clock (overrides conftest's ``app``)."""
    return make_app(redis_url, redis, clock)


class Follower:
    """An Open311 client following orders, keeping every answer it got (for the privacy
    check), and our API's view of the same order (as the district's dispatcher)."""

    def __init__(self, client: FlaskClient, catch_up: Callable[[], int], dispatcher: str):
        self.client = client
        self.catch_up = catch_up
        self.dispatcher = dispatcher
        self.seen: list[str] = []

    def get(self, path: str, **query: Any) -> Any:
        self.catch_up()
        response = self.client.get(V2 + path, query_string=query)
        self.seen.append(response.get_data(as_text=True))
        assert response.status_code == 200, (path, response.get_data(as_text=True))
        return response

    def json(self, path: str, **query: Any) -> Any:
        response = self.get(path + ".json", **query)
        assert response.mimetype == "application/json", response.content_type
        return check(REQUESTS, response.get_json())

    def xml(self, path: str, **query: Any) -> list[dict[str, str | None]]:
        response = self.get(path + ".xml", **query)
        assert response.content_type == "text/xml; charset=utf-8", response.content_type
        raw = response.get_data()
        assert raw.startswith(XML_DECLARATION), raw[:60]
        root = ET.fromstring(raw)  # strict: not well-formed raises
        assert root.tag == "service_requests", root.tag
        assert all("{" not in e.tag for e in root.iter()), "no namespace"
        found = []
        for request in root:
            assert request.tag == "request", request.tag
            assert all(len(child) == 0 for child in request), "flat fields"
            found.append({child.tag: child.text for child in request})
        return found

    def one(self, incident_id: str) -> dict[str, Any]:
        """The order as Open311 shows it, by id, in JSON; the XML saying the same."""
        (as_json,) = self.json(f"/requests/{incident_id}")
        (as_xml,) = self.xml(f"/requests/{incident_id}")
        assert set(as_xml) == set(as_json), (as_xml, as_json)
        for key, value in as_json.items():
            expected = None if value in (None, "") else str(value)
            assert (as_xml[key] or None) == expected, (key, as_xml[key], value)
        return dict(as_json)

    def ours(self, incident_id: str) -> dict[str, Any]:
        self.catch_up()
        response = self.client.get(
            f"/incidents/{incident_id}", headers={"Authorization": f"Bearer {self.dispatcher}"}
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        found: dict[str, Any] = response.get_json()
        return found


def same_instant(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return datetime.fromisoformat(a) == datetime.fromisoformat(b)


def follows(app: Flask, follower: Follower, incident_id: str) -> dict[str, Any]:
    """Open311's view of the order agrees with ours; it is returned."""
    shown = follower.one(incident_id)
    ours = follower.ours(incident_id)
    units = app.extensions["coordination"].jurisdiction.units
    closed = ours["status"] in ("resolved", "visited", "closed")
    assert shown["service_request_id"] == incident_id
    assert shown["status"] == ("closed" if closed else "open"), (shown, ours["status"])
    assert shown["agency_responsible"] == units[ours["unit"]].name, (shown, ours["unit"])
    assert same_instant(shown["requested_datetime"], ours["created_at"]), shown
    assert same_instant(shown["updated_datetime"], ours["updated_at"]), (shown, ours)
    assert shown["updated_datetime"].endswith("+08:00"), shown
    if closed:
        assert shown.get("expected_datetime") is None, shown
    else:
        due = ours["deadlines"]["resolve_by"]
        assert due is not None and same_instant(shown["expected_datetime"], due), (shown, due)
        assert shown["expected_datetime"].endswith("+08:00"), shown
    assert shown["address"] == "丽都花园", shown
    return shown


def test_an_order_filed_through_open311_is_followed_until_closed(
    app: Flask,
    client: FlaskClient,
    clock: Clock,
    tokens: dict[str, str],
    catch_up: Callable[[], int],
    register_staff: Callable[..., str],
) -> None:
    services = app.extensions["coordination"]
    api_key, _ = services.tokens.create(Role.OPEN311, "gangwen", "client")
    follower = Follower(client, catch_up, tokens["dispatcher@gangwen"])

    def ours(as_: str, incident_id: str, action: str, body: Any = None) -> dict[str, Any]:
        clock.advance(minutes=17)
        response = client.post(
            f"/incidents/{incident_id}/{action}",
            json=body or {},
            headers={"Authorization": f"Bearer {as_}"},
        )
        assert response.status_code == 200, (action, response.get_data(as_text=True))
        found: dict[str, Any] = response.get_json()
        return found

    # Filed through Open311: a form, the open311 client's api_key, a place name.
    form = {
        "api_key": api_key,
        "service_code": "complaint",
        "address_string": "丽都花园",
        "description": "楼道堆放杂物,有消防隐患",
        "last_name": "张",
        "first_name": "三",
        "phone": PHONE,
        "email": "zhangsan@example.com",
    }
    posted = client.post(f"{V2}/requests.json", data=form)
    assert posted.status_code == 201, posted.get_data(as_text=True)
    (answer,) = check(REQUEST_POSTED, posted.get_json())
    incident_id = answer["service_request_id"]
    follower.seen.append(posted.get_data(as_text=True))

    # The same order in our API: reported by the client, from the form's person.
    ours_now = follower.ours(incident_id)
    assert ours_now["kind"] == "work_order" and ours_now["category"] == "complaint"
    assert ours_now["reporter"] == {"name": NAME, "phone": PHONE}
    assert ours_now["place"] == "丽都花园"

    shown = follows(app, follower, incident_id)
    assert shown["status"] == "open" and shown["agency_responsible"] == "陈桥街道", shown
    assert "待签收" in shown["status_notes"], shown
    assert (shown["service_code"], shown["service_name"]) == ("complaint", "投诉")
    assert shown["description"] == form["description"]
    filed_at = shown["updated_datetime"]

    # The street signs for it and hands it down to 丽都社区.
    handler = tokens[HC]
    ours(handler, incident_id, "sign-for", {"note": "已签收"})
    shown = follows(app, follower, incident_id)
    assert shown["status"] == "open" and "已签收" in shown["status_notes"], shown
    assert shown["updated_datetime"] > filed_at
    ours(handler, incident_id, "hand-down", {"community": LIDU})
    shown = follows(app, follower, incident_id)
    assert shown["status"] == "open" and shown["agency_responsible"] == "丽都社区", shown
    assert "下派" in shown["status_notes"], shown

    # It is in 丽都社区's queue, where a volunteer claims it.
    catch_up()
    queue = client.get(
        f"/units/{LIDU}/queue",
        headers={"Authorization": f"Bearer {tokens['field@gangwen/chenqiao/lidu']}"},
    )
    assert queue.status_code == 200, queue.get_data(as_text=True)
    assert incident_id in [item["id"] for item in queue.get_json()["items"]]
    staff_id = register_staff("li.mei", LIDU, "李梅")
    volunteer, _ = services.tokens.create(Role.FIELD, LIDU, staff_id)
    ours(volunteer, incident_id, "claim")
    shown = follows(app, follower, incident_id)
    assert shown["status"] == "open" and shown["agency_responsible"] == "丽都社区", shown
    assert "处理中" in shown["status_notes"], shown
    claimed_at = shown["updated_datetime"]

    # Resolved there: closed for Open311, our status and the resolution in the notes.
    resolution = "已清理楼道杂物,消除隐患"
    ours(volunteer, incident_id, "resolve", {"summary": resolution, "signed_off_by": "王主任"})
    shown = follows(app, follower, incident_id)
    assert shown["status"] == "closed", shown
    assert "已办结" in shown["status_notes"] and resolution in shown["status_notes"], shown
    assert shown["updated_datetime"] > claimed_at
    assert "expected_datetime" not in shown or shown["expected_datetime"] is None

    # Listed too, closed, by status and by service code.
    listed = follower.json("/requests", status="closed", service_code="complaint")
    assert [r["service_request_id"] for r in listed] == [incident_id]
    assert follower.json("/requests", status="open") == []
    assert [r["service_request_id"] for r in follower.xml("/requests")] == [incident_id]

    # Nothing any Open311 answer carried names the reporter, the phone or the street.
    seen = "\n".join(follower.seen)
    for secret in SECRETS:
        assert secret not in seen, secret


def test_open311_output_has_no_resident_data_and_no_non_public_order(
    app: Flask,
    client: FlaskClient,
    tokens: dict[str, str],
    catch_up: Callable[[], int],
) -> None:
    services = app.extensions["coordination"]
    api_key, _ = services.tokens.create(Role.OPEN311, "gangwen", "client")
    follower = Follower(client, catch_up, tokens["dispatcher@gangwen"])

    def file(**form: str) -> str:
        base = {"api_key": api_key, "last_name": "张", "first_name": "三", "phone": PHONE}
        posted = client.post(f"{V2}/requests.xml", data={**base, **form})
        assert posted.status_code == 201, posted.get_data(as_text=True)
        follower.seen.append(posted.get_data(as_text=True))
        root = ET.fromstring(posted.get_data())
        found = root.findtext("request/service_request_id")
        assert found, posted.get_data(as_text=True)
        return found

    # A public order whose address string is a street address: Open311 shows the place.
    public = file(service_code="tip", address_string=STREET, description="建议增设消毒点")
    ours = follower.ours(public)
    assert ours["address"] == STREET, ours  # we keep it; Open311 never shows it
    # Non-public: a delivery to a household under home quarantine, filed through Open311, and
    # a quarantine visit reported through our API.
    hidden = file(
        service_code="supply_delivery",
        address_string="丽都花园",
        **{
            "attribute[item]": "口罩",
            "attribute[quantity]": "20",
            "attribute[home_quarantine]": "true",
        },
    )
    visit = client.post(
        "/incidents",
        json=report_body("quarantine_visit", place="丽都"),
        headers={"Authorization": f"Bearer {tokens['dispatcher@gangwen']}"},
    )
    assert visit.status_code == 201, visit.get_data(as_text=True)
    visit_id = visit.get_json()["id"]

    for fmt in ("json", "xml"):
        listed = follower.json("/requests") if fmt == "json" else follower.xml("/requests")
        assert [r["service_request_id"] for r in listed] == [public], listed
        (shown,) = follower.json(f"/requests/{public}")
        assert shown["address"] == "丽都花园", shown
        for hidden_id in (hidden, visit_id):
            if fmt == "json":
                assert follower.json(f"/requests/{hidden_id}") == []
            else:
                assert follower.xml(f"/requests/{hidden_id}") == []
        by_ids = ",".join((public, hidden, visit_id))
        asked = follower.json("/requests", service_request_id=by_ids)
        assert [r["service_request_id"] for r in asked] == [public], asked
    assert follower.json("/requests", service_code="supply_delivery") == []

    seen = "\n".join(follower.seen)
    for secret in (*SECRETS, "李四", "13987654321"):
        assert secret not in seen, secret
