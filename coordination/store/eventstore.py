"""The event log in Redis: atomic, version-checked appends with gapless positions.

Per partition (a district) there is one stream ``{p}:log`` whose entry ids are
``<position>-0`` and which holds every record, a counter ``{p}:head``, and a list per aggregate
``{p}:stream:<id>`` holding its events' positions in version order: each record is kept once
(lists written before hold the records themselves; they read alike, and ``coordination log
migrate`` turns them into positions). One Lua script checks the expected versions and the
idempotency key and writes all of a command's events, or none: to one stream, or to several of
the same partition at once (an order and the ledger that reserves its supplies).

Time only moves forward in a stream: the script also refuses a command dated before the
stream's last event (``TimeWentBackwards``), reading that event's time from the last record.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import msgspec
from redis import Redis
from redis.client import Pipeline
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError

from coordination.domain.errors import TimeWentBackwards
from coordination.store import keys
from coordination.store.connection import is_unavailable
from coordination.store.mapper import Mapper, default_mapper, encode_json
from coordination.store.segments import (
    ArchiveError,
    CorruptSegment,
    SegmentStore,
    iter_frames,
    parse_location,
    position_of,
)

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

# A stream's list holds its events' log positions; a list written before that holds the records
# themselves (a record starts with '{', a position never does).
RECORD_AT = """
local function record_at(log, item)
  if string.byte(item, 1) == 123 then return item end
  return redis.call('XRANGE', log, item .. '-0', item .. '-0')[1][2][2]
end
"""

APPEND = (
    EPOCH
    + RECORD_AT
    + """
-- KEYS: log, head, idempotency, trigger, archived, then one list per stream written (positions).
-- ARGV: idempotency prefix, its ttl, the write's time (s, us), the number of streams k, then
-- each stream's expected version and event count, then every record in order.
local idem_prefix = ARGV[1]
if idem_prefix ~= '' then
  local previous = redis.call('GET', KEYS[3])
  if previous then
    -- A write (the key lives on from this retry), so that a WAIT after this script waits
    -- for the first attempt's events too: they came before it.
    redis.call('EXPIRE', KEYS[3], tonumber(ARGV[2]))
    return {'duplicate', previous}
  end
end
local k = tonumber(ARGV[5])
local at_s, at_us = tonumber(ARGV[3]), tonumber(ARGV[4])
local total = 0
for j = 1, k do
  local stream = KEYS[5 + j]
  -- A stream being archived, or archived, takes nothing more (its history is closed).
  if redis.call('HEXISTS', KEYS[5], stream) == 1 then return {'archived', '', j} end
  local current = redis.call('LLEN', stream)
  if current ~= tonumber(ARGV[4 + 2 * j]) then
    return {'conflict', tostring(current), j}
  end
  -- Time only moves forward in a stream: never an event dated before the stream's last one.
  -- The last record says when it was written (every record has, old ones too): O(log n).
  if current > 0 then
    local last = cjson.decode(record_at(KEYS[1], redis.call('LINDEX', stream, -1)))['time']
    local last_s, last_us = epoch(last or '')
    if last_s and (last_s > at_s or (last_s == at_s and last_us > at_us)) then
      return {'backwards', last, j}
    end
  end
  total = total + tonumber(ARGV[5 + 2 * j])
end
local position = redis.call('INCRBY', KEYS[2], total) - total
local r = 5 + 2 * k
for j = 1, k do
  local stream = KEYS[5 + j]
  for i = 1, tonumber(ARGV[5 + 2 * j]) do
    position = position + 1
    r = r + 1
    local record = '{"position":' .. position .. ',' .. string.sub(ARGV[r], 2)
    redis.call('XADD', KEYS[1], position .. '-0', 'e', record)
    redis.call('RPUSH', stream, position)
  end
end
local first = tonumber(ARGV[6]) + tonumber(ARGV[7])
local result = '"version":' .. first .. ',"position":' .. position .. '}'
if idem_prefix ~= '' then
  redis.call('SET', KEYS[3], idem_prefix .. ',' .. result, 'EX', tonumber(ARGV[2]))
