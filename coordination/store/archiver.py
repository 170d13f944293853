"""Moving closed history out of Redis into archive segments, losing nothing on any crash.

An order is archived when its stream's last event is its closing (``IncidentClosed``), dated
before the cutoff, and every projection that is in use or being rebuilt has applied it. A run:

1. **Fence.** One script checks those conditions on the log itself (not on a projection) and
   marks each stream ``pending:<segment>`` in ``{p}:archived``: from then on the append script
   refuses it any event, so what is written is final. The streams go into the segment's list.
2. **Write.** The streams' records (still in the log) are written to the segment: temporary
   name, fsync, read back and checked, rename, then its manifest (see ``segments``).
3. **Let go.** A script per chunk of streams checks again that no projection still needs
   them, deletes their records from the log and their lists, and records where each is now.
4. **Compact.** Deleting entries from a stream does not give back the memory of the nodes that
   still hold live ones; the log's live entries are copied into a fresh stream that replaces it.

Each step is idempotent and the next run finishes what a killed one began: a segment without
its manifest is written again from the log (nothing was deleted before the manifest existed);
one with it is checked and its streams let go. One archiver runs at a time per partition.
"""

from __future__ import annotations

import bisect
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from redis import Redis

from coordination.store import keys
from coordination.store.connection import script_in
from coordination.store.eventstore import EPOCH, READ_STREAM, RECORD_AT, _epoch
from coordination.store.segments import (
    ArchiveError,
    Manifest,
    SegmentStore,
    location,
    position_of,
)

CLOSING = "IncidentClosed"
SEGMENT_EVENTS = 50_000  # a segment is cut once it holds this many events (~1 s to write)
CHUNK = 200  # streams per script call
COPY_CHUNK = 2_000  # log entries copied per script call while compacting
LOCK_MS = 30_000  # extended at every step; a holder that died lets go within this

# The lowest checkpoint of the projections in use and being rebuilt; 'retry' if the generations
# moved since the caller looked. KEYS[3..5]: generation, generations, rebuild lock; KEYS[7..]:
# the ARGV[2] checkpoints the caller named for ARGV[3] (current), ARGV[4] (counter), ARGV[5]
# (1 while rebuilding).
FLOOR = """
local function floor()
  local current = redis.call('GET', KEYS[3]) or '1'
  local counter = redis.call('GET', KEYS[4]) or '0'
  local rebuilding = tostring(redis.call('EXISTS', KEYS[5]))
  if current ~= ARGV[3] or counter ~= ARGV[4] or rebuilding ~= ARGV[5] then return nil end
  local lowest = nil
  for i = 1, tonumber(ARGV[2]) do
    local at = tonumber(redis.call('GET', KEYS[6 + i]) or 0)
    if lowest == nil or at < lowest then lowest = at end
  end
  return lowest
end
local function position_of(item)
  if string.byte(item, 1) == 123 then return tonumber(string.match(item, '^{"position":(%d+),')) end
  return tonumber(item)
end
"""

# KEYS: log, archived, generation, generations, rebuild lock, pending list, checkpoints...,
# then the candidate streams' lists. ARGV: segment, #checkpoints, current, counter, rebuilding,
# cutoff s, cutoff us. Returns the lists fenced, or 'retry'.
FENCE = (
    EPOCH
    + RECORD_AT
    + FLOOR
    + """
local lowest = floor()
if lowest == nil then return 'retry' end
local at_s, at_us = tonumber(ARGV[6]), tonumber(ARGV[7])
local fenced = {}
for i = 7 + tonumber(ARGV[2]), #KEYS do
  local list = KEYS[i]
  if redis.call('HEXISTS', KEYS[2], list) == 0 then
    local last = redis.call('LINDEX', list, -1)
    if last and position_of(last) <= lowest then
      local record = cjson.decode(record_at(KEYS[1], last))
      local s, us = epoch(record['time'] or '')
      if record['type'] == 'IncidentClosed' and s and (s < at_s or (s == at_s and us < at_us)) then
        redis.call('HSET', KEYS[2], list, 'pending:' .. ARGV[1])
        redis.call('RPUSH', KEYS[6], list)
        fenced[#fenced + 1] = list
      end
    end
  end
end
return fenced
"""
)

