"""A lone surrogate anywhere in a JSON body is a 422 naming the field, and writes nothing.

``json.loads`` turns the escape ``"\\ud800"`` into a string that no UTF-8 encoder takes: not the
Redis client's, not the response's. Every text field of every body is tried, nested ones too;
the fields come from ``/openapi.json``, so a new field or endpoint is covered without a change
here (and ``test_every_body_of_the_api_is_tried`` fails when an endpoint is missing below).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

D = "dispatcher@gangwen"
HC = "handler@gangwen/chenqiao"
FL = "field@gangwen/chenqiao/lidu"
LIDU = "gangwen/chenqiao/lidu"
LONE = "\ud800"

STAFF = {
    "staff_id": "wang.fang",
    "name": "王芳",
    "unit": LIDU,
    "kind": "volunteer",
    "party_member": False,
    "quarantine_trained": True,
}
PROFILE = {k: v for k, v in STAFF.items() if k != "staff_id"}
SHIFT = {
    "shift_id": "night-1",
    "start": "2090-03-02T22:00:00+08:00",
    "end": "2090-03-03T06:00:00+08:00",
}

ADMIN = "admin@gangwen"
RECEIPT = "JZ-gangwen.chenqiao.lidu-0001"  # the donation the app's stock came with
DONATION = {
    "unit": LIDU,
    "donor": {
        "kind": "company",
        "name": "某超市",
        "contact": {"name": "王经理", "phone": "13800000000"},
    },
    "received_by": "库管员",
    "items": [{"item": "口罩", "quantity": 10}],
    "cash": {"amount_fen": 100, "earmarks": [{"purpose": "防护物资", "amount_fen": 50}]},
    "note": "捐赠",
}
TRANSFER = {
    "from_unit": "gangwen/chenqiao",
    "to_unit": LIDU,
    "items": [{"item": "口罩", "quantity": 5}],
    "note": "下拨",
}

# endpoint -> (path template, sender, state of the incident it acts on, valid body)
BODIES: dict[str, tuple[str, str, str | None, dict[str, Any]]] = {
    "report-supplies": ("/incidents", D, None, {}),  # filled from the report_body fixture
    "report-visit": ("/incidents", D, None, {}),
    "dispatch": ("/incidents/{id}/dispatch", D, "dispatched", {"unit": "gangwen/binjiang"}),
    "sign-for": ("/incidents/{id}/sign-for", HC, "dispatched", {"note": "已签收"}),
    "return": ("/incidents/{id}/return", HC, "dispatched", {"reason": "非本单位辖区"}),
    "hand-down": ("/incidents/{id}/hand-down", HC, "signed", {"community": LIDU, "note": "请"}),
    "resolve": (
        "/incidents/{id}/resolve",
        HC,
        "handed_down",
        {"summary": "已处理", "signed_off_by": "负责同志"},
    ),
    "return-visit": ("/incidents/{id}/return-visit", D, "resolved", {"result": "satisfied"}),
    "close": ("/incidents/{id}/close", D, "resolved", {"note": "归档"}),
    "link-call": (
        "/incidents/{id}/link-call",
        D,
        "dispatched",
        {"caller": {"name": "赵先生", "phone": "13700001111"}, "place": "丽都", "note": "重复"},
    ),
    "claim": ("/incidents/{id}/claim", FL, "handed_down", {"expected_version": 4}),
    "take-over": ("/incidents/{id}/take-over", FL, "handed_down", {}),
    "release": ("/incidents/{id}/release", HC, "handed_down", {"reason": "交回"}),
    "claim-next": (f"/units/{LIDU}/queue/claim-next", FL, None, {"kind": "quarantine_visit"}),
    "register-staff": ("/staff", HC, None, {**STAFF, "staff_id": "li.na"}),
    "profile": ("/staff/wang.fang/profile", HC, None, PROFILE),
    "deactivate": ("/staff/wang.fang/deactivate", HC, None, {"reason": "返乡"}),
    "shifts": ("/staff/wang.fang/shifts", HC, None, SHIFT),
    "cancel-shift": ("/staff/wang.fang/shifts/night-0/cancel", HC, None, {"reason": "有事"}),
    "catalogue": (
        "/supplies/catalogue",
        ADMIN,
        None,
        {"name": "体温计", "category": "temperature", "unit": "支"},
    ),
    "donation": ("/supplies/donations", HC, None, DONATION),
    "correction": (
        f"/supplies/donations/{RECEIPT}/corrections",
        HC,
        None,
        {"reason": "录入有误", "items": [{"item": "口罩", "quantity": 5}]},
    ),
    "transfer": ("/supplies/transfers", HC, None, TRANSFER),
    "receipt": (
        "/supplies/transfers/{transfer}/receipt",
        HC,
        None,
        {"received": [{"item": "口罩", "quantity": 4}], "loss_reason": "破损"},
    ),
    "need": (
        "/supplies/needs",
        HC,
        None,
        {"unit": LIDU, "items": [{"item": "额温枪", "quantity": 2}], "note": "求助"},
    ),
    "close-need": ("/supplies/needs/{need}/close", HC, None, {"reason": "已解决"}),
    "stocktake": (
        "/supplies/stocktakes",
        HC,
        None,
        {"unit": LIDU, "item": "口罩", "counted": 5, "reason": "盘点"},
    ),
}
TEMPLATES = {template for template, *_ in BODIES.values()}
NO_TEXT = {"claim", "take-over", "claim-next"}  # an expected version, or an enum, only


def openapi_path(url: str) -> str:
    return (
        url.replace("{id}", "{incident_id}")
        .replace(LIDU, "{unit}")
        .replace("wang.fang", "{staff_id}")
        .replace("night-0", "{shift_id}")
        .replace(RECEIPT, "{receipt}")
        .replace("{transfer}", "{transfer_id}")
        .replace("{need}", "{need_id}")
    )


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def text_fields(
    spec: dict[str, Any], schema: dict[str, Any], body: Any, prefix: tuple[Any, ...] = ()
) -> Iterator[tuple[Any, ...]]:
    """The paths of the free-text fields (strings with no enum or format) a body may carry;
    into nested objects and into the first item of a list of objects the valid body has."""
    for name, prop in resolve(spec, schema).get("properties", {}).items():
        prop = resolve(spec, prop)
        value = body.get(name) if isinstance(body, dict) else None
        if "properties" in prop:
            if isinstance(value, dict):
                yield from text_fields(spec, prop, value, (*prefix, name))
        elif prop.get("type") == "array":
            if value and isinstance(value, list):
                yield from text_fields(spec, prop["items"], value[0], (*prefix, name, 0))
        elif prop.get("type") in ("string", ["string", "null"]) and not (
            "enum" in prop or "format" in prop
        ):
            yield (*prefix, name)


def get(body: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        try:
            body = body[part]
        except (KeyError, IndexError, TypeError):
            return ""
    return body


def put(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A deep copy of ``body`` with ``value`` at ``path``."""
    copy = json.loads(json.dumps(body))
    node = copy
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return copy


