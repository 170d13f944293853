// The intake desk (接单台): one call at a time. Place names come from the units file as the
// operator types; possible duplicates are looked up as soon as the place and kind are known;
// the call is linked to an open order it repeats (重复件) or filed as a new order. Below, the
// orders a handling unit returned (退回), with its reason, to re-dispatch (改派) to another unit
// of the district; and the resolved orders waiting for their return visit (回访), or closed
// without one when the resident cannot be reached. Each command sends the version shown
// (If-Match); a conflict reloads the order and says what changed.
"use strict";
(function () {
  var P = Pages, $ = P.$, el = P.el, L = P.L;
  var PHONE = /^\+?[0-9][0-9 -]{4,19}$/;
  var me = null, lines = [], places = {}, checked = "", confirmed = "", key = newKey(), visiting = {};
  var returning = {}, begun = {}, reached = 0, asked = { visits: 0, returned: 0 };
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

  // A read of the district's queue at the latest position the page has seen; only the answer of
  // the latest read of each list is shown (a slower, older one never overwrites it).
  function readQueue(which, state, position) {
    reached = Math.max(reached, position || 0);
    var n = ++asked[which];
    var q = "?state=" + state + "&limit=200" + (reached ? "&min_position=" + reached : "");
    return P.api("GET", "/units/" + me.unit + "/queue" + q).then(function (r) {
      return n === asked[which] ? r.body.items.filter(function (i) { return i.status === state; }) : null;
    });
  }

  // --- returned orders: re-dispatch ------------------------------------------------------
  function loadReturned(position) {
    return readQueue("returned", "returned", position).then(function (items) {
      if (!items) return;
      var box = $("returned"), list = el("ul", { "class": "cards", id: "returned-list" });
      // A card the dispatcher has begun on is left as it is (even once the order has left the
      // list): its command then meets the conflict, which says what changed. Others follow.
      var now = P.kept(items, returning, returnedCard, function (id) { return begun[id]; });
      Object.keys(begun).forEach(function (id) { if (!now[id] && returning[id]) now[id] = returning[id]; });
      returning = now;
      box.textContent = "";
      $("returned-count").textContent = "（" + items.length + "）";
      if (!Object.keys(now).length) {
        box.setAttribute("data-state", "none"); box.appendChild(el("p", { "class": "empty" }, "暂无退回工单")); return;
      }
      Object.keys(now).forEach(function (id) { list.appendChild(now[id]); });
      box.appendChild(list);
      box.setAttribute("data-state", "shown");
    }).catch(function (e) { say($("returned"), P.refusal(e), "refused"); $("returned").setAttribute("data-state", "refused"); });
  }
  // Where a returned order may go: the district's streets and departments, and the
  // communities of each street, grouped by street.
  function unitChoices(select) {
    var units = P.config.units, ids = Object.keys(units);
    select.appendChild(el("option", { value: "" }, "请选择承办单位"));
    var departments = el("optgroup", { label: "区级部门" });
    ids.forEach(function (id) {
      var unit = units[id];
      if (id === me.unit || !P.within(id, me.unit)) return;
      if (unit.level === "department") departments.appendChild(el("option", { value: id }, unit.name));
      if (unit.level !== "street") return;
      var group = el("optgroup", { label: unit.name });
      group.appendChild(el("option", { value: id }, unit.name));
      ids.forEach(function (c) {
        if (units[c].parent === id && units[c].level === "community") {
          group.appendChild(el("option", { value: c }, unit.name + " · " + units[c].name));
        }
      });
      select.appendChild(group);
    });
    if (departments.children.length) select.appendChild(departments);
  }
  function returnedCard(incident) {
    var card = el("li", { "class": "card returned " + incident.kind, "data-id": incident.id,
                          "data-version": incident.version, "data-status": incident.status });
    var h = el("h3", {});
    h.appendChild(el("span", { "class": "badge status" }, L.status[incident.status] || incident.status));
    h.appendChild(document.createTextNode(incident.title));
    card.appendChild(h);
    var meta = el("div", { "class": "meta" });
    meta.appendChild(el("span", {}, P.describe(incident)));
    meta.appendChild(el("span", {}, "优先级 " + (L.priority[incident.priority] || incident.priority)));
    meta.appendChild(el("span", {}, incident.place));
    meta.appendChild(el("span", {}, "受理 " + P.local(incident.created_at)));
    var by = meta.appendChild(el("span", { "class": "returned-by" }));
    meta.appendChild(el("span", { "class": "id" }, incident.id));
    card.appendChild(meta);
    card.appendChild(el("p", { "class": "reason" }, "退回理由：" + (incident.return_reason || "—")));
    // Who returned it, and when: from the order's events.
    P.api("GET", "/incidents/" + incident.id + "/events").then(function (r) {
      var returned = r.body.filter(function (e) { return e.type === "IncidentReturned"; }).pop();
      if (returned) by.textContent = "由 " + P.unitName(returned.data.unit) + " 退回 " + P.local(returned.time);
    }).catch(function () {});
    var unitId = "dispatch-unit-" + incident.id, noteId = "dispatch-note-" + incident.id;
    var select = el("select", { id: unitId, "class": "dispatch-unit" });
    unitChoices(select);
    var note = el("input", { id: noteId, "class": "dispatch-note", autocomplete: "off" });
    card.appendChild(el("label", { "for": unitId }, "改派至"));
    card.appendChild(select);
    card.appendChild(el("label", { "for": noteId }, "改派说明"));
    card.appendChild(note);
    [select, note].forEach(function (c) {
      c.addEventListener("input", function () { begun[incident.id] = 1; });
      c.addEventListener("change", function () { begun[incident.id] = 1; });
    });
    var actions = el("div", { "class": "actions" });
    var button = el("button", { type: "button", "class": "act", "data-action": "dispatch",
                                "aria-label": "改派：" + incident.title }, "改派");
    button.addEventListener("click", function () { redispatch(incident, card, select, note, button); });
    actions.appendChild(button);
    card.appendChild(actions);
    card.appendChild(el("div", { "class": "card-result", role: "status" }));
    return card;
  }
  function redispatch(incident, card, select, note, button) {
    var out = card.querySelector(".card-result"), line = $("returned-result");
    begun[incident.id] = 1;
    if (!select.value) { say(out, "请先选择改派单位。", "refused"); select.focus(); return; }
    button.disabled = true;
    P.api("POST", "/incidents/" + incident.id + "/dispatch", { unit: select.value, note: note.value.trim() },
          P.ifMatch(incident.version)).then(function (r) {
      var order = r.body.incident;
      delete begun[incident.id];
      say(line, "已改派：" + incident.title + " → " + P.unitName(order.unit) + "（" + (L.status[order.status] || order.status) + "）", "ok");
      line.setAttribute("data-state", "dispatched"); line.setAttribute("data-id", order.id);
      return loadReturned(r.body.position);
    }).catch(function (e) {
      button.disabled = false;
      if (e.status !== 409) { say(out, P.refusal(e), "refused"); return; }
      return P.conflict(e, incident).then(function (c) {
        delete begun[incident.id]; delete returning[incident.id];
        say(line, "工单 " + incident.title + " " + c.text, "conflict");
        line.setAttribute("data-state", "conflict"); line.setAttribute("data-id", incident.id);
        return loadReturned(c.now ? c.now.position : 0);
      });
    });
  }

  // --- return visits ----------------------------------------------------------------------
  function loadVisits(position) {
    return readQueue("visits", "resolved", position).then(function (items) {
      if (!items) return;
      var box = $("visits"); box.textContent = "";
      box.setAttribute("data-state", items.length ? "shown" : "none");
      if (!items.length) {
        visiting = {}; box.appendChild(el("p", { "class": "empty" }, "暂无待回访工单")); return;
      }
      // A card being filled in is kept as it is (a live refresh must not empty its note).
      var list = el("ul", { "class": "cards" });
      visiting = P.kept(items, visiting, visitCard);
      Object.keys(visiting).forEach(function (id) { list.appendChild(visiting[id]); });
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
      b.addEventListener("click", function () {
        var note = card.querySelector(".visit-note").value.trim();
        visit(incident, card, "return-visit", { result: r[0], note: note }, "已记录回访");
      });
      actions.appendChild(b);
    });
    card.appendChild(actions);
    // Closing without a return visit (the resident cannot be reached): the domain asks why.
    var closeId = "close-note-" + incident.id;
    card.appendChild(el("label", { "for": closeId }, "不回访结案原因"));
    card.appendChild(el("input", { id: closeId, "class": "close-note", autocomplete: "off" }));
    var close = el("button", { type: "button", "class": "danger", "data-action": "close" }, "不回访结案");
    close.addEventListener("click", function () {
      var note = card.querySelector(".close-note").value.trim();
      visit(incident, card, "close", { note: note }, "已不回访结案");
    });
    card.appendChild(el("div", { "class": "actions" })).appendChild(close);
    card.appendChild(el("div", { "class": "card-result", role: "status" }));
    return card;
  }
  function visit(incident, card, action, body, done) {
    var out = card.querySelector(".card-result"), line = $("visits-result");
    P.api("POST", "/incidents/" + incident.id + "/" + action, body, P.ifMatch(incident.version)).then(function (r) {
      var order = r.body.incident, said = done + "：" + (L.status[order.status] || order.status);
      say(out, said, "ok");
      say(line, said + "（" + incident.title + "）", "ok");
      line.setAttribute("data-state", action); line.setAttribute("data-id", order.id);
      card.setAttribute("data-status", order.status);
      Array.prototype.forEach.call(card.querySelectorAll("button"), function (b) { b.disabled = true; });
    }).catch(function (e) {
      if (e.status !== 409) { say(out, P.refusal(e), "refused"); return; }
      return P.conflict(e, incident).then(function (c) {
        say(out, c.text, "conflict");
        say(line, "工单 " + incident.title + " " + c.text, "conflict");
        line.setAttribute("data-state", "conflict"); line.setAttribute("data-id", incident.id);
        delete visiting[incident.id];
        return loadVisits(c.now ? c.now.position : 0);
      });
    });
  }

  P.start(function (who) {
    me = who;
    if (me.actions.indexOf("report") < 0) {
      P.notice("接单台供调度员使用：" + (P.L.role[me.role] || me.role) + "令牌不能接单，提交时将被拒绝。");
    }
    showFields(); loadCatalogue(); loadReturned(); loadVisits();
    P.live(function (position) { loadReturned(position); loadVisits(position); });
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
