"""The event log in Redis: atomic, version-checked appends with gapless positions.

Per partition (a district) there is one stream ``{p}:log`` whose entry ids are
``<position>-0``, a counter ``{p}:head``, and a list per aggregate ``{p}:stream:<id>`` holding
the same records in version order. One Lua script checks the expected version and the
idempotency key and writes all of a command's events, or none.

Time only moves forward in a stream: the script also refuses a command dated before the
stream's last event (``TimeWentBackwards``), reading that event's time from the last record.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError

from coordination.domain.errors import TimeWentBackwards
from coordination.store import keys
from coordination.store.connection import is_unavailable
from coordination.store.mapper import Mapper, default_mapper

# An ISO 8601 time as written by ``datetime.isoformat()`` (an offset always: the store refuses
# naive times) -> seconds and microseconds since the epoch, exact in Lua's doubles.
EPOCH = """
local function epoch(iso)
  local y, mo, d, h, mi, s, rest = string.match(
    iso, '^(%d%d%d%d)-(%d%d)-(%d%d)[T ](%d%d):(%d%d):(%d%d)(.*)$')
  if not y then return nil end
  local us = 0
  local frac, tail = string.match(rest, '^%.(%d+)(.*)$')
  if frac then us, rest = tonumber(string.sub(frac .. '000000', 1, 6)), tail end
  local offset = 0
  local sign, oh, om, os = string.match(rest, '^([+-])(%d%d):?(%d%d):?(%d*)')
  if sign then
    offset = tonumber(oh) * 3600 + tonumber(om) * 60 + (tonumber(os) or 0)
    if sign == '-' then offset = -offset end
  end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo <= 2 then y = y - 1 end  -- days from the civil date (H. Hinnant's algorithm)
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((mo + 9) % 12) + 2) / 5) + d - 1
  local days = era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  days = days - 719468
  return ((days * 24 + tonumber(h)) * 60 + tonumber(mi)) * 60 + tonumber(s) - offset, us
end
"""

APPEND = (
    EPOCH
    + """
local idem_prefix = ARGV[3]
if idem_prefix ~= '' then
  local previous = redis.call('GET', KEYS[4])
  if previous then return {'duplicate', previous} end
end
local current = redis.call('LLEN', KEYS[3])
if current ~= tonumber(ARGV[1]) then return {'conflict', tostring(current)} end
-- Time only moves forward in a stream: never an event dated before the stream's last one.
-- The last record says when it was written (every record has, old ones too): O(1) to read.
if current > 0 then
  local last = cjson.decode(redis.call('LINDEX', KEYS[3], -1))['time']
  local last_s, last_us = epoch(last or '')
  local at_s, at_us = tonumber(ARGV[5]), tonumber(ARGV[6])
  if last_s and (last_s > at_s or (last_s == at_s and last_us > at_us)) then
    return {'backwards', last}
  end
end
local n = tonumber(ARGV[2])
local position = redis.call('INCRBY', KEYS[2], n) - n
for i = 1, n do
  position = position + 1
  local record = '{"position":' .. position .. ',' .. string.sub(ARGV[6 + i], 2)
  redis.call('XADD', KEYS[1], position .. '-0', 'e', record)
  redis.call('RPUSH', KEYS[3], record)
end
local result = '"version":' .. (current + n) .. ',"position":' .. position .. '}'
if idem_prefix ~= '' then
  redis.call('SET', KEYS[4], idem_prefix .. ',' .. result, 'EX', tonumber(ARGV[4]))
end
-- A pending catch-up lost with its worker lapses soon: a later append enqueues another.
local triggered = redis.call('SET', KEYS[5], '1', 'NX', 'PX', 2000) and 1 or 0
return {'ok', '{' .. result, triggered}
"""
)


EPOCH_START = datetime(1970, 1, 1, tzinfo=UTC)


class IdempotencyKeyReused(Exception):
    """The same idempotency key was sent before with another request."""


class WriteOutcomeUnknown(Exception):
    """The store failed while an append was under way: it may or may not have landed. A retry
    with the same idempotency key tells which."""

    def __init__(self, idempotency: Idempotency | None) -> None:
        super().__init__("the store did not confirm the append")
        self.idempotency = idempotency


class ConcurrencyConflict(Exception):
    """The stream has moved past the version the writer expected."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(f"{stream_id} is at version {actual}, not the expected {expected}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class StoredEvent:
    id: str
    stream: str
    version: int
    position: int
    time: datetime
    actor: str
    type: str
    schema_version: int
    event: Any


@dataclass(frozen=True)
class Idempotency:
    """A client's idempotency key, scoped to its principal, and the hash of its request."""

    principal: str
    key: str
    request_hash: str
    fresh: bool = False  # drawn by the server for this request: nothing can be recorded yet

    @classmethod
    def drawn(cls, principal: str, request_hash: str = "") -> Idempotency:
        """A key of the server's own, for a write whose client sent none."""
        return cls(principal, "auto-" + uuid.uuid4().hex, request_hash, fresh=True)


@dataclass(frozen=True)
class Recorded:
    """What an append (or the first append under an idempotency key) produced."""

    stream: str
    version: int
    position: int
    request_hash: str = ""
    duplicate: bool = False
    events: tuple[StoredEvent, ...] = ()
    triggered: bool = False  # no catch-up was pending: the caller should start one


