"""Schemas of the daily report (日报)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.base import Day, MinPosition, RequestSchema
from schemas.dashboard import DayFiguresSchema


class DailyReportQueryArgsSchema(RequestSchema):
    date = Day(required=True, metadata={"description": "The local day reported on."})
    district = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "The district; the caller's by default."},
    )
    min_position = MinPosition()


class ReportKindSchema(DayFiguresSchema):
    kind = fields.String()


class ReportUnitSchema(DayFiguresSchema):
    unit = fields.String()
    name = fields.String()
    level = fields.String()


class ReportOverdueSchema(Schema):
    incident = fields.String()
    kind = fields.String()
    unit = fields.String(metadata={"description": "The unit the deadline was set for."})
    unit_name = fields.String()
    deadline = fields.String()
    due_at = fields.String()
    minutes_late = fields.Integer(metadata={"description": "At the report's as_of."})


class ReportLineSchema(Schema):
    item = fields.String()
    quantity = fields.Integer()
    measure = fields.String(metadata={"description": "The item's counting unit."})


class ReportDonationsSchema(Schema):
    count = fields.Integer(metadata={"description": "Donations received that day."})
    corrections = fields.Integer(metadata={"description": "Corrections made that day."})
    items = fields.List(
        fields.Nested(ReportLineSchema),
        metadata={"description": "Items received, a correction's difference on its own day."},
    )
    cash_fen = fields.Integer()


class ReportSuppliesSchema(Schema):
    unit = fields.String()
    name = fields.String()
    level = fields.String()
    donations = fields.Nested(ReportDonationsSchema)
    issued = fields.List(
        fields.Nested(ReportLineSchema), metadata={"description": "Issued to delivery orders."}
    )


class DailyReportSchema(Schema):
    district = fields.String()
    district_name = fields.String()
    date = fields.String()
    as_of = fields.String(
        metadata={"description": "The end of the day once it is over (the report is final); now."}
    )
    total = fields.Nested(DayFiguresSchema)
    by_kind = fields.List(fields.Nested(ReportKindSchema))
    by_unit = fields.List(
        fields.Nested(ReportUnitSchema),
        metadata={"description": "Each street and department, its communities rolled in."},
    )
    overdue = fields.List(fields.Nested(ReportOverdueSchema))
    supplies = fields.List(
        fields.Nested(ReportSuppliesSchema),
        metadata={"description": "Each unit's own donations received and supplies issued."},
    )
