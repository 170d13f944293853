"""A small HTTP/1.1 client for the chaos scenarios: keep-alive, a timeout, never a silent retry.

A request that gets no answer (refused, reset, timed out) comes back as status 0 with the error,
so that a scenario can count it: it is an unknown outcome, and retrying it blindly could write
twice, which is exactly what the scenarios check does not happen.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

IDLE_REUSE_SECONDS = 1.0  # gunicorn drops idle keep-alive connections after 2 s


@dataclass
class Answer:
    status: int  # 0: no answer
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    sent: float = 0.0  # time.monotonic() when the request was sent
    received: float = 0.0
    error: str = ""

    @property
    def elapsed(self) -> float:
        return self.received - self.sent

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def message(self) -> str:
        body = self.json()
        return str(body.get("message", "")) if isinstance(body, dict) else ""


class Client:
    """One connection at a time to the API; not thread-safe (one per thread)."""

    def __init__(self, host: str, port: int, token: str | None = None, timeout: float = 10.0):
        self.host = host
        self.port = port
        self.token = token
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._last = 0.0

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> Answer:
        sent_headers = {"Accept": "application/json"}
        secret = token or self.token
        if secret:
            sent_headers["Authorization"] = f"Bearer {secret}"
        payload = None
        if body is not None:
            payload = json.dumps(body, ensure_ascii=False).encode()
            sent_headers["Content-Type"] = "application/json"
        sent_headers.update(headers or {})
        now = time.monotonic()
        if self._conn is not None and now - self._last > IDLE_REUSE_SECONDS:
            self.close()
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        answer = Answer(0, sent=time.monotonic())
        try:
            self._conn.request(method, path, body=payload, headers=sent_headers)
            response = self._conn.getresponse()
            answer.body = response.read()
            answer.status = response.status
            answer.headers = {k.lower(): v for k, v in response.getheaders()}
            if answer.headers.get("connection", "").lower() == "close":
                self.close()
        except (OSError, http.client.HTTPException) as exc:
            answer.error = f"{type(exc).__name__}: {exc}"
            self.close()
        answer.received = time.monotonic()
        self._last = answer.received
        return answer

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Answer:
        return self.request("POST", path, {} if body is None else body, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self.request("GET", path, **kwargs)

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
        self._conn = None


def raw_connect(host: str, port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
