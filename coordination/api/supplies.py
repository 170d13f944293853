"""Supplies: the catalogue, donations, transfers, pleas and stock-takes (the writes).

Each write appends to the ledger of one unit (a transfer's receipt settles the sender's in the
same append) and answers with the entry's number, the ledger's version, the log position it
reached (for ``min_position``) and the entry as recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask.views import MethodView

from coordination.api import present
from coordination.api.auth import authenticate, current_actor
from coordination.api.incidents import idempotency
from coordination.api.parsing import Blueprint
from coordination.api.reading import services
from coordination.domain.access import Actor, Forbidden
from coordination.domain.commands import (
    CloseNeed,
    CorrectDonation,
    DispatchTransfer,
    PostNeed,
    ReceiveDonation,
    ReceiveTransfer,
    TakeStock,
)
from coordination.domain.errors import DomainError
from coordination.domain.events import DonationCorrected
from coordination.domain.supplies import (
    NEED,
    RECEIPT,
    Catalogue,
    Ledger,
    UnknownItem,
    unit_of_number,
)
from coordination.domain.units import Level
from coordination.domain.values import Cash, Line
from coordination.handlers.base import NotFound
from coordination.handlers.supplies import LedgerWritten, SupplyHandler
from coordination.store.mapper import to_data
from schemas.supplies import (
    AddCatalogueItemSchema,
    CatalogueWrittenSchema,
    CloseNeedSchema,
    CorrectDonationSchema,
    DispatchTransferSchema,
    DonationWrittenSchema,
    NeedWrittenSchema,
    PostNeedSchema,
    ReceiveDonationSchema,
    ReceiveTransferSchema,
    StocktakeWrittenSchema,
    TakeStockSchema,
    TransferWrittenSchema,
)

blp = Blueprint(
    "supplies", __name__, url_prefix="/supplies", description="Supplies and donations: writes"
)
blp.before_request(authenticate)

Answer = tuple[dict[str, Any], int, dict[str, str]]


def ledgers() -> SupplyHandler:
    return services().supplies


def answer(body: dict[str, Any], status: int, replayed: bool) -> Answer:
    return body, status, {"Idempotent-Replayed": "true"} if replayed else {}


def written(result: LedgerWritten, entry_id: str) -> dict[str, Any]:
    """What every ledger write answers, before its entry."""
    ledger = result.ledger
    return {
        "id": entry_id,
        "unit": ledger.unit,
        "version": ledger.version,
        "position": result.position,
    }


def owner(number: str, prefix: str, actor: Actor) -> tuple[str, Ledger]:
    """The unit whose ledger issued ``number``, and that ledger, if the actor's subtree holds it
    and it issued the number; else it does not exist for the actor."""
    unit = unit_of_number(number, prefix)
    jurisdiction = services().jurisdiction
    if unit is None or not jurisdiction.within(unit, actor.unit):
        raise NotFound(number)
    ledger = ledgers().ledger(jurisdiction.district_of(unit), unit)
    return unit, ledger


def catalogue_of(unit: str) -> Catalogue:
    return ledgers().catalogue.current(services().jurisdiction.district_of(unit))


def lines(found: Iterable[Line], catalogue: Catalogue) -> list[dict[str, Any]]:
    """Lines with their items' counting units (个, 把, 桶…)."""
    return [
        {"item": line.item, "quantity": line.quantity, "measure": measure(catalogue, line.item)}
        for line in found
    ]


def measure(catalogue: Catalogue, item: str) -> str:
    found = catalogue.items.get(item)
    return found.unit if found is not None else ""


def cash(gift: Cash | None) -> dict[str, Any] | None:
    return None if gift is None else to_data(gift)


# --- the catalogue --------------------------------------------------------------------------


