"""``python -m bench.chaos`` (``make chaos``): liveness under load and faults, from the outside.

It starts its own stack the way ``make run`` does (a private valkey-server with AOF
``appendfsync always``, the API under gunicorn, an RQ worker and ``coordination scheduler``),
but so that it can kill the parts, and runs the scenarios of issue 8 against it at full size
(``--quick`` for a small one). One table at the end: scenario, measure, value, verdict; the exit
status is 1 when any verdict fails. See ``bench/chaos/__main__.py`` for the options.
"""
