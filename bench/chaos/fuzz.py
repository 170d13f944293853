"""Property-based HTTP fuzzing of the API from its own ``/openapi.json`` (schemathesis).

Shared by ``tests/e2e/test_fuzz_openapi.py`` (in process, through the Flask app, a modest size)
and scenario f of ``python -m bench.chaos`` (over HTTP against gunicorn, ≥ 10,000 requests).

Each operation of the description gets cases from schemathesis' strategies, positive (valid by
the schema) and negative (not), under a fixed Hypothesis seed. Most cases are then pointed at
things that exist, so that writes get through too and not only 4xx: a bearer token of the
district's dispatcher or admin, incident, staff and shift ids that were created, unit ids and
place names of ``coordination/data/gangwen.json``, positions the log has reached. Every answer
is checked, and failures are collected (not raised, so one run shows them all):

- no 5xx (schemathesis' ``not_a_server_error``);
- the status code is listed for the operation: schemathesis accepts any code when a
  ``default`` response is documented; here a code must be listed itself (``status_code_listed``);
- the content type, the headers and the body match what is documented for that status
  (``content_type_conformance``, ``response_headers_conformance``,
  ``response_schema_conformance``; ``status_code_conformance`` too, for completeness);
- afterwards (``account_log``), every event appended since the run began belongs to a write
  that was answered 2xx: each 2xx write names the version and position it reached, an append
  is one contiguous run of positions of one stream, so the events of the 2xx writes are known
  exactly and any other event was written by a request that was refused or failed.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import string
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hypothesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.failures import Failure

from coordination.config import DEFAULT_UNITS_FILE
from coordination.store.eventstore import EventStore, StoredEvent

DISTRICT = "gangwen"
# A dashboard stream holds its connection for ten minutes: not a request/response to fuzz.
EXCLUDED = frozenset({"GET /dashboard/stream"})
STAFF_ID = string.ascii_lowercase + string.digits
PHONES = ["13812345678", "13987654321", "021-62345678", "12345"]


def checks() -> list[Any]:
    """The checks run on every answer (schemathesis' built-ins and ``status_code_listed``)."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [
        not_a_server_error,
        status_code_conformance,
        status_code_listed,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]


class UndocumentedStatus(Failure):
    """The status code is only covered by the ``default`` response, not listed itself."""

    kind_title = "Status code not listed for the operation"


def status_code_listed(ctx: Any, response: Any, case: Any) -> bool | None:
    """The answer's status code (or its ``4XX`` range) is listed for the operation; a
    ``default`` response does not count: a client should learn from the description which
    refusals (401, 403, 404, 409, 422, 503 ...) an operation may give."""
    listed = [str(code) for code in case.operation.responses.status_codes if code != "default"]
    status = response.status_code
    if str(status) in listed or f"{str(status)[0]}XX" in [c.upper() for c in listed]:
        return None
    raise UndocumentedStatus(
        operation=case.operation.label,
        message=f"Received: {status}\nListed: {', '.join(listed) or '(none)'} (and default)",
    )


@dataclass
class World:
    """What exists, so that cases can name it: tokens, ids, units, places, the log's head."""

    tokens: list[str]
    incidents: list[str]
    staff: list[str]
    shifts: dict[str, list[str]]
    units: list[str]
    communities: list[str]
    places: list[str]
    head: Callable[[], int]

    @classmethod
    def of_district(
        cls, tokens: list[str], head: Callable[[], int], units_file: Path = DEFAULT_UNITS_FILE
    ) -> World:
        tree = json.loads(units_file.read_text(encoding="utf-8"))
        units = [u["id"] for u in tree["units"]]
        communities = [u["id"] for u in tree["units"] if u["level"] == "community"]
        return cls(tokens, [], [], {}, units, communities, list(tree["places"]), head)


# --- seeding: a few incidents in several states, staff and shifts, through the API ----------

Post = Callable[[str, str, dict[str, Any]], tuple[int, Any]]  # (path, secret, body) -> answer


