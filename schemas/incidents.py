"""Schemas of the incident endpoints: commands in, incidents and events out."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, validate

from coordination.domain.values import Category, Contact, Kind, Priority, Satisfaction, SupplyItem
from schemas.base import Pattern, RequestSchema, Version, WholeNumber

SHORT = validate.Length(min=1, max=100)
NOTE = validate.Length(max=1000)
PHONE = Pattern(r"\+?[0-9][0-9 -]{4,19}", error="Not a phone number.")


class ContactSchema(RequestSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    phone = fields.String(required=True, validate=PHONE)

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Contact:
        return Contact(**data)


class SupplyItemSchema(RequestSchema):
    item = fields.String(required=True, validate=SHORT)
    quantity = WholeNumber(required=True, validate=validate.Range(1, 1_000_000))
    measure = fields.String(load_default="piece", validate=validate.Length(min=1, max=20))

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> SupplyItem:
        return SupplyItem(**data)


class ReportIncidentSchema(RequestSchema):
    kind = fields.Enum(Kind, by_value=True, required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=4000))
    place = fields.String(required=True, validate=SHORT)
    address = fields.String(load_default="", validate=validate.Length(max=200))
    priority = fields.Enum(Priority, by_value=True, load_default=Priority.NORMAL)
    epidemic = fields.Boolean(load_default=False)
    category = fields.Enum(Category, by_value=True, load_default=None)
    items = fields.List(
        fields.Nested(SupplyItemSchema), load_default=(), validate=validate.Length(max=50)
    )
    person = fields.Nested(ContactSchema, load_default=None)
    home_quarantine = fields.Boolean(
        load_default=False,
        metadata={
            "description": "A supply delivery to a household under home quarantine (居家隔离): "
            "risky work, for trained staff only. Only for kind supply_delivery."
        },
    )
    reporter = fields.Nested(ContactSchema, required=True)

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {**data, "items": tuple(data["items"])}


class ExpectedVersionSchema(RequestSchema):
    expected_version = Version()


class DispatchSchema(ExpectedVersionSchema):
    unit = fields.String(required=True, validate=SHORT)
    note = fields.String(load_default="", validate=NOTE)


class NoteSchema(ExpectedVersionSchema):
    note = fields.String(load_default="", validate=NOTE)


class ReturnSchema(ExpectedVersionSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class HandDownSchema(NoteSchema):
    community = fields.String(load_default=None, validate=SHORT)


class ResolveSchema(ExpectedVersionSchema):
    summary = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    signed_off_by = fields.String(required=True, validate=validate.Length(min=1, max=50))


class ReturnVisitSchema(NoteSchema):
    result = fields.Enum(Satisfaction, by_value=True, required=True)


class LinkCallSchema(NoteSchema):
    caller = fields.Nested(
        ContactSchema, required=True, metadata={"description": "Who called this time."}
    )
    place = fields.String(
        load_default="",
        validate=validate.Length(max=100),
        metadata={
            "description": "The place the caller named, if any: it must lie in the order's "
            "district."
        },
    )


def Timestamp(**kwargs: Any) -> fields.String:  # noqa: N802 - reads as a field class
    """A timezone-aware ISO 8601 time, already formatted by the presenter."""
    return fields.String(metadata={"format": "date-time"}, **kwargs)


class DeadlinesSchema(Schema):
    sign_by = Timestamp(allow_none=True)
    claim_by = Timestamp(allow_none=True)
    resolve_by = Timestamp(allow_none=True)
    fallback = fields.Boolean(
        metadata={"description": "Counted from weekends alone: the calendar lacks the year."}
    )


class IncidentSchema(Schema):
    id = fields.String()
    version = fields.Integer()
    status = fields.String()
    kind = fields.String()
    title = fields.String()
    description = fields.String()
    place = fields.String()
    place_unit = fields.String()
    address = fields.String()
    priority = fields.String()
    epidemic = fields.Boolean()
    category = fields.String(allow_none=True)
    items = fields.List(fields.Dict())
    reporter = fields.Dict()
    person = fields.Dict(allow_none=True)
    home_quarantine = fields.Boolean(
        metadata={"description": "A delivery to a household under home quarantine (居家隔离)."}
    )
    risky = fields.Boolean(
        metadata={
            "description": "Risky work, claimed only by staff trained for it (and taken over by "
            "a trained colleague): a quarantine visit, or a delivery to a quarantined household."
        }
    )
    unit = fields.String(metadata={"description": "The unit that holds the incident now."})
    district = fields.String()
    return_reason = fields.String()
    resolution = fields.String()
    signed_off_by = fields.String()
    satisfaction = fields.String(allow_none=True)
    reopened = fields.Integer()
    holder = fields.String(metadata={"description": "Who has claimed it, if anyone."})
    deadlines = fields.Nested(DeadlinesSchema)
    breached = fields.List(fields.String(), metadata={"description": "Deadlines missed."})
    escalated_to = fields.String(metadata={"description": "The unit asked to see to it (督办)."})
    on_duty = fields.List(
        fields.String(), metadata={"description": "A night emergency: who was on duty."}
    )
    callers = fields.List(
        fields.Dict(),
        metadata={"description": "Repeated calls (重复件) linked to it: each caller, in order."},
    )
    lease_expires_at = Timestamp(allow_none=True)
    queue_unit = fields.String(
        allow_none=True, metadata={"description": "Whose queue it waits in (read side only)."}
    )
    position = fields.Integer(metadata={"description": "Position of its last projected event."})
    created_at = Timestamp()
    updated_at = Timestamp()


class WrittenSchema(Schema):
    id = fields.String(metadata={"description": "The incident's id."})
    version = fields.Integer(metadata={"description": "The incident's version after the write."})
    position = fields.Integer(metadata={"description": "The log position the write reached."})
    incident = fields.Nested(IncidentSchema)


class EventSchema(Schema):
    id = fields.String()
    stream = fields.String()
    version = fields.Integer()
    position = fields.Integer()
    time = fields.DateTime()
    actor = fields.String()
    type = fields.String()
    schema_version = fields.Integer()
    data = fields.Dict()
