"""Dashboards: a unit's figures now and for a day, its own and rolled up over its subtree."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask.views import MethodView

from coordination.api.auth import authenticate
from coordination.api.parsing import Blueprint
from coordination.api.reading import services, within_scope
from coordination.projections import reports
from schemas.dashboard import DashboardQueryArgsSchema, DashboardSchema

blp = Blueprint("dashboard", __name__, url_prefix="/dashboard", description="Dashboards")
blp.before_request(authenticate)


@blp.route("/units/<path:unit>")
class UnitDashboard(MethodView):
    @blp.arguments(DashboardQueryArgsSchema(), location="query")
    @blp.response(200, DashboardSchema)
    def get(self, args: dict[str, Any], unit: str) -> Any:
        """A unit's figures, its own and over its subtree, per kind and in total: open orders
        and overdue ones now; the day's on-time rates, satisfaction, epidemic share,
        escalations, and median and p90 times to sign for and to resolve."""
        within_scope(unit)
        svc = services()
        tz = ZoneInfo(svc.config.timezone)
        now = svc.incidents.clock()
        day = args.get("date") or now.astimezone(tz).date()
        return reports.dashboard(
            svc.reads, svc.jurisdiction, unit, day, now, tz, args.get("min_position")
        )
