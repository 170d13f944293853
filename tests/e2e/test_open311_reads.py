"""Open311 GeoReport v2 reads through the Flask test client: discovery, services, a service
definition, requests (each filter, pagination, the 90-day span), by id, tokens, privacy, and
errors in the spec's shape, in JSON and in XML (parsed strictly)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis as redis_lib
from clock import SHANGHAI, Clock
from flask import Flask
from supplies import stock_up

from coordination.api.app import create_app
from coordination.config import Config

T = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)  # a Monday morning in Beijing
V2 = "/open311/v2"
DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
RESIDENT = ("张三", "13812345678", "丽都花园3栋201室", "李四", "13987654321")


@pytest.fixture
def clock() -> Clock:
    return Clock(T)


@pytest.fixture
def app(redis_url: str, redis: redis_lib.Redis, clock: Clock) -> Flask:
    """The conftest's app, on a clock the test moves (orders reported on different days)."""
    application = create_app(Config(redis_url=redis_url), redis=redis, clock=clock)
    application.config["TESTING"] = True
    stock_up(application.extensions["coordination"])
    return application


def get(client: Any, path: str, **query: Any) -> Any:
    return client.get(V2 + path, query_string=query)


def as_json(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.get_data(as_text=True))


def as_xml(response: Any, root: str, status: int = 200) -> ET.Element:
    """The body parsed strictly (any malformed byte raises), with the declaration, the content
    type and no namespace checked."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    raw = response.get_data()
    assert raw.startswith(DECLARATION), raw[:60]
    parser = ET.XMLParser(encoding="utf-8")
    parser.feed(raw)
    element = parser.close()
    assert element.tag == root
    assert all("{" not in e.tag for e in element.iter()), "no namespace"
    assert b"xmlns" not in raw
    return element


def children(element: ET.Element, name: str) -> list[dict[str, str]]:
    """Each ``name`` child as {its element children's names: text}."""
    return [{c.tag: c.text or "" for c in each} for each in element.findall(name)]


def assert_error(response: Any, status: int, fmt: str = "json") -> str:
    if fmt == "xml":
        root = as_xml(response, "errors", status)
        errors = root.findall("error")
        assert len(errors) == 1 and [c.tag for c in errors[0]] == ["code", "description"]
        assert errors[0].findtext("code") == str(status)
        description = errors[0].findtext("description") or ""
    else:
        body = as_json(response, status)
        assert isinstance(body, list) and len(body) == 1, body
        assert set(body[0]) == {"code", "description"}, body
        assert body[0]["code"] == status
        description = body[0]["description"]
    assert description
    return description


@pytest.fixture
def orders(
    http: Any, report_body: Callable[..., dict[str, Any]], catch_up: Callable[[], int], clock: Clock
) -> dict[str, str]:
    """One order of each kind, reported a day apart (the earliest first), by name."""
    bodies = {
        "consultation": report_body(),
        "tip": report_body(category="tip", place="丽都花园"),
        "complaint": report_body(category="complaint", place="gangwen/binjiang/wanghai"),
        "delivery": report_body("supply_delivery"),
        "night": report_body("night_emergency"),
        "visit": report_body("quarantine_visit"),
        "quarantined_delivery": report_body("supply_delivery", home_quarantine=True),
    }
    made = {}
    for n, (name, body) in enumerate(bodies.items()):
        clock.now = T + timedelta(days=n)
        made[name] = http.ok(http.report("dispatcher@gangwen", body), 201)["id"]
    clock.now = T + timedelta(days=len(bodies))
    catch_up()
    return made


# --- discovery and services -------------------------------------------------------------


def test_discovery_in_json_and_xml(client: Any) -> None:
    body = as_json(get(client, "/discovery.json"))
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    assert {"changeset", "contact", "key_service"} <= body.keys()

    root = as_xml(get(client, "/discovery.xml"), "discovery")
    formats = [f.text for f in root.findall("endpoints/endpoint/formats/format")]
    assert formats == ["text/xml", "application/json"]
    assert root.findtext("endpoints/endpoint/type") == "production"


def test_services_list_our_five_services_in_json_and_xml(client: Any) -> None:
    body = as_json(get(client, "/services.json"))
    by_code = {s["service_code"]: s for s in body}
    assert list(by_code) == [
        "consultation",
        "tip",
        "complaint",
        "supply_delivery",
        "night_emergency",
    ]
    assert by_code["consultation"]["service_name"] == "咨询"
    assert by_code["consultation"]["group"] == "热线工单"
    assert by_code["supply_delivery"]["group"] == "疫情防控"
    assert by_code["supply_delivery"]["metadata"] is True
    assert by_code["tip"]["metadata"] is False
    assert all(s["type"] in ("realtime", "batch", "blackbox") for s in body)
    assert "quarantine_visit" not in by_code

    root = as_xml(get(client, "/services.xml", jurisdiction_id="gangwen"), "services")
    services = children(root, "service")
    assert [s["service_code"] for s in services] == list(by_code)
    assert set(services[0]) == {
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    }
    assert {s["service_code"]: s["metadata"] for s in services}["supply_delivery"] == "true"


def test_a_service_definition_lists_its_attributes(client: Any) -> None:
    body = as_json(get(client, "/services/supply_delivery.json"))
    assert body["service_code"] == "supply_delivery"
    attributes = {a["code"]: a for a in body["attributes"]}
    assert list(attributes) == ["item", "quantity", "home_quarantine"]
    item = attributes["item"]
    assert item["datatype"] == "singlevaluelist" and item["required"] is True
    assert item["variable"] is True and item["order"] == 1
    assert {"key": "口罩", "name": "口罩"} in item["values"]
    assert attributes["quantity"]["datatype"] == "number"
    assert attributes["home_quarantine"]["values"] == [
        {"key": "true", "name": "是"},
        {"key": "false", "name": "否"},
    ]
    assert attributes["home_quarantine"]["required"] is False

    root = as_xml(get(client, "/services/supply_delivery.xml"), "service_definition")
    assert root.findtext("service_code") == "supply_delivery"
    codes = [a.findtext("code") for a in root.findall("attributes/attribute")]
    assert codes == ["item", "quantity", "home_quarantine"]
    keys = [v.findtext("key") for v in root.findall("attributes/attribute/values/value")]
    assert "口罩" in keys and "true" in keys


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("code", ["tip", "nope", "quarantine_visit"])
def test_a_service_without_a_definition_is_a_404(client: Any, code: str, fmt: str) -> None:
    assert_error(get(client, f"/services/{code}.{fmt}"), 404, fmt)


# --- requests ---------------------------------------------------------------------------


def test_requests_list_public_orders_with_the_specs_fields(
    client: Any, orders: dict[str, str]
) -> None:
    body = as_json(get(client, "/requests.json"))
    ids = [r["service_request_id"] for r in body]
    public = ["night", "delivery", "complaint", "tip", "consultation"]  # latest reported first
    assert ids == [orders[n] for n in public]
    for entry in body:
        assert set(entry) <= REQUEST_FIELDS, set(entry) - REQUEST_FIELDS
        assert entry["status"] == "open"
        assert entry["requested_datetime"].endswith("+08:00")
        assert isinstance(entry["service_request_id"], str)
    consultation = body[-1]
    assert consultation["service_code"] == "consultation"
    assert consultation["service_name"] == "咨询"
    assert consultation["requested_datetime"] == "2026-03-02T10:00:00+08:00"
    assert consultation["address"] == "丽都"
    assert consultation["agency_responsible"] == "陈桥街道"
    assert consultation["status_notes"].startswith("已派发")
    assert consultation["expected_datetime"].endswith("+08:00")
    assert "lat" not in consultation and "long" not in consultation
    assert body[0]["service_code"] == "night_emergency"
    by_code = {r["service_code"]: r for r in body}
    assert by_code["tip"]["address"] == "丽都花园"  # a place name as given
    assert by_code["complaint"]["address"] == "望海社区"  # a unit: its name
    assert by_code["complaint"]["agency_responsible"] == "滨江街道"

    root = as_xml(get(client, "/requests.xml"), "service_requests")
    entries = children(root, "request")
    assert [e["service_request_id"] for e in entries] == ids
    assert entries[-1]["requested_datetime"] == "2026-03-02T10:00:00+08:00"


def test_the_service_request_id_list_overrides_the_other_filters(
    client: Any, orders: dict[str, str]
) -> None:
    wanted = f"{orders['tip']},{orders['visit']},nonsense,{orders['complaint']}"
    body = as_json(get(client, "/requests.json", service_request_id=wanted, status="closed"))
    assert [r["service_request_id"] for r in body] == [orders["tip"], orders["complaint"]]


def test_filter_by_service_code_list(client: Any, orders: dict[str, str]) -> None:
    body = as_json(get(client, "/requests.json", service_code="tip,supply_delivery"))
    assert [r["service_request_id"] for r in body] == [orders["delivery"], orders["tip"]]
    assert_error(get(client, "/requests.json", service_code="tip,nope"), 400)


def test_filter_by_dates(client: Any, orders: dict[str, str]) -> None:
    # consultation on 03-02, tip 03-03, complaint 03-04, delivery 03-05, night 03-06.
    body = as_json(get(client, "/requests.json", start_date="2026-03-03", end_date="2026-03-04"))
    assert [r["service_request_id"] for r in body] == [orders["complaint"], orders["tip"]]
    body = as_json(
        get(
            client,
            "/requests.json",
            start_date="2026-03-05T00:00:00+08:00",
            end_date="2026-03-05T02:00:00Z",
        )
    )
    assert [r["service_request_id"] for r in body] == [orders["delivery"]]
    only_end = as_json(get(client, "/requests.json", end_date="2026-03-02"))
    assert [r["service_request_id"] for r in only_end] == [orders["consultation"]]
    only_start = as_json(get(client, "/requests.json", start_date="2026-03-06"))
    assert [r["service_request_id"] for r in only_start] == [orders["night"]]
    assert as_json(get(client, "/requests.json", start_date="2025-01-01")) == []


def test_filter_by_status(
    client: Any, orders: dict[str, str], http: Any, valid_bodies: dict[str, Any]
) -> None:
    tip = orders["tip"]
    for action, who in [
        ("sign-for", "handler@gangwen/chenqiao"),
        ("hand-down", "handler@gangwen/chenqiao"),
        ("resolve", "handler@gangwen/chenqiao"),
    ]:
        http.ok(http.act(who, tip, action, valid_bodies[action]))
    http.catch_up()
    closed = as_json(get(client, "/requests.json", status="closed"))
    assert [r["service_request_id"] for r in closed] == [tip]
    assert closed[0]["status_notes"] == "已办结,待回访;办理结果:已处理完毕"
    assert "expected_datetime" not in closed[0]
    assert closed[0]["agency_responsible"] == "丽都社区"
    opened = as_json(get(client, "/requests.json", status="open"))
    assert tip not in [r["service_request_id"] for r in opened] and len(opened) == 4
    both = as_json(get(client, "/requests.json", status="open,closed"))
    assert len(both) == 5
    assert_error(get(client, "/requests.json", status="pending"), 400)


def test_pagination(client: Any, orders: dict[str, str]) -> None:
    everything = [r["service_request_id"] for r in as_json(get(client, "/requests.json"))]
    pages = [
        [
            r["service_request_id"]
            for r in as_json(get(client, "/requests.json", page=n, page_size=2))
        ]
        for n in (1, 2, 3, 4)
    ]
    assert pages[0] + pages[1] + pages[2] == everything
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    by_id = ",".join(everything)
    assert len(as_json(get(client, "/requests.json", service_request_id=by_id, page_size=3))) == 3
    for bad in ({"page": "0"}, {"page_size": "1001"}, {"page": "x"}, {"page_size": "-1"}):
        assert_error(get(client, "/requests.json", **bad), 400)


def test_the_default_is_the_last_90_days(client: Any, orders: dict[str, str], clock: Clock) -> None:
    clock.now = T + timedelta(days=91, hours=12)  # the consultation and the tip fall out
    ids = [r["service_request_id"] for r in as_json(get(client, "/requests.json"))]
    assert ids == [orders["night"], orders["delivery"], orders["complaint"]]


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    "query",
    [
        {"start_date": "2026-01-01", "end_date": "2026-04-02"},  # 91 days
        {"start_date": "2026-03-05", "end_date": "2026-03-03"},
        {"start_date": "yesterday"},
        {"end_date": "2026-13-01"},
        {"start_date": "2026-03-04T25:00:00+08:00"},
        {"start_date": "2026-03-04 08:00"},
        {"start_date": "9999-12-31"},
        {"end_date": "0001-01-01"},
    ],
)
def test_bad_dates_are_400(client: Any, query: dict[str, str], fmt: str) -> None:
    assert_error(get(client, f"/requests.{fmt}", **query), 400, fmt)


