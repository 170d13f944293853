"""What the intake desk (接单台) reads before an order is filed: place names to pick from, and
the orders a call may repeat (重复件), so that a repeated call is linked rather than filed anew
(``POST /incidents/<id>/link-call``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.views import MethodView
from flask_smorest import abort

from coordination.api import present
from coordination.api.auth import authenticate, current_actor
from coordination.api.parsing import Blueprint
from coordination.api.reading import services
from coordination.domain.access import Action, Forbidden, check_role
from coordination.domain.errors import UnknownPlace
from coordination.projections import duplicates
from schemas.intake import (
    MAX_DAYS,
    DuplicateQueryArgsSchema,
    DuplicatesSchema,
    PlaceQueryArgsSchema,
    PlacesSchema,
)

blp = Blueprint("intake", __name__, description="Intake: places and possible duplicates")
blp.before_request(authenticate)


@blp.route("/places")
class Places(MethodView):
    @blp.arguments(PlaceQueryArgsSchema(), location="query")
    @blp.response(200, PlacesSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Place names containing ``q`` within the caller's unit, each with the unit that
        owns it and the unit an order there is routed to."""
        jurisdiction = services().jurisdiction
        found = jurisdiction.suggest(args["q"], current_actor().unit, args["limit"])
        places = []
        for place, unit in found:
            handling = jurisdiction.handling_unit_for(unit.id)
            places.append(
                {
                    "place": place,
                    "unit": unit.id,
                    "unit_name": unit.name,
                    "handling_unit": handling.id,
                    "handling_unit_name": handling.name,
                }
            )
        return {"places": places}


@blp.route("/incidents/possible-duplicates")
class PossibleDuplicates(MethodView):
    @blp.arguments(DuplicateQueryArgsSchema(), location="query")
    @blp.response(200, DuplicatesSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Before filing a call: the open orders at the same place of the same kind (and
        category) of the last ``days`` days, and the caller's own orders, from the
        projections. For those who may link a call to an order (dispatchers)."""
        actor = current_actor()
        check_role(actor, Action.LINK_CALL)
        svc = services()
        jurisdiction = svc.jurisdiction
        try:
            place_unit = jurisdiction.resolve(args["place"])
        except UnknownPlace as exc:
            abort(422, message=exc.message, errors={"query": {"place": [exc.message]}})
        if not jurisdiction.within(place_unit.id, actor.unit):
            raise Forbidden(f"{place_unit.id} is outside {actor.unit}", "place")
        now = svc.incidents.clock()
        found, position = svc.reads.reported_since(
            jurisdiction.district_of(place_unit.id, "place"),
            now - timedelta(days=MAX_DAYS),
            args.get("min_position"),
        )
        call = duplicates.Call(place_unit.id, args["kind"], args["category"], args["phone"])
        picked = duplicates.candidates(
            found,
            call,
            now - timedelta(days=args["days"]),
            lambda view: jurisdiction.within(view.incident.unit, actor.unit),
        )
        return {
            "place_unit": place_unit.id,
            "same_place": [present.view(v, actor) for v in picked.same_place],
            "same_caller": [present.view(v, actor) for v in picked.same_caller],
            "position": position,
        }
