"""``coordination dev`` (``make run``) on a port that is taken: one line naming
``COORDINATION_PORT``, a non-zero exit at once, and nothing started or printed before it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

COORDINATION = str(Path(sys.executable).parent / "coordination")


def test_a_taken_port_is_one_line_naming_the_setting_before_anything_starts(
    tmp_path: Path,
) -> None:
    data = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COORDINATION_")}
    env.pop("REDIS_URL", None)  # so that the run would start an embedded server first
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env.update(COORDINATION_PORT=str(port), COORDINATION_DATA_DIR=str(data))
        started = time.monotonic()
        result = subprocess.run(
            [COORDINATION, "dev"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        took = time.monotonic() - started
    assert result.returncode != 0
    assert took < 10, f"{took:.1f} s: it should not wait for gunicorn's retries"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "COORDINATION_PORT" in lines[0] and f":{port} is taken" in lines[0], lines[0]
    assert result.stdout == "", "no URL, no tokens, no embedded server"
    assert not (data / "redis").exists(), "the embedded server was not started"
    assert not (data / "redis.url").exists() and not (data / "demo-tokens.json").exists()


def test_a_free_port_passes_the_check() -> None:
    from coordination.devtools.devrun import check_port
    from coordination.devtools.embedded import free_port

    check_port("127.0.0.1", free_port())  # no exception: gunicorn may bind it
