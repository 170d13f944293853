"""gunicorn's logger: one structured line per request, and no token secret in any line
(``logger_class`` of the config).

**One line per request**, written by the access log once the answer is sent (so a stream's
line comes when it ends, with its whole duration), JSON by default and readable text when the
access log is a terminal (``COORDINATION_LOG_FORMAT=json|text`` forces either)::

    {"time": "2026-12-04T20:19:25.120+00:00", "method": "GET", "route": "/incidents/<incident_id>",
     "uri": "/incidents/gangwen-20200203-5f0c9a1e", "status": 200, "duration_ms": 4.2,
     "request_id": "9f1c...", "token_id": "tok_3a9e01b2c4d5", "remote": "127.0.0.1", "bytes": 812}

The application leaves the route, the token's id and the request id in the request's environ
(coordination/api/requestlog.py); an answer gunicorn gave itself (a refused request line, too
many headers) or the body deadline gave has no route and no token, and a request id of its own.

**No secrets.** The dashboard stream takes its token as a query parameter (EventSource sends no
headers), so the request line of every stream would carry a secret into the log. Every access
atom that may hold one (the request line, the query string, the referer, the raw URI, any header
or environ value) has the value of ``token=`` replaced by ``[redacted]``, and credential headers
(``Authorization``, cookies) replaced whole. A filter does the same to each formatted line of
both the access and the error log, for a format or a message that names something else.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from typing import Any

from gunicorn import glogging

from coordination.config import Config
from coordination.serving.redact import REDACTED, is_secret_header, redact


class RedactingFilter(logging.Filter):
    """Redacts the formatted message of every record that passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # let the handler report a broken record as it would
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class RedactingLogger(glogging.Logger):  # type: ignore[misc]
    text = False  # whether the access lines are text (a terminal) rather than JSON

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactingFilter) for f in log.filters):
                log.addFilter(RedactingFilter())
        chosen = Config.from_env().log_format
        self.text = chosen == "text" or (not chosen and _to_terminal(self.access_log))

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """The request's one line, JSON or text (instead of ``access_log_format``)."""
        if not self.access_log_enabled:
            return
        try:
            fields = request_fields(resp, req, environ, request_time)
            self.access_log.info(text_line(fields) if self.text else json_line(fields))
        except Exception:
            self.error(traceback.format_exc())

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        return {key: _clean(key, value) for key, value in atoms.items()}


def request_fields(resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
    """What the line says of a request: the server's view, and what the application left."""
    # Imported here, not above: the master loads this class before it forks, and the worker
    # (gevent) must be the first to import Flask, after its monkey-patching.
    from coordination.api import requestlog

    request_id = environ.get(requestlog.REQUEST_ID) or requestlog.request_id_from(
        _header(req, requestlog.HEADER)
    )
    return {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "method": environ.get("REQUEST_METHOD") or getattr(req, "method", None),
        "route": environ.get(requestlog.ROUTE),
        "uri": redact(str(environ.get("RAW_URI") or getattr(req, "uri", "") or "")),
        "status": getattr(resp, "status_code", None),
        "duration_ms": round(request_time.total_seconds() * 1000, 1),
        "request_id": request_id,
        "token_id": environ.get(requestlog.TOKEN_ID),
        "remote": environ.get("REMOTE_ADDR"),
        "bytes": getattr(resp, "sent", None),
    }


def json_line(fields: dict[str, Any]) -> str:
    """One line of JSON."""
    return json.dumps(fields, ensure_ascii=False, separators=(", ", ": "))


def text_line(fields: dict[str, Any]) -> str:
    """A line for a terminal: ``20:19:25 GET /uri 200 4.2 ms route=... token_id=... ...``."""
    head = (
        f"{fields['time'][11:19]} {fields['method']} {fields['uri']} {fields['status']} "
        f"{fields['duration_ms']} ms"
    )
    tail = [f"{name}={fields[name] or '-'}" for name in ("route", "token_id", "request_id")]
    return " ".join([head, *tail])


def _header(req: Any, name: str) -> str | None:
    for key, value in getattr(req, "headers", None) or ():
        if key.lower() == name.lower():
            return str(value)
    return None


def _to_terminal(log: logging.Logger) -> bool:
    streams = [getattr(h, "stream", None) for h in log.handlers]
    return any(getattr(stream, "isatty", lambda: False)() for stream in streams)


def _clean(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key.startswith("{") and key[-1] in "ieo" and is_secret_header(key[1:-2]):
        return REDACTED
    return redact(value)
