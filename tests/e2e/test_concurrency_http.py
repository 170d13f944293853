"""Expected versions, idempotency keys and racing clients, through HTTP.

A write may carry the version the client expects (If-Match, or ``expected_version`` in the
body): the current one succeeds, a stale one is a 409 that names the current version in its
ETag. An Idempotency-Key makes a retry return the first result instead of writing twice. When
clients race, the log decides: one wins, the others are refused, nothing is written twice.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
import redis as redis_lib

from coordination.store import keys

D = "dispatcher@gangwen"
HC = "handler@gangwen/chenqiao"
A = "admin@gangwen"


def stream_types(redis: redis_lib.Redis, incident_id: str) -> list[str]:
    """The event types stored for one incident, read from Redis itself: its list holds the
    positions of its records in the log."""
    positions = [int(p) for p in redis.lrange(keys.stream("gangwen", incident_id), 0, -1)]
    log = keys.log("gangwen")
    records = [redis.xrange(log, f"{p}-0", f"{p}-0")[0][1][b"e"] for p in positions]
    return [json.loads(r)["type"] for r in records]


# --- expected version ------------------------------------------------------------------------


@pytest.mark.parametrize("form", ['"{v}"', "{v}", 'W/"{v}"'])
def test_if_match_with_the_current_version_succeeds(
    http: Any, prepare: Callable[..., str], form: str
) -> None:
    incident_id = prepare("dispatched")
    etag = http.get(HC, incident_id).headers["ETag"]
    assert etag == '"2"'
    response = http.act(HC, incident_id, "sign-for", {}, **{"If-Match": form.format(v=2)})
    written = http.ok(response)
    assert written["version"] == 3
    assert response.headers["ETag"] == '"3"'


def test_the_etag_of_a_read_is_what_the_next_write_sends(
    http: Any, prepare: Callable[..., str]
) -> None:
    incident_id = prepare("dispatched")
    etag = http.get(HC, incident_id).headers["ETag"]
    signed = http.act(HC, incident_id, "sign-for", {}, **{"If-Match": etag})
    http.ok(signed)
    handed = http.act(HC, incident_id, "hand-down", {}, **{"If-Match": signed.headers["ETag"]})
    assert http.ok(handed)["incident"]["status"] == "handed_down"


@pytest.mark.parametrize("stale", [2, 0, 1, 4, 99])
def test_if_match_with_another_version_is_409_with_the_current_etag(
    http: Any,
    prepare: Callable[..., str],
    expect_error: Callable[..., Any],
    log_len: Callable[[], tuple[int, int]],
    stale: int,
) -> None:
    incident_id = prepare("signed")  # at version 3
    before = log_len()
    response = http.act(HC, incident_id, "hand-down", {}, **{"If-Match": f'"{stale}"'})
    expect_error(response, 409, "If-Match")
    assert response.headers["ETag"] == '"3"'
    assert log_len() == before
    assert http.ok(http.get(HC, incident_id))["status"] == "signed"
    # With the version the 409 named, the same write goes through.
    retry = http.act(HC, incident_id, "hand-down", {}, **{"If-Match": response.headers["ETag"]})
    assert http.ok(retry)["version"] == 4


def test_expected_version_in_the_body_works_the_same(
    http: Any,
    prepare: Callable[..., str],
    expect_error: Callable[..., Any],
    log_len: Callable[[], tuple[int, int]],
) -> None:
    incident_id = prepare("signed")
    before = log_len()
    stale = http.act(HC, incident_id, "hand-down", {"expected_version": 2})
    expect_error(stale, 409)
    assert stale.headers["ETag"] == '"3"'
    assert log_len() == before
    current = http.act(HC, incident_id, "hand-down", {"expected_version": 3})
    written = http.ok(current)
    assert written["version"] == 4
    assert current.headers["ETag"] == '"4"'
    resolved = http.act(
        HC,
        incident_id,
        "resolve",
        {"summary": "done", "signed_off_by": "chief", "expected_version": 4},
    )
    assert http.ok(resolved)["incident"]["status"] == "resolved"


def test_two_clients_with_the_same_etag_one_wins(
    http: Any, prepare: Callable[..., str], expect_error: Callable[..., Any]
) -> None:
    incident_id = prepare("dispatched")
    etag = http.get(HC, incident_id).headers["ETag"]
    first = http.act(HC, incident_id, "sign-for", {}, **{"If-Match": etag})
    http.ok(first)
    # The second client read the same version; the incident has moved on since.
    second = http.act(A, incident_id, "return", {"reason": "不是我们的"}, **{"If-Match": etag})
    expect_error(second, 409, "If-Match")
    assert second.headers["ETag"] == first.headers["ETag"] == '"3"'


# --- idempotency -----------------------------------------------------------------------------


def test_same_key_and_body_twice_reports_once(
    http: Any,
    redis: redis_lib.Redis,
    report_body: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
) -> None:
    body = report_body("supply_delivery")
    first = http.report(D, body, **{"Idempotency-Key": "call-2020-02-01-0001"})
    second = http.report(D, body, **{"Idempotency-Key": "call-2020-02-01-0001"})
    one, two = http.ok(first, 201), http.ok(second, 201)
    assert (two["id"], two["version"], two["position"]) == (
        one["id"],
        one["version"],
        one["position"],
    )
    assert two["incident"] == one["incident"]
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Location"] == first.headers["Location"]
    assert second.headers["ETag"] == first.headers["ETag"]
    # Only one incident's events are in the log.
    assert log_len() == (2, 2)
    # One incident stream (the ledgers the app was stocked with are streams of their own).
    streams = list(redis.scan_iter(match=keys.stream("gangwen", "gangwen-*")))
    assert streams == [keys.stream("gangwen", one["id"]).encode()]
    assert stream_types(redis, one["id"]) == ["IncidentReported", "IncidentDispatched"]


def test_same_key_different_body_is_422_naming_the_key(
    http: Any,
    report_body: Callable[..., dict[str, Any]],
    expect_error: Callable[..., Any],
    log_len: Callable[[], tuple[int, int]],
) -> None:
    http.ok(http.report(D, report_body(), **{"Idempotency-Key": "k-1"}), 201)
    before = log_len()
    other = http.report(D, report_body(title="另一件事"), **{"Idempotency-Key": "k-1"})
    expect_error(other, 422, "Idempotency-Key")
    assert log_len() == before


def test_the_same_key_of_another_token_is_independent(
    http: Any,
    report_body: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
) -> None:
    body = report_body()
    mine = http.ok(http.report(D, body, **{"Idempotency-Key": "shared-key"}), 201)
    theirs_response = http.report(A, body, **{"Idempotency-Key": "shared-key"})
    theirs = http.ok(theirs_response, 201)
    assert theirs["id"] != mine["id"]
    assert theirs["position"] > mine["position"]
    assert "Idempotent-Replayed" not in theirs_response.headers
    assert log_len() == (4, 4)
    # And each token's own retry still replays its own first result.
    again = http.report(A, body, **{"Idempotency-Key": "shared-key"})
    assert http.ok(again, 201)["id"] == theirs["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert log_len() == (4, 4)


def test_retried_command_returns_the_first_result_even_after_later_writes(
    http: Any,
    redis: redis_lib.Redis,
    prepare: Callable[..., str],
    log_len: Callable[[], tuple[int, int]],
    expect_error: Callable[..., Any],
) -> None:
    incident_id = prepare("dispatched")
    key = {"Idempotency-Key": "sign-1"}
    first = http.ok(http.act(HC, incident_id, "sign-for", {"note": "签收"}, **key))
    replay = http.act(HC, incident_id, "sign-for", {"note": "签收"}, **key)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert http.ok(replay)["position"] == first["position"]
    http.ok(http.act(HC, incident_id, "hand-down", {}))
    before = log_len()
    late = http.act(HC, incident_id, "sign-for", {"note": "签收"}, **key)
    written = http.ok(late)
    assert (written["version"], written["position"]) == (first["version"], first["position"])
    assert written["incident"]["status"] == "signed"
    assert late.headers["Idempotent-Replayed"] == "true"
    assert log_len() == before
    assert stream_types(redis, incident_id).count("IncidentSignedFor") == 1
    # The same key on another incident's path is another request: refused, not replayed.
    other = prepare("dispatched")
    expect_error(http.act(HC, other, "sign-for", {"note": "签收"}, **key), 422, "Idempotency-Key")


# --- racing clients --------------------------------------------------------------------------

THREADS = 8


def race(app: Any, n: int, send: Callable[[Any], Any]) -> list[Any]:
    """Run ``send(client)`` in ``n`` threads at once, each with its own test client."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        client = app.test_client()
        try:
            barrier.wait(timeout=10)
            results[i] = send(client)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert all(r is not None for r in results)
    return results


