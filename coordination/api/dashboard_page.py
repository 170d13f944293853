"""The live dashboard: a page for a wall screen, what it adds to a unit's figures, and a stream
of server-sent events that tells it when the projections of its unit's subtree have moved.

* ``GET /dashboard`` serves the page (no token needed to load it; the token is entered once
  and kept in the browser's sessionStorage). Its small script reads
  ``GET /dashboard/today`` and ``GET /dashboard/units/<unit>`` with the token and renders the
  three levels, the day's rates against their targets, the overdue list and orders per hour.
* ``GET /dashboard/stream?token=...`` (EventSource cannot send headers) sends
  ``event: position`` (``{"partition", "generation", "position"}``, the projections'
  checkpoint) at once, then whenever something in the token's unit's subtree changed, a
  comment every ~15 s otherwise, and ends after 10 minutes (the browser reconnects).

A stream is cheap to hold. One poller per process (a thread, or a greenlet under gevent) reads
each watched partition's generation, checkpoint and per-unit change hash
(``keys.unit_changes``: unit -> the last position at which an order of its subtree changed)
every ~200 ms, and wakes only the streams whose unit's subtree moved; every ~0.5 s it looks up
each open stream's token (``TokenStore.lookup``) and ends the streams of a revoked one. Open
streams are capped per token across processes (a Redis sorted set per token of stream ids
scored by when they lapse, renewed by the poller, so a crashed process's streams stop counting
within ``SLOT_LEASE_SECONDS``) and per process (``DASHBOARD_MAX_STREAMS``, which the worker hook
sets from the gunicorn worker: coordination/serving/hooks.py); past either, ``429`` in the JSON
error shape with ``Retry-After``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, Response, current_app, render_template_string, request
from flask.views import MethodView
from flask_smorest import abort
from redis import Redis

from coordination.api.auth import authenticate, current_actor
from coordination.api.errors import error_response
from coordination.api.parsing import Blueprint
from coordination.api.reading import services
from coordination.domain.units import Jurisdiction
from coordination.projections import reports
from coordination.projections.projector import current_generation
from coordination.store import keys
from coordination.store.tokens import Token, TokenStore
from schemas.dashboard import DashboardQueryArgsSchema

log = logging.getLogger(__name__)

blp = Blueprint(
    "dashboard_page", __name__, url_prefix="/dashboard", description="The live dashboard page"
)

POLL_SECONDS = 0.2
TOKEN_CHECK_SECONDS = 0.5  # a revoked token's streams end within a second
HEARTBEAT_SECONDS = 15.0
STREAM_SECONDS = 600.0
WAKE_SECONDS = 1.0  # a stream looks at its client and its token at least this often
STALE_SECONDS = 3.0  # a stream whose token could not be checked for this long ends
STREAMS_PER_TOKEN = 4  # DASHBOARD_STREAMS_PER_TOKEN: a wall screen or two, a few tabs
MAX_STREAMS = 100  # DASHBOARD_MAX_STREAMS: per process, unless the worker hook sets it
SLOT_LEASE_SECONDS = 10.0
RETRY_AFTER_SECONDS = 5
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


def stream_slots_key(token_id: str) -> str:
    """The open streams of one token, across processes: stream id -> when it lapses (epoch
    seconds) unless its process renews it. (The tokens' hash tag: one shard with them.)"""
    return f"{{tokens}}:streams:{token_id}"


# KEYS[1] the token's slots; ARGV: now, lapses at, stream id, cap, key TTL (s). 1 if admitted.
ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


@dataclass(eq=False)
class Subscription:
    """One open stream, as the poller sees it."""

    partition: str
    unit: str  # the token's
    units: frozenset[str]  # the unit and every unit below it
    secret: str
    token_id: str
    stream_id: str
    seen: tuple[int, int, int] = (0, 0, 0)  # generation, last change in the subtree, checkpoint
    revoked: bool = False
    checked: float = field(default_factory=time.monotonic)  # when the token was last found
    event: threading.Event = field(default_factory=threading.Event)


class StreamHub:
    """One per application (so one per worker process): the poller, and the caps."""

    def __init__(self, app: Flask) -> None:
        svc = app.extensions["coordination"]
        self.app = app
        self.redis: Redis = svc.reads.redis
        self.tokens: TokenStore = svc.tokens
        self.stop = streams_stop(app)
        self._admit = self.redis.register_script(ADMIT)
        self._lock = threading.Lock()
        self._subs: set[Subscription] = set()
        self._open = 0
        self._thread: threading.Thread | None = None
        self._generations: dict[str, int] = {}
        self._tokens_checked = 0.0

    # --- caps --------------------------------------------------------------------------

    def admit(self, token: Token) -> tuple[str, str]:
        """Take a place for a new stream of ``token``: (its stream id, ""), or ("", why there
        is none)."""
        config = self.app.config
        most = int(config.get("DASHBOARD_MAX_STREAMS", MAX_STREAMS))
        per_token = int(config.get("DASHBOARD_STREAMS_PER_TOKEN", STREAMS_PER_TOKEN))
        with self._lock:
            if self._open >= most:
                return "", "This server holds as many dashboard streams as it can; retry later."
            self._open += 1
        stream_id = secrets.token_hex(8)
        now = time.time()
        try:
            admitted = self._admit(
                keys=[stream_slots_key(token.id)],
                args=[now, now + SLOT_LEASE_SECONDS, stream_id, per_token, lease_ttl()],
            )
        except BaseException:
            self._give_back()
            raise
        if not admitted:
            self._give_back()
            return "", (
                f"This token has {per_token} dashboard streams open already; close one "
                "(another tab or screen) or retry later."
            )
        return stream_id, ""

    def _give_back(self) -> None:
        with self._lock:
            self._open -= 1

    def release(self, token_id: str, stream_id: str) -> None:
        self._give_back()
        try:
            self.redis.zrem(stream_slots_key(token_id), stream_id)
        except Exception:  # it lapses by itself
            log.warning("could not release a dashboard stream's slot", exc_info=True)

    # --- the poller ----------------------------------------------------------------------

    def subscribe(
        self, jurisdiction: Jurisdiction, token: Token, secret: str, stream_id: str
    ) -> Subscription:
        """Watch the token's unit's subtree; its first state is read here, for the first
        event, and the poller runs while anything is watched."""
        unit = token.actor.unit
        sub = Subscription(
            partition=jurisdiction.district_of(unit),
            unit=unit,
            units=frozenset(u for u in jurisdiction.units if jurisdiction.within(u, unit)),
            secret=secret,
            token_id=token.id,
            stream_id=stream_id,
        )
        gen, checkpoint, changes = self.read(sub.partition)
        sub.seen = (gen, _latest(changes, sub.units), checkpoint)
        with self._lock:
            self._subs.add(sub)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="dashboard-poller")
                self._thread.daemon = True
                self._thread.start()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    def read(self, partition: str) -> tuple[int, int, dict[str, int]]:
        """(generation, checkpoint, unit -> last change) of a partition, read at one moment."""
        gen = self._generations.get(partition) or current_generation(self.redis, partition)
        for _ in range(3):
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.get(keys.generation(partition))
                pipe.get(keys.checkpoint(partition, gen))
                pipe.hgetall(keys.unit_changes(partition, gen))
                current, checkpoint, changes = pipe.execute()
            actual = int(current or 1)
            if actual == gen:
                break
            gen = actual  # a rebuild swapped generations meanwhile: read the new one
        self._generations[partition] = gen
        return gen, int(checkpoint or 0), {_text(k): int(v) for k, v in changes.items()}

    def _run(self) -> None:
        while not self.stop.is_set():
            with self._lock:
                subs = list(self._subs)
                if not subs:
                    self._thread = None
                    return
            try:
                self.tick(subs)
            except Exception:
                log.warning("dashboard poller: reading the projections failed", exc_info=True)
            self.stop.wait(POLL_SECONDS)
        with self._lock:
            self._thread = None
            subs = list(self._subs)
        for sub in subs:
            sub.event.set()

    def tick(self, subs: list[Subscription]) -> None:
        by_partition: dict[str, list[Subscription]] = {}
        for sub in subs:
            by_partition.setdefault(sub.partition, []).append(sub)
        for partition, group in by_partition.items():
            gen, checkpoint, changes = self.read(partition)
            latest: dict[frozenset[str], int] = {}
            for sub in group:
                if sub.units not in latest:
                    latest[sub.units] = _latest(changes, sub.units)
                moved = (gen, latest[sub.units]) != sub.seen[:2]
                sub.seen = (gen, latest[sub.units], checkpoint)
                if moved:
                    sub.event.set()
        now = time.monotonic()
        if now - self._tokens_checked >= TOKEN_CHECK_SECONDS:
            self._tokens_checked = now
            self.check_tokens(subs, now)

    def check_tokens(self, subs: list[Subscription], now: float) -> None:
        """End the streams of revoked tokens (and of tokens moved to another unit: the
        browser reconnects, scoped anew); renew the others' slots."""
        found = {secret: self.tokens.lookup(secret) for secret in {sub.secret for sub in subs}}
        valid = [sub for sub in subs if _unit_of(found[sub.secret]) == sub.unit]
        lapses = time.time() + SLOT_LEASE_SECONDS
        with self.redis.pipeline(transaction=False) as pipe:
            for sub in valid:
                pipe.zadd(stream_slots_key(sub.token_id), {sub.stream_id: lapses})
            for key in {stream_slots_key(sub.token_id) for sub in valid}:
                pipe.expire(key, lease_ttl())
            pipe.execute()
        for sub in valid:
            sub.checked = now
        for sub in set(subs).difference(valid):
            sub.revoked = True
            sub.event.set()


