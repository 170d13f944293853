"""The projector: catches a partition's read models up with its log, a batch at a time.

Each batch is applied and the checkpoint moved by one script call (``writes.APPLY``), which
writes nothing unless the checkpoint and the generation are still those the batch was read at,
so a batch lands whole or not at all. A lock that expires if its holder dies
keeps one projector per partition, so events apply in log order.
"""

from __future__ import annotations

import gc
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from redis import Redis

from coordination.domain.staff import STREAM_PREFIX, StaffMember, is_staff_stream
from coordination.domain.supplies import (
    CATALOGUE_STREAM,
    Ledger,
    is_supply_stream,
    unit_of_stream,
)
from coordination.metrics import instruments
from coordination.projections import queues, staff_views, supplies, views
from coordination.projections.views import View
from coordination.projections.writes import APPLY, Writes
from coordination.store import keys
from coordination.store.connection import script_in
from coordination.store.eventstore import EventStore, StoredEvent

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


# What a projector has in hand of the read models between its batches, by stream: an incident's
# view, a staff member, or a unit's supplies ledger.
InHand = View | StaffMember | Ledger
VIEW_CACHE_SIZE = 50_000  # views a catch-up run keeps in memory between its batches
# A rebuild's batches are larger: nobody waits on each, and fewer calls cost less per event.
# Each still holds the server for one script call (~25 ms at this size).
REBUILD_BATCH = 2_000


class Outcome(Enum):
    APPLIED = "applied"
    RACED = "raced"  # another projector moved the checkpoint first: read it again
    STALE = "stale"  # the generation was swapped: this one is no longer read


@dataclass(frozen=True)
class Lag:
    partition: str
    head: int
    checkpoint: int

    @property
    def lag(self) -> int:
        return self.head - self.checkpoint


