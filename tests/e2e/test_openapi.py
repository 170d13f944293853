"""The API describes itself: /openapi.json lists every route, its security and its schemas."""

from __future__ import annotations

import re
from typing import Any

import pytest

from coordination.domain.incident import Kind, Priority, Satisfaction

EXPECTED_OPERATIONS = {
    ("/incidents", "post"),
    ("/incidents/{incident_id}", "get"),
    ("/incidents/{incident_id}/events", "get"),
    ("/incidents/{incident_id}/dispatch", "post"),
    ("/incidents/{incident_id}/sign-for", "post"),
    ("/incidents/{incident_id}/return", "post"),
    ("/incidents/{incident_id}/hand-down", "post"),
    ("/incidents/{incident_id}/resolve", "post"),
    ("/incidents/{incident_id}/return-visit", "post"),
    ("/incidents/{incident_id}/close", "post"),
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def spec(client: Any) -> dict[str, Any]:
    response = client.get("/openapi.json")  # no token needed to read the description
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document: dict[str, Any] = response.get_json()
    return document


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        path = node["$ref"].removeprefix("#/").split("/")
        target: Any = spec
        for part in path:
            target = target[part]
        node = target
    return node


def operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_it_is_openapi_3(spec: dict[str, Any]) -> None:
    assert re.fullmatch(r"3\.\d+\.\d+", spec["openapi"])
    assert spec["info"]["title"]
    assert spec["info"]["version"]


def test_it_lists_every_path_and_method(spec: dict[str, Any]) -> None:
    missing = EXPECTED_OPERATIONS - operations(spec)
    assert not missing, missing


def test_it_lists_every_route_the_app_serves(app: Any, spec: dict[str, Any]) -> None:
    """Every route the app serves, but the description itself and static files, is in it."""
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("api-docs."):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, method.lower()))
    assert served == operations(spec)


def test_every_operation_has_a_summary_and_answers(spec: dict[str, Any]) -> None:
    for path, method in EXPECTED_OPERATIONS:
        operation = spec["paths"][path][method]
        assert operation.get("summary"), (path, method)
        assert operation["responses"], (path, method)
        ok = "201" if (path, method) == ("/incidents", "post") else "200"
        assert ok in operation["responses"], (path, method)


def test_it_declares_the_bearer_scheme_and_requires_it(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    bearer = [
        name
        for name, s in schemes.items()
        if s.get("type") == "http" and s.get("scheme", "").lower() == "bearer"
    ]
    assert bearer, schemes
    for path, method in EXPECTED_OPERATIONS:
        security = spec["paths"][path][method].get("security", spec.get("security"))
        assert security, (path, method)
        assert any(name in requirement for requirement in security for name in bearer)


def test_the_report_request_schema_names_kind_with_its_enum(spec: dict[str, Any]) -> None:
    body = spec["paths"]["/incidents"]["post"]["requestBody"]
    schema = resolve(spec, body["content"]["application/json"]["schema"])
    assert "kind" in schema["required"]
    for required in ("title", "place", "reporter"):
        assert required in schema["required"]
    kind = resolve(spec, schema["properties"]["kind"])
    assert set(kind["enum"]) == {k.value for k in Kind}
    priority = resolve(spec, schema["properties"]["priority"])
    assert set(priority["enum"]) == {p.value for p in Priority}
    assert schema["properties"]["title"]["maxLength"] == 200
    assert schema["properties"]["description"]["maxLength"] == 4000
    assert schema.get("additionalProperties") is False


def test_the_return_visit_request_schema_names_result_with_its_enum(spec: dict[str, Any]) -> None:
    body = spec["paths"]["/incidents/{incident_id}/return-visit"]["post"]["requestBody"]
    schema = resolve(spec, body["content"]["application/json"]["schema"])
    assert "result" in schema["required"]
    assert set(resolve(spec, schema["properties"]["result"])["enum"]) == {
        s.value for s in Satisfaction
    }


def test_docs_answer_html(client: Any) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<html" in page.lower()
    assert "swagger" in page.lower()