def seed_world(world: World, post: Post, admin: str, dispatcher: str) -> None:
    """Create what the cases will name: incidents (dispatched, signed for, handed down,
    resolved), staff members of a few communities, a shift each; all through ``post``."""
    states = ["dispatched", "signed", "handed_down", "resolved", "dispatched", "handed_down"]
    for n, state in enumerate(states):
        place = world.places[n % len(world.places)]
        body = {
            "kind": "work_order",
            "category": "consultation",
            "title": f"fuzz seed {n}",
            "place": place,
            "address": f"{place} {n}号",
            "epidemic": False,
            "reporter": {"name": "张三", "phone": "13812345678"},
        }
        status, answer = post("/incidents", dispatcher, body)
        assert status == 201, (status, answer)
        incident_id = answer["id"]
        world.incidents.append(incident_id)
        steps = {"signed": 1, "handed_down": 2, "resolved": 3}.get(state, 0)
        actions = [
            ("sign-for", {"note": "签收"}),
            ("hand-down", {}),
            ("resolve", {"summary": "已处理", "signed_off_by": "负责同志"}),
        ][:steps]
        for action, action_body in actions:
            status, answer = post(f"/incidents/{incident_id}/{action}", admin, action_body)
            assert status == 200, (action, status, answer)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for n, community in enumerate(world.communities[:4]):
        staff_id = f"fuzz-seed-{n}"
        body = {"staff_id": staff_id, "name": f"员工{n}", "unit": community, "kind": "volunteer"}
        status, answer = post("/staff", admin, body)
        assert status == 201, (status, answer)
        world.staff.append(staff_id)
        shift = {
            "shift_id": f"night-{n}",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=8)).isoformat(),
        }
        status, answer = post(f"/staff/{staff_id}/shifts", admin, shift)
        assert status == 200, (status, answer)
        world.shifts[staff_id] = [shift["shift_id"]]


# --- the run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    """A write answered 2xx: the stream version and log position it says it reached."""

    label: str
    status: int
    id: str
    version: int
    position: int


@dataclass
class Problem:
    label: str
    status: int | None
    title: str
    message: str
    reproduce: str
    count: int = 1


@dataclass
class FuzzReport:
    requests: int = 0
    elapsed: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    writes_2xx: Counter[str] = field(default_factory=Counter)
    writes: list[Write] = field(default_factory=list)
    problems: dict[tuple[str, int | None, str], Problem] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)  # what account_log found

    def add_problem(self, label: str, status: int | None, title: str, message: str, curl: str):
        key = (label, status, title)
        if key in self.problems:
            self.problems[key].count += 1
        else:
            self.problems[key] = Problem(label, status, title, message[:600], curl[:600])

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def failures_by_kind(self) -> Counter[str]:
        kinds: Counter[str] = Counter()
        for problem in self.problems.values():
            kinds[problem.title] += problem.count
        return kinds

    def summary(self, limit: int = 60) -> str:
        """The statuses, the 2xx writes per operation, then each kind of failure with the
        operations and statuses it was seen at, one example answer and its curl."""
        lines = [
            f"{self.requests} requests in {self.elapsed:.0f} s; statuses "
            + ", ".join(f"{s or 'no answer'}: {n}" for s, n in sorted(self.statuses.items())),
            "2xx writes: " + ", ".join(f"{k} {n}" for k, n in sorted(self.writes_2xx.items())),
        ]
        by_title: dict[str, list[Problem]] = {}
        for problem in self.problems.values():
            by_title.setdefault(problem.title, []).append(problem)
        shown = 0
        for title, problems in sorted(by_title.items()):
            lines.append(f"{title}: {sum(p.count for p in problems)}")
            for problem in sorted(problems, key=lambda p: (p.label, p.status or 0)):
                shown += 1
                if shown > limit:
                    continue
                example = " | ".join(problem.message.strip().splitlines()[:4])
                lines.append(f"  {problem.label} -> {problem.status} x{problem.count}: {example}")
                lines.append(f"      {problem.reproduce.splitlines()[0][:240]}")
        if shown > limit:
            lines.append(f"  ... {shown - limit} more (operation, status) pairs not shown")
        lines.extend(self.log)
        return "\n".join(lines)


