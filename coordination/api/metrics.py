"""``GET /metrics``: Prometheus' text format, no token (as scrapes go), nothing personal.

Two kinds of figures:

* counters and histograms that the app's processes increment (``coordination.metrics
  .instruments``): requests by route, method and status, their latency, appends and version
  conflicts. Under gunicorn every worker writes them to the shared multiprocess directory
  (coordination/gunicorn_conf.py) and a scrape adds them up, whichever worker answers it;
* gauges read from Redis when scraped (``StoreCollector``), right whoever wrote them: each
  partition's head, checkpoint and lag; open orders and overdue ones per unit level, and the
  local day's deadline breaches and escalations per level (the dashboard's figures, from the
  projections: the deadline watch runs in the RQ worker, out of this process's sight); the RQ
  queue's length and failed jobs; whether the working-day calendar is on its weekend-only
  fallback. If Redis does not answer, ``coordination_store_up`` is 0 and these are left out.

Labels carry partitions, unit levels, states, routes and statuses: no id, token or resident.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, Response, g, request
from flask.views import MethodView
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from redis.exceptions import RedisError
from rq import Queue
from rq.registry import FailedJobRegistry

from coordination.api.parsing import Blueprint
from coordination.api.reading import services
from coordination.bootstrap import Services
from coordination.domain.units import Level
from coordination.metrics import instruments, multiproc
from coordination.projections import figures
from coordination.projections.reads import Figures

log = logging.getLogger(__name__)
UNMATCHED = "<unmatched>"  # the route of a request no URL rule matched (a 404 or 405)

blp = Blueprint("metrics", __name__, description="Metrics for Prometheus")


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.doc(security=[])
    @blp.response(
        200,
        description="The metrics, in Prometheus' text exposition format 0.0.4.",
        content_type="text/plain",
    )
    def get(self) -> Any:
        """Metrics for Prometheus: requests, appends, conflicts, projection lag, queues,
        overdue orders, breaches and escalations, the RQ queue, the calendar. No token."""
        body = generate_latest(Exposition(own_metrics(), StoreCollector(services())))
        return Response(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)


def register(app: Flask, api: Any) -> None:
    """Serve ``/metrics`` (in the spec) and count every request the app answers."""
    api.register_blueprint(blp)
    app.before_request(_started)
    app.after_request(_answered)


def _started() -> None:
    g.metrics_started = time.perf_counter()


def _answered(response: Response) -> Response:
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    instruments.REQUESTS.labels(route, request.method, str(response.status_code)).inc()
    if (started := g.get("metrics_started")) is not None:
        seconds = time.perf_counter() - started
        instruments.REQUEST_SECONDS.labels(route, request.method).observe(seconds)
    return response


class Exposition:
    """Collectors exposed as one (``generate_latest`` needs only ``collect``)."""

    def __init__(self, *collectors: Any) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def own_metrics() -> Any:
    """The counters of every gunicorn worker (multiprocess mode), or of this process alone."""
    if not os.environ.get(multiproc.ENV):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


class StoreCollector:
    """The gauges read from Redis at scrape time."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "coordination_store_up", "1 if Redis answered this scrape's reads, else 0."
        )
        try:
            found = list(self._read())
        except RedisError as exc:
            log.warning("metrics: the store did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from found

    def _read(self) -> Iterator[Metric]:
        svc = self.svc
        yield from lag_families(svc.projector.lag(p) for p in svc.partitions)
        now = svc.incidents.clock()
        day = now.astimezone(ZoneInfo(svc.config.timezone)).date().isoformat()
        levels = {u.id: u.level.value for u in svc.jurisdiction.units.values()}
        read = {
            p: svc.reads.figures(p, day, _units_of(svc, p), now, held_now=True)
            for p in svc.partitions
        }
        yield from level_families(read, levels)
        yield from rq_families(svc)
        fallback = GaugeMetricFamily(
            "coordination_calendar_fallback",
            "1 if the working-day calendar lacks this year or the next, so deadlines there "
            "count weekends only (GET /healthz warns too), else 0.",
        )
        fallback.add_metric([], 1 if svc.calendar_warnings() else 0)
        yield fallback


def _units_of(svc: Services, partition: str) -> list[str]:
    return sorted(u for u in svc.jurisdiction.units if svc.jurisdiction.within(u, partition))


def lag_families(lags: Iterable[Any]) -> list[GaugeMetricFamily]:
    """Each partition's head position, checkpoint and lag (head minus checkpoint)."""
    labels = ["partition"]
    head = GaugeMetricFamily("coordination_log_head", "The log's last position.", labels=labels)
    checkpoint = GaugeMetricFamily(
        "coordination_projection_checkpoint",
        "The position the projections have applied.",
        labels=labels,
    )
    lag = GaugeMetricFamily(
        "coordination_projection_lag",
        "Events appended but not yet projected (head minus checkpoint).",
        labels=labels,
    )
    for each in lags:
        head.add_metric([each.partition], each.head)
        checkpoint.add_metric([each.partition], each.checkpoint)
        lag.add_metric([each.partition], each.lag)
    return [head, checkpoint, lag]


def level_families(read: dict[str, Figures], levels: dict[str, str]) -> list[GaugeMetricFamily]:
    """Per partition and unit level: open orders by state (each once, in its own queue: an
    escalation's copy is not counted again), orders with a deadline past due (at the unit
    holding them), and the local day's breaches and escalations (at the unit that missed)."""
    depth = GaugeMetricFamily(
        "coordination_queue_depth",
        "Open orders in the units' queues now, by unit level and state.",
        labels=["partition", "level", "state"],
    )
    overdue = GaugeMetricFamily(
        "coordination_overdue",
        "Open orders with a deadline past due now, at the level of the unit holding them.",
        labels=["partition", "level"],
    )
    breaches = GaugeMetricFamily(
        "coordination_deadline_breaches_today",
        "Deadlines breached today (local day), by the level of the unit that missed them.",
        labels=["partition", "level"],
    )
    escalations = GaugeMetricFamily(
        "coordination_escalations_today",
        "Orders escalated (督办) today (local day), by the level they were escalated from.",
        labels=["partition", "level"],
    )
    for partition, found in read.items():
        for level in Level:
            tally = level_tally(found, _at_level(levels, level.value))
            for state, n in sorted(tally.open.items()):
                depth.add_metric([partition, level.value, state], n)
            day = figures.day_figures(tally)
            overdue.add_metric([partition, level.value], len(tally.overdue))
            breaches.add_metric([partition, level.value], day["breached"])
            escalations.add_metric([partition, level.value], day["escalated"])
    return [depth, overdue, breaches, escalations]


def level_tally(found: Figures, keep: Callable[[str], bool]) -> figures.Tally:
    """The dashboard's tally (coordination.projections.figures) of the units ``keep`` takes."""
    late = [(s.unit, s.kind, s.incident) for s in found.late]
    return figures.total(figures.tallies(found.counts, {}, found.summaries, late, keep))


def _at_level(levels: dict[str, str], level: str) -> Callable[[str], bool]:
    return lambda unit: levels.get(unit) == level


def rq_families(svc: Services) -> list[GaugeMetricFamily]:
    """The RQ queue of catch-up and tick jobs: jobs waiting, and jobs failed (kept a week)."""
    queue = Queue(svc.config.queue, connection=svc.rq)
    length = GaugeMetricFamily(
        "coordination_rq_queue_length", "Jobs waiting in the RQ queue.", labels=["queue"]
    )
    length.add_metric([queue.name], queue.count)
    failed = GaugeMetricFamily(
        "coordination_rq_failed_jobs",
        "Jobs of the RQ queue in its failed-job registry.",
        labels=["queue"],
    )
    # Read only: the worker's maintenance drops the expired ones, not a scrape.
    failed.add_metric([queue.name], FailedJobRegistry(queue=queue).get_job_count(cleanup=False))
    return [length, failed]
