"""What the read endpoints share: the services, scope checks, and waiting for a position."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app
from flask_smorest import abort

from coordination.api.auth import current_actor
from coordination.bootstrap import Services
from coordination.projections.reads import BadCursor
from coordination.service import NotFound

T = TypeVar("T")


def services() -> Services:
    found: Services = current_app.extensions["coordination"]
    return found


def within_scope(unit: str) -> None:
    """A unit outside the caller's subtree, or no unit at all, does not exist for the caller."""
    if not services().jurisdiction.within(unit, current_actor().unit):
        raise NotFound(unit)


def reading(read: Callable[[], T]) -> T:
    """Run a read, turning a bad cursor into a 422 (projection lag becomes a 503 elsewhere)."""
    try:
        return read()
    except BadCursor as exc:
        abort(422, message=f"cursor: {exc}", errors={"query": {"cursor": [str(exc)]}})
        raise  # abort raises; this line only satisfies the type checker
