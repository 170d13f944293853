"""Schemas of the supplies writes: catalogue items, donations and their corrections, transfers
and their receipts, pleas (求助) and stock-takes (盘点) in; what each write recorded out."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from coordination.domain.supplies import MAX_FEN, MAX_QUANTITY
from coordination.domain.values import (
    Cash,
    CatalogueItem,
    Donor,
    DonorKind,
    Earmark,
    Line,
    SupplyCategory,
)
from schemas.base import RequestSchema, WholeNumber
from schemas.incidents import NOTE, SHORT, ContactSchema

MAX_LINES = 50
ITEM = validate.Length(min=1, max=50)
REASON = validate.Length(min=1, max=1000)
QUANTITY = f"A whole number of the item's counting unit, 1 to {MAX_QUANTITY:,}."
FEN = f"Integer fen (1 yuan = 100 fen), 1 to {MAX_FEN:,}: no fractions of a fen."


class SupplyLineSchema(RequestSchema):
    """A quantity of one catalogue item, in the item's own counting unit."""

    item = fields.String(
        required=True, validate=ITEM, metadata={"description": "A catalogue item's name."}
    )
    quantity = WholeNumber(
        required=True,
        validate=validate.Range(1, MAX_QUANTITY),
        metadata={"description": QUANTITY},
    )

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Line:
        return Line(**data)


class ReceivedLineSchema(SupplyLineSchema):
    """What arrived of one item of a transfer: 0 if none of it did."""

    quantity = WholeNumber(
        required=True,
        validate=validate.Range(0, MAX_QUANTITY),
        metadata={"description": "How many arrived, 0 to the number sent."},
    )


def Lines(*, required: bool = False, **kwargs: Any) -> fields.List:  # noqa: N802 - a field
    """At most 50 lines; at least one where ``required``."""
    length = validate.Length(min=1 if required else 0, max=MAX_LINES)
    extra: dict[str, Any] = {"required": True} if required else {"load_default": ()}
    return fields.List(fields.Nested(SupplyLineSchema), validate=length, **extra, **kwargs)


class EarmarkGivenSchema(RequestSchema):
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=200))
    amount_fen = WholeNumber(
        required=True, validate=validate.Range(1, MAX_FEN), metadata={"description": FEN}
    )

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Earmark:
        return Earmark(**data)


class CashGiftSchema(RequestSchema):
    """A cash gift; earmarked parts name their purpose and add up to no more than the gift."""

    amount_fen = WholeNumber(
        required=True, validate=validate.Range(1, MAX_FEN), metadata={"description": FEN}
    )
    earmarks = fields.List(
        fields.Nested(EarmarkGivenSchema), load_default=(), validate=validate.Length(max=MAX_LINES)
    )

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Cash:
        return Cash(data["amount_fen"], tuple(data["earmarks"]))


class DonorGivenSchema(RequestSchema):
    kind = fields.Enum(DonorKind, by_value=True, required=True)
    name = fields.String(
        load_default="",
        validate=validate.Length(max=100),
        metadata={"description": "Required unless anonymous (匿名)."},
    )
    anonymous = fields.Boolean(load_default=False)
    contact = fields.Nested(
        ContactSchema,
        load_default=None,
        allow_none=True,
        metadata={"description": "Masked like a resident's for those who may not see it."},
    )

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Donor:
        return Donor(**data)


class AddCatalogueItemSchema(RequestSchema):
    district = fields.String(
        load_default=None,
        validate=SHORT,
        metadata={"description": "The district whose catalogue; by default the caller's."},
    )
    name = fields.String(required=True, validate=ITEM)
    category = fields.Enum(SupplyCategory, by_value=True, required=True)
    unit = fields.String(
        required=True,
        validate=validate.Length(min=1, max=10),
        metadata={"description": "The counting unit: 个, 把, 桶, 斤, 箱, 件, 瓶…"},
    )

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        item = CatalogueItem(data["name"], data["category"], data["unit"])
        return {"district": data["district"], "item": item}


class ReceiveDonationSchema(RequestSchema):
    unit = fields.String(
        required=True, validate=SHORT, metadata={"description": "The unit that received it."}
    )
    donor = fields.Nested(DonorGivenSchema, required=True)
    received_by = fields.String(
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "Who received it (经手人)."},
    )
    items = Lines()
    cash = fields.Nested(CashGiftSchema, load_default=None, allow_none=True)
    note = fields.String(load_default="", validate=NOTE)

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {**data, "items": tuple(data["items"])}


