"""Reading the projections: one incident, lists, unit queues, summaries, holdings, leases,
the figures of dashboards and reports, and what a live stream watches."""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from redis import Redis

from coordination.domain.deadlines import DeadlineKind
from coordination.domain.staff import StaffMember
from coordination.domain.supplies import NeedStatus
from coordination.domain.values import CatalogueItem
from coordination.projections import staff_views, supplies, supply_books, views
from coordination.projections.supply_books import (
    DonationEntry,
    Ledgers,
    NeedRow,
    Reconciliation,
    ShortageRow,
    StockRow,
    SupplyDay,
    TransferRow,
)
from coordination.projections.views import Spell, View
from coordination.store import keys
from coordination.store.mapper import from_data

SCAN_FACTOR = 10  # a filtered page looks at up to this many entries per one it returns


class NotYetVisible(Exception):
    """The projections have not reached the position the reader asked for."""

    def __init__(self, wanted: int, reached: int) -> None:
        super().__init__(f"projections are at position {reached}, not yet {wanted}")
        self.wanted = wanted
        self.reached = reached


class PositionNotWritten(Exception):
    """A position the log has not reached: no write returned it, and none can be waited for."""

    def __init__(self, wanted: int, head: int) -> None:
        super().__init__(f"no write has reached position {wanted}: the log's head is {head}")
        self.wanted = wanted
        self.head = head


class BadCursor(ValueError):
    """A cursor this API did not hand out."""


@dataclass(frozen=True)
class Page:
    items: list[View]
    next_cursor: str | None
    position: int  # the checkpoint the page was read at


