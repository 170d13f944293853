"""The OpenAPI 3.1 description of the Open311 routes, served at ``/open311/v2/openapi.json``.

Written to be accurate to what this blueprint serves, not copied from the community's Swagger
file, whose known errors are avoided here: the single request is ``/requests/{id}`` (plural),
``jurisdiction_id`` is optional (we serve one district; an unknown one is a 404), and the
fields that may be empty are typed as nullable (``["string", "null"]``), not as plain strings.

Every resource has a ``.json`` and an ``.xml`` path: the format is the suffix, as the spec has
it, and each path documents the one content type it answers with (``application/json`` or
``text/xml``), for its answers and for its errors alike (the spec's error shape, with the HTTP
status as the code). The JSON schemas of the bodies are the spec's fields; the XML ones say the
same with OpenAPI's ``xml`` object (element names as in the spec, lists wrapped: ``services`` of
``service``, ``service_requests`` of ``request``, ``errors`` of ``error``...).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from coordination.api.open311 import blp
from coordination.domain.open311 import SERVICES

PREFIX = "/open311/v2"
FORMATS = {"json": "application/json", "xml": "text/xml"}
SPEC = "https://github.com/open311/open311.github.io (GeoReport_v2)"
DESCRIPTION_LIMIT = 4000


def _nullable(kind: str, **more: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **more}


DATETIME = {"type": "string", "format": "date-time", "description": "W3C, with the offset"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["code", "description"],
        "additionalProperties": False,
        "properties": {
            "code": {"type": "integer", "description": "the HTTP status of the answer"},
            "description": {"type": "string"},
        },
        "xml": {"name": "error"},
    },
    "Errors": {
        "type": "array",
        "minItems": 1,
        "items": {"$ref": "#/components/schemas/Error"},
        "xml": {"name": "errors", "wrapped": True},
    },
    "Service": {
        "type": "object",
        "required": [
            "service_code",
            "service_name",
            "description",
            "metadata",
            "type",
            "keywords",
            "group",
        ],
        "additionalProperties": False,
        "properties": {
            "service_code": {"type": "string"},
            "service_name": {"type": "string"},
            "description": _nullable("string"),
            "metadata": {"type": "boolean", "description": "true: GET its service definition"},
            "type": {"type": "string", "enum": ["realtime", "batch", "blackbox"]},
            "keywords": _nullable("string", description="comma separated"),
            "group": _nullable("string"),
        },
        "xml": {"name": "service"},
    },
    "Services": {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Service"},
        "xml": {"name": "services", "wrapped": True},
    },
    "Value": {
        "type": "object",
        "required": ["key", "name"],
        "additionalProperties": False,
        "properties": {"key": {"type": "string"}, "name": {"type": "string"}},
        "xml": {"name": "value"},
    },
    "Attribute": {
        "type": "object",
        "required": ["variable", "code", "datatype", "required", "order", "description"],
        "additionalProperties": False,
        "properties": {
            "variable": {"type": "boolean"},
            "code": {"type": "string"},
            "datatype": {
                "type": "string",
                "enum": [
                    "string",
                    "number",
                    "datetime",
                    "text",
                    "singlevaluelist",
                    "multivaluelist",
                ],
            },
            "required": {"type": "boolean"},
            "datatype_description": _nullable("string"),
            "order": {"type": "integer", "minimum": 1},
            "description": {"type": "string"},
            "values": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Value"},
                "xml": {"name": "values", "wrapped": True},
            },
        },
        "xml": {"name": "attribute"},
    },
    "ServiceDefinition": {
        "type": "object",
        "required": ["service_code", "attributes"],
        "additionalProperties": False,
        "properties": {
            "service_code": {"type": "string"},
            "attributes": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Attribute"},
                "xml": {"name": "attributes", "wrapped": True},
            },
        },
        "xml": {"name": "service_definition"},
    },
    "ServiceRequest": {
        "type": "object",
        "description": (
            "An order as a public Open311 read shows it: no names, no phones, and the address "
            "is the place (小区 or community) only."
        ),
        "required": ["service_request_id", "status", "service_code", "requested_datetime"],
        "additionalProperties": False,
        "properties": {
            "service_request_id": {"type": "string"},
            "status": {"type": "string", "enum": ["open", "closed"]},
            "status_notes": _nullable("string", description="our own status, in Chinese"),
            "service_name": _nullable("string"),
            "service_code": {"type": "string"},
            "description": _nullable("string", maxLength=DESCRIPTION_LIMIT),
            "agency_responsible": _nullable("string", description="the unit holding it now"),
            "service_notice": _nullable("string"),
            "requested_datetime": DATETIME,
            "updated_datetime": _nullable("string", format="date-time"),
            "expected_datetime": _nullable(
                "string", format="date-time", description="the running resolve deadline"
            ),
            "address": _nullable("string", description="the place, never a street address"),
            "address_id": _nullable("string"),
            "zipcode": _nullable("string"),
            "lat": _nullable("number", minimum=-90, maximum=90),
            "long": _nullable("number", minimum=-180, maximum=180),
            "media_url": _nullable("string"),
        },
        "xml": {"name": "request"},
    },
    "ServiceRequests": {
        "type": "array",
        "items": {"$ref": "#/components/schemas/ServiceRequest"},
        "xml": {"name": "service_requests", "wrapped": True},
    },
    "RequestPosted": {
        "type": "object",
        "required": ["service_request_id"],
        "additionalProperties": False,
        "properties": {
            "service_request_id": {"type": "string"},
            "service_notice": _nullable("string"),
            "account_id": _nullable("string"),
        },
        "xml": {"name": "request"},
    },
    "RequestsPosted": {
        "type": "array",
        "minItems": 1,
        "maxItems": 1,
        "items": {"$ref": "#/components/schemas/RequestPosted"},
        "xml": {"name": "service_requests", "wrapped": True},
    },
    "TokenRequest": {
        "type": "object",
        "required": ["service_request_id", "token"],
        "additionalProperties": False,
        "properties": {"service_request_id": {"type": "string"}, "token": {"type": "string"}},
        "xml": {"name": "request"},
    },
    "TokenRequests": {
        "type": "array",
        "items": {"$ref": "#/components/schemas/TokenRequest"},
        "xml": {"name": "service_requests", "wrapped": True},
    },
    "Endpoint": {
        "type": "object",
        "required": ["specification", "url", "changeset", "type", "formats"],
        "additionalProperties": False,
        "properties": {
            "specification": {"type": "string"},
            "url": {"type": "string"},
            "changeset": {"type": "string", "format": "date-time"},
            "type": {"type": "string", "enum": ["production", "test"]},
            "formats": {
                "type": "array",
                "items": {"type": "string", "xml": {"name": "format"}},
                "xml": {"name": "formats", "wrapped": True},
            },
        },
        "xml": {"name": "endpoint"},
    },
    "Discovery": {
        "type": "object",
        "required": ["changeset", "contact", "endpoints"],
        "additionalProperties": False,
        "properties": {
            "changeset": {"type": "string", "format": "date-time"},
            "contact": {"type": "string"},
            "key_service": _nullable("string"),
            "endpoints": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Endpoint"},
                "xml": {"name": "endpoints", "wrapped": True},
            },
        },
        "xml": {"name": "discovery"},
    },
}

JURISDICTION = {
    "name": "jurisdiction_id",
    "in": "query",
    "required": False,
    "description": (
        "The district's unit id (e.g. gangwen). Optional while the units file has one district "
        "(required once it has more); an unknown one is a 404."
    ),
    "schema": {"type": "string"},
}

REQUEST_FILTERS = [
    {
        "name": "service_request_id",
        "in": "query",
        "description": "Comma-delimited ids; overrides every other filter.",
        "schema": {"type": "string"},
    },
    {
        "name": "service_code",
        "in": "query",
        "description": "Comma-delimited service codes (all when absent).",
        "schema": {"type": "string"},
    },
    {
        "name": "start_date",
        "in": "query",
        "description": (
            "Earliest requested_datetime (W3C, with an offset). With end_date the span may not "
            "exceed 90 days; without either, the last 90 days."
        ),
        "schema": {"type": "string", "format": "date-time"},
    },
    {
        "name": "end_date",
        "in": "query",
        "description": "Latest requested_datetime (W3C, with an offset).",
        "schema": {"type": "string", "format": "date-time"},
    },
    {
        "name": "status",
        "in": "query",
        "description": "open, closed, or both comma-delimited (all when absent).",
        "schema": {"type": "string", "pattern": "^(open|closed)(,(open|closed))*$"},
    },
    {
        "name": "page",
        "in": "query",
        "description": "Pagination extension: the page, from 1.",
        "schema": {"type": "integer", "minimum": 1},
    },
    {
        "name": "page_size",
        "in": "query",
        "description": "Pagination extension: requests per page (at most 1000, the default).",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
    },
]

ERRORS = {
    400: "The request is invalid (the description says why).",
    403: "Missing or invalid api_key, or a token of another role than open311.",
    404: "No such resource, service_code or jurisdiction_id.",
}


def _content(fmt: str, schema: str) -> dict[str, Any]:
    return {FORMATS[fmt]: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _responses(fmt: str, ok: dict[int, tuple[str, str]], errors: tuple[int, ...]) -> dict:
    found: dict[str, Any] = {
        str(status): {"description": text, "content": _content(fmt, schema)}
        for status, (text, schema) in ok.items()
    }
    for status in errors:
        found[str(status)] = {"description": ERRORS[status], "content": _content(fmt, "Errors")}
    return found


def _path_parameter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": r"^[^/.]+$"},
    }


def _form_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {
        "api_key": {"type": "string", "description": "the secret of an open311 token"},
        "jurisdiction_id": {"type": "string", "description": "the district's unit id"},
        "service_code": {"type": "string", "enum": sorted(SERVICES)},
        "lat": {"type": "number", "minimum": -90, "maximum": 90, "description": "WGS84"},
        "long": {"type": "number", "minimum": -180, "maximum": 180, "description": "WGS84"},
        "address_string": {"type": "string", "description": "a place name, e.g. 丽都花园"},
        "address_id": {"type": "string", "description": "not supported: treated as missing"},
        "email": {"type": "string"},
        "device_id": {"type": "string"},
        "account_id": {"type": "string"},
        "first_name": {"type": "string"},
        "last_name": {"type": "string"},
        "phone": {"type": "string"},
        "description": {"type": "string", "maxLength": DESCRIPTION_LIMIT},
        "media_url": {"type": "string"},
    }
    for service in SERVICES.values():
        for attribute in service.attributes:
            key = f"attribute[{attribute.code}]"
            if attribute.datatype == "number":
                schema: dict[str, Any] = {"type": "integer", "minimum": 1}
            elif attribute.values and not attribute.catalogue_items:
                schema = {"type": "string", "enum": [v.key for v in attribute.values]}
            else:
                schema = {"type": "string"}
            schema["description"] = f"{service.code}: {attribute.description}"
            properties[key] = schema
    return {
        "type": "object",
        "required": ["api_key", "service_code"],
        "properties": properties,
        "description": (
            "A location is required: lat and long, or address_string. Attributes are sent as "
            "attribute[code]=value (attribute[code][]=value for a multivaluelist), the codes "
            "being those of the service's definition; the district catalogue's item names are "
            "the values of attribute[item]."
        ),
    }


def _operations(fmt: str) -> dict[str, Any]:
    ext = "." + fmt
    jurisdiction = [JURISDICTION]
    ok_requests = {200: ("The public requests, maybe none.", "ServiceRequests")}
    return {
        f"{PREFIX}/discovery{ext}": {
            "get": {
                "operationId": f"discovery_{fmt}",
                "summary": "Service discovery",
                "responses": _responses(fmt, {200: ("The endpoints.", "Discovery")}, ()),
            }
        },
        f"{PREFIX}/services{ext}": {
            "get": {
                "operationId": f"services_{fmt}",
                "summary": "GET Service List",
                "parameters": jurisdiction,
                "responses": _responses(
                    fmt, {200: ("The services offered.", "Services")}, (400, 404)
                ),
            }
        },
        PREFIX + "/services/{service_code}" + ext: {
            "get": {
                "operationId": f"service_definition_{fmt}",
                "summary": "GET Service Definition (for services whose metadata is true)",
                "parameters": [
                    _path_parameter("service_code", "a service_code of the service list"),
                    *jurisdiction,
                ],
                "responses": _responses(
                    fmt, {200: ("Its attributes.", "ServiceDefinition")}, (400, 404)
                ),
            }
        },
        f"{PREFIX}/requests{ext}": {
            "get": {
                "operationId": f"requests_{fmt}",
                "summary": "GET Service Requests",
                "description": (
                    "Public requests only (never a quarantine visit nor a delivery to a "
                    "household under home quarantine), newest first; by default those of the "
                    "last 90 days, at most 1000."
                ),
                "parameters": [*REQUEST_FILTERS, *jurisdiction],
                "responses": _responses(fmt, ok_requests, (400, 404)),
            },
            "post": {
                "operationId": f"post_request_{fmt}",
                "summary": "POST Service Request (realtime: answered with the id)",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "As on our own API: a retry with it files nothing new.",
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/x-www-form-urlencoded": {"schema": _form_schema()}},
                },
                "responses": _responses(
                    fmt,
                    {
                        201: (
                            "Filed (a retry with the same Idempotency-Key: the same id).",
                            "RequestsPosted",
                        )
                    },
                    (400, 403, 404),
                ),
            },
        },
        PREFIX + "/requests/{service_request_id}" + ext: {
            "get": {
                "operationId": f"request_{fmt}",
                "summary": "GET Service Request",
                "description": "An unknown or non-public request is an empty list, as if hidden.",
                "parameters": [
                    _path_parameter("service_request_id", "the id POST answered with"),
                    *jurisdiction,
                ],
                "responses": _responses(fmt, ok_requests, (404,)),
            }
        },
        PREFIX + "/tokens/{token}" + ext: {
            "get": {
                "operationId": f"token_{fmt}",
                "summary": "GET service_request_id from a token",
                "description": "POST answers with the id at once; a token is the id itself.",
                "parameters": [_path_parameter("token", "a token"), *jurisdiction],
                "responses": _responses(
                    fmt, {200: ("The request's id, or none.", "TokenRequests")}, (404,)
                ),
            }
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the Open311 routes."""
    paths: dict[str, Any] = {}
    for fmt in FORMATS:
        paths.update(_operations(fmt))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Open311 GeoReport v2",
            "version": "v2",
            "description": (
                "GeoReport v2 (" + SPEC + ") beside our own API: list the services, file an "
                "order with a form and an api_key, follow it. XML (text/xml) and JSON; errors "
                "in the spec's shape, the HTTP status as the code."
            ),
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": SCHEMAS},
    }


@blp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())
