"""Schemas of the supplies reads: the catalogue, stock, reconciliation, pleas, shortages,
transfers and the public list of donations (捐赠公示)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from coordination.domain.values import DonorKind, SupplyCategory
from schemas.base import MinPosition, RequestSchema
from schemas.incidents import SHORT, Timestamp

UNIT = fields.String(
    validate=SHORT, metadata={"description": "A unit in your subtree; your own by default."}
)


class SupplyReadArgsSchema(RequestSchema):
    min_position = MinPosition()


class SubtreeArgsSchema(SupplyReadArgsSchema):
    unit = UNIT


class StockArgsSchema(SubtreeArgsSchema):
    item = fields.String(validate=SHORT, metadata={"description": "Only this catalogue item."})


class NeedsArgsSchema(SubtreeArgsSchema):
    status = fields.String(
        load_default="open",
        validate=validate.OneOf(["open", "met", "closed", "all"]),
        metadata={"description": "open (the default), met, closed or all."},
    )


class PublicDonationsArgsSchema(RequestSchema):
    cursor = fields.String(validate=validate.Length(max=500))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class CatalogueItemSchema(Schema):
    name = fields.String()
    category = fields.Enum(SupplyCategory, by_value=True)
    unit = fields.String(metadata={"description": "Its counting unit: 个, 把, 桶, 斤…"})


class CatalogueSchema(Schema):
    items = fields.List(fields.Nested(CatalogueItemSchema))


class MeasuredSchema(Schema):
    item = fields.String()
    quantity = fields.Integer()
    measure = fields.String(metadata={"description": "The item's counting unit."})


class StockRowSchema(Schema):
    unit = fields.String()
    name = fields.String()
    item = fields.String()
    measure = fields.String()
    on_hand = fields.Integer(metadata={"description": "On the shelves, promised or not."})
    reserved = fields.Integer(metadata={"description": "Promised to delivery orders."})
    available = fields.Integer(metadata={"description": "On hand and not promised."})
    in_transit = fields.Integer(metadata={"description": "Sent by this unit, not yet received."})


class StockSchema(Schema):
    unit = fields.String()
    position = fields.Integer(metadata={"description": "The log position read at."})
    rows = fields.List(fields.Nested(StockRowSchema))


class BooksSchema(Schema):
    unit = fields.String(metadata={"description": "The unit; in a total, the subtree's."})
    name = fields.String()
    item = fields.String()
    measure = fields.String()
    donated = fields.Integer()
    transferred_in = fields.Integer()
    transferred_out = fields.Integer()
    issued = fields.Integer()
    written_off = fields.Integer()
    on_hand = fields.Integer()
    reserved = fields.Integer()
    available = fields.Integer()
    in_transit = fields.Integer()
    booked = fields.Integer(
        metadata={
            "description": "donated + transferred_in - transferred_out - issued - written_off"
        }
    )
    held = fields.Integer(metadata={"description": "on_hand (reserved included) + in_transit"})
    difference = fields.Integer(metadata={"description": "booked - held: 0 when balanced."})


class CashSchema(Schema):
    unit = fields.String()
    name = fields.String()
    cash_fen = fields.Integer()
    earmarked = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "purpose -> fen"}
    )


class DifferenceSchema(Schema):
    unit = fields.String()
    name = fields.String()
    item = fields.String(metadata={"description": "The item, or the transfer one side lacks."})
    difference = fields.Integer()
    explanation = fields.String()


class ReconciliationSchema(Schema):
    unit = fields.String()
    name = fields.String()
    position = fields.Integer()
    balanced = fields.Boolean()
    differences = fields.List(fields.Nested(DifferenceSchema))
    rows = fields.List(
        fields.Nested(BooksSchema), metadata={"description": "Per unit of the subtree and item."}
    )
    totals = fields.List(
        fields.Nested(BooksSchema), metadata={"description": "Per item, over the subtree."}
    )
    cash = fields.List(fields.Nested(CashSchema))
    cash_total = fields.Nested(CashSchema)


class UnitRefSchema(Schema):
    unit = fields.String()
    name = fields.String()


class EarmarkSchema(Schema):
    purpose = fields.String()
    amount_fen = fields.Integer()


class PublicDonationSchema(Schema):
    receipt = fields.String(metadata={"description": "受赠编号"})
    donor = fields.String(metadata={"description": "The donor's name, or 匿名."})
    donor_kind = fields.Enum(DonorKind, by_value=True)
    to = fields.Nested(UnitRefSchema)
    items = fields.List(fields.Nested(MeasuredSchema))
    cash_fen = fields.Integer()
    earmarks = fields.List(fields.Nested(EarmarkSchema))
    received_at = Timestamp()
    corrected = fields.Boolean(metadata={"description": "Corrected by a compensating entry."})


class PublicDonationPageSchema(Schema):
    items = fields.List(fields.Nested(PublicDonationSchema))
    next_cursor = fields.String(allow_none=True)


class NeedSchema(Schema):
    need_id = fields.String()
    unit = fields.String()
    name = fields.String()
    status = fields.String(metadata={"description": "open, met or closed"})
    note = fields.String()
    reason = fields.String(metadata={"description": "Why it was closed."})
    items = fields.List(fields.Nested(MeasuredSchema), metadata={"description": "Asked for."})
    remaining = fields.List(
        fields.Nested(MeasuredSchema), metadata={"description": "Still lacking."}
    )


class NeedsSchema(Schema):
    unit = fields.String()
    position = fields.Integer()
    needs = fields.List(fields.Nested(NeedSchema))


class ShortageSchema(Schema):
    unit = fields.String()
    name = fields.String()
    item = fields.String()
    measure = fields.String()
    needed = fields.Integer(metadata={"description": "Still asked for by open pleas."})
    available = fields.Integer()
    short = fields.Integer(metadata={"description": "needed - available"})


class ShortagesSchema(Schema):
    unit = fields.String()
    position = fields.Integer()
    rows = fields.List(fields.Nested(ShortageSchema))


class TransferSchema(Schema):
    transfer_id = fields.String()
    from_unit = fields.String()
    from_name = fields.String()
    to_unit = fields.String()
    to_name = fields.String()
    items = fields.List(fields.Nested(MeasuredSchema))
    note = fields.String()
    dispatched_at = Timestamp()
    in_transit = fields.Boolean()
    received_at = Timestamp(allow_none=True)
    received = fields.List(fields.Nested(MeasuredSchema))
    lost = fields.List(fields.Nested(MeasuredSchema))
    loss_reason = fields.String()


class TransfersSchema(Schema):
    unit = fields.String()
    position = fields.Integer()
    transfers = fields.List(fields.Nested(TransferSchema))
