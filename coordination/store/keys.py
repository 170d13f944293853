"""Every Redis key of the project, built in one place.

Each key of a partition carries the partition's hash tag (``{gangwen}``) so that a Redis
Cluster keeps a partition on one shard and a Lua script may touch all of its keys.

One lookup lives here too, ``current_generation``: which generation of projection keys is in
use, shared by the projector (the writer) and the read models without either importing the
other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline


def tag(partition: str) -> str:
    return "{" + partition + "}"


def log(partition: str) -> str:
    """The partition's event log: a stream whose entry ids are ``<position>-0``."""
    return f"{tag(partition)}:log"


def head(partition: str) -> str:
    """The last position assigned in the partition."""
    return f"{tag(partition)}:head"


def stream(partition: str, stream_id: str) -> str:
    """One aggregate's events, in version order, as a list of their log positions."""
    return f"{tag(partition)}:stream:{stream_id}"


def idempotency(partition: str, principal: str, key: str) -> str:
    return f"{tag(partition)}:idem:{principal}:{key}"


# Tokens share one hash tag of their own, so that creating one (two keys) is one transaction
# on a Redis Cluster too.


def token(token_hash: str) -> str:
    return f"{{tokens}}:token:{token_hash}"


def tokens_index() -> str:
    return "{tokens}:index"


def stream_slots_key(token_id: str) -> str:
    """The open streams of one token, across processes: stream id -> when it lapses (epoch
    seconds) unless its process renews it. (The tokens' hash tag: one shard with them.)"""
    return f"{{tokens}}:streams:{token_id}"


# --- the archive: closed history moved out of Redis into segment files --------------------


def archived(partition: str) -> str:
    """Stream list key -> where its archived records are (``<segment>|<frames>|<events>``), or
    ``pending:<segment>`` while it is being archived: either way it takes no more events."""
    return f"{tag(partition)}:archived"


def archive_top(partition: str) -> str:
    """The highest position whose record was let go from the log into the archive."""
    return f"{tag(partition)}:archive:top"


def archive_seq(partition: str) -> str:
    """The counter that names the partition's segments."""
    return f"{tag(partition)}:archive:seq"


def archive_open(partition: str) -> str:
    """The segments begun and not yet finished (a crashed run's are finished by the next)."""
    return f"{tag(partition)}:archive:open"


def archive_pending(partition: str, segment: str) -> str:
    """The stream lists going into one segment, in the order they were fenced."""
    return f"{tag(partition)}:archive:pending:{segment}"


def archive_lock(partition: str) -> str:
    return f"{tag(partition)}:archive:lock"


def archive_tick(partition: str) -> str:
    """Held between two archive runs of the periodic tick."""
    return f"{tag(partition)}:archive:tick"


def log_compacting(partition: str) -> str:
    """The log's live entries being copied into a fresh stream, which then replaces it."""
    return f"{tag(partition)}:log:compacting"


def trigger(partition: str) -> str:
    """Set by an append when no catch-up is pending; the catch-up clears it when done."""
    return f"{tag(partition)}:trigger"


# --- projections: each generation of read models lives under its own prefix ----------------


def generation(partition: str) -> str:
    """The generation of projections that readers use now."""
    return f"{tag(partition)}:proj:generation"


def current_generation(redis: Redis | Pipeline, partition: str) -> int:
    """The generation of projections to read and write now (1 before any rebuild)."""
    return int(redis.get(generation(partition)) or 1)


def generations(partition: str) -> str:
    """The counter from which rebuilds take a fresh generation."""
    return f"{tag(partition)}:proj:generations"


def projector_lock(partition: str) -> str:
    return f"{tag(partition)}:proj:lock"


def rebuild_lock(partition: str) -> str:
    return f"{tag(partition)}:proj:rebuild-lock"


def projection_prefix(partition: str, gen: int) -> str:
    return f"{tag(partition)}:g{gen}:"


def checkpoint(partition: str, gen: int) -> str:
    """The position of the last event applied to this generation."""
    return projection_prefix(partition, gen) + "checkpoint"


def view(partition: str, gen: int, incident_id: str) -> str:
    return projection_prefix(partition, gen) + f"view:{incident_id}"


def incidents_index(partition: str, gen: int) -> str:
    """Every incident, scored by its report time (``views.reported_score``: microseconds)."""
    return projection_prefix(partition, gen) + "incidents"


def queue(partition: str, gen: int, unit: str) -> str:
    """A unit's open orders, scored by urgency."""
    return projection_prefix(partition, gen) + f"queue:{unit}"


def queue_summary(partition: str, gen: int, unit: str) -> str:
    """Counts of a unit's queue by ``status|kind``."""
    return projection_prefix(partition, gen) + f"summary:{unit}"


