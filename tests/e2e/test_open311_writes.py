"""Open311 POST requests: a form with an api_key files an order that our dispatchers see.

Through ``POST /open311/v2/requests.{json,xml}`` (form-urlencoded, as the spec has it) an
``open311`` client's key files orders located by place name or by lat/long; they are the same
orders ``POST /incidents`` makes (read back through our own API). Bad input is answered in the
spec's error shape with the spec's status, and writes nothing to the log.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from coordination.cli import main
from coordination.domain.access import Role

DISTRICT = "gangwen"
CHENQIAO = "gangwen/chenqiao"
LIDU = "gangwen/chenqiao/lidu"
INSIDE_LIDU = {"lat": "31.225", "long": "121.415"}  # the demo's rough boundaries (gangwen.json)


@pytest.fixture
def api_key(app: Flask) -> str:
    secret, _ = app.extensions["coordination"].tokens.create(Role.OPEN311, DISTRICT, "fix-app")
    return secret


@pytest.fixture
def post(client: FlaskClient, api_key: str) -> Callable[..., Any]:
    """post(fmt="json", headers=None, **form): the form (with the client's api_key unless
    given) posted as application/x-www-form-urlencoded."""

    def send(fmt: str = "json", headers: dict[str, str] | None = None, **form: Any) -> Any:
        data = {"api_key": api_key, **form}
        data = {k: v for k, v in data.items() if v is not None}
        return client.post(f"/open311/v2/requests.{fmt}", data=data, headers=headers or {})

    return send


def head(app: Flask) -> int:
    store = app.extensions["coordination"].store
    return int(store.head(DISTRICT))


def created_id(response: Any, fmt: str = "json") -> str:
    assert response.status_code == 201, response.get_data(as_text=True)
    if fmt == "xml":
        assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
        text = response.get_data()
        assert text.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
        root = ET.fromstring(text)
        assert root.tag == "service_requests"
        (request,) = list(root)
        assert request.tag == "request"
        assert request.findtext("account_id") in ("", None)
        assert request.findtext("service_notice")
        found = request.findtext("service_request_id")
        assert found
        return found
    body = response.get_json()
    assert isinstance(body, list) and len(body) == 1, body
    (answer,) = body
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}, answer
    assert answer["account_id"] is None
    assert isinstance(answer["service_request_id"], str)
    return str(answer["service_request_id"])


def spec_error(response: Any, status: int, fmt: str = "json", *words: str) -> str:
    """The spec's error shape with this status; the description names ``words``."""
    assert response.status_code == status, (response.status_code, response.get_data())
    if fmt == "xml":
        assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
        root = ET.fromstring(response.get_data())
        assert root.tag == "errors"
        (error,) = list(root)
        assert error.findtext("code") == str(status)
        description = error.findtext("description") or ""
    else:
        body = response.get_json()
        assert isinstance(body, list) and len(body) == 1, body
        assert set(body[0]) == {"code", "description"}, body
        assert body[0]["code"] == status
        description = body[0]["description"]
    assert description
    for word in words:
        assert word in description, (word, description)
    return str(description)


# --- filing orders ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_supply_delivery_posted_is_an_order_the_dispatcher_sees(
    post: Callable[..., Any], http: Any, fmt: str
) -> None:
    response = post(
        fmt,
        service_code="supply_delivery",
        address_string="丽都花园",
        description="家中老人需要口罩",
        first_name="三",
        last_name="张",
        phone="13812345678",
        email="zhang@example.com",
        **{
            "attribute[item]": "口罩",
            "attribute[quantity]": "20",
            "attribute[home_quarantine]": "true",
        },
    )
    incident_id = created_id(response, fmt)
    seen = http.ok(http.get("dispatcher@gangwen", incident_id))
    assert seen["id"] == incident_id
    assert seen["kind"] == "supply_delivery"
    assert seen["place"] == "丽都花园"
    assert seen["place_unit"] == LIDU
    assert seen["unit"] == CHENQIAO  # routed to the street that owns the place
    assert seen["home_quarantine"] is True
    assert [(i["item"], i["quantity"]) for i in seen["items"]] == [("口罩", 20)]
    assert seen["reporter"] == {"name": "张三", "phone": "13812345678"}
    assert seen["title"].startswith("物资配送")
    assert seen["description"] == "家中老人需要口罩"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_complaint_is_a_work_order_of_its_category(
    post: Callable[..., Any], http: Any, fmt: str
) -> None:
    incident_id = created_id(
        post(fmt, service_code="complaint", address_string="永和佳苑", description="噪音扰民"),
        fmt,
    )
    seen = http.ok(http.get("dispatcher@gangwen", incident_id))
    assert (seen["kind"], seen["category"]) == ("work_order", "complaint")
    assert seen["place_unit"] == "gangwen/chenqiao/yonghe"
    # No name, no phone: the reporter is anonymous (匿名) with no phone.
    assert seen["reporter"] == {"name": "匿名", "phone": ""}


