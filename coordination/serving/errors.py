"""Answers written by the server itself, in the API's one JSON error shape (see
coordination/api/errors.py ``error_response``), without Flask."""

from __future__ import annotations

import json
from collections.abc import Iterable
from http import HTTPStatus


def error_body(status: int, message: str) -> bytes:
    """``{"code": 431, "status": "Request Header Fields Too Large", "message": "..."}``."""
    body = {"code": status, "status": HTTPStatus(status).phrase, "message": message}
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def error_response(status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """A whole HTTP/1.1 answer that closes the connection, for a socket."""
    body = error_body(status, message)
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        "Connection: close",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def wsgi_error(
    status: int, message: str, start_response: object, headers: Iterable[tuple[str, str]] = ()
) -> list[bytes]:
    """The same answer from a WSGI application (it closes the connection too)."""
    body = error_body(status, message)
    start_response(  # type: ignore[operator]
        f"{status} {HTTPStatus(status).phrase}",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
            *headers,
        ],
    )
    return [body]
