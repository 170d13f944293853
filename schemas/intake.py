"""Schemas of what the intake desk reads before filing: place names, and the orders a call may
repeat (重复件); and of who the caller is (``GET /me``)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from coordination.domain.values import Category, Kind
from schemas.base import MinPosition, RequestSchema
from schemas.incidents import PHONE, IncidentSchema

DUPLICATE_DAYS = 3  # how far back an open order at the same place counts as a likely repeat
MAX_DAYS = 30


class PlaceQueryArgsSchema(RequestSchema):
    q = fields.String(
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "Part of a place name (丽都 offers 丽都, 丽都花园)."},
    )
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))


class PlaceSchema(Schema):
    place = fields.String(metadata={"description": "A place name an order may name."})
    unit = fields.String(metadata={"description": "The unit that owns it."})
    unit_name = fields.String()
    handling_unit = fields.String(metadata={"description": "Where an order there is routed."})
    handling_unit_name = fields.String()


class PlacesSchema(Schema):
    places = fields.List(fields.Nested(PlaceSchema))


class DuplicateQueryArgsSchema(RequestSchema):
    place = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "The place the caller names."},
    )
    kind = fields.Enum(Kind, by_value=True, required=True)
    category = fields.Enum(Category, by_value=True, load_default=None)
    phone = fields.String(
        load_default="",
        validate=PHONE,
        metadata={"description": "The caller's phone: their own earlier orders."},
    )
    days = fields.Integer(
        load_default=DUPLICATE_DAYS,
        validate=validate.Range(min=1, max=MAX_DAYS),
        metadata={"description": "How many days back an open order at the place counts."},
    )
    min_position = MinPosition()


class DuplicatesSchema(Schema):
    place_unit = fields.String(metadata={"description": "The unit the place resolves to."})
    same_place = fields.List(
        fields.Nested(IncidentSchema),
        metadata={
            "description": "Open orders at the same place of the same kind (and category), "
            "reported in the last ``days`` days, the latest first."
        },
    )
    same_caller = fields.List(
        fields.Nested(IncidentSchema),
        metadata={
            "description": f"The caller's own orders of the last {MAX_DAYS} days (as reporter or "
            "as a linked caller), whatever their state, the latest first."
        },
    )
    position = fields.Integer(metadata={"description": "The log position the lists reflect."})


class MeSchema(Schema):
    subject = fields.String(metadata={"description": "The token's name (a field token: staff id)."})
    role = fields.String()
    unit = fields.String()
    unit_name = fields.String()
    level = fields.String()
    district = fields.String(
        allow_none=True, metadata={"description": "null for a city's token: above its districts."}
    )
    staff_id = fields.String()
    actions = fields.List(fields.String(), metadata={"description": "What the role may do."})
