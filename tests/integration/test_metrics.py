"""``GET /metrics`` under a real gunicorn with the shipped config (two gevent workers): the
counters of both workers add up, the gauges read at scrape time are right, the multiprocess
directory starts empty, the scrape names no token or resident, and every metric the shipped
Prometheus and Grafana files use is in a real scrape. Also the collector's arithmetic alone.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis as redis_lib
import yaml
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer
from shipped_gunicorn import HOST, Server, start_gunicorn, stop

from coordination.api.app import create_app
from coordination.api.metrics import level_families
from coordination.bootstrap import build_services
from coordination.cli.worker import Worker
from coordination.config import Config
from coordination.domain.access import Actor, Role
from coordination.domain.deadlines import DeadlineKind
from coordination.domain.values import StaffKind
from coordination.metrics import multiproc
from coordination.projections.reads import Figures
from coordination.projections.views import Spell
from coordination.store.tokens import TokenStore
from workers import jobs

ROOT = Path(__file__).resolve().parents[2]
DISTRICT = "gangwen"
STREET, COMMUNITY = "gangwen/chenqiao", "gangwen/chenqiao/lidu"
SHANGHAI = ZoneInfo("Asia/Shanghai")
REPORT = {
    "kind": "work_order",
    "category": "complaint",
    "title": "口罩价格过高",
    "place": "丽都",
    "reporter": {"name": "张三", "phone": "13812345678"},
}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def call(port: int, method: str, path: str, body: Any = None, **headers: str) -> Any:
    """One request on a fresh connection: (status, headers, body)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    answer = conn.getresponse()
    found = (answer.status, dict(answer.getheaders()), answer.read())
    conn.close()
    return found


def scrape(port: int) -> tuple[str, Samples]:
    status, headers, body = call(port, "GET", "/metrics")
    assert status == 200, body[:500]
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
    text = body.decode()
    return text, parse(text)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def stale_values(folder: Path) -> None:
    """A previous run's counter file, as prometheus_client writes it: 1000 appends."""
    key = mmap_key("coordination_appends", "coordination_appends_total", ["partition"],
                   [DISTRICT], "stale")  # fmt: skip
    stale = MmapedDict(str(folder / "counter_999999.db"))
    stale.write_value(key, 1000.0, 0.0)
    stale.close()


def requests_per_worker(folder: Path) -> dict[str, float]:
    """Each worker's own count of answered requests, but scrapes, read from its own file."""
    found: dict[str, float] = {}
    for path in folder.glob("counter_*.db"):
        merged = MultiProcessCollector.merge([str(path)])
        found[path.stem] = sum(
            s.value
            for m in merged
            for s in m.samples
            if s.name == "coordination_http_requests_total" and s.labels["route"] != "/metrics"
        )
    return found


