"""Integers in bodies are integers as JSON Schema counts them: ``4079351.0`` is one, ``1.5``,
``"5"`` and ``true`` are not; and an expected version has at most the 10 digits If-Match takes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

D = "dispatcher@gangwen"
HC = "handler@gangwen/chenqiao"
LIDU = "gangwen/chenqiao/lidu"
BIGGEST = 9_999_999_999  # the 10 digits the If-Match parser takes


def post(client: Any, auth: Any, url: str, as_: str, raw: str) -> Any:
    """POST a body written by hand, so that ``2.0`` stays a JSON float and ``NaN`` is sent."""
    return client.post(url, data=raw.encode(), content_type="application/json", headers=auth(as_))


@pytest.mark.parametrize("version", ["2.0", "2", "2e0", "0.2e1"])
def test_an_integral_float_is_an_expected_version(
    client: Any, auth: Any, prepare: Callable[..., str], version: str
) -> None:
    incident_id = prepare("dispatched")  # at version 2
    response = post(
        client, auth, f"/incidents/{incident_id}/sign-for", HC, f'{{"expected_version": {version}}}'
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["version"] == 3


@pytest.mark.parametrize("version", ["4079351.0", "4079351", str(BIGGEST), f"{BIGGEST}.0"])
def test_a_large_integral_expected_version_is_read_and_conflicts(
    client: Any,
    auth: Any,
    prepare: Callable[..., str],
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    version: str,
) -> None:
    incident_id = prepare("dispatched")
    before = log_len()
    response = post(
        client, auth, f"/incidents/{incident_id}/sign-for", HC, f'{{"expected_version": {version}}}'
    )
    body = expect_error(response, 409)
    assert str(int(float(version))) in body["message"], body
    assert log_len() == before


REFUSED_VERSIONS = [
    "1.5",
    "2.000001",
    '"2"',
    "true",
    "false",
    "-1",
    "-1.0",
    str(BIGGEST + 1),
    f"{BIGGEST + 1}.0",
    "1e300",
    "1e400",  # Infinity to json.loads
    "NaN",
    "Infinity",
    "-Infinity",
    "[2]",
    "{}",
]


@pytest.mark.parametrize("version", REFUSED_VERSIONS)
@pytest.mark.parametrize(
    "url",
    [
        "/incidents/{id}/sign-for",
        "/incidents/{id}/claim",
        "/incidents/{id}/release",
        "/staff/zhou.li/deactivate",
    ],
)
def test_an_expected_version_that_is_no_integer_or_too_big_is_a_422(
    client: Any,
    auth: Any,
    prepare: Callable[..., str],
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    url: str,
    version: str,
) -> None:
    incident_id = prepare("dispatched")
    member = {"staff_id": "zhou.li", "name": "周丽", "unit": LIDU, "kind": "cadre"}
    assert client.post("/staff", json=member, headers=auth(HC)).status_code == 201
    before = log_len()
    extra = ', "reason": "返乡"' if "deactivate" in url or "release" in url else ""
    raw = f'{{"expected_version": {version}{extra}}}'
    response = post(client, auth, url.format(id=incident_id), HC, raw)
    expect_error(response, 422, "expected_version")
    assert log_len() == before


def test_an_integral_float_is_an_expected_version_of_a_staff_member(client: Any, auth: Any) -> None:
    member = {"staff_id": "zhou.li", "name": "周丽", "unit": LIDU, "kind": "cadre"}
    assert client.post("/staff", json=member, headers=auth(HC)).status_code == 201
    raw = '{"expected_version": 1.0, "reason": "返乡"}'
    response = post(client, auth, "/staff/zhou.li/deactivate", HC, raw)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["version"] == 2


def test_if_match_and_an_integral_float_body_agree(
    client: Any, auth: Any, prepare: Callable[..., str]
) -> None:
    incident_id = prepare("dispatched")
    response = client.post(
        f"/incidents/{incident_id}/sign-for",
        data=b'{"expected_version": 2.0}',
        content_type="application/json",
        headers={**auth(HC), "If-Match": '"2"'},
    )
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize(("quantity", "stored"), [("3.0", 3), ("3", 3), ("1e6", 1_000_000)])
def test_an_integral_float_is_a_quantity(
    client: Any,
    auth: Any,
    http: Any,
    report_body: Callable[..., dict[str, Any]],
    quantity: str,
    stored: int,
) -> None:
    body = json.dumps(report_body("supply_delivery"), ensure_ascii=False)
    raw = body.replace('"quantity": 50', f'"quantity": {quantity}')
    assert raw != body
    response = post(client, auth, "/incidents", D, raw)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["incident"]["items"][0]["quantity"] == stored
    assert isinstance(response.get_json()["incident"]["items"][0]["quantity"], int)


@pytest.mark.parametrize("quantity", ["2.5", '"3"', "true", "0.0", "1e7", "NaN", "Infinity"])
def test_a_quantity_that_is_no_whole_number_in_range_is_a_422(
    client: Any,
    auth: Any,
    report_body: Callable[..., dict[str, Any]],
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    quantity: str,
) -> None:
    body = json.dumps(report_body("supply_delivery"), ensure_ascii=False)
    raw = body.replace('"quantity": 50', f'"quantity": {quantity}')
    before = log_len()
    expect_error(post(client, auth, "/incidents", D, raw), 422, "items.0.quantity")
    assert log_len() == before


def test_the_schema_says_what_the_code_takes(client: Any) -> None:
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    for name in ("ExpectedVersion", "Note", "Dispatch", "Release", "DeactivateStaff"):
        version = schemas[name]["properties"]["expected_version"]
        assert version["type"] == "integer", (name, version)
        assert version["minimum"] == 0, (name, version)
        assert version["maximum"] == BIGGEST, (name, version)
    quantity = schemas["SupplyItem"]["properties"]["quantity"]
    assert (quantity["type"], quantity["minimum"], quantity["maximum"]) == ("integer", 1, 10**6)