class EventStream:
    """The body of one stream: an iterable of event texts, and ``close()`` (called by the
    server when the response ends, however it ends) to give its place back."""

    def __init__(
        self,
        hub: StreamHub,
        sub: Subscription,
        lifetime: float,
        sock: Any = None,
        serving: Callable[[], bool] | None = None,
    ) -> None:
        self.hub = hub
        self.sub = sub
        self.lifetime = lifetime
        self.sock = sock
        self.serving = serving  # False once the server is stopping
        self._closed = False

    def __iter__(self) -> Iterator[str]:
        return self._events()

    def _events(self) -> Iterator[str]:
        sub, stop = self.sub, self.hub.stop
        yield "retry: 2000\n\n"
        started = last_sent = time.monotonic()
        sent: tuple[int, int] | None = None
        while True:
            sub.event.clear()
            now = time.monotonic()
            if sub.revoked or stop.is_set() or now - sub.checked > STALE_SECONDS:
                return
            gen, change, position = sub.seen
            if (gen, change) != sent:
                sent, last_sent = (gen, change), now
                data = json.dumps(
                    {"partition": sub.partition, "generation": gen, "position": position}
                )
                yield f"event: position\nid: {position}\ndata: {data}\n\n"
            elif now - last_sent >= HEARTBEAT_SECONDS:
                last_sent = now
                yield ": heartbeat\n\n"
            left = self.lifetime - (now - started)
            if self.serving is not None and not self.serving():
                # The worker is stopping: end, and let the connection close after the last
                # chunk rather than wait (kept alive) for a request that would come too late.
                if self.sock is not None:
                    with contextlib.suppress(OSError):
                        self.sock.shutdown(socket.SHUT_RD)
                return
            if left <= 0 or client_gone(self.sock):
                return
            sub.event.wait(min(WAKE_SECONDS, left, HEARTBEAT_SECONDS - (now - last_sent)))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.hub.unsubscribe(self.sub)
        self.hub.release(self.sub.token_id, self.sub.stream_id)


