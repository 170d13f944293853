"""The city's page (全市汇总) in a real headless browser: the real API, built on the demo city's
units file (``city.json``: 海城市 over 港闻区 and 海韵区), served over HTTP on a loopback port, and
Debian's chromium driven by Playwright.

Orders are filed in both districts through the API by each district's dispatcher (and one is
signed for, resolved and called back in 海韵区, and a repeated call linked in 港闻区); the
projections are caught up by hand (no worker runs), so what the page shows is what was written.
The city's platform logs in on the login page and lands on its page: a row per district and the
city's total, rates as percentages and "—" where there is nothing to divide by; another day
through the date picker; a day not yet begun refused with the API's own message; a new order
shown at the next read, 30 s later (the page's clock is moved, nothing waits 30 s); and the page
at 360 px wide. A district's dispatcher still lands on its desk, and the city's page refuses it
with the API's message; a city token opening the dashboard is sent on to the city's page.

Helpers (``Tab``, ``api``…) are ``test_pages.py``'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from browser import CHROMIUM_ARGS, chromium, serve
from flask import Flask
from test_pages import DESKTOP, PHONE, Tab, api

from coordination.domain.access import Role

CITY = "haicheng"
DISTRICTS = ("gangwen", "haiyun")
DONGTAN = "haiyun/dongtan"
FIELDS = (
    "open",
    "overdue",
    "reported",
    "epidemic_share",
    "signed_on_time",
    "resolved_on_time",
    "satisfaction",
    "calls",
)


@pytest.fixture
def base_url(city_app: Flask) -> Iterator[str]:
    with serve(city_app) as url:
        yield url


@pytest.fixture
def secrets(city_app: Flask) -> dict[str, str]:
    store = city_app.extensions["coordination"].tokens
    made = {
        "city": (Role.CITY, CITY),
        "admin@city": (Role.ADMIN, CITY),
        "dispatcher@gangwen": (Role.DISPATCHER, "gangwen"),
        "dispatcher@haiyun": (Role.DISPATCHER, "haiyun"),
        "handler@haiyun/dongtan": (Role.HANDLER, DONGTAN),
    }
    return {label: store.create(role, unit, label)[0] for label, (role, unit) in made.items()}


def order(place: str, epidemic: bool) -> dict[str, Any]:
    return {
        "kind": "work_order",
        "category": "consultation",
        "title": "居民反映问题",
        "place": place,
        "epidemic": epidemic,
        "reporter": {"name": "张三", "phone": "13812345678"},
    }


def file(base_url: str, secrets: dict[str, str], district: str, place: str, epidemic: bool) -> str:
    written = api(
        base_url, secrets[f"dispatcher@{district}"], "POST", "/incidents", order(place, epidemic)
    )
    return str(written["incident"]["id"])


def caught_up(app: Flask) -> None:
    """The catch-up job's work, done now for each district (no worker runs here)."""
    services = app.extensions["coordination"]
    for district in DISTRICTS:
        services.projector.catch_up(district)


def table(tab: Tab) -> dict[str, dict[str, str]]:
    """unit -> its row as the page shows it: the name and each figure's text."""
    found: dict[str, dict[str, str]] = tab.page.evaluate(
        """Object.fromEntries(Array.from(document.querySelectorAll('#city-table tr[data-unit]'))
             .map(tr => [tr.dataset.unit, Object.fromEntries(
                [['name', tr.querySelector('th').textContent]].concat(
                 Array.from(tr.querySelectorAll('td'))
                   .map(td => [td.dataset.field, td.textContent])))]))"""
    )
    return found


def row(name: str, *figures: str) -> dict[str, str]:
    return {"name": name, **dict(zip(FIELDS, figures, strict=True))}


def shown(tab: Tab, state: str = "shown") -> None:
    tab.wait(f"document.getElementById('summary').dataset.state === '{state}'")


