"""Bad input is refused with a 4xx in the one error shape, names what was wrong, writes nothing.

Each case prepares an incident in the state where the action applies, sends the bad request,
checks the answer and that the log did not move, then sends the valid request to prove that the
bad input, and nothing else, was the reason for the refusal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from coordination.domain.access import Role

D = "dispatcher@gangwen"
HC = "handler@gangwen/chenqiao"

ACTIONS = ("dispatch", "sign-for", "return", "hand-down", "resolve", "return-visit", "close")
ENDPOINTS = ("report", *ACTIONS)
# Who sends the request: someone allowed to, in scope.
SENDER = {
    "report": D,
    "dispatch": D,
    "sign-for": HC,
    "return": HC,
    "hand-down": HC,
    "resolve": HC,  # on the unit's behalf: a field worker resolves only what they claimed
    "return-visit": D,
    "close": D,
}
OVER_64_KIB = 64 * 1024 + 1


class Target:
    """One endpoint, ready: the incident in the right state, a sender, a valid body."""

    def __init__(self, client: Any, auth: Any, endpoint: str, url: str, valid: dict[str, Any]):
        self.client = client
        self.auth = auth
        self.endpoint = endpoint
        self.url = url
        self.valid = valid
        self.as_ = SENDER[endpoint]

    def post(
        self,
        body: Any = None,
        *,
        data: bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        auth: dict[str, str] | None = None,
    ) -> Any:
        all_headers = {**(self.auth(self.as_) if auth is None else auth), **(headers or {})}
        if data is None:
            data = json.dumps(body, ensure_ascii=False).encode()
        return self.client.post(self.url, data=data, content_type=content_type, headers=all_headers)

    def accepts_valid_body(self) -> None:
        response = self.post(self.valid)
        expected = 201 if self.endpoint == "report" else 200
        assert response.status_code == expected, response.get_data(as_text=True)


@pytest.fixture
def target_for(
    client: Any,
    auth: Any,
    prepare: Callable[..., str],
    report_body: Callable[..., dict[str, Any]],
    valid_bodies: dict[str, dict[str, Any]],
) -> Callable[[str], Target]:
    states = {
        "dispatch": "dispatched",
        "sign-for": "dispatched",
        "return": "dispatched",
        "hand-down": "signed",
        "resolve": "handed_down",
        "return-visit": "resolved",
        "close": "resolved",
    }

    def make(endpoint: str) -> Target:
        if endpoint == "report":
            return Target(client, auth, endpoint, "/incidents", report_body("supply_delivery"))
        incident_id = prepare(states[endpoint])
        url = f"/incidents/{incident_id}/{endpoint}"
        return Target(client, auth, endpoint, url, valid_bodies[endpoint])

    return make


def refused(
    target: Target,
    response: Any,
    status: int,
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    before: tuple[int, int],
    *fields: str,
) -> dict[str, Any]:
    body = expect_error(response, status, *fields)
    assert log_len() == before, "a refused request wrote to the log"
    target.accepts_valid_body()
    return body


# --- the same bad input, on every endpoint ----------------------------------------------------


def _oversized(valid: dict[str, Any]) -> bytes:
    padded = json.dumps({**valid, "padding": "x" * OVER_64_KIB}).encode()
    assert len(padded) > OVER_64_KIB
    return padded


GENERIC: list[Any] = [
    # (id, keyword arguments for Target.post built from the valid body, status, fields)
    ("malformed-json", lambda v: {"data": b'{"note": "x",'}, 400, ()),
    ("truncated-json", lambda v: {"data": json.dumps(v).encode()[:-1]}, 400, ()),
    ("not-utf8", lambda v: {"data": b'{"note": "\xff\xfe"}'}, 400, ()),
    ("json-array", lambda v: {"body": [v]}, 422, ("_schema",)),
    ("json-string", lambda v: {"body": "sign"}, 422, ("_schema",)),
    ("json-number", lambda v: {"body": 42}, 422, ("_schema",)),
    ("unknown-field", lambda v: {"body": {**v, "bogus": 1}}, 422, ("bogus",)),
    (
        "idempotency-key-space",
        lambda v: {"body": v, "headers": {"Idempotency-Key": "has space"}},
        422,
        ("Idempotency-Key",),
    ),
    (
        "idempotency-key-slash",
        lambda v: {"body": v, "headers": {"Idempotency-Key": "a/b"}},
        422,
        ("Idempotency-Key",),
    ),
    (
        "idempotency-key-too-long",
        lambda v: {"body": v, "headers": {"Idempotency-Key": "k" * 129}},
        422,
        ("Idempotency-Key",),
    ),
    (
        "idempotency-key-empty",
        lambda v: {"body": v, "headers": {"Idempotency-Key": ""}},
        422,
        ("Idempotency-Key",),
    ),
    ("body-over-64-kib", lambda v: {"data": _oversized(v)}, 413, ()),
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("make_request", "status", "fields"),
    [pytest.param(*case[1:], id=case[0]) for case in GENERIC],
)
def test_generic_bad_input_is_refused_on_every_endpoint(
    target_for: Callable[[str], Target],
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    endpoint: str,
    make_request: Callable[[dict[str, Any]], dict[str, Any]],
    status: int,
    fields: tuple[str, ...],
) -> None:
    target = target_for(endpoint)
    before = log_len()
    response = target.post(**make_request(target.valid))
    body = refused(target, response, status, expect_error, log_len, before, *fields)
    if status == 400:  # location -> field -> problems, the body as a whole being "_schema"
        assert isinstance(body["errors"]["json"]["_schema"][0], str), body


IF_MATCH_GARBAGE = ["garbage", '"v3"', '"-1"', '"1.5"', '"3", "4"', "12345678901"]


@pytest.mark.parametrize("endpoint", ACTIONS)
@pytest.mark.parametrize("if_match", IF_MATCH_GARBAGE)
def test_if_match_garbage_is_refused(
    target_for: Callable[[str], Target],
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    endpoint: str,
    if_match: str,
) -> None:
    target = target_for(endpoint)
    before = log_len()
    response = target.post(target.valid, headers={"If-Match": if_match})
    refused(target, response, 422, expect_error, log_len, before, "If-Match")


@pytest.mark.parametrize("endpoint", ACTIONS)
@pytest.mark.parametrize("version", ["3", -1, 1.5, True, None, [3]])
def test_expected_version_of_the_wrong_type_is_refused(
    target_for: Callable[[str], Target],
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    endpoint: str,
    version: Any,
) -> None:
    target = target_for(endpoint)
    before = log_len()
    response = target.post({**target.valid, "expected_version": version})
    refused(target, response, 422, expect_error, log_len, before, "expected_version")


def test_expected_version_is_not_a_field_of_a_report(
    target_for: Callable[[str], Target],
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
) -> None:
    target = target_for("report")
    before = log_len()
    response = target.post({**target.valid, "expected_version": 0})
    refused(target, response, 422, expect_error, log_len, before, "expected_version")


# --- bad input particular to each endpoint ----------------------------------------------------


def _without(*names: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda v: {k: value for k, value in v.items() if k not in names}


def _with(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda v: {**v, **changes}


def _reporter(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda v: {**v, "reporter": {**v["reporter"], **changes}}


def _item(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda v: {**v, "items": [{**v["items"][0], **changes}]}


SPECIFIC: list[Any] = [
    # (endpoint, id, body from the valid body, fields named)
    ("report", "quantity-as-string", _item(quantity="3"), ("items.0.quantity",)),
    ("report", "quantity-as-float", _item(quantity=1.5), ("items.0.quantity",)),
    ("report", "quantity-zero", _item(quantity=0), ("items.0.quantity",)),
    ("report", "quantity-as-bool", _item(quantity=True), ("items.0.quantity",)),
    ("report", "item-missing-name", lambda v: {**v, "items": [{"quantity": 3}]}, ("items.0.item",)),
    ("report", "items-not-a-list", _with(items="masks"), ("items",)),
    ("report", "items-51", _with(items=[{"item": "口罩", "quantity": 1}] * 51), ("items",)),
    ("report", "epidemic-maybe", _with(epidemic="maybe"), ("epidemic",)),
    ("report", "epidemic-null", _with(epidemic=None), ("epidemic",)),
    ("report", "kind-unknown", _with(kind="fire"), ("kind",)),
    ("report", "kind-number", _with(kind=3), ("kind",)),
    ("report", "kind-wrong-case", _with(kind="SUPPLY_DELIVERY"), ("kind",)),
    ("report", "priority-unknown", _with(priority="asap"), ("priority",)),
    ("report", "category-unknown", _with(kind="work_order", category="praise"), ("category",)),
    ("report", "title-201", _with(title="题" * 201), ("title",)),
    ("report", "title-empty", _with(title=""), ("title",)),
    ("report", "title-number", _with(title=5), ("title",)),
    ("report", "description-4001", _with(description="述" * 4001), ("description",)),
    ("report", "address-201", _with(address="址" * 201), ("address",)),
    ("report", "unknown-nested-field", _reporter(email="a@b.c"), ("reporter.email",)),
    ("report", "missing-kind", _without("kind"), ("kind",)),
    ("report", "missing-title", _without("title"), ("title",)),
    ("report", "missing-place", _without("place"), ("place",)),
    ("report", "missing-reporter", _without("reporter"), ("reporter",)),
    ("report", "missing-everything", lambda v: {}, ("kind", "title", "place", "reporter")),
    (
        "report",
        "missing-reporter-phone",
        lambda v: {**v, "reporter": {"name": "张三"}},
        ("reporter.phone",),
    ),
    ("report", "reporter-not-an-object", _with(reporter="张三 13812345678"), ("reporter",)),
    ("report", "reporter-name-51", _reporter(name="名" * 51), ("reporter.name",)),
    ("report", "place-unknown", _with(place="火星"), ("place",)),
    ("report", "place-whole-district", _with(place="gangwen"), ("place",)),
    ("report", "place-empty", _with(place=""), ("place",)),
    ("report", "place-101", _with(place="地" * 101), ("place",)),
    ("report", "phone-letters", _reporter(phone="call me"), ("reporter.phone",)),
    ("report", "phone-short", _reporter(phone="12"), ("reporter.phone",)),
    ("report", "phone-too-long", _reporter(phone="1" * 25), ("reporter.phone",)),
    ("report", "phone-number", _reporter(phone=13812345678), ("reporter.phone",)),
    pytest.param(
        "report",
        "phone-trailing-newline",
        _reporter(phone="13812345678\n"),
        ("reporter.phone",),
        # $ would match before a trailing newline; the pattern ends in \Z.
        id="report-phone-trailing-newline",
    ),
    (
        "report",
        "person-bad-phone",
        _with(kind="quarantine_visit", person={"name": "李四", "phone": "x"}),
        ("person.phone",),
    ),
    ("report", "supply-without-items", _with(items=[]), ("items",)),
    ("report", "quarantine-without-person", _with(kind="quarantine_visit"), ("person",)),
    ("report", "work-order-without-category", _with(kind="work_order"), ("category",)),
    ("dispatch", "missing-unit", _without("unit"), ("unit",)),
    ("dispatch", "unit-unknown", _with(unit="gangwen/nowhere"), ("unit",)),
    ("dispatch", "unit-whole-district", _with(unit="gangwen"), ("unit",)),
    ("dispatch", "unit-same-as-now", _with(unit="gangwen/chenqiao"), ("unit",)),
    ("dispatch", "unit-number", _with(unit=5), ("unit",)),
    ("dispatch", "note-1001", _with(note="注" * 1001), ("note",)),
    ("sign-for", "note-1001", _with(note="注" * 1001), ("note",)),
    ("sign-for", "note-number", _with(note=5), ("note",)),
    ("return", "reason-empty", _with(reason=""), ("reason",)),
    ("return", "reason-blank", _with(reason="   "), ("reason",)),
    ("return", "reason-missing", _without("reason"), ("reason",)),
    ("return", "reason-null", _with(reason=None), ("reason",)),
    ("return", "reason-1001", _with(reason="因" * 1001), ("reason",)),
    ("hand-down", "community-unknown", _with(community="nowhere"), ("community",)),
    (
        "hand-down",
        "community-of-another-street",
        _with(community="gangwen/binjiang/wanghai"),
        ("community",),
    ),
    ("hand-down", "community-is-a-street", _with(community="gangwen/chenqiao"), ("community",)),
    ("hand-down", "community-number", _with(community=5), ("community",)),
    ("resolve", "summary-missing", _without("summary"), ("summary",)),
    ("resolve", "signed-off-by-missing", _without("signed_off_by"), ("signed_off_by",)),
    ("resolve", "summary-empty", _with(summary=""), ("summary",)),
    ("resolve", "summary-blank", _with(summary="  "), ("summary",)),
    ("resolve", "signed-off-by-blank", _with(signed_off_by="  "), ("signed_off_by",)),
    ("resolve", "summary-2001", _with(summary="办" * 2001), ("summary",)),
    ("resolve", "signed-off-by-51", _with(signed_off_by="签" * 51), ("signed_off_by",)),
    ("return-visit", "result-unknown", _with(result="happy"), ("result",)),
    ("return-visit", "result-missing", _without("result"), ("result",)),
    ("return-visit", "result-null", _with(result=None), ("result",)),
    ("return-visit", "note-1001", _with(note="注" * 1001), ("note",)),
    ("close", "note-1001", _with(note="注" * 1001), ("note",)),
    ("close", "note-list", _with(note=["a"]), ("note",)),
]


def _param(case: Any) -> Any:
    if hasattr(case, "marks"):  # already a pytest.param: a known bug, marked
        endpoint, _name, make_body, fields = case.values
        return pytest.param(endpoint, make_body, fields, marks=case.marks, id=case.id)
    endpoint, name, make_body, fields = case
    return pytest.param(endpoint, make_body, fields, id=f"{endpoint}-{name}")


@pytest.mark.parametrize(("endpoint", "make_body", "fields"), [_param(c) for c in SPECIFIC])
def test_bad_field_is_refused_and_named(
    target_for: Callable[[str], Target],
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    endpoint: str,
    make_body: Callable[[dict[str, Any]], dict[str, Any]],
    fields: tuple[str, ...],
) -> None:
    target = target_for(endpoint)
    before = log_len()
    response = target.post(make_body(target.valid))
    refused(target, response, 422, expect_error, log_len, before, *fields)


def test_every_endpoint_has_particular_cases() -> None:
    covered = {_param(c).values[0] for c in SPECIFIC}
    assert covered == set(ENDPOINTS)


def test_longest_allowed_text_is_accepted(
    target_for: Callable[[str], Target], log_len: Callable[[], tuple[int, int]]
) -> None:
    target = target_for("report")
    response = target.post({**target.valid, "title": "题" * 200, "description": "述" * 4000})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["incident"]["title"] == "题" * 200
    assert log_len() == (2, 2)


# --- JSON that the parser itself chokes on ------------------------------------------------------

# json.loads raises RecursionError and a plain ValueError on these, not JSONDecodeError; the
# parser must still answer 400 and never read them as an empty body (which would write).


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "make_data",
    [
        pytest.param(lambda v: b"[" * 30000 + b"]" * 30000, id="nested-30000"),
        pytest.param(
            lambda v: json.dumps(v)[:-1].encode() + b', "x": ' + b"9" * 5000 + b"}",
            id="integer-5000-digits",
        ),
    ],
)
def test_json_the_parser_cannot_take_is_a_400(
    target_for: Callable[[str], Target],
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    endpoint: str,
    make_data: Callable[[dict[str, Any]], bytes],
) -> None:
    target = target_for(endpoint)
    before = log_len()
    data = make_data(target.valid)
    assert len(data) <= 64 * 1024
    response = target.post(data=data)
    assert response.status_code != 500, response.get_data(as_text=True)
    assert log_len() == before, f"unreadable JSON was written: {response.status_code}"
    body = refused(target, response, 400, expect_error, log_len, before)
    assert isinstance(body["errors"]["json"]["_schema"][0], str), body


# --- who is asking ---------------------------------------------------------------------------


@pytest.fixture
def revoked(app: Any) -> str:
    store = app.extensions["coordination"].tokens
    secret, token = store.create(Role.DISPATCHER, "gangwen", "revoked dispatcher")
    assert store.revoke(token.id)
    return secret


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "authorization",
    [
        "<missing>",
        "",
        "Bearer",
        "Bearer ",
        "Bearer cdn_garbage",
        "Basic ZGlzcGF0Y2hlcg==",
        "<revoked>",
        "<secret-without-scheme>",
    ],
)
def test_writes_without_a_valid_token_are_401(
    target_for: Callable[[str], Target],
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    tokens: dict[str, str],
    revoked: str,
    endpoint: str,
    authorization: str,
) -> None:
    target = target_for(endpoint)
    headers = {
        "<missing>": {},
        "<revoked>": {"Authorization": f"Bearer {revoked}"},
        "<secret-without-scheme>": {"Authorization": tokens[SENDER[endpoint]]},
    }.get(authorization, {"Authorization": authorization})
    before = log_len()
    response = target.post(target.valid, auth=headers)
    refused(target, response, 401, expect_error, log_len, before, "Authorization")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("suffix", ["", "/events"])
@pytest.mark.parametrize("authorization", [None, "Bearer nope", "<revoked>"])
def test_reads_without_a_valid_token_are_401(
    client: Any,
    prepare: Callable[..., str],
    expect_error: Callable[..., dict[str, Any]],
    revoked: str,
    suffix: str,
    authorization: str | None,
) -> None:
    incident_id = prepare("dispatched")
    if authorization == "<revoked>":
        authorization = f"Bearer {revoked}"
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get(f"/incidents/{incident_id}{suffix}", headers=headers)
    expect_error(response, 401, "Authorization")


def test_a_revoked_token_stops_working_at_once(
    app: Any,
    client: Any,
    prepare: Callable[..., str],
    expect_error: Callable[..., Any],
    catch_up: Callable[[], int],
) -> None:
    incident_id = prepare("dispatched")
    catch_up()
    store = app.extensions["coordination"].tokens
    secret, token = store.create(Role.VIEWER, "gangwen", "short-lived viewer")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"/incidents/{incident_id}", headers=headers).status_code == 200
    store.revoke(token.id)
    expect_error(client.get(f"/incidents/{incident_id}", headers=headers), 401, "Authorization")


# --- what is not there -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nope", 404),
        ("POST", "/nope", 404),
        ("GET", "/incidents/{id}/nope", 404),
        ("POST", "/incidents/{id}/reopen", 404),
        ("DELETE", "/incidents", 405),
        ("PUT", "/incidents/{id}", 405),
        ("DELETE", "/incidents/{id}", 405),
        ("PATCH", "/incidents/{id}", 405),
        ("GET", "/incidents/{id}/sign-for", 405),
        ("PUT", "/incidents/{id}/close", 405),
        ("POST", "/incidents/{id}/events", 405),
        ("POST", "/incidents/{id}", 405),
    ],
)
@pytest.mark.parametrize("with_token", [True, False], ids=["token", "no-token"])
def test_unknown_urls_and_wrong_methods_answer_in_the_error_shape(
    client: Any,
    auth: Any,
    prepare: Callable[..., str],
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    method: str,
    path: str,
    status: int,
    with_token: bool,
) -> None:
    incident_id = prepare("dispatched")
    before = log_len()
    headers = auth(D) if with_token else {}
    response = client.open(
        path.format(id=incident_id), method=method, json={"note": "x"}, headers=headers
    )
    expect_error(response, status)
    assert log_len() == before
    if status == 405:
        allowed = {m.strip() for m in response.headers.get("Allow", "").split(",")}
        assert method not in allowed and allowed & {"GET", "POST"}, response.headers


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/incidents", {"GET", "POST"}),
        ("PUT", "/incidents/{id}", {"GET"}),
        ("GET", "/incidents/{id}/sign-for", {"POST"}),
        ("POST", "/incidents/{id}/events", {"GET"}),
        ("DELETE", "/units/gangwen/queue", {"GET"}),
        ("GET", "/units/gangwen/queue/claim-next", {"POST"}),
        ("PATCH", "/staff", {"POST"}),
        ("POST", "/healthz", {"GET"}),
        ("POST", "/openapi.json", {"GET"}),
    ],
)
def test_a_wrong_method_names_the_allowed_ones(
    client: Any,
    auth: Any,
    prepare: Callable[..., str],
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    method: str,
    path: str,
    allowed: set[str],
) -> None:
    incident_id = prepare("dispatched")
    before = log_len()
    response = client.open(path.format(id=incident_id), method=method, headers=auth(D))
    expect_error(response, 405)
    named = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed <= named <= allowed | {"HEAD", "OPTIONS"}, named
    assert log_len() == before


@pytest.mark.parametrize(
    "incident_id",
    [
        "gangwen-20200101-deadbeef",
        "nowhere-20200101-deadbeef",
        "gangwen",
        "x",
        "gangwen--",
        "-gangwen-1",
        "gangwen%2Fchenqiao-20200101-deadbeef",
    ],
)
@pytest.mark.parametrize("suffix", ["", "/events", "/sign-for", "/close"])
def test_unknown_incident_is_404_in_the_error_shape(
    client: Any,
    auth: Any,
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    incident_id: str,
    suffix: str,
) -> None:
    before = log_len()
    url = f"/incidents/{incident_id}{suffix}"
    if suffix in ("", "/events"):
        response = client.get(url, headers=auth("admin@gangwen"))
    else:
        response = client.post(url, json={}, headers=auth("admin@gangwen"))
    expect_error(response, 404)
    assert log_len() == before
