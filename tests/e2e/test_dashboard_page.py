"""The live dashboard page in a real headless browser: the real API served over HTTP on a
loopback port (a threaded werkzeug server), a REAL RQ worker projecting, Debian's chromium
driven by Playwright. The page asks for a token once, shows the district's figures in Chinese,
and changes when an order is posted, without reloading; a screenshot is kept in
``test-artifacts/dashboard.png``.

No browser, no pass: a missing chromium fails the test (``.ci/run`` installs it; see the README
for other machines).
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from browser import ARTIFACTS, CHROMIUM_ARGS, ROOT, chromium, serve
from flask import Flask
from flask.testing import FlaskClient
from people import ADMIN, CHENQIAO, HC, HUAQIAO, LIDU, SHANGHAI, D, report_body
from worker import RqWorker

from coordination.api.dashboard_page import ON_TIME_TARGET, SATISFACTION_TARGET

STATIC = ROOT / "coordination" / "api" / "static"
SVG_NS = "http://www.w3.org/2000/svg"  # a namespace the script names, never fetched


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    """The app served over HTTP on a free loopback port (tests/support/browser.py)."""
    with serve(app) as url:
        yield url


def post(base_url: str, secret: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        base_url + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        found: dict[str, Any] = json.loads(response.read())
        return found


def test_the_page_updates_live_without_reloading(
    base_url: str, worker: RqWorker, tokens: dict[str, str]
) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium()
    dispatcher = tokens[D]
    first = post(base_url, dispatcher, "/incidents", report_body("work_order", epidemic=True))
    worker.wait_idle()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000}, locale="zh-CN")
            navigations: list[str] = []
            page.on(
                "framenavigated",
                lambda frame: navigations.append(frame.url) if frame is page.main_frame else None,
            )
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            failed: list[str] = []  # the page's own files, the API's reads, the stream
            page.on("requestfailed", lambda request: failed.append(f"failed {request.url}"))
            page.on(
                "response",
                lambda answer: (
                    failed.append(f"{answer.status} {answer.url}") if answer.status >= 400 else None
                ),
            )

            def wait_for(condition: str) -> None:
                """Wait for a condition; on a timeout, say what the page showed and logged."""
                try:
                    page.wait_for_function(condition, timeout=10_000)
                except Exception as exc:
                    shown = page.evaluate("document.body.innerText")[:1500]
                    raise AssertionError(
                        f"{condition}: {exc}\npage: {shown}\nconsole: {console}"
                    ) from exc

            page.goto(base_url + "/dashboard")
            page.fill("#token", dispatcher)
            page.click("#token-form button")
            wait_for("document.getElementById('open-total').textContent !== '—'")
            assert page.locator("#level-handling").get_by_text("陈桥街道").is_visible()
            assert page.locator("#level-district").get_by_text("港闻区").is_visible()
            assert page.locator("#level-community").get_by_text("丽都社区").is_visible()
            assert page.locator("#open-total").text_content() == "1"
            assert page.locator("#reported-total").text_content() == "1"
            assert page.locator("#satisfaction-rate").text_content() == "—"  # no visits yet
            wait_for("document.getElementById('live').textContent === '实时'")
            assert not failed, failed
            # The stylesheet applied (dashboard.css: body's background is --bg, #0b1a2b).
            background = "getComputedStyle(document.body).backgroundColor"
            assert page.evaluate(background) == "rgb(11, 26, 43)"
            bars = "Array.from(document.querySelectorAll('#hours rect.bar'))"
            hourly = f"{bars}.reduce((n, r) => n + Number(r.dataset.count), 0)"
            assert page.evaluate(hourly) == 1
            assert page.evaluate(f"{bars}.length") == 24
            page.evaluate("window.__marker = 'no reload'")
            loads = len(navigations)

            post(base_url, dispatcher, "/incidents", report_body("supply_delivery"))
            wait_for("document.getElementById('open-total').textContent === '2'")
            wait_for(f"{hourly} === 2")
            assert page.locator("#reported-total").text_content() == "2"
            assert page.locator("#orders-total").text_content() == "其中新工单 2"
            # a repeated call linked to the first order: one more call (受理), no new order
            caller = {"name": "赵先生", "phone": "13700001111"}
            post(base_url, dispatcher, f"/incidents/{first['id']}/link-call", {"caller": caller})
            wait_for("document.getElementById('reported-total').textContent === '3'")
            assert page.locator("#orders-total").text_content() == "其中新工单 2"
            assert page.evaluate("window.__marker") == "no reload"
            assert len(navigations) == loads, navigations
            assert page.evaluate("sessionStorage.getItem('coordination.dashboard.token')")
            # Chinese renders: the street's name is laid out with width, and shows.
            # (read in one go: a refresh replaces the cards)
            width = page.evaluate(
                """Array.from(document.querySelectorAll('#level-handling .unit .name'))
                   .filter(n => n.textContent === '陈桥街道')
                   .map(n => n.getBoundingClientRect().width)[0]"""
            )
            assert width > 20, width
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000


def donation(unit: str, donor: dict[str, Any], items: list[tuple[str, int]], **more: Any) -> Any:
    lines = [{"item": item, "quantity": n} for item, n in items]
    return {"unit": unit, "donor": donor, "received_by": "经手人", "items": lines, **more}


def cells(page: Any, selector: str) -> list[list[str]]:
    """The text of each row's cells of a table body, read in one go (a refresh replaces them)."""
    found: list[list[str]] = page.evaluate(
        f"""Array.from(document.querySelectorAll({json.dumps(selector)} + ' tr'))
            .map(tr => Array.from(tr.cells).map(td => td.textContent))"""
    )
    return found


