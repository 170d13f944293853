// What the work pages share (templates/page_base.html loads it first; no build step): the tab's
// token, calls to the API, the header, labels, times and countdowns, the live stream, and what
// a page does on a version conflict (reload the order, say what changed), rates as percentages.
"use strict";
var Pages = (function () {
  var CONFIG = JSON.parse(document.getElementById("page-config").textContent);
  var KEY = "coordination.token";
  var HOME = { dispatcher: "/desk", admin: "/desk", handler: "/inbox", field: "/tasks",
               viewer: "/dashboard", open311: "/login", city: "/city" };
  var L = {
    role: { dispatcher: "调度员", handler: "承办人", field: "社区工作人员", viewer: "查看",
            admin: "管理员", open311: "Open311", city: "市级平台" },
    kind: { work_order: "热线工单", supply_delivery: "物资配送", quarantine_visit: "隔离上门",
            night_emergency: "夜间突发" },
    category: { consultation: "咨询", tip: "建议线索", complaint: "投诉" },
    priority: { low: "低", normal: "一般", high: "高", urgent: "紧急" },
    status: { new: "新建", dispatched: "待签收", signed: "已签收", returned: "已退回",
              handed_down: "待认领", claimed: "办理中", resolved: "已办结", visited: "已回访",
              closed: "已结案" },
    deadline: { sign_by: "签收", claim_by: "认领", resolve_by: "办结" }
  };
  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) node.setAttribute(k, attrs[k]);
    });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function token() { return sessionStorage.getItem(KEY); }
  function unitName(id) { var u = CONFIG.units[id]; return u ? u.name : id; }
  // One call to the API with the tab's token: resolves {status, body, etag}; an error answer
  // rejects with its own message (the one JSON error shape), status and body.
  function api(method, url, body, headers) {
    var h = { Authorization: "Bearer " + token() };
    Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
    var init = { method: method, headers: h };
    if (body !== undefined) { h["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(url, init).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (r.status === 401) { sessionStorage.removeItem(KEY); toLogin(); }
        if (!r.ok) {
          var err = new Error((data && data.message) || (r.status + " " + r.statusText));
          err.status = r.status; err.body = data; throw err;
        }
        return { status: r.status, body: data, etag: r.headers.get("ETag") };
      });
    });
  }
  function ifMatch(version) { return { "If-Match": '"' + version + '"' }; }
  function toLogin() {
    location.assign("/login?next=" + encodeURIComponent(location.pathname));
  }
  function notice(message) {
    var n = $("notice");
    n.textContent = message || ""; n.hidden = !message;
  }
  function header(me) {
    var who = $("who"); who.textContent = "";
    who.appendChild(el("span", { "class": "unit", id: "who-unit" }, me.unit_name));
    who.appendChild(el("span", { "class": "role", id: "who-role" }, L.role[me.role] || me.role));
    if (me.staff_id) who.appendChild(el("span", { "class": "staff" }, " " + me.staff_id));
    var out = $("logout"); out.hidden = false;
    out.onclick = function () { sessionStorage.removeItem(KEY); location.assign("/login"); };
  }
  // Start a page: to the login page without a token; else the header, then run(me).
  function start(run) {
    if (!token()) { toLogin(); return; }
    api("GET", "/me").then(function (r) { header(r.body); run(r.body); })
      .catch(function (e) { if (e.status !== 401) notice("无法读取令牌信息：" + e.message); });
  }
  function local(iso, withDay) {
    if (!iso) return "—";
    var parts = new Intl.DateTimeFormat("zh-CN", { timeZone: CONFIG.timezone, month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
      .formatToParts(new Date(iso));
    var p = {}; parts.forEach(function (x) { p[x.type] = x.value; });
    return (withDay === false ? "" : p.month + "-" + p.day + " ") + p.hour + ":" + p.minute;
  }
  function left(iso) {
    // "剩 1小时05分" while it runs, "超时 12分" once it has passed.
    var ms = new Date(iso).getTime() - Date.now(), late = ms < 0, s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    var text = (d ? d + "天" : "") + (d || h ? h + "小时" : "") + (m < 10 && (d || h) ? "0" : "") + m + "分";
    if (!d && !h && m < 1) text = (s % 60) + "秒";
    return { text: (late ? "超时 " : "剩 ") + text, late: late, soon: !late && ms < 3600 * 1000 };
  }
  function countdown(label, iso) {
    var node = el("span", { "class": "countdown", "data-due": iso });
    node.setAttribute("data-label", label);
    tick(node);
    return node;
  }
  function tick(node) {
    var l = left(node.getAttribute("data-due"));
    node.textContent = node.getAttribute("data-label") + " " + l.text;
    node.className = "countdown" + (l.late ? " late" : l.soon ? " soon" : "");
  }
  setInterval(function () {
    Array.prototype.forEach.call(document.querySelectorAll(".countdown"), tick);
  }, 1000);
  function describe(incident) {
    var what = L.kind[incident.kind] || incident.kind;
    if (incident.category) what += "·" + (L.category[incident.category] || incident.category);
    return what;
  }
  // A rate (floored to four decimals by the API) as a percentage, floored to one decimal, so
  // 100% only when every one counts; null (nothing to divide by) as "—".
  function percent(rate) {
    if (rate === null || rate === undefined) return "—";
    return Math.floor(Math.round(rate * 10000) / 10) / 10 + "%";
  }
  // Where a token goes after logging in: a city's token (its own or an admin's) to the city's
  // page, else its role's page.
  function home(me) {
    return me.level === "city" ? "/city" : HOME[me.role] || "/login";
  }
  function items(list) {
    return (list || []).map(function (i) { return i.item + " " + i.quantity + " " + (i.measure || ""); })
      .join("，");
  }
  // The live stream the dashboard uses, scoped to the token's unit: onPosition(position) each
  // time something there moved (and once at once).
  function live(onPosition) {
    var source = new EventSource("/dashboard/stream?token=" + encodeURIComponent(token()));
    source.addEventListener("open", function () { $("live").textContent = "实时"; $("live").className = "live on"; });
    source.addEventListener("error", function () { $("live").textContent = "重连中"; $("live").className = "live off"; });
    source.addEventListener("position", function (e) {
      $("live").textContent = "实时"; $("live").className = "live on";
      onPosition(JSON.parse(e.data).position);
    });
    return source;
  }
  // An action's answer shown where it was asked for: the API's own message on a refusal.
  function refusal(e) {
    return "未能完成：" + e.message;
  }
  // Whether unit ``id`` lies in the subtree of ``root`` (the unit itself included).
  function within(id, root) {
    for (var at = id; at; at = (CONFIG.units[at] || {}).parent) { if (at === root) return true; }
    return false;
  }
  // The order as the projections have it, once they show at least ``version``.
  function reload(id, version, tries) {
    return api("GET", "/incidents/" + id).then(function (r) {
      if (r.body.version >= version || tries <= 0) return r.body;
      return new Promise(function (ok) { setTimeout(ok, 200); })
        .then(function () { return reload(id, version, tries - 1); });
    });
  }
  function changes(was, now) {
    var said = ["版本 " + was.version + " → " + now.version];
    if (was.status !== now.status) said.push("状态 " + L.status[was.status] + " → " + L.status[now.status]);
    if (was.unit !== now.unit) said.push("承办 " + unitName(was.unit) + " → " + unitName(now.unit));
    if (was.holder !== now.holder) said.push("认领人 " + (was.holder || "无") + " → " + (now.holder || "无"));
    return said.join("；");
  }
  // The cards of a list of orders after a read: a card shown before is kept while its order
  // is unchanged (what is typed in it, and what it says, stay through a live refresh), or while
  // ``stays(id)`` says so; the others are made anew. Cards by id, in the order of ``items``.
  function kept(items, before, make, stays) {
    var now = {};
    items.forEach(function (incident) {
      var card = before[incident.id];
      now[incident.id] = card && ((stays && stays(incident.id)) ||
                                  card.getAttribute("data-version") === String(incident.version))
        ? card : make(incident);
    });
    return now;
  }
  // A version conflict (409) on an order the page showed as ``was``: the order reloaded, once
  // the projections show the version the API named, and what changed, with the API's message.
  // Resolves {now, text}; now is null when the order can no longer be read (moved away).
  function conflict(e, was) {
    var found = /version (\d+)/.exec(e.message), actual = found ? parseInt(found[1], 10) : 0;
    return reload(was.id, actual, 10).then(function (now) {
      return { now: now, text: "该工单已被他人更新，已重新加载：" + changes(was, now) + "（" + e.message + "）" };
    }, function () {
      return { now: null, text: "该工单已被他人更新（" + e.message + "）" };
    });
  }
  return { config: CONFIG, KEY: KEY, HOME: HOME, L: L, $: $, el: el, api: api, ifMatch: ifMatch,
           start: start, notice: notice, local: local, countdown: countdown, describe: describe,
           items: items, kept: kept, percent: percent, home: home, live: live, unitName: unitName,
           token: token, refusal: refusal, within: within, reload: reload, changes: changes,
           conflict: conflict };
})();