def leases(partition: str, gen: int) -> str:
    """Claimed incidents, scored by when their lease runs out (epoch seconds)."""
    return projection_prefix(partition, gen) + "leases"


def deadlines(partition: str, gen: int) -> str:
    """Running deadlines, ``<incident id>|<deadline>`` scored by when they fall due."""
    return projection_prefix(partition, gen) + "deadlines"


def daily_counts(partition: str, gen: int, day: str) -> str:
    """One local day's counters, ``<unit>|<kind>|<metric>``: reported, on time, visits…"""
    return projection_prefix(partition, gen) + f"day:{day}"


def holdings(partition: str, gen: int, holder: str) -> str:
    """The incidents one person holds."""
    return projection_prefix(partition, gen) + f"holder:{holder}"


def tick_slot() -> str:
    """Held for one tick interval by the scheduler that enqueued the tick."""
    return "coordination:scheduler:tick"


def scheduler_heartbeat() -> str:
    """Present while a scheduler runs (its health check)."""
    return "coordination:scheduler:heartbeat"


def staff_view(partition: str, gen: int, staff_id: str) -> str:
    """A staff member as their events fold: profile, whether active, shifts."""
    return projection_prefix(partition, gen) + f"staff:{staff_id}"


def unit_staff(partition: str, gen: int, unit: str) -> str:
    """The ids of a unit's staff members."""
    return projection_prefix(partition, gen) + f"unit-staff:{unit}"


def deadline_spells(partition: str, gen: int) -> str:
    """Each time a deadline ran, ``<incident id>|<deadline>|<position it started at>`` scored by
    when it fell due: while it runs, and afterwards only if its work was done late."""
    return projection_prefix(partition, gen) + "spells"


def deadline_spell_info(partition: str, gen: int) -> str:
    """The members of ``deadline_spells`` to JSON: incident, kind, unit, deadline, due."""
    return projection_prefix(partition, gen) + "spell-info"


def deadline_spell_ends(partition: str, gen: int) -> str:
    """When a spell of ``deadline_spells`` that was done late ended (ISO time)."""
    return projection_prefix(partition, gen) + "spell-ends"


def demo_day(partition: str, day: str) -> str:
    """Set (once) by ``coordination demo`` for the local day it seeds: a day is seeded once."""
    return f"{tag(partition)}:demo-day:{day}"


def unit_changes(partition: str, gen: int) -> str:
    """Per unit, the last position at which an order changed there (held by the unit, or
    waiting in its queue, before or after the event) or its supplies ledger moved (the
    catalogue: the district's). A unit's live stream watches the largest of its subtree's
    fields."""
    return projection_prefix(partition, gen) + "unit-changes"


def claimable(partition: str, gen: int, unit: str) -> str:
    """A community's orders that are handed down and unclaimed, scored by urgency."""
    return projection_prefix(partition, gen) + f"claimable:{unit}"


# --- supplies: each unit's ledger, the catalogue, and indexes of donations and transfers ----


def supply_ledger(partition: str, gen: int, unit: str) -> str:
    """A unit's ledger as its ``supplies:<unit>`` stream folds (stock, cash, pleas...)."""
    return projection_prefix(partition, gen) + f"ledger:{unit}"


def supply_units(partition: str, gen: int) -> str:
    """The units that have a ledger."""
    return projection_prefix(partition, gen) + "ledger-units"


def supply_catalogue(partition: str, gen: int) -> str:
    """The district's catalogue: item name -> JSON ``{name, category, unit}``."""
    return projection_prefix(partition, gen) + "catalogue"


def donations_index(partition: str, gen: int) -> str:
    """Every donation's receipt, scored by when it was received (microseconds since the
    epoch): the public list (捐赠公示), newest first."""
    return projection_prefix(partition, gen) + "donations"


def donation_entries(partition: str, gen: int) -> str:
    """A donation's public entry by receipt (JSON, no contact details), as corrected."""
    return projection_prefix(partition, gen) + "donation-entries"


def transfers_sent(partition: str, gen: int) -> str:
    """A transfer as dispatched, by id: JSON ``{from_unit, to_unit, items, note,
    dispatched_at}``."""
    return projection_prefix(partition, gen) + "transfers"


def transfers_received(partition: str, gen: int) -> str:
    """A received transfer's receipt, by id: JSON ``{received_at, received, lost,
    loss_reason}``."""
    return projection_prefix(partition, gen) + "transfer-receipts"


def supply_day(partition: str, gen: int, day: str) -> str:
    """One local day's supplies counters: ``<unit>|donations``, ``<unit>|corrections``,
    ``<unit>|cash_fen``, ``<unit>|donated|<item>``, ``<unit>|issued|<item>``."""
    return projection_prefix(partition, gen) + f"supply-day:{day}"