def test_the_page_shows_the_supplies_of_the_viewers_subtree(
    base_url: str, worker: RqWorker, tokens: dict[str, str]
) -> None:
    """Stock within the token's subtree, the shortages and open pleas, and the public list of
    donations (捐赠公示) without contact details: the figures the API has, shown in Chinese,
    and a new donation shows without reloading. (The app's fixture gave every unit below the
    district 1,000,000 masks.)"""
    from playwright.sync_api import sync_playwright

    executable = chromium()
    admin, handler = tokens[ADMIN], tokens[HC]
    suits = {"kind": "company", "name": "港闻医学检验实验室"}
    post(base_url, admin, "/supplies/donations", donation("gangwen/cdc", suits, [("防护服", 1200)]))
    earmarks = [
        {"purpose": "支援武汉医护人员", "amount_fen": 8_000_000},
        {"purpose": "区一线防护物资采购", "amount_fen": 7_000_000},
    ]
    cash = {"amount_fen": 15_000_000, "earmarks": earmarks}
    gift = donation("gangwen", {"kind": "company", "name": "港闻港务集团有限公司"}, [], cash=cash)
    post(base_url, admin, "/supplies/donations", gift)
    anonymous = {
        "kind": "individual",
        "anonymous": True,
        "contact": {"name": "李秀英", "phone": "13912345678"},
    }
    post(base_url, handler, "/supplies/donations", donation(LIDU, anonymous, [("额温枪", 5)]))
    masks = [{"item": "口罩", "quantity": 300}]
    sent = post(
        base_url,
        handler,
        "/supplies/transfers",
        {"from_unit": CHENQIAO, "to_unit": LIDU, "items": masks},
    )
    receipt = {"received": [{"item": "口罩", "quantity": 290}], "loss_reason": "一包口罩受潮"}
    post(base_url, handler, f"/supplies/transfers/{sent['transfer_id']}/receipt", receipt)
    on_way = [{"item": "口罩", "quantity": 100}]
    post(
        base_url,
        handler,
        "/supplies/transfers",
        {"from_unit": CHENQIAO, "to_unit": HUAQIAO, "items": on_way},
    )
    plea = {"unit": LIDU, "items": [{"item": "额温枪", "quantity": 20}], "note": "卡口测温缺额温枪"}
    need_id = post(base_url, handler, "/supplies/needs", plea)["need_id"]
    two = [{"item": "额温枪", "quantity": 2}]
    order = post(base_url, tokens[D], "/incidents", report_body("supply_delivery", items=two))
    post(base_url, handler, f"/incidents/{order['id']}/sign-for", {})
    post(base_url, handler, f"/incidents/{order['id']}/hand-down", {"community": LIDU})  # reserves
    worker.wait_idle()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1200}, locale="zh-CN")
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            failed: list[str] = []
            page.on("requestfailed", lambda request: failed.append(f"failed {request.url}"))
            page.on(
                "response",
                lambda answer: (
                    failed.append(f"{answer.status} {answer.url}") if answer.status >= 400 else None
                ),
            )

            def wait_for(condition: str) -> None:
                try:
                    page.wait_for_function(condition, timeout=10_000)
                except Exception as exc:
                    shown = page.evaluate("document.body.innerText")[:3000]
                    raise AssertionError(
                        f"{condition}: {exc}\npage: {shown}\nconsole: {console}"
                    ) from exc

            page.goto(base_url + "/dashboard")
            page.fill("#token", tokens[D])
            page.click("#token-form button")
            wait_for("document.getElementById('supplies').dataset.state === 'shown'")
            assert page.locator("#supplies").is_visible()
            stock = {row[0]: row[1:] for row in cells(page, "#stock-list")}
            # 13 units below the district had 1,000,000 masks: 10 were lost on the way to 丽都
            # and 100 are on their way to 花桥
            assert stock["口罩"] == ["12,999,890 个", "0 个", "12,999,890 个", "100 个"]
            assert stock["额温枪"] == ["5 把", "2 把", "3 把", "0 把"]  # 2 promised to the order
            assert stock["防护服"] == ["1,200 件", "0 件", "1,200 件", "0 件"]
            assert cells(page, "#shortage-list") == [
                ["丽都社区", "额温枪", "20 把", "3 把", "17 把"]
            ]
            assert cells(page, "#need-list") == [
                [need_id, "丽都社区", "额温枪 20 把", "卡口测温缺额温枪"]
            ]
            donations = cells(page, "#donation-list")
            assert len(donations) == 10  # the latest ten
            newest = donations[:3]
            assert [row[1:4] for row in newest] == [
                ["匿名", "额温枪 5 把", "丽都社区"],
                [
                    "港闻港务集团有限公司",
                    "现金 ¥150,000（其中支援武汉医护人员 ¥80,000；区一线防护物资采购 ¥70,000）",
                    "港闻区",
                ],
                ["港闻医学检验实验室", "防护服 1,200 件", "区疾控中心"],
            ]
            assert all(re.fullmatch(r"JZ-[a-z./]+-\d{4}", row[0]) for row in donations), donations
            today = datetime.now(SHANGHAI)
            assert all(row[4].startswith(today.strftime("%m-%d ")) for row in newest), newest
            text = page.evaluate("document.body.innerText")
            assert "13912345678" not in text and "李秀英" not in text  # no contact details
            assert not failed, failed

            # a donation arrives: it shows at the top, and in the stock, without reloading
            page.evaluate("window.__marker = 'no reload'")
            tissues = {"kind": "organisation", "name": "港闻置业公司党支部"}
            post(
                base_url, handler, "/supplies/donations", donation(HUAQIAO, tissues, [("纸巾", 2)])
            )
            wait_for(
                "(document.querySelector('#donation-list tr td:nth-child(2)') || {})"
                ".textContent === '港闻置业公司党支部'"
            )
            wait_for("!!document.querySelector('#stock-list tr[data-item=\"纸巾\"]')")
            assert page.evaluate("window.__marker") == "no reload"
            assert cells(page, "#donation-list")[0][1:4] == [
                "港闻置业公司党支部",
                "纸巾 2 箱",
                "花桥社区",
            ]
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "dashboard-supplies.png"), full_page=True)

            # a viewer of another street sees its own subtree's stock, and no shortage there
            other = browser.new_context(viewport={"width": 1600, "height": 1200}).new_page()
            other.goto(base_url + "/dashboard")
            other.fill("#token", tokens["viewer@gangwen/binjiang"])
            other.click("#token-form button")
            other.wait_for_function(
                "document.getElementById('supplies').dataset.state === 'shown'", timeout=10_000
            )
            assert cells(other, "#stock-list") == [
                ["口罩", "3,000,000 个", "0 个", "3,000,000 个", "0 个"]
            ]
            assert cells(other, "#shortage-list") == [["无"]]
            assert cells(other, "#need-list") == [["无"]]
            assert not failed, failed
        finally:
            browser.close()