class Projector:
    def __init__(
        self,
        redis: Redis,
        store: EventStore,
        batch_size: int = 1000,
        lock_ttl_ms: int = 1_500,
        before_commit: Callable[[int], None] | None = None,
        rebuild_grace_seconds: float = 2.0,
        timezone: str = "Asia/Shanghai",
        rebuild_batch: int = REBUILD_BATCH,
    ) -> None:
        self.redis = redis
        self.store = store
        self.batch_size = batch_size
        self.lock_ttl_ms = lock_ttl_ms
        self.before_commit = before_commit  # a hook for tests that crash a batch half way
        self.rebuild_grace_seconds = rebuild_grace_seconds
        self.rebuild_batch = rebuild_batch
        self.tz = ZoneInfo(timezone)  # the local day that daily counts fall on
        self._release = redis.register_script(RELEASE)
        self._extend = redis.register_script(EXTEND)
        self._apply = redis.register_script(APPLY)

    # --- catching up ----------------------------------------------------------------------

    def catch_up(self, partition: str) -> int:
        """Apply every event after the checkpoint; the number applied (0 if another projector
        holds the lock and keeps it alive: it then sees whatever this call was for).

        A lock whose holder died lapses within its short TTL (a live holder extends it after
        every batch), and this call waits that long to take over rather than leave the
        projections stalled until the next trigger.
        """
        applied = 0
        while True:
            token = self._acquire(keys.projector_lock(partition))
            if token is None:
                if self._holder_is_alive(partition):
                    return applied
                continue
            try:
                gen = keys.current_generation(self.redis, partition)
                applied += self._run(partition, gen, token)
            finally:
                self._release(keys=[keys.projector_lock(partition)], args=[token])
                self.redis.delete(keys.trigger(partition))
            # An append that found the trigger set, or whose own catch-up found the lock
            # taken, committed before this point: look once more after letting go.
            if self.lag(partition).lag <= 0:
                return applied

    def _run(self, partition: str, gen: int, token: str) -> int:
        """Project up to the log's end, keeping the lock while appends go on landing: a busy
        district is followed by one run, not by a lock taken and let go per batch (each a
        write, which on ``appendfsync always`` waits for the disk)."""
        applied = 0
        lock = keys.projector_lock(partition)
        while True:
            n, outcome = self._project(partition, gen, self.batch_size, live=True, token=token)
            applied += n
            if outcome is Outcome.STALE:
                return applied  # swapped by a rebuild: catch_up looks again
            if outcome is Outcome.RACED:
                continue
            # At the end as read. The trigger is cleared first: an append that still found it
            # set left its events to this run, which looks once more; one that finds it clear
            # enqueues a catch-up of its own.
            with self.redis.pipeline(transaction=False) as pipe:
                pipe.delete(keys.trigger(partition))
                script_in(pipe, self._extend, [lock], [token, self.lock_ttl_ms])
                pipe.get(keys.head(partition))
                pipe.get(keys.checkpoint(partition, gen))
                _, held, head, reached = pipe.execute()
            if not held or int(head or 0) <= int(reached or 0):
                return applied  # caught up (or the lock lapsed: its next holder goes on)

    def _project(
        self, partition: str, gen: int, size: int, live: bool, token: str | None = None
    ) -> tuple[int, Outcome]:
        """Apply batches of ``size`` up to the log's end (APPLIED), or until one raced or went
        stale; and the number of events applied.

        Each batch's commit runs on the server while the next batch is computed here. The next
        batch, and the views it needs that the batch in flight does not write (those are in
        hand), are read before that commit is sent, so it cannot change them; the commit's own
        checks (checkpoint, generation) still decide whether it lands, and a batch computed on
        one that did not land is dropped.
        """
        applied = 0
        # The views (and ledgers) as this run's batches leave them, the one in flight included,
        # so that the next batch need not read and decode them back. A batch that does not land
        # ends the run, and these go with it.
        written: dict[str, InHand] = {}
        in_flight: _InFlight | None = None

        def settle(prepared: _Prepared, outcome: Outcome) -> Outcome:
            nonlocal applied
            if outcome is Outcome.APPLIED:
                applied += len(prepared.batch)
                seconds = time.perf_counter() - prepared.started
                instruments.PROJECTOR_BATCH_SECONDS.labels(partition).observe(seconds)
                instruments.PROJECTOR_EVENTS.labels(partition).inc(len(prepared.batch))
            return outcome

        checkpoint = int(self.redis.get(keys.checkpoint(partition, gen)) or 0)
        batch = self.store.read_partition(partition, after=checkpoint, count=size)
        if not batch:
            return 0, Outcome.APPLIED
        fetched = self._fetch(partition, gen, checkpoint, batch, written, live)
        committer: ThreadPoolExecutor | None = None  # made when a batch has one after it
        with _cycles_uncollected():
            try:
                while True:
                    if isinstance(fetched, Outcome):
                        outcome = fetched  # moved by another, or swapped: nothing to commit
                        break
                    prepared = self._prepare(partition, gen, checkpoint, batch, written, fetched)
                    if in_flight is not None:
                        done, in_flight = in_flight, None
                        outcome = settle(done.prepared, done.future.result())
                        if outcome is not Outcome.APPLIED:
                            break
                        if token is not None:  # alive, between two batches
                            lock = keys.projector_lock(partition)
                            self._extend(keys=[lock], args=[token, self.lock_ttl_ms])
                    if len(written) > VIEW_CACHE_SIZE:
                        written.clear()  # but for the batch in flight: it is not read back yet
                    written.update(prepared.fresh)
                    checkpoint = prepared.batch[-1].position
                    batch = self.store.read_partition(partition, after=checkpoint, count=size)
                    if batch:
                        follows = prepared.follows  # the batch in flight has not moved it yet
                        fetched = self._fetch(partition, gen, follows, batch, written, live)
                        if isinstance(fetched, Outcome):
                            outcome = fetched  # this batch would not land either
                            break
                    if not batch:  # the last: nothing to compute meanwhile
                        outcome = settle(prepared, self._commit(prepared))
                        break
                    if committer is None:
                        committer = ThreadPoolExecutor(1, thread_name_prefix="projector-commit")
                    in_flight = _InFlight(committer.submit(self._commit, prepared), prepared)
            except BaseException:
                if in_flight is not None:  # a commit under way lands (or not) before this ends
                    wait([in_flight.future])
                raise
            finally:
                if committer is not None:
                    committer.shutdown()
                written.clear()  # freed before the collector runs again, not traversed by it
        return applied, outcome

    def apply_batch(
        self,
        partition: str,
        gen: int,
        checkpoint: int,
        batch: list[StoredEvent],
        live: bool = True,
        written: dict[str, InHand] | None = None,
    ) -> Outcome:
        """Apply events that follow ``checkpoint`` and move it, all or nothing.

        ``written`` holds views and ledgers as this projector last wrote them; those are not read
        back, and it gets the views this batch writes.
        """
        known = written if written is not None else {}
        fetched = self._fetch(partition, gen, checkpoint, batch, known, live)
        if isinstance(fetched, Outcome):
            return fetched
        prepared = self._prepare(partition, gen, checkpoint, batch, known, fetched)
        outcome = self._commit(prepared)
        if outcome is Outcome.APPLIED and written is not None:
            written.update(prepared.fresh)
        return outcome

    def _fetch(
        self,
        partition: str,
        gen: int,
        follows: int,
        batch: list[StoredEvent],
        known: Mapping[str, InHand],
        live: bool,
    ) -> _Fetched | Outcome:
        """What a batch needs from the read models: the views it does not know and the
        ledgers it moves; RACED if the checkpoint is no longer ``follows``, STALE if the
        generation was swapped (live only)."""
        fetched = _Fetched(live)
        for stored in batch:
            into = fetched.supply if is_supply_stream(stored.stream) else fetched.by_stream
            into.setdefault(stored.stream, []).append(stored)
        unknown = [s for s in fetched.by_stream if s not in known]
        ledgers = {
            s: k
            for s in fetched.supply
            if s not in known and (k := supplies.ledger_key(partition, gen, s))
        }
        read_keys = [_view_key(partition, gen, s) for s in unknown] + list(ledgers.values())
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.generation(partition))
            pipe.get(keys.checkpoint(partition, gen))
            if read_keys:
                pipe.execute_command("MGET", *read_keys)  # one slot: a cluster pipeline takes it so
            current, moved, *got = pipe.execute()
        if live and int(current or 1) != gen:
            return Outcome.STALE  # swapped by a rebuild since this projector looked
        if int(moved or 0) != follows:
            return Outcome.RACED  # another projector got here first
        # The views are read after the checkpoint, and the commit checks the checkpoint again:
        # a batch applied in between (which moved both) makes this one raced, not wrong.
        got = got[0] if got else []
        fetched.raws = dict(zip(unknown, got[: len(unknown)], strict=True))
        fetched.ledger_raws = dict(zip(ledgers, got[len(unknown) :], strict=True))
        return fetched

    def _prepare(
        self,
        partition: str,
        gen: int,
        follows: int,
        batch: list[StoredEvent],
        known: Mapping[str, InHand],
        fetched: _Fetched,
    ) -> _Prepared:
        """The writes that apply a batch to the read models, and the views it leaves."""
        started = time.perf_counter()
        w = Writes()
        counts: Counter[str] = Counter()
        durations: dict[str, int] = {}
        spells = _SpellWrites()
        fresh: dict[str, InHand] = {}
        changed: dict[str, int] = {}
        raws = fetched.raws
        for stream, events in fetched.by_stream.items():
            raw = raws.get(stream)
            if is_staff_stream(stream):
                member = _apply_staff(w, partition, gen, known.get(stream), raw, events)
                fresh[stream] = member
                continue
            old = known[stream] if stream in known else (views.decode(raw) if raw else None)
            new = old
            for stored in events:
                before, new = new, views.apply(new, stored)
                counts.update(views.day_counts(before, new, stored, self.tz))
                durations.update(views.durations(before, new, stored, self.tz))
                spells.add(*views.spell_changes(before, new, stored))
                for unit in views.units_touched(before, new):
                    changed[unit] = max(changed.get(unit, 0), stored.position)
            assert new is not None
            _write(w, partition, gen, stream, old, new)
            fresh[stream] = new
        _write_days(w, partition, gen, counts, durations)
        found = {
            s: known[s] if s in known else (supplies.decode(raw) if raw else None)
            for s in fetched.supply
            for raw in (fetched.ledger_raws.get(s),)
        }
        fresh.update(supplies.apply(w, partition, gen, fetched.supply, found, self.tz))
        for stream, events in fetched.supply.items():  # a ledger moved: its dashboards look
            unit = partition if stream == CATALOGUE_STREAM else unit_of_stream(stream)
            changed[unit] = max(changed.get(unit, 0), events[-1].position)
        if changed:
            w.hset(keys.unit_changes(partition, gen), changed)
        spells.write(w, partition, gen)
        script_keys, args = w.script_args(
            keys.checkpoint(partition, gen),
            keys.generation(partition),
            follows,
            gen if fetched.live else None,
            batch[-1].position,
        )
        return _Prepared(batch, follows, script_keys, args, fresh, started)

    def _commit(self, prepared: _Prepared) -> Outcome:
        """Apply a prepared batch and move the checkpoint, if it still follows it."""
        if self.before_commit is not None:
            self.before_commit(prepared.batch[-1].position)
        outcome = self._apply(keys=prepared.script_keys, args=prepared.args)
        if outcome == b"ok":
            return Outcome.APPLIED
        return Outcome.STALE if outcome == b"stale" else Outcome.RACED

    # --- rebuilding -----------------------------------------------------------------------

    def rebuild(self, partition: str, wait_seconds: float = 30.0) -> int:
        """Replay the log into a fresh generation and swap it in; readers keep the old one
        until the swap. Returns the new generation."""
        rebuild_token = self._acquire(keys.rebuild_lock(partition), ttl_ms=3_600_000)
        if rebuild_token is None:
            raise RuntimeError(f"a rebuild of {partition} is already running")
        try:
            old = keys.current_generation(self.redis, partition)
            new = max(int(self.redis.incr(keys.generations(partition))), old + 1)
            self._build(partition, new)
            token = self._wait_for_lock(partition, wait_seconds)
            try:
                self._build(partition, new)
                self.redis.set(keys.generation(partition), new)
            finally:
                self._release(keys=[keys.projector_lock(partition)], args=[token])
            # Reads that looked up the old generation just before the swap finish first.
            time.sleep(self.rebuild_grace_seconds)
            self.drop_generation(partition, old)
            return new
        finally:
            self._release(keys=[keys.rebuild_lock(partition)], args=[rebuild_token])

    def _build(self, partition: str, gen: int) -> None:
        """Replay into generation ``gen``, which nobody reads yet, in larger batches than the
        live path's (nobody waits on each)."""
        while self._project(partition, gen, self.rebuild_batch, live=False)[1] is Outcome.RACED:
            pass  # only another rebuild's projector could have moved it: look again

    def drop_generation(self, partition: str, gen: int) -> int:
        dropped = 0
        pattern = keys.projection_prefix(partition, gen) + "*"
        for chunk in _chunks(self.redis.scan_iter(match=pattern, count=1000), 500):
            dropped += self.redis.unlink(*chunk)
        return dropped

    # --- state ----------------------------------------------------------------------------

    def lag(self, partition: str) -> Lag:
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.head(partition))
            pipe.get(keys.generation(partition))
            head, gen = pipe.execute()
        checkpoint = self.redis.get(keys.checkpoint(partition, int(gen or 1)))
        return Lag(partition, int(head or 0), int(checkpoint or 0))

    def _acquire(self, key: str, ttl_ms: int | None = None) -> str | None:
        token = secrets.token_hex(8)
        if self.redis.set(key, token, nx=True, px=ttl_ms or self.lock_ttl_ms):
            return token
        return None

    def _holder_is_alive(self, partition: str) -> bool:
        """Wait while another projector holds the lock: True if it still holds it after the
        lock's TTL (so it extends it: alive) or caught up meanwhile; False once it is free."""
        lock = keys.projector_lock(partition)
        deadline = time.monotonic() + self.lock_ttl_ms / 1000 + 0.1
        while time.monotonic() < deadline:
            if not self.redis.exists(lock):
                return False
            if self.lag(partition).lag <= 0:
                return True
            time.sleep(0.02)
        return True

    def _wait_for_lock(self, partition: str, seconds: float) -> str:
        deadline = time.monotonic() + seconds
        while (token := self._acquire(keys.projector_lock(partition))) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the projector of {partition} did not let go")
            time.sleep(0.01)
        return token


