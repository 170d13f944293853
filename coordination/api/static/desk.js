// The intake desk (接单台): one call at a time. Place names come from the units file as the
// operator types; possible duplicates are looked up as soon as the place and kind are known;
// the call is linked to an open order it repeats (重复件) or filed as a new order. Below, the
// resolved orders waiting for their return visit (回访).
"use strict";
(function () {
  var P = Pages, $ = P.$, el = P.el, L = P.L;
  var PHONE = /^\+?[0-9][0-9 -]{4,19}$/;
  var me = null, lines = [], places = {}, checked = "", confirmed = "", key = newKey(), visiting = {};
  var suggestTimer = null, checkTimer = null;

  function newKey() { return "desk-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10); }
  function val(id) { return $(id).value.trim(); }
  function kind() { return $("kind").value; }
  function say(node, text, cls) {
    node.textContent = ""; if (text) node.appendChild(el("p", { "class": "message " + (cls || "") }, text));
  }
  function showFields() {
    $("category-field").hidden = kind() !== "work_order";
    $("items-field").hidden = kind() !== "supply_delivery";
    $("quarantine-check").hidden = kind() !== "supply_delivery";
    $("person-field").hidden = kind() !== "quarantine_visit";
  }

  // --- places ---------------------------------------------------------------------------
  function suggest() {
    var q = val("place");
    if (!q) { $("place-options").textContent = ""; placeUnit(); return; }
    P.api("GET", "/places?q=" + encodeURIComponent(q)).then(function (r) {
      var list = $("place-options"); list.textContent = "";
      r.body.places.forEach(function (p) {
        places[p.place] = p;
        list.appendChild(el("option", { value: p.place }, p.unit_name + " → " + p.handling_unit_name));
      });
      placeUnit();
    }).catch(function (e) { $("place-unit").textContent = P.refusal(e); });
  }
  function placeUnit() {
    var p = places[val("place")];
    $("place-unit").textContent = p ? "属地 " + p.unit_name + "，派往 " + p.handling_unit_name : "";
  }

  // --- possible duplicates ----------------------------------------------------------------
  function lookup() {
    if (!val("place")) return "";
    var q = new URLSearchParams();
    q.set("place", val("place")); q.set("kind", kind());
    if (kind() === "work_order") q.set("category", $("category").value);
    if (PHONE.test(val("phone"))) q.set("phone", val("phone"));
    return q.toString();
  }
  function scheduleCheck() { clearTimeout(checkTimer); checkTimer = setTimeout(check, 300); }
  function check() {
    var q = lookup();
    if (!q) return Promise.resolve(null);
    checked = q;
    var box = $("duplicates");
    box.setAttribute("data-state", "loading");
    return P.api("GET", "/incidents/possible-duplicates?" + q).then(function (r) {
      if (checked === q) renderDuplicates(r.body);
      return r.body;
    }).catch(function (e) {
      say(box, P.refusal(e), "refused"); box.setAttribute("data-state", "refused");
      return null;
    });
  }
  function renderDuplicates(found) {
    var box = $("duplicates"); box.textContent = "";
    var shown = {};
    [["same-place", "同地点同类未办结工单", found.same_place],
     ["same-caller", "该号码以往工单", found.same_caller]].forEach(function (group) {
      box.appendChild(el("h3", {}, group[1] + "（" + group[2].length + "）"));
      if (!group[2].length) { box.appendChild(el("p", { "class": "empty" }, "无")); return; }
      var list = el("ul", { "class": "cards", id: group[0] });
      group[2].forEach(function (incident) { list.appendChild(duplicateCard(incident)); shown[incident.id] = 1; });
      box.appendChild(list);
    });
    box.setAttribute("data-state", Object.keys(shown).length ? "found" : "none");
  }
  function duplicateCard(incident) {
    var card = el("li", { "class": "card", "data-id": incident.id, "data-version": incident.version });
    card.appendChild(el("h3", {}, incident.title));
    var meta = el("div", { "class": "meta" });
    meta.appendChild(el("span", { "class": "badge status" }, L.status[incident.status] || incident.status));
    meta.appendChild(el("span", {}, P.describe(incident)));
    meta.appendChild(el("span", {}, incident.place));
    meta.appendChild(el("span", {}, "承办 " + P.unitName(incident.unit)));
    meta.appendChild(el("span", {}, "受理 " + P.local(incident.created_at)));
    meta.appendChild(el("span", { "class": "calls" }, "来电 " + (1 + (incident.callers || []).length) + " 次"));
    meta.appendChild(el("span", { "class": "id" }, incident.id));
    card.appendChild(meta);
    if (incident.status !== "closed") {
      var button = el("button", { type: "button", "class": "secondary link",
                                  "aria-label": "关联为重复件：" + incident.title }, "关联为重复件");
      button.addEventListener("click", function () { link(incident, card, button); });
      card.appendChild(button);
    }
    card.appendChild(el("div", { "class": "card-result", role: "status" }));
    return card;
  }
  function link(incident, card, button) {
    var out = card.querySelector(".card-result");
    var caller = { name: val("name"), phone: val("phone") };
    if (!caller.name || !caller.phone) { say(out, "请先填写来电人姓名和号码。", "refused"); return; }
    var body = { caller: caller, note: val("title") };
    if (val("place")) body.place = val("place");
    button.disabled = true;
    P.api("POST", "/incidents/" + incident.id + "/link-call", body,
          Object.assign(P.ifMatch(incident.version), { "Idempotency-Key": key }))
      .then(function (r) {
        var order = r.body.incident, n = 1 + order.callers.length;
        say(out, "已关联为重复件：本工单共 " + n + " 次来电。", "ok");
        showResult("linked", order, "已关联为重复件（不新建工单）");
        reset();
      }).catch(function (e) {
        button.disabled = false;
        if (e.status === 409) {
          // The list is looked up again (the card goes with it): say so where it stays.
          say($("result"), "工单 " + incident.id + " 已被他人更新，已重新查找重复件（" + e.message + "）", "conflict");
          check(); return;
        }
        say(out, P.refusal(e), "refused");
      });
  }

  // --- filing -----------------------------------------------------------------------------
  function body() {
    var data = {
      kind: kind(), title: val("title"), description: val("description"), place: val("place"),
      address: val("address"), priority: $("priority").value, epidemic: $("epidemic").checked,
      reporter: { name: val("name"), phone: val("phone") }
    };
    if (kind() === "work_order") data.category = $("category").value;
    if (kind() === "supply_delivery") {
      data.items = lines.map(function (l) { return { item: l.item, quantity: l.quantity }; });
      data.home_quarantine = $("home_quarantine").checked;
    }
    if (kind() === "quarantine_visit") data.person = { name: val("person-name"), phone: val("person-phone") };
    return data;
  }
  function file(event) {
    event.preventDefault();
    var result = $("result");
    var missing = [["phone", "来电号码"], ["name", "来电人姓名"], ["place", "地点"], ["title", "标题"]]
      .filter(function (f) { return !val(f[0]); });
    if (missing.length) {
      say(result, "请填写：" + missing.map(function (f) { return f[1]; }).join("、"), "refused");
      $(missing[0][0]).focus(); return;
    }
    var q = lookup();
    var ready = checked === q && $("duplicates").getAttribute("data-state") !== "loading"
      ? Promise.resolve(null) : check();
    ready.then(function () {
      var same = document.querySelectorAll("#same-place .card").length;
      if (same && confirmed !== q) {
        confirmed = q;
        say(result, "发现 " + same + " 件可能的重复件（右侧）。如是同一诉求请关联；确为新诉求请再次点击“新建工单”。", "refused");
        return;
      }
      $("file").disabled = true;
      P.api("POST", "/incidents", body(), { "Idempotency-Key": key }).then(function (r) {
        showResult("filed", r.body.incident, "已新建工单");
        reset();
      }).catch(function (e) { say(result, P.refusal(e), "refused"); })
        .then(function () { $("file").disabled = false; });
    });
  }
  function showResult(what, order, heading) {
    var result = $("result"); result.textContent = "";
    result.setAttribute("data-state", what); result.setAttribute("data-id", order.id);
    result.appendChild(el("p", { "class": "ok" }, heading));
    var dl = el("dl");
    function row(term, text, id) { dl.appendChild(el("dt", {}, term)); dl.appendChild(el("dd", { id: id }, text)); }
    row("工单编号", order.id, "result-id");
    row("承办单位", P.unitName(order.unit), "result-unit");
    row("状态", L.status[order.status] || order.status, "result-status");
    var due = order.deadlines || {};
    ["sign_by", "claim_by", "resolve_by"].forEach(function (k) {
      if (due[k]) row(L.deadline[k] + "时限", P.local(due[k]), "result-" + k);
    });
    if (what === "linked") row("来电次数", String(1 + order.callers.length), "result-calls");
    result.appendChild(dl);
  }
  function reset() {
    $("call-form").reset(); lines = []; renderLines(); showFields(); placeUnit();
    key = newKey(); checked = ""; confirmed = "";
    var box = $("duplicates"); box.setAttribute("data-state", "empty");
    say(box, "填写地点、类型后自动查找。", "empty");
    $("phone").focus();
  }

  // --- supplies of a delivery ---------------------------------------------------------------
  function renderLines() {
    var list = $("items"); list.textContent = "";
    lines.forEach(function (l, i) {
      var li = el("li", {}, l.item + " " + l.quantity + " " + l.measure + " ");
      var drop = el("button", { type: "button", "class": "danger", "aria-label": "删除 " + l.item }, "删除");
      drop.addEventListener("click", function () { lines.splice(i, 1); renderLines(); });
      li.appendChild(drop); list.appendChild(li);
    });
  }
  function loadCatalogue() {
    P.api("GET", "/supplies/catalogue").then(function (r) {
      var select = $("item"); select.textContent = "";
      r.body.items.forEach(function (i) {
        select.appendChild(el("option", { value: i.name, "data-measure": i.unit }, i.name + "（" + i.unit + "）"));
      });
    }).catch(function () {});
  }
  $("add-item").addEventListener("click", function () {
    var option = $("item").selectedOptions[0], n = parseInt($("quantity").value, 10);
    if (!option || !(n > 0)) return;
    lines.push({ item: option.value, quantity: n, measure: option.getAttribute("data-measure") || "" });
    renderLines();
  });

  // --- return visits ----------------------------------------------------------------------
  function loadVisits(position) {
    var q = "?state=resolved" + (position ? "&min_position=" + position : "");
    return P.api("GET", "/units/" + me.unit + "/queue" + q).then(function (r) {
      var box = $("visits"); box.textContent = "";
      var items = r.body.items.filter(function (i) { return i.status === "resolved"; });
      box.setAttribute("data-state", items.length ? "shown" : "none");
      if (!items.length) {
        visiting = {}; box.appendChild(el("p", { "class": "empty" }, "暂无待回访工单")); return;
      }
      // A card being filled in is kept as it is (a live refresh must not empty its note).
      var list = el("ul", { "class": "cards" }), now = {};
      items.forEach(function (incident) {
        var kept = visiting[incident.id];
        now[incident.id] = kept && kept.getAttribute("data-version") === String(incident.version)
          ? kept : visitCard(incident);
        list.appendChild(now[incident.id]);
      });
      visiting = now;
      box.appendChild(list);
    }).catch(function (e) { say($("visits"), P.refusal(e), "refused"); });
  }
  function visitCard(incident) {
    var card = el("li", { "class": "card", "data-id": incident.id, "data-version": incident.version });
    card.appendChild(el("h3", {}, incident.title));
    var meta = el("div", { "class": "meta" });
    meta.appendChild(el("span", {}, P.describe(incident)));
    meta.appendChild(el("span", {}, "办结单位 " + P.unitName(incident.unit)));
    meta.appendChild(el("span", {}, "办结情况：" + incident.resolution + "（" + incident.signed_off_by + "）"));
    if (incident.reporter) meta.appendChild(el("span", {}, "回访 " + incident.reporter.name + " " + incident.reporter.phone));
    meta.appendChild(el("span", { "class": "id" }, incident.id));
    card.appendChild(meta);
    var id = "visit-note-" + incident.id;
    card.appendChild(el("label", { "for": id }, "回访记录"));
    card.appendChild(el("input", { id: id, "class": "visit-note", autocomplete: "off" }));
    var actions = el("div", { "class": "actions" });
    [["satisfied", "满意"], ["basically_satisfied", "基本满意"], ["unsatisfied", "不满意"]].forEach(function (r) {
      var b = el("button", { type: "button", "class": "secondary", "data-result": r[0] }, r[1]);
      b.addEventListener("click", function () { visit(incident, card, r[0]); });
      actions.appendChild(b);
    });
    card.appendChild(actions);
    card.appendChild(el("div", { "class": "card-result", role: "status" }));
    return card;
  }
  function visit(incident, card, result) {
    var out = card.querySelector(".card-result");
    var note = card.querySelector(".visit-note").value.trim();
    P.api("POST", "/incidents/" + incident.id + "/return-visit", { result: result, note: note },
          P.ifMatch(incident.version)).then(function (r) {
      var order = r.body.incident;
      say(out, "已记录回访：" + (L.status[order.status] || order.status), "ok");
      card.setAttribute("data-status", order.status);
      Array.prototype.forEach.call(card.querySelectorAll("button"), function (b) { b.disabled = true; });
    }).catch(function (e) {
      say(out, (e.status === 409 ? "该工单已被他人更新：" : "") + P.refusal(e), "refused");
    });
  }

  P.start(function (who) {
    me = who;
    if (me.actions.indexOf("report") < 0) {
      P.notice("接单台供调度员使用：" + (P.L.role[me.role] || me.role) + "令牌不能接单，提交时将被拒绝。");
    }
    showFields(); loadCatalogue(); loadVisits();
    P.live(function (position) { loadVisits(position); });
    $("kind").addEventListener("change", function () { showFields(); scheduleCheck(); });
    $("category").addEventListener("change", scheduleCheck);
    $("place").addEventListener("input", function () {
      clearTimeout(suggestTimer); suggestTimer = setTimeout(suggest, 150); placeUnit(); scheduleCheck();
    });
    $("phone").addEventListener("input", scheduleCheck);
    $("check").addEventListener("click", check);
    $("call-form").addEventListener("submit", file);
    $("phone").focus();
  });
})();
