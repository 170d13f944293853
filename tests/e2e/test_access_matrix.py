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

from collections.abc import Callable
from typing import Any

import pytest

from coordination.domain.access import Role

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
        assert log_len()[1] == written["position"] > before[1]
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
