"""The live dashboard: a page for a wall screen, what it adds to a unit's figures, and a stream
of server-sent events that tells it when the projections of its unit's subtree have moved.

* ``GET /dashboard`` serves the page (no token needed to load it; the token is entered once
  and kept in the browser's sessionStorage). Its small script reads
  ``GET /dashboard/today`` and ``GET /dashboard/units/<unit>`` with the token and renders the
  three levels, the day's rates against their targets, the overdue list and orders per hour.
* ``GET /dashboard/stream?token=...`` (EventSource cannot send headers): see
  ``coordination.api.streams``.
"""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, render_template_string, request
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
    "dashboard_page", __name__, url_prefix="/dashboard", description="The live dashboard page"
)

ON_TIME_TARGET = 1.0  # 及时办结率
SATISFACTION_TARGET = 0.95  # 满意率


@blp.route("")
class Page(MethodView):
    @blp.doc(security=[])
    @blp.response(200, description="The dashboard page (HTML).", content_type="text/html")
    def get(self) -> Any:
        """The live dashboard page: no token to load it; its script asks for one."""
        html = render_template_string(
            PAGE, on_time_target=ON_TIME_TARGET, satisfaction_target=SATISFACTION_TARGET
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


PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>12345 热线 · 三级联动大屏</title>
<style>
  :root { --bg:#0b1a2b; --panel:#12263d; --line:#24425f; --text:#e7eef6; --dim:#8fa7bf;
          --ok:#3ecf8e; --warn:#f5a623; --bad:#ff5d5d; --bar:#4ea8ff; }
  * { box-sizing: border-box; }
  body { margin:0; background:var(--bg); color:var(--text);
         font-family:"Noto Sans CJK SC","Noto Sans SC","PingFang SC","Microsoft YaHei",sans-serif; }
  header { display:flex; align-items:baseline; gap:1.5rem; padding:.8rem 1.5rem;
           border-bottom:1px solid var(--line); }
  header h1 { font-size:1.5rem; margin:0; }
  header .meta { color:var(--dim); font-size:.9rem; }
  #live { margin-left:auto; font-size:.9rem; }
  #live.on { color:var(--ok); } #live.off { color:var(--warn); }
  main { padding:1rem 1.5rem; display:grid; gap:1rem; }
  .panel { background:var(--panel); border:1px solid var(--line); border-radius:6px;
           padding:.8rem 1rem; }
  .panel h2 { font-size:1rem; margin:0 0 .6rem; color:var(--dim); font-weight:normal; }
  .kpis { display:grid; grid-template-columns:repeat(5, 1fr); gap:1rem; }
  .kpi .value { font-size:2.2rem; font-weight:bold; }
  .kpi .target { color:var(--dim); font-size:.85rem; }
  .good { color:var(--ok); } .short { color:var(--bad); }
  .levels { display:grid; grid-template-columns:1fr 2fr 3fr; gap:1rem; }
  .units { display:flex; flex-wrap:wrap; gap:.5rem; }
  .unit { border:1px solid var(--line); border-radius:4px; padding:.4rem .6rem; min-width:9rem; }
  .unit .name { font-weight:bold; }
  .unit .nums { color:var(--dim); font-size:.85rem; }
  .unit .late { color:var(--bad); }
  .row2 { display:grid; grid-template-columns:3fr 2fr; gap:1rem; }
  table { width:100%; border-collapse:collapse; font-size:.9rem; }
  th, td { text-align:left; padding:.25rem .4rem; border-bottom:1px solid var(--line); }
  th { color:var(--dim); font-weight:normal; }
  svg text { fill:var(--dim); font-size:10px; }
  svg rect.bar { fill:var(--bar); } svg rect.bar.now { fill:var(--warn); }
  svg text.count { fill:var(--text); }
  #login { max-width:28rem; margin:4rem auto; }
  #login input { width:100%; padding:.5rem; font-size:1rem; margin:.5rem 0; }
  #login button { padding:.5rem 1.2rem; font-size:1rem; }
  #error { color:var(--bad); min-height:1.2em; }
  [hidden] { display:none !important; }
</style>
</head>
<body>
<header>
  <h1 id="title">12345 热线 · 三级联动</h1>
  <span class="meta" id="day"></span>
  <span class="meta" id="asof"></span>
  <span id="live" class="off">未连接</span>
</header>
<section id="login" class="panel" hidden>
  <h2>请输入令牌 (Bearer token)</h2>
  <form id="token-form">
    <input id="token" name="token" type="password" autocomplete="off" placeholder="令牌">
    <button type="submit">进入</button>
  </form>
  <div id="error"></div>
</section>
<main id="board" hidden>
  <section class="panel kpis">
    <div class="kpi"><h2>今日受理</h2><div class="value" id="reported-total">—</div></div>
    <div class="kpi"><h2>在办工单</h2><div class="value" id="open-total">—</div></div>
    <div class="kpi"><h2>当前超期</h2><div class="value" id="overdue-total">—</div></div>
    <div class="kpi"><h2>及时办结率</h2><div class="value" id="on-time-rate">—</div>
      <div class="target">目标 {{ "%d" % (on_time_target * 100) }}%</div></div>
    <div class="kpi"><h2>满意率</h2><div class="value" id="satisfaction-rate">—</div>
      <div class="target">目标 {{ "%d" % (satisfaction_target * 100) }}%</div></div>
  </section>
  <section class="levels">
    <div class="panel"><h2>区级</h2><div class="units" id="level-district"></div></div>
    <div class="panel"><h2>街道 / 部门</h2><div class="units" id="level-handling"></div></div>
    <div class="panel"><h2>社区</h2><div class="units" id="level-community"></div></div>
  </section>
  <section class="row2">
    <div class="panel"><h2>今日每小时工单数</h2><div id="chart"></div></div>
    <div class="panel"><h2>超期工单</h2>
      <table><thead><tr><th>工单</th><th>类型</th><th>单位</th><th>时限</th><th>超时</th></tr></thead>
      <tbody id="overdue-list"></tbody></table></div>
  </section>
</main>
<script>
"use strict";
(function () {
  var ON_TIME_TARGET = {{ on_time_target }}, SATISFACTION_TARGET = {{ satisfaction_target }};
  var KEY = "coordination.dashboard.token";
  var KINDS = { work_order: "工单", supply_delivery: "物资配送", quarantine_visit: "隔离上门",
                night_emergency: "夜间急件" };
  var DEADLINES = { sign_by: "签收", claim_by: "认领", resolve_by: "办结" };
  var params = new URLSearchParams(location.search);
  var day = params.get("date");
  var shown = -1, wanted = 0, busy = false, again = false, source = null;
  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function known(rate) { return rate !== null && rate !== undefined; }
  function pct(rate) { return known(rate) ? Math.floor(rate * 1000) / 10 + "%" : "—"; }
  function showLogin(message) {
    if (source) { source.close(); source = null; }
    $("board").hidden = true; $("login").hidden = false; $("error").textContent = message || "";
    $("token").focus();
  }
  function query(extra) {
    var q = new URLSearchParams();
    if (day) q.set("date", day);
    if (extra) q.set("min_position", String(extra));
    var s = q.toString(); return s ? "?" + s : "";
  }
  function get(url) {
    return fetch(url, { headers: { Authorization: "Bearer " + sessionStorage.getItem(KEY) } })
      .then(function (r) {
        if (r.status === 401) { sessionStorage.removeItem(KEY); throw new Error("401"); }
        if (!r.ok) throw new Error(r.status + " " + url);
        return r.json();
      });
  }
  function unitCard(u) {
    var card = el("div", { "class": "unit", "data-unit": u.unit });
    card.appendChild(el("div", { "class": "name" }, u.name));
    var nums = el("div", { "class": "nums" });
    var open = u.open.total;
    nums.appendChild(el("span", { "class": "open", "data-open": open }, "在办 " + open));
    nums.appendChild(document.createTextNode(" · "));
    nums.appendChild(el("span", { "class": u.overdue ? "late" : "" }, "超期 " + u.overdue));
    card.appendChild(nums);
    return card;
  }
  function renderUnits(units) {
    var columns = { district: $("level-district"), street: $("level-handling"),
                    department: $("level-handling"), community: $("level-community") };
    Object.keys(columns).forEach(function (k) { columns[k].textContent = ""; });
    units.forEach(function (u) {
      if (columns[u.level]) columns[u.level].appendChild(unitCard(u));
    });
  }
  function rate(id, value, target) {
    var node = $(id); node.textContent = pct(value);
    node.className = "value" + (!known(value) ? "" : value >= target ? " good" : " short");
  }
  function renderChart(hours, currentHour) {
    var w = 24 * 26, h = 160, top = Math.max(1, Math.max.apply(null, hours));
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 " + w + " " + (h + 30)); svg.setAttribute("width", "100%");
    svg.setAttribute("id", "hours");
    hours.forEach(function (n, i) {
      var bh = Math.round(n / top * h), x = i * 26 + 3;
      var bar = document.createElementNS(ns, "rect");
      bar.setAttribute("class", "bar" + (i === currentHour ? " now" : ""));
      bar.setAttribute("x", x); bar.setAttribute("y", h - bh + 12);
      bar.setAttribute("width", 20); bar.setAttribute("height", bh);
      bar.setAttribute("data-hour", i); bar.setAttribute("data-count", n);
      svg.appendChild(bar);
      var label = document.createElementNS(ns, "text");
      label.setAttribute("x", x + 10); label.setAttribute("y", h + 26);
      label.setAttribute("text-anchor", "middle"); label.textContent = i;
      svg.appendChild(label);
      if (n) {
        var count = document.createElementNS(ns, "text");
        count.setAttribute("class", "count"); count.setAttribute("x", x + 10);
        count.setAttribute("y", h - bh + 9); count.setAttribute("text-anchor", "middle");
        count.textContent = n; svg.appendChild(count);
      }
    });
    $("chart").textContent = ""; $("chart").appendChild(svg);
  }
  function renderOverdue(rows) {
    var body = $("overdue-list"); body.textContent = "";
    if (!rows.length) {
      body.appendChild(el("tr")).appendChild(el("td", { colspan: 5 }, "无"));
      return;
    }
    rows.forEach(function (o) {
      var tr = el("tr", { "data-incident": o.incident });
      tr.appendChild(el("td", {}, o.incident));
      tr.appendChild(el("td", {}, KINDS[o.kind] || o.kind));
      tr.appendChild(el("td", {}, o.unit_name));
      tr.appendChild(el("td", {}, DEADLINES[o.deadline] || o.deadline));
      tr.appendChild(el("td", {}, o.minutes_late + " 分钟"));
      body.appendChild(tr);
    });
  }
  function render(today, fig) {
    var total = fig.subtree.total;
    $("title").textContent = fig.name + " · 12345 热线三级联动";
    $("day").textContent = fig.date;
    $("asof").textContent = "截至 " + fig.as_of.slice(11, 19) + " · 位置 " + fig.position;
    $("reported-total").textContent = total.reported;
    $("open-total").textContent = total.open.total;
    $("overdue-total").textContent = total.overdue;
    rate("on-time-rate", total.resolved.on_time_rate, ON_TIME_TARGET);
    rate("satisfaction-rate", total.visits.satisfaction_rate, SATISFACTION_TARGET);
    renderUnits(fig.units);
    var hour = today.date === fig.as_of.slice(0, 10) ? Number(fig.as_of.slice(11, 13)) : -1;
    renderChart(today.hours, hour);
    renderOverdue(today.overdue);
    document.body.setAttribute("data-position", String(fig.position));
  }
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    var at = wanted;
    get("/dashboard/today" + query(at)).then(function (today) {
      return get("/dashboard/units/" + today.unit + query(at)).then(function (fig) {
        // The two reads may land at different positions: what is shown is the older one.
        shown = Math.min(fig.position, today.position); render(today, fig);
        $("login").hidden = true; $("board").hidden = false;
      });
    }).catch(function (err) {
      if (err.message === "401") showLogin("令牌无效或已撤销");
      else $("live").textContent = "读取失败, 稍后重试";
    }).then(function () {
      busy = false;
      if (again) { again = false; setTimeout(refresh, 200); }
    });
  }
  function listen() {
    if (source) source.close();
    var token = encodeURIComponent(sessionStorage.getItem(KEY));
    source = new EventSource("/dashboard/stream?token=" + token);
    function live(text, state) { $("live").textContent = text; $("live").className = state; }
    source.addEventListener("open", function () { live("实时", "on"); });
    source.addEventListener("error", function () { live("重连中", "off"); });
    source.addEventListener("position", function (e) {
      var p = JSON.parse(e.data).position;
      if (p !== shown) { wanted = p; refresh(); }
    });
  }
  function start() { refresh(); listen(); }
  $("token-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var value = $("token").value.trim();
    if (!value) return;
    sessionStorage.setItem(KEY, value); $("token").value = ""; start();
  });
  if (sessionStorage.getItem(KEY)) start(); else showLogin();
})();
</script>
</body>
</html>
"""