@contextmanager
def _cycles_uncollected() -> Iterator[None]:
    """Pause the cyclic garbage collector for a catch-up run. The run makes and drops a few
    hundred small objects per event, none of them in a cycle (reference counting frees them
    all), while the views it keeps in hand make the heap large: the collector's full passes
    over it cost a third of the run (200,000 events: 13,000 events/s with it, 20,800 without)
    and found nothing. It runs again, as before, once the run ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class _Fetched:
    """A batch by stream, and what it needs from the read models."""

    live: bool  # checked against the generation being read
    by_stream: dict[str, list[StoredEvent]] = field(default_factory=dict)
    supply: dict[str, list[StoredEvent]] = field(default_factory=dict)  # ledgers, catalogue
    raws: dict[str, bytes | None] = field(default_factory=dict)  # views not in hand
    ledger_raws: dict[str, bytes | None] = field(default_factory=dict)


@dataclass(frozen=True)
class _Prepared:
    """A batch's writes, ready to commit, and the views it leaves."""

    batch: list[StoredEvent]
    follows: int  # the checkpoint it must follow
    script_keys: list[str]
    args: list[Any]
    fresh: dict[str, InHand]
    started: float  # perf_counter when it began


@dataclass(frozen=True)
class _InFlight:
    future: Future[Outcome]
    prepared: _Prepared