class Fuzzer:
    """Runs schemathesis' cases for every operation, pointed at the world, checking each answer.

    ``send(case) -> response`` makes the call (in process or over HTTP); ``after_write`` runs
    after every 2xx write (in process: project the log, as a worker would).
    """

    def __init__(
        self,
        schema: Any,
        world: World,
        send: Callable[[Any], Any],
        *,
        seed: int = 12345,
        after_write: Callable[[], None] | None = None,
        keep_min_position: float = 0.2,
        excluded: Iterable[str] = EXCLUDED,
        report: FuzzReport | None = None,
    ) -> None:
        self.schema = schema
        self.world = world
        self.send = send
        self.seed = seed
        self.after_write = after_write
        self.keep_min_position = keep_min_position
        self.excluded = set(excluded)
        self.report = report or FuzzReport()
        self.checks = checks()
        self._fresh = 0

    def operations(self) -> list[Any]:
        found = []
        for result in self.schema.get_all_operations():
            operation = result.ok()
            if operation.label not in self.excluded:
                found.append(operation)
        return found

    def run(self, examples_per_operation: int, rounds: int = 1) -> FuzzReport:
        started = time.monotonic()
        for round_ in range(rounds):
            for index, operation in enumerate(self.operations()):
                self.run_operation(
                    operation, examples_per_operation, self.seed + 1000 * round_ + index
                )
        self.report.elapsed += time.monotonic() - started
        return self.report

    def run_until(self, requests: int) -> FuzzReport:
        """Rounds over every operation (a fresh seed each) until ``requests`` were made; each
        round asks every operation for its share of what is still missing (an operation with
        few distinct cases gives fewer)."""
        started = time.monotonic()
        operations = self.operations()
        round_ = 0
        while self.report.requests < requests:
            share = math.ceil((requests - self.report.requests) / max(len(operations), 1))
            for index, operation in enumerate(operations):
                self.run_operation(operation, share, self.seed + 1000 * round_ + index)
            round_ += 1
        self.report.elapsed += time.monotonic() - started
        return self.report

    def run_operation(self, operation: Any, examples: int, seed: int) -> None:
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @hypothesis.seed(seed)
        @hypothesis.settings(
            max_examples=examples,
            database=None,
            deadline=None,
            derandomize=False,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate],  # failures are collected, never raised: nothing to shrink
            verbosity=hypothesis.Verbosity.quiet,
        )
        @hypothesis.given(st.data())
        def one(data: st.DataObject) -> None:
            case = data.draw(strategy, label="case")
            self.point(case, data)
            self.exchange(case)

        with contextlib.suppress(hypothesis.errors.Unsatisfiable):
            one()

    # --- shaping a case ------------------------------------------------------------------------

    def point(self, case: Any, data: st.DataObject) -> None:
        """Point the case at what exists (mostly): token, ids, units, places, positions."""
        world = self.world
        draw = data.draw

        def often(p: float = 0.85) -> bool:
            return draw(st.floats(0, 1)) < p

        auth = draw(st.sampled_from(["valid"] * 17 + ["none", "unknown", "generated"]))
        if auth == "valid":
            case.headers["Authorization"] = "Bearer " + draw(st.sampled_from(world.tokens))
        elif auth == "none":
            case.headers.pop("Authorization", None)
        elif auth == "unknown":
            case.headers["Authorization"] = "Bearer not-a-token-" + str(draw(st.integers(0, 99)))
        if case.method.upper() == "POST":
            key = draw(st.sampled_from(["none"] * 6 + ["pool", "pool", "bad"]))
            if key == "pool":
                case.headers["Idempotency-Key"] = f"fuzz-{draw(st.integers(0, 7))}"
            elif key == "bad":
                case.headers["Idempotency-Key"] = "not a valid key!"
        path = case.path_parameters
        if path is not None:
            if "incident_id" in path and world.incidents and often():
                path["incident_id"] = draw(st.sampled_from(world.incidents))
            if "unit" in path and often():
                path["unit"] = draw(st.sampled_from(world.units))
            if "staff_id" in path and world.staff and often():
                path["staff_id"] = draw(st.sampled_from(world.staff))
            if "shift_id" in path:
                shifts = world.shifts.get(path.get("staff_id", ""), [])
                if shifts and often(0.7):
                    path["shift_id"] = draw(st.sampled_from(shifts))
        query = case.query
        if query is not None:
            if "min_position" in query and not often(self.keep_min_position):
                query["min_position"] = draw(st.integers(0, max(world.head(), 0)))
            if "unit" in query and often(0.7):
                query["unit"] = draw(st.sampled_from(world.units))
            if "district" in query and often(0.7):
                query["district"] = DISTRICT
            if "date" in query and often(0.5):
                query["date"] = draw(st.sampled_from(["2020-02-08", _today()]))
        body = case.body
        if isinstance(body, dict):
            self.point_body(body, case, often, draw)

    @staticmethod
    def complete_report(body: dict[str, Any], draw: Any) -> None:
        """What a report of its kind must carry, so that generated reports get past the rules
        as well as the schema: a work order's category, a visit's person (a delivery's items
        name no catalogue item here, so it stays a refusal)."""
        kind = body.get("kind")
        if kind == "work_order" and body.get("category") is None:
            body["category"] = draw(st.sampled_from(["consultation", "tip", "complaint"]))
        if kind == "quarantine_visit" and not isinstance(body.get("person"), dict):
            body["person"] = {"name": "李四", "phone": "13987654321"}
        if kind != "supply_delivery":
            body.pop("home_quarantine", None)

    def point_body(self, body: dict[str, Any], case: Any, often: Any, draw: Any) -> None:
        world = self.world
        if "place" in body and often():
            body["place"] = draw(st.sampled_from(world.places))
        if case.path == "/incidents" and often(0.5):
            self.complete_report(body, draw)
        for contact in ("reporter", "person"):
            if isinstance(body.get(contact), dict) and often():
                body[contact]["phone"] = draw(st.sampled_from(PHONES))
        if "unit" in body and often():
            pool = world.communities if case.path.startswith("/staff") else world.units
            body["unit"] = draw(st.sampled_from(pool))
        if "community" in body and often(0.6):
            body["community"] = draw(st.sampled_from([None, *world.communities]))
        if "expected_version" in body and often(0.6):
            del body["expected_version"]
        if "staff_id" in body and often(0.6):
            body["staff_id"] = self.fresh_id("fz")
        if "shift_id" in body and often(0.6):
            body["shift_id"] = self.fresh_id("sh")
        if "start" in body and "end" in body and often(0.6):
            start = datetime.now(UTC).replace(microsecond=0) + timedelta(
                hours=draw(st.integers(-48, 72))
            )
            body["start"] = start.isoformat()
            body["end"] = (start + timedelta(hours=draw(st.integers(1, 12)))).isoformat()

    def fresh_id(self, prefix: str) -> str:
        self._fresh += 1
        return f"{prefix}-{self.seed}-{self._fresh}"

    # --- the exchange --------------------------------------------------------------------------

    def exchange(self, case: Any) -> None:
        report = self.report
        label = case.operation.label
        report.requests += 1
        report.by_operation[label] += 1
        try:
            response = self.send(case)
        except Exception as exc:  # a transport error: the server did not answer
            report.statuses[0] += 1
            report.add_problem(
                label, None, "No answer", f"{type(exc).__name__}: {exc}", _curl(case)
            )
            return
        status = response.status_code
        report.statuses[status] += 1
        if case.method.upper() == "POST" and 200 <= status < 300:
            self.note_write(case, response, label, status)
        try:
            case.validate_response(response, checks=self.checks)
        except (Exception, BaseExceptionGroup) as exc:  # FailureGroup is a BaseExceptionGroup
            failures = getattr(exc, "exceptions", None) or [exc]
            answer = _text(response)[:300]
            for failure in failures:
                title = getattr(failure, "title", None) or type(failure).__name__
                message = getattr(failure, "message", None) or str(failure)
                if answer and answer not in message:
                    message = f"{message}\nanswer: {answer}"
                report.add_problem(label, status, title, message, _curl(case))

    def note_write(self, case: Any, response: Any, label: str, status: int) -> None:
        report = self.report
        report.writes_2xx[label] += 1
        try:
            body = response.json()
        except Exception:
            body = None
        if not isinstance(body, dict) or not {"id", "version", "position"} <= set(body):
            if status != 204:
                report.add_problem(
                    label,
                    status,
                    "2xx write without id/version/position",
                    str(body)[:300],
                    _curl(case),
                )
            return
        report.writes.append(
            Write(label, status, str(body["id"]), int(body["version"]), int(body["position"]))
        )
        world = self.world
        if case.path == "/incidents" and body["id"] not in world.incidents:
            world.incidents.append(body["id"])
        elif case.path == "/staff" and body["id"] not in world.staff:
            world.staff.append(body["id"])
        elif case.path.endswith("/shifts") and isinstance(case.body, dict):
            shifts = world.shifts.setdefault(str(body["id"]), [])
            if case.body.get("shift_id") and case.body["shift_id"] not in shifts:
                shifts.append(case.body["shift_id"])
        if self.after_write is not None:
            self.after_write()


