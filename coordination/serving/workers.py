"""gunicorn workers whose own answers (a request line or headers it refuses, a failure outside
the application) are in the API's JSON error shape instead of gunicorn's HTML page.

``JsonErrors`` replaces ``Worker.handle_error`` (gunicorn/workers/base.py): the same statuses
for the same parse errors, the message and the log lines redacted of token secrets (a refused
request line may hold one), the body ``{"code", "status", "message"}`` with its Content-Type
and Content-Length. ``ThreadWorker`` is gunicorn's gthread worker with it; the gevent one is in
``coordination.serving.green`` (importing gevent is left to the configurations that use it).
"""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from ssl import SSLError
from typing import Any

from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.gthread import ThreadWorker as GunicornThreadWorker

from coordination.serving.errors import error_response
from coordination.serving.redact import redact

# (exception types, status) in gunicorn's order; the message is the exception's text.
CLIENT_ERRORS: list[tuple[tuple[type[BaseException], ...], int]] = [
    ((http_errors.UnsupportedTransferCoding,), 501),
    ((http_errors.ConfigurationProblem,), 500),
    ((http_errors.LimitRequestLine,), 414),
    ((http_errors.LimitRequestHeaders,), 431),
    ((http_errors.ExpectationFailed,), 417),
    ((http_errors.ForbiddenProxyRequest, SSLError), 403),
    (
        (
            http_errors.InvalidRequestLine,
            http_errors.InvalidRequestMethod,
            http_errors.InvalidHTTPVersion,
            http_errors.InvalidHeader,
            http_errors.InvalidHeaderName,
            http_errors.ObsoleteFolding,
            http_errors.InvalidProxyLine,
            http_errors.InvalidSchemeHeaders,
            http_errors.InvalidChunkSize,
            http_errors.ChunkMissingTerminator,
            http_errors.InvalidChunkExtension,
            http_errors.InvalidH2CPreface,
        ),
        400,
    ),
]
MESSAGES: dict[type[BaseException], str] = {
    http_errors.LimitRequestHeaders: "Request header fields too large: {}",
    http_errors.ForbiddenProxyRequest: "Request forbidden.",
}
BAD_HEADERS = (http_errors.InvalidHeader, http_errors.InvalidHeaderName)
SERVER_ERROR = "Internal server error; a write may or may not have been made."


def classify(exc: BaseException) -> tuple[int, str, bool]:
    """(status, message, whether it is the client's fault) for an error gunicorn caught."""
    if isinstance(exc, http_errors.InvalidResponseHeader | http_errors.InvalidResponseHeaderName):
        return 500, SERVER_ERROR, False  # a header the application sent: its fault
    for types, status in CLIENT_ERRORS:
        if isinstance(exc, types):
            template = next((m for t, m in MESSAGES.items() if isinstance(exc, t)), "{}")
            message = template.format(exc).strip() or HTTPStatus(status).description
            return status, redact(message), True
    return 500, SERVER_ERROR, False


class JsonErrors:
    """Mixin for a gunicorn worker (before it in the bases): JSON error answers."""

    cfg: Any
    log: Any

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        request_start = datetime.now()
        addr = addr or ("", -1)  # a unix socket
        status, message, client_error = classify(exc)
        if client_error:
            if req is None and isinstance(exc, BAD_HEADERS):
                req = getattr(exc, "req", None)  # the request it was in, for the access log
            self.log.warning("Invalid request from ip=%s: %s", addr[0], redact(str(exc)))
        else:
            uri = redact(str(getattr(req, "uri", "") or "(no URI read)"))
            self.log.exception("Error handling request %s %s", getattr(req, "method", ""), uri)
        answer = error_response(status, message)
        if req is not None and hasattr(req, "body"):
            try:
                environ = default_environ(req, client, self.cfg)
                environ["REMOTE_ADDR"] = addr[0]
                environ["REMOTE_PORT"] = str(addr[1])
                resp = Response(req, client, self.cfg)
                resp.status = f"{status} {HTTPStatus(status).phrase}"
                resp.response_length = len(answer) - answer.index(b"\r\n\r\n") - 4
                self.log.access(resp, req, environ, datetime.now() - request_start)
            except Exception:
                self.log.debug("Failed to log the error's access line.", exc_info=True)
        try:
            util.write_nonblock(client, answer)
        except Exception:
            self.log.debug("Failed to send error message.")


class ThreadWorker(JsonErrors, GunicornThreadWorker):  # type: ignore[misc]
    """gunicorn's gthread worker, its own errors in JSON."""