class EventStore:
    def __init__(
        self, redis: Redis, mapper: Mapper | None = None, idempotency_ttl: int = 86400
    ) -> None:
        self.redis = redis
        self.mapper = mapper or default_mapper()
        self.idempotency_ttl = idempotency_ttl
        self._append = redis.register_script(APPEND)

    def append(
        self,
        partition: str,
        stream_id: str,
        expected_version: int,
        events: list[Any],
        *,
        actor: str,
        now: datetime,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        """Append all ``events`` to the stream if it is at ``expected_version``, else raise."""
        if not events:
            raise ValueError("nothing to append")
        if now.tzinfo is None:
            raise ValueError("event times must be timezone-aware")
        records = [
            self._record(stream_id, expected_version + i, actor, now, event)
            for i, event in enumerate(events, start=1)
        ]
        # Without a key the script still needs a fourth key of the same slot; it never reads it.
        idem_key, idem_prefix = keys.head(partition), ""
        if idempotency:
            idem_key = keys.idempotency(partition, idempotency.principal, idempotency.key)
            idem_prefix = "{" + _pair("hash", idempotency.request_hash) + ","
            idem_prefix += _pair("stream", stream_id)
        try:
            status, payload, *rest = self._append(
                keys=[
                    keys.log(partition),
                    keys.head(partition),
                    keys.stream(partition, stream_id),
                    idem_key,
                    keys.trigger(partition),
                ],
                args=[
                    expected_version,
                    len(records),
                    idem_prefix,
                    self.idempotency_ttl,
                    *_epoch(now),
                    *records,
                ],
            )
        except RedisError as exc:
            if is_unavailable(exc):
                raise WriteOutcomeUnknown(idempotency) from exc
            raise
        if status == b"conflict":
            raise ConcurrencyConflict(stream_id, expected_version, int(payload))
        if status == b"backwards":
            raise TimeWentBackwards(stream_id, now, datetime.fromisoformat(payload.decode()))
        if status == b"duplicate":
            return _recorded(payload, duplicate=True)
        recorded = _recorded(payload, duplicate=False)
        first = recorded.position - len(events) + 1
        stored = tuple(
            self._stored(json.loads(record), first + i, event)
            for i, (record, event) in enumerate(zip(records, events, strict=True))
        )
        return replace(recorded, stream=stream_id, events=stored, triggered=rest == [1])

    def recorded(self, partition: str, idempotency: Idempotency) -> Recorded | None:
        """The result first recorded under this idempotency key, if any."""
        raw = self.redis.get(keys.idempotency(partition, idempotency.principal, idempotency.key))
        return None if raw is None else _recorded(raw, duplicate=True)

    def replay(
        self, partition: str, idempotency: Idempotency
    ) -> tuple[Recorded, list[StoredEvent]] | None:
        """The first result under this key and its stream as it was then, if there is one;
        IdempotencyKeyReused if the key came with another request."""
        recorded = self.recorded(partition, idempotency)
        if recorded is None:
            return None
        if recorded.request_hash != idempotency.request_hash:
            raise IdempotencyKeyReused(idempotency.key)
        return recorded, self.read_stream(partition, recorded.stream)[: recorded.version]

    def read_stream(self, partition: str, stream_id: str) -> list[StoredEvent]:
        """One aggregate's events in version order."""
        raw = self.redis.lrange(keys.stream(partition, stream_id), 0, -1)
        return [self._load(r) for r in raw]

    def versions(self, partition: str, stream_ids: list[str]) -> list[int]:
        """The version each stream has reached, in one round trip."""
        with self.redis.pipeline(transaction=False) as pipe:
            for stream_id in stream_ids:
                pipe.llen(keys.stream(partition, stream_id))
            return [int(n) for n in pipe.execute()]

    def read_partition(
        self, partition: str, after: int = 0, count: int = 1000
    ) -> list[StoredEvent]:
        """Up to ``count`` events of a partition whose position is greater than ``after``."""
        entries = self.redis.xrange(keys.log(partition), min=f"({after}-0", max="+", count=count)
        return [self._load(fields[b"e"]) for _id, fields in entries]

    def head(self, partition: str, pipeline: Pipeline | None = None) -> int:
        value = (pipeline or self.redis).get(keys.head(partition))
        return int(value or 0)

    def _record(self, stream_id: str, version: int, actor: str, now: datetime, event: Any) -> str:
        type_name, schema_version, data = self.mapper.to_record(event)
        return json.dumps(
            {
                "id": str(uuid.uuid4()),
                "stream": stream_id,
                "version": version,
                "time": now.isoformat(),
                "actor": actor,
                "type": type_name,
                "schema_version": schema_version,
                "data": data,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    def _load(self, raw: bytes | str) -> StoredEvent:
        record = json.loads(raw)
        event = self.mapper.from_record(record["type"], record["schema_version"], record["data"])
        return self._stored(record, record["position"], event)

    @staticmethod
    def _stored(record: dict[str, Any], position: int, event: Any) -> StoredEvent:
        return StoredEvent(
            id=record["id"],
            stream=record["stream"],
            version=record["version"],
            position=position,
            time=datetime.fromisoformat(record["time"]),
            actor=record["actor"],
            type=record["type"],
            schema_version=record["schema_version"],
            event=event,
        )


def _epoch(at: datetime) -> tuple[int, int]:
    """Seconds and microseconds since the epoch, as the append script compares them."""
    since = at - EPOCH_START
    return since.days * 86400 + since.seconds, since.microseconds


def _pair(name: str, value: str) -> str:
    return json.dumps(name) + ":" + json.dumps(value)


def _recorded(payload: bytes | str, duplicate: bool) -> Recorded:
    data = json.loads(payload)
    return Recorded(
        stream=data.get("stream", ""),
        version=data["version"],
        position=data["position"],
        request_hash=data.get("hash", ""),
        duplicate=duplicate,
    )