@pytest.fixture
def spec(client: Any) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").get_json()
    return document


@pytest.fixture
def send(client: Any, auth: Any) -> Callable[..., Any]:
    def post(url: str, as_: str, body: Any) -> Any:
        # ensure_ascii keeps the lone surrogate an escape, as a client's JSON encoder sends it
        data = json.dumps(body, ensure_ascii=True).encode()
        return client.post(url, data=data, content_type="application/json", headers=auth(as_))

    return post


@pytest.fixture
def ready(
    client: Any,
    auth: Any,
    prepare: Callable[..., str],
    report_body: Callable[..., dict[str, Any]],
    catch_up: Callable[[], int],
) -> Callable[[str], tuple[str, str, dict[str, Any]]]:
    """ready(endpoint) -> (url, sender, valid body), with what it acts on in place."""

    def make(endpoint: str) -> tuple[str, str, dict[str, Any]]:
        template, as_, state, body = BODIES[endpoint]
        if endpoint == "report-supplies":
            body = report_body("supply_delivery")
        elif endpoint == "report-visit":
            body = report_body("quarantine_visit")
        url = template
        if state is not None:
            url = template.format(id=prepare(state))
        if template.startswith("/staff/"):
            response = client.post("/staff", json=STAFF, headers=auth(HC))
            assert response.status_code == 201, response.get_data(as_text=True)
        if "{transfer}" in template:
            response = client.post("/supplies/transfers", json=TRANSFER, headers=auth(HC))
            assert response.status_code == 201, response.get_data(as_text=True)
            url = template.format(transfer=response.get_json()["transfer_id"])
        if "{need}" in template:
            need = {"unit": LIDU, "items": [{"item": "额温枪", "quantity": 2}]}
            response = client.post("/supplies/needs", json=need, headers=auth(HC))
            assert response.status_code == 201, response.get_data(as_text=True)
            url = template.format(need=response.get_json()["need_id"])
        catch_up()
        return url, as_, body

    return make


