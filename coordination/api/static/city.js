// The city's page (全市汇总), for the city's 12345 platform: a row per district (open and
// overdue now; the day's new orders, epidemic share, on-time signing and resolving, satisfaction,
// calls) and the city's total row, from GET /dashboard/cities/<city>; a date picker for another
// day (kept in the address as ?date=). A city has no single live stream (each district is a log
// of its own), so the page reads the summary again 30 s after each read. A refusal is shown with
// the API's own message, and the table is emptied: no figures of another day stay on show. A
// district that cannot answer now is said so in its row and left out of the total.
"use strict";
(function () {
  var P = Pages, $ = P.$, el = P.el;
  var EVERY_MS = 30 * 1000;
  // column -> its figure of a group (a district's ``total`` or the city's)
  var COLUMNS = [
    ["open", function (t) { return String(t.open.total); }],
    ["overdue", function (t) { return String(t.overdue); }],
    ["reported", function (t) { return String(t.reported); }],
    ["epidemic_share", function (t) { return P.percent(t.epidemic_share); }],
    ["signed_on_time", function (t) { return P.percent(t.signed.on_time_rate); }],
    ["resolved_on_time", function (t) { return P.percent(t.resolved.on_time_rate); }],
    ["satisfaction", function (t) { return P.percent(t.visits.satisfaction_rate); }],
    ["calls", function (t) { return String(t.calls); }]
  ];
  // The headers' words, for each cell on a narrow screen (where a row is shown as a card).
  var LABELS = Array.prototype.map.call(document.querySelectorAll("#city-table thead th"),
                                        function (th) { return th.textContent; }).slice(1);
  var me = null, day = new URLSearchParams(location.search).get("date") || "";
  var loading = null, again = false, timer = null;

  function row(unit, name, figures, cls) {
    var tr = el("tr", { "data-unit": unit, "class": cls });
    tr.appendChild(el("th", { scope: "row" }, name));
    COLUMNS.forEach(function (column, i) {
      var td = el("td", { "data-field": column[0], "data-label": LABELS[i] }, column[1](figures));
      if (column[0] === "overdue" && figures.overdue > 0) td.className = "late";
      tr.appendChild(td);
    });
    return tr;
  }
  // A district whose store could not answer now (its shard failing over): said in its row, and
  // left out of the city's total, whose label names it.
  function unavailable(d) {
    var tr = el("tr", { "data-unit": d.unit, "class": "unavailable" });
    tr.appendChild(el("th", { scope: "row" }, d.name));
    tr.appendChild(el("td", { colspan: String(COLUMNS.length), "data-field": "unavailable" },
                      "暂时无法读取，稍后自动重试"));
    return tr;
  }
  function render(summary) {
    var body = $("district-rows"), foot = $("city-total");
    body.textContent = ""; foot.textContent = "";
    summary.districts.forEach(function (d) {
      body.appendChild(d.unavailable ? unavailable(d) : row(d.unit, d.name, d.total));
    });
    var missing = summary.districts.filter(function (d) { return d.unavailable; })
      .map(function (d) { return d.name; });
    var label = missing.length ? "全市合计（不含" + missing.join("、") + "）" : "全市合计";
    foot.appendChild(row(summary.unit, label, summary.total, "total"));
    $("city-title").textContent = summary.name + " · 各区汇总";
    $("city-caption").textContent = summary.name + " " + summary.date + " 各区工单情况";
    $("city-meta").textContent = "日期 " + summary.date + " · 截至 " + P.local(summary.as_of);
    if (!day && document.activeElement !== $("day")) $("day").value = summary.date;
    $("summary").setAttribute("data-state", "shown");
    $("summary").setAttribute("data-date", summary.date);
    $("live").textContent = "每30秒刷新"; $("live").className = "live on";
    P.notice("");
  }
  function refused(e) {
    $("district-rows").textContent = ""; $("city-total").textContent = "";
    $("city-caption").textContent = "无数据";
    $("city-meta").textContent = "";
    $("summary").setAttribute("data-state", "refused");
    $("summary").removeAttribute("data-date");
    $("live").textContent = "读取失败"; $("live").className = "live off";
    var said = "无法读取全市汇总：" + e.message;
    if (me.level !== "city") said = "本页供市级 12345 平台使用。" + said;
    P.notice(said);
  }
  // Read the summary (of ``day``, or today) and show it; the next read follows 30 s after.
  function load() {
    if (loading) { again = true; return loading; }
    clearTimeout(timer);
    var asked = day, q = asked ? "?date=" + encodeURIComponent(asked) : "";
    loading = P.api("GET", "/dashboard/cities/" + me.unit + q)
      .then(function (r) { if (asked === day) render(r.body); else again = true; },
            function (e) { if (asked === day) refused(e); else again = true; })
      .then(function () {
        loading = null;
        if (again) { again = false; return load(); }
        timer = setTimeout(load, EVERY_MS);
      });
    return loading;
  }
  function choose(value) {
    day = value || "";
    var q = day ? "?date=" + encodeURIComponent(day) : "";
    history.replaceState(null, "", location.pathname + q);
    $("summary").setAttribute("data-state", "loading");
    load();
  }

  $("day").value = day;
  $("day").addEventListener("change", function () { choose($("day").value); });
  $("today").addEventListener("click", function () { $("day").value = ""; choose(""); });
  $("day-form").addEventListener("submit", function (event) {
    event.preventDefault(); choose($("day").value);
  });
  P.start(function (who) { me = who; load(); });
})();