def test_a_longer_address_resolves_by_the_place_it_names(
    post: Callable[..., Any], http: Any
) -> None:
    incident_id = created_id(
        post(service_code="tip", address_string="丽都花园3栋201室", description="线索")
    )
    seen = http.ok(http.get("dispatcher@gangwen", incident_id))
    assert (seen["place"], seen["place_unit"]) == ("丽都花园", LIDU)
    assert seen["address"] == "丽都花园3栋201室"


def test_a_point_inside_lidu_routes_as_lidu_huayuan_does(
    post: Callable[..., Any], http: Any
) -> None:
    by_point = created_id(post(service_code="consultation", description="咨询", **INSIDE_LIDU))
    by_name = created_id(
        post(service_code="consultation", description="咨询", address_string="丽都花园")
    )
    point = http.ok(http.get("dispatcher@gangwen", by_point))
    name = http.ok(http.get("dispatcher@gangwen", by_name))
    assert point["place_unit"] == name["place_unit"] == LIDU
    assert point["unit"] == name["unit"] == CHENQIAO
    assert point["address"] == "31.225000,121.415000"


def test_an_unknown_address_falls_back_on_the_point(post: Callable[..., Any], http: Any) -> None:
    incident_id = created_id(
        post(service_code="tip", address_string="某某路88号", description="线索", **INSIDE_LIDU)
    )
    seen = http.ok(http.get("dispatcher@gangwen", incident_id))
    assert seen["place_unit"] == LIDU
    assert seen["address"].startswith("某某路88号")


def test_the_same_idempotency_key_twice_is_one_order(post: Callable[..., Any], app: Flask) -> None:
    form = {"service_code": "complaint", "address_string": "丽都花园", "description": "噪音"}
    key = {"Idempotency-Key": "client-42"}
    first = post(headers=key, **form)
    before = head(app)
    second = post(headers=key, **form)
    assert created_id(first) == created_id(second)
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert head(app) == before
    # Without a key, each post is an order of its own.
    assert created_id(post(**form)) != created_id(post(**form))


def test_a_reused_idempotency_key_with_another_form_is_refused(
    post: Callable[..., Any], app: Flask
) -> None:
    key = {"Idempotency-Key": "client-43"}
    created_id(post(headers=key, service_code="tip", address_string="丽都", description="一"))
    before = head(app)
    response = post(headers=key, service_code="tip", address_string="丽都", description="二")
    spec_error(response, 400, "json", "Idempotency-Key")
    assert head(app) == before


# --- bad input ---------------------------------------------------------------------------------

GOOD: dict[str, str] = {
    "service_code": "complaint",
    "address_string": "丽都花园",
    "description": "噪音扰民",
}
DELIVERY = {
    "service_code": "supply_delivery",
    "address_string": "丽都花园",
    "attribute[item]": "口罩",
    "attribute[quantity]": "5",
}