def test_the_city_platform_sees_each_district_and_the_city_in_total(
    city_app: Flask, base_url: str, secrets: dict[str, str]
) -> None:
    from playwright.sync_api import sync_playwright

    # 港闻区: one epidemic order, and a repeated call linked to it (2 calls, 1 order).
    lidu = file(base_url, secrets, "gangwen", "丽都花园", True)
    again = {"caller": {"name": "李四", "phone": "13900001111"}}
    api(base_url, secrets["dispatcher@gangwen"], "POST", f"/incidents/{lidu}/link-call", again)
    # 海韵区: three orders, one about the epidemic; that one signed for, resolved and called
    # back (satisfied) at once, so on time.
    yuewan = file(base_url, secrets, "haiyun", "月湾小区", True)
    file(base_url, secrets, "haiyun", "月湾小区", False)
    file(base_url, secrets, "haiyun", "灯塔", False)
    handler = secrets["handler@haiyun/dongtan"]
    api(base_url, handler, "POST", f"/incidents/{yuewan}/sign-for", {})
    resolved = {"summary": "已答复居民", "signed_off_by": "东滩街道 负责同志"}
    api(base_url, handler, "POST", f"/incidents/{yuewan}/resolve", resolved)
    visit = {"result": "satisfied", "note": "居民满意"}
    api(base_url, secrets["dispatcher@haiyun"], "POST", f"/incidents/{yuewan}/return-visit", visit)
    caught_up(city_app)

    executable = chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
            context.clock.install()  # its timers move when the test says so; time runs on
            city = Tab(context, "city")
            city.login(base_url, secrets["city"], "/city")
            assert (city.text("#who-unit"), city.text("#who-role")) == ("海城市", "市级平台")
            shown(city)
            # open now | overdue | new orders | epidemic share | signed, resolved on time |
            # satisfaction | calls. 海韵区's visited order is no longer open.
            assert table(city) == {
                "gangwen": row("港闻区", "1", "0", "1", "100%", "—", "—", "—", "2"),
                "haiyun": row("海韵区", "2", "0", "3", "33.3%", "100%", "100%", "100%", "3"),
                CITY: row("全市合计", "3", "0", "4", "50%", "100%", "100%", "100%", "5"),
            }
            assert city.page.locator("#city-table tfoot tr").get_attribute("data-unit") == CITY
            today = city.page.get_by_label("日期").input_value()
            assert city.page.locator("#summary").get_attribute("data-date") == today
            assert today in city.text("#city-meta") and "截至" in city.text("#city-meta")
            assert city.text("#city-title") == "海城市 · 各区汇总"
            city.labelled()
            city.shot("city")

            # A new order in 海韵区 shows at the next read, 30 s on, without reloading.
            file(base_url, secrets, "haiyun", "灯塔苑", True)
            caught_up(city_app)
            assert table(city)["haiyun"]["reported"] == "3"  # nothing read it yet
            city.page.clock.fast_forward(30_000)
            city.wait(
                "document.querySelector('#city-table tr[data-unit=haiyun] "
                "td[data-field=reported]').textContent === '4'"
            )
            assert table(city)["haiyun"] == row(
                "海韵区", "3", "0", "4", "50%", "100%", "100%", "100%", "4"
            )
            assert table(city)[CITY] == row(
                "全市合计", "4", "0", "5", "60%", "100%", "100%", "100%", "6"
            )

            # Another day, through the date picker: the day before had no orders (open and
            # overdue are now's); the address keeps the day.
            before = (date.fromisoformat(today) - timedelta(days=1)).isoformat()
            city.page.get_by_label("日期").fill(before)
            city.wait(f"document.getElementById('summary').dataset.date === '{before}'")
            assert city.page.url == f"{base_url}/city?date={before}"
            assert table(city) == {
                "gangwen": row("港闻区", "1", "0", "0", "—", "—", "—", "—", "0"),
                "haiyun": row("海韵区", "3", "0", "0", "—", "—", "—", "—", "0"),
                CITY: row("全市合计", "4", "0", "0", "—", "—", "—", "—", "0"),
            }

            # A day not yet begun: the API's refusal, in its own words, and no figures left.
            future = (date.fromisoformat(today) + timedelta(days=2)).isoformat()
            city.page.get_by_label("日期").fill(future)
            shown(city, "refused")
            city.wait("!document.getElementById('notice').hidden")
            assert f"{future} has not begun" in city.text("#notice")
            assert table(city) == {}
            assert city.failed == [f"422 {base_url}/dashboard/cities/{CITY}?date={future}"]
            city.page.get_by_role("button", name="今天").click()
            city.wait(f"document.getElementById('summary').dataset.date === '{today}'")
            city.wait("document.getElementById('notice').hidden")
            assert city.page.get_by_label("日期").input_value() == today
            assert table(city)[CITY]["reported"] == "5"
            assert city.page.url == f"{base_url}/city"
            # the browser's own line for the refused read, and nothing else
            errors = [c for c in city.console if c.startswith("error")]
            assert len(errors) == 1 and "422" in errors[0], city.console

            # On a phone: a card per district, nothing wider than the screen.
            phone = Tab(
                browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True),
                "city-phone",
            )
            phone.login(base_url, secrets["city"], "/city")
            shown(phone)
            assert table(phone)[CITY]["reported"] == "5"
            phone.fits(PHONE["width"])
            phone.labelled()
            label = phone.page.evaluate(
                """getComputedStyle(document.querySelector(
                     '#city-table tr[data-unit=haiyun] td[data-field=calls]'), '::before')
                   .content"""
            )
            assert label == '"受理量"', label
            phone.shot("city-phone")
        finally:
            browser.close()


