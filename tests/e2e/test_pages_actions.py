"""The everyday actions the pages add on top of one order's life, in a real headless browser (the
real API over HTTP on a loopback port, a REAL RQ worker projecting, Debian's chromium driven by
Playwright), each done through a page only and checked against the API's events afterwards:

* the desk (接单台) shows an order 陈桥's handler returned (退回), with the reason and who
  returned it, and re-dispatches it (改派) to the street the dispatcher chose; a re-dispatch of
  an order someone else re-dispatched meanwhile gets the conflict and what changed;
* the desk closes a resolved order without a return visit only with a reason (refused, with the
  API's message, without one);
* a field cadre's phone releases what she holds with a reason (a stale card first meets the
  conflict and is reloaded), and takes a colleague's quarantine visit over, while an untrained
  volunteer's take-over is refused with the API's message and a plain work order offers none.

Setting up (a handler's return, a colleague's claim) goes through the API, as another person's
work would. Helpers and fixtures are ``test_pages.py``'s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import test_pages
from browser import CHROMIUM_ARGS, ROOT, chromium
from flask import Flask
from people import BINJIANG, CHENQIAO, HC, LIDU, D, report_body
from test_pages import CADRE, DESKTOP, PHONE, Tab, api, has, text_of
from worker import RqWorker

from coordination.domain.access import Role

# test_pages.py's fixtures, used here by name: the app served over HTTP, a 丽都 cadre's token.
base_url = test_pages.base_url
cadre = test_pages.cadre

RETURNED = "#returned-list .card[data-id='{}']"
VISIT = "#visits .card[data-id='{}']"
MINE = "#mine-list .card[data-id='{}']"
OTHERS = "#others-list .card[data-id='{}']"
POOL = "#pool-list .card[data-id='{}']"


@contextmanager
def browser_tabs() -> Iterator[Callable[..., Tab]]:
    """A headless chromium; yields tab(name, phone=False): a page in a context of its own."""
    from playwright.sync_api import sync_playwright

    executable = chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:

            def tab(name: str, phone: bool = False) -> Tab:
                if phone:
                    context = browser.new_context(
                        viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True
                    )
                else:
                    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
                return Tab(context, name)

            yield tab
        finally:
            browser.close()


def events(base_url: str, tokens: dict[str, str], incident_id: str) -> list[dict[str, Any]]:
    """The order's events as the API lists them to the district's dispatcher."""
    found: list[dict[str, Any]] = api(
        base_url, tokens[D], "GET", f"/incidents/{incident_id}/events"
    )
    return found


def kinds(found: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["actor"]) for e in found]


def returned_order(base_url: str, tokens: dict[str, str], title: str) -> str:
    """A work order at 丽都 that 陈桥's handler returned as not theirs."""
    body = report_body("work_order", title=title)
    order: str = api(base_url, tokens[D], "POST", "/incidents", body)["id"]
    reason = {"reason": "诉求地点属滨江街道辖区，非本街道"}
    api(base_url, tokens[HC], "POST", f"/incidents/{order}/return", reason)
    return order


def no_console_errors(*tabs: Tab) -> None:
    """No script error in the console (chromium also logs each 4xx answer there: those are
    checked, one by one, in ``Tab.failed``)."""
    for tab in tabs:
        errors = [
            c
            for c in tab.console
            if c.startswith("error") and "Failed to load resource: the server responded" not in c
        ]
        assert not errors, (tab.name, tab.console)


