"""The stack under test, started the way ``make run`` starts it, but each part killable.

A private valkey-server (``coordination.devtools.embedded.EmbeddedServer``: AOF,
``appendfsync always``) with its data in the run's folder, restarted on the same folder and
port after a kill; the API under gunicorn (``--config python:coordination.gunicorn_conf``); the
worker (``coordination worker`` by default, as ``make run`` and compose; or the plain ``rq
worker --serializer json --worker-class rq.worker.SimpleWorker --with-scheduler coordination``)
and ``coordination scheduler``, all with ``REDIS_URL`` set. The demo tokens and the demo staff
member are created as ``make run`` creates them (``coordination.devtools.devrun.demo_tokens``).
Every child runs in a session of its own, and only those children are ever signalled, by their
process group.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis as redis_lib

from coordination.bootstrap import Services, build_services
from coordination.config import Config
from coordination.devtools.devrun import demo_tokens
from coordination.devtools.embedded import EmbeddedServer, free_port
from coordination.store import keys

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DISTRICT = "gangwen"
WORKER_CLASS = "rq.worker.SimpleWorker"
HOST = "127.0.0.1"


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    rq_name: str = ""  # an RQ worker's name (rq:worker:<name>)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the child's whole process group (its own session), then reap it."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def tail(self, chars: int = 1500) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


WORKER_KINDS = ("coordination", "rq")


class Stack:
    """``worker_kind``: ``coordination`` runs ``coordination worker`` as ``make run`` and compose
    do (an RQ SimpleWorker started again after an outage ends it); ``rq`` runs the plain
    ``rq worker`` command line (SimpleWorker, ``--with-scheduler``) they ran before."""

    def __init__(self, root: Path, worker_kind: str = "coordination") -> None:
        self.root = root
        self.worker_kind = worker_kind
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.server = EmbeddedServer(root / "redis")
        self.port = 0
        self.api: Child | None = None
        self.workers: list[Child] = []
        self.scheduler: Child | None = None
        self.tokens: dict[str, str] = {}
        self._services: Services | None = None
        self._counter = 0

    # --- environment ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COORDINATION_")}
        env.update(
            REDIS_URL=self.server.url,
            COORDINATION_DATA_DIR=str(self.root),
            PYTHONUNBUFFERED="1",
        )
        return env

    @property
    def config(self) -> Config:
        return Config.from_env(self.env)

    def services(self) -> Services:
        """In-process services on the stack's server (tokens, the store, the projector)."""
        if self._services is None:
            self._services = build_services(self.config, self.redis())
        return self._services

    def redis(self, timeout: float = 5.0) -> redis_lib.Redis:
        return redis_lib.Redis.from_url(
            self.server.url, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    # --- starting ------------------------------------------------------------------------------

    def start(self) -> None:
        self.server.start()
        self.tokens = demo_tokens(self.config)  # registers the demo field worker (position 1)
        self.start_api()
        self.start_worker()
        self.start_scheduler()
        self.wait_api()

    def _spawn(self, name: str, args: list[str]) -> Child:
        self._counter += 1
        log = self.logs / f"{name}-{self._counter}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                args,
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return Child(name, proc, log)

    def start_api(self) -> Child:
        self.port = self.port or free_port(HOST)
        args = [
            str(BIN / "gunicorn"),
            "--config", "python:coordination.gunicorn_conf",
            "--bind", f"{HOST}:{self.port}",
        ]  # fmt: skip
        self.api = self._spawn("api", args)
        return self.api

    def start_worker(self, kind: str | None = None) -> Child:
        kind = kind or self.worker_kind
        if kind == "coordination":
            child = self._spawn("worker", [str(BIN / "coordination"), "worker"])
        else:
            name = f"chaos-{secrets.token_hex(4)}"
            args = [
                str(BIN / "rq"), "worker",
                "--url", self.server.url,
                "--serializer", "json",
                "--worker-class", WORKER_CLASS,
                "--with-scheduler",
                "--name", name,
                self.config.queue,
            ]  # fmt: skip
            child = self._spawn("rq-worker", args)
            child.rq_name = name
        self.workers.append(child)
        return child

    def rq_name(self, child: Child) -> str | None:
        """The name the child's RQ worker registered under (found by its pid), if any."""
        client = self.services().redis
        for key in client.smembers("rq:workers"):
            if client.hget(key, "pid") == str(child.pid).encode():
                child.rq_name = key.decode().removeprefix("rq:worker:")
                return child.rq_name
        return None

    def start_scheduler(self) -> Child:
        self.scheduler = self._spawn("scheduler", [str(BIN / "coordination"), "scheduler"])
        return self.scheduler

    def wait_api(self, timeout: float = 60.0) -> float:
        """Wait until the API answers /healthz (any status); the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.api is not None and not self.api.alive():
                raise RuntimeError(f"the API exited:\n{self.api.tail()}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                conn.close()
                return time.monotonic() - started
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the API did not answer in {timeout} s")

    def wait_worker_registered(self, child: Child, timeout: float = 30.0) -> float:
        started = time.monotonic()
        client = self.redis()
        try:
            while time.monotonic() - started < timeout:
                if not child.alive():
                    raise RuntimeError(f"worker exited:\n{child.tail()}")
                with contextlib.suppress(redis_lib.RedisError):
                    if self.rq_name(child):
                        return time.monotonic() - started
                time.sleep(0.02)
        finally:
            client.close()
        raise RuntimeError(f"worker pid {child.pid} did not register in {timeout} s")

    def live_workers(self) -> list[Child]:
        self.workers = [w for w in self.workers if w.alive()]
        return self.workers

    def ensure_running(self) -> list[str]:
        """Start again whatever has exited; what was restarted."""
        restarted = []
        if (
            self.server.pid is None
            or self.server._proc is None
            or self.server._proc.poll() is not None
        ):
            self.server.start()
            restarted.append("server")
        if self.api is None or not self.api.alive():
            self.start_api()
            self.wait_api()
            restarted.append("api")
        if not self.live_workers():
            self.wait_worker_registered(self.start_worker())
            restarted.append("worker")
        if self.scheduler is None or not self.scheduler.alive():
            self.start_scheduler()
            restarted.append("scheduler")
        return restarted

    def restart_api(self) -> None:
        if self.api is not None:
            self.api.kill(signal.SIGTERM)
        self.start_api()
        self.wait_api()

    # --- the projections -----------------------------------------------------------------------

    def lag(self) -> tuple[int, int]:
        """(head, checkpoint of the live generation)."""
        lag = self.services().projector.lag(DISTRICT)
        return lag.head, lag.checkpoint

    def wait_caught_up(self, timeout: float = 60.0, position: int | None = None) -> float | None:
        """Seconds until the projections reached ``position`` (the head by default); None if
        they did not within ``timeout``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                head, checkpoint = self.lag()
                if checkpoint >= (head if position is None else position):
                    return time.monotonic() - started
            except redis_lib.RedisError:
                pass
            time.sleep(0.05)
        return None

    def projector_lock_held(self) -> bool:
        return bool(self.services().redis.exists(keys.projector_lock(DISTRICT)))

    def busy_worker(self) -> Child | None:
        """A live worker whose RQ state is busy (running a job)."""
        client = self.services().redis
        for child in self.live_workers():
            name = self.rq_name(child)
            if name and client.hget(f"rq:worker:{name}", "state") == b"busy":
                return child
        return None

    # --- stopping ------------------------------------------------------------------------------

    def stop(self) -> None:
        children = [c for c in [self.api, self.scheduler, *self.workers] if c is not None]
        for child in children:
            if child.alive():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            child.kill(signal.SIGTERM)
        if self._services is not None:
            self._services.redis.close()
        self.server.stop()
