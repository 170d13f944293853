"""One JSON error shape for every failure: code, status, message and, per location, fields.

    {"code": 422, "status": "Unprocessable Entity", "message": "...",
     "errors": {"json": {"place": ["unknown place or unit: '火星'"]}}}

flask-smorest already answers HTTP errors (and webargs' validation errors) in this shape; the
handlers here map the domain's and the service's errors onto it.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import flask_smorest
from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from coordination.domain.access import Forbidden, OutOfScope
from coordination.domain.errors import Conflict, DomainError
from coordination.eventstore import IdempotencyKeyReused
from coordination.projections.reads import NotYetVisible
from coordination.service import NotFound, VersionMismatch

log = logging.getLogger(__name__)


def error_response(
    status: int, message: str, errors: dict[str, Any] | None = None, headers: Any = None
) -> Any:
    body: dict[str, Any] = {"code": status, "status": HTTPStatus(status).phrase, "message": message}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response


class Api(flask_smorest.Api):  # type: ignore[misc]
    """flask-smorest's Api, whose HTTP errors always carry a message."""

    def handle_http_exception(self, error: HTTPException) -> Any:
        payload, code, headers = super().handle_http_exception(error)
        if "message" not in payload:
            problems = list(_problems(payload.get("errors", {})))
            payload["message"] = "; ".join(problems[:5]) or HTTPStatus(code).description
        return payload, code, headers


def register(app: Flask) -> None:
    @app.errorhandler(OutOfScope)
    @app.errorhandler(NotFound)
    def not_found(exc: Exception) -> Any:
        # Not which one, nor why: outside one's subtree is the same as not there at all.
        return error_response(404, "No such incident or unit.")

    @app.errorhandler(Forbidden)
    def forbidden(exc: Forbidden) -> Any:
        return error_response(403, exc.message, {"auth": {exc.field: [exc.message]}})

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Any:
        return error_response(422, exc.message, {"json": {exc.field: [exc.message]}})

    @app.errorhandler(VersionMismatch)
    def conflict(exc: VersionMismatch) -> Any:
        errors = {"headers": {"If-Match": [str(exc)]}}
        return error_response(409, str(exc), errors, {"ETag": f'"{exc.actual}"'})

    @app.errorhandler(NotYetVisible)
    def lagging(exc: NotYetVisible) -> Any:
        errors = {"query": {"min_position": [str(exc)]}}
        headers = {"Retry-After": "1", "X-Position": str(exc.reached)}
        return error_response(503, str(exc), errors, headers)

    @app.errorhandler(Conflict)
    def lost_race(exc: Conflict) -> Any:
        return error_response(409, exc.message, {"json": {exc.field: [exc.message]}})

    @app.errorhandler(IdempotencyKeyReused)
    def key_reused(exc: IdempotencyKeyReused) -> Any:
        message = "This Idempotency-Key was used before with a different request."
        return error_response(422, message, {"headers": {"Idempotency-Key": [message]}})

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        log.exception("unhandled error")
        return error_response(500, "Internal error; nothing was written.")


def _problems(errors: Any, path: str = "") -> Any:
    """Flatten nested validation errors into ``field: problem`` lines."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = str(key) if key in ("json", "query", "headers", "form") and not path else key
            yield from _problems(value, f"{path}.{name}" if path else str(name))
    elif isinstance(errors, list | tuple):
        for item in errors:
            yield from _problems(item, path)
    else:
        yield f"{path}: {errors}" if path else str(errors)