# KEYS: log, archived, generation, generations, rebuild lock, archive top, checkpoints..., then
# the lists to let go. ARGV: segment, #checkpoints, current, counter, rebuilding, then each
# list's location. Returns {streams let go, kept for later, events let go}, or 'retry'.
LET_GO = (
    FLOOR
    + """
local lowest = floor()
if lowest == nil then return 'retry' end
local n = tonumber(ARGV[2])
local top = tonumber(redis.call('GET', KEYS[6]) or 0)
local done, later, events = 0, 0, 0
for i = 7 + n, #KEYS do
  local list = KEYS[i]
  if redis.call('HGET', KEYS[2], list) == 'pending:' .. ARGV[1] then
    local items = redis.call('LRANGE', list, 0, -1)
    local last = position_of(items[#items])
    if last > lowest then
      later = later + 1
    else
      for _, item in ipairs(items) do redis.call('XDEL', KEYS[1], position_of(item) .. '-0') end
      redis.call('DEL', list)
      redis.call('HSET', KEYS[2], list, ARGV[5 + i - 6 - n])
      if last > top then top = last end
      done = done + 1
      events = events + #items
    end
  end
end
redis.call('SET', KEYS[6], top)
return {done, later, events}
"""
)

# Copy up to ARGV[2] log entries after ARGV[1] into KEYS[2]; the id of the last copied ('' if
# none). With ARGV[3] = 'finish', copy all that is left and put the copy in the log's place.
COPY = """
local last, count = '', tonumber(ARGV[2])
if ARGV[3] == 'finish' then count = nil end
local entries
if count then
  entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', count)
else
  entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+')
end
for _, entry in ipairs(entries) do
  redis.call('XADD', KEYS[2], entry[1], unpack(entry[2]))
  last = entry[1]
end
if ARGV[3] == 'finish' then
  local live = redis.call('XLEN', KEYS[1])
  if live == 0 then
    redis.call('DEL', KEYS[1], KEYS[2])
  elseif redis.call('XLEN', KEYS[2]) ~= live then
    return redis.error_reply('log compaction: the copy of ' .. KEYS[1] .. ' differs; left alone')
  else
    redis.call('RENAME', KEYS[2], KEYS[1])
  end
end
return last
"""

# Take the lock from a holder known to be dead: only if it still holds it.
TAKE_OVER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3])
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class ArchiveBusy(ArchiveError):
    """Another archiver holds the partition."""


@dataclass
class Archived:
    """What a run did."""

    partition: str
    segments: list[str] = field(default_factory=list)
    streams: int = 0  # let go from Redis into segments
    events: int = 0
    later: int = 0  # fenced and written, kept in Redis until every projection has applied them
    compacted: bool = False


