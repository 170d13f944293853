"""Prometheus metrics: the counters and histograms the layers above increment
(``coordination.metrics.instruments``) and the multiprocess directory gunicorn's workers share
(``coordination.metrics.multiproc``). The ``/metrics`` endpoint, and the gauges it reads from the
projections at scrape time, are in ``coordination.api.metrics``.

This module imports nothing: gunicorn's master imports ``multiproc`` before it has set
``PROMETHEUS_MULTIPROC_DIR``, and prometheus_client picks its value store when first imported.
"""