def test_the_desk_re_dispatches_a_returned_order_and_closes_one_without_a_visit_only_saying_why(
    base_url: str, worker: RqWorker, tokens: dict[str, str]
) -> None:
    order = returned_order(base_url, tokens, "门禁问题 退回")
    resolved = api(base_url, tokens[D], "POST", "/incidents", report_body("work_order"))["id"]
    api(base_url, tokens[HC], "POST", f"/incidents/{resolved}/sign-for", {})
    done = {"summary": "已协调物业修复", "signed_off_by": "陈桥街道 负责同志"}
    api(base_url, tokens[HC], "POST", f"/incidents/{resolved}/resolve", done)
    worker.wait_idle()
    units = json.loads((ROOT / "coordination" / "data" / "gangwen.json").read_text("utf-8"))
    below = {u["id"] for u in units["units"] if u["level"] != "district"}
    with browser_tabs() as tab:
        desk = tab("desk")
        desk.login(base_url, tokens[D], "/desk")
        card = RETURNED.format(order)
        desk.wait(has(card))
        assert "退回理由：诉求地点属滨江街道辖区，非本街道" in desk.text(card)
        desk.wait(text_of(f"{card} .returned-by") + ".includes('由 陈桥街道 退回')")
        assert desk.text("#returned-count") == "（1）"
        assert desk.page.locator(card).get_attribute("data-status") == "returned"
        choice = desk.page.locator(card).get_by_label("改派至")
        offered = choice.evaluate("s => Array.from(s.options).map(o => o.value).filter(v => v)")
        assert set(offered) == below and len(offered) == len(below), offered  # not the district
        desk.labelled()
        desk.shot("desk-returned")
        # 改派 without a unit chosen asks for one and sends nothing.
        desk.page.locator(card).get_by_role("button", name=re.compile("改派")).click()
        desk.wait(text_of(f"{card} .card-result") + ".includes('请先选择改派单位')")
        choice.select_option(BINJIANG)
        desk.page.locator(card).get_by_label("改派说明").fill("属滨江街道辖区，改派")
        desk.page.locator(card).get_by_role("button", name=re.compile("改派")).click()
        desk.wait("document.getElementById('returned-result').dataset.state === 'dispatched'")
        assert "已改派：门禁问题 退回 → 滨江街道（待签收）" in desk.text("#returned-result")
        desk.wait("document.getElementById('returned').dataset.state === 'none'")

        # The resolved order: closing without a visit is refused until it says why.
        visit = VISIT.format(resolved)
        desk.wait(has(visit))
        desk.labelled()
        desk.page.locator(visit).get_by_role("button", name="不回访结案").click()
        desk.wait(text_of(f"{visit} .card-result") + ".includes('未能完成')")
        said = desk.text(f"{visit} .card-result")
        assert "closing without a return visit says why" in said, said
        assert [e["type"] for e in events(base_url, tokens, resolved)][-1] == "IncidentResolved"
        desk.page.locator(visit).get_by_label("不回访结案原因").fill("三次回访未接通")
        desk.page.locator(visit).get_by_role("button", name="不回访结案").click()
        desk.wait("document.getElementById('visits-result').dataset.state === 'close'")
        assert "已不回访结案：已结案" in desk.text("#visits-result")
        assert desk.failed == [f"422 {base_url}/incidents/{resolved}/close"], desk.failed
        no_console_errors(desk)

    found = events(base_url, tokens, order)
    assert kinds(found) == [
        ("IncidentReported", D),
        ("IncidentDispatched", D),
        ("IncidentReturned", HC),
        ("IncidentDispatched", D),
    ]
    assert found[1]["data"]["unit"] == CHENQIAO
    assert (found[3]["data"]["unit"], found[3]["data"]["level"]) == (BINJIANG, "street")
    assert found[3]["data"]["note"] == "属滨江街道辖区，改派"
    now = api(base_url, tokens["handler@gangwen/binjiang"], "GET", f"/incidents/{order}")
    assert (now["status"], now["unit"], now["return_reason"]) == ("dispatched", BINJIANG, "")
    closed = events(base_url, tokens, resolved)
    assert kinds(closed)[-2:] == [("IncidentResolved", HC), ("IncidentClosed", D)]
    assert closed[-1]["data"]["note"] == "三次回访未接通"
    assert "ReturnVisitRecorded" not in [e["type"] for e in closed]


def test_a_re_dispatch_of_an_order_re_dispatched_meanwhile_gets_the_conflict_and_what_changed(
    base_url: str, worker: RqWorker, tokens: dict[str, str]
) -> None:
    order = returned_order(base_url, tokens, "同一退回工单")
    worker.wait_idle()
    with browser_tabs() as tab:
        desk = tab("desk", phone=True)  # a dispatcher may work from a phone too
        desk.login(base_url, tokens[D], "/desk")
        card = RETURNED.format(order)
        desk.wait(has(card))
        assert desk.page.locator(card).get_attribute("data-version") == "3"
        desk.page.locator(card).get_by_label("改派至").select_option(LIDU)
        desk.fits(PHONE["width"])
        # Another dispatcher sends it to 滨江 first; the card begun on stays as it was read.
        api(base_url, tokens[D], "POST", f"/incidents/{order}/dispatch", {"unit": BINJIANG})
        desk.page.locator(card).get_by_role("button", name=re.compile("改派")).click()
        desk.wait("document.getElementById('returned-result').dataset.state === 'conflict'")
        said = desk.text("#returned-result")
        assert "版本 3 → 4" in said and "状态 已退回 → 待签收" in said, said
        assert "承办 港闻区 → 滨江街道" in said, said
        assert "incident is at version 4, not the expected 3" in said, said
        desk.wait(f'!document.querySelector("{card}")')  # reloaded: no longer returned
        desk.shot("desk-returned-conflict")
        assert desk.failed == [f"409 {base_url}/incidents/{order}/dispatch"], desk.failed
        no_console_errors(desk)
    assert [(e["type"], e["data"].get("unit")) for e in events(base_url, tokens, order)[2:]] == [
        ("IncidentReturned", CHENQIAO),
        ("IncidentDispatched", BINJIANG),
    ]


