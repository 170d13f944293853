"""Query arguments of the read endpoints, and the shapes of pages and summaries."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from coordination.domain.values import Kind, Status
from schemas.base import MinPosition, RequestSchema
from schemas.incidents import ExpectedVersionSchema, IncidentSchema


class ReadArgsSchema(RequestSchema):
    min_position = MinPosition()


class PageArgsSchema(ReadArgsSchema):
    state = fields.Enum(Status, by_value=True)
    kind = fields.Enum(Kind, by_value=True)
    cursor = fields.String(validate=validate.Length(max=500))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class IncidentQueryArgsSchema(PageArgsSchema):
    unit = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Only incidents held in this unit's subtree."},
    )


class QueueQueryArgsSchema(PageArgsSchema):
    pass


class ClaimNextSchema(RequestSchema):
    kind = fields.Enum(Kind, by_value=True, load_default=None)
    min_position = MinPosition(
        metadata={
            "description": "Pull from the claimable orders as projected at this log position "
            "or later (the position your last write returned): 204 means none is left then."
        }
    )


class ReleaseSchema(ExpectedVersionSchema):
    reason = fields.String(load_default="", validate=validate.Length(max=1000))


class PageSchema(Schema):
    items = fields.List(fields.Nested(IncidentSchema))
    next_cursor = fields.String(allow_none=True)
    position = fields.Integer(metadata={"description": "The log position the page reflects."})


class QueueSummarySchema(Schema):
    unit = fields.String()
    position = fields.Integer()
    total = fields.Integer()
    by_state = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_state_and_kind = fields.Dict(keys=fields.String(), values=fields.Dict())


class PartitionHealthSchema(Schema):
    partition = fields.String()
    head = fields.Integer()
    checkpoint = fields.Integer()
    lag = fields.Integer()


class HealthSchema(Schema):
    status = fields.String(metadata={"description": "ok, warning or unavailable"})
    redis = fields.String()
    partitions = fields.List(fields.Nested(PartitionHealthSchema))
    warnings = fields.List(
        fields.String(), metadata={"description": "e.g. a year the working-day calendar lacks"}
    )
