"""The API describes itself: /openapi.json lists every route, its security and its schemas."""

from __future__ import annotations

import re
from typing import Any

import pytest

from coordination.api.docs import ASSETS_ENDPOINT
from coordination.domain.values import Kind, Priority, Satisfaction

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
    ("/incidents/{incident_id}/link-call", "post"),
    ("/incidents/possible-duplicates", "get"),
    ("/places", "get"),
    ("/me", "get"),
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
    """Every route the app serves, but the description itself, static files (the dashboard's,
    and Swagger UI's for /docs) and the Open311 front door (described at
    /open311/v2/openapi.json), is in it."""
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", ASSETS_ENDPOINT) or rule.endpoint.startswith("api-docs."):
            continue
        if rule.endpoint.startswith("open311."):
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


# --- the errors each operation can give --------------------------------------------------------

ERROR_CODES = {"400", "401", "403", "404", "409", "413", "415", "422", "503"}
# Scrapes, the page and the public list of donations (捐赠公示) need no token.
NO_TOKEN = {
    ("/healthz", "get"),
    ("/dashboard", "get"),
    ("/metrics", "get"),
    ("/supplies/donations/public", "get"),
    *((f"/{page}", "get") for page in ("login", "desk", "inbox", "tasks", "city")),  # the pages
}
# (the stream takes one as ?token=)
ROLE_CHECKED_READS = {
    ("/reports/daily", "get"),
    ("/reports/daily.csv", "get"),
    ("/reports/daily.xlsx", "get"),
    ("/me/assignments", "get"),  # a field token's own claims
    ("/incidents/possible-duplicates", "get"),  # those who link calls (dispatchers)
    ("/dashboard/cities/{city}", "get"),  # the city's platform and admins
}


def all_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def error_schema(spec: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = resolve(spec, resolve(spec, response)["content"]["application/json"])[
        "schema"
    ]
    return schema


def query_names(spec: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    return {
        resolve(spec, p)["name"]
        for p in operation.get("parameters", [])
        if resolve(spec, p)["in"] == "query"
    }


def test_the_error_schema_is_the_one_error_shape(spec: dict[str, Any]) -> None:
    schema = spec["components"]["schemas"]["Error"]
    assert set(schema["properties"]) == {"code", "status", "message", "errors"}
    assert set(schema["required"]) == {"code", "status", "message"}
    assert schema["additionalProperties"] is False
    assert schema["properties"]["code"]["type"] == "integer"
    errors = schema["properties"]["errors"]
    assert errors["type"] == "object"
    assert errors["additionalProperties"]["type"] == "object"  # location -> field -> problems
    assert "items.0.item" in errors["description"]


def test_every_error_response_has_the_error_schema(spec: dict[str, Any]) -> None:
    for path, method, operation in all_operations(spec):
        for code, response in operation["responses"].items():
            if code not in ERROR_CODES or (path, code) == ("/healthz", "503"):
                continue
            schema = error_schema(spec, response)
            assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, code)
            assert resolve(spec, response)["description"], (path, method, code)


def test_every_operation_documents_503_with_retry_after(spec: dict[str, Any]) -> None:
    for path, method, operation in all_operations(spec):
        assert "503" in operation["responses"], (path, method)
        response = resolve(spec, operation["responses"]["503"])
        if path == "/healthz":
            continue  # its own 503: the health body, which says what is unavailable
        headers = response["headers"]
        assert "Retry-After" in headers, (path, method)
        assert resolve(spec, headers["Retry-After"])["schema"]["type"] == "integer"


def test_every_operation_with_a_token_documents_401(spec: dict[str, Any]) -> None:
    for path, method, operation in all_operations(spec):
        if (path, method) in NO_TOKEN:
            assert "401" not in operation["responses"], (path, method)
            continue
        assert "401" in operation["responses"], (path, method)
        response = resolve(spec, operation["responses"]["401"])
        if "token" not in query_names(spec, operation):
            assert "WWW-Authenticate" in response["headers"], (path, method)


def test_every_write_documents_what_can_refuse_it(spec: dict[str, Any]) -> None:
    writes = [(p, m, o) for p, m, o in all_operations(spec) if m == "post"]
    assert len(writes) >= 17
    for path, _, operation in writes:
        assert "requestBody" in operation, path
        missing = {"400", "401", "403", "409", "413", "415", "422", "503"} - set(
            operation["responses"]
        )
        assert not missing, (path, missing)
        conflict = resolve(spec, operation["responses"]["409"])
        assert "ETag" in conflict["headers"], path


def test_reads_document_403_and_409_only_where_they_apply(spec: dict[str, Any]) -> None:
    for path, method, operation in all_operations(spec):
        if method != "get":
            continue
        codes = set(operation["responses"])
        assert ("403" in codes) == ((path, method) in ROLE_CHECKED_READS), (path, codes)
        assert "409" not in codes, path
        assert not codes & {"400", "413", "415"}, (path, codes)


def test_operations_naming_a_resource_document_404(spec: dict[str, Any]) -> None:
    for path, method, operation in all_operations(spec):
        names_one = "{" in path or query_names(spec, operation) & {"unit", "district"}
        assert ("404" in operation["responses"]) == bool(names_one), (path, method)


def test_operations_with_arguments_document_422(spec: dict[str, Any]) -> None:
    for path, method, operation in all_operations(spec):
        takes = "requestBody" in operation or query_names(spec, operation) - {"token"}
        assert ("422" in operation["responses"]) == bool(takes), (path, method)


def test_patterns_read_the_same_in_json_schema(spec: dict[str, Any]) -> None:
    """A JSON Schema validator reads patterns as ECMA 262, where ``\\Z`` is a plain Z: each is
    written ``^...$`` instead, and the code matches the whole value against it."""
    patterns = [
        (name, field, prop["pattern"])
        for name, schema in spec["components"]["schemas"].items()
        for field, prop in schema.get("properties", {}).items()
        if "pattern" in prop
    ]
    assert {"staff_id", "phone"} <= {field for _, field, _ in patterns}
    for name, field, pattern in patterns:
        assert pattern.startswith("^") and pattern.endswith("$"), (name, field, pattern)
        assert "\\Z" not in pattern and "\\A" not in pattern and "(?P" not in pattern
