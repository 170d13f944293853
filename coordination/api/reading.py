"""What the read endpoints share: the services, scope checks, and waiting for a position."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app
from flask_smorest import abort

from coordination.api.auth import current_actor
from coordination.bootstrap import Services
from coordination.domain.access import Action, OutOfScope, authorize
from coordination.handlers.base import NotFound
from coordination.projections.reads import BadCursor

T = TypeVar("T")


def services() -> Services:
    found: Services = current_app.extensions["coordination"]
    return found


def within_scope(unit: str) -> None:
    """Raise unless the caller may read what ``unit`` holds: a unit outside the caller's subtree,
    or no unit at all, does not exist for the caller."""
    try:
        authorize(current_actor(), Action.READ, unit, services().jurisdiction)
    except OutOfScope:
        raise NotFound(unit) from None


def reading(read: Callable[[], T]) -> T:
    """Run a read, turning a bad cursor into a 422 (projection lag becomes a 503 elsewhere)."""
    try:
        return read()
    except BadCursor as exc:
        abort(422, message=f"cursor: {exc}", errors={"query": {"cursor": [str(exc)]}})
        raise  # abort raises; this line only satisfies the type checker
