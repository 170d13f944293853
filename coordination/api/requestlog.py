"""What a request's log line needs from the application, and its ``X-Request-Id``.

The line itself (one per request, JSON or text) is written by gunicorn's access log, through
coordination/serving/accesslog.py, once the answer has been sent: only the server sees every
request (its own 400/414/431 answers, a body that timed out, a ten-minute stream) and how long
each took to the end. What only the application knows it leaves in the request's WSGI environ,
where the access log finds it: the route (the Flask URL rule, not the path), the id of the
caller's token (never its secret) and the request id.

The request id is the client's ``X-Request-Id`` when that is a sane one (1 to 128 characters
of ``A-Z a-z 0-9 . _ : + / = @ -``, and nothing shaped like a token's secret), else a new one;
every answer of the application carries it back in ``X-Request-Id``, errors included.
"""

from __future__ import annotations

import re
import secrets

from flask import Flask, Response, g, request

from coordination.store.tokens import PREFIX

HEADER = "X-Request-Id"
# The keys of the WSGI environ the access log reads (coordination/serving/accesslog.py).
REQUEST_ID = "coordination.request_id"
ROUTE = "coordination.route"
TOKEN_ID = "coordination.token_id"
_SANE_ID = re.compile(r"[A-Za-z0-9._:+/=@-]{1,128}")


def request_id_from(value: str | None) -> str:
    """The client's request id if it is a sane one, else a new one (32 hex digits)."""
    if value and _SANE_ID.fullmatch(value) and PREFIX not in value:
        return value
    return secrets.token_hex(16)


def register(app: Flask) -> None:
    """Give every request its id, and leave what its log line needs in its environ."""
    app.before_request(_take_request_id)
    app.after_request(_hand_over)


def _take_request_id() -> None:
    environ = request.environ
    if REQUEST_ID not in environ:
        environ[REQUEST_ID] = request_id_from(request.headers.get(HEADER))


def _hand_over(response: Response) -> Response:
    # After the error handlers too: an unhandled exception's 500 comes through here.
    _take_request_id()  # if a hook before ours refused the request first
    environ = request.environ
    response.headers[HEADER] = environ[REQUEST_ID]
    environ[ROUTE] = request.url_rule.rule if request.url_rule is not None else None
    token = g.get("token")
    if token is not None:
        environ[TOKEN_ID] = token.id
    return response
