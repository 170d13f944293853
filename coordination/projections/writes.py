"""The writes of one projected batch, grouped by key: one command per key, not per event.

A batch touches many incidents, and most of its writes land on a few keys (a unit's queue, its
summary, the deadline watch). Grouping them cuts the commands of a batch many times over, and
with them the time the batch's MULTI/EXEC holds the server.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from redis.client import Pipeline

# Counters drop their field at zero, so that a counted projection equals a rebuilt one.
COUNT = """
for i = 1, #ARGV, 2 do
  local n = redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  if n == 0 then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 0
"""


class Writes:
    def __init__(self) -> None:
        self.strings: dict[str, str] = {}
        self.zadds: defaultdict[str, dict[str, float]] = defaultdict(dict)
        self.zrems: defaultdict[str, set[str]] = defaultdict(set)
        self.sadds: defaultdict[str, set[str]] = defaultdict(set)
        self.srems: defaultdict[str, set[str]] = defaultdict(set)
        self.counters: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.hashes: defaultdict[str, dict[str, Any]] = defaultdict(dict)

    def set(self, key: str, value: str) -> None:
        self.strings[key] = value

    def zadd(self, key: str, mapping: dict[str, float]) -> None:
        self.zadds[key].update(mapping)
        self.zrems[key].difference_update(mapping)

    def zrem(self, key: str, *members: str) -> None:
        self.zrems[key].update(members)
        for member in members:
            self.zadds[key].pop(member, None)

    def sadd(self, key: str, member: str) -> None:
        self.sadds[key].add(member)
        self.srems[key].discard(member)

    def srem(self, key: str, member: str) -> None:
        self.srems[key].add(member)
        self.sadds[key].discard(member)

    def count(self, key: str, field: str, delta: int) -> None:
        """Add ``delta`` to a counter that vanishes at zero."""
        self.counters[key][field] += delta

    def hset(self, key: str, mapping: dict[str, Any]) -> None:
        self.hashes[key].update(mapping)

    def flush(self, pipe: Pipeline) -> None:
        """Queue the grouped commands on a pipeline (inside its MULTI)."""
        if self.strings:
            pipe.mset(self.strings)
        for key, members in self.zrems.items():
            if members:
                pipe.zrem(key, *sorted(members))
        for key, mapping in self.zadds.items():
            if mapping:
                pipe.zadd(key, mapping)
        for key, members in self.srems.items():
            if members:
                pipe.srem(key, *sorted(members))
        for key, members in self.sadds.items():
            if members:
                pipe.sadd(key, *sorted(members))
        for key, deltas in self.counters.items():
            args = [x for field, n in sorted(deltas.items()) if n for x in (field, n)]
            if args:
                pipe.eval(COUNT, 1, key, *args)
        for key, mapping in self.hashes.items():
            pipe.hset(key, mapping=mapping)
