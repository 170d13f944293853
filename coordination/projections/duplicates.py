"""Which orders a new call may repeat (重复件): open orders at the same place about the same
thing, and the caller's own earlier orders. Computed from views; no I/O here."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from coordination.domain.values import Category, Kind, Status
from coordination.projections.views import View

LIMIT = 20  # of each list: the latest first
_NOT_DIGITS = re.compile(r"[^0-9+]")


@dataclass(frozen=True)
class Call:
    """What the operator knows of the call so far."""

    place_unit: str  # the unit the named place resolves to
    kind: Kind
    category: Category | None = None
    phone: str = ""


@dataclass
class Candidates:
    same_place: list[View] = field(default_factory=list)
    same_caller: list[View] = field(default_factory=list)


def same_phone(first: str, second: str) -> bool:
    """One number however it was typed (spaces, dashes)."""
    a, b = _NOT_DIGITS.sub("", first), _NOT_DIGITS.sub("", second)
    return bool(a) and a == b


def candidates(
    found: Iterable[View],
    call: Call,
    orders_since: datetime,
    keep: Callable[[View], bool],
    limit: int = LIMIT,
) -> Candidates:
    """From views latest first (reported since the caller's window began): the open orders at
    the call's place of its kind (and category) reported since ``orders_since``, and the orders
    the caller called about, whatever their state; those that ``keep`` accepts."""
    out = Candidates()
    for view in found:
        incident = view.incident
        if not keep(view):
            continue
        if (
            len(out.same_place) < limit
            and view.created_at >= orders_since
            and incident.status is not Status.CLOSED
            and incident.place_unit == call.place_unit
            and incident.kind is call.kind
            and (call.category is None or incident.category is call.category)
        ):
            out.same_place.append(view)
        callers = (incident.reporter, *incident.callers)
        if (
            call.phone
            and len(out.same_caller) < limit
            and any(c is not None and same_phone(c.phone, call.phone) for c in callers)
        ):
            out.same_caller.append(view)
    return out
