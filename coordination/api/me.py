"""What the caller holds."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from coordination.api import present
from coordination.api.auth import authenticate, current_actor
from coordination.api.parsing import Blueprint
from coordination.api.reading import services
from schemas.queries import PageSchema, ReadArgsSchema

blp = Blueprint("me", __name__, url_prefix="/me", description="The caller")
blp.before_request(authenticate)


@blp.route("/assignments")
class Assignments(MethodView):
    @blp.arguments(ReadArgsSchema(), location="query")
    @blp.response(200, PageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """The orders the caller has claimed and not yet resolved or released."""
        actor = current_actor()
        partition = services().jurisdiction.district_of(actor.unit)
        page = services().reads.holdings(partition, actor.subject, args.get("min_position"))
        return present.page(page, actor)