def handed_down(base_url: str, tokens: dict[str, str], kind: str, title: str) -> str:
    """An order of ``kind`` at 丽都, signed for and handed down to 丽都 by 陈桥's handler."""
    order: str = api(base_url, tokens[D], "POST", "/incidents", report_body(kind, title=title))[
        "id"
    ]
    api(base_url, tokens[HC], "POST", f"/incidents/{order}/sign-for", {})
    api(base_url, tokens[HC], "POST", f"/incidents/{order}/hand-down", {"community": LIDU})
    return order


def field_token(app: Flask, staff_id: str) -> str:
    secret, _ = app.extensions["coordination"].tokens.create(Role.FIELD, LIDU, staff_id)
    return secret


def test_the_phone_releases_what_it_holds_with_a_reason_a_stale_card_first_reloaded(
    base_url: str, worker: RqWorker, tokens: dict[str, str], cadre: str
) -> None:
    order = handed_down(base_url, tokens, "supply_delivery", "送口罩 丽都")
    api(base_url, cadre, "POST", f"/incidents/{order}/claim", {})
    worker.wait_idle()
    with browser_tabs() as tab:
        phone = tab("tasks", phone=True)
        phone.login(base_url, cadre, "/tasks")
        mine = MINE.format(order)
        phone.wait(has(mine))
        phone.wait("document.getElementById('live').textContent === '实时'")
        assert phone.page.locator(mine).get_attribute("data-version") == "5"
        phone.labelled()
        phone.fits(PHONE["width"])
        phone.shot("tasks-release")
        # Without a reason the page asks for one and sends nothing.
        phone.page.locator(mine).get_by_role("button", name="释放").click()
        phone.wait(text_of(f"{mine} .card-result") + ".includes('请填写释放原因')")
        # A second resident calls about it meanwhile: the card still shows version 5.
        caller = {"caller": {"name": "钱女士", "phone": "13600002222"}, "note": "同一户"}
        api(base_url, tokens[D], "POST", f"/incidents/{order}/link-call", caller)
        phone.page.locator(mine).get_by_label("释放原因").fill("临时去核酸点支援，无法上门")
        phone.page.locator(mine).get_by_role("button", name="释放").click()
        phone.wait("document.getElementById('claim-result').dataset.state === 'conflict'")
        said = phone.text("#claim-result")
        assert "版本 5 → 6" in said, said
        assert "incident is at version 6, not the expected 5" in said, said
        phone.wait(
            f"(document.querySelector(\"{mine}\") || {{dataset: {{}}}}).dataset.version === '6'"
        )
        phone.page.locator(mine).get_by_label("释放原因").fill("临时去核酸点支援，无法上门")
        phone.page.locator(mine).get_by_role("button", name="释放").click()
        phone.wait("document.getElementById('claim-result').dataset.state === 'released'")
        assert "已释放，退回社区待领：送口罩 丽都" in phone.text("#claim-result")
        phone.wait("document.getElementById('mine').dataset.state === 'none'")
        phone.wait(has(POOL.format(order)))  # back in the community's queue
        assert phone.page.locator("#alert").is_hidden()  # one's own release raises no alert
        assert phone.failed == [f"409 {base_url}/incidents/{order}/release"], phone.failed
        no_console_errors(phone)
    found = events(base_url, tokens, order)
    assert kinds(found)[-3:] == [
        ("IncidentClaimed", CADRE),
        ("DuplicateCallLinked", D),
        ("IncidentReleased", CADRE),
    ]
    assert found[-1]["data"] == {"holder": CADRE, "reason": "临时去核酸点支援，无法上门"}
    now = api(base_url, tokens[HC], "GET", f"/incidents/{order}")
    assert (now["status"], now["holder"]) == ("handed_down", "")


