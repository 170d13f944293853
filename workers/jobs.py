"""RQ job entry points: thin functions with small JSON arguments that call into coordination/.

Each builds what it needs from configuration (once per process) and is idempotent: the
projector tracks positions, and the domain refuses to expire a lease twice.
"""

from __future__ import annotations

import functools

from coordination.config import Config
from coordination.services import Services, build_services


@functools.cache
def services() -> Services:
    return build_services(Config.from_env())


def catch_up(partition: str) -> int:
    """Project a partition's log up to its head; the number of events applied."""
    return services().projector.catch_up(partition)


def expire_leases(partition: str) -> int:
    """Return the orders whose claim ran out to their queues; how many."""
    return services().incidents.expire_leases(partition)


def watch_deadlines(partition: str) -> int:
    """Record the deadlines that have passed and escalate each one level up; how many."""
    return services().incidents.watch_deadlines(partition)


def tick() -> dict[str, dict[str, int]]:
    """The periodic sweep: catch up what a lost trigger missed, expire leases, and watch
    deadlines (then catch up again, so that breaches show at once)."""
    done = {}
    for partition in services().partitions:
        applied = catch_up(partition)
        expired = expire_leases(partition)
        breached = watch_deadlines(partition)
        if expired or breached:
            applied += catch_up(partition)
        done[partition] = {"applied": applied, "expired": expired, "breached": breached}
    return done