@pytest.mark.parametrize("attempt", range(3))
def test_eight_clients_signing_for_at_once_one_wins(
    app: Any,
    auth: Callable[[str], dict[str, str]],
    redis: redis_lib.Redis,
    prepare: Callable[..., str],
    expect_error: Callable[..., Any],
    log_len: Callable[[], tuple[int, int]],
    attempt: int,
) -> None:
    incident_id = prepare("dispatched")
    headers = auth(HC)

    responses = race(
        app,
        THREADS,
        lambda c: c.post(f"/incidents/{incident_id}/sign-for", json={}, headers=headers),
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 409, 422}, statuses
    for response in responses:
        if response.status_code == 409:
            expect_error(response, 409)
            assert response.headers["ETag"] in ('"2"', '"3"')
        elif response.status_code == 422:
            expect_error(response, 422, "state")
    assert stream_types(redis, incident_id).count("IncidentSignedFor") == 1
    assert log_len() == (3, 3)
    events = [
        e["type"]
        for e in app.test_client()
        .get(f"/incidents/{incident_id}/events", headers=headers)
        .get_json()
    ]
    assert events == ["IncidentReported", "IncidentDispatched", "IncidentSignedFor"]


def test_eight_clients_retrying_one_report_with_one_key_report_once(
    app: Any,
    auth: Callable[[str], dict[str, str]],
    redis: redis_lib.Redis,
    report_body: Callable[..., dict[str, Any]],
    log_len: Callable[[], tuple[int, int]],
) -> None:
    headers = {**auth(D), "Idempotency-Key": "burst-1"}
    body = report_body()

    responses = race(app, THREADS, lambda c: c.post("/incidents", json=body, headers=headers))

    assert [r.status_code for r in responses] == [201] * THREADS
    assert len({r.get_json()["id"] for r in responses}) == 1
    assert len({r.get_json()["position"] for r in responses}) == 1
    replayed = [r.headers.get("Idempotent-Replayed") for r in responses]
    assert replayed.count(None) == 1 and replayed.count("true") == THREADS - 1, replayed
    assert log_len() == (2, 2)


