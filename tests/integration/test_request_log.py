"""One structured line per request, under a real gunicorn with the shipped configuration
(coordination/gunicorn_conf.py) on the session's server: method, route, status, duration, the
request id (the client's, or one made up and sent back) and the token's id; never a secret.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib

from coordination.config import Config
from coordination.devtools.embedded import free_port
from coordination.domain.access import Role
from coordination.store import keys
from coordination.store.tokens import TokenStore, hash_token

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SECRET_SHAPE = re.compile(r"cdn_[A-Za-z0-9_\-]{8,}")
FIELDS = {"time", "method", "route", "uri", "status", "duration_ms", "request_id", "token_id"}


@dataclass
class Server:
    port: int
    folder: Path
    proc: subprocess.Popen[bytes]

    @property
    def access_log(self) -> Path:
        return self.folder / "access.log"

    def everything(self) -> str:
        """Every byte the server wrote: access and error logs, stdout and stderr."""
        names = ("access.log", "error.log", "stdout", "stderr")
        return "".join((self.folder / n).read_text(errors="replace") for n in names)


@pytest.fixture(scope="module")
def served(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("requestlog")
    port = free_port(HOST)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COORDINATION_")}
    env.update(REDIS_URL=redis_url, PYTHONPATH=str(ROOT))
    args = [
        sys.executable, "-m", "gunicorn",
        "--config", "python:coordination.gunicorn_conf",
        "--bind", f"{HOST}:{port}",
        "--access-logfile", str(folder / "access.log"),
        "--error-logfile", str(folder / "error.log"),
    ]  # fmt: skip
    with (folder / "stdout").open("wb") as out, (folder / "stderr").open("wb") as err:
        proc = subprocess.Popen(
            args, cwd=folder, env=env, stdout=out, stderr=err, start_new_session=True
        )
    server = Server(port, folder, proc)
    try:
        deadline = time.monotonic() + 30
        while get(server, "/healthz")[0] != 200:
            assert proc.poll() is None and time.monotonic() < deadline, server.everything()
            time.sleep(0.2)
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def get(server: Server, path: str, **headers: str) -> tuple[int, dict[str, str]]:
    """(status, headers) of a GET; (0, {}) while the server is not up."""
    conn = http.client.HTTPConnection(HOST, server.port, timeout=5)
    try:
        conn.request("GET", path, headers={k.replace("_", "-"): v for k, v in headers.items()})
        response = conn.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    except OSError:
        return 0, {}
    finally:
        conn.close()


def stream_once(server: Server, secret: str, request_id: str) -> None:
    """Open the dashboard stream with its ``?token=``, read its first event, hang up."""
    with socket.create_connection((HOST, server.port), timeout=5) as sock:
        request = (
            f"GET /dashboard/stream?token={secret} HTTP/1.1\r\nHost: x\r\n"
            f"X-Request-Id: {request_id}\r\n\r\n"
        )
        sock.sendall(request.encode())
        received = b""
        while b"event: position" not in received:
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
        assert f"x-request-id: {request_id}".encode() in received.lower()


def lines_since(server: Server, offset: int, count: int) -> list[dict[str, Any]]:
    """The access log's lines after ``offset``, once there are ``count`` of them (and no more
    a moment later), each parsed as JSON."""
    deadline = time.monotonic() + 15
    while True:
        text = server.access_log.read_bytes()[offset:].decode()
        if text.count("\n") >= count:
            time.sleep(0.5)  # a line too many would show by now
            text = server.access_log.read_bytes()[offset:].decode()
            return [json.loads(line) for line in text.splitlines()]
        assert time.monotonic() < deadline, text
        time.sleep(0.1)


def test_one_json_line_per_request_with_its_id_route_status_duration_and_token(
    served: Server, redis: redis_lib.Redis
) -> None:
    tokens = TokenStore(redis)
    dispatcher, dispatcher_token = tokens.create(Role.DISPATCHER, "gangwen", "dispatcher")
    viewer, viewer_token = tokens.create(Role.VIEWER, "gangwen", "wall")
    broken, _ = tokens.create(Role.VIEWER, "gangwen", "broken")
    # A real 500, with nothing mocked: a token record the store holds is not JSON.
    redis.set(keys.token(hash_token(broken)), b"{not json")
    offset = served.access_log.stat().st_size

    status, headers = get(served, "/healthz", X_Request_Id="healthz-1")
    assert (status, headers["x-request-id"]) == (200, "healthz-1")
    status, headers = get(served, "/incidents", Authorization=f"Bearer {dispatcher}")
    assert status == 200
    generated = headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated), generated
    status, headers = get(
        served, "/incidents/gangwen-20200101-nothere", Authorization=f"Bearer {dispatcher}",
        X_Request_Id="not-found-1",
    )  # fmt: skip
    assert (status, headers["x-request-id"]) == (404, "not-found-1")
    status, headers = get(served, "/incidents", X_Request_Id="no-token-1")
    assert (status, headers["x-request-id"]) == (401, "no-token-1")
    status, headers = get(
        served, "/incidents", Authorization=f"Bearer {broken}", X_Request_Id="broken-1"
    )
    assert (status, headers["x-request-id"]) == (500, "broken-1")
    # Ids that are not sane are replaced, never logged: a secret, one too long.
    status, headers = get(served, "/healthz", X_Request_Id=viewer)
    replaced_secret = headers["x-request-id"]
    status, headers = get(served, "/healthz", X_Request_Id="x" * 129)
    replaced_long = headers["x-request-id"]
    assert viewer not in replaced_secret and len(replaced_long) == 32
    stream_once(served, viewer, "stream-1")

    lines = lines_since(served, offset, 8)
    assert len(lines) == 8, lines  # one per request, the stream's when it ended
    by_id = {line["request_id"]: line for line in lines}
    assert len(by_id) == 8, "each line its own request id"
    for line in lines:
        assert set(line) >= FIELDS, line
        assert line["method"] == "GET" and isinstance(line["duration_ms"], float)
        assert line["duration_ms"] >= 0
    expected = {
        "healthz-1": ("/healthz", 200, None),
        generated: ("/incidents", 200, dispatcher_token.id),
        "not-found-1": ("/incidents/<incident_id>", 404, dispatcher_token.id),
        "no-token-1": ("/incidents", 401, None),
        "broken-1": ("/incidents", 500, None),
        replaced_secret: ("/healthz", 200, None),
        replaced_long: ("/healthz", 200, None),
        "stream-1": ("/dashboard/stream", 200, viewer_token.id),
    }
    found = {
        rid: (by_id[rid]["route"], by_id[rid]["status"], by_id[rid]["token_id"]) for rid in by_id
    }
    assert found == expected
    assert by_id["stream-1"]["uri"] == "/dashboard/stream?token=[redacted]"

    logs = served.everything()
    for secret in (dispatcher, viewer, broken):
        assert secret not in logs
    assert not SECRET_SHAPE.findall(logs), SECRET_SHAPE.findall(logs)


def test_an_answer_the_server_gave_before_the_application_has_its_line(served: Server) -> None:
    # A body that ends early is refused before the application runs (coordination.serving.body).
    offset = served.access_log.stat().st_size
    with socket.create_connection((HOST, served.port), timeout=5) as sock:
        sock.sendall(
            b"POST /incidents HTTP/1.1\r\nHost: x\r\nX-Request-Id: early-1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 10\r\n\r\n{"a'
        )
        sock.shutdown(socket.SHUT_WR)
        assert b" 400 " in sock.recv(65536).split(b"\r\n", 1)[0]
    (line,) = lines_since(served, offset, 1)
    assert (line["method"], line["route"], line["status"]) == ("POST", None, 400)
    assert (line["request_id"], line["token_id"]) == ("early-1", None)


def test_the_line_is_text_on_a_terminal_or_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gunicorn.config import Config as GunicornConfig

    from coordination.serving.accesslog import RedactingLogger, text_line

    def logger() -> RedactingLogger:
        cfg = GunicornConfig()
        cfg.set("accesslog", str(tmp_path / "access.log"))
        return RedactingLogger(cfg)

    monkeypatch.delenv("COORDINATION_LOG_FORMAT", raising=False)
    assert not logger().text, "a file is not a terminal: JSON"
    monkeypatch.setenv("COORDINATION_LOG_FORMAT", "text")
    assert logger().text
    monkeypatch.setenv("COORDINATION_LOG_FORMAT", "JSON")
    assert not logger().text
    with pytest.raises(ValueError, match="COORDINATION_LOG_FORMAT"):
        Config.from_env({"COORDINATION_LOG_FORMAT": "xml"})
    fields = {
        "time": "2026-12-04T20:19:25.120+00:00", "method": "GET", "route": "/healthz",
        "uri": "/healthz", "status": 200, "duration_ms": 1.5, "request_id": "r-1",
        "token_id": None,
    }  # fmt: skip
    assert text_line(fields) == (
        "20:19:25 GET /healthz 200 1.5 ms route=/healthz token_id=- request_id=r-1"
    )
