"""Property-based HTTP fuzzing of the Open311 routes from their own description,
``/open311/v2/openapi.json`` (schemathesis), with the engine and checks of
``bench/chaos/fuzz.py`` (as ``test_fuzz_openapi.py`` drives it for our own API).

The real Flask app on the session's valkey server, called in process; the projector runs after
every 2xx write. Cases are positive and negative, under a fixed seed, and mostly pointed at
what exists: an open311 client's api_key (sometimes a dispatcher's, an unknown or none), our
place names as address_string, service codes, ids of filed orders. What must hold:

- no answer is a 5xx;
- every answer's status is listed for its operation, its content type and body match the
  description (JSON bodies validated by schemathesis against the documented schema);
- every XML answer is well-formed for a strict parser (``xml.etree``), has the declaration,
  no namespace, and the root element the spec names (``errors`` for a 4xx);
- the number of cases is printed and asserted.
"""

from __future__ import annotations

import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
import schemathesis
from hypothesis import strategies as st

from coordination.api.app import create_app
from coordination.config import Config
from coordination.domain.access import Role
from coordination.domain.open311 import SERVICES

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # bench/ is not an installed package
    sys.path.insert(0, str(ROOT))

from bench.chaos.fuzz import DISTRICT, Fuzzer, World  # noqa: E402

EXAMPLES = int(os.environ.get("OPEN311_FUZZ_EXAMPLES", "25"))  # per operation
SEED = 20200311
V2 = "/open311/v2"
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'
ROOTS = {
    "discovery": "discovery",
    "services": "services",
    "services/": "service_definition",
    "requests": "service_requests",
    "requests/": "service_requests",
    "tokens/": "service_requests",
}


def xml_root(path: str) -> str:
    rest = path.removeprefix(V2 + "/").rsplit(".", 1)[0]
    head, slash, _ = rest.partition("/")
    return ROOTS[head + slash]


