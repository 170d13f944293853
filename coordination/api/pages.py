"""The pages of the people who do the work, served by the app like the dashboard: server-rendered
Jinja templates (``templates/``), small plain scripts and one stylesheet (``static/``), no build
step, nothing from outside.

* ``GET /login``: one login page for all; the token is kept in the tab's sessionStorage only,
  and the page goes on to the token's own page.
* ``GET /desk``: the intake desk (接单台) of the district's dispatchers: take a call, link it
  or file it; re-dispatch (改派) what a handling unit returned (退回), its reason shown; record
  return visits, or close without one, saying why.
* ``GET /inbox``: the handling unit's inbox (承办单位) of a street's or department's handlers.
* ``GET /tasks``: 我的任务, field staff's page, made for a phone: claim, resolve, release with a
  reason; take a colleague's risky claim over (trained staff only).
* ``GET /city``: 全市汇总, the city's 12345 platform's page (where the login page sends a token
  on a city): a row per district and the city's total, from ``GET /dashboard/cities/<city>``,
  for today or a chosen day, read again every 30 s (a city has no single live stream).

No token is needed to load a page; its script reads the API with the tab's token, and every
refusal is shown with the API's own message. A command sends the version the page showed
(``If-Match``); a conflict reloads the order and says what changed (``pages.js``:
``conflict``). A page's data comes from the API alone; the template gives its script only the
unit tree's names and the district's time zone, in a
``<script type="application/json" id="page-config">`` block.
"""

from __future__ import annotations

from typing import Any

from flask import Response, render_template
from flask.views import MethodView

from coordination.api.parsing import Blueprint
from coordination.api.reading import services

blp = Blueprint(
    "pages",
    __name__,
    description="The pages: login, intake desk, handler inbox, field staff's tasks, the city's",
    template_folder="templates",
)

PAGES = {
    "login": ("登录", "login.html"),
    "desk": ("接单台", "desk.html"),
    "inbox": ("承办单位", "inbox.html"),
    "tasks": ("我的任务", "tasks.html"),
    "city": ("全市汇总", "city.html"),
}


def page(name: str) -> Response:
    title, template = PAGES[name]
    jurisdiction = services().jurisdiction
    config = {
        "page": name,
        "timezone": services().config.timezone,
        "units": {
            u.id: {"name": u.name, "level": u.level.value, "parent": u.parent}
            for u in jurisdiction.units.values()
        },
    }
    html = render_template(template, title=title, page=name, config=config)
    return Response(html, content_type="text/html; charset=utf-8")


HTML = {"description": "The page (HTML).", "content_type": "text/html"}


@blp.route("/login")
class Login(MethodView):
    @blp.doc(security=[])
    @blp.response(200, **HTML)
    def get(self) -> Any:
        """The login page for every role: the token is kept for this tab only."""
        return page("login")


@blp.route("/desk")
class Desk(MethodView):
    @blp.doc(security=[])
    @blp.response(200, **HTML)
    def get(self) -> Any:
        """The intake desk (接单台): take a call, see its possible duplicates, link it or file a
        new order; re-dispatch returned orders; record return visits, or close without one."""
        return page("desk")


@blp.route("/inbox")
class Inbox(MethodView):
    @blp.doc(security=[])
    @blp.response(200, **HTML)
    def get(self) -> Any:
        """The handling unit's inbox (承办单位): its queue with live deadlines; sign for, return,
        hand down, resolve."""
        return page("inbox")


@blp.route("/tasks")
class Tasks(MethodView):
    @blp.doc(security=[])
    @blp.response(200, **HTML)
    def get(self) -> Any:
        """Field staff's tasks (我的任务), for a phone: claim, work, resolve or release; take a
        colleague's risky claim over; alerts live."""
        return page("tasks")


@blp.route("/city")
class City(MethodView):
    @blp.doc(security=[])
    @blp.response(200, **HTML)
    def get(self) -> Any:
        """The city's page (全市汇总), for the city's 12345 platform: each district's figures and
        the city's, today or on a chosen day, read again every 30 s."""
        return page("city")
