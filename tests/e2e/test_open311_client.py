"""A third-party Open311 client against the live server: ``georeport`` from PyPI (0.3.1, "Python
wrapper for the Open311 GeoReport v2 API", requests + xmltodict; it reads services, service
definitions and requests in JSON and XML, and files none, so orders are filed here with a plain
form POST as any client would). The older PyPI clients do not run on Python 3: ``open311`` 1.1
(2011) imports its XML helper by a Python 2 implicit relative import, ``three`` 0.8.0 (2013)
imports ``itertools.ifilter``.

The app is served over real HTTP on a free loopback port (a threaded werkzeug server, as the
dashboard page's test does). Every answer the client reads is fetched again raw: JSON validated
against the JSON Schemas of GeoReport v2 in ``tests/support/open311_schemas.py``; XML checked
byte for byte where the spec is strict (``text/xml; charset=utf-8``, the declaration, no
namespace) and parsed with a strict parser (``xml.etree.ElementTree``: a document that is not
well-formed raises), then compared field by field with the JSON.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from georeport import GeoReport
from open311_schemas import (
    DISCOVERY,
    ERRORS,
    REQUEST_POSTED,
    REQUESTS,
    SERVICE_DEFINITION,
    SERVICE_LIST,
    TOKEN,
    check,
)
from werkzeug.serving import make_server

from coordination.domain.access import Role

XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'
CODES = ["complaint", "consultation", "night_emergency", "supply_delivery", "tip"]


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    """The app served over HTTP on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/open311/v2"
    finally:
        server.shutdown()
        thread.join(10)


def strict_xml(response: requests.Response, root: str) -> ET.Element:
    """The XML answer, checked as a strict client would and parsed strictly."""
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8", response.headers
    raw = response.content
    assert raw.startswith(XML_DECLARATION), raw[:80]
    element = ET.fromstring(raw)
    assert element.tag == root, (element.tag, root)
    for each in element.iter():
        assert "{" not in each.tag and not any(k.startswith("xmlns") for k in each.attrib)
    return element


def as_json(response: requests.Response, schema: dict[str, Any]) -> Any:
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    return check(schema, response.json())