def test_a_district_keeps_its_own_page_and_the_city_page_refuses_it(
    city_app: Flask, base_url: str, secrets: dict[str, str]
) -> None:
    """A district's dispatcher still lands on its desk; opening the city's page anyway shows
    the API's refusal in its own words. An admin on the city lands on the city's page, and a
    city token opening the dashboard (which needs one district) is sent on to it."""
    from playwright.sync_api import sync_playwright

    file(base_url, secrets, "haiyun", "灯塔", True)
    caught_up(city_app)
    refusal = city_app.test_client().get(
        f"/dashboard/cities/{CITY}",
        headers={"Authorization": f"Bearer {secrets['dispatcher@haiyun']}"},
    )
    assert refusal.status_code == 403
    said = refusal.get_json()["message"]
    executable = chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            desk = Tab(browser.new_context(viewport=DESKTOP, locale="zh-CN"), "desk")
            desk.login(base_url, secrets["dispatcher@haiyun"], "/desk")
            assert (desk.text("#who-unit"), desk.text("#who-role")) == ("海韵区", "调度员")
            desk.page.goto(base_url + "/city")
            shown(desk, "refused")
            assert said in desk.text("#notice"), (said, desk.text("#notice"))
            assert "本页供市级 12345 平台使用" in desk.text("#notice")
            assert table(desk) == {}

            admin = Tab(browser.new_context(viewport=DESKTOP, locale="zh-CN"), "admin")
            admin.login(base_url, secrets["admin@city"], "/city")
            shown(admin)
            assert table(admin)["haiyun"]["reported"] == "1"

            wall = Tab(browser.new_context(viewport=DESKTOP, locale="zh-CN"), "wall")
            wall.page.goto(base_url + "/login?next=%2Fdashboard")
            wall.page.get_by_label("令牌").fill(secrets["city"])
            wall.page.get_by_role("button", name="登录").click()
            wall.page.wait_for_url(re.compile(re.escape(base_url) + r"/city$"))
            shown(wall)
            assert table(wall)[CITY]["epidemic_share"] == "100%"
        finally:
            browser.close()


def test_a_district_that_cannot_answer_is_said_so_and_left_out_of_the_total(
    city_app: Flask, base_url: str, secrets: dict[str, str]
) -> None:
    """A district whose shard is down (a failover under way) comes back from the API with
    ``unavailable`` and no figures, and the city's figures are the others' (what
    ``tests/cluster/test_city.py`` proves on a real cluster with a shard killed). Here the
    real answer is rewritten so on its way to the page, as the API would answer with 港闻区's
    shard down: the city's total is then 海韵区's alone."""
    from playwright.sync_api import sync_playwright

    file(base_url, secrets, "gangwen", "丽都花园", True)
    file(base_url, secrets, "haiyun", "月湾小区", False)
    caught_up(city_app)

    def shard_down(route: Any) -> None:
        real = route.fetch()
        body = real.json()
        rows = {d["unit"]: d for d in body["districts"]}
        rows["gangwen"] = {
            "unit": "gangwen",
            "name": "港闻区",
            "level": "district",
            "unavailable": "the store of this district is unavailable now (ConnectionError)",
        }
        body.update(
            districts=[rows["gangwen"], rows["haiyun"]],
            total=rows["haiyun"]["total"],
            by_kind=rows["haiyun"]["by_kind"],
            complete=False,
            unavailable=["gangwen"],
        )
        route.fulfill(response=real, json=body)

    executable = chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=PHONE, locale="zh-CN")
            context.route(re.compile(r".*/dashboard/cities/haicheng.*"), shard_down)
            city = Tab(context, "city")
            city.login(base_url, secrets["city"], "/city")
            shown(city)
            found = table(city)
            assert found["gangwen"] == {
                "name": "港闻区",
                "unavailable": "暂时无法读取，稍后自动重试",
            }
            assert found["haiyun"] == row("海韵区", "1", "0", "1", "0%", "—", "—", "—", "1")
            assert found[CITY] == row(
                "全市合计（不含港闻区）", "1", "0", "1", "0%", "—", "—", "—", "1"
            )
            city.labelled()
        finally:
            browser.close()