end
-- A pending catch-up lost with its worker lapses soon: a later append enqueues another.
local triggered = redis.call('SET', KEYS[4], '1', 'NX', 'PX', 2000) and 1 or 0
return {'ok', '{' .. result, triggered}
"""
)


# A partition's records after a position: XRANGE, with only each entry's record sent back (no
# entry ids and field maps for the client to take apart, a thousand per batch), after the
# highest position archived (KEYS[2]; 0 if none): the records up to it may be in the archive.
READ = """
local records = {tonumber(redis.call('GET', KEYS[2]) or 0)}
for i, entry in ipairs(redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])) do
  records[i + 1] = entry[2][2]
end
return records
"""

# One aggregate's records from the index ARGV[1] on; KEYS: the log, the stream's list, the
# archived streams. A stream that is archived has no list: its location ('@...') is returned.
READ_STREAM = (
    RECORD_AT
    + """
local records = {}
for i, item in ipairs(redis.call('LRANGE', KEYS[2], ARGV[1], -1)) do
  records[i] = record_at(KEYS[1], item)
end
if #records == 0 then
  local where = redis.call('HGET', KEYS[3], KEYS[2])
  if where and string.sub(where, 1, 8) ~= 'pending:' then return {'@' .. where} end
end
return records
"""
)

# A stream's list in the layout before positions: each record replaced by its position, once
# the log is seen to hold that very record (else nothing of the list is changed, and an error
# names it). KEYS: the log, the list. Returns how many were replaced.
MIGRATE = """
local items = redis.call('LRANGE', KEYS[2], 0, -1)
local found = {}
for i, item in ipairs(items) do
  if string.byte(item, 1) == 123 then
    local position = string.match(item, '^{"position":(%d+),')
    local entry = position and redis.call('XRANGE', KEYS[1], position .. '-0', position .. '-0')[1]
    if not entry or entry[2][2] ~= item then
      return redis.error_reply('log migrate: ' .. KEYS[2] .. ' item ' .. (i - 1)
        .. ' is not the record the log holds at its position')
    end
    found[#found + 1] = {i - 1, position}
  end
end
for _, pair in ipairs(found) do redis.call('LSET', KEYS[2], pair[1], pair[2]) end
return #found
"""

EPOCH_START = datetime(1970, 1, 1, tzinfo=UTC)


class IdempotencyKeyReused(Exception):
    """The same idempotency key was sent before with another request."""


class WriteOutcomeUnknown(Exception):
    """The store failed while an append was under way: it may or may not have landed. A retry
    with the same idempotency key tells which."""

    def __init__(self, idempotency: Idempotency | None) -> None:
        super().__init__("the store did not confirm the append")
        self.idempotency = idempotency


class NotReplicated(Exception):
    """An append the primary took, which not enough replicas confirmed in time."""


class StreamArchived(Exception):
    """The stream's history is closed and archived (or being archived): it takes no events."""

    def __init__(self, stream_id: str) -> None:
        super().__init__(f"{stream_id} is closed and archived: it can be read, not changed")
        self.stream_id = stream_id


class ConcurrencyConflict(Exception):
    """The stream has moved past the version the writer expected."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(f"{stream_id} is at version {actual}, not the expected {expected}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class StoredEvent(msgspec.Struct, frozen=True):
    """An event as the log holds it. A struct, not a dataclass: a catch-up makes one per event,
    and a struct is made in C, several times faster."""

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
    others: tuple[StoredEvent, ...] = ()  # the events of the other streams of the append


@dataclass(frozen=True)
class Write:
    """Events for one stream, at the version they were decided on."""

    stream: str
    expected_version: int
    events: list[Any]


class EventStore:
    def __init__(
        self,
        redis: Redis,
        mapper: Mapper | None = None,
        idempotency_ttl: int = 86400,
        archive: SegmentStore | None = None,
        wait_replicas: int = 0,
        wait_timeout_ms: int = 1000,
    ) -> None:
        self.redis = redis
        self.mapper = mapper or default_mapper()
        self.idempotency_ttl = idempotency_ttl
        self.archive = archive  # where archived history is read from
        # Acknowledge an append once this many replicas have it too (the primary's AOF has it).
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms
        self._append = redis.register_script(APPEND)
        self._read = redis.register_script(READ)
        self._read_stream = redis.register_script(READ_STREAM)
        self._migrate = redis.register_script(MIGRATE)

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
        return self.append_many(
            partition,
            [Write(stream_id, expected_version, events)],
            actor=actor,
            now=now,
            idempotency=idempotency,
        )

    def append_many(
        self,
        partition: str,
        writes: list[Write],
        *,
        actor: str,
        now: datetime,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        """Append each write's events to its stream if every stream is at its expected version,
        all or none, at consecutive positions; raise ``ConcurrencyConflict`` naming the first
        stream that moved. The result (and an idempotency key's record) is the first write's."""
        if not writes or any(not w.events for w in writes):
            raise ValueError("nothing to append")
        if len({w.stream for w in writes}) != len(writes):
            raise ValueError("one write per stream")
        if now.tzinfo is None:
            raise ValueError("event times must be timezone-aware")
        # Each event as it will be read back (its position is known once the script has run).
        drafts = [
            StoredEvent(str(uuid.uuid4()), w.stream, w.expected_version + i, 0, now, actor,
                        *self.mapper.type_of(event), event)
            for w in writes
            for i, event in enumerate(w.events, start=1)
        ]  # fmt: skip
        records = [_record(draft) for draft in drafts]
        # Without a key the script still needs a key of the same slot; it never reads it.
        idem_key, idem_prefix = keys.head(partition), ""
        if idempotency:
            idem_key = keys.idempotency(partition, idempotency.principal, idempotency.key)
            idem_prefix = "{" + _pair("hash", idempotency.request_hash) + ","
            idem_prefix += _pair("stream", writes[0].stream)
        script_keys = [
            keys.log(partition),
            keys.head(partition),
            idem_key,
            keys.trigger(partition),
            keys.archived(partition),
            *(keys.stream(partition, w.stream) for w in writes),
        ]
        args = [
            idem_prefix,
            self.idempotency_ttl,
            *_epoch(now),
            len(writes),
            *(n for w in writes for n in (w.expected_version, len(w.events))),
            *records,
        ]
        try:
            if self.wait_replicas:  # acknowledged once replicas have it too
                status, payload, *rest = self._waited(
                    partition, lambda pipe: self._append(keys=script_keys, args=args, client=pipe)
                )
            else:
                status, payload, *rest = self._append(keys=script_keys, args=args)
        except NotReplicated:
            raise WriteOutcomeUnknown(idempotency) from None
        except (RedisError, RedisClusterException) as exc:
            if is_unavailable(exc):
                raise WriteOutcomeUnknown(idempotency) from exc
            raise
        if status == b"conflict":
            w = writes[int(rest[0]) - 1]
            raise ConcurrencyConflict(w.stream, w.expected_version, int(payload))
        if status == b"archived":
            raise StreamArchived(writes[int(rest[0]) - 1].stream)
        if status == b"backwards":
            stream = writes[int(rest[0]) - 1].stream
            raise TimeWentBackwards(stream, now, datetime.fromisoformat(payload.decode()))
        if status == b"duplicate":
            return _recorded(payload, duplicate=True)
        recorded = _recorded(payload, duplicate=False)
        first = recorded.position - len(drafts) + 1
        stored = tuple(
            msgspec.structs.replace(draft, position=first + i) for i, draft in enumerate(drafts)
        )
        mine = stored[: len(writes[0].events)]
        return replace(
            recorded,
            stream=writes[0].stream,
            events=mine,
            others=stored[len(mine) :],
            triggered=rest == [1],
        )

    def _waited(self, partition: str, write: Callable[[Pipeline], object]) -> Any:
        """``write`` queued on a pipeline to the node that serves ``partition``, and WAIT after
        it; its answer, or ``NotReplicated`` if ``wait_replicas`` replicas did not confirm it
        (and everything written before it) in ``wait_timeout_ms``.

        WAIT, not WAITAOF: the primary's own AOF has the write before it answers (appendfsync
        always), and a replica that has it writes it to its AOF within milliseconds; WAITAOF,
        which also waits for that, took a second per append on Valkey 8.1 (a replica reports
        its AOF's position with its once-a-second acknowledgement), measured."""
        client = self.redis
        if isinstance(self.redis, RedisCluster):  # the node that serves the partition's slot
            node = self.redis.get_node_from_key(keys.log(partition))
            client = self.redis.get_redis_connection(node)
        try:
            with client.pipeline(transaction=False) as pipe:
                write(pipe)
                pipe.execute_command("WAIT", self.wait_replicas, self.wait_timeout_ms)
                answer, replicas = pipe.execute()
        except (RedisError, RedisClusterException):
            if isinstance(self.redis, RedisCluster):  # a failover: learn the new primary
                with contextlib.suppress(RedisError, RedisClusterException):
                    self.redis.nodes_manager.initialize()
            raise
        if replicas < self.wait_replicas:
            raise NotReplicated(f"{replicas} of {self.wait_replicas} replicas confirmed in time")
        return answer

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
        if self.wait_replicas:
            self._confirm(partition, idempotency)
        return recorded, self.read_stream(partition, recorded.stream)[: recorded.version]

    def _confirm(self, partition: str, idempotency: Idempotency) -> None:
        """A first result is only answered once it is as durable as a new append would be:
        its first attempt may have timed out waiting for a replica. A write of ours (the key
        lives on from now) and WAIT after it cover that attempt, which came before."""
        key = keys.idempotency(partition, idempotency.principal, idempotency.key)
        try:
            self._waited(partition, lambda pipe: pipe.expire(key, self.idempotency_ttl))
        except NotReplicated:
            raise WriteOutcomeUnknown(idempotency) from None
        except (RedisError, RedisClusterException) as exc:
            if is_unavailable(exc):
                raise WriteOutcomeUnknown(idempotency) from exc
            raise

    def read_stream(self, partition: str, stream_id: str) -> list[StoredEvent]:
        """One aggregate's events in version order, in one round trip."""
        return self.read_stream_tail(partition, stream_id, 0)

    def read_stream_tail(self, partition: str, stream_id: str, start: int) -> list[StoredEvent]:
        """A stream's events from the ``start``-th (0-based) on."""
        stream = keys.stream(partition, stream_id)
        records = self._read_stream(
            keys=[keys.log(partition), stream, keys.archived(partition)], args=[start]
        )
        if records[:1] and records[0][:1] == b"@":
            records = self._archived_stream(partition, stream_id, records[0][1:].decode())[start:]
        return [self._load(r) for r in records]

    def _archived_stream(self, partition: str, stream_id: str, where: str) -> list[bytes]:
        """An archived stream's records, from the frames of the segment that hold them."""
        name, frames, events = parse_location(where)
        if self.archive is None:
            raise ArchiveError(f"{stream_id} is archived (segment {name}), but no archive is set")
        manifest = self.archive.manifest(partition, name)
        if manifest is None:
            raise ArchiveError(f"{stream_id} is archived in segment {name}, whose manifest is gone")
        mine = b'"stream":' + msgspec.json.encode(stream_id) + b","  # a cheap filter first
        found = [
            (record, _RECORDS.decode(record))
            for i in frames
            for record in self.archive.frame(manifest, i)
            if mine in record
        ]
        records = [record for record, decoded in found if decoded.stream == stream_id]
        versions = [decoded.version for _, decoded in found if decoded.stream == stream_id]
        if versions != list(range(1, events + 1)):
            raise CorruptSegment(
                f"the archive segment {name} of {partition} does not hold {stream_id}'s "
                f"{events} events"
            )
        return records

    def migrate(self, partition: str) -> tuple[int, int]:
        """Turn the records that the partition's stream lists still hold (as they were written
        before each record was kept once) into their positions; idempotent. The lists looked
        at, and the records replaced."""
        lists = replaced = 0
        for name in self.redis.scan_iter(match=keys.stream(partition, "*"), count=1000):
            lists += 1
            replaced += int(self._migrate(keys=[keys.log(partition), name]))
        return lists, replaced

    def versions(self, partition: str, stream_ids: list[str]) -> list[int]:
        """The version each stream has reached, in one round trip."""
        with self.redis.pipeline(transaction=False) as pipe:
            for stream_id in stream_ids:
                pipe.llen(keys.stream(partition, stream_id))
            return [int(n) for n in pipe.execute()]

    def read_partition(
        self, partition: str, after: int = 0, count: int = 1000
    ) -> list[StoredEvent]:
        """Up to ``count`` events of a partition whose position is greater than ``after``: from
        the log, and from the archive for positions up to the highest it holds."""
        archived_top, *records = self._read(
            keys=[keys.log(partition), keys.archive_top(partition)], args=[f"({after}-0", count]
        )
        if after < archived_top:
            # A full batch from the log bounds what the archive can add before its end.
            upto = position_of(records[-1]) if len(records) == count else archived_top
            archived = self._archived_after(partition, after, min(upto, archived_top), count)
            records = _merged(records, archived, count)
        return [self._load(record) for record in records]

    def _archived_after(self, partition: str, after: int, upto: int, count: int) -> list[bytes]:
        """Up to ``count`` archived records with positions in (``after``, ``upto``], in order."""
        if self.archive is None:
            raise ArchiveError(f"{partition} has archived history but no archive is configured")
        found: list[tuple[int, bytes]] = []
        for manifest in self.archive.manifests(partition):
            if manifest.last <= after or manifest.first > upto:
                continue
            taken = 0
            for frame in iter_frames(self.archive, manifest, after, upto):
                for record in frame:
                    position = position_of(record)
                    if after < position <= upto:
                        found.append((position, record))
                        taken += 1
                if taken >= count:
                    break
        found.sort()
        return [record for _, record in found[:count]]

    def head(self, partition: str, pipeline: Pipeline | None = None) -> int:
        value = (pipeline or self.redis).get(keys.head(partition))
        return int(value or 0)

    def _load(self, raw: bytes | str) -> StoredEvent:
        record = _RECORDS.decode(raw)
        return StoredEvent(
            id=record.id,
            stream=record.stream,
            version=record.version,
            position=record.position,
            time=record.time,
            actor=record.actor,
            type=record.type,
            schema_version=record.schema_version,
            event=self.mapper.from_json(record.type, record.schema_version, record.data),
        )


class _Record(msgspec.Struct):
    """A stored record as read back, its event's data left as it is until its type is known."""

    id: str
    stream: str
    version: int
    time: datetime
    actor: str
    type: str
    schema_version: int
    data: msgspec.Raw
    position: int = 0  # put first by the append script


_RECORDS = msgspec.json.Decoder(_Record)


def _record(draft: StoredEvent) -> bytes:
    """A stored record: the event's envelope and its data, as compact UTF-8 JSON."""
    return encode_json(
        {
            "id": draft.id,
            "stream": draft.stream,
            "version": draft.version,
            "time": draft.time,
            "actor": draft.actor,
            "type": draft.type,
            "schema_version": draft.schema_version,
            "data": draft.event,
        }
    )


def _merged(live: list[bytes], archived: list[bytes], count: int) -> list[bytes]:
    """The first ``count`` records of both, by position, each position once (a record being
    archived is in both for a moment: the segment is written before the log lets it go)."""
    if not archived:
        return live
    by_position = {position_of(r): r for r in archived}
    by_position.update((position_of(r), r) for r in live)
    return [by_position[p] for p in sorted(by_position)[:count]]


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
