"""Supplies as the projections have them: stock, reconciliation, pleas, shortages, and the
public list of donations (捐赠公示).

Every read but the public list takes a bearer token and reads within its subtree (``?unit=``,
the token's own unit by default); the public list needs none and shows no contact details,
nor an anonymous donor's name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from flask import request
from flask.views import MethodView
from flask_smorest import abort

from coordination.api.auth import authenticate, current_actor
from coordination.api.parsing import Blueprint
from coordination.api.reading import reading, services, within_scope
from coordination.domain.supplies import Catalogue, UnknownItem
from coordination.domain.values import DonorKind, Line
from coordination.projections import supply_books
from coordination.store.mapper import to_data
from schemas.supplies_reads import (
    CatalogueSchema,
    NeedsArgsSchema,
    NeedsSchema,
    PublicDonationPageSchema,
    PublicDonationsArgsSchema,
    ReconciliationSchema,
    ShortagesSchema,
    StockArgsSchema,
    StockSchema,
    SubtreeArgsSchema,
    SupplyReadArgsSchema,
    TransfersSchema,
)

blp = Blueprint(
    "supplies_reads",
    __name__,
    url_prefix="/supplies",
    description="Supplies and donations: what is on hand, where, and what came in",
)
ANONYMOUS = "匿名"
PUBLIC = frozenset({"supplies_reads.PublicDonations"})  # endpoints read without a token


@blp.before_request
def authenticate_but_the_public_list() -> None:
    if request.endpoint not in PUBLIC:
        authenticate()


def scope(args: dict[str, Any]) -> tuple[str, str, list[str]]:
    """The unit asked about (the caller's own by default) if within the caller's subtree, its
    district, and the units of its subtree."""
    unit = args.get("unit") or current_actor().unit
    within_scope(unit)
    jurisdiction = services().jurisdiction
    units = sorted(u for u in jurisdiction.units if jurisdiction.within(u, unit))
    return unit, jurisdiction.district_of(unit), units


def name(unit: str) -> str:
    jurisdiction = services().jurisdiction
    return jurisdiction.units[unit].name if unit in jurisdiction else unit


def named(row: Any) -> dict[str, Any]:
    """A row as data, with its unit's name."""
    data: dict[str, Any] = to_data(row)
    return {**data, "name": name(data["unit"])}


@blp.route("/catalogue")
class CatalogueItems(MethodView):
    @blp.arguments(SupplyReadArgsSchema(), location="query")
    @blp.response(200, CatalogueSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """The district's supplies catalogue: each item's name, category and counting unit."""
        district = services().jurisdiction.district_of(current_actor().unit)
        items = services().reads.catalogue(district, args.get("min_position"))
        return {"items": items}


@blp.route("/stock")
class Stock(MethodView):
    @blp.arguments(StockArgsSchema(), location="query")
    @blp.response(200, StockSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Stock per unit of the subtree and item: on hand, reserved for delivery orders,
        available, and in transit to another unit."""
        unit, district, units = scope(args)
        item = args.get("item")
        reads = services().reads
        if item is not None:
            known = Catalogue(
                {i.name: i for i in reads.catalogue(district, args.get("min_position"))}
            )
            try:
                known.check([Line(item, 1)], "item")
            except UnknownItem as unknown:
                abort(422, message=unknown.message, errors={"query": {"item": [unknown.message]}})
        rows, position = reads.stock(district, units, item, args.get("min_position"))
        return {"unit": unit, "position": position, "rows": [named(r) for r in rows]}


@blp.route("/reconciliation")
class Reconciliation(MethodView):
    @blp.arguments(SubtreeArgsSchema(), location="query")
    @blp.response(200, ReconciliationSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """The books of each unit of the subtree per item: donated + transferred in -
        transferred out - issued - written off against on hand (reserved included) + in
        transit, with the difference; totals over the subtree; cash and its earmarks; and every
        difference named (``balanced`` when there is none)."""
        unit, district, units = scope(args)
        books = services().reads.reconciliation(district, units, args.get("min_position"))
        return supply_books.reconciliation_data(books, services().jurisdiction, unit)


@blp.route("/donations/public")
class PublicDonations(MethodView):
    @blp.arguments(PublicDonationsArgsSchema(), location="query")
    @blp.response(200, PublicDonationPageSchema)
    @blp.doc(security=[])
    def get(self, args: dict[str, Any]) -> Any:
        """The public list of donations (捐赠公示), the latest received first: who gave (or
        匿名), what, to whom and when; no token needed, and never a donor's contact."""
        svc = services()
        page = reading(
            lambda: svc.reads.donations(svc.partitions, args.get("cursor"), args["limit"])
        )
        tz = ZoneInfo(svc.config.timezone)
        return {
            "items": [
                {
                    "receipt": d.receipt,
                    "donor": ANONYMOUS if d.anonymous or not d.donor else d.donor,
                    "donor_kind": DonorKind(d.donor_kind),
                    "to": {"unit": d.unit, "name": name(d.unit)},
                    "items": to_data(d.items),
                    "cash_fen": d.cash_fen,
                    "earmarks": list(d.earmarks),
                    "received_at": d.received_at.astimezone(tz).isoformat(),
                    "corrected": d.corrected,
                }
                for d in page.items
            ],
            "next_cursor": page.next_cursor,
        }


@blp.route("/needs")
class Needs(MethodView):
    @blp.arguments(NeedsArgsSchema(), location="query")
    @blp.response(200, NeedsSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """The pleas (求助) of the subtree's units, in the order posted: what each asked for and
        what it still lacks (supplies that arrive go to open pleas, oldest first)."""
        unit, district, units = scope(args)
        found, position = services().reads.needs(
            district, units, args["status"], args.get("min_position")
        )
        return {"unit": unit, "position": position, "needs": [named(n) for n in found]}


@blp.route("/shortages")
class Shortages(MethodView):
    @blp.arguments(SubtreeArgsSchema(), location="query")
    @blp.response(200, ShortagesSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Per unit of the subtree and item: what its open pleas still ask for beyond what it
        has available."""
        unit, district, units = scope(args)
        rows, position = services().reads.shortages(district, units, args.get("min_position"))
        return {"unit": unit, "position": position, "rows": [named(r) for r in rows]}


@blp.route("/transfers")
class Transfers(MethodView):
    @blp.arguments(SubtreeArgsSchema(), location="query")
    @blp.response(200, TransfersSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Transfers sent or received by the subtree's units, the latest dispatched first;
        those still on the road are ``in_transit``, a received one says what arrived and what
        was lost, and why."""
        unit, district, units = scope(args)
        tz = ZoneInfo(services().config.timezone)
        subtree = set(units)
        rows, position = services().reads.transfers(
            district, subtree.__contains__, args.get("min_position")
        )
        return {"unit": unit, "position": position, "transfers": list(_transfers(rows, tz))}


def _transfers(rows: Iterable[supply_books.TransferRow], tz: ZoneInfo) -> Iterable[dict[str, Any]]:
    for row in rows:
        data: dict[str, Any] = to_data(row)
        data["dispatched_at"] = row.dispatched_at.astimezone(tz).isoformat()
        if row.received_at is not None:
            data["received_at"] = row.received_at.astimezone(tz).isoformat()
        yield {**data, "from_name": name(row.from_unit), "to_name": name(row.to_unit)}