def test_racing_sign_for_and_return_one_wins(
    app: Any,
    auth: Callable[[str], dict[str, str]],
    redis: redis_lib.Redis,
    prepare: Callable[..., str],
) -> None:
    incident_id = prepare("dispatched")
    headers = auth(HC)
    actions = ["sign-for", "return"] * (THREADS // 2)
    lock = threading.Lock()

    def send(client: Any) -> Any:
        with lock:
            action = actions.pop()
        return client.post(
            f"/incidents/{incident_id}/{action}",
            json={"reason": "x"} if action == "return" else {},
            headers=headers,
        )

    responses = race(app, THREADS, send)
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 1, statuses
    types = stream_types(redis, incident_id)
    assert len(types) == 3
    assert types[2] in ("IncidentSignedFor", "IncidentReturned")


def test_when_all_read_the_same_version_the_log_decides(
    app: Any,
    auth: Callable[[str], dict[str, str]],
    redis: redis_lib.Redis,
    prepare: Callable[..., str],
    expect_error: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Hold every request after it has read the incident until all have read it: they all
    decide on version 2, and only the append's version check can tell them apart."""
    incident_id = prepare("dispatched")
    service = app.extensions["coordination"].incidents
    load = service.load
    all_loaded = threading.Barrier(THREADS)

    def load_then_wait(*args: Any, **kwargs: Any) -> Any:
        loaded = load(*args, **kwargs)
        all_loaded.wait(timeout=10)
        return loaded

    monkeypatch.setattr(service, "load", load_then_wait)
    headers = auth(HC)

    responses = race(
        app,
        THREADS,
        lambda c: c.post(f"/incidents/{incident_id}/sign-for", json={}, headers=headers),
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (THREADS - 1), statuses
    for response in responses:
        if response.status_code == 409:
            expect_error(response, 409)
            assert response.headers["ETag"] == '"3"'
    assert stream_types(redis, incident_id) == [
        "IncidentReported",
        "IncidentDispatched",
        "IncidentSignedFor",
    ]


# A retry that looked the key up before the first attempt committed, and loads after, would be
# decided against the new state; it must still get the first result.
def test_a_retry_racing_its_first_attempt_gets_the_first_result(
    app: Any,
    auth: Callable[[str], dict[str, str]],
    redis: redis_lib.Redis,
    prepare: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client times out and retries while its first attempt is still in flight: the retry
    finds no recorded result yet, the first attempt then commits, and only then does the
    retry read the incident. Retries are safe: it must answer the first result."""
    incident_id = prepare("dispatched")
    service = app.extensions["coordination"].incidents
    load = service.load
    retry_checked, first_done = threading.Event(), threading.Event()

    def load_retry_late(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "retry":
            retry_checked.set()
            first_done.wait(timeout=10)
        return load(*args, **kwargs)

    monkeypatch.setattr(service, "load", load_retry_late)
    headers = {**auth(HC), "Idempotency-Key": "sign-for-once"}
    url = f"/incidents/{incident_id}/sign-for"
    answers: dict[str, Any] = {}

    def retry() -> None:
        answers["retry"] = app.test_client().post(url, json={}, headers=headers)

    thread = threading.Thread(target=retry, name="retry")
    thread.start()
    assert retry_checked.wait(timeout=10)
    answers["first"] = app.test_client().post(url, json={}, headers=headers)
    first_done.set()
    thread.join(timeout=10)

    assert answers["first"].status_code == 200
    assert stream_types(redis, incident_id).count("IncidentSignedFor") == 1
    assert answers["retry"].status_code == 200, answers["retry"].get_data(as_text=True)
    assert answers["retry"].headers.get("Idempotent-Replayed") == "true"
    assert answers["retry"].get_json()["position"] == answers["first"].get_json()["position"]


# A body not labelled JSON would be read as no body, dropping its expected_version.
def test_expected_version_in_a_body_that_is_not_labelled_json_is_not_ignored(
    client: Any,
    auth: Callable[[str], dict[str, str]],
    prepare: Callable[..., str],
    log_len: Callable[[], tuple[int, int]],
) -> None:
    incident_id = prepare("dispatched")  # at version 2
    before = log_len()
    response = client.post(
        f"/incidents/{incident_id}/sign-for",
        data=json.dumps({"expected_version": 1}),
        content_type="text/plain",
        headers=auth(HC),
    )
    assert response.status_code == 415, response.status_code
    assert log_len() == before


def test_if_match_and_body_expected_version_must_agree(
    client: Any,
    auth: Callable[[str], dict[str, str]],
    prepare: Callable[..., str],
    log_len: Callable[[], tuple[int, int]],
) -> None:
    incident_id = prepare("dispatched")  # at version 2
    before = log_len()
    response = client.post(
        f"/incidents/{incident_id}/sign-for",
        json={"expected_version": 1},
        headers={**auth(HC), "If-Match": '"2"'},
    )
    assert response.status_code == 422
    assert "If-Match" in response.get_json()["errors"]["headers"]
    assert log_len() == before
