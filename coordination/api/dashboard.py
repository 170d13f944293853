"""Dashboards: a unit's figures now and for a day, its own and rolled up over its subtree;
and a city's, district by district and summed."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask.views import MethodView
from flask_smorest import abort

from coordination.api.auth import authenticate, current_actor
from coordination.api.parsing import Blueprint
from coordination.api.reading import services, within_scope
from coordination.domain.access import Action, check_role
from coordination.domain.units import Level
from coordination.projections import reports
from schemas.dashboard import (
    CityQueryArgsSchema,
    CitySummarySchema,
    DashboardQueryArgsSchema,
    DashboardSchema,
)

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


@blp.route("/cities/<path:city>")
class CitySummary(MethodView):
    @blp.arguments(CityQueryArgsSchema(), location="query")
    @blp.response(200, CitySummarySchema)
    def get(self, args: dict[str, Any], city: str) -> Any:
        """A city's summary, for the city's platform (a city token) and admins: each district's
        figures over its whole subtree, per kind and in total, and the city's, summed from the
        districts' counts. Each district's ``position`` is the log position its figures
        reflect (each district is a log of its own)."""
        check_role(current_actor(), Action.READ_CITY)
        within_scope(city)
        svc = services()
        level = svc.jurisdiction.get(city).level
        if level is not Level.CITY:
            problem = f"{city} is a {level.value}, not a city: see /dashboard/units/{city}"
            abort(422, message=problem, errors={"path": {"city": [problem]}})
        tz = ZoneInfo(svc.config.timezone)
        now = svc.incidents.clock()
        day = args.get("date") or now.astimezone(tz).date()
        try:
            return reports.city_summary(svc.reads, svc.jurisdiction, city, day, now, tz)
        except reports.FutureDay as exc:
            abort(422, message=str(exc), errors={"query": {"date": [str(exc)]}})
