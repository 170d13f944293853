"""The end-to-end smoke suites again, on the cluster: the HTTP API (the real Flask app) with
the store on the cluster, and a real RQ worker, whose queue is on the standalone server,
projecting from the cluster."""

from __future__ import annotations

from test_lifecycles import *  # noqa: F403
from test_read_side import *  # noqa: F403
