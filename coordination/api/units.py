"""A unit's queue: what waits there, its counts, and pulling the next order from it."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from coordination.api import present
from coordination.api.auth import authenticate, current_actor
from coordination.api.incidents import written
from coordination.api.parsing import Blueprint
from coordination.api.reading import reading, services, within_scope
from coordination.projections.views import View
from schemas.incidents import WrittenSchema
from schemas.queries import (
    ClaimNextSchema,
    PageSchema,
    QueueQueryArgsSchema,
    QueueSummarySchema,
    ReadArgsSchema,
)

blp = Blueprint("units", __name__, url_prefix="/units", description="Unit queues")
blp.before_request(authenticate)


@blp.route("/<path:unit>/queue")
class Queue(MethodView):
    @blp.arguments(QueueQueryArgsSchema(), location="query")
    @blp.response(200, PageSchema)
    def get(self, args: dict[str, Any], unit: str) -> Any:
        """The unit's open orders: night emergencies first, then by priority, then oldest."""
        within_scope(unit)

        def keep(view: View) -> bool:
            incident = view.incident
            return args.get("state") in (None, incident.status) and args.get("kind") in (
                None,
                incident.kind,
            )

        partition = services().jurisdiction.district_of(unit)
        page = reading(
            lambda: services().reads.queue(
                partition, unit, keep, args.get("cursor"), args["limit"], args.get("min_position")
            )
        )
        return present.page(page, current_actor())


@blp.route("/<path:unit>/queue/summary")
class QueueSummary(MethodView):
    @blp.arguments(ReadArgsSchema(), location="query")
    @blp.response(200, QueueSummarySchema)
    def get(self, args: dict[str, Any], unit: str) -> Any:
        """Counts of the unit's queue by state and kind."""
        within_scope(unit)
        partition = services().jurisdiction.district_of(unit)
        counts, position = services().reads.summary(partition, unit, args.get("min_position"))
        by_state = {state: sum(kinds.values()) for state, kinds in counts.items()}
        return {
            "unit": unit,
            "position": position,
            "total": sum(by_state.values()),
            "by_state": by_state,
            "by_state_and_kind": counts,
        }


@blp.route("/<path:unit>/queue/claim-next")
class ClaimNext(MethodView):
    @blp.arguments(ClaimNextSchema())
    @blp.response(200, WrittenSchema)
    @blp.alt_response(204, description="Nothing to claim.")
    def post(self, args: dict[str, Any], unit: str) -> Any:
        """Claim the most urgent unclaimed order of the unit's queue, or 204 if none."""
        within_scope(unit)
        result = services().incidents.claim_next(current_actor(), unit, args["kind"])
        if result is None:
            return "", 204
        return written(result, 200)