class ReadModels:
    """The one reader of the projection keys: everything above the projections reads through
    it, at one generation's snapshot."""

    def __init__(self, redis: Redis, wait_seconds: float = 2.0, max_waiting: int = 32) -> None:
        self.redis = redis
        self.wait_seconds = wait_seconds
        # Reads waiting for a position at once, in this process: more are answered at once.
        self.waiting = threading.BoundedSemaphore(max_waiting)

    def snapshot(self, partition: str, min_position: int | None = None) -> tuple[int, int]:
        """The generation and checkpoint to read at, once it has reached ``min_position``.

        The wait is bounded: by ``wait_seconds``, by the number of reads waiting at once, and
        not at all for a position the log has not reached (nothing written yet can be read).
        """
        gen, reached = self._checkpoint(partition)
        if min_position is None or reached >= min_position:
            return gen, reached
        if (head := int(self.redis.get(keys.head(partition)) or 0)) < min_position:
            raise PositionNotWritten(min_position, head)
        if not self.waiting.acquire(blocking=False):
            raise NotYetVisible(min_position, reached)
        try:
            deadline = time.monotonic() + self.wait_seconds
            delay = 0.001
            while time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
                gen, reached = self._checkpoint(partition)
                if reached >= min_position:
                    return gen, reached
            raise NotYetVisible(min_position, reached)
        finally:
            self.waiting.release()

    def _checkpoint(self, partition: str) -> tuple[int, int]:
        gen = keys.current_generation(self.redis, partition)
        return gen, int(self.redis.get(keys.checkpoint(partition, gen)) or 0)

    def unit_changes(
        self, partition: str, gen: int | None = None
    ) -> tuple[int, int, dict[str, int]]:
        """What a live stream watches: (generation, checkpoint, unit -> the last position at
        which an order or the unit's ledger changed there), read at one moment (one
        transaction; ``gen``, the generation last seen, saves looking it up first)."""
        gen = gen or keys.current_generation(self.redis, partition)
        for _ in range(3):
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.get(keys.generation(partition))
                pipe.get(keys.checkpoint(partition, gen))
                pipe.hgetall(keys.unit_changes(partition, gen))
                current, checkpoint, changes = pipe.execute()
            actual = int(current or 1)
            if actual == gen:
                break
            gen = actual  # a rebuild swapped generations meanwhile: read the new one
        return gen, int(checkpoint or 0), {_text(k): int(v) for k, v in changes.items()}

    def incident(
        self, partition: str, incident_id: str, min_position: int | None = None
    ) -> View | None:
        gen, _ = self.snapshot(partition, min_position)
        raw = self.redis.get(keys.view(partition, gen, incident_id))
        return None if raw is None else views.decode(raw)

    def incidents(
        self,
        partition: str,
        keep: Callable[[View], bool],
        cursor: str | None = None,
        limit: int = 50,
        min_position: int | None = None,
    ) -> Page:
        """Incidents the latest reported first (one report time: the greater id first), those
        that ``keep`` accepts. The cursor is the (report time, id) of the last entry a page
        looked at, not an offset: orders reported meanwhile sort above it and move no page."""
        gen, reached = self.snapshot(partition, min_position)
        index = keys.incidents_index(partition, gen)
        window = limit * SCAN_FACTOR
        if cursor:
            score, last = _decode_cursor(cursor)
            entries = self._reported_before(index, score, last, window)
        else:
            entries = self.redis.zrevrange(index, 0, window - 1, withscores=True)
        return self._page(partition, gen, reached, entries, keep, limit)

    def every_incident(
        self, partition: str, min_position: int | None = None, chunk: int = 500
    ) -> Iterator[View]:
        """Every incident of one generation once, the latest reported first, read ``chunk`` at
        a time (the generation is looked up here, before the first is read)."""
        gen, _ = self.snapshot(partition, min_position)
        return self._walk_index(partition, gen, chunk)

    def reported_before(self, partition: str, before: datetime) -> list[str]:
        """The ids of the incidents reported before ``before``: the only ones that can have
        closed before it (the archiver's candidates; it checks each on the log itself)."""
        gen, _ = self.snapshot(partition)
        score = (before - views.EPOCH) // views.MICROSECOND
        found = self.redis.zrangebyscore(keys.incidents_index(partition, gen), "-inf", f"({score}")
        return [m.decode() for m in found]

    def reported_since(
        self, partition: str, since: datetime, min_position: int | None = None
    ) -> tuple[list[View], int]:
        """The incidents reported at or after ``since``, the latest first, and the position
        they were read at (one generation)."""
        gen, reached = self.snapshot(partition, min_position)
        index = keys.incidents_index(partition, gen)
        floor = (since - views.EPOCH) // views.MICROSECOND
        ids = [m.decode() for m in self.redis.zrevrangebyscore(index, "+inf", floor)]
        return self._views(partition, gen, ids), reached

    def _walk_index(self, partition: str, gen: int, chunk: int) -> Iterator[View]:
        index = keys.incidents_index(partition, gen)
        entries = self.redis.zrevrange(index, 0, chunk - 1, withscores=True)
        while entries:
            yield from self._views(partition, gen, [m.decode() for m, _ in entries])
            if len(entries) < chunk:
                return
            # On from the last one read, not by offset: one reported meanwhile is not read twice.
            member, score = entries[-1]
            entries = self._reported_before(index, score, member.decode(), chunk)

    def _reported_before(
        self, index: str, score: float, last: str, count: int
    ) -> list[tuple[bytes, float]]:
        """Up to ``count`` entries of the incidents index after (score, id) ``last`` in its
        latest-first order: the rest of that report time (ids below it), then older ones."""
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrevrangebyscore(index, score, score, withscores=True)
            pipe.zrevrangebyscore(index, f"({score!r}", "-inf", start=0, num=count, withscores=True)
            same, older = pipe.execute()
        return ([(m, s) for m, s in same if m.decode() < last] + older)[:count]

    def queue(
        self,
        partition: str,
        unit: str,
        keep: Callable[[View], bool],
        cursor: str | None = None,
        limit: int = 50,
        min_position: int | None = None,
    ) -> Page:
        """A unit's open orders, most urgent first."""
        gen, reached = self.snapshot(partition, min_position)
        key = keys.queue(partition, gen, unit)
        window = limit * SCAN_FACTOR
        if cursor:
            # The rest of the cursor's score (members with one score sort by name), then on.
            score, after_id = _decode_cursor(cursor)
            same = self.redis.zrangebyscore(key, score, score, withscores=True)
            entries = [(m, s) for m, s in same if m.decode() > after_id][:window]
            entries += self.redis.zrangebyscore(
                key, f"({score!r}", "+inf", start=0, num=window - len(entries), withscores=True
            )
        else:
            entries = self.redis.zrange(key, 0, window - 1, withscores=True)
        return self._page(partition, gen, reached, entries, keep, limit)

    def claimable(
        self,
        partition: str,
        unit: str,
        after: tuple[float, str] | None = None,
        count: int = 50,
        gen: int | None = None,
    ) -> tuple[list[View], tuple[float, str] | None]:
        """A community's handed-down, unclaimed orders, most urgent first, after the cursor
        ``(score, id)`` of the last one read; with the cursor of this page (None: no more).

        A cursor, not an offset: claims leave the set while it is being read, and an offset
        would step over the orders that move up into the places they leave.
        """
        if gen is None:
            gen, _ = self.snapshot(partition)
        key = keys.claimable(partition, gen, unit)
        if after is None:
            entries = self.redis.zrange(key, 0, count - 1, withscores=True)
        else:
            score, last = after
            limit = count
            while True:  # members of one score sort by id: skip those up to the cursor's
                got = self.redis.zrangebyscore(
                    key, score, "+inf", start=0, num=limit, withscores=True
                )
                entries = [(m, s) for m, s in got if s > score or m.decode() > last]
                if entries or len(got) < limit:
                    break
                limit *= 2
        if not entries:
            return [], None
        member, score = entries[-1]
        found = self._views(partition, gen, [m.decode() for m, _ in entries])
        return found, (score, member.decode())

    def summary(
        self, partition: str, unit: str, min_position: int | None = None
    ) -> tuple[dict[str, dict[str, int]], int]:
        """Counts of a unit's queue by status, then kind."""
        gen, reached = self.snapshot(partition, min_position)
        counts: dict[str, dict[str, int]] = {}
        for field, value in self.redis.hgetall(keys.queue_summary(partition, gen, unit)).items():
            status, _, kind = field.decode().partition("|")
            counts.setdefault(status, {})[kind] = int(value)
        return counts, reached

    def holdings(self, partition: str, holder: str, min_position: int | None = None) -> Page:
        gen, reached = self.snapshot(partition, min_position)
        ids = sorted(m.decode() for m in self.redis.smembers(keys.holdings(partition, gen, holder)))
        return Page(self._views(partition, gen, ids), None, reached)

    def due_leases(self, partition: str, now: datetime) -> list[View]:
        """Claimed incidents whose lease has run out by ``now``."""
        gen, _ = self.snapshot(partition)
        ids = self.redis.zrangebyscore(keys.leases(partition, gen), "-inf", now.timestamp())
        return self._views(partition, gen, [i.decode() for i in ids])

    def due_deadlines(self, partition: str, now: datetime) -> list[tuple[str, DeadlineKind]]:
        """Running deadlines that have fallen due by ``now``, earliest first."""
        gen, _ = self.snapshot(partition)
        members = self.redis.zrangebyscore(keys.deadlines(partition, gen), "-inf", now.timestamp())
        found = []
        for member in members:
            incident_id, _, kind = member.decode().rpartition("|")
            found.append((incident_id, DeadlineKind(kind)))
        return found

    def staff(
        self, partition: str, unit: str, min_position: int | None = None
    ) -> list[StaffMember]:
        """A unit's staff members, active or not, by id."""
        gen, _ = self.snapshot(partition, min_position)
        ids = sorted(m.decode() for m in self.redis.smembers(keys.unit_staff(partition, gen, unit)))
        if not ids:
            return []
        raws = self.redis.mget([keys.staff_view(partition, gen, i) for i in ids])
        return [staff_views.decode(r) for r in raws if r is not None]

    def member(
        self, partition: str, staff_id: str, min_position: int | None = None
    ) -> StaffMember | None:
        gen, _ = self.snapshot(partition, min_position)
        raw = self.redis.get(keys.staff_view(partition, gen, staff_id))
        return None if raw is None else staff_views.decode(raw)

    def day_counts(
        self, partition: str, day: str, min_position: int | None = None
    ) -> dict[str, int]:
        """One local day's counters, ``<unit>|<kind>|<metric>`` to count."""
        gen, _ = self.snapshot(partition, min_position)
        raw = self.redis.hgetall(keys.daily_counts(partition, gen, day))
        return _split_day(raw)[0]

    def figures(
        self,
        partition: str,
        day: str,
        units: list[str],
        late_at: datetime,
        min_position: int | None = None,
        held_now: bool = False,
    ) -> Figures:
        """What a dashboard or report reads, at one generation: the day's counters and
        durations, the queue summaries of ``units``, and the deadlines late at ``late_at``,
        each at the unit it was set for (``held_now``: at the unit that holds its order now)."""
        gen, _ = self.snapshot(partition, min_position)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(keys.checkpoint(partition, gen))
            pipe.hgetall(keys.daily_counts(partition, gen, day))
            for unit in units:
                pipe.hgetall(keys.queue_summary(partition, gen, unit))
            pipe.zrangebyscore(
                keys.deadline_spells(partition, gen), "-inf", f"({late_at.timestamp()!r}"
            )
            checkpoint, day_raw, *summaries, members = pipe.execute()
        counts, durations = _split_day(day_raw)
        return Figures(
            position=int(checkpoint or 0),
            counts=counts,
            durations=durations,
            summaries={
                unit: {f.decode(): int(v) for f, v in raw.items()}
                for unit, raw in zip(units, summaries, strict=True)
            },
            late=self._late(partition, gen, members, late_at, held_now),
        )

    def _late(
        self, partition: str, gen: int, members: list[bytes], at: datetime, held_now: bool
    ) -> list[Spell]:
        if not members:
            return []
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hmget(keys.deadline_spell_info(partition, gen), members)
            pipe.hmget(keys.deadline_spell_ends(partition, gen), members)
            infos, ends = pipe.execute()
        late = [
            spell
            for m, info, end in zip(members, infos, ends, strict=True)
            if info is not None and (spell := Spell.decode(m.decode(), info, end)).late_at(at)
        ]
        if held_now:
            ids = sorted({s.incident for s in late})
            units = {v.incident.id: v.incident.unit for v in self._views(partition, gen, ids)}
            late = [replace(s, unit=units.get(s.incident, s.unit)) for s in late]
        return late

    # --- supplies -------------------------------------------------------------------------

    def catalogue(self, partition: str, min_position: int | None = None) -> list[CatalogueItem]:
        """The district's supplies catalogue, by name."""
        gen, _ = self.snapshot(partition, min_position)
        return sorted(
            _catalogue(self.redis.hgetall(keys.supply_catalogue(partition, gen))).values(),
            key=lambda item: item.name,
        )

    def ledgers(
        self,
        partition: str,
        units: Iterable[str] | None = None,
        min_position: int | None = None,
    ) -> Ledgers:
        """The ledgers of ``units`` that have one (every unit's by default) and the catalogue,
        read at one checkpoint."""
        gen, _ = self.snapshot(partition, min_position)
        if units is None:
            units = (m.decode() for m in self.redis.smembers(keys.supply_units(partition, gen)))
        wanted = sorted(set(units))
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(keys.checkpoint(partition, gen))
            pipe.hgetall(keys.supply_catalogue(partition, gen))
            if wanted:
                pipe.execute_command(
                    "MGET", *[keys.supply_ledger(partition, gen, u) for u in wanted]
                )
            checkpoint, catalogue, *got = pipe.execute()
        raws = got[0] if got else []
        found = {u: supplies.decode(r) for u, r in zip(wanted, raws, strict=True) if r is not None}
        return Ledgers(int(checkpoint or 0), found, _catalogue(catalogue))

    def stock(
        self,
        partition: str,
        units: Iterable[str],
        item: str | None = None,
        min_position: int | None = None,
    ) -> tuple[list[StockRow], int]:
        """Stock per unit and item: on hand, reserved, available, in transit; and the
        position read at."""
        found = self.ledgers(partition, units, min_position)
        return supply_books.stock_rows(found, item), found.position

    def reconciliation(
        self, partition: str, units: Iterable[str] | None = None, min_position: int | None = None
    ) -> Reconciliation:
        """The books of ``units`` (every unit with a ledger by default), their totals, cash,
        and any difference named."""
        return supply_books.reconcile(self.ledgers(partition, units, min_position))

    def needs(
        self,
        partition: str,
        units: Iterable[str],
        status: str = NeedStatus.OPEN,
        min_position: int | None = None,
    ) -> tuple[list[NeedRow], int]:
        found = self.ledgers(partition, units, min_position)
        return supply_books.need_rows(found, status), found.position

    def shortages(
        self, partition: str, units: Iterable[str], min_position: int | None = None
    ) -> tuple[list[ShortageRow], int]:
        found = self.ledgers(partition, units, min_position)
        return supply_books.shortage_rows(found), found.position

    def transfers(
        self, partition: str, keep: Callable[[str], bool], min_position: int | None = None
    ) -> tuple[list[TransferRow], int]:
        """Transfers sent or received by the units ``keep`` accepts, the latest first."""
        gen, _ = self.snapshot(partition, min_position)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(keys.checkpoint(partition, gen))
            pipe.hgetall(keys.supply_catalogue(partition, gen))
            pipe.hgetall(keys.transfers_sent(partition, gen))
            pipe.hgetall(keys.transfers_received(partition, gen))
            checkpoint, catalogue, sent, got = pipe.execute()
        found = Ledgers(int(checkpoint or 0), {}, _catalogue(catalogue))
        rows = [
            supply_books.transfer_row(i.decode(), raw, got.get(i), found) for i, raw in sent.items()
        ]
        rows = [r for r in rows if keep(r.from_unit) or keep(r.to_unit)]
        rows.sort(key=lambda r: (r.dispatched_at, r.transfer_id), reverse=True)
        return rows, found.position

    def donations(
        self, partitions: list[str], cursor: str | None = None, limit: int = 50
    ) -> DonationPage:
        """The public list of donations (捐赠公示) of every partition, the latest received
        first (one time: the greater receipt first); the cursor is the (time, receipt) of the
        last entry of the page before."""
        entries: list[tuple[float, str, str, int]] = []  # score, receipt, partition, gen
        after = _decode_cursor(cursor) if cursor else None
        for partition in partitions:
            gen, _ = self.snapshot(partition)
            index = keys.donations_index(partition, gen)
            if after is None:
                found = self.redis.zrevrange(index, 0, limit - 1, withscores=True)
            else:
                found = self._reported_before(index, after[0], after[1], limit)
            entries += [(s, m.decode(), partition, gen) for m, s in found]
        entries.sort(key=lambda e: (e[0], e[1]), reverse=True)
        page = entries[:limit]
        items = []
        for partition in partitions:
            mine = [e for e in page if e[2] == partition]
            if not mine:
                continue
            gen = mine[0][3]
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.hgetall(keys.supply_catalogue(partition, gen))
                pipe.hmget(keys.donation_entries(partition, gen), [e[1] for e in mine])
                catalogue, raws = pipe.execute()
            known = Ledgers(0, {}, _catalogue(catalogue))
            items += [
                supply_books.donation_entry(raw, s, known)
                for (s, _, _, _), raw in zip(mine, raws, strict=True)
                if raw is not None
            ]
        items.sort(key=lambda d: (d.received_at, d.receipt), reverse=True)
        last = page[-1] if len(page) == limit else None  # a full page: there may be more
        next_cursor = _encode_cursor(last[0], last[1]) if last else None
        return DonationPage(items, next_cursor)

    def supply_day(
        self, partition: str, day: str, min_position: int | None = None
    ) -> list[SupplyDay]:
        """Per unit, the donations received and the supplies issued on a local day."""
        gen, _ = self.snapshot(partition, min_position)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(keys.supply_catalogue(partition, gen))
            pipe.hgetall(keys.supply_day(partition, gen, day))
            catalogue, counts = pipe.execute()
        found = Ledgers(0, {}, _catalogue(catalogue))
        return supply_books.supply_days({_text(k): int(v) for k, v in counts.items()}, found)

    def _page(
        self,
        partition: str,
        gen: int,
        reached: int,
        entries: list[tuple[bytes, float]],
        keep: Callable[[View], bool],
        limit: int,
    ) -> Page:
        found = self._views(partition, gen, [m.decode() for m, _ in entries])
        by_id = {v.incident.id: v for v in found}
        items: list[View] = []
        last: tuple[bytes, float] | None = None
        for member, score in entries:
            view = by_id.get(member.decode())
            last = (member, score)
            if view is not None and keep(view):
                items.append(view)
                if len(items) == limit:
                    break
        more = last is not None and (len(items) == limit or len(entries) == limit * SCAN_FACTOR)
        next_cursor = _encode_cursor(last[1], last[0].decode()) if more and last else None
        return Page(items, next_cursor, reached)

    def _views(self, partition: str, gen: int, ids: list[str]) -> list[View]:
        if not ids:
            return []
        raws = self.redis.mget([keys.view(partition, gen, i) for i in ids])
        return [views.decode(r) for r in raws if r is not None]