class CorrectDonationSchema(RequestSchema):
    """The donation as it should have been recorded (items, cash or both), and why."""

    reason = fields.String(required=True, validate=REASON)
    items = Lines()
    cash = fields.Nested(CashGiftSchema, load_default=None, allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {**data, "items": tuple(data["items"])}


class DispatchTransferSchema(RequestSchema):
    from_unit = fields.String(required=True, validate=SHORT)
    to_unit = fields.String(
        required=True,
        validate=SHORT,
        metadata={"description": "A unit below from_unit, or above it: never from_unit itself."},
    )
    items = Lines(required=True)
    note = fields.String(load_default="", validate=NOTE)

    @validates_schema
    def another_unit(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("from_unit") is not None and data.get("from_unit") == data.get("to_unit"):
            raise ValidationError("A transfer goes to another unit, not to itself.", "to_unit")

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {**data, "items": tuple(data["items"])}


class ReceiveTransferSchema(RequestSchema):
    received = fields.List(
        fields.Nested(ReceivedLineSchema),
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=MAX_LINES),
        metadata={"description": "What arrived, per item sent; left out: all that was sent."},
    )
    loss_reason = fields.String(
        load_default="",
        validate=NOTE,
        metadata={"description": "Required when less arrived than was sent."},
    )

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        received = data["received"]
        return {**data, "received": None if received is None else tuple(received)}


class PostNeedSchema(RequestSchema):
    unit = fields.String(required=True, validate=SHORT)
    items = Lines(required=True)
    note = fields.String(load_default="", validate=NOTE)

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {**data, "items": tuple(data["items"])}


class CloseNeedSchema(RequestSchema):
    reason = fields.String(required=True, validate=REASON)


class TakeStockSchema(RequestSchema):
    unit = fields.String(required=True, validate=SHORT)
    item = fields.String(required=True, validate=ITEM)
    counted = WholeNumber(
        required=True,
        validate=validate.Range(0, MAX_QUANTITY),
        metadata={"description": "What the count found on the shelves, reserved included."},
    )
    reason = fields.String(
        load_default="",
        validate=NOTE,
        metadata={"description": "Required when the count differs from the books."},
    )


# --- answers --------------------------------------------------------------------------------


class LedgerLineSchema(Schema):
    item = fields.String()
    quantity = fields.Integer()
    measure = fields.String(metadata={"description": "The item's counting unit."})


class CashEntrySchema(Schema):
    amount_fen = fields.Integer()
    earmarks = fields.List(fields.Dict(), metadata={"description": "{purpose, amount_fen}"})


class DonorEntrySchema(Schema):
    kind = fields.String()
    name = fields.String()
    anonymous = fields.Boolean()
    contact = fields.Dict(allow_none=True, metadata={"description": "{name, phone}, masked."})


class CatalogueEntrySchema(Schema):
    name = fields.String()
    category = fields.String()
    unit = fields.String()


class DonationEntrySchema(Schema):
    receipt = fields.String(metadata={"description": "The receipt number (受赠编号)."})
    unit = fields.String()
    donor = fields.Nested(DonorEntrySchema)
    received_by = fields.String()
    items = fields.List(fields.Nested(LedgerLineSchema))
    cash = fields.Nested(CashEntrySchema, allow_none=True)
    note = fields.String()
    corrections = fields.Integer(metadata={"description": "How often it was corrected."})


class CorrectionEntrySchema(Schema):
    reason = fields.String()
    items = fields.List(fields.Nested(LedgerLineSchema))
    cash = fields.Nested(CashEntrySchema, allow_none=True)


class TransferEntrySchema(Schema):
    transfer_id = fields.String()
    from_unit = fields.String()
    to_unit = fields.String()
    items = fields.List(fields.Nested(LedgerLineSchema), metadata={"description": "What was sent."})
    note = fields.String()
    in_transit = fields.Boolean()
    received = fields.List(
        fields.Nested(LedgerLineSchema), metadata={"description": "What arrived (once received)."}
    )
    lost = fields.List(
        fields.Nested(LedgerLineSchema), metadata={"description": "Sent, but did not arrive."}
    )
    loss_reason = fields.String()


class NeedEntrySchema(Schema):
    need_id = fields.String()
    unit = fields.String()
    items = fields.List(fields.Nested(LedgerLineSchema), metadata={"description": "Asked for."})
    remaining = fields.List(
        fields.Nested(LedgerLineSchema), metadata={"description": "Still lacking."}
    )
    note = fields.String()
    status = fields.String(metadata={"description": "open, met or closed."})
    reason = fields.String(metadata={"description": "Why it was closed."})


class StocktakeEntrySchema(Schema):
    item = fields.String()
    measure = fields.String()
    recorded = fields.Integer(metadata={"description": "On hand by the books before the count."})
    counted = fields.Integer()
    written_off = fields.Integer(metadata={"description": "recorded - counted (negative: found)."})
    reason = fields.String()
    on_hand = fields.Integer()
    reserved = fields.Integer()
    available = fields.Integer()


class SupplyWrittenSchema(Schema):
    """What every supplies write answers: the entry's id, the ledger's version after the
    write and the log position it reached (read your writes with ``min_position``)."""

    id = fields.String(
        metadata={
            "description": "The entry's number (receipt, transfer or need), or the item's "
            "name (a catalogue item, a stock-take)."
        }
    )
    unit = fields.String(metadata={"description": "The unit whose books the write changed."})
    version = fields.Integer(metadata={"description": "That ledger's version after the write."})
    position = fields.Integer(metadata={"description": "The log position the write reached."})


class CatalogueWrittenSchema(SupplyWrittenSchema):
    district = fields.String()
    item = fields.Nested(CatalogueEntrySchema)


class DonationWrittenSchema(SupplyWrittenSchema):
    receipt = fields.String()
    donation = fields.Nested(DonationEntrySchema)
    correction = fields.Nested(CorrectionEntrySchema)


class TransferWrittenSchema(SupplyWrittenSchema):
    transfer_id = fields.String()
    transfer = fields.Nested(TransferEntrySchema)


class NeedWrittenSchema(SupplyWrittenSchema):
    need_id = fields.String()
    need = fields.Nested(NeedEntrySchema)


class StocktakeWrittenSchema(SupplyWrittenSchema):
    stocktake = fields.Nested(StocktakeEntrySchema)
