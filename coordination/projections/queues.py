"""How a queue is ordered: which unit's queue (and which community's claimable set) an order
waits in, at what urgency score, and the writes that keep those keys in step with its view.

A unit's queue holds its open orders scored by ``urgency``, most urgent first; its summary
counts them by ``status|kind``. A community's claimable set holds the subset its field staff may
claim now, with the same scores, so that pulling the next order never steps over claimed ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from coordination.domain.incident import OPEN_AT_A_UNIT, Incident, pending_deadlines
from coordination.domain.values import Kind, Priority, Status
from coordination.projections.writes import Writes
from coordination.store import keys

if TYPE_CHECKING:  # views imports this module: the view is only named here
    from coordination.projections.views import View

# Where an order waits, by status: the district for what it must (re-)dispatch, call back or
# close; otherwise the unit that holds it. Closed orders wait nowhere.
AT_DISTRICT = frozenset({Status.RETURNED, Status.RESOLVED, Status.VISITED})
PRIORITY_BAND = {Priority.URGENT: 1, Priority.HIGH: 2, Priority.NORMAL: 3, Priority.LOW: 4}


# --- placement ----------------------------------------------------------------------------


def queue_unit(incident: Incident) -> str | None:
    """The unit whose own queue the order waits in (None once it is closed)."""
    if incident.status is Status.CLOSED:
        return None
    return incident.district if incident.status in AT_DISTRICT else incident.unit


def placements(incident: Incident) -> dict[str, str]:
    """The queues an order waits in, each with the ``status|kind`` it is counted under there:
    its own, and while it is open, the queue of the unit it was escalated to (督办)."""
    # Kind and Status are StrEnums: joined as the strings they are (``.value`` costs a
    # descriptor call, and this runs several times per projected event).
    kind = "|" + incident.kind if incident.kind else "|"
    found: dict[str, str] = {}
    if incident.escalated_to and incident.status in OPEN_AT_A_UNIT:
        found[incident.escalated_to] = "escalated" + kind
    if (unit := queue_unit(incident)) is not None:
        found[unit] = incident.status + kind
    return found


def claimable_at(view: View | None) -> str | None:
    """The community whose field staff may claim the order now, if any: one handed down and
    not yet claimed. Claimed orders stay in the queue but leave this set, so that pulling the
    next one never has to step over them."""
    if view is None or view.incident.status is not Status.HANDED_DOWN:
        return None
    return view.incident.unit


# --- urgency ------------------------------------------------------------------------------


def urgency(view: View) -> float:
    """Lower is more urgent: night emergencies first, then by priority, then the earliest
    running deadline (to the minute; the order's age for one without), then the oldest.

    Packed into one exact integer (below 2**53) so that a sorted set orders by it:
    band (3 bits) | deadline minute (26 bits, to the year 2097) | age (21 bits): the second the
    order was made, counted from 24 days before the end of its deadline's minute.
    """
    incident = view.incident
    band = 0 if incident.kind is Kind.NIGHT_EMERGENCY else PRIORITY_BAND[incident.priority]
    created = int(view.created_at.timestamp())
    due = min(pending_deadlines(incident).values(), default=view.created_at).timestamp()
    minute = min(max(int(due // 60), 0), (1 << 26) - 1)
    since = (minute + 1) * 60 - (1 << 21)
    age = min(max(created - since, 0), (1 << 21) - 1)
    return float((band << 47) | (minute << 21) | age)


# --- the writes ---------------------------------------------------------------------------


def write(
    w: Writes, partition: str, gen: int, incident_id: str, old: View | None, new: View
) -> None:
    """Queue the writes that take one order's queues, summaries and claimable set from ``old``
    to ``new``."""
    was = placements(old.incident) if old else {}
    now = placements(new.incident)
    was_claimable, now_claimable = claimable_at(old), claimable_at(new)
    score = urgency(new) if now or now_claimable else 0.0
    _write_queues(w, partition, gen, incident_id, was, now, score)
    _write_summaries(w, partition, gen, was, now)
    _write_claimable(w, partition, gen, incident_id, was_claimable, now_claimable, score)


def _write_queues(
    w: Writes,
    partition: str,
    gen: int,
    incident_id: str,
    was: dict[str, str],
    now: dict[str, str],
    score: float,
) -> None:
    for unit in was.keys() - now.keys():
        w.zrem(keys.queue(partition, gen, unit), incident_id)
    for unit in now:
        w.zadd(keys.queue(partition, gen, unit), {incident_id: score})


def _write_summaries(
    w: Writes, partition: str, gen: int, was: dict[str, str], now: dict[str, str]
) -> None:
    for unit in was.keys() | now.keys():
        if was.get(unit) != now.get(unit):
            summary = keys.queue_summary(partition, gen, unit)
            if unit in was:
                w.count(summary, was[unit], -1)
            if unit in now:
                w.count(summary, now[unit], 1)


def _write_claimable(
    w: Writes,
    partition: str,
    gen: int,
    incident_id: str,
    was: str | None,
    now: str | None,
    score: float,
) -> None:
    if was and was != now:
        w.zrem(keys.claimable(partition, gen, was), incident_id)
    if now:
        w.zadd(keys.claimable(partition, gen, now), {incident_id: score})
