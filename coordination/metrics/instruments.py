"""The counters and histograms of this process. Under gunicorn (multiprocess mode) each
worker's values go to the shared directory and ``/metrics`` adds them up; elsewhere they stay in
this process's default registry.

Labels name routes, methods, statuses, partitions (districts) and sources only: never an id, a
token or anything a resident said, and never a value without a bound.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "coordination_http_requests",
    "HTTP requests the app answered, by route (the URL rule, not the path), method and status.",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "coordination_http_request_duration_seconds",
    "Seconds from a request reaching the app to its answer (a stream: to its first byte).",
    ["route", "method"],
)
APPENDS = Counter(
    "coordination_appends",
    "Commands appended to the log (each append holds all of one command's events).",
    ["partition"],
)
EVENTS_APPENDED = Counter(
    "coordination_events_appended",
    "Events appended to the log.",
    ["partition"],
)
VERSION_CONFLICTS = Counter(
    "coordination_version_conflicts",
    "Commands refused for their version: source=expected_version, the client's If-Match or "
    "expected_version was stale; source=append, the stream moved between reading and "
    "appending (a lost race, decided by the log).",
    ["source"],
)
PROJECTOR_BATCH_SECONDS = Histogram(
    "coordination_projector_batch_seconds",
    "Seconds to apply one batch of events and move the checkpoint, in this process.",
    ["partition"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
PROJECTOR_EVENTS = Counter(
    "coordination_projector_events_applied",
    "Events the projector applied to the read models, in this process.",
    ["partition"],
)
DEADLINE_BREACHES = Counter(
    "coordination_deadline_breaches",
    "Deadline breaches the deadline watch recorded in this process (each is escalated).",
    ["partition"],
)
ESCALATIONS = Counter(
    "coordination_escalations",
    "Escalations (督办) the deadline watch recorded in this process.",
    ["partition"],
)
