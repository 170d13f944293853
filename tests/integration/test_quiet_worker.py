"""``coordination worker`` and ``coordination scheduler`` are quiet when idle: WARNING by
default, INFO with ``--verbose`` or ``COORDINATION_LOG_LEVEL=info``.

Both run as ``make run`` runs them, on the session's server, with a tick a second: the idle
worker still runs a tick job every second (RQ logs a few INFO lines for each), so a quiet run
is one that did work and said nothing of it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib
from rq import Queue
from rq.registry import FinishedJobRegistry
from rq.serializers import JSONSerializer

from coordination.config import Config

COORDINATION = str(Path(sys.executable).parent / "coordination")
ROOT = Path(__file__).resolve().parents[2]
TICK = "workers.jobs.tick"


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts, in sessions of their own; whatever is left is killed."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def start(
    what: str,
    redis_url: str,
    log: Path,
    procs: list[subprocess.Popen[bytes]],
    *args: str,
    **env: str,
) -> subprocess.Popen[bytes]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("COORDINATION_")}
    base.update(REDIS_URL=redis_url, COORDINATION_TICK_SECONDS="1", **env)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [COORDINATION, what, *args],
            cwd=ROOT,
            env=base,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    procs.append(proc)
    return proc


def ticks_done(redis: redis_lib.Redis) -> int:
    queue = Queue(Config().queue, connection=redis, serializer=JSONSerializer)
    return len(FinishedJobRegistry(queue=queue).get_job_ids())


def run_idle(
    redis: redis_lib.Redis,
    redis_url: str,
    folder: Path,
    procs: list[subprocess.Popen[bytes]],
    *args: str,
    **env: str,
) -> tuple[str, str]:
    """A worker and a scheduler until the worker has run 3 ticks; their output."""
    folder.mkdir()
    worker = start("worker", redis_url, folder / "worker.log", procs, *args, **env)
    scheduler = start("scheduler", redis_url, folder / "scheduler.log", procs, *args, **env)
    deadline = time.monotonic() + 30
    while ticks_done(redis) < 3:
        assert worker.poll() is None and scheduler.poll() is None, (
            folder / "worker.log"
        ).read_text()
        assert time.monotonic() < deadline, "the worker ran no ticks"
        time.sleep(0.1)
    for proc in (worker, scheduler):
        proc.send_signal(signal.SIGTERM)
    for proc in (worker, scheduler):
        assert proc.wait(15) == 0
    return (folder / "worker.log").read_text(), (folder / "scheduler.log").read_text()


def info_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if " INFO " in line]


def test_an_idle_worker_and_scheduler_log_nothing_by_default(
    redis: redis_lib.Redis,
    redis_url: str,
    tmp_path: Path,
    started: list[subprocess.Popen[bytes]],
) -> None:
    worker_log, scheduler_log = run_idle(redis, redis_url, tmp_path / "quiet", started)
    assert ticks_done(redis) >= 3, "they worked meanwhile"
    assert info_lines(worker_log) == [] and info_lines(scheduler_log) == []
    assert TICK not in worker_log, worker_log  # RQ's "queue: workers.jobs.tick() (id)"
    assert worker_log.strip() == "" and scheduler_log.strip() == "", (worker_log, scheduler_log)


@pytest.mark.parametrize("how", ["--verbose", "COORDINATION_LOG_LEVEL=info"])
def test_info_comes_back_on_demand(
    redis: redis_lib.Redis,
    redis_url: str,
    tmp_path: Path,
    started: list[subprocess.Popen[bytes]],
    how: str,
) -> None:
    args, env = ([how], {}) if how.startswith("--") else ([], dict([how.split("=")]))
    worker_log, scheduler_log = run_idle(redis, redis_url, tmp_path / "loud", started, *args, **env)
    worked = info_lines(worker_log)
    assert any("Listening on" in line for line in worked), worker_log
    assert sum(TICK in line for line in worked) >= 3, worker_log  # one per job, at least
    assert sum("enqueued the tick" in line for line in info_lines(scheduler_log)) >= 3
