// The live dashboard's script (templates/dashboard.html loads it; no build step).
"use strict";
(function () {
  // The targets, from the page (the JSON block the template writes, before this script).
  var CONFIG = JSON.parse(document.getElementById("dashboard-config").textContent);
  var ON_TIME_TARGET = CONFIG.on_time_target, SATISFACTION_TARGET = CONFIG.satisfaction_target;
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