def test_every_body_of_the_api_is_tried(spec: dict[str, Any]) -> None:
    with_body = {
        path
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "requestBody" in operation
    }
    assert with_body == {openapi_path(t) for t in TEMPLATES}


@pytest.mark.parametrize("endpoint", list(BODIES))
def test_a_lone_surrogate_in_any_text_field_is_a_422_naming_it(
    spec: dict[str, Any],
    ready: Callable[[str], tuple[str, str, dict[str, Any]]],
    send: Callable[..., Any],
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    endpoint: str,
) -> None:
    url, as_, valid = ready(endpoint)
    operation = spec["paths"][openapi_path(BODIES[endpoint][0])]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    paths = list(text_fields(spec, schema, valid))
    if endpoint not in NO_TEXT:
        assert paths, endpoint
    before = log_len()
    for path in paths:
        for value in (LONE, "前" + LONE + "后", f"{get(valid, path)}{LONE}", "\udfff"):
            response = send(url, as_, put(valid, path, value))
            expect_error(response, 422, ".".join(map(str, path)))
            assert log_len() == before, (path, "a refused request wrote to the log")
    # The same body without the surrogate is not refused for those fields.
    response = send(url, as_, valid)
    assert response.status_code != 500, response.get_data(as_text=True)
    if response.status_code == 422:
        named = json.dumps(response.get_json().get("errors", {}))
        assert not any(f'"{path[-1]}"' in named for path in paths), named


KEYS = [(endpoint, None) for endpoint in BODIES] + [
    ("report-supplies", "reporter"),
    ("report-visit", "person"),
]


@pytest.mark.parametrize(("endpoint", "nested"), KEYS)
def test_a_lone_surrogate_in_a_key_is_a_422_in_valid_utf8(
    ready: Callable[[str], tuple[str, str, dict[str, Any]]],
    send: Callable[..., Any],
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    endpoint: str,
    nested: str | None,
) -> None:
    url, as_, valid = ready(endpoint)
    before = log_len()
    if nested is None:
        body, field = {**valid, f"x{LONE}": 1}, "x\\ud800"
    else:
        body, field = put(valid, (nested, LONE), "x"), f"{nested}.\\ud800"
    response = send(url, as_, body)
    response.get_data().decode("utf-8")  # strict: the answer itself is valid UTF-8
    expect_error(response, 422, field)
    assert log_len() == before


def test_an_escaped_surrogate_pair_is_one_character_and_accepted(
    send: Callable[..., Any],
    report_body: Callable[..., dict[str, Any]],
    http: Any,
) -> None:
    body = report_body("supply_delivery", title="口罩 \U0001f637", description="\U0001f600")
    body["reporter"] = {"name": "张\U00020000", "phone": "13812345678"}
    response = send("/incidents", D, body)  # sent as "\ud83d\ude37": a pair, not lone halves
    assert response.status_code == 201, response.get_data(as_text=True)
    incident = http.get(D, response.get_json()["id"]).get_json()
    assert incident["title"] == "口罩 \U0001f637"
    assert incident["reporter"]["name"] == "张\U00020000"


def test_every_request_schema_refuses_lone_surrogates(app: Any) -> None:
    """Each schema a view parses its arguments with derives from the one that checks text."""
    from schemas.base import RequestSchema

    found = []
    for blueprint in app.blueprints.values():
        for endpoint, doc in getattr(blueprint, "_docs", {}).items():
            for method, info in doc.items():
                if not isinstance(info, dict):
                    continue
                for argument in info.get("arguments", {}).get("parameters", []):
                    schema = argument["schema"]
                    schema = schema if isinstance(schema, type) else type(schema)
                    found.append((endpoint, method, schema))
    assert len(found) > 20, found
    strays = [(e, m, s.__name__) for e, m, s in found if not issubclass(s, RequestSchema)]
    assert not strays, strays
