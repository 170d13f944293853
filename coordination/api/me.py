"""What the caller holds."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from coordination.api import present
from coordination.api.auth import authenticate, current_token
from coordination.api.parsing import Blueprint
from coordination.api.reading import services
from coordination.domain.access import Action, Forbidden, may
from schemas.queries import PageSchema, ReadArgsSchema

blp = Blueprint("me", __name__, url_prefix="/me", description="The caller")
blp.before_request(authenticate)


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