class Open311Fuzzer(Fuzzer):
    """The engine of ``bench/chaos/fuzz.py``, pointed at Open311's inputs."""

    def __init__(self, *args: Any, keys: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keys = keys  # "open311" / "dispatcher" -> secret
        self.filed: list[str] = []
        self.xml_problems: list[str] = []

    def point(self, case: Any, data: st.DataObject) -> None:
        draw = data.draw

        def often(p: float = 0.8) -> bool:
            return draw(st.floats(0, 1)) < p

        path = case.path_parameters
        if path:
            if "service_code" in path and often():
                path["service_code"] = draw(st.sampled_from([*SERVICES, "no_such"]))
            for name in ("service_request_id", "token"):
                if name in path and self.filed and often():
                    path[name] = draw(st.sampled_from(self.filed))
        query = case.query
        if query:
            if "jurisdiction_id" in query and often(0.6):
                query["jurisdiction_id"] = DISTRICT
            if "service_request_id" in query and self.filed and often(0.6):
                query["service_request_id"] = ",".join(
                    draw(st.lists(st.sampled_from(self.filed), min_size=1, max_size=3))
                )
        body = case.body
        if isinstance(body, dict):
            key = draw(st.sampled_from(["open311"] * 7 + ["dispatcher", "unknown", "keep"]))
            if key in self.keys:
                body["api_key"] = self.keys[key]
            elif key == "unknown":
                body["api_key"] = "not-a-key"
            if often(0.7):
                body["address_string"] = draw(st.sampled_from(self.world.places))
            if "jurisdiction_id" in body and often(0.7):
                body["jurisdiction_id"] = DISTRICT
            if body.get("service_code") == "supply_delivery" and often(0.7):
                body["attribute[item]"] = "口罩"
                body["attribute[quantity]"] = draw(st.integers(1, 100))

    def note_write(self, case: Any, response: Any, label: str, status: int) -> None:
        self.report.writes_2xx[label] += 1
        if case.path.endswith(".json"):
            found = response.json()[0]["service_request_id"]
        else:
            found = ET.fromstring(response.content).findtext("request/service_request_id")
        if found and found not in self.filed:
            self.filed.append(found)
        if self.after_write is not None:
            self.after_write()

    def check_xml(self, case: Any, response: Any) -> None:
        if not case.path.endswith(".xml"):
            return
        label = f"{case.operation.label} -> {response.status_code}"
        try:
            headers = {k.lower(): v for k, v in response.headers.items()}
            content_type = headers.get("content-type")
            if isinstance(content_type, list):
                content_type = content_type[0]
            assert content_type == "text/xml; charset=utf-8", content_type
            raw = response.content
            assert raw.startswith(XML_DECLARATION), raw[:60]
            root = ET.fromstring(raw)
            expected = "errors" if response.status_code >= 400 else xml_root(case.path)
            assert root.tag == expected, (root.tag, expected)
            assert all("{" not in e.tag for e in root.iter()), "a namespace"
        except (AssertionError, ET.ParseError) as exc:
            self.xml_problems.append(f"{label}: {exc!r}")


@pytest.fixture
def fuzz_app(redis_url: str, redis: redis_lib.Redis) -> Any:
    application = create_app(Config(redis_url=redis_url, read_wait_seconds=0.2), redis=redis)
    application.config["TESTING"] = True
    from supplies import stock_up

    stock_up(application.extensions["coordination"])
    return application


def test_fuzzing_the_open311_description_finds_no_errors(fuzz_app: Any) -> None:
    services = fuzz_app.extensions["coordination"]
    keys = {
        "open311": services.tokens.create(Role.OPEN311, DISTRICT, "fuzz-client")[0],
        "dispatcher": services.tokens.create(Role.DISPATCHER, DISTRICT, "dispatcher")[0],
    }

    def catch_up() -> None:
        services.projector.catch_up(DISTRICT)

    world = World.of_district([], lambda: services.store.head(DISTRICT))
    schema = schemathesis.openapi.from_wsgi(f"{V2}/openapi.json", fuzz_app)
    fuzzer: Open311Fuzzer

    def send(case: Any) -> Any:
        response = case.call()
        fuzzer.check_xml(case, response)
        return response

    fuzzer = Open311Fuzzer(schema, world, send, seed=SEED, after_write=catch_up, keys=keys)
    operations = fuzzer.operations()
    assert len(operations) == 14, [o.label for o in operations]
    report = fuzzer.run(EXAMPLES)
    print(f"\nOpen311 fuzz: {report.requests} cases over {len(operations)} operations")
    print(report.summary())

    assert report.requests >= 10 * len(operations), report.summary()
    assert report.server_errors == 0, report.summary()
    posts = sum(n for label, n in report.writes_2xx.items() if label.startswith("POST"))
    if posts == 0:
        pytest.fail("no POST got through:\n" + report.summary(), pytrace=False)
    if report.problems or fuzzer.xml_problems:
        pytest.fail(report.summary() + "\n" + "\n".join(fuzzer.xml_problems[:20]), pytrace=False)


@pytest.mark.parametrize(
    "query",
    [
        {"end_date": "0001-01-01T00:00:00+00:00"},
        {"end_date": "0001-01-01T00:00:00+08:00"},
        {"start_date": "9999-12-31T23:59:59+00:00"},
        {"start_date": "0001-01-01T00:00:00Z", "end_date": "0001-01-02T00:00:00Z"},
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_answered_not_a_500(
    fuzz_app: Any, query: dict[str, str]
) -> None:
    """Valid W3C datetimes whose 90-day default window leaves datetime's range (found by
    probing what the fuzzer's seed does not reach): an answer (200 or the spec's 400), never
    a 5xx."""
    response = fuzz_app.test_client().get(f"{V2}/requests.json", query_string=query)
    assert response.status_code in (200, 400), (response.status_code, response.get_data(True))
    body = response.get_json()
    assert isinstance(body, list), body
