"""The one error shape every answer that is no success has (coordination/api/errors.py)."""

from __future__ import annotations

from marshmallow import Schema, fields

ERRORS = (
    "Per location (json, query, headers, auth), per field, the problems: "
    '{"json": {"title": ["Shorter than minimum length 1."]}}. A nested field nests, list items '
    'by index: items.0.item is {"json": {"items": {"0": {"item": ["..."]}}}}.'
)


class ErrorSchema(Schema):
    code = fields.Integer(required=True, metadata={"description": "The HTTP status code."})
    status = fields.String(
        required=True, metadata={"description": "Its phrase, e.g. Unprocessable Entity."}
    )
    message = fields.String(required=True, metadata={"description": "What went wrong."})
    errors = fields.Dict(
        keys=fields.String(), values=fields.Dict(), metadata={"description": ERRORS}
    )