def streams_stop(app: Flask) -> threading.Event:
    """Set it to end every open stream of ``app`` (a server shutting down; tests)."""
    event: threading.Event = app.extensions.setdefault("dashboard_streams_stop", threading.Event())
    return event


def streams_of(app: Flask) -> StreamHub:
    """The application's stream hub (its poller and caps), made on first use."""
    hub = app.extensions.get("dashboard_streams")
    if hub is None:
        with _hub_lock:
            hub = app.extensions.setdefault("dashboard_streams", StreamHub(app))
    return hub  # type: ignore[no-any-return]


_hub_lock = threading.Lock()


def lease_ttl() -> int:
    return int(SLOT_LEASE_SECONDS) + 5


def client_socket(environ: dict[str, Any]) -> Any:
    """The connection's socket, where the server gives it (gunicorn, werkzeug)."""
    return environ.get("gunicorn.socket") or environ.get("werkzeug.socket")


def client_gone(sock: Any) -> bool:
    """Whether the client closed its end (a stream would otherwise learn it only from its
    next write, up to a heartbeat later)."""
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def _latest(changes: dict[str, int], units: frozenset[str]) -> int:
    """The last change in a subtree: the most recent of its units' (a unit's own entry
    already covers its subtree when the projector writes ancestors too)."""
    return max((changes.get(u, 0) for u in units), default=0)


def _unit_of(token: Token | None) -> str | None:
    return None if token is None else token.unit


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


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