def test_a_trained_cadre_takes_a_colleagues_quarantine_visit_over_an_untrained_one_is_refused(
    base_url: str,
    worker: RqWorker,
    tokens: dict[str, str],
    cadre: str,
    app: Flask,
    register_staff: Callable[..., str],
) -> None:
    register_staff("zhao-min", LIDU, "赵敏", quarantine_trained=True)
    register_staff("li-ming", LIDU, "李明")  # a volunteer, not trained for quarantine visits
    colleague, volunteer = field_token(app, "zhao-min"), field_token(app, "li-ming")
    visit = handed_down(base_url, tokens, "quarantine_visit", "上门测体温 隔离户")
    plain = handed_down(base_url, tokens, "work_order", "咨询 复工政策")
    for order in (visit, plain):
        api(base_url, colleague, "POST", f"/incidents/{order}/claim", {})
    worker.wait_idle()
    with browser_tabs() as tab:
        phones = {}
        for name, secret in (("cadre", cadre), ("volunteer", volunteer), ("colleague", colleague)):
            phones[name] = phone = tab(name, phone=True)
            phone.login(base_url, secret, "/tasks")
        for name in ("cadre", "volunteer"):
            phones[name].wait(has(OTHERS.format(visit)))
            phones[name].wait(has(OTHERS.format(plain)))
        phones["colleague"].wait(has(MINE.format(visit)))
        # one's own claims are not a colleague's
        phones["colleague"].wait("document.getElementById('others').dataset.state === 'none'")
        row, other = OTHERS.format(visit), OTHERS.format(plain)
        cadre_tab, volunteer_tab = phones["cadre"], phones["volunteer"]
        assert "认领人 赵敏（zhao-min）" in cadre_tab.text(row)
        assert "需隔离培训：您已受训，可以接手" in cadre_tab.text(row)
        assert "需隔离培训：您未受训，不能接手" in volunteer_tab.text(row)
        for phone in (cadre_tab, volunteer_tab):  # a plain order is never taken over
            assert "非风险工单不能接手" in phone.text(other)
            assert phone.page.locator(f"{other} button").count() == 0
        cadre_tab.labelled()
        cadre_tab.fits(PHONE["width"])
        cadre_tab.shot("tasks-others")

        # The untrained volunteer tries anyway: the API's own reason is shown, nothing written.
        volunteer_tab.page.locator(row).get_by_role("button", name=re.compile("接手")).click()
        volunteer_tab.wait(text_of(f"{row} .card-result") + ".includes('未能完成')")
        said = volunteer_tab.text(f"{row} .card-result")
        assert "a quarantine visit needs someone trained for it; 李明 is not" in said, said
        assert volunteer_tab.failed == [f"422 {base_url}/incidents/{visit}/take-over"]

        cadre_tab.page.locator(row).get_by_role("button", name=re.compile("接手")).click()
        cadre_tab.wait("document.getElementById('claim-result').dataset.state === 'taken-over'")
        assert "已接手：上门测体温 隔离户（原认领人 赵敏（zhao-min））" in cadre_tab.text(
            "#claim-result"
        )
        cadre_tab.wait(has(MINE.format(visit)))
        assert "认领有效 剩 " in cadre_tab.text(MINE.format(visit))
        cadre_tab.wait(f'!document.querySelector("{row}")')
        # The colleague's phone follows: the visit leaves 我的任务, the plain order stays.
        phones["colleague"].wait(f'!document.querySelector("{MINE.format(visit)}")')
        assert phones["colleague"].page.locator(MINE.format(plain)).count() == 1
        # The volunteer's list shows the new holder.
        volunteer_tab.wait(text_of(row) + ".includes('认领人 王丽（wang-li）')")
        assert not cadre_tab.failed and not phones["colleague"].failed
        no_console_errors(*phones.values())
    found = events(base_url, tokens, visit)
    assert kinds(found)[-2:] == [("IncidentClaimed", "zhao-min"), ("ClaimTakenOver", CADRE)]
    assert (found[-1]["data"]["from_holder"], found[-1]["data"]["holder"]) == ("zhao-min", CADRE)
    assert [e["type"] for e in events(base_url, tokens, plain)][-1] == "IncidentClaimed"