def _text(response: Any) -> str:
    try:
        return str(response.text).replace("\n", " ")
    except Exception:
        return ""


def _today() -> str:
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


def _curl(case: Any) -> str:
    try:
        return str(case.as_curl_command())
    except Exception as exc:  # pragma: no cover - a case schemathesis cannot print
        return f"(no curl: {exc})"


# --- accounting: every event since the run began belongs to a 2xx write ---------------------


def account_log(
    store: EventStore,
    baseline: int,
    writes: list[Write],
    partition: str = DISTRICT,
    actors: Iterable[str] | None = None,
) -> list[str]:
    """Problems, one line each (none: every event after ``baseline`` belongs to a 2xx write).

    With ``actors``, only their events are accounted (not the scheduler's tick's, say)."""
    problems: list[str] = []
    before: dict[str, int] = {}  # a stream's version as of the last accounted write
    for event in _read_all(store, partition, 0, baseline):
        before[event.stream] = max(before.get(event.stream, 0), event.version)
    events = {e.position: e for e in _read_all(store, partition, baseline, None)}
    positions = sorted(events)
    head = store.head(partition)
    expected = list(range(baseline + 1, head + 1))
    if positions != expected:
        missing = sorted(set(expected) - set(positions))[:10]
        problems.append(f"positions after {baseline} not gapless up to {head}: missing {missing}")
    claimed: set[int] = set()
    mine = None if actors is None else set(actors)
    # Events of others (not accounted): each moves its stream's version as it passes.
    others = [events[p] for p in positions if mine is not None and events[p].actor not in mine]
    passed = 0
    for write in sorted(
        {(w.position, w.version): w for w in writes}.values(), key=lambda w: w.position
    ):
        if write.position <= baseline:
            continue  # a replay of something written before the run
        while passed < len(others) and others[passed].position < write.position:
            other = others[passed]
            before[other.stream] = max(before.get(other.stream, 0), other.version)
            passed += 1
        at = events.get(write.position)
        # One append may write to other streams after its own (a delivery order's ledger, a
        # transfer's sender): those events end the run, stamped with the same time and actor.
        position = write.position
        while (
            at is not None
            and not _is_primary(at, write)
            and (first := events.get(position - 1)) is not None
            and (first.time, first.actor) == (at.time, at.actor)
        ):
            claimed.add(position)
            before[at.stream] = max(before.get(at.stream, 0), at.version)
            position -= 1
            at = first
        if at is None or at.version != write.version:
            problems.append(
                f"{write.label} answered {write.status} at position {write.position}"
                f" version {write.version}, but the log has {_describe(at)} there"
            )
            continue
        last = before.get(at.stream, 0)
        count = write.version - last
        for offset in range(count):
            event = events.get(position - offset)
            if (
                event is None
                or event.stream != at.stream
                or event.version != write.version - offset
            ):
                problems.append(
                    f"{write.label} -> v{write.version}@{write.position}: the event "
                    f"before it is {_describe(event)}, not v{write.version - offset} of "
                    f"{at.stream} (another request wrote in between?)"
                )
                break
            claimed.add(event.position)
        before[at.stream] = max(last, write.version)
    stray = [
        events[p]
        for p in positions
        if p not in claimed and (mine is None or events[p].actor in mine)
    ]
    for event in stray[:20]:
        problems.append(
            f"event at position {event.position} ({event.type} v{event.version} of "
            f"{event.stream} by {event.actor}) belongs to no 2xx write"
        )
    if len(stray) > 20:
        problems.append(f"... {len(stray) - 20} more events that belong to no 2xx write")
    return problems


def _is_primary(event: StoredEvent, write: Write) -> bool:
    """Whether ``event`` can be the last of the write's own stream (an order's is its id)."""
    if event.version != write.version:
        return False
    return event.stream == write.id or not write.id.startswith(DISTRICT + "-")


def _describe(event: StoredEvent | None) -> str:
    return "nothing" if event is None else f"{event.type} v{event.version} of {event.stream}"


def _read_all(store: EventStore, partition: str, after: int, upto: int | None) -> list[StoredEvent]:
    found: list[StoredEvent] = []
    while True:
        batch = store.read_partition(partition, after=after, count=1000)
        batch = [e for e in batch if upto is None or e.position <= upto]
        if not batch:
            return found
        found.extend(batch)
        after = batch[-1].position
        if upto is not None and after >= upto:
            return found


def random_suffix(n: int = 6) -> str:
    return "".join(random.choice(STAFF_ID) for _ in range(n))
