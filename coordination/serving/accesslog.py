"""gunicorn's logger with the token secrets taken out (``logger_class`` of the config).

The dashboard stream takes its token as a query parameter (EventSource sends no headers), so
the request line of every stream would carry a secret into the access log. Every access atom
that may hold one (the request line, the query string, the referer, the raw URI, any header or
environ value) has the value of ``token=`` replaced by ``[redacted]``, and credential headers
(``Authorization``, cookies) replaced whole. A filter does the same to each formatted line of
both the access and the error log, for a format or a message that names something else.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn import glogging

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
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactingFilter) for f in log.filters):
                log.addFilter(RedactingFilter())

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        return {key: _clean(key, value) for key, value in atoms.items()}


def _clean(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key.startswith("{") and key[-1] in "ieo" and is_secret_header(key[1:-2]):
        return REDACTED
    return redact(value)
