"""A real RQ worker in a subprocess, for end-to-end tests of the read side.

``RqWorker`` runs ``rq worker`` (JSON serializer, the application's queue) in a session of its
own, waits until it has registered and has run one job (so that the first read of a test does
not also pay for the worker's imports), and kills its whole process group when stopped. Nothing
here mocks Redis or RQ: the worker is the same command the compose file runs.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis as redis_lib
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from coordination.store import keys

ROOT = Path(__file__).resolve().parents[2]
RQ = str(Path(sys.executable).parent / "rq")
SIMPLE_WORKER = "rq.worker.SimpleWorker"


def worker_env(redis_url: str) -> dict[str, str]:
    """This process's environment without COORDINATION_* settings, pointed at ``redis_url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COORDINATION_")}
    env.update(REDIS_URL=redis_url, PYTHONUNBUFFERED="1")
    return env


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc): a forking worker's work horse."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


class RqWorker:
    """One ``rq worker`` process draining ``queue`` on ``redis_url``."""

    def __init__(
        self,
        redis_url: str,
        queue: str,
        log_path: Path,
        worker_class: str | None = SIMPLE_WORKER,
        warm_partition: str = "gangwen",
    ) -> None:
        self.redis_url = redis_url
        self.queue_name = queue
        self.log_path = log_path
        self.worker_class = worker_class
        self.warm_partition = warm_partition
        self.redis = redis_lib.Redis.from_url(redis_url)
        self.proc: subprocess.Popen[bytes] | None = None
        self.name = ""

    @property
    def queue(self) -> Queue:
        return Queue(self.queue_name, connection=self.redis, serializer=JSONSerializer)

    def start(self, warm_up: bool = True, timeout: float = 20.0) -> RqWorker:
        """Start the worker; wait until it has registered and (by default) run one catch-up."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.name = f"read-side-{secrets.token_hex(4)}"
        args = [RQ, "worker", "--url", self.redis_url, "--serializer", "json"]
        args += ["--name", self.name]
        if self.worker_class:
            args += ["--worker-class", self.worker_class]
        args.append(self.queue_name)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                args,
                cwd=ROOT,
                env=worker_env(self.redis_url),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not self.redis.exists(f"rq:worker:{self.name}"):
            self._check(deadline, "register")
            time.sleep(0.01)
        if warm_up:
            job = self.queue.enqueue(
                "workers.jobs.catch_up", self.warm_partition, result_ttl=60, failure_ttl=3600
            )
            self.wait_for(job, max(0.0, deadline - time.monotonic()))
        return self

    def wait_for(self, job: Job, timeout: float = 20.0) -> None:
        """Wait until ``job`` has finished; fail if it failed."""
        deadline = time.monotonic() + timeout
        while (status := job.get_status(refresh=True)) is not JobStatus.FINISHED:
            assert status is not JobStatus.FAILED, self.log_tail()
            self._check(deadline, f"finish {job.func_name}")
            time.sleep(0.01)

    def wait_idle(self, timeout: float = 20.0) -> None:
        """Wait until nothing is queued, the worker is idle and no catch-up of the partition
        is pending or running, seen three times in a row: a job that is about to end cannot
        pick up an append made after this returns."""
        deadline = time.monotonic() + timeout
        partition = self.warm_partition
        calm = 0
        while calm < 3:
            idle = (
                self.queue.count == 0
                and self.redis.hget(f"rq:worker:{self.name}", "state") == b"idle"
                and not self.redis.exists(keys.trigger(partition), keys.projector_lock(partition))
            )
            calm = calm + 1 if idle else 0
            self._check(deadline, "fall idle")
            time.sleep(0.02)

    def stop(self) -> None:
        """SIGKILL the worker's process group (and a forking worker's horse, which RQ puts in a
        group of its own), then reap it: after this it writes nothing more."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        for pid in [*_children(proc.pid), proc.pid]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
        proc.wait(10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def failed_jobs(self) -> list[str]:
        """The ids and errors of the jobs that failed on this queue."""
        registry = FailedJobRegistry(
            self.queue_name, connection=self.redis, serializer=JSONSerializer
        )
        failed = []
        for job_id in registry.get_job_ids():
            job = self.queue.fetch_job(job_id)
            result = job.latest_result() if job else None
            failed.append(f"{job_id}: {result.exc_string if result else '?'}")
        return failed

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def close(self) -> None:
        self.stop()
        self.redis.close()

    def _check(self, deadline: float, what: str) -> None:
        assert self.alive(), f"the worker died:\n{self.log_tail()}"
        assert time.monotonic() < deadline, f"the worker did not {what} in time:\n{self.log_tail()}"
