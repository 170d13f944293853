"""Bad input to the supplies writes is refused with a 4xx in the one error shape, names what was
wrong, and writes nothing: negative or zero quantities, unknown items (with close matches),
units out of scope, cash in fractions of a fen, transfers to oneself, receipts of transfers
that do not exist, more received than was sent, and corrections the stock cannot bear.

Each case starts from the same books (a donation to 陈桥街道, a transfer from there to 丽都社区
and a plea), sends the bad request, checks the answer and that the log did not move, then sends
the endpoint's valid request to prove that the bad input, and nothing else, was the reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis as redis_lib
from flask import Flask
from supplies import ADMIN as ADMIN_ACTOR
from supplies import seed_catalogue

from coordination.api.app import create_app
from coordination.config import Config
from coordination.domain.commands import DispatchTransfer, PostNeed, ReceiveDonation
from coordination.domain.values import Donor, DonorKind, Line

DISTRICT = "gangwen"
CHENQIAO = "gangwen/chenqiao"
LIDU = "gangwen/chenqiao/lidu"
BINJIANG = "gangwen/binjiang"
HC = "handler@gangwen/chenqiao"
HB = "handler@gangwen/binjiang"
FL = "field@gangwen/chenqiao/lidu"
VIEWER = "viewer@gangwen"
ADMIN = "admin@gangwen"

RECEIPT = "JZ-gangwen.chenqiao-0001"  # 100 masks and 11 thermometers; 80 masks sent on
TRANSFER = "DB-gangwen.chenqiao-0001"  # 80 masks to 丽都, in transit
NEED = "QZ-gangwen.chenqiao-0001"  # 20 thermometers asked for

COMPANY = {
    "kind": "company",
    "name": "某公司",
    "contact": {"name": "王经理", "phone": "13912345678"},
}
CASH = {
    "amount_fen": 15_000_000,
    "earmarks": [{"purpose": "援鄂医护人员", "amount_fen": 8_000_000}],
}

# endpoint -> (url, sender, a valid body, its status); {id} is the entry named in the path
PATH_IDS = {"correction": RECEIPT, "receipt": TRANSFER, "close": NEED}
VALID: dict[str, tuple[str, str, dict[str, Any], int]] = {
    "catalogue": (
        "/supplies/catalogue",
        ADMIN,
        {"name": "一次性手套", "category": "protection", "unit": "副"},
        201,
    ),
    "donation": (
        "/supplies/donations",
        HC,
        {
            "unit": CHENQIAO,
            "donor": COMPANY,
            "received_by": "物资保障组",
            "items": [{"item": "口罩", "quantity": 1000}],
            "cash": CASH,
        },
        201,
    ),
    "correction": (
        "/supplies/donations/{id}/corrections",
        HC,
        {
            "reason": "少记了二十个",
            "items": [{"item": "口罩", "quantity": 120}, {"item": "额温枪", "quantity": 11}],
        },
        201,
    ),
    "transfer": (
        "/supplies/transfers",
        HC,
        {"from_unit": CHENQIAO, "to_unit": LIDU, "items": [{"item": "额温枪", "quantity": 5}]},
        201,
    ),
    "receipt": (
        "/supplies/transfers/{id}/receipt",
        HC,
        {"received": [{"item": "口罩", "quantity": 78}], "loss_reason": "两个破损"},
        201,
    ),
    "need": (
        "/supplies/needs",
        HC,
        {"unit": CHENQIAO, "items": [{"item": "额温枪", "quantity": 20}], "note": "物资告急"},
        201,
    ),
    "close": ("/supplies/needs/{id}/close", HC, {"reason": "已由区里调拨"}, 200),
    "stocktake": (
        "/supplies/stocktakes",
        HC,
        {"unit": CHENQIAO, "item": "口罩", "counted": 19, "reason": "一个污损"},
        201,
    ),
}


@dataclass(frozen=True)
class Case:
    endpoint: str
    name: str
    change: Callable[[dict[str, Any]], Any]
    status: int
    fields: tuple[str, ...] = ()
    sender: str | None = None
    number: str | None = None  # another entry named in the path
    errors: dict[str, Any] = field(default_factory=dict)  # other members of "errors" expected


def put(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda body: {**body, **changes}


def line(item: str = "口罩", quantity: Any = 10) -> list[dict[str, Any]]:
    return [{"item": item, "quantity": quantity}]


def cash(amount: Any = 100, earmark: Any = None) -> dict[str, Any]:
    gift: dict[str, Any] = {"amount_fen": amount}
    if earmark is not None:
        gift["earmarks"] = [{"purpose": "防护物资", "amount_fen": earmark}]
    return gift


def nested(key: str, **changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda body: {**body, key: {**body[key], **changes}}


RECEIVED = "received.0.quantity"
BAD_QUANTITIES = [0, -1, 1.5, "3", True, None, 100_000_001, "十"]
FRACTIONS_OF_FEN = [1.5, "1.5", 0.01, 0, -100, True, "100", 100_000_000_001]

CASES = [
    # quantities: whole, positive, capped, at every endpoint that takes them
    *[
        Case(e, f"quantity {q!r}", put(**{key: line(quantity=q)}), 422, (f"{key}.0.quantity",))
        for e, key in (("donation", "items"), ("correction", "items"), ("transfer", "items"))
        for q in BAD_QUANTITIES
    ],
    Case("need", "quantity 0", put(items=line(quantity=0)), 422, ("items.0.quantity",)),
    Case("need", "quantity -5", put(items=line(quantity=-5)), 422, ("items.0.quantity",)),
    Case("receipt", "received -1", put(received=line(quantity=-1)), 422, ("received.0.quantity",)),
    Case(
        "receipt", "received 0.5", put(received=line(quantity=0.5)), 422, ("received.0.quantity",)
    ),
    Case("stocktake", "counted -1", put(counted=-1), 422, ("counted",)),
    Case("stocktake", "counted 2.5", put(counted=2.5), 422, ("counted",)),
    Case("stocktake", "counted '19'", put(counted="19"), 422, ("counted",)),
    Case("donation", "51 lines", put(items=line() * 51), 422, ("items",)),
    Case("transfer", "no lines", put(items=[]), 422, ("items",)),
    Case("need", "no lines", put(items=[]), 422, ("items",)),
    Case("donation", "neither items nor cash", put(items=[], cash=None), 422, ("items",)),
    # unknown items: named at their field, with what they may have meant
    *[
        Case(
            e,
            "unknown item 口照",
            put(items=[{"item": "额温枪", "quantity": 1}, {"item": "口照", "quantity": 1}]),
            422,
            ("items.1.item",),
            errors={"close_matches": {"口照": ["口罩"]}},
        )
        for e in ("donation", "correction", "transfer", "need")
    ],
    Case(
        "stocktake",
        "unknown item 医用洒精",
        put(item="医用洒精"),
        422,
        ("item",),
        errors={"close_matches": {"医用洒精": ["医用酒精"]}},
    ),
    Case("receipt", "an item not sent", put(received=line("额温枪", 1)), 422, ("received.0.item",)),
    # units out of scope, or no unit at all
    Case("donation", "unit out of scope", put(unit=CHENQIAO), 403, ("unit",), sender=HB),
    Case("donation", "a field token", put(unit=LIDU), 403, ("role",), sender=FL),
    Case("donation", "a viewer", lambda b: b, 403, ("role",), sender=VIEWER),
    Case("donation", "unknown unit", put(unit="gangwen/nowhere"), 422, ("unit",)),
    Case("need", "unit out of scope", lambda b: b, 403, ("unit",), sender=HB),
    Case("stocktake", "unit out of scope", lambda b: b, 403, ("unit",), sender=HB),
    Case("transfer", "from a unit out of scope", lambda b: b, 403, ("from_unit",), sender=HB),
    Case("transfer", "from an unknown unit", put(from_unit="gangwen/x"), 422, ("from_unit",)),
    Case("catalogue", "a handler", lambda b: b, 403, ("district",), sender=HC),
    Case("catalogue", "a dispatcher", lambda b: b, 403, ("role",), sender="dispatcher@gangwen"),
    Case("catalogue", "a street as district", put(district=CHENQIAO), 422, ("district",)),
    Case("catalogue", "unknown district", put(district="atlantis"), 422, ("district",)),
    Case("catalogue", "unknown category", put(category="food"), 422, ("category",)),
    Case("catalogue", "an item there already", put(name="口罩"), 409, ("name",)),
    Case("catalogue", "a counting unit too long", put(unit="个" * 11), 422, ("unit",)),
    # cash in whole fen
    *[
        Case("donation", f"cash {a!r} fen", put(cash=cash(a)), 422, ("cash.amount_fen",))
        for a in FRACTIONS_OF_FEN
    ],
    Case(
        "donation",
        "an earmark of 0.5 fen",
        put(cash=cash(100, 0.5)),
        422,
        ("cash.earmarks.0.amount_fen",),
    ),
    Case("donation", "earmarks over the gift", put(cash=cash(100, 101)), 422, ("cash.earmarks",)),
    Case("correction", "cash 99.9 fen", put(cash=cash(99.9)), 422, ("cash.amount_fen",)),
    # donors
    Case("donation", "a donor of no kind", nested("donor", kind="alien"), 422, ("donor.kind",)),
    Case(
        "donation", "a named donor without a name", nested("donor", name=""), 422, ("donor.name",)
    ),
    Case(
        "donation",
        "a donor's bad phone",
        nested("donor", contact={"name": "王", "phone": "call me"}),
        422,
        ("donor.contact.phone",),
    ),
    Case("donation", "nobody received it", put(received_by=""), 422, ("received_by",)),
    Case("donation", "an unknown field", put(colour="red"), 422, ("colour",)),
    # transfers
    Case("transfer", "to itself", put(to_unit=CHENQIAO), 422, ("to_unit",)),
    Case("transfer", "across the tree", put(to_unit=BINJIANG), 422, ("to_unit",)),
    Case("transfer", "to an unknown unit", put(to_unit="gangwen/nowhere"), 422, ("to_unit",)),
    Case(
        "transfer",
        "more than is available",
        put(items=line("口罩", 21)),
        409,
        ("items",),
        errors={"available": {"口罩": 20}},
    ),
    # receipts
    Case("receipt", "of an unknown transfer", lambda b: b, 404, number=f"{TRANSFER[:-4]}0099"),
    Case("receipt", "of a malformed transfer id", lambda b: b, 404, number="not-a-transfer"),
    Case("receipt", "of a receipt number", lambda b: b, 404, number=RECEIPT),
    Case(
        "receipt",
        "more than was sent",
        put(received=line(quantity=81)),
        422,
        ("received.0.quantity",),
    ),
    Case(
        "receipt",
        "less than sent, no reason",
        put(received=line(quantity=70), loss_reason=""),
        422,
        ("loss_reason",),
    ),
    Case("receipt", "by a handler out of scope", lambda b: b, 404, sender=HB),
    # corrections
    Case(
        "correction",
        "that would make stock negative",
        put(items=[{"item": "口罩", "quantity": 10}, {"item": "额温枪", "quantity": 11}]),
        409,
        ("items",),
        errors={"available": {"口罩": 20}},
    ),
    Case("correction", "of an unknown receipt", lambda b: b, 404, number=f"{RECEIPT[:-4]}0042"),
    Case("correction", "of a malformed receipt", lambda b: b, 404, number="JZ-"),
    Case("correction", "of a receipt out of scope", lambda b: b, 404, sender=HB),
    Case("correction", "without a reason", put(reason=""), 422, ("reason",)),
    Case(
        "correction",
        "that changes nothing",
        put(items=[{"item": "口罩", "quantity": 100}, {"item": "额温枪", "quantity": 11}]),
        422,
        ("items",),
    ),
    # pleas
    Case("close", "of an unknown plea", lambda b: b, 404, number=f"{NEED[:-4]}0007"),
    Case("close", "of a malformed plea id", lambda b: b, 404, number="QZ-gangwen.nowhere-0001"),
    Case("close", "without a reason", put(reason=""), 422, ("reason",)),
    Case("close", "by a viewer", lambda b: b, 403, ("role",), sender=VIEWER),
    # text no UTF-8 encoder takes (a lone surrogate), wherever it is
    Case(
        "donation",
        "a lone surrogate in a name",
        nested("donor", name="王\ud800"),
        422,
        ("donor.name",),
    ),
    Case(
        "transfer",
        "a lone surrogate in an item",
        put(items=line("口\udc00")),
        422,
        ("items.0.item",),
    ),
    Case("correction", "a lone surrogate in a reason", put(reason="\ud83d"), 422, ("reason",)),
    Case("need", "a lone surrogate in a key", put(**{"n\udfffote": "x"}), 422),
    # stock-takes
    Case("stocktake", "a difference without a reason", put(reason=""), 422, ("reason",)),
    Case("stocktake", "an unknown unit", put(unit="nowhere"), 422, ("unit",)),
]


@pytest.fixture
def app(redis_url: str, redis: redis_lib.Redis) -> Flask:
    """The application on the emptied server with the standard catalogue and these books:
    100 masks and 11 thermometers given to 陈桥街道, 80 masks of them sent on to 丽都社区, and a
    plea of 陈桥 for 20 thermometers."""
    application = create_app(Config(redis_url=redis_url), redis=redis)
    application.config["TESTING"] = True
    services = application.extensions["coordination"]
    seed_catalogue(services)
    donor = Donor(DonorKind.COMPANY, "某公司")
    lines = (Line("口罩", 100), Line("额温枪", 11))
    supplies = services.supplies
    supplies.execute(ADMIN_ACTOR, CHENQIAO, ReceiveDonation(CHENQIAO, donor, "物资保障组", lines))
    supplies.execute(ADMIN_ACTOR, CHENQIAO, DispatchTransfer(LIDU, (Line("口罩", 80),)))
    supplies.execute(ADMIN_ACTOR, CHENQIAO, PostNeed((Line("额温枪", 20),)))
    return application


def case_id(case: Case) -> str:
    return f"{case.endpoint}: {case.name}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_bad_supplies_input_is_refused_named_and_writes_nothing(
    client: Any,
    auth: Callable[[str], dict[str, str]],
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    case: Case,
) -> None:
    template, sender, valid, ok = VALID[case.endpoint]
    number = PATH_IDS.get(case.endpoint, "")
    url = template.format(id=case.number or number)
    before = log_len()

    # Written by json.dumps, which escapes a lone surrogate (\\ud800) as JSON allows.
    raw = json.dumps(case.change(dict(valid)))
    headers = auth(case.sender or sender)
    response = client.post(url, data=raw, content_type="application/json", headers=headers)

    body = expect_error(response, case.status, *case.fields)
    for key, expected in case.errors.items():
        for name, value in expected.items():
            got = body["errors"][key][name]
            if key == "close_matches":
                assert set(value) <= set(got), body
            else:
                assert got == value, body
    assert log_len() == before, "a refused request wrote to the log"

    # The valid request, by its rightful sender, goes through: the bad input was the reason.
    accepted = client.post(template.format(id=number), json=valid, headers=auth(sender))
    assert accepted.status_code == ok, accepted.get_data(as_text=True)
    assert log_len()[1] > before[1]


def test_every_endpoint_has_cases() -> None:
    assert {case.endpoint for case in CASES} == set(VALID)
    assert len({case_id(case) for case in CASES}) == len(CASES)


@pytest.mark.parametrize("endpoint", list(VALID))
def test_writes_without_a_valid_token_are_401(
    client: Any,
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    endpoint: str,
) -> None:
    template, _, valid, _ = VALID[endpoint]
    url = template.format(id=PATH_IDS.get(endpoint, ""))
    before = log_len()
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        expect_error(client.post(url, json=valid, headers=headers), 401)
    assert log_len() == before


@pytest.mark.parametrize("endpoint", list(VALID))
def test_a_body_that_is_not_an_object_is_a_422(
    client: Any,
    auth: Callable[[str], dict[str, str]],
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
    endpoint: str,
) -> None:
    template, sender, _, _ = VALID[endpoint]
    url = template.format(id=PATH_IDS.get(endpoint, ""))
    before = log_len()
    for body in ([], "口罩", 3):
        expect_error(client.post(url, json=body, headers=auth(sender)), 422)
    assert log_len() == before


def test_a_key_reused_with_another_body_is_a_422_and_writes_nothing(
    client: Any,
    auth: Callable[[str], dict[str, str]],
    expect_error: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
) -> None:
    url, sender, valid, _ = VALID["donation"]
    headers = {**auth(sender), "Idempotency-Key": "gift-1"}
    assert client.post(url, json=valid, headers=headers).status_code == 201
    before = log_len()
    other = {**valid, "note": "另一笔"}
    expect_error(client.post(url, json=other, headers=headers), 422, "Idempotency-Key")
    assert log_len() == before