@dataclass(frozen=True)
class DonationPage:
    items: list[DonationEntry]
    next_cursor: str | None


def _catalogue(raw: dict[Any, Any]) -> dict[str, CatalogueItem]:
    items = (from_data(CatalogueItem, json.loads(v)) for v in raw.values())
    return {item.name: item for item in items}


@dataclass(frozen=True)
class Figures:
    """The read models behind the dashboards and the daily report, read at one generation."""

    position: int
    counts: dict[str, int]  # <unit>|<kind>|<metric> -> count, for the day
    durations: dict[str, int]  # <unit>|<kind>|sign|<position> (or resolve) -> seconds
    summaries: dict[str, dict[str, int]]  # unit -> <status>|<kind> -> count
    late: list[Spell]  # deadline spells past due, their work not done, at the time asked


def _split_day(raw: dict[Any, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """A day's hash as its counters and its durations."""
    counts: dict[str, int] = {}
    durations: dict[str, int] = {}
    for field, value in raw.items():
        name = field.decode()
        if name.startswith(views.DURATION):
            durations[name[len(views.DURATION) :]] = int(value)
        else:
            counts[name] = int(value)
    return counts, durations


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _encode_cursor(score: float, member: str) -> str:
    raw = json.dumps([score, member], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, str]:
    """The (score, member) a cursor continues after."""
    try:
        data: Any = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        score, member = float(data[0]), str(data[1])
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise BadCursor("not a cursor from this API") from exc
    if not math.isfinite(score):
        raise BadCursor("not a cursor from this API")
    return score, member
