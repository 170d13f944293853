// The login page: the token is checked (GET /me), kept in this tab's sessionStorage only, and
// the page goes on to the token's own page (a city's token: the city's page, /city) or where it
// was sent from.
"use strict";
(function () {
  var P = Pages, $ = P.$;
  var next = new URLSearchParams(location.search).get("next");
  $("token").focus();
  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var secret = $("token").value.trim();
    $("login-error").textContent = "";
    if (!secret) { $("login-error").textContent = "请输入令牌。"; return; }
    fetch("/me", { headers: { Authorization: "Bearer " + secret } }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { $("login-error").textContent = "登录失败：" + body.message; return; }
        sessionStorage.setItem(P.KEY, secret);
        var home = P.home(body);
        var target = next && /^\/[a-z]+$/.test(next) && next !== "/login" ? next : home;
        if (target === "/dashboard") sessionStorage.setItem("coordination.dashboard.token", secret);
        location.assign(target);
      });
    }).catch(function (e) { $("login-error").textContent = "登录失败：" + e.message; });
  });
})();
