"""A field token belongs to a staff member and follows them, through HTTP: deactivated, their
token fails at once; moved to another community, it reaches the new one and no longer the old.
A field token resolves only what its holder has claimed (a handler still resolves on the unit's
behalf), and ``/me/assignments`` is a field token's own claims, by its staff id, for nobody else.

Staff are kept through ``POST /staff`` by 陈桥's handler; reads wait for the projector, which
the ``catch_up`` fixture runs here and now. Nothing mocks Redis.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from people import (
    BINJIANG,
    CHENQIAO,
    HC,
    HUAQIAO,
    LIDU,
    REPORTER,
    RESOLVE,
    VIEWER,
    Api,
    D,
    member_body,
    report_body,
)

from coordination.domain.access import Role
from coordination.store import keys
from coordination.store.tokens import Token, TokenStore, hash_token

ADMIN = "admin@gangwen"
PERSON = {"name": "李四", "phone": "13987654321"}


@pytest.fixture
def api(app: Flask, tokens: dict[str, str], catch_up: Callable[[], int]) -> Api:
    return Reading(app, tokens, catch_up)


class Reading(Api):
    """people.Api, whose reads let the projector catch up first (no worker runs here)."""

    def __init__(self, app: Flask, secrets: dict[str, str], catch_up: Callable[[], int]) -> None:
        super().__init__(app, secrets)
        self.catch_up = catch_up

    def get(self, as_: str, url: str, **query: Any) -> Any:
        self.catch_up()
        return super().get(as_, url, **query)

    @property
    def store(self) -> TokenStore:
        return self.services.tokens

    def token_of(self, label: str) -> Token:
        found = self.store.lookup(self.secrets[label])
        assert found is not None, f"{label}'s token is gone"
        return found


def test_a_deactivated_members_field_token_fails_at_once(
    api: Reading, expect_error: Callable[..., Any]
) -> None:
    api.register(member_body("li.gang", "李刚", LIDU, "cadre"))
    li = api.field_token("li.gang")
    order = api.handed_down(report_body("quarantine_visit", person=PERSON))["id"]
    other = api.handed_down(report_body("work_order"))["id"]
    seen = api.ok(api.get(li, f"/incidents/{order}"))
    assert (seen["reporter"], seen["person"]) == (REPORTER, PERSON)  # in full, while active
    api.ok(api.post(li, f"/incidents/{other}/claim"))

    api.ok(api.post(HC, "/staff/li.gang/deactivate", {"reason": "调离社区"}))

    for response in (
        api.get(li, f"/incidents/{order}"),
        api.get(li, f"/incidents/{order}/events"),
        api.get(li, f"/units/{LIDU}/queue"),
        api.get(li, "/me/assignments"),
        api.post(li, f"/incidents/{other}/resolve", RESOLVE),
        api.post(li, f"/incidents/{order}/resolve", RESOLVE),
    ):
        body = expect_error(response, 401)
        assert "李四" not in json.dumps(body, ensure_ascii=False)
    assert [t for t in api.store.list() if t.staff_id == "li.gang"] == []
    # What they held is still the unit's to see to: the handler resolves it on its behalf.
    resolved = api.act(HC, other, "resolve", RESOLVE)
    assert resolved["incident"]["status"] == "resolved"


def test_a_moved_members_field_token_reaches_the_new_community_only(
    api: Reading, expect_error: Callable[..., Any]
) -> None:
    api.register(member_body("li.gang", "李刚", LIDU, "cadre"))
    li = api.field_token("li.gang")
    before = api.token_of(li)
    at_lidu = api.handed_down(report_body("work_order"))["id"]
    body = report_body("work_order", place="花桥新村", address="花桥新村2栋")
    at_huaqiao = api.handed_down(body, community=HUAQIAO)["id"]
    api.ok(api.get(li, f"/incidents/{at_lidu}"))
    expect_error(api.get(li, f"/incidents/{at_huaqiao}"), 404)

    profile = {"name": "李刚", "unit": HUAQIAO, "kind": "cadre", "quarantine_trained": False}
    api.ok(api.post(HC, "/staff/li.gang/profile", profile))

    after = api.token_of(li)  # the same token and secret, now at 花桥
    assert (after.id, after.unit, after.staff_id) == (before.id, HUAQIAO, "li.gang")
    expect_error(api.get(li, f"/incidents/{at_lidu}"), 404)
    expect_error(api.get(li, f"/units/{LIDU}/queue"), 404)
    expect_error(api.post(li, f"/incidents/{at_lidu}/claim"), 404)
    assert api.ok(api.get(li, f"/incidents/{at_huaqiao}"))["reporter"] == REPORTER
    claimed = api.ok(api.post(li, f"/incidents/{at_huaqiao}/claim"))
    assert claimed["incident"]["holder"] == "li.gang"
    resolved = api.ok(api.post(li, f"/incidents/{at_huaqiao}/resolve", RESOLVE))
    assert resolved["incident"]["status"] == "resolved"


def test_a_field_token_resolves_only_what_its_holder_has_claimed(
    api: Reading, expect_error: Callable[..., Any], log_len: Callable[[], tuple[int, int]]
) -> None:
    api.register(member_body("li.gang", "李刚", LIDU, "cadre", trained=False))
    api.register(member_body("wang.fang", "王芳", LIDU, "volunteer", trained=True))
    untrained, trained = api.field_token("li.gang"), api.field_token("wang.fang")
    visit = api.handed_down(report_body("quarantine_visit"))["id"]

    # The untrained member may not claim the visit, nor resolve it unclaimed instead.
    refused = expect_error(api.post(untrained, f"/incidents/{visit}/claim"), 422, "holder")
    assert "trained" in refused["message"], refused
    before = log_len()
    refused = expect_error(api.post(untrained, f"/incidents/{visit}/resolve", RESOLVE), 422)
    assert "claim" in refused["message"], refused
    expect_error(api.post(trained, f"/incidents/{visit}/resolve", RESOLVE), 422, "holder")
    assert log_len() == before, "a refused resolve wrote nothing"

    api.ok(api.post(trained, f"/incidents/{visit}/claim"))
    before = log_len()
    refused = expect_error(api.post(untrained, f"/incidents/{visit}/resolve", RESOLVE), 422)
    assert "wang.fang" in refused["message"], refused
    assert log_len() == before
    resolved = api.ok(api.post(trained, f"/incidents/{visit}/resolve", RESOLVE))
    assert resolved["incident"]["status"] == "resolved"
    assert api.events(HC, visit)[-1]["actor"] == "wang.fang"


@pytest.mark.parametrize("as_", [HC, ADMIN])
def test_a_handler_or_admin_still_resolves_on_the_units_behalf(
    api: Reading, register_staff: Callable[..., str], as_: str
) -> None:
    api.register(member_body("li.gang", "李刚", LIDU, "cadre"))
    li = api.field_token("li.gang")
    unclaimed = api.handed_down(report_body("work_order"))["id"]
    held = api.handed_down(report_body("work_order"))["id"]
    api.ok(api.post(li, f"/incidents/{held}/claim"))
    for incident_id in (unclaimed, held):
        assert api.act(as_, incident_id, "resolve", RESOLVE)["incident"]["status"] == "resolved"


def test_assignments_are_a_field_tokens_own_claims_by_its_staff_id(
    api: Reading, expect_error: Callable[..., Any]
) -> None:
    api.register(member_body("li.gang", "李刚", LIDU, "cadre", trained=True))
    li = api.field_token("li.gang")
    order = api.handed_down(report_body("quarantine_visit", person=PERSON))["id"]
    api.ok(api.post(li, f"/incidents/{order}/claim"))

    # A token named like the cadre, of another role or unit, is not the cadre.
    secret, _ = api.store.create(Role.HANDLER, BINJIANG, "li.gang")
    api.secrets["handler named li.gang"] = secret
    for as_ in ("handler named li.gang", HC, D, VIEWER, ADMIN):
        body = expect_error(api.get(as_, "/me/assignments"), 403, "role")
        assert "field" in body["message"], body
        assert order not in json.dumps(body) and "李四" not in json.dumps(body, ensure_ascii=False)

    page = api.ok(api.get(li, "/me/assignments"))
    assert [(i["id"], i["holder"]) for i in page["items"]] == [(order, "li.gang")]
    assert page["items"][0]["person"] == PERSON

    # Keyed by the staff id, not the name: a second device of the same member sees the same.
    secret, phone = api.store.create(Role.FIELD, LIDU, "李刚的手机", staff_id="li.gang")
    api.secrets["phone"] = secret
    assert (phone.name, phone.staff_id, phone.actor.subject) == ("李刚的手机", "li.gang", "li.gang")
    page = api.ok(api.get("phone", "/me/assignments"))
    assert [i["id"] for i in page["items"]] == [order]


def test_an_old_field_token_record_without_a_staff_id_is_its_names(
    api: Reading, redis: Any
) -> None:
    api.register(member_body("li.gang", "李刚", LIDU, "cadre"))
    secret = "cdn_an-old-token-from-before-staff-ids"
    old = {"id": "tok_0123456789ab", "role": "field", "unit": LIDU, "name": "li.gang"}
    redis.set(keys.token(hash_token(secret)), json.dumps(old))
    redis.hset(keys.tokens_index(), old["id"], hash_token(secret))
    api.secrets["old"] = secret

    token = api.token_of("old")
    assert (token.id, token.unit, token.staff_id, token.actor.subject) == (
        old["id"],
        LIDU,
        "li.gang",
        "li.gang",
    )
    order = api.handed_down(report_body("work_order"))["id"]
    assert api.ok(api.post("old", f"/incidents/{order}/claim"))["incident"]["holder"] == "li.gang"
    assert [i["id"] for i in api.ok(api.get("old", "/me/assignments"))["items"]] == [order]

    # Moving its member rewrites the record, with the staff id it now states.
    profile = {"name": "李刚", "unit": HUAQIAO, "kind": "cadre", "quarantine_trained": False}
    api.ok(api.post(HC, "/staff/li.gang/profile", profile))
    record = json.loads(redis.get(keys.token(hash_token(secret))))
    assert record == {**old, "unit": HUAQIAO, "staff_id": "li.gang"}


def test_a_field_token_needs_a_staff_id_and_other_roles_take_none(app: Flask) -> None:
    store: TokenStore = app.extensions["coordination"].tokens
    with pytest.raises(ValueError, match="staff"):
        store.create(Role.HANDLER, CHENQIAO, "handler", staff_id="li.gang")
    _, token = store.create(Role.FIELD, LIDU, "li.gang")
    assert token.staff_id == "li.gang"