def test_one_request_by_id_is_a_list_of_one(client: Any, orders: dict[str, str]) -> None:
    body = as_json(get(client, f"/requests/{orders['tip']}.json"))
    assert len(body) == 1 and body[0]["service_request_id"] == orders["tip"]
    assert body[0]["address"] == "丽都花园"
    root = as_xml(get(client, f"/requests/{orders['tip']}.xml"), "service_requests")
    assert [e["service_code"] for e in children(root, "request")] == ["tip"]
    for unknown in ("gangwen-20260302-9999", "nonsense", "mars-20260302-0001"):
        assert as_json(get(client, f"/requests/{unknown}.json")) == []
        assert (
            children(as_xml(get(client, f"/requests/{unknown}.xml"), "service_requests"), "request")
            == []
        )


def test_tokens_are_the_request_ids(client: Any, orders: dict[str, str]) -> None:
    tip = orders["tip"]
    assert as_json(get(client, f"/tokens/{tip}.json")) == [
        {"service_request_id": tip, "token": tip}
    ]
    root = as_xml(get(client, f"/tokens/{tip}.xml"), "service_requests")
    assert children(root, "request") == [{"service_request_id": tip, "token": tip}]
    assert as_json(get(client, "/tokens/nope.json")) == []
    assert as_json(get(client, f"/tokens/{orders['visit']}.json")) == []


