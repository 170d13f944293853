// The live dashboard's script (templates/dashboard.html loads it; no build step).
"use strict";
(function () {
  // The targets, from the page (the JSON block the template writes, before this script).
  var CONFIG = JSON.parse(document.getElementById("dashboard-config").textContent);
  var ON_TIME_TARGET = CONFIG.on_time_target, SATISFACTION_TARGET = CONFIG.satisfaction_target;
  var TIMEZONE = CONFIG.timezone, DONATIONS_SHOWN = 10;
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
        if (!r.ok) { var err = new Error(r.status + " " + url); err.status = r.status; throw err; }
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
  function number(n) { return Number(n).toLocaleString("zh-CN"); }
  function yuan(fen) { return "¥" + (fen / 100).toLocaleString("zh-CN", { maximumFractionDigits: 2 }); }
  function quantity(line) { return line.item + " " + number(line.quantity) + " " + (line.measure || ""); }
  function local(iso) {
    // As the district's clock reads it (the API's times may be UTC).
    var parts = new Intl.DateTimeFormat("zh-CN", { timeZone: TIMEZONE, month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
      .formatToParts(new Date(iso));
    var p = {}; parts.forEach(function (x) { p[x.type] = x.value; });
    return p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
  }
  function rows(body, columns, list, attrs) {
    body.textContent = "";
    if (!list.length) {
      body.appendChild(el("tr")).appendChild(el("td", { colspan: columns }, "无"));
      return;
    }
    list.forEach(function (entry) {
      var cells = attrs(entry), tr = el("tr", cells.attrs);
      cells.texts.forEach(function (t) {
        var td = el("td", {}, t.text !== undefined ? t.text : t);
        if (t.cls) td.className = t.cls;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }
  function renderStock(list) {
    // Per item over the subtree: what is on the shelves, promised to orders, free, on its way.
    var items = {}, order = [];
    list.forEach(function (r) {
      var t = items[r.item];
      if (!t) { t = items[r.item] = { item: r.item, measure: r.measure, on_hand: 0, reserved: 0,
                                      available: 0, in_transit: 0 }; order.push(r.item); }
      ["on_hand", "reserved", "available", "in_transit"].forEach(function (k) { t[k] += r[k]; });
    });
    order.sort();
    rows($("stock-list"), 5, order.map(function (k) { return items[k]; }), function (t) {
      var m = " " + (t.measure || "");
      return { attrs: { "data-item": t.item, "data-available": t.available },
               texts: [t.item, number(t.on_hand) + m, number(t.reserved) + m,
                       { text: number(t.available) + m, cls: t.available > 0 ? "" : "late" },
                       number(t.in_transit) + m] };
    });
  }
  function renderShortages(list, names) {
    list = list.slice().sort(function (a, b) { return b.short - a.short; });
    rows($("shortage-list"), 5, list, function (r) {
      var m = " " + (r.measure || "");
      return { attrs: { "data-unit": r.unit, "data-item": r.item, "data-short": r.short },
               texts: [r.name || names[r.unit] || r.unit, r.item, number(r.needed) + m,
                       number(r.available) + m, { text: number(r.short) + m, cls: "late" }] };
    });
  }
  function renderNeeds(list, names) {
    rows($("need-list"), 4, list, function (n) {
      return { attrs: { "data-need": n.need_id },
               texts: [n.need_id, n.name || names[n.unit] || n.unit,
                       (n.remaining || []).map(quantity).join("、"), n.note || ""] };
    });
  }
  function renderDonations(list) {
    rows($("donation-list"), 5, list, function (d) {
      var what = (d.items || []).map(quantity);
      if (d.cash_fen) {
        var marks = (d.earmarks || []).map(function (e) { return e.purpose + " " + yuan(e.amount_fen); });
        what.push("现金 " + yuan(d.cash_fen) + (marks.length ? "（其中" + marks.join("；") + "）" : ""));
      }
      return { attrs: { "data-receipt": d.receipt },
               texts: [d.receipt + (d.corrected ? "（已更正）" : ""), d.donor, what.join("、"),
                       d.to.name || d.to.unit, local(d.received_at)] };
    });
  }
  function renderSupplies(found, names) {
    if (!found) { $("supplies").setAttribute("data-state", "failed"); return; }
    renderStock(found.stock.rows);
    renderShortages(found.shortages.rows, names);
    renderNeeds(found.needs.needs, names);
    renderDonations(found.donations.items);
    $("supplies").setAttribute("data-state", "shown");
  }
  function supplies(at) {
    // Read apart from the figures: a failure here leaves the rest of the board as it is.
    var since = at ? "min_position=" + at : "";
    return Promise.all([
      get("/supplies/stock?" + since), get("/supplies/shortages?" + since),
      get("/supplies/needs?status=open&" + since),
      get("/supplies/donations/public?limit=" + DONATIONS_SHOWN)
    ]).then(function (r) {
      return { stock: r[0], shortages: r[1], needs: r[2], donations: r[3] };
    }, function (err) {
      if (err.message === "401") throw err;
      return null;
    });
  }
  function render(today, fig) {
    var total = fig.subtree.total;
    $("title").textContent = fig.name + " · 12345 热线三级联动";
    $("day").textContent = fig.date;
    $("asof").textContent = "截至 " + fig.as_of.slice(11, 19) + " · 位置 " + fig.position;
    $("reported-total").textContent = total.calls;  // 受理量: new orders and repeated calls
    $("orders-total").textContent = "其中新工单 " + total.reported;
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
      var units = get("/dashboard/units/" + today.unit + query(at));
      return Promise.all([units, supplies(at)]).then(function (found) {
        var fig = found[0], names = {};
        fig.units.forEach(function (u) { names[u.unit] = u.name; });
        // The two reads may land at different positions: what is shown is the older one.
        shown = Math.min(fig.position, today.position); render(today, fig);
        renderSupplies(found[1], names);
        $("login").hidden = true; $("board").hidden = false;
      });
    }).catch(function (err) {
      if (err.message === "401") showLogin("令牌无效或已撤销");
      else if (err.status === 422) toCity();
      else $("live").textContent = "读取失败, 稍后重试";
    }).then(function () {
      busy = false;
      if (again) { again = false; setTimeout(refresh, 200); }
    });
  }
  // A token on a city (above any one district: the board's reads answer 422) has a page of its
  // own, the city's summary: go there with the token (the work pages keep it under their key).
  function toCity() {
    get("/me").then(function (me) {
      if (me.level !== "city") throw new Error("not a city");
      if (source) { source.close(); source = null; }
      sessionStorage.setItem("coordination.token", sessionStorage.getItem(KEY));
      location.replace("/city");
    }).catch(function () { $("live").textContent = "读取失败, 稍后重试"; });
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
