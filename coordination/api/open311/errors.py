"""Every error under /open311/v2 in the spec's shape, by the request's format, with the HTTP
status equal to the code::

    [{"code": 400, "description": "..."}]
    <errors><error><code>400</code><description>...</description></error></errors>

Our own errors (the app's handlers) are re-shaped, keeping their status (a 422 becomes the
spec's 400) and their Retry-After, Idempotency-Key headers; an unexpected one is logged and
answered 500, still in this shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from flask import Blueprint, Flask, Response, current_app, make_response, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from coordination.api.open311.render import format_of_request, respond

log = logging.getLogger(__name__)
KEPT_HEADERS = ("Retry-After", "Idempotency-Key", "Allow", "X-Position")


class Open311Error(Exception):
    """An answer in the spec's error shape: ``raise Open311Error(400, "start_date: ...")``."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def error_response(status: int, description: str, headers: Any = None) -> Response:
    """The spec's error list, in the current request's format."""
    items = [{"code": status, "description": description}]
    response = respond(format_of_request(), "errors", "error", items, status)
    if headers:
        response.headers.update(headers)
    return response


def install(blp: Blueprint) -> None:
    """Answer every error of ``blp``'s routes, and the 404/405 of unknown paths under its
    prefix, in the spec's shape."""
    blp.register_error_handler(Exception, handle)
    blp.record_once(_take_over_unrouted)


def handle(exc: Exception) -> Response:
    if isinstance(exc, Open311Error):
        return error_response(exc.status, exc.description)
    if isinstance(exc, HTTPException):
        return _http(exc)
    handler = _app_handler(current_app, type(exc))
    if handler is None:
        log.exception("unhandled error under Open311", exc_info=exc)
        return error_response(500, "Internal error.")
    try:
        ours = make_response(handler(exc))
    except Exception:  # noqa: BLE001 — the answer must still be in the spec's shape
        log.exception("error handler failed under Open311")
        return error_response(500, "Internal error.")
    body = ours.get_json(silent=True)
    message = body.get("message") if isinstance(body, dict) else None
    status = 400 if ours.status_code == 422 else ours.status_code
    headers = {k: ours.headers[k] for k in KEPT_HEADERS if k in ours.headers}
    return error_response(status, str(message or HTTPStatus(status).phrase), headers)


def _http(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    description = {
        404: "Not found.",
        405: "Method not allowed.",
    }.get(status, exc.description or HTTPStatus(status).phrase)
    return error_response(status, description, headers)


def _app_handler(app: Flask, cls: type) -> Callable[[Exception], Any] | None:
    """The app's own handler for ``cls`` (by its MRO), other than the catch-all."""
    handlers = app.error_handler_spec.get(None, {}).get(None, {})
    for base in cls.__mro__:
        if base is Exception:
            return None
        if base in handlers:
            return handlers[base]
    return None


def _take_over_unrouted(state: BlueprintSetupState) -> None:
    """No route matched, so no blueprint's handler runs: wrap the app's handler of HTTP
    errors to answer those under our prefix in the spec's shape."""
    prefix = state.url_prefix or ""
    handlers = state.app.error_handler_spec[None][None]
    previous = handlers.get(HTTPException)

    def unrouted(exc: HTTPException) -> Any:
        if request.path == prefix or request.path.startswith(prefix + "/"):
            return _http(exc)
        return previous(exc) if previous is not None else exc

    handlers[HTTPException] = unrouted
