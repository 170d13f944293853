"""The work pages in a real headless browser: the real API served over HTTP on a loopback port, a
REAL RQ worker projecting, Debian's chromium driven by Playwright.

One order's whole life is done only through the pages, by three browser contexts: the
district's dispatcher files it at the intake desk (接单台) and links a second call to it as a
duplicate (重复件); 陈桥's handler signs for it and hands it down in the inbox (承办单位); a 丽都
cadre on a phone-sized page (我的任务) gets the alert, claims it and resolves it; the dispatcher
records the return visit, which closes it. Then the API's events for the order match the clicks.
Two handler pages acting on one order: the second gets the conflict and the reloaded order, and
nothing is written twice. Screenshots of each page are kept in ``test-artifacts/``.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from browser import ARTIFACTS, CHROMIUM_ARGS, ROOT, chromium, serve
from flask import Flask
from flask.testing import FlaskClient
from people import CHENQIAO, HC, LIDU, SHANGHAI, D, report_body
from worker import RqWorker

from coordination.domain.access import Role

STATIC = ROOT / "coordination" / "api" / "static"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
PAGES = ("login", "desk", "inbox", "tasks", "city")
CADRE = "wang-li"  # a 丽都 cadre, trained for quarantine visits


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    with serve(app) as url:
        yield url


@pytest.fixture
def cadre(app: Flask, register_staff: Callable[..., str]) -> str:
    """A field token of a registered 丽都 cadre (its name is the member's id)."""
    register_staff(CADRE, LIDU, "王丽", quarantine_trained=True)
    secret, _ = app.extensions["coordination"].tokens.create(Role.FIELD, LIDU, CADRE)
    return secret


def api(base_url: str, secret: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        base_url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


class Tab:
    """One page of one browser context, watched: failed requests and console errors are kept,
    and a wait that times out says what the page showed."""

    def __init__(self, context: Any, name: str) -> None:
        self.page = context.new_page()
        self.name = name
        self.failed: list[str] = []
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("requestfailed", lambda r: self.failed.append(f"failed {r.url}"))
        self.page.on(
            "response",
            lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )

    def wait(self, condition: str, timeout: int = 10_000) -> None:
        try:
            self.page.wait_for_function(condition, timeout=timeout)
        except Exception as exc:
            shown = self.page.evaluate("document.body.innerText")[:2500]
            raise AssertionError(
                f"{self.name}: {condition}: {exc}\npage: {shown}\nconsole: {self.console}"
            ) from exc

    def text(self, selector: str) -> str:
        found: str = self.page.locator(selector).inner_text()
        return found

    def login(self, base_url: str, secret: str, lands_on: str) -> None:
        self.page.goto(base_url + "/login")
        self.page.get_by_label("令牌").fill(secret)
        self.page.get_by_role("button", name="登录").click()
        self.page.wait_for_url(base_url + lands_on)
        self.wait("!!document.getElementById('who-role')")

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def labelled(self) -> None:
        """Every control shown has a label (or an aria-label), and every button a name."""
        unnamed = self.page.evaluate(
            """Array.from(document.querySelectorAll('input, select, textarea, button'))
               .filter(c => c.offsetParent !== null)
               .filter(c => c.tagName === 'BUTTON'
                  ? !(c.getAttribute('aria-label') || c.textContent.trim())
                  : !(c.labels && c.labels.length) && !c.getAttribute('aria-label'))
               .map(c => c.outerHTML)"""
        )
        assert not unnamed, (self.name, unnamed)

    def fits(self, width: int) -> None:
        """Nothing wider than the viewport: no sideways scrolling on a phone."""
        wide = self.page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, (self.name, wide)


def has(selector: str) -> str:
    return f"!!document.querySelector({json.dumps(selector)})"


def text_of(selector: str) -> str:
    return f"((document.querySelector({json.dumps(selector)}) || {{}}).textContent || '')"


def test_one_orders_whole_life_through_the_pages_alone(
    base_url: str, worker: RqWorker, tokens: dict[str, str], cadre: str
) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            contexts = {
                "dispatcher": browser.new_context(viewport=DESKTOP, locale="zh-CN"),
                "handler": browser.new_context(viewport=DESKTOP, locale="zh-CN"),
                "field": browser.new_context(
                    viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True
                ),
            }
            desk = Tab(contexts["dispatcher"], "desk")
            inbox = Tab(contexts["handler"], "inbox")
            tasks = Tab(contexts["field"], "tasks")
            desk.login(base_url, tokens[D], "/desk")
            assert (desk.text("#who-unit"), desk.text("#who-role")) == ("港闻区", "调度员")
            inbox.login(base_url, tokens[HC], "/inbox")
            assert (inbox.text("#who-unit"), inbox.text("#who-role")) == ("陈桥街道", "承办人")
            tasks.login(base_url, cadre, "/tasks")
            assert tasks.text("#who-unit") == "丽都社区"
            tasks.wait("document.getElementById('pool').dataset.state === 'none'")
            tasks.wait("document.getElementById('live').textContent === '实时'")
            inbox.wait("document.getElementById('live').textContent === '实时'")
            for tab in (desk, inbox, tasks):  # the tab's token only: nothing kept beyond it
                stored = tab.page.evaluate("[localStorage.length, document.cookie]")
                assert stored == [0, ""], stored

            # 1. The dispatcher takes the call: place names are offered as typed.
            page = desk.page
            page.get_by_label("来电号码").fill("13800001234")
            page.get_by_label("来电人姓名").fill("王丽")
            page.get_by_label("地点").fill("丽都")
            desk.wait("document.querySelectorAll('#place-options option').length === 2")
            offered = page.evaluate(
                "Array.from(document.querySelectorAll('#place-options option')).map(o => o.value)"
            )
            assert offered == ["丽都", "丽都花园"]
            page.get_by_label("地点").fill("丽都花园")
            desk.wait(text_of("#place-unit") + ".includes('陈桥街道')")
            page.get_by_label("详细地址").fill("丽都花园 3栋 502")
            page.get_by_label("类型").select_option("supply_delivery")
            page.get_by_label("优先级").select_option("high")
            page.get_by_label("标题").fill("居家隔离户需要口罩")
            page.get_by_label("诉求内容").fill("家中口罩用完")
            page.get_by_label("涉及疫情").check()
            page.get_by_label("物资", exact=True).select_option("口罩")
            page.get_by_label("数量").fill("50")
            page.get_by_role("button", name="添加物资").click()
            desk.labelled()
            desk.wait("document.getElementById('duplicates').dataset.state === 'none'")
            page.get_by_role("button", name="新建工单").click()
            desk.wait("document.getElementById('result').dataset.state === 'filed'")
            order = desk.text("#result-id")
            assert re.fullmatch(r"gangwen-\d{8}-[0-9a-f]{12}", order), order
            assert desk.text("#result-unit") == "陈桥街道"
            assert desk.text("#result-status") == "待签收"
            assert re.fullmatch(r"\d\d-\d\d \d\d:\d\d", desk.text("#result-sign_by"))
            assert desk.text("#result-resolve_by")  # an epidemic order: done the same day

            # 2. A second call about the same thing: the desk shows the order; it is linked.
            page.get_by_label("来电号码").fill("13600002222")
            page.get_by_label("来电人姓名").fill("钱女士")
            page.get_by_label("地点").fill("丽都花园")
            page.get_by_label("类型").select_option("supply_delivery")
            page.get_by_label("标题").fill("邻居反映同一户缺口罩")
            card = f"#same-place .card[data-id='{order}']"
            desk.wait(has(card))
            assert "来电 1 次" in desk.text(card)
            desk.shot("desk-duplicates")
            page.locator(card).get_by_role("button", name=re.compile("关联为重复件")).click()
            desk.wait("document.getElementById('result').dataset.state === 'linked'")
            assert (desk.text("#result-id"), desk.text("#result-calls")) == (order, "2")

            # 3. The handler signs for it and hands it down to 丽都, from the inbox.
            row = f"#queue-list .card[data-id='{order}']"
            inbox.wait(has(row))
            # at the version the link left it (the inbox follows the order live)
            inbox.wait(f"document.querySelector(\"{row}\").dataset.version === '3'")
            assert re.search(r"签收 剩 ", inbox.text(row)), inbox.text(row)
            inbox.shot("inbox")
            inbox.page.locator(row).get_by_role("button", name="办理").click()
            assert "13800001234" in inbox.text(row)  # a handler sees the caller in full
            inbox.labelled()
            inbox.page.locator(row).get_by_role("button", name="签收").click()
            inbox.wait(f"document.querySelector(\"{row}\").dataset.status === 'signed'")
            assert inbox.page.locator(row).get_by_label("下派至社区").input_value() == LIDU
            inbox.page.locator(row).get_by_role("button", name="下派").click()
            inbox.wait(f"document.querySelector(\"{row}\").dataset.status === 'handed_down'")
            assert "已下派" in inbox.text(row)

            # 4. The cadre's phone raises the alert; the cadre claims it, and resolves it.
            tasks.wait("!document.getElementById('alert').hidden")
            assert "社区新工单：居家隔离户需要口罩" in tasks.text("#alert-text")
            tasks.wait(has(f"#pool-list .card[data-id='{order}']"))
            tasks.shot("tasks-alert")
            tasks.fits(PHONE["width"])
            tasks.page.get_by_role("button", name="知道了").click()
            tasks.page.get_by_role("button", name="领取下一单").click()
            mine = f"#mine-list .card[data-id='{order}']"
            tasks.wait(has(mine))
            assert "认领有效 剩 " in tasks.text(mine)
            assert "丽都花园 3栋 502" in tasks.text(mine)  # the address, in full, for the door
            tasks.page.locator(mine).get_by_label("处理情况").fill("口罩已送到门口")
            tasks.page.locator(mine).get_by_label("负责同志签字").fill("丽都社区 李书记")
            tasks.shot("tasks")
            tasks.fits(PHONE["width"])
            tasks.labelled()
            tasks.page.locator(mine).get_by_role("button", name="办结").click()
            tasks.wait(text_of("#claim-result") + ".includes('已办结')")
            tasks.wait("document.getElementById('mine').dataset.state === 'none'")

            # 5. The dispatcher calls the resident back: satisfied closes the order.
            visit = f"#visits .card[data-id='{order}']"
            desk.wait(has(visit))
            assert "口罩已送到门口" in desk.text(visit)
            desk.page.locator(visit).get_by_label("回访记录").fill("居民表示满意")
            desk.labelled()
            desk.shot("desk")
            desk.page.locator(visit).get_by_role("button", name="满意", exact=True).click()
            desk.wait(text_of(f"{visit} .card-result") + ".includes('已结案')")

            for tab in (desk, inbox, tasks):
                assert not tab.failed, (tab.name, tab.failed)
                assert not [c for c in tab.console if c.startswith("error")], tab.console
        finally:
            browser.close()

    events = api(base_url, tokens[D], "GET", f"/incidents/{order}/events")
    assert [(e["type"], e["actor"]) for e in events] == [
        ("IncidentReported", D),
        ("IncidentDispatched", D),
        ("DuplicateCallLinked", D),
        ("IncidentSignedFor", HC),
        ("IncidentHandedDown", HC),
        ("IncidentClaimed", CADRE),
        ("IncidentResolved", CADRE),
        ("ReturnVisitRecorded", D),
        ("IncidentClosed", D),
    ]
    data = [e["data"] for e in events]
    assert data[0]["reporter"] == {"name": "王丽", "phone": "13800001234"}
    assert (data[0]["place"], data[0]["kind"], data[0]["priority"]) == (
        "丽都花园",
        "supply_delivery",
        "high",
    )
    assert data[0]["epidemic"] is True and data[0]["address"] == "丽都花园 3栋 502"
    assert data[0]["items"] == [{"item": "口罩", "quantity": 50, "measure": "个"}]
    assert data[2]["caller"] == {"name": "钱女士", "phone": "13600002222"}
    assert data[4]["unit"] == LIDU
    assert (data[6]["summary"], data[6]["signed_off_by"]) == ("口罩已送到门口", "丽都社区 李书记")
    assert (data[7]["result"], data[7]["note"]) == ("satisfied", "居民表示满意")
    for name in ("desk", "desk-duplicates", "inbox", "tasks", "tasks-alert"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000, name


def test_two_handler_pages_on_one_order_the_second_gets_the_conflict(
    base_url: str, worker: RqWorker, tokens: dict[str, str]
) -> None:
    from playwright.sync_api import sync_playwright

    order = api(base_url, tokens[D], "POST", "/incidents", report_body("work_order"))["id"]
    # Nobody is on duty at 丽都 tonight: a night emergency there is escalated to 陈桥 at once.
    night = report_body("night_emergency", place="丽都花园", title="夜间 体温计摔碎了")
    escalated = api(base_url, tokens[D], "POST", "/incidents", night)["incident"]
    assert (escalated["unit"], escalated["escalated_to"]) == (LIDU, CHENQIAO)
    worker.wait_idle()
    executable = chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            first, second = (
                Tab(browser.new_context(viewport=DESKTOP, locale="zh-CN"), name)
                for name in ("first", "second")
            )
            row = f"#queue-list .card[data-id='{order}']"
            for tab in (first, second):
                tab.login(base_url, tokens[HC], "/inbox")
                tab.wait(has(row))
                tab.page.locator(row).get_by_role("button", name="办理").click()
                tab.wait(has(f"{row} button[data-action='sign-for']"))
            supervised = f"#queue-list .card[data-id='{escalated['id']}']"
            assert first.page.locator(supervised).locator(".badge.supervise").inner_text() == "督办"
            assert "在 丽都社区" in first.text(supervised)
            assert re.search(r"认领 (剩|超时) ", first.text(supervised)), first.text(supervised)
            assert first.page.locator(row).locator(".badge.supervise").count() == 0
            second.page.locator(row).get_by_label("退回理由").fill("不属本街道")
            first.page.locator(row).get_by_role("button", name="签收").click()
            first.wait(f"document.querySelector(\"{row}\").dataset.status === 'signed'")
            # The second page still shows the order as it read it (an opened order is left as
            # it is by live refreshes): its return is refused, and the order reloaded.
            assert second.page.locator(row).get_attribute("data-version") == "2"
            second.page.locator(row).get_by_role("button", name="退回").click()
            second.wait(text_of(f"{row} .card-result") + ".includes('已被他人更新')")
            said = second.text(f"{row} .card-result")
            assert "版本 2 → 3" in said and "状态 待签收 → 已签收" in said, said
            assert "incident is at version 3, not the expected 2" in said, said
            assert second.page.locator(row).get_attribute("data-status") == "signed"
            assert second.page.locator(row).get_attribute("data-version") == "3"
            assert second.page.locator(f"{row} button[data-action='return']").count() == 0
            assert second.page.locator(f"{row} button[data-action='hand-down']").count() == 1
            second.shot("inbox-conflict")
            assert second.failed == [f"409 {base_url}/incidents/{order}/return"], second.failed
            assert not first.failed, first.failed
        finally:
            browser.close()
    events = api(base_url, tokens[D], "GET", f"/incidents/{order}/events")
    assert [e["type"] for e in events] == [
        "IncidentReported",
        "IncidentDispatched",
        "IncidentSignedFor",
    ]


def test_the_desk_shows_duplicates_and_the_apis_refusals(
    base_url: str, worker: RqWorker, tokens: dict[str, str]
) -> None:
    """The caller's own earlier orders show with the place's open ones; an order closed while
    the desk showed it refuses the link with the API's message; a page used with a token whose
    role may not do its work says so with the API's own message."""
    from playwright.sync_api import sync_playwright

    dispatcher, handler = tokens[D], tokens[HC]
    caller = {"name": "赵先生", "phone": "13700001111"}
    gate = api(base_url, dispatcher, "POST", "/incidents", report_body("work_order"))["id"]
    earlier = report_body("work_order", place="望海", reporter=caller, title="望海 投诉")
    theirs = api(base_url, dispatcher, "POST", "/incidents", earlier)["id"]
    worker.wait_idle()
    executable = chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            desk = Tab(browser.new_context(viewport=PHONE, locale="zh-CN"), "desk")
            desk.login(base_url, dispatcher, "/desk")
            page = desk.page
            page.get_by_label("来电号码").fill(caller["phone"])
            page.get_by_label("来电人姓名").fill(caller["name"])
            page.get_by_label("地点").fill("丽都")
            page.get_by_label("分类").select_option("complaint")
            desk.wait(has(f"#same-place .card[data-id='{gate}']"))
            desk.wait(has(f"#same-caller .card[data-id='{theirs}']"))
            assert page.locator("#same-place .card").count() == 1
            desk.fits(PHONE["width"])
            desk.shot("desk-phone")
            # Filing anyway asks once to look at the duplicates, then files.
            page.get_by_label("标题").fill("同一门禁问题")
            page.get_by_role("button", name="新建工单").click()
            desk.wait(text_of("#result") + ".includes('可能的重复件')")
            # The order is closed meanwhile: the link is refused with the API's message.
            api(base_url, handler, "POST", f"/incidents/{gate}/sign-for", {})
            resolve = {"summary": "已处理", "signed_off_by": "负责同志"}
            api(base_url, handler, "POST", f"/incidents/{gate}/resolve", resolve)
            api(base_url, dispatcher, "POST", f"/incidents/{gate}/close", {"note": "无法回访"})
            card = f"#same-place .card[data-id='{gate}']"
            page.locator(card).get_by_role("button", name=re.compile("关联为重复件")).click()
            desk.wait(text_of("#result") + ".includes('已被他人更新')")
            assert "incident is at version 5, not the expected 2" in desk.text("#result")
            desk.wait(f'!document.querySelector("{card}")')  # looked up again: not open
            page.get_by_role("button", name="新建工单").click()
            desk.wait("document.getElementById('result').dataset.state === 'filed'")
        finally:
            browser.close()
        try:
            browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            wrong = Tab(browser.new_context(viewport=DESKTOP, locale="zh-CN"), "wrong")
            wrong.login(base_url, handler, "/inbox")
            wrong.page.goto(base_url + "/desk")
            wrong.wait("!document.getElementById('notice').hidden")
            wrong.page.get_by_label("地点").fill("丽都")
            wrong.wait("document.getElementById('duplicates').dataset.state === 'refused'")
            assert "a handler may not link a call to an order" in wrong.text("#duplicates")
            wrong.page.goto(base_url + "/tasks")
            wrong.wait("document.getElementById('mine').dataset.state === 'refused'")
            assert "only a field token holds assignments" in wrong.text("#notice")
            wrong.page.get_by_role("button", name="退出").click()
            wrong.page.wait_for_url(base_url + "/login")
            assert wrong.page.evaluate("sessionStorage.length") == 0
            wrong.page.goto(base_url + "/inbox")
            wrong.page.wait_for_url(re.compile(r".*/login\?next=%2Finbox$"))
            # by keyboard alone: the token field has the focus, Enter submits
            wrong.wait("document.activeElement === document.getElementById('token')")
            wrong.page.keyboard.type("nope")
            wrong.page.keyboard.press("Enter")
            wrong.wait(text_of("#login-error") + ".includes('Unknown or revoked token.')")
            wrong.page.keyboard.press("Control+A")
            wrong.page.keyboard.type(handler)
            wrong.page.keyboard.press("Enter")
            wrong.page.wait_for_url(base_url + "/inbox")  # where it was sent from
        finally:
            browser.close()


def test_the_pages_load_without_a_token_and_nothing_from_outside(
    client: FlaskClient,
) -> None:
    for name in PAGES:
        answer = client.get(f"/{name}")
        assert answer.status_code == 200 and answer.mimetype == "text/html"
        html = answer.get_data(as_text=True)
        assert '<html lang="zh-CN">' in html and 'name="viewport"' in html
        assert f'src="/dashboard/static/{name}.js"' in html
        assert 'href="/dashboard/static/pages.css"' in html
        config = re.search(r'id="page-config">(.*?)</script>', html, re.S)
        assert config is not None
        units = json.loads(config.group(1))["units"]
        assert units[CHENQIAO] == {"name": "陈桥街道", "level": "street", "parent": "gangwen"}
        assert not re.findall(r"[a-z][a-z0-9+.-]*://", html, re.IGNORECASE)
    for name in ("pages.css", "pages.js", "login.js", "desk.js", "inbox.js", "tasks.js", "city.js"):
        answer = client.get(f"/dashboard/static/{name}")
        assert answer.status_code == 200, name
        text = answer.get_data(as_text=True)
        assert text == (STATIC / name).read_text(encoding="utf-8")
        assert not re.findall(r"[a-z][a-z0-9+.-]*://", text, re.IGNORECASE), name
        assert not re.findall(r"""["'(=]\s*//""", text), name
        assert "{{" not in text and "@import" not in text and "url(" not in text, name


def test_every_control_in_the_templates_has_a_label(client: FlaskClient) -> None:
    """Inputs, selects and text areas the templates write are named by a <label> (those the
    scripts make are checked in the browser: ``Tab.labelled``)."""
    found = 0
    for name in PAGES:
        html = client.get(f"/{name}").get_data(as_text=True)
        controls = re.findall(r"<(?:input|select|textarea)\b[^>]*\bid=\"([^\"]+)\"", html)
        wrapped = re.findall(r"<label[^>]*>\s*<input[^>]*\bid=\"([^\"]+)\"", html)
        named = set(re.findall(r'<label for="([^"]+)"', html)) | set(wrapped)
        assert set(controls) <= named, (name, set(controls) - named)
        found += len(controls)
    assert found > 15


def test_the_phone_alerts_a_night_emergency_naming_the_member_and_says_who_may_take_risky_work(
    base_url: str,
    worker: RqWorker,
    tokens: dict[str, str],
    cadre: str,
    app: Flask,
    register_staff: Callable[..., str],
) -> None:
    """A night emergency at 丽都 names who is on duty now: the cadre on duty gets the alert
    naming them. A quarantine visit waiting in the community says, on each member's phone,
    whether they may take it: the trained cadre may, an untrained volunteer may not."""
    from playwright.sync_api import sync_playwright

    register_staff("li-ming", LIDU, "李明")  # a volunteer, not trained for quarantine visits
    volunteer, _ = app.extensions["coordination"].tokens.create(Role.FIELD, LIDU, "li-ming")
    now = datetime.now(SHANGHAI)
    shift = {
        "shift_id": "tonight",
        "start": (now - timedelta(minutes=30)).isoformat(timespec="seconds"),
        "end": (now + timedelta(hours=3)).isoformat(timespec="seconds"),
    }
    api(base_url, tokens[HC], "POST", f"/staff/{CADRE}/shifts", shift)
    visit = api(base_url, tokens[D], "POST", "/incidents", report_body("quarantine_visit"))["id"]
    api(base_url, tokens[HC], "POST", f"/incidents/{visit}/sign-for", {})
    api(base_url, tokens[HC], "POST", f"/incidents/{visit}/hand-down", {"community": LIDU})
    worker.wait_idle()
    executable = chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            phones = {}
            for name, secret in (("cadre", cadre), ("volunteer", volunteer)):
                context = browser.new_context(
                    viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True
                )
                phones[name] = tab = Tab(context, name)
                tab.login(base_url, secret, "/tasks")
                tab.wait(has(f"#pool-list .card[data-id='{visit}']"))
                tab.wait("document.getElementById('live').textContent === '实时'")
            row = f"#pool-list .card[data-id='{visit}']"
            assert "需隔离培训：您已受训，可以领取" in phones["cadre"].text(row)
            assert "需隔离培训：您未受训，不能领取" in phones["volunteer"].text(row)
            # The volunteer tries anyway: the API's own reason is shown.
            phones["volunteer"].page.locator(row).get_by_role(
                "button", name=re.compile("领取")
            ).click()
            phones["volunteer"].wait(text_of(f"{row} .card-result") + ".includes('未能完成')")
            assert "trained" in phones["volunteer"].text(f"{row} .card-result")

            night = report_body("night_emergency", place="丽都花园", title="体温计摔碎了")
            emergency = api(base_url, tokens[D], "POST", "/incidents", night)
            assert emergency["incident"]["on_duty"] == [CADRE]
            for name, said in (
                ("cadre", "夜间急件，值班点名您：体温计摔碎了"),
                ("volunteer", "社区新工单：体温计摔碎了"),
            ):
                phones[name].wait("!document.getElementById('alert').hidden")
                assert said in phones[name].text("#alert-text"), name
            phones["cadre"].shot("tasks-night-emergency")
            assert not phones["cadre"].failed, phones["cadre"].failed
        finally:
            browser.close()
