"""The daily report (日报) of a district, as JSON, CSV or an Excel workbook (XLSX)."""

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
XLSX = reports.XLSX


def attachment(suffix: str) -> dict[str, Any]:
    """The documented header that names a download's file."""
    name = f"daily-<district>-<date>.{suffix}"
    return {
        "Content-Disposition": {
            "description": f'``attachment; filename="{name}"``',
            "schema": {"type": "string"},
        }
    }


@blp.route("/daily")
class DailyReport(MethodView):
    @blp.arguments(DailyReportQueryArgsSchema(), location="query")
    @blp.response(
        200,
        DailyReportSchema,
        description="The report; as CSV with ``Accept: text/csv``, as an Excel workbook with "
        f"``Accept: {XLSX}``.",
    )
    def get(self, args: dict[str, Any]) -> Any:
        """A district's daily report for a local day: new orders and the epidemic share, by
        kind and by unit, on time or not, satisfaction, and the overdue list. JSON; CSV with
        ``Accept: text/csv``; XLSX with ``Accept:`` the spreadsheet type."""
        wanted = request.accept_mimetypes.best_match([JSON, CSV, XLSX], default=JSON)
        return daily(args, wanted or JSON)


@blp.route("/daily.csv")
class DailyReportCsv(MethodView):
    @blp.arguments(DailyReportQueryArgsSchema(), location="query")
    @blp.response(
        200,
        {"type": "string"},
        description="The report as CSV (UTF-8 with a byte order mark, one header row).",
        content_type=CSV,
        headers=attachment("csv"),
    )
    def get(self, args: dict[str, Any]) -> Any:
        """A district's daily report for a local day, as CSV."""
        return daily(args, CSV)


@blp.route("/daily.xlsx")
class DailyReportXlsx(MethodView):
    @blp.arguments(DailyReportQueryArgsSchema(), location="query")
    @blp.response(
        200,
        {"type": "string", "format": "binary"},
        description="The report as an Excel workbook: a sheet per section (合计, 按类别, "
        "按单位, 超期工单) with Chinese headers.",
        content_type=XLSX,
        headers=attachment("xlsx"),
    )
    def get(self, args: dict[str, Any]) -> Any:
        """A district's daily report for a local day, as an Excel workbook (XLSX)."""
        return daily(args, XLSX)


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
    if mimetype == JSON:
        return Response(reports.render_json(report), content_type=f"{JSON}; charset=utf-8")
    if mimetype == CSV:
        body, content_type, suffix = reports.render_csv(report), f"{CSV}; charset=utf-8", "csv"
    else:
        body, content_type, suffix = reports.render_xlsx(report), XLSX, "xlsx"
    name = f"daily-{district}-{args['date'].isoformat()}.{suffix}"
    return Response(
        body,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