def flat(element: ET.Element) -> dict[str, str]:
    """A flat XML record as the JSON's strings (an empty element: "")."""
    return {child.tag: child.text or "" for child in element}


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@pytest.fixture
def filed(app: Flask, base_url: str, catch_up: Callable[[], int]) -> list[str]:
    """Three public orders filed over HTTP with an open311 key (the newest first)."""
    api_key, _ = app.extensions["coordination"].tokens.create(Role.OPEN311, "gangwen", "client")
    forms = [
        {"service_code": "complaint", "address_string": "丽都花园", "description": "噪音扰民"},
        {"service_code": "tip", "address_string": "望海苑", "description": "建议增设消毒点"},
        {
            "service_code": "supply_delivery",
            "address_string": "永和佳苑",
            "attribute[item]": "口罩",
            "attribute[quantity]": "30",
        },
    ]
    ids = []
    for form in forms:
        response = requests.post(
            f"{base_url}/requests.json",
            data={"api_key": api_key, **form},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        (answer,) = as_json(response, REQUEST_POSTED)
        ids.append(answer["service_request_id"])
    catch_up()
    return ids[::-1]


def test_the_client_lists_services_and_reads_a_definition_in_json_and_xml(
    base_url: str,
) -> None:
    as_json_client = GeoReport(base_url, output_format="json")
    as_xml_client = GeoReport(base_url, output_format="xml")

    listed = as_json_client.get_service_list()
    check(SERVICE_LIST, listed)
    assert sorted(s["service_code"] for s in listed) == CODES
    names = {s["service_code"]: s["service_name"] for s in listed}
    assert names["supply_delivery"] == "物资配送" and names["complaint"] == "投诉"
    assert {s["service_code"] for s in listed if s["metadata"]} == {"supply_delivery"}

    from_xml = as_xml_client.get_service_list()  # xmltodict: every leaf a string
    assert [flat_dict(s) for s in from_xml] == [{k: text(v) for k, v in s.items()} for s in listed]

    definition = as_json_client.get_service_definition("supply_delivery")
    check(SERVICE_DEFINITION, definition)
    attributes = {a["code"]: a for a in definition["attributes"]}
    assert list(attributes) == ["item", "quantity", "home_quarantine"]
    assert attributes["quantity"]["datatype"] == "number" and attributes["item"]["required"]
    assert "口罩" in [v["key"] for v in attributes["item"]["values"]]
    assert [(v["key"], v["name"]) for v in attributes["home_quarantine"]["values"]] == [
        ("true", "是"),
        ("false", "否"),
    ]
    xml_definition = as_xml_client.get_service_definition("supply_delivery")
    assert xml_definition["service_code"] == "supply_delivery"
    xml_attributes = xml_definition["attributes"]["attribute"]
    assert [a["code"] for a in xml_attributes] == ["item", "quantity", "home_quarantine"]
    assert [v["key"] for v in xml_attributes[2]["values"]["value"]] == ["true", "false"]

    # The same answers raw: the schemas, and XML as strict clients read it.
    for path, schema, root in (
        ("services", SERVICE_LIST, "services"),
        ("services/supply_delivery", SERVICE_DEFINITION, "service_definition"),
        ("discovery", DISCOVERY, "discovery"),
    ):
        as_json(requests.get(f"{base_url}/{path}.json", timeout=10), schema)
        strict_xml(requests.get(f"{base_url}/{path}.xml", timeout=10), root)
    services_xml = strict_xml(requests.get(f"{base_url}/services.xml", timeout=10), "services")
    assert [flat(s) for s in services_xml] == [{k: text(v) for k, v in s.items()} for s in listed]


def flat_dict(record: Any) -> dict[str, str]:
    """An xmltodict record, empty elements (None) as ""."""
    return {k: "" if v is None else str(v) for k, v in record.items()}


def test_the_client_reads_requests_in_json_and_xml(base_url: str, filed: list[str]) -> None:
    as_json_client = GeoReport(base_url, output_format="json")
    as_xml_client = GeoReport(base_url, output_format="xml")

    listed = as_json_client.get_service_requests()
    check(REQUESTS, listed)
    assert [r["service_request_id"] for r in listed] == filed
    by_id = {r["service_request_id"]: r for r in listed}
    assert {r["status"] for r in listed} == {"open"}
    assert by_id[filed[-1]]["address"] == "丽都花园"
    assert by_id[filed[-1]]["agency_responsible"] == "陈桥街道"

    from_xml = as_xml_client.get_service_requests()
    assert [flat_dict(r) for r in from_xml] == [{k: text(v) for k, v in r.items()} for r in listed]

    # Filters: ids (comma-delimited, overriding the rest), service codes, status, dates.
    some = as_json_client.get_service_requests(
        service_request_id=",".join(filed[:2]), status="closed"
    )
    assert [r["service_request_id"] for r in some] == filed[:2]
    tips = as_json_client.get_service_requests(service_code="tip,complaint")
    assert [r["service_code"] for r in tips] == ["tip", "complaint"]
    assert as_json_client.get_service_requests(status="closed") == []

    one = as_json_client.get_service_request(filed[0])
    assert one == by_id[filed[0]]
    one_xml = as_xml_client.get_service_request(filed[0])
    assert flat_dict(one_xml) == {k: text(v) for k, v in one.items()}

    # Raw: the schemas, strict XML agreeing with JSON, pagination, tokens.
    for path in ("requests", f"requests/{filed[1]}"):
        answer = as_json(requests.get(f"{base_url}/{path}.json", timeout=10), REQUESTS)
        root = strict_xml(requests.get(f"{base_url}/{path}.xml", timeout=10), "service_requests")
        assert [e.tag for e in root] == ["request"] * len(answer)
        assert [flat(e) for e in root] == [{k: text(v) for k, v in r.items()} for r in answer]
    pages = [
        as_json(
            requests.get(
                f"{base_url}/requests.json", params={"page": p, "page_size": 2}, timeout=10
            ),
            REQUESTS,
        )
        for p in (1, 2, 3)
    ]
    assert [[r["service_request_id"] for r in page] for page in pages] == [
        filed[:2],
        filed[2:],
        [],
    ]
    token = as_json(requests.get(f"{base_url}/tokens/{filed[0]}.json", timeout=10), TOKEN)
    assert token == [{"service_request_id": filed[0], "token": filed[0]}]
    strict_xml(requests.get(f"{base_url}/tokens/{filed[0]}.xml", timeout=10), "service_requests")


def test_a_window_of_the_shown_requested_datetimes_holds_those_requests(
    base_url: str, filed: list[str]
) -> None:
    """The spec: start_date/end_date select the requests whose requested_datetime "matches a
    given range"; a client that asks for the range of the times it was shown (whole seconds)
    gets those requests back, the last one included."""
    client = GeoReport(base_url, output_format="json")
    listed = client.get_service_requests()
    dated = client.get_service_requests(
        start_date=listed[-1]["requested_datetime"], end_date=listed[0]["requested_datetime"]
    )
    assert [r["service_request_id"] for r in dated] == filed
    # A window of one shown second holds every request shown at that second.
    newest = listed[0]["requested_datetime"]
    same_second = [r["service_request_id"] for r in listed if r["requested_datetime"] == newest]
    at_newest = client.get_service_requests(start_date=newest, end_date=newest)
    assert [r["service_request_id"] for r in at_newest] == same_second
    assert filed[0] in same_second


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_errors_reach_the_client_in_the_spec_shape(base_url: str, fmt: str) -> None:
    cases = [
        ("get", "services/no_such_service", {}, 404),
        ("get", "requests", {"start_date": "yesterday"}, 400),
        (
            "get",
            "requests",
            {"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-06-01T00:00:00+08:00"},
            400,
        ),
        ("get", "services", {"jurisdiction_id": "elsewhere"}, 404),
        ("post", "requests", {"api_key": "not-a-key", "service_code": "tip"}, 403),
    ]
    for method, path, fields, status in cases:
        url = f"{base_url}/{path}.{fmt}"
        if method == "get":
            response = requests.get(url, params=fields, timeout=10)
        else:
            response = requests.post(url, data=fields, timeout=10)
        assert response.status_code == status, (path, response.status_code, response.text)
        if fmt == "json":
            (error,) = as_json(response, ERRORS)
            assert error["code"] == status
        else:
            root = strict_xml(response, "errors")
            assert [e.tag for e in root] == ["error"]
            assert root.findtext("error/code") == str(status)
            assert root.findtext("error/description")
    # georeport raises for an error status, as a client library should.
    with pytest.raises(requests.HTTPError):
        GeoReport(base_url, output_format=fmt).get_service_definition("no_such_service")