def _view_key(partition: str, gen: int, stream: str) -> str:
    """Where the view of a stream's aggregate (an incident, or a staff member) is kept."""
    if is_staff_stream(stream):
        return keys.staff_view(partition, gen, stream[len(STREAM_PREFIX) :])
    return keys.view(partition, gen, stream)


def _write_days(
    w: Writes, partition: str, gen: int, counts: Counter[str], durations: dict[str, int]
) -> None:
    """A batch's day counts (``<day>|<unit>|<kind>|<metric>``: added) and durations (set)."""
    for counter, n in counts.items():
        day, _, rest = counter.partition("|")
        w.count(keys.daily_counts(partition, gen, day), rest, n)
    by_day: dict[str, dict[str, int]] = {}
    for counter, seconds in durations.items():
        day, _, rest = counter.partition("|")
        by_day.setdefault(day, {})[views.DURATION + rest] = seconds
    for day, fields in by_day.items():
        w.hset(keys.daily_counts(partition, gen, day), fields)


def _apply_staff(
    w: Writes,
    partition: str,
    gen: int,
    known: InHand | None,
    raw: bytes | None,
    events: list[StoredEvent],
) -> StaffMember:
    """The writes of a staff member's events, from the member in hand or else as stored; the
    member they leave."""
    old = known if isinstance(known, StaffMember) else None
    if old is None and raw is not None:
        old = staff_views.decode(raw)
    new = old
    for stored in events:
        new = staff_views.apply(new, stored)
    assert new is not None
    staff_views.write(w, partition, gen, old, new)
    return new


