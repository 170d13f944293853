"""What the caller holds."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from coordination.api import present
from coordination.api.auth import authenticate, current_token
from coordination.api.parsing import Blueprint
from coordination.api.reading import services
from coordination.domain.access import PERMISSIONS, Action, Forbidden, may
from coordination.domain.units import Level
from schemas.intake import MeSchema
from schemas.queries import PageSchema, ReadArgsSchema

blp = Blueprint("me", __name__, url_prefix="/me", description="The caller")
blp.before_request(authenticate)


@blp.route("")
class Me(MethodView):
    @blp.response(200, MeSchema)
    def get(self) -> Any:
        """Who the token is: its role, its unit (and that unit's name and district), a field
        token's staff id, and what the role may do. The pages' header shows it."""
        token = current_token()
        jurisdiction = services().jurisdiction
        unit = jurisdiction.get(token.unit)
        return {
            "subject": token.actor.subject,
            "role": token.role.value,
            "unit": unit.id,
            "unit_name": unit.name,
            "level": unit.level.value,
            "district": None if unit.level is Level.CITY else jurisdiction.district_of(unit.id),
            "staff_id": token.staff_id,
            "actions": sorted(a.value for a in PERMISSIONS[token.role]),
        }


@blp.route("/assignments")
class Assignments(MethodView):
    @blp.arguments(ReadArgsSchema(), location="query")
    @blp.response(200, PageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """A field token's claims (by its staff id) not yet resolved or released."""
        token = current_token()
        if not may(token.actor, Action.READ_ASSIGNMENTS) or not token.staff_id:
            raise Forbidden(
                f"only a field token holds assignments, not a {token.role.value} token: "
                "read your units' queues instead",
                "role",
            )
        partition = services().jurisdiction.district_of(token.unit)
        page = services().reads.holdings(partition, token.staff_id, args.get("min_position"))
        return present.page(page, token.actor)