class Archiver:
    def __init__(
        self,
        redis: Redis,
        segments: SegmentStore,
        on_step: Callable[[str], None] | None = None,
        segment_events: int = SEGMENT_EVENTS,
    ) -> None:
        self.redis = redis
        self.segments = segments
        self.on_step = on_step or (lambda step: None)  # a hook for tests that kill a run
        self.segment_events = segment_events
        self.chunk = CHUNK  # streams fenced per script call: a segment is cut between two
        self._fence = redis.register_script(FENCE)
        self._let_go = redis.register_script(LET_GO)
        self._copy = redis.register_script(COPY)
        self._release = redis.register_script(RELEASE)
        self._extend = redis.register_script(EXTEND)
        self._take_over = redis.register_script(TAKE_OVER)
        self._read_stream = redis.register_script(READ_STREAM)

    def run(self, partition: str, candidates: Iterable[str], before: datetime) -> Archived:
        """Archive the streams among ``candidates`` that closed before ``before``, after first
        finishing any run that was cut short."""
        if before.tzinfo is None:
            raise ValueError("the cutoff must be timezone-aware")
        self.segments.check(partition)  # before anything changes
        token = self._lock(partition)
        lock = keys.archive_lock(partition)
        done = Archived(partition)
        try:
            begun = self.redis.smembers(keys.archive_open(partition))
            for name in sorted(m.decode() for m in begun):
                self._finish(partition, name, done, token)
            lists = [keys.stream(partition, c) for c in candidates]
            while lists:
                name = f"{int(self.redis.incr(keys.archive_seq(partition))):06d}"
                self.redis.sadd(keys.archive_open(partition), name)
                lists = self._fill(partition, name, lists, before, token)
                self._finish(partition, name, done, token)
            # A compaction cut short left its copy behind: the log still has its holes.
            if done.streams or self.redis.exists(keys.log_compacting(partition)):
                self._compact(partition, token)
                done.compacted = True
        finally:
            self._release(keys=[lock], args=[token])
        return done

    # --- the steps ------------------------------------------------------------------------

    def _fill(
        self, partition: str, name: str, lists: list[str], before: datetime, token: str
    ) -> list[str]:
        """Fence candidates into segment ``name`` until it is full; the candidates left."""
        events = 0
        while lists and events < self.segment_events:
            chunk, lists = lists[: self.chunk], lists[self.chunk :]
            fenced = self._scripted(
                self._fence,
                partition,
                [keys.archive_pending(partition, name)],
                chunk,
                [name],
                [*_epoch(before)],
            )
            if fenced:
                with self.redis.pipeline(transaction=False) as pipe:
                    for list_key in fenced:
                        pipe.llen(list_key)
                    events += sum(pipe.execute())
            self._keep(partition, token)
        return lists

    def _finish(self, partition: str, name: str, done: Archived, token: str) -> None:
        """Write segment ``name`` (unless its manifest exists), let its streams go, close it."""
        pending = keys.archive_pending(partition, name)
        lists = [x.decode() for x in self.redis.lrange(pending, 0, -1)]
        if not lists:
            self._close(partition, name)
            return
        self.on_step("fenced")
        manifest = self.segments.manifest(partition, name)
        if manifest is None:
            records = self._records(partition, lists)
            manifest = self.segments.write(partition, name, records, self.on_step)
        else:
            self.segments.verify(manifest)
        self.on_step("written")
        firsts = [f.first for f in manifest.frames]
        kept = 0
        for start in range(0, len(lists), CHUNK):
            chunk = lists[start : start + CHUNK]
            with self.redis.pipeline(transaction=False) as pipe:
                for list_key in chunk:
                    pipe.lrange(list_key, 0, -1)
                held = pipe.execute()
            live = [(k, items) for k, items in zip(chunk, held, strict=True) if items]
            if not live:
                continue  # let go by the run that was cut short
            places = [_place(manifest, firsts, items) for _, items in live]
            let_go, later, events = self._scripted(
                self._let_go,
                partition,
                [keys.archive_top(partition)],
                [k for k, _ in live],
                [name],
                places,
            )
            done.streams += int(let_go)
            done.events += int(events)
            kept += int(later)
            self._keep(partition, token)
            self.on_step("letting go")
        done.later += kept
        if name not in done.segments:
            done.segments.append(name)
        if not kept:
            self._close(partition, name)

    def _close(self, partition: str, name: str) -> None:
        with self.redis.pipeline() as pipe:
            pipe.delete(keys.archive_pending(partition, name))
            pipe.srem(keys.archive_open(partition), name)
            pipe.execute()

    def _records(self, partition: str, lists: Sequence[str]) -> list[bytes]:
        """The fenced streams' records, from the log, in position order."""
        records: list[bytes] = []
        log, archived = keys.log(partition), keys.archived(partition)
        for start in range(0, len(lists), CHUNK):
            with self.redis.pipeline(transaction=False) as pipe:
                for list_key in lists[start : start + CHUNK]:
                    script_in(pipe, self._read_stream, [log, list_key, archived], [0])
                for found in pipe.execute():
                    if found[:1] and found[0][:1] == b"@":
                        raise ArchiveError(f"a stream of {partition} was let go before its segment")
                    records.extend(found)
        return sorted(records, key=position_of)

    def _compact(self, partition: str, token: str) -> None:
        """Copy the log's live entries into a fresh stream that takes its place."""
        log, copy = keys.log(partition), keys.log_compacting(partition)
        self.redis.delete(copy)
        after = "0-0"
        while True:
            last = self._copy(keys=[log, copy], args=[after, COPY_CHUNK, ""]).decode()
            self._keep(partition, token)
            if not last:
                break
            after = last
            self.on_step("compacting")
        self._copy(keys=[log, copy], args=[after, 0, "finish"])

    # --- helpers --------------------------------------------------------------------------

    def _scripted(
        self,
        script: object,
        partition: str,
        extra_keys: list[str],
        lists: list[str],
        head_args: list[str],
        tail_args: Sequence[object],
    ) -> object:
        """Call FENCE or LET_GO with the checkpoints of the projections in use, again if the
        generations moved meanwhile."""
        while True:
            with self.redis.pipeline(transaction=False) as pipe:
                pipe.get(keys.generation(partition))
                pipe.get(keys.generations(partition))
                pipe.exists(keys.rebuild_lock(partition))
                current_raw, counter_raw, rebuilding = pipe.execute()
            current = int(current_raw or 1)
            gens = [current]
            if rebuilding:
                gens += range(current + 1, max(int(counter_raw or 0), current + 1) + 1)
            checkpoints = [keys.checkpoint(partition, g) for g in gens]
            found = script(  # type: ignore[operator]
                keys=[
                    keys.log(partition),
                    keys.archived(partition),
                    keys.generation(partition),
                    keys.generations(partition),
                    keys.rebuild_lock(partition),
                    *extra_keys,
                    *checkpoints,
                    *lists,
                ],
                args=[
                    *head_args,
                    len(checkpoints),
                    current_raw.decode() if current_raw else "1",
                    counter_raw.decode() if counter_raw else "0",
                    int(rebuilding),
                    *tail_args,
                ],
            )
            if found != b"retry":
                return [x.decode() for x in found] if script is self._fence else found

    def _lock(self, partition: str) -> str:
        """Take the partition's archive lock: at once if it is free or its holder was a
        process of this machine that is gone (killed), else once its holder stops extending
        it; ``ArchiveBusy`` if the holder is alive."""
        token = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        lock = keys.archive_lock(partition)
        deadline = time.monotonic() + LOCK_MS / 1000 + 1
        while time.monotonic() < deadline:
            holder = self.redis.get(lock)
            free = holder is None or _dead(holder.decode())
            if free and self._take_over(keys=[lock], args=[holder or b"", token, LOCK_MS]):
                return token
            time.sleep(0.1)
        raise ArchiveBusy(f"another archiver is running on {partition}")

    def _keep(self, partition: str, token: str) -> None:
        if not self._extend(keys=[keys.archive_lock(partition)], args=[token, LOCK_MS]):
            raise ArchiveBusy(f"the archiver of {partition} lost its lock")


def _dead(holder: str) -> bool:
    """Whether the lock's holder was a process of this machine that no longer runs."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _place(manifest: Manifest, firsts: list[int], items: Sequence[bytes]) -> str:
    """Where a stream's records are in the segment: the frames holding its positions."""
    positions = [int(i) if i[:1] != b"{" else position_of(i) for i in items]
    frames = sorted({bisect.bisect_right(firsts, p) - 1 for p in positions})
    if positions[-1] > manifest.last or frames[0] < 0:
        raise ArchiveError(f"segment {manifest.name} does not cover the stream it was written for")
    return location(manifest.name, frames, len(positions))
