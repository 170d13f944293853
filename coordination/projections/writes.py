"""The writes of one projected batch, grouped by key, and the script that applies them whole.

A batch touches many incidents, and most of its writes land on a few keys (a unit's queue, its
summary, the deadline watch). Grouping them cuts the commands of a batch many times over, and
with them the time the batch holds the server. They then go to the server as one script call:
the operations packed with msgpack (one C call here, instead of encoding every argument of
~140 commands and parsing a reply to each), the views as plain arguments.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import msgspec

# KEYS: the checkpoint, the partition's generation, then every key the operations write.
# ARGV: the checkpoint the batch follows, the generation it is for ('' not to check), the new
# checkpoint, the operations ({name, key index, args}, msgpack), then the values of the SETs.
# Nothing is written unless the batch still follows the checkpoint, in the generation read:
# another projector (or a rebuild's swap) since the batch was read makes it 'raced' ('stale').
# Counters drop their field at zero, so that a counted projection equals a rebuilt one.
APPLY = """
if ARGV[2] ~= '' and (redis.call('GET', KEYS[2]) or '1') ~= ARGV[2] then return 'stale' end
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 'raced' end
for _, op in ipairs(cmsgpack.unpack(ARGV[4])) do
  local name, key, args = op[1], KEYS[op[2]], op[3]
  if name == 'set' then
    redis.call('SET', key, ARGV[args])
  elseif name == 'count' then
    for i = 1, #args, 2 do
      if redis.call('HINCRBY', key, args[i], args[i + 1]) == 0 then
        redis.call('HDEL', key, args[i])
      end
    end
  else
    redis.call(name, key, unpack(args))
  end
end
redis.call('SET', KEYS[1], ARGV[3])
return 'ok'
"""
FIXED_KEYS = 2  # the checkpoint and the generation come first
FIXED_ARGS = 4
CHUNK = 1000  # arguments per command at most (Lua's unpack has a limit of a few thousand)


class Writes:
    def __init__(self) -> None:
        self.strings: dict[str, str | bytes] = {}
        self.zadds: defaultdict[str, dict[str, float]] = defaultdict(dict)
        self.zrems: defaultdict[str, set[str]] = defaultdict(set)
        self.sadds: defaultdict[str, set[str]] = defaultdict(set)
        self.srems: defaultdict[str, set[str]] = defaultdict(set)
        self.counters: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.hashes: defaultdict[str, dict[str, Any]] = defaultdict(dict)
        self.hdels: defaultdict[str, set[str]] = defaultdict(set)

    def set(self, key: str, value: str | bytes) -> None:
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
        self.hdels[key].difference_update(mapping)

    def hdel(self, key: str, *fields: str) -> None:
        self.hdels[key].update(fields)
        for field in fields:
            self.hashes[key].pop(field, None)

    def script_args(
        self, checkpoint_key: str, generation_key: str, follows: int, gen: int | None, to: int
    ) -> tuple[list[str], list[Any]]:
        """The keys and arguments of ``APPLY`` for these writes: the batch follows checkpoint
        ``follows`` in generation ``gen`` (None: whichever is current) and moves it to ``to``."""
        index: dict[str, int] = {}
        values: list[str | bytes] = []
        ops: list[tuple[str, int, Any]] = []

        def at(key: str) -> int:
            return index.setdefault(key, len(index) + FIXED_KEYS + 1)

        for key, value in self.strings.items():
            values.append(value)
            ops.append(("set", at(key), FIXED_ARGS + len(values)))
        for name, groups in (("zrem", self.zrems), ("srem", self.srems), ("sadd", self.sadds)):
            for key, members in groups.items():
                ops += [(name, at(key), chunk) for chunk in _chunks(sorted(members))]
        for key, mapping in self.zadds.items():
            flat = [x for member, score in mapping.items() for x in (score, member)]
            ops += [("zadd", at(key), chunk) for chunk in _chunks(flat)]
        for key, deltas in self.counters.items():
            flat = [x for field, n in sorted(deltas.items()) if n for x in (field, n)]
            ops += [("count", at(key), chunk) for chunk in _chunks(flat)]
        for key, mapping in self.hashes.items():
            flat = [x for field, value in mapping.items() for x in (field, _text(value))]
            ops += [("hset", at(key), chunk) for chunk in _chunks(flat)]
        for key, fields in self.hdels.items():
            ops += [("hdel", at(key), chunk) for chunk in _chunks(sorted(fields))]
        head = [str(follows), "" if gen is None else str(gen), str(to), msgspec.msgpack.encode(ops)]
        return [checkpoint_key, generation_key, *index], [*head, *values]


def _chunks(flat: list[Any]) -> Iterator[list[Any]]:
    """Runs of at most CHUNK arguments (an even number: pairs stay together)."""
    for i in range(0, len(flat), CHUNK):
        yield flat[i : i + CHUNK]


def _text(value: Any) -> Any:
    """A hash value as msgpack carries it to Lua: text, not bytes (which its unpacker refuses);
    a float as Python writes it (Lua would write 1.7e+9 style)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, float):
        return repr(value)
    return value
