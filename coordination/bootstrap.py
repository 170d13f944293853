"""The composition root: everything the API, the CLI and the jobs need, built from config."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis import Redis

from coordination.config import Config
from coordination.domain.calendar import WorkingCalendar
from coordination.domain.context import LeasePolicy
from coordination.domain.deadlines import DeadlinePolicy
from coordination.domain.units import Jurisdiction
from coordination.handlers.base import Clock
from coordination.handlers.incidents import IncidentHandler
from coordination.handlers.staff import StaffHandler
from coordination.handlers.supplies import CatalogueHandler, SupplyHandler
from coordination.handlers.watchers import Watchers
from coordination.projections.projector import Projector
from coordination.projections.reads import ReadModels
from coordination.store.archiver import Archived, Archiver
from coordination.store.connection import connect, connect_rq
from coordination.store.eventstore import EventStore
from coordination.store.segments import DirectorySegments
from coordination.store.tokens import TokenStore
from coordination.store.triggers import CatchUpTrigger
from coordination.store.workcalendar import load_calendar, missing_years_warnings


@dataclass(frozen=True)
class Services:
    config: Config
    redis: Redis
    jurisdiction: Jurisdiction
    store: EventStore
    tokens: TokenStore
    reads: ReadModels
    projector: Projector
    incidents: IncidentHandler
    staff: StaffHandler
    watchers: Watchers
    calendar: WorkingCalendar
    supplies: SupplyHandler  # each unit's ledger; its ``catalogue`` handler is the district's
    archiver: Archiver
    rq: Redis  # RQ's server: the store's, or a standalone one beside a cluster

    def archive(self, partition: str) -> Archived:
        """Move the history of the orders closed more than ``archive_after_days`` ago out of
        Redis into the archive."""
        cutoff = self.incidents.clock() - timedelta(days=self.config.archive_after_days)
        candidates = self.reads.reported_before(partition, cutoff)
        return self.archiver.run(partition, candidates, cutoff)

    def calendar_warnings(self) -> list[str]:
        """The years, this one or the next, that the working-day calendar lacks."""
        today = self.incidents.clock().astimezone(self.calendar.tz).date()
        return missing_years_warnings(self.calendar, today)

    @property
    def partitions(self) -> list[str]:
        """The districts: each is a partition of the log."""
        return self.jurisdiction.districts()


def build_services(
    config: Config, redis: Redis | None = None, clock: Clock | None = None
) -> Services:
    """Everything, on ``redis`` if given (else the configured server or cluster); RQ on the
    same client unless its own server is configured (or the store is a cluster)."""
    if redis is not None and isinstance(redis, Redis) and not config.rq_redis_url:
        rq = redis
    else:
        rq = connect_rq(config)
    redis = redis or connect(config)
    jurisdiction = load_jurisdiction(config)
    segments = DirectorySegments(config.archive_dir)
    store = EventStore(
        redis,
        idempotency_ttl=config.idempotency_ttl_seconds,
        archive=segments,
        wait_replicas=config.wait_replicas,
        wait_timeout_ms=config.wait_timeout_ms,
    )
    reads = ReadModels(
        redis, wait_seconds=config.read_wait_seconds, max_waiting=config.read_waiting_max
    )
    calendar = load_calendar(config.calendar_file, config.timezone)
    deadlines = DeadlinePolicy(
        sign_working_days=config.sign_working_days,
        resolve_working_days=config.resolve_working_days,
        night_claim=timedelta(minutes=config.night_claim_minutes),
        night_resolve=timedelta(minutes=config.night_resolve_minutes),
        calendar=calendar,
    )
    leases = LeasePolicy(
        default=timedelta(minutes=config.lease_minutes),
        night_emergency=timedelta(minutes=config.night_lease_minutes),
    )
    trigger = CatchUpTrigger(rq, config.queue)
    clock = clock or utcnow
    staff = StaffHandler(store, jurisdiction, clock, on_append=trigger)
    catalogue = CatalogueHandler(store, jurisdiction, clock, on_append=trigger)
    supplies = SupplyHandler(catalogue, store, jurisdiction, clock, on_append=trigger)
    incidents = IncidentHandler(
        store,
        jurisdiction,
        clock,
        staff,
        roster=reads,
        supplies=supplies,
        timezone=config.timezone,
        leases=leases,
        deadlines=deadlines,
        on_append=trigger,
    )
    projector = Projector(
        redis,
        store,
        batch_size=config.projector_batch,
        lock_ttl_ms=int(config.projector_lock_seconds * 1000),
        timezone=config.timezone,
    )
    return Services(
        config,
        redis,
        jurisdiction,
        store,
        TokenStore(redis),
        reads,
        projector,
        incidents,
        staff,
        Watchers(incidents, reads),
        calendar,
        supplies,
        Archiver(redis, segments),
        rq,
    )


def load_jurisdiction(config: Config) -> Jurisdiction:
    return Jurisdiction.from_dict(json.loads(config.units_file.read_text(encoding="utf-8")))


def utcnow() -> datetime:
    return datetime.now(UTC)
