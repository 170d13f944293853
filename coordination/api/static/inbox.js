// The handling unit's inbox (承办单位): its queue in urgency order with live deadline
// countdowns, 督办 marks on orders escalated from below, and the unit's commands. Each command
// sends the version the page showed (If-Match); a conflict reloads the order and says what
// changed. An order opened for work (办理) is left as it is by live refreshes.
"use strict";
(function () {
  var P = Pages, $ = P.$, el = P.el, L = P.L;
  var me = null, shown = {}, opened = {}, loading = null, again = false, wanted = 0;

  function say(node, text, cls) {
    node.textContent = ""; if (text) node.appendChild(el("p", { "class": "message " + (cls || "") }, text));
  }
  function supervised(incident) { return incident.escalated_to === me.unit && incident.unit !== me.unit; }
  function communities() {
    var units = P.config.units;
    return Object.keys(units).filter(function (id) {
      return units[id].level === "community" && units[id].parent === me.unit;
    });
  }

  function refresh(position) {
    wanted = Math.max(wanted, position || 0);
    if (loading) { again = true; return loading; }
    var q = "?limit=200" + (wanted ? "&min_position=" + wanted : "");
    loading = P.api("GET", "/units/" + me.unit + "/queue" + q).then(function (r) {
      render(r.body.items);
    }).catch(function (e) {
      var box = $("queue"); say(box, P.refusal(e), "refused"); box.setAttribute("data-state", "refused");
    }).then(function () {
      loading = null;
      if (again) { again = false; return refresh(); }
    });
    return loading;
  }
  function render(items) {
    var box = $("queue"), list = el("ul", { "class": "cards", id: "queue-list" });
    var seen = {};
    items.forEach(function (incident) {
      seen[incident.id] = 1;
      if (opened[incident.id]) { list.appendChild(opened[incident.id]); return; }
      shown[incident.id] = incident;
      list.appendChild(card(incident));
    });
    Object.keys(opened).forEach(function (id) { if (!seen[id]) list.appendChild(opened[id]); });
    box.textContent = "";
    if (!items.length && !Object.keys(opened).length) box.appendChild(el("p", { "class": "empty" }, "暂无待办工单"));
    else box.appendChild(list);
    box.setAttribute("data-state", "shown");
    $("queue-count").textContent = "（" + items.length + "）";
  }
  function card(incident) {
    var node = el("li", { "class": "card " + incident.kind + " " + incident.priority + (supervised(incident) ? " escalated" : ""),
                          "data-id": incident.id });
    fill(node, incident, false);
    return node;
  }
  function fill(node, incident, open) {
    node.textContent = "";
    node.setAttribute("data-version", incident.version);
    node.setAttribute("data-status", incident.status);
    var h = el("h3", {});
    if (supervised(incident)) h.appendChild(el("span", { "class": "badge supervise" }, "督办"));
    if (incident.risky) h.appendChild(el("span", { "class": "badge risky" }, "风险"));
    h.appendChild(el("span", { "class": "badge status" }, L.status[incident.status] || incident.status));
    h.appendChild(document.createTextNode(incident.title));
    node.appendChild(h);
    var meta = el("div", { "class": "meta" });
    meta.appendChild(el("span", {}, P.describe(incident)));
    meta.appendChild(el("span", {}, "优先级 " + (L.priority[incident.priority] || incident.priority)));
    meta.appendChild(el("span", {}, incident.place));
    if (incident.unit !== me.unit) meta.appendChild(el("span", {}, "在 " + P.unitName(incident.unit)));
    var due = incident.deadlines || {};
    if (incident.status === "dispatched" && due.sign_by) meta.appendChild(P.countdown("签收", due.sign_by));
    if (incident.status === "handed_down" && due.claim_by) meta.appendChild(P.countdown("认领", due.claim_by));
    if (["dispatched", "signed", "handed_down", "claimed"].indexOf(incident.status) >= 0 && due.resolve_by) {
      meta.appendChild(P.countdown("办结", due.resolve_by));
    }
    node.appendChild(meta);
    var toggle = el("button", { type: "button", "class": "secondary open", "aria-expanded": open ? "true" : "false" },
                    open ? "收起" : "办理");
    toggle.addEventListener("click", function () {
      if (opened[incident.id]) { delete opened[incident.id]; fill(node, shown[incident.id] || incident, false); }
      else { opened[incident.id] = node; fill(node, shown[incident.id] || incident, true); }
    });
    node.appendChild(toggle);
    var out = el("div", { "class": "card-result", role: "status", "aria-live": "polite" });
    if (open) node.appendChild(details(node, incident, out));
    node.appendChild(out);
  }
  function details(node, incident, out) {
    var box = el("div", { "class": "details" });
    var dl = el("dl");
    function row(term, text) { dl.appendChild(el("dt", {}, term)); dl.appendChild(el("dd", {}, text)); }
    row("编号", incident.id);
    row("版本", String(incident.version));
    row("诉求内容", incident.description || "—");
    row("地址", incident.address || "—");
    if (incident.reporter) row("来电人", incident.reporter.name + " " + incident.reporter.phone);
    row("来电次数", String(1 + (incident.callers || []).length));
    if (incident.items && incident.items.length) row("物资", P.items(incident.items));
    if (incident.person) row("隔离对象", incident.person.name + " " + incident.person.phone);
    if (incident.holder) row("认领人", incident.holder);
    if (incident.return_reason) row("退回理由", incident.return_reason);
    box.appendChild(dl);
    var here = incident.unit === me.unit, status = incident.status;
    if (status === "dispatched" && here) {
      box.appendChild(button("签收", "sign-for", function () { return {}; }));
      var reason = field("退回理由", "return-reason-" + incident.id, "input");
      box.appendChild(reason.label); box.appendChild(reason.input);
      box.appendChild(button("退回", "return", function () { return { reason: reason.input.value.trim() }; }, "danger"));
    }
    if (status === "signed" && here) {
      var select = el("select", { id: "community-" + incident.id });
      communities().forEach(function (id) {
        var option = el("option", { value: id }, P.unitName(id));
        if (id === incident.place_unit) option.selected = true;
        select.appendChild(option);
      });
      box.appendChild(el("label", { "for": select.id }, "下派至社区"));
      box.appendChild(select);
      box.appendChild(button("下派", "hand-down", function () { return { community: select.value }; }));
    }
    if (["signed", "handed_down", "claimed"].indexOf(status) >= 0) {
      var summary = field("办理情况", "summary-" + incident.id, "textarea");
      var officer = field("负责同志签字", "officer-" + incident.id, "input");
      [summary, officer].forEach(function (f) { box.appendChild(f.label); box.appendChild(f.input); });
      box.appendChild(button("办结", "resolve", function () {
        return { summary: summary.input.value.trim(), signed_off_by: officer.input.value.trim() };
      }));
    }
    return box;

    function button(text, action, make, cls) {
      var b = el("button", { type: "button", "class": "act " + (cls || ""), "data-action": action }, text);
      b.addEventListener("click", function () { act(node, incident, action, make(), out, b); });
      return b;
    }
  }
  function field(text, id, tag) {
    return { label: el("label", { "for": id }, text), input: el(tag, { id: id, autocomplete: "off" }) };
  }
  function act(node, incident, action, body, out, b) {
    b.disabled = true;
    P.api("POST", "/incidents/" + incident.id + "/" + action, body, P.ifMatch(incident.version))
      .then(function (r) {
        var now = r.body.incident;
        shown[now.id] = now;
        fill(node, now, true);
        say(node.querySelector(".card-result"), "已" + b.textContent + "：" + (L.status[now.status] || now.status)
            + (now.unit !== me.unit ? "，现在 " + P.unitName(now.unit) : ""), "ok");
      }).catch(function (e) {
        b.disabled = false;
        if (e.status !== 409) { say(out, P.refusal(e), "refused"); return; }
        P.conflict(e, incident).then(function (c) {
          if (c.now) { shown[c.now.id] = c.now; fill(node, c.now, true); }
          say(node.querySelector(".card-result"), c.text, "conflict");
        });
      });
  }

  P.start(function (who) {
    me = who;
    refresh().then(function () { P.live(refresh); });
  });
})();
