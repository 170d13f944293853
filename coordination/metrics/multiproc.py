"""The directory where gunicorn's workers keep their metric values, so that ``/metrics`` sums
the counters of every worker whichever one answers the scrape (prometheus_client's multiprocess
mode).

gunicorn's master calls ``prepare`` before it forks a worker (``on_starting`` in
coordination/gunicorn_conf.py): the variable must be set before a worker imports
prometheus_client, which picks its value store at import. A directory given by the operator
(``PROMETHEUS_MULTIPROC_DIR``) is emptied, as counters must start from zero with the server;
otherwise a fresh one is made under the system's temporary directory and removed on exit.
Nothing here imports prometheus_client at import time, since the master imports this module
before the variable is set.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import MutableMapping
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "coordination-metrics-"


def prepare(environ: MutableMapping[str, str] | None = None) -> tuple[Path, bool]:
    """Set up an empty directory for the workers' values and name it in ``environ``; the
    directory and whether it was made here (and is to be removed on exit)."""
    env = os.environ if environ is None else environ
    given = env.get(ENV)
    if not given:
        made = Path(tempfile.mkdtemp(prefix=PREFIX))
        env[ENV] = str(made)
        return made, True
    folder = Path(given)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):  # a previous run's values: counters start again at zero
        stale.unlink()
    return folder, False


def mark_dead(pid: int) -> None:
    """Forget a dead worker's live gauges (its counters stay: they were counted)."""
    if not os.environ.get(ENV):
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def remove(folder: Path) -> None:
    """Remove a directory ``prepare`` made."""
    shutil.rmtree(folder, ignore_errors=True)
