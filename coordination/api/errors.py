"""One JSON error shape for every failure: code, status, message and, per location, fields.

    {"code": 422, "status": "Unprocessable Entity", "message": "...",
     "errors": {"json": {"place": ["unknown place or unit: '火星'"]}}}

flask-smorest already answers HTTP errors (and webargs' validation errors) in this shape; the
handlers here map the domain's and the service's errors onto it, and the spec documents, on
every operation, the errors it can give.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import flask_smorest
from apispec import BasePlugin
from flask import Flask, g, jsonify
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from coordination.domain.access import Forbidden, OutOfScope
from coordination.domain.errors import Conflict, DomainError, TimeWentBackwards
from coordination.domain.supplies import InsufficientStock, UnknownItem
from coordination.handlers.base import NotFound, Raced, VersionMismatch
from coordination.projections.reads import NotYetVisible, PositionNotWritten
from coordination.store.eventstore import IdempotencyKeyReused, StreamArchived
from coordination.store.segments import ArchiveError
from schemas.errors import ErrorSchema

log = logging.getLogger(__name__)

TEXT = {"schema": {"type": "string"}}
# Each error answer: the name of its response in the spec, what it means, the headers it has.
ERROR_RESPONSES: dict[int, tuple[str, str, dict[str, Any]]] = {
    400: ("BadJson", "The body is not JSON that can be read.", {}),
    401: (
        "Unauthenticated",
        "No bearer token, or an unknown or revoked one.",
        {"WWW-Authenticate": {"description": "Bearer, with the error if any.", **TEXT}},
    ),
    403: (
        "Forbidden",
        "The caller's role may not do this, or (reporting) the place is outside its subtree.",
        {},
    ),
    404: (
        "NotFound",
        "No such incident, unit, staff member or supplies record (donation receipt, transfer, "
        "plea), or one outside the caller's subtree: it does not exist for the caller.",
        {},
    ),
    409: (
        "Conflict",
        "Not the version expected (If-Match or expected_version), or someone else was first, "
        "or the incident has an event dated after this write (time only moves forward), or "
        "more supplies were asked of a unit's stock than it has available (errors.available "
        'names, per item, how many are: {"available": {"额温枪": 0}}), or a unit\'s '
        "supplies ledger was too busy to write to (retry).",
        {"ETag": {"description": "The current version, after a version conflict.", **TEXT}},
    ),
    408: ("BodyTimeout", "The body did not arrive in time after the headers.", {}),
    413: ("TooLarge", "The body is over the size limit (64 KiB by default).", {}),
    414: ("UriTooLong", "The request line is over the server's limit (2048 bytes).", {}),
    415: ("NotJson", "A body that is not application/json.", {}),
    422: (
        "Invalid",
        "An invalid body, query or header (errors names each field at fault), or a command "
        "the state does not allow. An item not in the supplies catalogue is named at its field "
        "(items.0.item), and errors.close_matches suggests catalogue items by what was asked: "
        '{"close_matches": {"口照": ["口罩"]}}.',
        {},
    ),
    429: (
        "TooMany",
        "Too many open streams, for this token or on this server.",
        {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    ),
    431: ("HeadersTooLarge", "Too many headers, or one over the server's limit.", {}),
    503: (
        "Unavailable",
        "The store is unavailable, or the projections did not reach min_position in time.",
        {
            "Retry-After": {
                "description": "Seconds to wait before asking again.",
                "schema": {"type": "integer", "minimum": 0},
            },
            "X-Position": {
                "description": "With min_position: the position the projections are at.",
                "schema": {"type": "integer"},
            },
            "Idempotency-Key": {
                "description": "A write's key: retry with it to learn whether it was recorded.",
                **TEXT,
            },
        },
    ),
}
WRITE_REFUSALS = frozenset({400, 403, 408, 409, 413, 415, 422})
# reads that some roles may not make
ROLE_CHECKED_READS = ("/reports/", "/me/", "/incidents/possible-duplicates", "/dashboard/cities/")
NAMING_A_UNIT = frozenset({"unit", "district"})


def refusals(path: str, operation: dict[str, Any]) -> set[int]:
    """The error answers an operation can give, from what it takes: any of them 414 and 431
    (gunicorn's limits) and 503 (the store can be unavailable for any request); with a token,
    401; with a body, a write's refusals;
    naming a resource (in its path, or a unit or district to read), 404; with a query, 422."""
    query = {
        p.get("name")
        for p in operation.get("parameters", [])
        if isinstance(p, dict) and p.get("in") == "query"
    }
    codes = {414, 431, 503}  # the server's own limits, and the store, for any request
    if operation.get("security") != [] or "token" in query:
        codes.add(401)
    if "token" in query:
        codes.add(429)  # a stream: capped per token
    if "requestBody" in operation:
        codes |= WRITE_REFUSALS
    if path.startswith(ROLE_CHECKED_READS):
        codes.add(403)
    if "{" in path or query & NAMING_A_UNIT:
        codes.add(404)
    if query - {"token"}:
        codes.add(422)
    return codes


class ErrorResponses(BasePlugin):  # type: ignore[misc]
    """An apispec plugin: each operation documents the errors it can give (``refusals``),
    where its view does not document one itself."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for operation in (operations or {}).values():
            responses = operation.setdefault("responses", {})
            for code in sorted(refusals(path or "", operation)):
                generic = HTTPStatus(code).name  # flask-smorest's own, e.g. for its 422
                if all(responses.get(key, generic) == generic for key in (code, str(code))):
                    responses.pop(code, None)
                    responses[str(code)] = ERROR_RESPONSES[code][0]


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
    """flask-smorest's Api, whose HTTP errors always carry a message (a 405, its Allow header)
    and whose spec documents each operation's errors."""

    ERROR_SCHEMA = ErrorSchema

    def _init_spec(self, *, extra_plugins: Any = None, **options: Any) -> None:
        super()._init_spec(extra_plugins=[*(extra_plugins or ()), ErrorResponses()], **options)

    def _register_responses(self) -> None:
        super()._register_responses()
        for name, description, headers in ERROR_RESPONSES.values():
            response = {"description": description, "schema": self.ERROR_SCHEMA}
            if headers:
                response["headers"] = headers
            prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(name, response, lazy=True)

    def handle_http_exception(self, error: HTTPException) -> Any:
        payload, code, headers = super().handle_http_exception(error)
        if "message" not in payload:
            problems = list(_problems(payload.get("errors", {})))
            payload["message"] = "; ".join(problems[:5]) or HTTPStatus(code).description
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers = {"Allow": ", ".join(sorted(error.valid_methods)), **(headers or {})}
        return payload, code, headers


def register(app: Flask) -> None:
    @app.errorhandler(OutOfScope)
    @app.errorhandler(NotFound)
    def not_found(exc: Exception) -> Any:
        # Not which one, nor why: outside one's subtree is the same as not there at all.
        return error_response(404, "No such incident, unit or record.")

    @app.errorhandler(InsufficientStock)
    def short(exc: InsufficientStock) -> Any:
        errors = {**at(exc.field, exc.message), "available": dict(exc.available)}
        return error_response(409, exc.message, errors)

    @app.errorhandler(UnknownItem)
    def unknown_item(exc: UnknownItem) -> Any:
        errors = {**at(exc.field, exc.message), "close_matches": {exc.item: list(exc.close)}}
        return error_response(422, exc.message, errors)

    @app.errorhandler(Raced)
    def busy(exc: Raced) -> Any:
        # Every attempt lost a race to another writer of the same ledger: nothing was written.
        message = "The supplies ledger is busy with other writes; nothing was written: try again."
        return error_response(409, message, headers={"Retry-After": "1"})

    @app.errorhandler(Forbidden)
    def forbidden(exc: Forbidden) -> Any:
        return error_response(403, exc.message, {"auth": {exc.field: [exc.message]}})

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Any:
        return error_response(422, exc.message, at(exc.field, exc.message))

    @app.errorhandler(VersionMismatch)
    def conflict(exc: VersionMismatch) -> Any:
        errors = {"headers": {"If-Match": [str(exc)]}}
        return error_response(409, str(exc), errors, {"ETag": f'"{exc.actual}"'})

    @app.errorhandler(NotYetVisible)
    def lagging(exc: NotYetVisible) -> Any:
        errors = {"query": {"min_position": [str(exc)]}}
        headers = {"Retry-After": "1", "X-Position": str(exc.reached)}
        return error_response(503, str(exc), errors, headers)

    @app.errorhandler(PositionNotWritten)
    def not_written(exc: PositionNotWritten) -> Any:
        errors = {"query": {"min_position": [str(exc)]}}
        return error_response(422, str(exc), errors, {"X-Position": str(exc.head)})

    @app.errorhandler(Conflict)
    def lost_race(exc: Conflict) -> Any:
        return error_response(409, exc.message, at(exc.field, exc.message))

    @app.errorhandler(TimeWentBackwards)
    def backwards(exc: TimeWentBackwards) -> Any:
        # No field of the request is at fault: the stream's last event is later than now.
        return error_response(409, exc.message)

    @app.errorhandler(StreamArchived)
    def archived(exc: StreamArchived) -> Any:
        return error_response(409, f"{exc.stream_id} is closed and archived: it is read-only.")

    @app.errorhandler(ArchiveError)
    def archive_unreadable(exc: ArchiveError) -> Any:
        # Never records that are not the ones written: the operator is told which file.
        log.error("the archive could not be read: %s", exc)
        return error_response(500, f"The archive could not be read: {exc}")

    @app.errorhandler(IdempotencyKeyReused)
    def key_reused(exc: IdempotencyKeyReused) -> Any:
        message = "This Idempotency-Key was used before with a different request."
        return error_response(422, message, {"headers": {"Idempotency-Key": [message]}})

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        log.exception("unhandled error")
        message = "Internal error."
        if (key := g.get("idempotency_key")) is not None:
            # Where it failed is not known here: the write may have been recorded before.
            message += (
                " The write may or may not have been recorded; retry with the same "
                f"Idempotency-Key ({key}) to learn which."
            )
        return error_response(500, message)


def at(field: str, problem: str) -> dict[str, Any]:
    """A domain error's problem under ``json``, nested as marshmallow nests a field's:
    ``items.0.item`` is ``{"json": {"items": {"0": {"item": [problem]}}}}``."""
    node: Any = [problem]
    for part in reversed(field.split(".")):
        node = {part: node}
    return {"json": node}


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
