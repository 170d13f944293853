"""Gunicorn processes for the bench, and CPU accounting read from /proc (Linux)."""

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

from coordination.devtools.embedded import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


SHIPPED_CONFIG = "coordination.gunicorn_conf"  # what make run, the image and compose serve with


@dataclass(frozen=True)
class WorkerConfig:
    workers: int = 2
    worker_class: str = "sync"
    threads: int = 1
    shipped: bool = False  # the shipped config module (its worker class and hooks) as is

    @property
    def label(self) -> str:
        if self.shipped:
            return f"shipped ({self.worker_class} x{self.workers})"
        if self.worker_class == "gthread":
            return f"gthread {self.workers}x{self.threads}"
        return f"{self.worker_class} x{self.workers}"

    def args(self) -> list[str]:
        if self.shipped:
            return ["--config", f"python:{SHIPPED_CONFIG}", "--workers", str(self.workers)]
        args = ["--workers", str(self.workers), "--worker-class", self.worker_class]
        if self.worker_class == "gthread":
            args += ["--threads", str(self.threads)]
        return args


class Gunicorn:
    """One gunicorn master (and its workers) on a free loopback port, in a session of its own."""

    def __init__(
        self, app: str, workers: WorkerConfig, env: dict[str, str], log_dir: Path, health: str
    ) -> None:
        self.app = app
        self.workers = workers
        self.env = env
        self.health = health
        self.log = log_dir / f"gunicorn-{app.split(':')[0]}-{workers.worker_class}.log"
        self.host = "127.0.0.1"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        """Start the master; ``wait_ready`` then waits for it to answer."""
        self.port = free_port(self.host)
        path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, **self.env, "PYTHONPATH": path}
        args = [
            sys.executable, "-m", "gunicorn",
            "--bind", f"{self.host}:{self.port}",
            *self.workers.args(),
            "--graceful-timeout", "5",
            "--log-level", "warning",
            self.app,
        ]  # fmt: skip
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                args,
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait for every worker and a health answer; relaunch once if the port was lost."""
        for attempt in range(2):
            if self._poll_ready(timeout):
                return
            if attempt == 0 and self.proc is not None and self.proc.poll() is not None:
                self.launch()  # most likely the free port was taken meanwhile
                continue
            break
        tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        self.stop()
        raise RuntimeError(f"gunicorn {self.app} did not come up on port {self.port}:\n{tail}")

    def _poll_ready(self, timeout: float) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if len(self.worker_pids()) >= self.workers.workers:
                try:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
                    conn.request("GET", self.health)
                    status = conn.getresponse().status
                    conn.close()
                    if status < 500:
                        return True
                except OSError:
                    pass
            time.sleep(0.1)
        return False

    def worker_pids(self) -> list[int]:
        return children(self.proc.pid) if self.proc is not None else []

    def pids(self) -> list[int]:
        return ([self.proc.pid] if self.proc is not None else []) + self.worker_pids()

    def stop(self) -> None:
        """SIGTERM to the master (it stops its workers), SIGKILL to the session after 10 s."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                _kill_group(proc.pid)
                proc.wait(5)
        else:
            _kill_group(proc.pid)  # workers orphaned by a dead master, if any


def _kill_group(pgid: int) -> None:
    """SIGKILL to the process group the bench itself created (start_new_session=True)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def children(pid: int) -> list[int]:
    """The direct children of ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat(int(entry))
        if stat is not None and int(stat[1]) == pid:
            found.append(int(entry))
    return found


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat from the state on (index 0 = state, 1 = ppid, 11 = utime)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (processes gone meanwhile count as 0)."""
    return sum(cpu_split(pids))


def cpu_split(pids: list[int]) -> tuple[float, float]:
    """(user, system) CPU seconds of these processes so far."""
    user = system = 0
    for pid in pids:
        stat = _stat(pid)
        if stat is not None:
            user += int(stat[11])
            system += int(stat[12])
    return user / CLOCK_TICKS, system / CLOCK_TICKS


@dataclass(frozen=True)
class HostCpu:
    busy: float
    steal: float
    total: float

    @classmethod
    def read(cls) -> HostCpu:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
        total = user + nice + system + idle + iowait + irq + softirq + steal
        return cls(busy=total - idle - iowait - steal, steal=steal, total=total)

    def since(self, before: HostCpu) -> tuple[float, float, float]:
        """(busy, steal, all) CPU seconds, summed over the cores, between two readings."""
        return (
            (self.busy - before.busy) / CLOCK_TICKS,
            (self.steal - before.steal) / CLOCK_TICKS,
            max(self.total - before.total, 1) / CLOCK_TICKS,
        )
