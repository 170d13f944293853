"""Who may do what, and where, through HTTP: every role x action x scope cell, by hand.

For each cell an incident is set up (by the dispatcher and the street's handler) in the state
where the action applies, then the token under test tries it. In its subtree and allowed: 2xx and
the log moves; in its subtree but its role may not: 403; outside its subtree: 404, as if the
incident did not exist; a report for a place outside the reporter's unit: 403. Field staff
resolve only what they have claimed, so the community's own field token resolving an unclaimed
order is a 422 naming the holder (a handler resolves on the unit's behalf). Refusals write
nothing. Viewers read residents' names, phones and addresses masked; everyone else in full.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from coordination.domain.access import Actor, Role
from coordination.domain.commands import DispatchTransfer, PostNeed, ReceiveDonation
from coordination.domain.values import Contact, Donor, DonorKind, Line

# The tokens under test: the shared ones, and a dispatcher of one street for out-of-unit reports.
TOKENS = (
    "dispatcher@gangwen",
    "handler@gangwen/chenqiao",
    "handler@gangwen/binjiang",
    "field@gangwen/chenqiao/lidu",
    "field@gangwen/chenqiao/huaqiao",
    "viewer@gangwen",
    "viewer@gangwen/binjiang",
    "admin@gangwen",
    "dispatcher@gangwen/binjiang",
)
VIEWERS = {"viewer@gangwen", "viewer@gangwen/binjiang"}

# action: (the incident's state before, where it was reported, method, path, body)
# The Lidu incident is held by the Chenqiao street until it is handed down to the Lidu community;
# the Wanghai incident by the Binjiang street.
ACTIONS: dict[str, tuple[str | None, str, str, str, dict[str, Any] | None]] = {
    "report (丽都)": (None, "丽都", "POST", "/incidents", None),
    "report (望海)": (None, "望海", "POST", "/incidents", None),
    "dispatch": ("dispatched", "丽都", "POST", "dispatch", {"unit": "gangwen/binjiang"}),
    "dispatch a returned one": ("returned", "丽都", "POST", "dispatch", {"unit": "gangwen/cdc"}),
    "sign-for": ("dispatched", "丽都", "POST", "sign-for", {}),
    "return": ("dispatched", "丽都", "POST", "return", {"reason": "不属本街道"}),
    "hand-down": ("signed", "丽都", "POST", "hand-down", {}),
    "resolve": (
        "handed_down",
        "丽都",
        "POST",
        "resolve",
        {"summary": "完成", "signed_off_by": "丽"},
    ),
    "return-visit": ("resolved", "丽都", "POST", "return-visit", {"result": "satisfied"}),
    "close": ("resolved", "丽都", "POST", "close", {"note": "三次回访未接通"}),
    "GET": ("handed_down", "丽都", "GET", "", None),
    "GET events": ("handed_down", "丽都", "GET", "events", None),
    "GET (望海)": ("dispatched", "望海", "GET", "", None),
    "GET events (望海)": ("dispatched", "望海", "GET", "events", None),
}

# Expected status, one column per token, in the order of TOKENS:
#               disp  h/cq  h/bj  f/lidu f/hq  view  v/bj  admin d/bj
TABLE_ROWS: dict[str, tuple[int, ...]] = {
    "report (丽都)": (201, 403, 403, 403, 403, 403, 403, 201, 403),
    "report (望海)": (201, 403, 403, 403, 403, 403, 403, 201, 201),
    "dispatch": (200, 403, 404, 404, 404, 403, 404, 200, 404),
    "dispatch a returned one": (200, 404, 404, 404, 404, 403, 404, 200, 404),
    "sign-for": (403, 200, 404, 404, 404, 403, 404, 200, 404),
    "return": (403, 200, 404, 404, 404, 403, 404, 200, 404),
    "hand-down": (403, 200, 404, 404, 404, 403, 404, 200, 404),
    "resolve": (403, 200, 404, 422, 404, 403, 404, 200, 404),
    "return-visit": (200, 403, 404, 403, 404, 403, 404, 200, 404),
    "close": (200, 403, 404, 403, 404, 403, 404, 200, 404),
    "GET": (200, 200, 404, 200, 404, 200, 404, 200, 404),
    "GET events": (200, 200, 404, 200, 404, 200, 404, 200, 404),
    "GET (望海)": (200, 404, 200, 404, 404, 200, 200, 200, 200),
    "GET events (望海)": (200, 404, 200, 404, 404, 200, 200, 200, 200),
}
TABLE: dict[tuple[str, str], int] = {
    (action, token): status
    for action, row in TABLE_ROWS.items()
    for token, status in zip(TOKENS, row, strict=True)
}

PERSON = {"name": "李四", "phone": "13987654321"}
REPORTER = {"name": "张三", "phone": "13812345678"}
ADDRESS = "丽都花园3栋201室"


def test_the_table_covers_every_action_and_token() -> None:
    assert set(TABLE_ROWS) == set(ACTIONS)
    assert set(TABLE) == {(a, t) for a in ACTIONS for t in TOKENS}
    assert len(TABLE) == len(ACTIONS) * len(TOKENS)


@pytest.fixture
def all_tokens(app: Any, tokens: dict[str, str]) -> dict[str, str]:
    store = app.extensions["coordination"].tokens
    secret, _ = store.create(Role.DISPATCHER, "gangwen/binjiang", "dispatcher@gangwen/binjiang")
    return {**tokens, "dispatcher@gangwen/binjiang": secret}


@pytest.mark.parametrize("token", TOKENS)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_access_cell(
    client: Any,
    prepare: Callable[..., str],
    report_body: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    expect_error: Callable[..., dict[str, Any]],
    all_tokens: dict[str, str],
    catch_up: Callable[[], int],
    action: str,
    token: str,
) -> None:
    state, place, method, path, body = ACTIONS[action]
    expected = TABLE[(action, token)]
    headers = {"Authorization": f"Bearer {all_tokens[token]}"}
    if state is None:
        url, body = "/incidents", report_body("quarantine_visit", place=place, address=ADDRESS)
        incident_id = ""
    else:
        incident_id = prepare(state, place=place)
        url = f"/incidents/{incident_id}" + (f"/{path}" if path else "")
    before = log_len()
    catch_up()  # reads are served from the projections: let the projector catch up first

    response = client.open(url, method=method, json=body, headers=headers)

    assert response.status_code == expected, (action, token, response.get_data(as_text=True))
    if expected >= 400:
        error = expect_error(response, expected, *forbidden_field(action, token, expected))
        assert log_len() == before, "a refused request wrote to the log"
        if expected == 404:
            # Nothing about the incident leaks to those who may not see it.
            assert incident_id not in response.get_data(as_text=True)
            assert "丽都" not in error["message"] and "李四" not in response.get_data(as_text=True)
        return
    if method == "POST":
        written = response.get_json()
        assert log_len(absolute=True)[1] == written["position"]
        assert log_len()[1] > before[1]
        assert_personal_data(written["incident"], masked=False)
        return
    data = response.get_json()
    if path == "events":
        reported = data[0]
        assert reported["type"] == "IncidentReported"
        assert_personal_data(reported["data"], masked=token in VIEWERS)
        assert [e["stream"] for e in data] == [incident_id] * len(data)
    else:
        assert data["id"] == incident_id
        assert_personal_data(data, masked=token in VIEWERS)


PLACE_UNITS = {"丽都": "gangwen/chenqiao/lidu", "望海": "gangwen/binjiang/wanghai"}


def forbidden_field(action: str, token: str, status: int) -> tuple[str, ...]:
    """What a 403 names: the place of a report outside the reporter's unit, else the role; a
    422 (a field token resolving what it has not claimed) names the holder."""
    if status == 422:
        return ("holder",)
    if status != 403:
        return ()
    state, place, *_ = ACTIONS[action]
    unit = token.split("@", 1)[1]
    place_unit = PLACE_UNITS[place]
    if state is None and not (place_unit + "/").startswith(unit + "/"):
        return ("place",)
    return ("role",)


def assert_personal_data(incident: dict[str, Any], *, masked: bool) -> None:
    if not masked:
        assert incident["reporter"] == REPORTER
        assert incident["person"] == PERSON
        assert incident["address"] == ADDRESS
        return
    assert incident["reporter"] == {"name": "张*", "phone": "138****5678"}
    assert incident["person"] == {"name": "李*", "phone": "139****4321"}
    assert incident["address"] != ADDRESS
    assert incident["address"].endswith("****")
    assert "201" not in incident["address"]
    # What is not personal stays readable.
    assert incident["place"] in ("丽都", "望海")


def test_every_cell_of_the_table_was_exercised() -> None:
    """``test_access_cell`` is parametrised with exactly the table's cells, each once: every
    cell is a test of its own that asserts its status, and none is left out or run twice.

    Read from the test's own parametrisation, not from what other tests recorded, so this holds
    whichever tests are selected and in whatever order they run."""
    parametrised = {
        mark.args[0]: list(mark.args[1])
        for mark in test_access_cell.pytestmark
        if mark.name == "parametrize"
    }
    assert set(parametrised) == {"action", "token"}, parametrised
    cells = [(a, t) for a in parametrised["action"] for t in parametrised["token"]]
    assert len(cells) == len(set(cells)), sorted(c for c in cells if cells.count(c) > 1)
    assert set(TABLE) == set(cells), sorted(set(TABLE) ^ set(cells))


def test_viewer_sees_masked_data_in_write_answers_of_others_never(
    http: Any, prepare: Callable[..., str]
) -> None:
    """The incident a dispatcher writes is answered in full; the same one read by a viewer is
    masked: masking depends on who reads, not on what was stored."""
    incident_id = prepare("dispatched")
    full = http.ok(http.get("admin@gangwen", incident_id))
    masked = http.ok(http.get("viewer@gangwen", incident_id))
    assert full["reporter"]["phone"] == "13812345678"
    assert masked["reporter"]["phone"] == "138****5678"
    assert {k: v for k, v in full.items() if k not in ("reporter", "person", "address")} == {
        k: v for k, v in masked.items() if k not in ("reporter", "person", "address")
    }
    # Reading masked did not change what the others read.
    assert http.ok(http.get("handler@gangwen/chenqiao", incident_id)) == full


# --- supplies: the ledger's writes and reads ----------------------------------------------------
#
# The books each cell starts from (besides the conftest's masks in every unit): a donation to
# 陈桥街道 with its donor's contact, a transfer from 陈桥 to 丽都社区 in transit, a plea of 陈桥.
# Writes keep the books of a unit: a unit in the body outside the caller's subtree is a 403
# naming that field, an entry named in the path (a receipt, a transfer, a plea) outside it a
# 404; in the subtree, a role that may not keep books (or post pleas, or keep the catalogue) a
# 403 naming the role. Reads are for every role within its subtree; the public list of
# donations for anyone, and never with a contact.

DONOR_CONTACT = {"name": "王经理", "phone": "13912345678"}
CHENQIAO, LIDU = "gangwen/chenqiao", "gangwen/chenqiao/lidu"

# action: (method, path with {receipt}/{transfer_id}/{need_id}, body, the unit it acts on, the field
# naming that unit in a 403 (None: named in the path, so out of scope is a 404))
SUPPLY_ACTIONS: dict[str, tuple[str, str, dict[str, Any] | None, str, str | None]] = {
    "add to the catalogue": (
        "POST",
        "/supplies/catalogue",
        {"name": "一次性手套", "category": "protection", "unit": "副"},
        "gangwen",
        "district",
    ),
    "donation (陈桥)": (
        "POST",
        "/supplies/donations",
        {
            "unit": CHENQIAO,
            "donor": {"kind": "company", "name": "某超市", "contact": DONOR_CONTACT},
            "received_by": "物资保障组",
            "items": [{"item": "84消毒液", "quantity": 6}],
        },
        CHENQIAO,
        "unit",
    ),
    "donation (丽都)": (
        "POST",
        "/supplies/donations",
        {
            "unit": LIDU,
            "donor": {"kind": "individual", "anonymous": True},
            "received_by": "丽都社区居委会",
            "cash": {"amount_fen": 50_000},
        },
        LIDU,
        "unit",
    ),
    "correct a donation (陈桥)": (
        "POST",
        "/supplies/donations/{receipt}/corrections",
        {"reason": "实为十二把", "items": [{"item": "额温枪", "quantity": 12}]},
        CHENQIAO,
        None,
    ),
    "transfer 陈桥 -> 丽都": (
        "POST",
        "/supplies/transfers",
        {"from_unit": CHENQIAO, "to_unit": LIDU, "items": [{"item": "口罩", "quantity": 10}]},
        CHENQIAO,
        "from_unit",
    ),
    "receive a transfer (丽都)": (
        "POST",
        "/supplies/transfers/{transfer_id}/receipt",
        {},
        LIDU,
        None,
    ),
    "plea (陈桥)": (
        "POST",
        "/supplies/needs",
        {"unit": CHENQIAO, "items": [{"item": "额温枪", "quantity": 20}]},
        CHENQIAO,
        "unit",
    ),
    "close a plea (陈桥)": (
        "POST",
        "/supplies/needs/{need_id}/close",
        {"reason": "已调拨"},
        CHENQIAO,
        None,
    ),
    "stock-take (陈桥)": (
        "POST",
        "/supplies/stocktakes",
        {"unit": CHENQIAO, "item": "额温枪", "counted": 10, "reason": "一把损坏"},
        CHENQIAO,
        "unit",
    ),
    "GET catalogue": ("GET", "/supplies/catalogue", None, "gangwen", None),
    "GET stock (own unit)": ("GET", "/supplies/stock", None, "", None),
    "GET stock (陈桥)": ("GET", f"/supplies/stock?unit={CHENQIAO}", None, CHENQIAO, None),
    "GET stock (丽都)": ("GET", f"/supplies/stock?unit={LIDU}&item=口罩", None, LIDU, None),
    "GET reconciliation (陈桥)": (
        "GET",
        f"/supplies/reconciliation?unit={CHENQIAO}",
        None,
        CHENQIAO,
        None,
    ),
    "GET needs (陈桥)": (
        "GET",
        f"/supplies/needs?unit={CHENQIAO}&status=all",
        None,
        CHENQIAO,
        None,
    ),
    "GET shortages (陈桥)": ("GET", f"/supplies/shortages?unit={CHENQIAO}", None, CHENQIAO, None),
    "GET transfers (陈桥)": ("GET", f"/supplies/transfers?unit={CHENQIAO}", None, CHENQIAO, None),
    "GET public donations": ("GET", "/supplies/donations/public", None, "", None),
}

#                                disp  h/cq  h/bj  f/lidu f/hq  view  v/bj  admin d/bj
SUPPLY_ROWS: dict[str, tuple[int, ...]] = {
    "add to the catalogue": (403, 403, 403, 403, 403, 403, 403, 201, 403),
    "donation (陈桥)": (403, 201, 403, 403, 403, 403, 403, 201, 403),
    "donation (丽都)": (403, 201, 403, 403, 403, 403, 403, 201, 403),
    "correct a donation (陈桥)": (403, 201, 404, 404, 404, 403, 404, 201, 404),
    "transfer 陈桥 -> 丽都": (403, 201, 403, 403, 403, 403, 403, 201, 403),
    "receive a transfer (丽都)": (403, 201, 404, 403, 404, 403, 404, 201, 404),
    "plea (陈桥)": (403, 201, 403, 403, 403, 403, 403, 201, 403),
    "close a plea (陈桥)": (403, 200, 404, 404, 404, 403, 404, 200, 404),
    "stock-take (陈桥)": (403, 201, 403, 403, 403, 403, 403, 201, 403),
    "GET catalogue": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET stock (own unit)": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET stock (陈桥)": (200, 200, 404, 404, 404, 200, 404, 200, 404),
    "GET stock (丽都)": (200, 200, 404, 200, 404, 200, 404, 200, 404),
    "GET reconciliation (陈桥)": (200, 200, 404, 404, 404, 200, 404, 200, 404),
    "GET needs (陈桥)": (200, 200, 404, 404, 404, 200, 404, 200, 404),
    "GET shortages (陈桥)": (200, 200, 404, 404, 404, 200, 404, 200, 404),
    "GET transfers (陈桥)": (200, 200, 404, 404, 404, 200, 404, 200, 404),
    "GET public donations": (200, 200, 200, 200, 200, 200, 200, 200, 200),
}
SUPPLY_TABLE: dict[tuple[str, str], int] = {
    (action, token): status
    for action, row in SUPPLY_ROWS.items()
    for token, status in zip(TOKENS, row, strict=True)
}


def test_the_supplies_table_covers_every_action_and_token() -> None:
    assert set(SUPPLY_ROWS) == set(SUPPLY_ACTIONS)
    assert len(SUPPLY_TABLE) == len(SUPPLY_ACTIONS) * len(TOKENS)


def test_the_supplies_table_covers_every_supplies_endpoint(app: Any) -> None:
    """Every route of the supplies blueprints has a row (the one without a token, too)."""
    served = {
        (method, re.sub(r"<([^<>]+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(("supplies.", "supplies_reads."))
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    covered = {(method, path.split("?")[0]) for method, path, *_ in SUPPLY_ACTIONS.values()}
    assert served == covered, served ^ covered


@pytest.fixture
def books(app: Any) -> dict[str, str]:
    """The books every supplies cell starts from, and the numbers they issued."""
    supplies = app.extensions["coordination"].supplies
    admin = Actor("admin@gangwen", Role.ADMIN, "gangwen")
    donor = Donor(DonorKind.COMPANY, "某公司", contact=Contact(**DONOR_CONTACT))
    thermometers = (Line("额温枪", 11),)
    given = supplies.execute(
        admin, CHENQIAO, ReceiveDonation(CHENQIAO, donor, "物资保障组", thermometers)
    )
    sent = supplies.execute(admin, CHENQIAO, DispatchTransfer(LIDU, (Line("口罩", 80),)))
    plea = supplies.execute(admin, CHENQIAO, PostNeed((Line("额温枪", 20),)))
    return {
        "receipt": given.event.receipt,
        "transfer_id": sent.event.transfer_id,
        "need_id": plea.event.need_id,
    }


def reaches(token: str, unit: str) -> bool:
    scope = token.split("@", 1)[1]
    return unit == scope or unit.startswith(scope + "/")


@pytest.mark.parametrize("token", TOKENS)
@pytest.mark.parametrize("action", list(SUPPLY_ACTIONS))
def test_supplies_access_cell(
    client: Any,
    books: dict[str, str],
    log_len: Callable[[], tuple[int, int]],
    expect_error: Callable[..., dict[str, Any]],
    all_tokens: dict[str, str],
    catch_up: Callable[[], int],
    action: str,
    token: str,
) -> None:
    method, path, body, unit, scope_field = SUPPLY_ACTIONS[action]
    expected = SUPPLY_TABLE[(action, token)]
    url = path.format(**books)
    headers = {"Authorization": f"Bearer {all_tokens[token]}"}
    catch_up()  # reads are served from the projections
    before = log_len()

    response = client.open(url, method=method, json=body, headers=headers)

    text = response.get_data(as_text=True)
    assert response.status_code == expected, (action, token, text)
    if expected >= 400:
        named = ()
        if expected == 403:
            named = (scope_field,) if scope_field and not reaches(token, unit) else ("role",)
        expect_error(response, expected, *named)
        assert log_len() == before, "a refused request wrote to the log"
        for number in books.values():
            assert number not in text  # nothing about an entry leaks to those who may not see it
        return
    assert response.mimetype == "application/json"
    if method == "POST":
        written = response.get_json()
        assert log_len(absolute=True)[1] == written["position"]
        assert log_len()[1] > before[1]
        assert {"id", "unit", "version", "position"} <= set(written)
        if "donation" in written:  # a book-keeper sees the donor's contact in full
            assert written["donation"]["donor"].get("contact") in (None, DONOR_CONTACT)
        return
    assert log_len() == before
    if action == "GET public donations":
        assert DONOR_CONTACT["phone"] not in text and DONOR_CONTACT["name"] not in text


def test_every_cell_of_the_supplies_table_was_exercised() -> None:
    parametrised = {
        mark.args[0]: list(mark.args[1])
        for mark in test_supplies_access_cell.pytestmark
        if mark.name == "parametrize"
    }
    cells = [(a, t) for a in parametrised["action"] for t in parametrised["token"]]
    assert len(cells) == len(set(cells))
    assert set(SUPPLY_TABLE) == set(cells), sorted(set(SUPPLY_TABLE) ^ set(cells))


def test_the_public_list_of_donations_needs_no_token(
    client: Any, books: dict[str, str], catch_up: Callable[[], int]
) -> None:
    catch_up()
    response = client.get("/supplies/donations/public")
    assert response.status_code == 200, response.get_data(as_text=True)
    text = response.get_data(as_text=True)
    assert books["receipt"] in text
    assert DONOR_CONTACT["phone"] not in text and DONOR_CONTACT["name"] not in text
    # Every other supplies read still asks for one.
    for path in ("/supplies/stock", "/supplies/catalogue", "/supplies/needs"):
        assert client.get(path).status_code == 401, path
