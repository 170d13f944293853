"""Schemas of the unit dashboard: its query and its figures."""

from __future__ import annotations

from marshmallow import Schema, fields

from schemas.base import Day, MinPosition, RequestSchema

RATE = "A fraction floored to 4 decimals; null when there is nothing to divide by (shown as —)."
NEAREST_RANK = "Seconds since the (latest) dispatch, by the nearest-rank method; null of none."


class DashboardQueryArgsSchema(RequestSchema):
    date = Day(metadata={"description": "The local day of the day's figures; today."})
    min_position = MinPosition()


class CityQueryArgsSchema(RequestSchema):
    date = Day(metadata={"description": "The local day of the day's figures; today."})


class OpenSchema(Schema):
    total = fields.Integer()
    by_state = fields.Dict(keys=fields.String(), values=fields.Integer())


class TimelinessSchema(Schema):
    on_time = fields.Integer()
    late = fields.Integer()
    no_deadline = fields.Integer()
    on_time_rate = fields.Float(allow_none=True, metadata={"description": RATE})
    median_seconds = fields.Integer(allow_none=True, metadata={"description": NEAREST_RANK})
    p90_seconds = fields.Integer(allow_none=True, metadata={"description": NEAREST_RANK})


class VisitsSchema(Schema):
    satisfied = fields.Integer()
    basically_satisfied = fields.Integer()
    unsatisfied = fields.Integer()
    total = fields.Integer()
    satisfaction_rate = fields.Float(
        allow_none=True,
        metadata={"description": "满意率: (satisfied + basically satisfied) / visits. " + RATE},
    )


class DayFiguresSchema(Schema):
    """One local day's figures of a group of orders."""

    reported = fields.Integer(metadata={"description": "New orders dispatched that day."})
    epidemic = fields.Integer()
    epidemic_share = fields.Float(allow_none=True, metadata={"description": RATE})
    signed = fields.Nested(TimelinessSchema)
    resolved = fields.Nested(TimelinessSchema, metadata={"description": "及时办结率 and times."})
    visits = fields.Nested(VisitsSchema)
    escalated = fields.Integer()
    reopened = fields.Integer()
    breached = fields.Integer()
    calls = fields.Integer(
        metadata={"description": "受理量: calls taken, each new order's and each repeated call's."}
    )
    linked_calls = fields.Integer(
        metadata={"description": "重复件: repeated calls linked to an open order (no new order)."}
    )


class FiguresSchema(DayFiguresSchema):
    """A day's figures, with the open orders and those overdue right now."""

    open = fields.Nested(OpenSchema, metadata={"description": "Open orders now, by state."})
    overdue = fields.Integer(metadata={"description": "Orders with a deadline late now."})


class GroupSchema(Schema):
    total = fields.Nested(FiguresSchema)
    by_kind = fields.Dict(keys=fields.String(), values=fields.Nested(FiguresSchema))


class DashboardUnitSchema(Schema):
    unit = fields.String()
    name = fields.String()
    level = fields.String()
    parent = fields.String(allow_none=True)
    open = fields.Nested(OpenSchema)
    overdue = fields.Integer()


class DashboardSchema(Schema):
    unit = fields.String()
    name = fields.String()
    level = fields.String()
    date = fields.String()
    as_of = fields.String(metadata={"description": "The time 'now' means: open and overdue."})
    position = fields.Integer(metadata={"description": "The log position the figures reflect."})
    own = fields.Nested(GroupSchema, metadata={"description": "The unit's own orders."})
    subtree = fields.Nested(GroupSchema, metadata={"description": "Rolled up over its subtree."})
    units = fields.List(
        fields.Nested(DashboardUnitSchema),
        metadata={"description": "Each unit of the subtree: its own queue and overdue orders."},
    )


class CityDistrictSchema(GroupSchema):
    unit = fields.String()
    name = fields.String()
    level = fields.String()
    position = fields.Integer(
        metadata={"description": "The position in this district's log the figures reflect."}
    )
    unavailable = fields.String(
        metadata={
            "description": "Only when this district's store could not answer now (its shard "
            "failing over): why. The row then has no figures."
        }
    )


class CitySummarySchema(GroupSchema):
    unit = fields.String()
    name = fields.String()
    level = fields.String()
    date = fields.String()
    as_of = fields.String(metadata={"description": "The time 'now' means: open and overdue."})
    complete = fields.Boolean(
        metadata={
            "description": "Whether every district answered; if not, the city's figures "
            "are those of the districts that did."
        }
    )
    unavailable = fields.List(
        fields.String(), metadata={"description": "The districts that could not answer now."}
    )
    districts = fields.List(
        fields.Nested(CityDistrictSchema),
        metadata={"description": "Each district of the city, over its whole subtree."},
    )