@blp.route("/catalogue")
class CatalogueItems(MethodView):
    @blp.arguments(AddCatalogueItemSchema())
    @blp.response(201, CatalogueWrittenSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Add an item to a district's supplies catalogue (admins): its name, category and
        counting unit. An item of that name already there is a 409."""
        actor = current_actor()
        jurisdiction = services().jurisdiction
        district = jurisdiction.get(
            data["district"] or jurisdiction.district_of(actor.unit), "district"
        )
        if district.level is not Level.DISTRICT:
            raise DomainError(f"{district.id} is not a district", field="district")
        result = ledgers().catalogue.add(actor, district.id, data["item"], idempotency())
        item = result.history[-1].event.item
        body = {
            "id": item.name,
            "unit": district.id,
            "district": district.id,
            "version": result.catalogue.version,
            "position": result.position,
            "item": to_data(item),
        }
        return answer(body, 201, result.replayed)


# --- donations ------------------------------------------------------------------------------


def donation_written(result: LedgerWritten, receipt: str, status: int) -> Answer:
    ledger = result.ledger
    donation = ledger.donations[receipt]
    catalogue = catalogue_of(ledger.unit)
    body = written(result, receipt)
    body["receipt"] = receipt
    body["donation"] = {
        "receipt": receipt,
        "unit": ledger.unit,
        "donor": present.donor(donation.donor, current_actor()),
        "received_by": donation.received_by,
        "items": lines(donation.items, catalogue),
        "cash": cash(donation.cash),
        "note": donation.note,
        "corrections": donation.corrections,
    }
    event = result.event
    if isinstance(event, DonationCorrected):
        body["correction"] = {
            "reason": event.reason,
            "items": lines(event.items, catalogue),
            "cash": cash(event.cash),
        }
    return answer(body, status, result.replayed)


@blp.route("/donations")
class Donations(MethodView):
    @blp.arguments(ReceiveDonationSchema())
    @blp.response(201, DonationWrittenSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Record a donation (捐赠) received by a unit in your subtree: items, cash or both;
        the ledger issues its receipt number (受赠编号)."""
        result = ledgers().execute(
            current_actor(), data["unit"], ReceiveDonation(**data), idempotency()
        )
        return donation_written(result, result.event.receipt, 201)


@blp.route("/donations/<receipt>/corrections")
class Corrections(MethodView):
    @blp.arguments(CorrectDonationSchema())
    @blp.response(201, DonationWrittenSchema)
    def post(self, data: dict[str, Any], receipt: str) -> Any:
        """Correct a donation by a compensating entry (never an edit): the donation as it
        should have been recorded, and why. Stock it took away must not be promised."""
        actor = current_actor()
        unit, ledger = owner(receipt, RECEIPT, actor)
        if receipt not in ledger.donations:
            raise NotFound(receipt)
        command = CorrectDonation(receipt, **data)
        result = ledgers().execute(actor, unit, command, idempotency())
        return donation_written(result, receipt, 201)


# --- transfers ------------------------------------------------------------------------------


@blp.route("/transfers")
class Transfers(MethodView):
    @blp.arguments(DispatchTransferSchema())
    @blp.response(201, TransferWrittenSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Send supplies from a unit in your subtree down the tree (or back up it): they are
        in transit until the receiver counts them in."""
        actor = current_actor()
        jurisdiction = services().jurisdiction
        sender = jurisdiction.get(data["from_unit"], "from_unit").id
        if not jurisdiction.within(sender, actor.unit):
            raise Forbidden(f"{sender} is outside {actor.unit}", "from_unit")
        command = DispatchTransfer(data["to_unit"], data["items"], data["note"])
        result = ledgers().execute(actor, sender, command, idempotency())
        event = result.event
        body = written(result, event.transfer_id)
        body["transfer_id"] = event.transfer_id
        body["transfer"] = {
            "transfer_id": event.transfer_id,
            "from_unit": event.from_unit,
            "to_unit": event.to_unit,
            "items": lines(event.items, catalogue_of(sender)),
            "note": event.note,
            "in_transit": True,
            "received": [],
            "lost": [],
            "loss_reason": "",
        }
        return answer(body, 201, result.replayed)


@blp.route("/transfers/<transfer_id>/receipt")
class TransferReceipt(MethodView):
    @blp.arguments(ReceiveTransferSchema())
    @blp.response(201, TransferWrittenSchema)
    def post(self, data: dict[str, Any], transfer_id: str) -> Any:
        """Count a transfer in at the unit it was sent to (all that was sent, unless told
        otherwise); less than was sent records the loss, with its reason."""
        command = ReceiveTransfer(transfer_id, data["received"], data["loss_reason"])
        result = ledgers().receive(current_actor(), command, idempotency())
        event = result.event
        partition = services().jurisdiction.district_of(event.from_unit)
        sent = ledgers().ledger(partition, event.from_unit).transfers[transfer_id]
        got = {line.item: line.quantity for line in event.items}
        lost = [
            Line(line.item, line.quantity - got.get(line.item, 0))
            for line in sent.items
            if line.quantity > got.get(line.item, 0)
        ]
        catalogue = catalogue_of(sent.to_unit)
        body = written(result, transfer_id)
        body["transfer_id"] = transfer_id
        body["transfer"] = {
            "transfer_id": transfer_id,
            "from_unit": sent.from_unit,
            "to_unit": sent.to_unit,
            "items": lines(sent.items, catalogue),
            "in_transit": False,
            "received": lines(event.items, catalogue),
            "lost": lines(lost, catalogue),
            "loss_reason": data["loss_reason"] if lost else "",
        }
        return answer(body, 201, result.replayed)


# --- pleas (求助) ---------------------------------------------------------------------------


def need_written(result: LedgerWritten, need_id: str, status: int) -> Answer:
    ledger = result.ledger
    need = ledger.needs[need_id]
    catalogue = catalogue_of(ledger.unit)
    body = written(result, need_id)
    body["need_id"] = need_id
    body["need"] = {
        "need_id": need_id,
        "unit": ledger.unit,
        "items": lines(need.items, catalogue),
        "remaining": lines(need.remaining, catalogue),
        "note": need.note,
        "status": need.status,
        "reason": need.reason,
    }
    return answer(body, status, result.replayed)


@blp.route("/needs")
class Needs(MethodView):
    @blp.arguments(PostNeedSchema())
    @blp.response(201, NeedWrittenSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Post a plea (求助) for what a unit in your subtree lacks; supplies that arrive there
        go to its open pleas, oldest first."""
        command = PostNeed(data["items"], data["note"])
        result = ledgers().execute(current_actor(), data["unit"], command, idempotency())
        return need_written(result, result.event.need_id, 201)


@blp.route("/needs/<need_id>/close")
class CloseNeedView(MethodView):
    @blp.arguments(CloseNeedSchema())
    @blp.response(200, NeedWrittenSchema)
    def post(self, data: dict[str, Any], need_id: str) -> Any:
        """Close an open plea, saying why (met from elsewhere, no longer needed…)."""
        actor = current_actor()
        unit, ledger = owner(need_id, NEED, actor)
        if need_id not in ledger.needs:
            raise NotFound(need_id)
        command = CloseNeed(need_id, data["reason"])
        result = ledgers().execute(actor, unit, command, idempotency())
        return need_written(result, need_id, 200)


# --- stock-takes (盘点) ---------------------------------------------------------------------


@blp.route("/stocktakes")
class Stocktakes(MethodView):
    @blp.arguments(TakeStockSchema())
    @blp.response(201, StocktakeWrittenSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Record a stock-take (盘点) of one item at a unit in your subtree: a count that
        differs from the books is written off (or found), with the reason."""
        command = TakeStock(data["item"], data["counted"], data["reason"])
        try:
            result = ledgers().execute(current_actor(), data["unit"], command, idempotency())
        except UnknownItem as unknown:
            raise UnknownItem(unknown.item, unknown.close, "item") from None
        event = result.event
        stock = result.ledger.of(event.item)
        body = written(result, event.item)
        body["stocktake"] = {
            "item": event.item,
            "measure": measure(catalogue_of(result.ledger.unit), event.item),
            "recorded": event.recorded,
            "counted": event.counted,
            "written_off": event.recorded - event.counted,
            "reason": event.reason,
            "on_hand": stock.on_hand,
            "reserved": stock.reserved,
            "available": stock.available,
        }
        return answer(body, 201, result.replayed)
