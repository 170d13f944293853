"""The daily report (日报) of a district, as JSON or CSV."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, request
from flask.views import MethodView
from flask_smorest import abort

from coordination.api.auth import authenticate, current_actor
from coordination.api.parsing import Blueprint
from coordination.api.reading import services, within_scope
from coordination.domain.access import Action, check_role
from coordination.domain.units import Level
from coordination.handlers.base import NotFound
from coordination.projections import reports
from schemas.reports import DailyReportQueryArgsSchema, DailyReportSchema

blp = Blueprint("reports", __name__, url_prefix="/reports", description="Daily reports")
blp.before_request(authenticate)

JSON = "application/json"
CSV = "text/csv"


@blp.route("/daily")
class DailyReport(MethodView):
    @blp.arguments(DailyReportQueryArgsSchema(), location="query")
    @blp.response(
        200, DailyReportSchema, description="The report; as CSV with ``Accept: text/csv``."
    )
    def get(self, args: dict[str, Any]) -> Any:
        """A district's daily report for a local day: new orders and the epidemic share, by
        kind and by unit, on time or not, satisfaction, and the overdue list. JSON, or CSV
        with ``Accept: text/csv``."""
        wanted = request.accept_mimetypes.best_match([JSON, CSV], default=JSON)
        return daily(args, CSV if wanted == CSV else JSON)


@blp.route("/daily.csv")
class DailyReportCsv(MethodView):
    @blp.arguments(DailyReportQueryArgsSchema(), location="query")
    @blp.response(200, description="The report as CSV (UTF-8, one header row).", content_type=CSV)
    def get(self, args: dict[str, Any]) -> Any:
        """A district's daily report for a local day, as CSV."""
        return daily(args, CSV)


def daily(args: dict[str, Any], mimetype: str) -> Response:
    """The report, rendered; a dispatcher, viewer or admin of the district may read it."""
    actor = current_actor()
    check_role(actor, Action.READ_REPORT)
    svc = services()
    district = args.get("district") or svc.jurisdiction.district_of(actor.unit)
    within_scope(district)
    if svc.jurisdiction.get(district).level is not Level.DISTRICT:
        raise NotFound(district)
    tz = ZoneInfo(svc.config.timezone)
    try:
        report = reports.daily_report(
            svc.reads,
            svc.jurisdiction,
            district,
            args["date"],
            svc.incidents.clock(),
            tz,
            args.get("min_position"),
        )
    except reports.FutureDay as exc:
        abort(422, message=str(exc), errors={"query": {"date": [str(exc)]}})
    if mimetype == CSV:
        name = f"daily-{district}-{args['date'].isoformat()}.csv"
        return Response(
            reports.render_csv(report),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return Response(reports.render_json(report), content_type="application/json; charset=utf-8")