def test_the_stream_needs_a_token_and_sends_the_position(
    base_url: str, tokens: dict[str, str]
) -> None:
    for query in ("", "?token=", "?token=nope"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base_url + "/dashboard/stream" + query, timeout=10)
        assert refused.value.code == 401
        body = json.loads(refused.value.read())
        assert body["code"] == 401 and body["message"], body
    started = time.monotonic()
    url = f"{base_url}/dashboard/stream?token={tokens[D]}"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers.get_content_type() == "text/event-stream"
        lines = [response.readline().decode().rstrip("\n") for _ in range(5)]
    assert lines[:2] == ["retry: 2000", ""], lines
    assert lines[2] == "event: position", lines
    assert json.loads(lines[4].removeprefix("data: "))["partition"] == "gangwen", lines
    assert time.monotonic() - started < 5


def test_the_page_loads_without_a_token(base_url: str) -> None:
    with urllib.request.urlopen(base_url + "/dashboard", timeout=10) as response:
        assert response.headers.get_content_type() == "text/html"
        page = response.read().decode()
    assert '<html lang="zh-CN">' in page and "及时办结率" in page and "满意率" in page
    assert "目标 100%" in page and "目标 95%" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")  # no CDN


class Links(HTMLParser):
    """What a page loads (each ``src`` and ``href``) and the text of its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: set[tuple[str, str]] = set()
        self.inline: dict[str, str] = {}  # a script's type -> its text
        self._script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href"):
            if found.get(name) is not None:
                self.loads.add((tag, str(found[name])))
        if tag == "script" and "src" not in found:
            self._script = found.get("type") or "text/javascript"
            self.inline[self._script] = ""

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self.inline[self._script] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None


def fetch(url: str) -> tuple[Any, bytes]:
    """GET without a token: the answer's headers and body (an error status raises)."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers, response.read()