def _write(
    w: Writes, partition: str, gen: int, incident_id: str, old: View | None, new: View
) -> None:
    """The writes that take one incident's read models from ``old`` to ``new``."""
    w.set(keys.view(partition, gen, incident_id), views.encode(new))
    if old is None:
        w.zadd(keys.incidents_index(partition, gen), {incident_id: views.reported_score(new)})
    queues.write(w, partition, gen, incident_id, old, new)
    old_holder = old.incident.holder if old else ""
    if old_holder != new.incident.holder:
        if old_holder:
            w.srem(keys.holdings(partition, gen, old_holder), incident_id)
        if new.incident.holder:
            w.sadd(keys.holdings(partition, gen, new.incident.holder), incident_id)
    expires = new.incident.lease_expires_at
    if expires is not None:
        w.zadd(keys.leases(partition, gen), {incident_id: expires.timestamp()})
    elif old is not None and old.incident.lease_expires_at is not None:
        w.zrem(keys.leases(partition, gen), incident_id)
    was_due = views.deadline_members(old.incident) if old else {}
    now_due = views.deadline_members(new.incident)
    if gone := was_due.keys() - now_due.keys():
        w.zrem(keys.deadlines(partition, gen), *gone)
    if now_due:
        w.zadd(keys.deadlines(partition, gen), now_due)


class _SpellWrites:
    """A batch's changes to the deadline spells, folded in order and written a command per key:
    each spell is kept while it runs, and afterwards only if it ended late."""

    def __init__(self) -> None:
        self.due: dict[str, float] = {}
        self.info: dict[str, str] = {}
        self.ends: dict[str, str] = {}
        self.gone: set[str] = set()

    def add(self, started: list[views.Spell], ended: list[views.Spell]) -> None:
        for spell in started:
            self.due[spell.member] = spell.due.timestamp()
            self.info[spell.member] = spell.encode()
        for spell in ended:
            assert spell.end is not None
            if spell.end > spell.due:
                self.ends[spell.member] = spell.end.isoformat()
            elif spell.member in self.due:  # started in this batch: never written
                del self.due[spell.member], self.info[spell.member]
            else:
                self.gone.add(spell.member)

    def write(self, w: Writes, partition: str, gen: int) -> None:
        if self.due:
            w.zadd(keys.deadline_spells(partition, gen), self.due)
            w.hset(keys.deadline_spell_info(partition, gen), self.info)
        if self.ends:
            w.hset(keys.deadline_spell_ends(partition, gen), self.ends)
        if self.gone:
            w.zrem(keys.deadline_spells(partition, gen), *self.gone)
            w.hdel(keys.deadline_spell_info(partition, gen), *self.gone)


def _chunks(iterable: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