# --- privacy ----------------------------------------------------------------------------


def test_non_public_orders_are_never_shown(client: Any, orders: dict[str, str]) -> None:
    hidden = [orders["visit"], orders["quarantined_delivery"]]
    for fmt in ("json", "xml"):
        listed = get(client, f"/requests.{fmt}").get_data(as_text=True)
        by_ids = get(client, f"/requests.{fmt}", service_request_id=",".join(hidden))
        for incident_id in hidden:
            assert incident_id not in listed
            assert incident_id not in by_ids.get_data(as_text=True)
            by_id = get(client, f"/requests/{incident_id}.{fmt}")
            assert by_id.status_code == 200 and incident_id not in by_id.get_data(as_text=True)
    assert as_json(get(client, f"/requests/{orders['visit']}.json")) == []
    assert as_json(get(client, f"/requests/{orders['quarantined_delivery']}.json")) == []


def test_no_residents_name_phone_or_address_anywhere(
    client: Any,
    http: Any,
    report_body: Callable[..., dict[str, Any]],
    orders: dict[str, str],
    catch_up: Callable[[], int],
) -> None:
    chatty = report_body(description="张三(13812345678)说丽都花园3栋201室楼道灯坏了")
    http.ok(http.report("dispatcher@gangwen", chatty), 201)
    catch_up()
    bodies = []
    for fmt in ("json", "xml"):
        bodies.append(get(client, f"/requests.{fmt}").get_data(as_text=True))
        for incident_id in orders.values():
            bodies.append(get(client, f"/requests/{incident_id}.{fmt}").get_data(as_text=True))
    text = "\n".join(bodies)
    assert "楼道灯坏了" in text  # the chatty one is there, cleaned
    for secret in RESIDENT:
        assert secret not in text, secret


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_errors_are_in_the_specs_shape(client: Any, fmt: str) -> None:
    assert "jurisdiction_id" in assert_error(
        get(client, f"/requests.{fmt}", jurisdiction_id="mars"), 404, fmt
    )
    assert_error(get(client, f"/services.{fmt}", jurisdiction_id="mars"), 404, fmt)
    assert_error(get(client, f"/no-such-thing.{fmt}"), 404, fmt)
    assert_error(client.delete(f"{V2}/services.{fmt}"), 405, fmt)