def test_the_page_loads_its_style_and_script_from_the_app_and_nothing_else(
    base_url: str,
) -> None:
    _, body = fetch(base_url + "/dashboard")
    page = body.decode()
    links = Links()
    links.feed(page)
    assert links.loads == {
        ("link", "/dashboard/static/dashboard.css"),
        ("script", "/dashboard/static/dashboard.js"),
    }
    assert "<style" not in page
    # The one inline script is data: the targets, as the page's script reads them.
    assert set(links.inline) == {"application/json"}
    assert json.loads(links.inline["application/json"]) == {
        "on_time_target": ON_TIME_TARGET,
        "satisfaction_target": SATISFACTION_TARGET,
        "timezone": "Asia/Shanghai",  # the page shows donations' times as the district's clock
    }
    assert 'id="dashboard-config"' in page
    css = fetch(base_url + "/dashboard/static/dashboard.css")[1].decode()
    script = fetch(base_url + "/dashboard/static/dashboard.js")[1].decode()
    assert 'getElementById("dashboard-config")' in script
    assert "{{" not in script and "{%" not in script  # not a template: served as it is
    for text in (page, css, script):
        text = text.replace(SVG_NS, "")
        assert not re.findall(r"[a-z][a-z0-9+.-]*://", text, re.IGNORECASE)  # no CDN
        assert not re.findall(r"""["'(=]\s*//""", text)  # nor a scheme-relative URL
    assert "@import" not in css and "url(" not in css


def test_each_static_file_is_served_without_a_token(base_url: str) -> None:
    kinds = {
        "dashboard.css": {"text/css"},
        "dashboard.js": {"text/javascript", "application/javascript"},
    }
    for name, content_types in kinds.items():
        headers, body = fetch(f"{base_url}/dashboard/static/{name}")
        assert headers.get_content_type() in content_types, (name, headers["Content-Type"])
        assert headers.get_content_charset() == "utf-8", (name, headers["Content-Type"])
        assert body == (STATIC / name).read_bytes()
        # Checked again on each load (a new release's script is never a stale cached one).
        assert "no-cache" in headers["Cache-Control"], headers["Cache-Control"]
        assert headers["ETag"]


def test_a_static_file_unchanged_is_not_sent_again(client: FlaskClient) -> None:
    first = client.get("/dashboard/static/dashboard.js")
    assert first.status_code == 200 and first.headers["ETag"]
    again = client.get(
        "/dashboard/static/dashboard.js", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
    assert again.get_data() == b""


def test_a_missing_static_file_is_a_404_in_the_one_error_shape(
    client: FlaskClient, expect_error: Callable[..., dict[str, Any]]
) -> None:
    for path in (
        "/dashboard/static/nope.js",
        "/dashboard/static/",
        "/dashboard/static/%2e%2e/templates/dashboard.html",  # the template is not a file
        "/dashboard/static/%2e%2e/dashboard_page.py",
    ):
        expect_error(client.get(path), 404)
    expect_error(client.post("/dashboard/static/dashboard.js"), 405)
