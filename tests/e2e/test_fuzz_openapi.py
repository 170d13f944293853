"""Property-based HTTP fuzzing of every operation of ``/openapi.json`` (schemathesis).

The application is the real Flask app on the session's real valkey server (as the ``app``
fixture builds it), called in process; the projector is run after every successful write, as
the catch-up job would. Before the run a few incidents, staff members and shifts are created
through the API, and the cases are mostly pointed at them, with a bearer token of the district's
dispatcher or admin and place names and units of ``coordination/data/gangwen.json``, so that
writes succeed too. The seed is fixed; the size is modest (``FUZZ_EXAMPLES`` cases per
operation).

What must hold (the engine and its checks are in ``bench/chaos/fuzz.py``; scenario f of
``python -m bench.chaos`` runs the same at ≥ 10,000 requests against gunicorn):

- no answer is a 5xx;
- every answer conforms to the description: its status code is listed for the operation
  (a ``default`` response does not count), its content type, headers and body match;
- every event appended during the run belongs to a write answered 2xx (positions gapless,
  each 2xx write's events exactly the run of positions it reports, nothing else).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
import schemathesis

from coordination.api.app import create_app
from coordination.config import Config
from coordination.domain.access import Role

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # bench/ is not an installed package
    sys.path.insert(0, str(ROOT))

from bench.chaos.fuzz import DISTRICT, Fuzzer, World, account_log, seed_world  # noqa: E402

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
SEED = 20200208


@pytest.fixture
def fuzz_app(redis_url: str, redis: redis_lib.Redis) -> Any:
    """The app on the emptied session server; reads wait 0.2 s (not 2) for a ``min_position``
    the projections have not reached, so that generated far-off positions cost little."""
    application = create_app(Config(redis_url=redis_url, read_wait_seconds=0.2), redis=redis)
    application.config["TESTING"] = True
    return application


def test_fuzzing_the_description_finds_no_errors_and_no_stray_events(fuzz_app: Any) -> None:
    services = fuzz_app.extensions["coordination"]
    secrets = {
        label: services.tokens.create(role, DISTRICT, label)[0]
        for label, role in (("admin@gangwen", Role.ADMIN), ("dispatcher@gangwen", Role.DISPATCHER))
    }
    client = fuzz_app.test_client()

    def catch_up() -> None:
        services.projector.catch_up(DISTRICT)

    def post(path: str, secret: str, body: dict[str, Any]) -> tuple[int, Any]:
        response = client.post(path, json=body, headers={"Authorization": f"Bearer {secret}"})
        catch_up()
        return response.status_code, response.get_json()

    world = World.of_district(list(secrets.values()), lambda: services.store.head(DISTRICT))
    seed_world(world, post, secrets["admin@gangwen"], secrets["dispatcher@gangwen"])
    baseline = services.store.head(DISTRICT)

    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app)
    fuzzer = Fuzzer(schema, world, lambda case: case.call(), seed=SEED, after_write=catch_up)
    report = fuzzer.run(EXAMPLES)
    report.log.extend(account_log(services.store, baseline, report.writes))

    # The run reached the operations with valid requests, not only refusals.
    if report.writes_2xx["POST /incidents"] == 0 or len(report.writes_2xx) < 8:
        pytest.fail("too few successful writes:\n" + report.summary(), pytrace=False)
    if report.problems or report.log:
        pytest.fail(report.summary(), pytrace=False)
