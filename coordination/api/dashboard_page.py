"""The live dashboard: a page for a wall screen, what it adds to a unit's figures, and a stream
of server-sent events that tells it when the projections of its unit's subtree have moved.

* ``GET /dashboard`` serves the page (no token needed to load it; the token is entered once
  and kept in the browser's sessionStorage). Its small script reads
  ``GET /dashboard/today`` and ``GET /dashboard/units/<unit>`` with the token and renders the
  three levels, the day's rates against their targets, the overdue list and orders per hour;
  and the supplies of the unit's subtree (物资): stock (``GET /supplies/stock``), shortages
  (``GET /supplies/shortages``), open pleas (``GET /supplies/needs?status=open``) and the
  public list of donations (捐赠公示, ``GET /supplies/donations/public``).
  The page is the template ``templates/dashboard.html`` (the targets and the district's time
  zone go to the script in a ``<script type="application/json" id="dashboard-config">``
  block); its style and script are
  ``static/dashboard.css`` and ``static/dashboard.js``, served by the app's static route at
  ``/dashboard/static/<file>`` (no token, nothing from outside; see ``coordination.api.app``).
  A token on a city (above any one district) gets ``422`` from the board's reads; the script
  then sends it on to the city's own page, ``/city`` (``coordination.api.pages``).
* ``GET /dashboard/stream?token=...`` (EventSource cannot send headers): see
  ``coordination.api.streams``.
"""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, g, render_template, request
from flask.views import MethodView
from flask_smorest import abort

from coordination.api.auth import authenticate, current_actor
from coordination.api.errors import error_response
from coordination.api.parsing import Blueprint
from coordination.api.reading import services
from coordination.api.streams import (
    RETRY_AFTER_SECONDS,
    STREAM_SECONDS,
    EventStream,
    client_socket,
    streams_of,
)
from coordination.projections import reports
from schemas.dashboard import DashboardQueryArgsSchema

log = logging.getLogger(__name__)

blp = Blueprint(
    "dashboard_page",
    __name__,
    url_prefix="/dashboard",
    description="The live dashboard page",
    template_folder="templates",  # coordination/api/templates/dashboard.html
)

ON_TIME_TARGET = 1.0  # 及时办结率
SATISFACTION_TARGET = 0.95  # 满意率


@blp.route("")
class Page(MethodView):
    @blp.doc(security=[])
    @blp.response(200, description="The dashboard page (HTML).", content_type="text/html")
    def get(self) -> Any:
        """The live dashboard page: no token to load it; its script asks for one."""
        html = render_template(
            "dashboard.html",
            on_time_target=ON_TIME_TARGET,
            satisfaction_target=SATISFACTION_TARGET,
            timezone=services().config.timezone,  # the times the page shows are local
        )
        return Response(html, content_type="text/html; charset=utf-8")


@blp.route("/today")
class Today(MethodView):
    @blp.arguments(DashboardQueryArgsSchema(), location="query")
    @blp.response(200, description="Orders per hour of the day, and the overdue list.")
    def get(self, args: dict[str, Any]) -> Any:
        """What the page adds to the caller's unit's figures: the orders of its subtree per
        hour of a local day (today by default), and the orders overdue now, with how late."""
        authenticate()
        svc = services()
        tz = ZoneInfo(svc.config.timezone)
        now = svc.incidents.clock()
        day = args.get("date") or now.astimezone(tz).date()
        try:
            return reports.today(
                svc.reads,
                svc.jurisdiction,
                current_actor().unit,
                day,
                now,
                tz,
                args.get("min_position"),
            )
        except reports.FutureDay as exc:
            abort(422, message=str(exc), errors={"query": {"date": [str(exc)]}})


@blp.route("/stream")
class Stream(MethodView):
    @blp.doc(
        security=[],
        parameters=[
            {
                "in": "query",
                "name": "token",
                "required": True,
                "schema": {"type": "string"},
                "description": "The bearer token's secret (EventSource sends no headers).",
            }
        ],
    )
    @blp.response(
        200,
        description="Server-sent events: ``event: position`` when the projections of the "
        "token's unit's subtree move.",
        content_type="text/event-stream",
    )
    @blp.alt_response(429, description="Too many open streams, for this token or this server.")
    def get(self) -> Any:
        """Server-sent events for the caller's unit: the projections' position at once, then
        each time something in the unit's subtree changed, a comment every 15 s, and the end
        after 10 minutes (EventSource reconnects) or within a second of the token's
        revocation. The token comes as the ``token`` query parameter, checked as a bearer
        token is; at most a few streams per token are open at once (``429`` beyond)."""
        secret = request.args.get("token", "").strip()
        if not secret:
            abort(
                401,
                message="A token is required.",
                errors={"query": {"token": ["Missing token."]}},
            )
        svc = services()
        token = svc.tokens.lookup(secret)
        if token is None:
            abort(
                401,
                message="Unknown or revoked token.",
                errors={"query": {"token": ["Unknown or revoked token."]}},
            )
        g.token = token  # as authenticate() keeps a bearer token: for the log line
        hub = streams_of(current_app)
        stream_id, refused = hub.admit(token)
        if refused:
            return error_response(429, refused, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        try:
            sub = hub.subscribe(svc.jurisdiction, token, secret, stream_id)
        except BaseException:
            hub.release(token.id, stream_id)
            raise
        lifetime = float(current_app.config.get("DASHBOARD_STREAM_SECONDS", STREAM_SECONDS))
        serving = current_app.config.get("DASHBOARD_SERVING")  # the worker hook's
        body = EventStream(hub, sub, lifetime, client_socket(request.environ), serving)
        return Response(
            body,
            content_type="text/event-stream; charset=utf-8",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
