"""The worker and the scheduler ride out server restarts: same processes, work flowing after.

Both run as ``make run`` and compose run them (``coordination worker``, ``coordination
scheduler``), against a server of this test's own that is killed and started again on the same
port and data five times while orders are being written.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib
from helpers_projection import ADMIN, P, report_fields
from supplies import seed_catalogue

from coordination.bootstrap import build_services
from coordination.config import Config
from coordination.devtools.embedded import EmbeddedServer
from coordination.store import keys

COORDINATION = str(Path(sys.executable).parent / "coordination")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    own = EmbeddedServer(tmp_path / "redis").start()
    yield own
    EmbeddedServer(tmp_path / "redis", port=own.port).stop()
    own.stop()


def start(what: str, url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {"PATH": str(Path(sys.executable).parent), "REDIS_URL": url}
    env["COORDINATION_TICK_SECONDS"] = "1"
    with log.open("wb") as out:
        return subprocess.Popen(
            [COORDINATION, what], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def test_worker_and_scheduler_survive_five_server_restarts_and_projections_catch_up(
    tmp_path: Path, server: EmbeddedServer
) -> None:
    url = server.url
    worker = start("worker", url, tmp_path / "worker.log")
    scheduler = start("scheduler", url, tmp_path / "scheduler.log")
    svc = build_services(Config(redis_url=url))
    seed_catalogue(svc)  # the orders below are deliveries of catalogue items
    stop = threading.Event()
    written: list[str] = []

    def write() -> None:
        while not stop.is_set():
            try:
                written.append(svc.incidents.report(ADMIN, report_fields()).incident.id)
            except Exception:  # noqa: BLE001 - the server is down half the time here
                time.sleep(0.05)

    writer = threading.Thread(target=write)
    writer.start()
    current = server
    try:
        time.sleep(1.5)
        for _ in range(5):
            current.kill()
            time.sleep(1.0)
            current = EmbeddedServer(tmp_path / "redis", port=server.port).start()
            time.sleep(1.5)
            logs = (tmp_path / "worker.log").read_text() + (tmp_path / "scheduler.log").read_text()
            assert worker.poll() is None, f"the worker exited: {logs[-3000:]}"
            assert scheduler.poll() is None, f"the scheduler exited: {logs[-3000:]}"
        stop.set()
        writer.join(10)
        assert len(written) > 10
        # and the work flows: every order is projected, by triggers and the tick
        client = redis_lib.Redis.from_url(url)
        deadline = time.monotonic() + 15
        while (lag := svc.projector.lag(P)).lag > 0:
            assert time.monotonic() < deadline, f"projections stuck at {lag}"
            time.sleep(0.1)
        assert client.exists(keys.scheduler_heartbeat())
        assert svc.reads.incident(P, written[-1]) is not None
        client.close()
    finally:
        stop.set()
        for process in (worker, scheduler):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        if current is not server:  # the fixture stops only the first server
            current.stop()
