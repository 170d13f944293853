// 我的任务, field staff's page (made for a phone): claim the next order, work what one holds
// with its lease counting down, resolve with a note or release it with a reason; the
// community's waiting orders, with whether one may take the risky ones; colleagues' claims,
// and taking a risky one over (trained staff only). Release and take-over send the version
// shown (If-Match); a conflict reloads the order and says what changed. A new order in the
// community, or a night emergency naming this member, raises an alert (sound and vibration
// where the browser allows), from the dashboard's live stream, scoped to the token.
"use strict";
(function () {
  var P = Pages, $ = P.$, el = P.el, L = P.L;
  var me = null, member = null, members = {}, known = null, alerts = 0, position = 0, held = {}, others = {};
  var asked = { mine: 0, pool: 0 };

  function say(node, text, cls) {
    node.textContent = ""; if (text) node.appendChild(el("p", { "class": "message " + (cls || "") }, text));
  }
  function at(min) { return min ? "min_position=" + min : ""; }

  function loadMember() {
    return P.api("GET", "/units/" + me.unit + "/staff").then(function (r) {
      r.body.items.forEach(function (m) { members[m.id] = m; });
      member = members[me.staff_id] || null;
    }).catch(function () { member = null; });
  }
  function loadMine(min) {
    var n = ++asked.mine;
    return P.api("GET", "/me/assignments?" + at(min)).then(function (r) {
      if (n !== asked.mine) return;  // a later read is on its way: its answer is shown
      var box = $("mine"); box.textContent = "";
      box.setAttribute("data-state", r.body.items.length ? "shown" : "none");
      if (!r.body.items.length) {
        held = {}; box.appendChild(el("p", { "class": "empty" }, "暂无进行中的任务")); return;
      }
      // A card being filled in is kept as it is (a live refresh must not empty its fields).
      var list = el("ul", { "class": "cards", id: "mine-list" }), now = {};
      r.body.items.forEach(function (incident) {
        now[incident.id] = held[incident.id] || mineCard(incident);
        list.appendChild(now[incident.id]);
      });
      held = now;
      box.appendChild(list);
    }).catch(function (e) {
      say($("mine"), P.refusal(e), "refused"); $("mine").setAttribute("data-state", "refused");
      P.notice(P.refusal(e));
    });
  }
  function facts(incident) {
    var dl = el("dl");
    function row(term, text) { dl.appendChild(el("dt", {}, term)); dl.appendChild(el("dd", {}, text)); }
    row("地址", incident.address || incident.place);
    if (incident.reporter) row("联系人", incident.reporter.name + " " + incident.reporter.phone);
    if (incident.person) row("隔离对象", incident.person.name + " " + incident.person.phone);
    if (incident.items && incident.items.length) row("物资", P.items(incident.items));
    row("诉求内容", incident.description || "—");
    row("编号", incident.id);
    return dl;
  }
  function heading(incident) {
    var h = el("h3", {});
    if (incident.kind === "night_emergency") h.appendChild(el("span", { "class": "badge risky" }, "夜间急件"));
    if (incident.risky) h.appendChild(el("span", { "class": "badge risky" }, "风险"));
    h.appendChild(document.createTextNode(incident.title));
    return h;
  }
  function mineCard(incident) {
    var card = el("li", { "class": "card " + incident.kind, "data-id": incident.id, "data-version": incident.version });
    card.appendChild(heading(incident));
    var meta = el("div", { "class": "meta" });
    meta.appendChild(el("span", {}, P.describe(incident)));
    if (incident.lease_expires_at) meta.appendChild(P.countdown("认领有效", incident.lease_expires_at));
    if (incident.deadlines && incident.deadlines.resolve_by) meta.appendChild(P.countdown("办结", incident.deadlines.resolve_by));
    card.appendChild(meta);
    var details = el("div", { "class": "details" });
    details.appendChild(facts(incident));
    var summaryId = "summary-" + incident.id, officerId = "officer-" + incident.id;
    details.appendChild(el("label", { "for": summaryId }, "处理情况"));
    var summary = el("textarea", { id: summaryId, rows: "2" });
    details.appendChild(summary);
    details.appendChild(el("label", { "for": officerId }, "负责同志签字"));
    var officer = el("input", { id: officerId, autocomplete: "off" });
    details.appendChild(officer);
    var out = el("div", { "class": "card-result", role: "status", "aria-live": "polite" });
    var resolve = el("button", { type: "button", "class": "act", "data-action": "resolve" }, "办结");
    resolve.addEventListener("click", function () {
      resolve.disabled = true;
      P.api("POST", "/incidents/" + incident.id + "/resolve",
            { summary: summary.value.trim(), signed_off_by: officer.value.trim() }, P.ifMatch(incident.version))
        .then(function (r) {
          say($("claim-result"), "已办结：" + incident.title, "ok");
          reload(r.body.position);
        }).catch(function (e) { resolve.disabled = false; say(out, P.refusal(e), "refused"); });
    });
    details.appendChild(el("div", { "class": "actions" })).appendChild(resolve);
    // Give it back to the community's queue, saying why, for a colleague to claim.
    var reasonId = "release-reason-" + incident.id;
    details.appendChild(el("label", { "for": reasonId }, "释放原因"));
    var reason = el("input", { id: reasonId, autocomplete: "off" });
    details.appendChild(reason);
    var release = el("button", { type: "button", "class": "act danger", "data-action": "release" }, "释放");
    release.addEventListener("click", function () {
      if (!reason.value.trim()) { say(out, "请填写释放原因，方便同事接续。", "refused"); reason.focus(); return; }
      release.disabled = true;
      // Back in the pool by one's own hand raises no alert (the live refresh may come first).
      var wasKnown = known && known[incident.id];
      if (known) known[incident.id] = 1;
      P.api("POST", "/incidents/" + incident.id + "/release", { reason: reason.value.trim() }, P.ifMatch(incident.version))
        .then(function (r) {
          delete held[incident.id];
          done("released", incident, "已释放，退回社区待领：" + incident.title);
          return reload(r.body.position);
        }).catch(function (e) {
          if (known && !wasKnown) delete known[incident.id];
          release.disabled = false; refused(e, incident, out);
        });
    });
    details.appendChild(el("div", { "class": "actions" })).appendChild(release);
    details.appendChild(out);
    card.appendChild(details);
    return card;
  }
  function mayTake(incident) {
    if (!incident.risky) return null;
    if (member && member.quarantine_trained) return { yes: true, text: "需隔离培训：您已受训，可以领取" };
    return { yes: false, text: "需隔离培训：您未受训，不能领取" };
  }
  function loadPool(min) {
    var n = ++asked.pool;
    return P.api("GET", "/units/" + me.unit + "/queue?limit=200&" + at(min)).then(function (r) {
      if (n !== asked.pool) return;  // a later read is on its way: its answer is shown
      var here = r.body.items.filter(function (i) { return i.unit === me.unit; });
      var items = here.filter(function (i) { return i.status === "handed_down"; });
      noticeNew(items);
      var box = $("pool"); box.textContent = "";
      box.setAttribute("data-state", items.length ? "shown" : "none");
      renderOthers(here.filter(function (i) { return i.status === "claimed" && i.holder !== me.staff_id; }));
      if (!items.length) { box.appendChild(el("p", { "class": "empty" }, "暂无待领工单")); return; }
      var list = el("ul", { "class": "cards", id: "pool-list" });
      items.forEach(function (incident) { list.appendChild(poolCard(incident)); });
      box.appendChild(list);
    }).catch(function (e) { say($("pool"), P.refusal(e), "refused"); });
  }
  function poolCard(incident) {
    var card = el("li", { "class": "card " + incident.kind + " " + incident.priority, "data-id": incident.id,
                          "data-version": incident.version });
    card.appendChild(heading(incident));
    var meta = el("div", { "class": "meta" });
    meta.appendChild(el("span", {}, P.describe(incident)));
    meta.appendChild(el("span", {}, "优先级 " + (L.priority[incident.priority] || incident.priority)));
    meta.appendChild(el("span", {}, incident.place));
    if (incident.deadlines && incident.deadlines.claim_by) meta.appendChild(P.countdown("认领", incident.deadlines.claim_by));
    card.appendChild(meta);
    var may = mayTake(incident);
    if (may) card.appendChild(el("p", { "class": "may " + (may.yes ? "yes" : "no") }, may.text));
    var out = el("div", { "class": "card-result", role: "status" });
    var claim = el("button", { type: "button", "class": "secondary", "aria-label": "领取：" + incident.title }, "领取");
    claim.addEventListener("click", function () {
      P.api("POST", "/incidents/" + incident.id + "/claim", {}, P.ifMatch(incident.version)).then(function (r) {
        say($("claim-result"), "已领取：" + incident.title, "ok"); reload(r.body.position);
      }).catch(function (e) { say(out, P.refusal(e), "refused"); });
    });
    card.appendChild(claim); card.appendChild(out);
    return card;
  }
  // Colleagues' claims in the community. A card is kept while its order is unchanged (so what
  // it said stays); risky work may be taken over by one trained for it, other work not.
  function renderOthers(items) {
    var box = $("others");
    box.textContent = "";
    box.setAttribute("data-state", items.length ? "shown" : "none");
    if (!items.length) { others = {}; box.appendChild(el("p", { "class": "empty" }, "暂无同事办理中的工单")); return; }
    var list = el("ul", { "class": "cards", id: "others-list" });
    others = P.kept(items, others, otherCard);
    Object.keys(others).forEach(function (id) { list.appendChild(others[id]); });
    box.appendChild(list);
  }
  function holderName(id) { return members[id] ? members[id].name + "（" + id + "）" : id; }
  function otherCard(incident) {
    var card = el("li", { "class": "card " + incident.kind + " " + incident.priority, "data-id": incident.id,
                          "data-version": incident.version, "data-holder": incident.holder });
    card.appendChild(heading(incident));
    var meta = el("div", { "class": "meta" });
    meta.appendChild(el("span", {}, P.describe(incident)));
    meta.appendChild(el("span", { "class": "holder" }, "认领人 " + holderName(incident.holder)));
    meta.appendChild(el("span", {}, incident.place));
    if (incident.lease_expires_at) meta.appendChild(P.countdown("认领有效", incident.lease_expires_at));
    card.appendChild(meta);
    var out = el("div", { "class": "card-result", role: "status" });
    if (!incident.risky) {
      card.appendChild(el("p", { "class": "hint" }, "非风险工单不能接手：如需转交，请认领人释放。"));
      card.appendChild(out);
      return card;
    }
    var trained = member && member.quarantine_trained;
    card.appendChild(el("p", { "class": "may " + (trained ? "yes" : "no") },
                        trained ? "需隔离培训：您已受训，可以接手" : "需隔离培训：您未受训，不能接手"));
    var take = el("button", { type: "button", "class": "secondary", "data-action": "take-over",
                              "aria-label": "接手：" + incident.title }, "接手");
    take.addEventListener("click", function () {
      take.disabled = true;
      P.api("POST", "/incidents/" + incident.id + "/take-over", {}, P.ifMatch(incident.version)).then(function (r) {
        done("taken-over", incident, "已接手：" + incident.title + "（原认领人 " + holderName(incident.holder) + "）");
        return reload(r.body.position);
      }).catch(function (e) { take.disabled = false; refused(e, incident, out); });
    });
    card.appendChild(take); card.appendChild(out);
    return card;
  }
  // An action's answer, said under 我的任务 where it stays while the lists move.
  function done(what, incident, text) {
    var line = $("claim-result");
    say(line, text, "ok");
    line.setAttribute("data-state", what); line.setAttribute("data-id", incident.id);
  }
  // A refusal in the card with the API's own message; a version conflict reloads the order
  // and says, under 我的任务, what changed.
  function refused(e, incident, out) {
    if (e.status !== 409) { say(out, P.refusal(e), "refused"); return; }
    return P.conflict(e, incident).then(function (c) {
      var line = $("claim-result");
      delete held[incident.id]; delete others[incident.id];
      say(line, "工单 " + incident.title + " " + c.text, "conflict");
      line.setAttribute("data-state", "conflict"); line.setAttribute("data-id", incident.id);
      return reload(c.now ? c.now.position : 0);
    });
  }
  function noticeNew(items) {
    var first = known === null;
    known = known || {};
    items.forEach(function (incident) {
      if (known[incident.id]) return;
      known[incident.id] = 1;
      if (first) return;
      var named = incident.kind === "night_emergency" && (incident.on_duty || []).indexOf(me.staff_id) >= 0;
      alarm((named ? "夜间急件，值班点名您：" : "社区新工单：") + incident.title + "（" + incident.place + "）");
    });
  }
  function alarm(text) {
    alerts += 1;
    $("alert-text").textContent = text;
    $("alert").setAttribute("data-count", String(alerts));
    $("alert").hidden = false;
    try { if (navigator.vibrate) navigator.vibrate([300, 150, 300]); } catch (e) { /* not allowed */ }
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (Ctx) {
        var ctx = new Ctx(), tone = ctx.createOscillator(), gain = ctx.createGain();
        tone.frequency.value = 880; gain.gain.value = 0.2;
        tone.connect(gain); gain.connect(ctx.destination);
        tone.start(); tone.stop(ctx.currentTime + 0.4);
      }
    } catch (e) { /* no sound without a gesture: the alert shows anyway */ }
  }
  function reload(min) {
    position = Math.max(position, min || 0);
    return Promise.all([loadMine(position), loadPool(position)]);
  }

  P.start(function (who) {
    me = who;
    $("alert-ok").addEventListener("click", function () { $("alert").hidden = true; });
    $("claim-next").addEventListener("click", function () {
      var out = $("claim-result");
      P.api("POST", "/units/" + me.unit + "/queue/claim-next", {}).then(function (r) {
        if (r.status === 204) { say(out, "暂无可领取的工单", "empty"); return; }
        say(out, "已领取：" + r.body.incident.title, "ok");
        reload(r.body.position);
      }).catch(function (e) { say(out, P.refusal(e), "refused"); });
    });
    loadMember().then(function () { return reload(); }).then(function () {
      P.live(function (at) { reload(at); });
    });
  });
})();
