"""Every Redis key of the project, built in one place.

Each key of a partition carries the partition's hash tag (``{gangwen}``) so that a Redis
Cluster keeps a partition on one shard and a Lua script may touch all of its keys.
"""

from __future__ import annotations


def tag(partition: str) -> str:
    return "{" + partition + "}"


def log(partition: str) -> str:
    """The partition's event log: a stream whose entry ids are ``<position>-0``."""
    return f"{tag(partition)}:log"


def head(partition: str) -> str:
    """The last position assigned in the partition."""
    return f"{tag(partition)}:head"


def stream(partition: str, stream_id: str) -> str:
    """One aggregate's events, in version order, as a list of stored records."""
    return f"{tag(partition)}:stream:{stream_id}"


def idempotency(partition: str, principal: str, key: str) -> str:
    return f"{tag(partition)}:idem:{principal}:{key}"


def partitions() -> str:
    """The set of partitions that have ever been written to."""
    return "coordination:partitions"


def token(token_hash: str) -> str:
    return f"coordination:token:{token_hash}"


def tokens_index() -> str:
    return "coordination:tokens"
