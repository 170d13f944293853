"""RQ job entry points: thin functions with small JSON arguments that call into coordination/.

Each builds what it needs from configuration (once per process) and is idempotent: the
projector tracks positions, the domain refuses to expire a lease twice, and a token already in
line with its member is left alone.
"""

from __future__ import annotations

import functools
import logging

from coordination.bootstrap import Services, build_services
from coordination.config import Config
from coordination.store import keys
from coordination.store.tokens import MOVE

log = logging.getLogger(__name__)
ARCHIVE_EVERY = 3600  # seconds between two archive runs of the tick


@functools.cache
def services() -> Services:
    return build_services(Config.from_env())


def catch_up(partition: str) -> int:
    """Project a partition's log up to its head; the number of events applied."""
    return services().projector.catch_up(partition)


def expire_leases(partition: str) -> int:
    """Return the orders whose claim ran out to their queues; how many."""
    return services().watchers.expire_leases(partition)


def watch_deadlines(partition: str) -> int:
    """Record the deadlines that have passed and escalate each one level up; how many."""
    return services().watchers.watch_deadlines(partition)


def sweep_tokens() -> dict[str, int]:
    """Revoke the field tokens of members deactivated (or never registered) and move those of
    members moved to another unit, reading each member from the log; how many of each.

    Heals a crash between a staff event's append and the token change that follows it."""
    changes = services().tokens.sweep(services().staff.member_of)
    moved = sum(change.action == MOVE for change in changes)
    return {"revoked": len(changes) - moved, "moved": moved}


def tick() -> dict[str, dict[str, int]]:
    """The periodic sweep: bring field tokens in line with their members, catch up what a lost
    trigger missed, expire leases, and watch deadlines (then catch up again, so that breaches
    show at once). What it did per partition (the tokens' changes are logged)."""
    try:
        sweep_tokens()
    except Exception:  # the leases and deadlines are not held up by it: the next tick retries
        log.exception("the field-token sweep failed")
    done = {}
    for partition in services().partitions:
        applied = catch_up(partition)
        expired = expire_leases(partition)
        breached = watch_deadlines(partition)
        if expired or breached:
            applied += catch_up(partition)
        done[partition] = {"applied": applied, "expired": expired, "breached": breached}
        if services().config.archive_on_tick:
            done[partition]["archived"] = archive_due(partition)
    return done


def archive_due(partition: str) -> int:
    """Archive the orders closed long ago, at most once an hour (the tick runs every few
    seconds); the events moved. A failure is logged and the next hour tries again."""
    if not services().redis.set(keys.archive_tick(partition), 1, nx=True, ex=ARCHIVE_EVERY):
        return 0
    try:
        return services().archive(partition).events
    except Exception:
        log.exception("archiving %s failed", partition)
        return 0