BAD: dict[str, tuple[dict[str, Any], int, tuple[str, ...]]] = {
    "missing service_code": ({**GOOD, "service_code": None}, 400, ("service_code",)),
    "empty service_code": ({**GOOD, "service_code": ""}, 400, ("service_code",)),
    "unknown service_code": ({**GOOD, "service_code": "pothole"}, 404, ("service_code",)),
    "a quarantine visit": ({**GOOD, "service_code": "quarantine_visit"}, 404, ("service_code",)),
    "missing location": ({**GOOD, "address_string": None}, 400, ("lat", "long", "address")),
    "address_id only": (
        {**GOOD, "address_string": None, "address_id": "12"},
        400,
        ("address_string",),
    ),
    "unknown place": ({**GOOD, "address_string": "火星基地"}, 400, ("火星基地",)),
    "lat without long": (
        {**GOOD, "address_string": None, "lat": "31.225"},
        400,
        ("long",),
    ),
    "lat not a number": (
        {**GOOD, "address_string": None, "lat": "north", "long": "121.415"},
        400,
        ("lat",),
    ),
    "lat out of range": (
        {**GOOD, "address_string": None, "lat": "91", "long": "121.415"},
        400,
        ("lat",),
    ),
    "a point outside every community": (
        {**GOOD, "address_string": None, "lat": "39.9", "long": "116.4"},
        400,
        ("lat/long",),
    ),
    "description over 4,000 characters": (
        {**GOOD, "description": "长" * 4001},
        400,
        ("description", "4,000"),
    ),
    "unknown jurisdiction_id": ({**GOOD, "jurisdiction_id": "nowhere"}, 404, ("jurisdiction_id",)),
    "missing item": ({**DELIVERY, "attribute[item]": None}, 400, ("attribute[item]",)),
    "missing quantity": ({**DELIVERY, "attribute[quantity]": None}, 400, ("attribute[quantity]",)),
    "item not in the catalogue": (
        {**DELIVERY, "attribute[item]": "黄金"},
        400,
        ("attribute[item]", "黄金"),
    ),
    "quantity not whole": (
        {**DELIVERY, "attribute[quantity]": "2.5"},
        400,
        ("attribute[quantity]",),
    ),
    "quantity zero": ({**DELIVERY, "attribute[quantity]": "0"}, 400, ("attribute[quantity]",)),
    "home_quarantine not a key": (
        {**DELIVERY, "attribute[home_quarantine]": "maybe"},
        400,
        ("attribute[home_quarantine]",),
    ),
    "a bad phone": ({**GOOD, "phone": "call me"}, 400, ("phone",)),
    "the whole district as the place": ({**GOOD, "address_string": "gangwen"}, 400, ("place",)),
}


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_the_spec_error_and_writes_nothing(
    post: Callable[..., Any], app: Flask, case: str, fmt: str
) -> None:
    form, status, words = BAD[case]
    before = head(app)
    spec_error(post(fmt, **form), status, fmt, *words)
    assert head(app) == before


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_bad_api_key_is_403(client: FlaskClient, app: Flask, fmt: str) -> None:
    before = head(app)
    for form in ({**GOOD, "api_key": "cdn_not-a-key"}, GOOD):
        response = client.post(f"/open311/v2/requests.{fmt}", data=form)
        spec_error(response, 403, fmt, "api_key")
    assert head(app) == before


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_dispatchers_token_is_no_api_key(
    client: FlaskClient, app: Flask, tokens: dict[str, str], fmt: str
) -> None:
    """Our dispatcher may report, but not through Open311: the key is not an Open311 client's."""
    before = head(app)
    for label in ("dispatcher@gangwen", "admin@gangwen"):
        form = {**GOOD, "api_key": tokens[label]}
        spec_error(client.post(f"/open311/v2/requests.{fmt}", data=form), 403, fmt, "api_key")
    assert head(app) == before


def test_an_open311_key_may_not_use_our_api(client: FlaskClient, api_key: str) -> None:
    headers = {"Authorization": f"Bearer {api_key}"}
    response = client.post(
        "/incidents",
        json={
            "kind": "work_order",
            "category": "tip",
            "title": "t",
            "place": "丽都",
            "reporter": {"name": "张三", "phone": "13812345678"},
        },
        headers=headers,
    )
    assert response.status_code == 201  # it may report: the one thing its role may do
    assert client.get("/incidents", headers=headers).status_code == 403


def test_the_known_jurisdiction_id_is_taken(post: Callable[..., Any]) -> None:
    created_id(post(jurisdiction_id=DISTRICT, **GOOD))


def test_an_unknown_format_is_the_spec_error(post: Callable[..., Any], app: Flask) -> None:
    before = head(app)
    spec_error(post("yaml", **GOOD), 400, "json", "format")
    assert head(app) == before


# --- the CLI -----------------------------------------------------------------------------------


def test_the_cli_creates_an_open311_key_for_a_district_only(
    redis_url: str, app: Flask, client: FlaskClient
) -> None:
    runner = CliRunner()
    env = {"REDIS_URL": redis_url}
    args = ["tokens", "create", "--role", "open311", "--name", "fix-app"]
    refused = runner.invoke(main, [*args, "--unit", CHENQIAO], env=env)
    assert refused.exit_code != 0
    assert "district" in refused.output and "gangwen" in refused.output
    made = runner.invoke(main, [*args, "--unit", DISTRICT], env=env)
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    token = app.extensions["coordination"].tokens.lookup(secret)
    assert token is not None and token.role is Role.OPEN311 and token.unit == DISTRICT
    response = client.post("/open311/v2/requests.json", data={**GOOD, "api_key": secret})
    created_id(response)