def test_an_unknown_format_is_a_400_and_unknown_paths_stay_ours(client: Any) -> None:
    assert_error(get(client, "/services.html"), 400)
    assert_error(get(client, "/requests/x.yaml"), 400)
    assert_error(get(client, ""), 404)
    outside = client.get("/no-such-thing")  # our own API keeps its own error shape
    assert outside.status_code == 404 and isinstance(outside.get_json(), dict)


def test_control_characters_never_break_the_xml(
    client: Any,
    http: Any,
    report_body: Callable[..., dict[str, Any]],
    catch_up: Callable[[], int],
) -> None:
    body = report_body(description="灯坏了\x01\x0b<b>&amp;</b>\ufffe")
    http.ok(http.report("dispatcher@gangwen", body), 201)
    catch_up()
    root = as_xml(get(client, "/requests.xml"), "service_requests")
    assert root.findtext("request/description") == "灯坏了<b>&amp;</b>"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unexpected_failure_is_still_in_the_specs_shape(
    client: Any, app: Flask, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.extensions["coordination"].reads, "every_incident", broken)
    assert_error(get(client, f"/requests.{fmt}"), 500, fmt)


def test_a_store_outage_is_a_503_in_the_specs_shape(
    client: Any, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: Any, **kwargs: Any) -> Any:
        raise redis_lib.exceptions.ConnectionError("connection refused")

    monkeypatch.setattr(app.extensions["coordination"].reads, "incident", down)
    response = get(client, "/requests/gangwen-20260302-0001.xml")
    assert_error(response, 503, "xml")
    assert response.headers["Retry-After"] == "1"


def test_a_window_of_shown_times_holds_requests_reported_within_their_second(
    client: Any,
    http: Any,
    report_body: Callable[..., dict[str, Any]],
    catch_up: Callable[[], int],
    clock: Clock,
) -> None:
    clock.now = T + timedelta(milliseconds=700)
    made = http.ok(http.report("dispatcher@gangwen", report_body()), 201)["id"]
    catch_up()
    (shown,) = as_json(get(client, "/requests.json"))
    assert shown["requested_datetime"] == "2026-03-02T10:00:00+08:00"
    moment = shown["requested_datetime"]
    for query in (
        {"start_date": moment, "end_date": moment},
        {"end_date": moment},
        {"start_date": moment},
    ):
        assert [
            r["service_request_id"] for r in as_json(get(client, "/requests.json", **query))
        ] == [made]
