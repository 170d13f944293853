"""Projections compared with a rebuild, key by key.

The live generation's keys are dumped (by type: strings, hashes, sorted sets with scores, sets,
lists) once it has reached the head; then the log up to that same head is replayed into a fresh
generation with the projector's own ``apply_batch`` (what ``coordination projections rebuild``
does, without swapping it in), that one is dumped too, and the two are compared with the
generation prefix stripped. The fresh generation is dropped afterwards.
"""

from __future__ import annotations

from typing import Any

from redis import Redis

from bench.chaos.stack import DISTRICT, Stack
from coordination.store import keys
from coordination.store.keys import current_generation


def dump(redis: Redis, partition: str, gen: int) -> dict[bytes, tuple[bytes, Any]]:
    prefix = keys.projection_prefix(partition, gen).encode()
    found: dict[bytes, tuple[bytes, Any]] = {}
    for key in redis.scan_iter(match=prefix + b"*", count=2000):
        kind = redis.type(key)
        value: Any
        if kind == b"string":
            value = redis.get(key)
        elif kind == b"hash":
            value = redis.hgetall(key)
        elif kind == b"zset":
            value = redis.zrange(key, 0, -1, withscores=True)
        elif kind == b"set":
            value = sorted(redis.smembers(key))
        elif kind == b"list":
            value = redis.lrange(key, 0, -1)
        else:
            value = redis.dump(key)
        found[key[len(prefix) :]] = (kind, value)
    return found


def build_fresh(stack: Stack, upto: int) -> int:
    """Replay the log up to ``upto`` into a new generation (not swapped in); its number."""
    services = stack.services()
    redis = services.redis
    projector = services.projector
    gen = max(int(redis.incr(keys.generations(DISTRICT))), current_generation(redis, DISTRICT) + 1)
    while True:
        checkpoint = int(redis.get(keys.checkpoint(DISTRICT, gen)) or 0)
        if checkpoint >= upto:
            return gen
        batch = services.store.read_partition(
            DISTRICT, after=checkpoint, count=min(projector.batch_size, upto - checkpoint)
        )
        batch = [e for e in batch if e.position <= upto]
        if not batch:
            return gen
        projector.apply_batch(DISTRICT, gen, checkpoint, batch, live=False)


def compare_with_rebuild(stack: Stack, attempts: int = 5) -> tuple[bool, str]:
    """(equal, what was found). Needs the live projections caught up with the head."""
    services = stack.services()
    redis = services.redis
    for _ in range(attempts):
        if stack.wait_caught_up(timeout=60) is None:
            head, checkpoint = stack.lag()
            return False, f"the projections did not reach the head ({checkpoint} of {head})"
        gen = current_generation(redis, DISTRICT)
        head, checkpoint = stack.lag()
        live = dump(redis, DISTRICT, gen)
        if stack.lag() != (head, checkpoint) or checkpoint != head:
            continue  # something was appended meanwhile (the tick): look again
        fresh_gen = build_fresh(stack, head)
        try:
            fresh = dump(redis, DISTRICT, fresh_gen)
        finally:
            services.projector.drop_generation(DISTRICT, fresh_gen)
        only_live = sorted(set(live) - set(fresh))
        only_fresh = sorted(set(fresh) - set(live))
        differ = sorted(k for k in set(live) & set(fresh) if live[k] != fresh[k])
        if not (only_live or only_fresh or differ):
            return True, f"{len(live)} keys equal at position {head}"
        parts = [f"{len(live)} live keys vs {len(fresh)} rebuilt at position {head}"]
        if only_live:
            parts.append(f"only live: {len(only_live)} e.g. {_names(only_live)}")
        if only_fresh:
            parts.append(f"only rebuilt: {len(only_fresh)} e.g. {_names(only_fresh)}")
        if differ:
            parts.append(f"differ: {len(differ)} e.g. {_names(differ)}")
        return False, "; ".join(parts)
    return False, "the head kept moving; no quiet moment to compare"


def _names(found: list[bytes]) -> str:
    return ", ".join(k.decode(errors="replace") for k in found[:3])