def spread_over_both_workers(port: int, folder: Path) -> None:
    """Requests on fresh connections, at once, until both workers have answered some."""
    for _ in range(30):
        threads = [threading.Thread(target=call, args=(port, "GET", "/healthz")) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if sum(n > 0 for n in requests_per_worker(folder).values()) >= 2:
            return
    raise AssertionError(f"one worker answered everything: {requests_per_worker(folder)}")


@pytest.fixture
def metrics_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The operator's multiprocess directory, holding a previous run's values."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    stale_values(folder)
    monkeypatch.setenv(multiproc.ENV, str(folder))
    return folder


@pytest.fixture
def served(
    redis: redis_lib.Redis,
    redis_url: str,
    metrics_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """gunicorn as shipped; and the RQ jobs run in this process on the session's server."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    jobs.services.cache_clear()
    server = start_gunicorn(redis_url, tmp_path / "gunicorn")
    try:
        yield server
    finally:
        stop(server)
        jobs.services.cache_clear()


def yesterdays_epidemic_order(redis: redis_lib.Redis, redis_url: str) -> str:
    """An epidemic order reported yesterday evening: its deadlines passed at midnight."""
    yesterday = datetime.now(SHANGHAI).replace(hour=20, minute=0, second=0, microsecond=0)
    yesterday -= timedelta(days=1)
    app = create_app(Config(redis_url=redis_url), redis=redis, clock=lambda: yesterday)
    secret = app.extensions["coordination"].tokens.create(Role.DISPATCHER, DISTRICT, "d0")[0]
    answer = app.test_client().post(
        "/incidents", json={**REPORT, "epidemic": True}, headers=bearer(secret)
    )
    assert answer.status_code == 201, answer.get_json()
    return str(answer.get_json()["id"])


def test_the_scrape_adds_up_both_workers_and_reads_the_gauges_right(
    served: Server, redis: redis_lib.Redis, redis_url: str, metrics_dir: Path
) -> None:
    port = served.port
    assert not (metrics_dir / "counter_999999.db").exists()  # emptied when gunicorn started
    # --- set-up, in this process: yesterday's order breached today, a field staff member
    yesterdays_epidemic_order(redis, redis_url)
    svc = build_services(Config(redis_url=redis_url), redis)
    svc.projector.catch_up(DISTRICT)
    breached = svc.watchers.watch_deadlines(DISTRICT)
    assert breached == 2  # signing for it and resolving it were due by midnight
    admin = Actor("admin@gangwen", Role.ADMIN, DISTRICT)
    fields = {"staff_id": "wang-fang", "name": "王芳", "unit": COMMUNITY,
              "kind": StaffKind.VOLUNTEER, "quarantine_trained": False}  # fmt: skip
    svc.staff.register(admin, fields)
    tokens = TokenStore(redis)
    dispatcher = tokens.create(Role.DISPATCHER, DISTRICT, "disp")[0]
    handler = tokens.create(Role.HANDLER, STREET, "hand")[0]
    field = tokens.create(Role.FIELD, COMMUNITY, "wang-fang")[0]
    queue = Queue(svc.config.queue, connection=redis, serializer=JSONSerializer)
    # The project's worker: plain RQ's stop can sit out a 60 s poll (see cli/worker.py).
    worker = Worker([queue], connection=redis, serializer=JSONSerializer)
    worker.work(burst=True)  # the set-up's catch-up jobs, run by a real RQ worker
    svc.projector.catch_up(DISTRICT)
    assert queue.count == 0 and svc.projector.lag(DISTRICT).lag == 0

    _, before = scrape(port)
    head_before = svc.projector.lag(DISTRICT).head
    # --- the scenario, over HTTP: three reports; nothing projects them yet
    ids = []
    for n in range(3):
        status, _, body = call(port, "POST", "/incidents", {**REPORT, "title": f"t{n}"},
                               **bearer(dispatcher))  # fmt: skip
        assert status == 201, body
        ids.append(json.loads(body)["id"])
    _, mid = scrape(port)
    assert value(mid, "coordination_projection_lag", partition=DISTRICT) == 6
    assert value(mid, "coordination_log_head", partition=DISTRICT) == head_before + 6
    assert value(mid, "coordination_rq_queue_length", queue=svc.config.queue) == 1  # deduplicated
    svc.projector.catch_up(DISTRICT)
    # sign for the first, then a stale If-Match: a version conflict; hand it down; claim it
    sign = f"/incidents/{ids[0]}/sign-for"
    assert call(port, "POST", sign, {}, **bearer(handler), **{"If-Match": '"2"'})[0] == 200
    assert call(port, "POST", sign, {}, **bearer(handler), **{"If-Match": '"2"'})[0] == 409
    assert call(port, "POST", f"/incidents/{ids[0]}/hand-down", {}, **bearer(handler))[0] == 200
    svc.projector.catch_up(DISTRICT)
    claim = f"/units/{COMMUNITY}/queue/claim-next"
    assert call(port, "POST", claim, {}, **bearer(field))[0] == 200
    assert call(port, "GET", "/incidents/gangwen-20200101-00000000", **bearer(handler))[0] == 404
    assert call(port, "GET", "/no/such/path")[0] == 404
    spread_over_both_workers(port, metrics_dir)
    svc.projector.catch_up(DISTRICT)
    queue.enqueue("workers.jobs.no_such_job", failure_ttl=600)
    worker.work(burst=True)  # drains the catch-ups; the job that does not exist fails

    per_worker = requests_per_worker(metrics_dir)
    text, after = scrape(port)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # Counters: each worker's own file holds part; the scrape is their sum.
    assert sum(n > 0 for n in per_worker.values()) >= 2, per_worker
    answered = total(after, "coordination_http_requests_total") - total(
        after, "coordination_http_requests_total", route="/metrics"
    )
    assert answered == sum(per_worker.values())
    req = "coordination_http_requests_total"
    assert delta(req, route="/incidents", method="POST", status="201") == 3
    sign_rule = "/incidents/<incident_id>/sign-for"
    assert delta(req, route=sign_rule, method="POST", status="200") == 1
    assert delta(req, route=sign_rule, method="POST", status="409") == 1
    claim_rule = "/units/<path:unit>/queue/claim-next"
    assert delta(req, route=claim_rule, method="POST", status="200") == 1
    assert delta(req, route="/incidents/<incident_id>", method="GET", status="404") == 1
    assert delta(req, route="<unmatched>", method="GET", status="404") == 1
    assert delta("coordination_http_request_duration_seconds_count",
                 route="/incidents", method="POST") == 3  # fmt: skip
    conflicts = "coordination_version_conflicts_total"
    assert delta(conflicts, source="expected_version") == 1
    head_after = svc.projector.lag(DISTRICT).head
    assert delta("coordination_appends_total", partition=DISTRICT) == 6  # 3 reports, 3 acts
    assert value(after, "coordination_appends_total", partition=DISTRICT) == 6  # none stale
    assert delta("coordination_events_appended_total", partition=DISTRICT) == (
        head_after - head_before
    )
    # Gauges: read from Redis at the scrape.
    assert value(after, "coordination_store_up") == 1
    assert value(after, "coordination_projection_lag", partition=DISTRICT) == 0
    assert value(after, "coordination_projection_checkpoint", partition=DISTRICT) == head_after
    depth = "coordination_queue_depth"
    assert value(after, depth, partition=DISTRICT, level="street", state="dispatched") == 3
    assert value(after, depth, partition=DISTRICT, level="community", state="claimed") == 1
    assert total(after, depth, partition=DISTRICT) == 4  # the escalation's copy not again
    assert value(after, "coordination_overdue", partition=DISTRICT, level="street") == 1
    assert total(after, "coordination_overdue", partition=DISTRICT) == 1
    today = "coordination_deadline_breaches_today"
    assert value(after, today, partition=DISTRICT, level="street") == 2
    assert total(after, today, partition=DISTRICT) == 2
    assert value(after, "coordination_escalations_today", partition=DISTRICT, level="street") == 2
    assert value(after, "coordination_rq_queue_length", queue=svc.config.queue) == 0
    assert value(after, "coordination_rq_failed_jobs", queue=svc.config.queue) == 1
    assert FailedJobRegistry(queue=queue).count == 1
    warns = call(port, "GET", "/healthz")
    fallback = json.loads(warns[2])["status"] == "warning"
    assert value(after, "coordination_calendar_fallback") == (1 if fallback else 0)
    assert fallback == bool(svc.calendar_warnings())
    # Nothing secret or personal: no token, no id, no resident.
    for secret in (dispatcher, handler, field, "张三", "13812345678", "wang-fang", *ids):
        assert secret not in text


def test_every_metric_the_shipped_dashboards_use_is_scraped(
    served: Server, redis: redis_lib.Redis, redis_url: str
) -> None:
    """After a little traffic (labelled series appear once they have a value): a report and
    a stale sign-for, projected."""
    port = served.port
    secret = TokenStore(redis).create(Role.ADMIN, DISTRICT, "a1")[0]
    status, _, body = call(port, "POST", "/incidents", REPORT, **bearer(secret))
    assert status == 201, body
    sign = f"/incidents/{json.loads(body)['id']}/sign-for"
    assert call(port, "POST", sign, {}, **bearer(secret), **{"If-Match": '"1"'})[0] == 409
    build_services(Config(redis_url=redis_url), redis).projector.catch_up(DISTRICT)
    _, samples = scrape(port)
    scraped = {name for name, _ in samples}
    used = metric_names_in_deploy_files()
    assert len(used) >= 8
    assert used <= scraped, used - scraped


def metric_names_in_deploy_files() -> set[str]:
    """The coordination_* names the Prometheus config's rules and the Grafana panels query."""
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus.yml").read_text(encoding="utf-8"))
    assert prometheus["scrape_configs"][0]["metrics_path"] == "/metrics"
    dashboard = json.loads((ROOT / "deploy/grafana-dashboard.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert exprs
    text = " ".join(exprs) + " " + json.dumps(prometheus)
    return set(re.findall(r"\bcoordination_[a-z_]+", text))


def test_the_store_down_leaves_the_counters_and_says_so() -> None:
    """With Redis unreachable the scrape still answers: the counters, and store_up 0."""
    app = create_app(Config(redis_url="redis://127.0.0.1:1/0"))
    client = app.test_client()
    before = parse(client.get("/metrics").get_data(as_text=True))
    answer = client.get("/metrics")
    assert answer.status_code == 200
    samples = parse(answer.get_data(as_text=True))
    assert value(samples, "coordination_store_up") == 0
    assert not any(name == "coordination_projection_lag" for name, _ in samples)
    labels = {"route": "/metrics", "method": "GET", "status": "200"}
    counted = "coordination_http_requests_total"
    assert value(samples, counted, **labels) == value(before, counted, **labels) + 1


# --- the collector's arithmetic ------------------------------------------------------------


def spell(incident: str, unit: str, deadline: DeadlineKind) -> Spell:
    due = datetime(2020, 2, 8, tzinfo=SHANGHAI)
    return Spell(f"{incident}|{deadline.value}", incident, "work_order", unit, deadline, due)


LEVELS = {
    "gangwen": "district",
    "gangwen/chenqiao": "street",
    "gangwen/health": "department",
    "gangwen/chenqiao/lidu": "community",
}


def families(found: Figures) -> dict[str, dict[tuple[str, ...], float]]:
    out: dict[str, dict[tuple[str, ...], float]] = defaultdict(dict)
    for family in level_families({"gangwen": found}, LEVELS):
        for s in family.samples:
            out[s.name][tuple(s.labels[k] for k in sorted(s.labels))] = s.value
    return out


def test_levels_count_each_open_order_once_and_overdue_orders_once() -> None:
    found = Figures(
        position=9,
        counts={
            "gangwen/chenqiao|work_order|breached_sign": 2,
            "gangwen/chenqiao|supply_delivery|breached_resolve": 1,
            "gangwen/chenqiao|work_order|escalated": 3,
            "gangwen/chenqiao/lidu|work_order|reported": 5,
            "gangwen/health|work_order|breached_claim": 1,
        },
        durations={},
        summaries={
            "gangwen": {"escalated|work_order": 2, "dispatched|work_order": 1},
            "gangwen/chenqiao": {"dispatched|work_order": 2, "signed|supply_delivery": 1},
            "gangwen/chenqiao/lidu": {"claimed|work_order": 4},
            "gangwen/health": {},
        },
        late=[
            spell("a", "gangwen/chenqiao", DeadlineKind.SIGN),
            spell("a", "gangwen/chenqiao", DeadlineKind.RESOLVE),  # one order, two deadlines
            spell("b", "gangwen/chenqiao/lidu", DeadlineKind.RESOLVE),
        ],
    )
    got = families(found)
    depth = got["coordination_queue_depth"]
    assert depth == {
        ("district", "gangwen", "dispatched"): 1,  # the escalations' copies left out
        ("street", "gangwen", "dispatched"): 2,
        ("street", "gangwen", "signed"): 1,
        ("community", "gangwen", "claimed"): 4,
    }
    overdue = got["coordination_overdue"]
    assert overdue[("street", "gangwen")] == 1
    assert overdue[("community", "gangwen")] == 1
    assert overdue[("district", "gangwen")] == 0
    breaches = got["coordination_deadline_breaches_today"]
    assert breaches[("street", "gangwen")] == 3
    assert breaches[("department", "gangwen")] == 1
    assert breaches[("community", "gangwen")] == 0
    assert got["coordination_escalations_today"][("street", "gangwen")] == 3


def test_prepare_empties_a_given_directory_or_makes_one(tmp_path: Path) -> None:
    given = tmp_path / "given"
    given.mkdir()
    stale_values(given)
    (given / "keep.txt").write_text("not ours")
    env = {multiproc.ENV: str(given)}
    assert multiproc.prepare(env) == (given, False)
    assert sorted(p.name for p in given.iterdir()) == ["keep.txt"]
    env = {}
    made, fresh = multiproc.prepare(env)
    try:
        assert fresh and made.is_dir() and env[multiproc.ENV] == str(made)
        assert not any(made.iterdir())
    finally:
        multiproc.remove(made)
    assert not made.exists()
