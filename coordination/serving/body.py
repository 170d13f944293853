"""A deadline for reading a request's body: ``BodyDeadline``, a WSGI middleware the worker hook
puts in front of the application (coordination/gunicorn_conf.py ``post_worker_init``).

gunicorn bounds the wait for a request's headers (under gevent, by ``keepalive``) but not for
its body: a client that sends its headers and then one byte a second holds its connection, and
under threads a thread, for as long as it likes. Here the body (up to the application's
``MAX_CONTENT_LENGTH`` and one byte more; a longer declared one is left to the application's
413) is read before the application runs, within ``timeout`` seconds from the end of the
headers, and the application reads it from memory. Past the deadline the answer is ``408`` in
the JSON error shape, and the connection is closed: the read side of the socket is shut down,
so that gunicorn does not wait for the rest of the body either.

Under gevent the deadline is a ``gevent.Timeout`` around the reads; under threads, a watchdog
thread (one per process) shuts the socket's read side at the deadline, which ends a blocked
``recv``.
"""

from __future__ import annotations

import contextlib
import heapq
import io
import itertools
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from coordination.serving.errors import wsgi_error

CHUNK = 65536


class BodyTimedOut(BaseException):
    """The body did not arrive before its deadline (a BaseException, as gevent's Timeout is,
    so that no ``except Exception`` on the way swallows it)."""


class BodyIncomplete(Exception):
    """The client stopped before the end of its body."""


class BodyDeadline:
    def __init__(self, app: Any, timeout: float, max_bytes: int | None = None) -> None:
        self.app = app
        self.timeout = timeout
        self.max_bytes = max_bytes

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # the Flask app's config, extensions... for hooks

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked:
            want = None if self.max_bytes is None else self.max_bytes + 1
        else:
            try:
                want = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                want = 0
            if want <= 0 or (self.max_bytes is not None and want > self.max_bytes):
                return self.app(environ, start_response)  # nothing to wait for, or a 413
        try:
            body = self.read(environ, want, exact=not chunked)
        except BodyTimedOut:
            message = f"The request body did not arrive within {self.timeout:g} s."
            return wsgi_error(408, message, start_response)
        except BodyIncomplete:
            return wsgi_error(400, "The request body ended early.", start_response)
        environ["wsgi.input"] = io.BytesIO(body)
        if not chunked:
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)

    def read(self, environ: dict[str, Any], want: int | None, exact: bool) -> bytes:
        stream = environ["wsgi.input"]
        sock = environ.get("gunicorn.socket")
        if _gevent_patched():
            import gevent

            try:
                with gevent.Timeout(self.timeout, BodyTimedOut):
                    return _read(stream, want, exact)
            except BodyTimedOut:
                _shut_reading(sock)
                raise
        if sock is None:  # not under gunicorn: the server bounds its reads
            return _read(stream, want, exact)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            _shut_reading(sock)

        entry = watchdog().call_at(time.monotonic() + self.timeout, expire)
        try:
            body = _read(stream, want, exact)
        except Exception:
            watchdog().cancel(entry)
            if expired.is_set():
                raise BodyTimedOut() from None
            raise
        watchdog().cancel(entry)  # if it fired meanwhile, the body is whole all the same
        return body


def _read(stream: Any, want: int | None, exact: bool) -> bytes:
    parts, got = [], 0
    while want is None or got < want:
        try:
            part = stream.read(CHUNK if want is None else min(CHUNK, want - got))
        except (OSError, ValueError) as exc:
            raise BodyIncomplete() from exc
        except Exception as exc:  # gunicorn's NoMoreData, a broken chunk...
            if type(exc).__module__.startswith("gunicorn"):
                raise BodyIncomplete() from exc
            raise
        if not part:
            break
        parts.append(part)
        got += len(part)
    if exact and want is not None and got < want:
        raise BodyIncomplete()
    return b"".join(parts)


def _shut_reading(sock: Any) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RD)


def _gevent_patched() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("socket"))


class Watchdog:
    """One daemon thread that calls functions at their (monotonic) deadlines."""

    def __init__(self) -> None:
        self._heap: list[list[Any]] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def call_at(self, deadline: float, fn: Callable[[], None]) -> list[Any]:
        entry = [deadline, next(self._seq), fn]
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="body-deadline")
                self._thread.daemon = True
                self._thread.start()
            self._cond.notify()
        return entry

    def cancel(self, entry: list[Any]) -> None:
        with self._cond:
            entry[2] = None  # left in the heap, skipped when it comes up

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                fn = heapq.heappop(self._heap)[2]
                if fn is not None:  # under the lock: once cancel() returns, it never runs
                    with contextlib.suppress(Exception):
                        fn()


_watchdog: Watchdog | None = None
_watchdog_lock = threading.Lock()


def watchdog() -> Watchdog:
    global _watchdog
    with _watchdog_lock:
        if _watchdog is None:
            _watchdog = Watchdog()
        return _watchdog
