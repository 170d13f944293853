"""JSON Schemas (draft 2020-12) of Open311 GeoReport v2's JSON answers, written from the spec
(open311/open311.github.io, ``GeoReport_v2/index.md``, and the Service Discovery page), not
from our code, so that they check it from the outside.

Where the spec leaves room, these take the strict reading the issue asks for: ids and codes are
strings (the spec's JSON examples show numbers, but the spec says "unique identifier", and many
clients take them as strings); dates are W3C date-times WITH an offset (the spec: "Timezone
information ... must be included"); ``status`` is only ``open`` or ``closed``; the fields the
spec marks "May not be returned" may be absent or null; no field beyond the spec's (so that no
resident's name or phone can slip into an answer under another key). ``check(schema, body)``
validates with a format checker, so a date without its offset fails.
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

# W3C date-time (the spec's "w3 note"), seconds required as the spec's examples have them, and
# a zone: Z or ±HH:MM.
W3C_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"


def _nullable(kind: str, **more: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **more}


DATETIME: dict[str, Any] = {"type": "string", "pattern": W3C_DATETIME, "format": "date-time"}
NULLABLE_DATETIME: dict[str, Any] = {
    "anyOf": [DATETIME, {"type": "null"}],
}

ERRORS: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Errors",
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["code", "description"],
        "additionalProperties": False,
        "properties": {
            "code": {"type": "integer"},
            "description": {"type": "string", "minLength": 1},
        },
    },
}

SERVICE: dict[str, Any] = {
    "type": "object",
    "required": ["service_code", "service_name", "metadata", "type"],
    "additionalProperties": False,
    "properties": {
        "service_code": {"type": "string", "minLength": 1},
        "service_name": {"type": "string", "minLength": 1},
        "description": _nullable("string"),
        "metadata": {"type": "boolean"},
        "type": {"enum": ["realtime", "batch", "blackbox"]},
        "keywords": _nullable("string"),
        "group": _nullable("string"),
    },
}

SERVICE_LIST: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "GET Service List",
    "type": "array",
    "items": SERVICE,
}

ATTRIBUTE: dict[str, Any] = {
    "type": "object",
    "required": ["variable", "code", "datatype", "required", "order", "description"],
    "additionalProperties": False,
    "properties": {
        "variable": {"type": "boolean"},
        "code": {"type": "string", "minLength": 1},
        "datatype": {
            "enum": ["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
        },
        "required": {"type": "boolean"},
        "datatype_description": _nullable("string"),
        "order": {"type": "integer", "minimum": 1},
        "description": {"type": "string"},
        "values": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "name"],
                "additionalProperties": False,
                "properties": {"key": {"type": "string"}, "name": {"type": "string"}},
            },
        },
    },
    # A list datatype offers its values.
    "if": {"properties": {"datatype": {"enum": ["singlevaluelist", "multivaluelist"]}}},
    "then": {"required": ["values"], "properties": {"values": {"minItems": 1}}},
}

SERVICE_DEFINITION: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "GET Service Definition",
    "type": "object",
    "required": ["service_code", "attributes"],
    "additionalProperties": False,
    "properties": {
        "service_code": {"type": "string", "minLength": 1},
        "attributes": {"type": "array", "items": ATTRIBUTE},
    },
}

REQUEST: dict[str, Any] = {
    "type": "object",
    "required": [
        "service_request_id",
        "status",
        "service_code",
        "service_name",
        "requested_datetime",
    ],
    "additionalProperties": False,
    "properties": {
        "service_request_id": {"type": "string", "minLength": 1},
        "status": {"enum": ["open", "closed"]},
        "status_notes": _nullable("string"),
        "service_name": _nullable("string"),
        "service_code": {"type": "string", "minLength": 1},
        "description": _nullable("string", maxLength=4000),
        "agency_responsible": _nullable("string"),
        "service_notice": _nullable("string"),
        "requested_datetime": DATETIME,
        "updated_datetime": NULLABLE_DATETIME,
        "expected_datetime": NULLABLE_DATETIME,
        "address": _nullable("string"),
        "address_id": _nullable("string"),
        "zipcode": _nullable("string"),
        "lat": _nullable("number", minimum=-90, maximum=90),
        "long": _nullable("number", minimum=-180, maximum=180),
        "media_url": _nullable("string"),
    },
}

REQUESTS: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "GET Service Requests / GET Service Request",
    "type": "array",
    "items": REQUEST,
}

REQUEST_POSTED: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "POST Service Request (realtime: the id, no token)",
    "type": "array",
    "minItems": 1,
    "maxItems": 1,
    "items": {
        "type": "object",
        "required": ["service_request_id"],
        "additionalProperties": False,
        "properties": {
            "service_request_id": {"type": "string", "minLength": 1},
            "service_notice": _nullable("string"),
            "account_id": _nullable("string"),
        },
        "not": {"required": ["token"]},
    },
}

TOKEN: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "GET service_request_id from a token",
    "type": "array",
    "items": {
        "type": "object",
        "required": ["service_request_id", "token"],
        "additionalProperties": False,
        "properties": {
            "service_request_id": {"type": "string", "minLength": 1},
            "token": {"type": "string", "minLength": 1},
        },
    },
}

DISCOVERY: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Service Discovery",
    "type": "object",
    "required": ["changeset", "contact", "endpoints"],
    "additionalProperties": False,
    "properties": {
        "changeset": DATETIME,
        "contact": {"type": "string"},
        "key_service": _nullable("string"),
        "endpoints": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["specification", "url", "changeset", "type", "formats"],
                "additionalProperties": False,
                "properties": {
                    "specification": {"type": "string", "minLength": 1},
                    "url": {"type": "string", "minLength": 1},
                    "changeset": DATETIME,
                    "type": {"enum": ["production", "test"]},
                    "formats": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"enum": ["text/xml", "application/json"]},
                        "contains": {"const": "text/xml"},  # XML is required by the spec
                    },
                },
            },
        },
    },
}

ALL: dict[str, dict[str, Any]] = {
    "errors": ERRORS,
    "services": SERVICE_LIST,
    "service_definition": SERVICE_DEFINITION,
    "requests": REQUESTS,
    "request_posted": REQUEST_POSTED,
    "token": TOKEN,
    "discovery": DISCOVERY,
}

for _schema in ALL.values():
    Draft202012Validator.check_schema(_schema)


def problems(schema: dict[str, Any], body: Any) -> list[str]:
    """Every way ``body`` breaks ``schema``, one line each (none: it conforms)."""
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    found = []
    for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        found.append(f"{where}: {error.message}")
    return found


def check(schema: dict[str, Any], body: Any) -> Any:
    """``body`` if it conforms to ``schema``; else an AssertionError naming every problem."""
    found = problems(schema, body)
    assert not found, f"{schema.get('title', 'schema')}: " + "; ".join(found)
    return body


def is_w3c_datetime(text: str) -> bool:
    return re.match(W3C_DATETIME, text) is not None
