"""Schemas of staff members, their duty shifts, duty coverage and daily counts."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from coordination.domain.values import StaffKind
from schemas.base import Day, MinPosition, Moment, Pattern, RequestSchema
from schemas.incidents import SHORT, ExpectedVersionSchema, Timestamp

STAFF_ID = Pattern(r"[a-z0-9][a-z0-9._-]{1,63}", error="2-64 of a-z 0-9 . _ -")


class ProfileSchema(ExpectedVersionSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    unit = fields.String(required=True, validate=SHORT)
    kind = fields.Enum(StaffKind, by_value=True, required=True)
    party_member = fields.Boolean(load_default=False)
    quarantine_trained = fields.Boolean(load_default=False)


class RegisterStaffSchema(ProfileSchema):
    staff_id = fields.String(required=True, validate=STAFF_ID)


class DeactivateStaffSchema(ExpectedVersionSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ScheduleShiftSchema(ExpectedVersionSchema):
    shift_id = fields.String(required=True, validate=STAFF_ID)
    start = Moment(required=True)
    end = Moment(required=True)


class CancelShiftSchema(ExpectedVersionSchema):
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class ShiftSchema(Schema):
    shift_id = fields.String()
    unit = fields.String()
    start = Timestamp()
    end = Timestamp()


class StaffMemberSchema(Schema):
    id = fields.String()
    name = fields.String()
    unit = fields.String()
    kind = fields.String()
    party_member = fields.Boolean()
    quarantine_trained = fields.Boolean()
    active = fields.Boolean()
    version = fields.Integer()
    shifts = fields.List(fields.Nested(ShiftSchema))


class StaffWrittenSchema(Schema):
    id = fields.String()
    version = fields.Integer()
    position = fields.Integer()
    member = fields.Nested(StaffMemberSchema)


class StaffListSchema(Schema):
    items = fields.List(fields.Nested(StaffMemberSchema))


class DutyArgsSchema(RequestSchema):
    night = Day(metadata={"description": "The night after this local date; tonight."})
    min_position = MinPosition()


class IntervalSchema(Schema):
    start = Timestamp()
    end = Timestamp()


class CommunityDutySchema(Schema):
    unit = fields.String()
    name = fields.String()
    on_duty_now = fields.List(fields.String())
    covered = fields.List(fields.Nested(IntervalSchema))
    gaps = fields.List(fields.Nested(IntervalSchema))
    complete = fields.Boolean()


class DutySchema(Schema):
    night_start = Timestamp()
    night_end = Timestamp()
    communities = fields.List(fields.Nested(CommunityDutySchema))


class StatsArgsSchema(RequestSchema):
    date = Day(required=True, metadata={"description": "The local day counted."})
    min_position = MinPosition()


class StatsSchema(Schema):
    date = fields.String()
    unit = fields.String()
    counts = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(),
        metadata={"description": "unit -> kind -> metric -> count, for the unit's subtree"},
    )
