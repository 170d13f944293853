"""Command handlers: load the stream, fold, authorize, decide, append with the expected version."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from coordination.domain.access import Action, Actor, Forbidden, OutOfScope, Role, authorize
from coordination.domain.deadlines import DeadlinePolicy
from coordination.domain.errors import Conflict, DomainError, InvalidTransition, NotAllowed
from coordination.domain.incident import (
    ClaimIncident,
    Command,
    Context,
    ExpireClaim,
    Incident,
    Kind,
    LeasePolicy,
    RecordBreach,
    ReportIncident,
    TakeOverClaim,
    decide,
    fold,
)
from coordination.domain.staff import (
    StaffMember,
    check_may_take,
    check_may_work_on,
    fold_staff,
    on_duty,
)
from coordination.domain.units import Jurisdiction, Level
from coordination.projections import staff_views
from coordination.projections.reads import ReadModels
from coordination.store.eventstore import (
    ConcurrencyConflict,
    EventStore,
    Idempotency,
    Recorded,
    StoredEvent,
)

Clock = Callable[[], datetime]
CLAIM_CANDIDATES = 20  # candidates read per round trip
CLAIM_RETRIES = 3  # a candidate that moved while being claimed is looked at again
ID_ATTEMPTS = 3  # a new incident's random id that is taken already is drawn again


class NotFound(Exception):
    """No such incident, or none that this actor may see."""


class VersionMismatch(Exception):
    """The client expected another version than the incident has (or the log decided a race)."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"incident is at version {actual}, not the expected {expected}")
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class Written:
    """An incident after a write, with the version and log position the write reached."""

    incident: Incident
    history: list[StoredEvent]
    position: int
    replayed: bool = False


class IncidentService:
    def __init__(
        self,
        store: EventStore,
        jurisdiction: Jurisdiction,
        clock: Clock,
        timezone: str = "Asia/Shanghai",
        leases: LeasePolicy | None = None,
        deadlines: DeadlinePolicy | None = None,
        on_append: Callable[[str], None] | None = None,
        reads: ReadModels | None = None,
    ) -> None:
        self.store = store
        self.jurisdiction = jurisdiction
        self.ctx = Context(jurisdiction, leases=leases or LeasePolicy(), deadlines=deadlines)
        self.clock = clock
        self.tz = ZoneInfo(timezone)
        self.on_append = on_append
        self.reads = reads

    def report(
        self, actor: Actor, fields: dict[str, Any], idempotency: Idempotency | None = None
    ) -> Written:
        """Record a new incident and dispatch it to the unit that owns its place."""
        # Keyed always: an append retried after a lost reply must not draw a second id.
        idempotency = idempotency or Idempotency.drawn(actor.subject)
        place_unit = self.jurisdiction.resolve(fields["place"])
        partition = self.jurisdiction.district_of(place_unit.id)
        if replay := self._earlier(partition, idempotency):
            return replay
        try:
            authorize(actor, Action.REPORT, place_unit.id, self.jurisdiction)
        except OutOfScope:
            raise Forbidden(f"{place_unit.id} is outside {actor.unit}", "place") from None
        now = self.clock()
        if fields["kind"] is Kind.NIGHT_EMERGENCY and place_unit.level is Level.COMMUNITY:
            fields = {**fields, "on_duty": self._on_duty(partition, place_unit.id, now)}
        for attempt in range(ID_ATTEMPTS):
            command = ReportIncident(incident_id=self._new_id(partition, now), **fields)
            try:
                return self._write(partition, Incident(), [], command, actor, now, idempotency)
            except VersionMismatch:
                if attempt == ID_ATTEMPTS - 1:
                    raise  # a new id taken again and again: something else is wrong
        raise AssertionError("unreachable")

    def execute(
        self,
        actor: Actor,
        incident_id: str,
        action: Action,
        command: Command,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
        check: Callable[[Incident], None] | None = None,
    ) -> Written:
        """Carry out one command on an existing incident (``check`` may refuse it first)."""
        partition = self.partition_of(incident_id)
        if replay := self._earlier(partition, idempotency):
            return replay
        try:
            state, history = self.load(actor, incident_id)
            authorize(actor, action, state.unit, self.jurisdiction)
            if check is not None:
                check(state)
            if expected_version is not None and expected_version != state.version:
                raise VersionMismatch(expected_version, state.version)
            return self._write(partition, state, history, command, actor, self.clock(), idempotency)
        except (DomainError, VersionMismatch):
            # A retry that overlapped its first attempt finds the incident already changed
            # by that attempt: it gets the first result, like any later retry.
            if replay := self._earlier(partition, idempotency):
                return replay
            raise

    def claim(
        self,
        actor: Actor,
        incident_id: str,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
        take_over: bool = False,
        member: StaffMember | None = None,
    ) -> Written:
        """Claim an order (or take a quarantine visit over) as the registered staff member the
        actor is; risky work only for those trained for it."""
        member = member or self.staff_member(actor)
        command = TakeOverClaim(actor.subject) if take_over else ClaimIncident(actor.subject)
        return self.execute(
            actor,
            incident_id,
            Action.CLAIM,
            command,
            expected_version,
            idempotency,
            check=lambda state: check_may_work_on(member, state),
        )

    def staff_member(self, actor: Actor) -> StaffMember | None:
        """The staff member an actor is, from the log (not a projection that may lag)."""
        partition = self.jurisdiction.district_of(actor.unit)
        history = self.store.read_stream(partition, staff_views.stream_of(actor.subject))
        return fold_staff(e.event for e in history) if history else None

    def watch_deadlines(self, partition: str) -> int:
        """Record each deadline that has passed, and escalate it one level up; how many.

        Safe to run twice or from two watchers: the domain refuses a breach already recorded,
        and the log decides between two that race.
        """
        if self.reads is None:
            raise RuntimeError("watch_deadlines needs the read models")
        watcher = Actor(subject="system:deadline-watch", role=Role.ADMIN, unit=partition)
        breached = 0
        for incident_id, deadline in self.reads.due_deadlines(partition, self.clock()):
            try:
                self.execute(watcher, incident_id, Action.RECORD_BREACH, RecordBreach(deadline))
            except (DomainError, VersionMismatch, NotFound):
                continue
            breached += 1
        return breached

    def _on_duty(self, partition: str, unit: str, now: datetime) -> tuple[str, ...]:
        if self.reads is None:
            raise RuntimeError("a night emergency needs the duty roster")
        return tuple(m.id for m in on_duty(self.reads.staff(partition, unit), unit, now))

    def claim_next(
        self,
        actor: Actor,
        unit: str,
        kind: Kind | None = None,
        min_position: int | None = None,
    ) -> Written | None:
        """Claim the most urgent claimable order of ``unit``; None only if the projection, at
        ``min_position`` or later, holds none that this person may take.

        The claimable set is a projection and may lag: candidates whose stream has moved
        since they were projected (most likely claimed by someone else a moment ago) are tried
        last, and the log refuses any that is no longer claimable.
        """
        if self.reads is None:
            raise RuntimeError("claim_next needs the read models")
        authorize(actor, Action.CLAIM, unit, self.jurisdiction)
        partition = self.jurisdiction.district_of(unit)
        member = self.staff_member(actor)
        check_may_take(member, Kind.WORK_ORDER)  # a registered, active member at all
        gen, _ = self.reads.snapshot(partition, min_position)
        stale: list[str] = []
        cursor: tuple[float, str] | None = None
        while True:
            page, cursor = self.reads.claimable(partition, unit, cursor, CLAIM_CANDIDATES, gen)
            if cursor is None:
                break
            wanted = [v for v in page if kind in (None, v.incident.kind)]
            versions = self.store.versions(partition, [v.incident.id for v in wanted])
            for view, version in zip(wanted, versions, strict=True):
                if version != view.incident.version:
                    stale.append(view.incident.id)
                elif (claimed := self._try_claim(actor, view.incident.id, member)) is not None:
                    return claimed
        for incident_id in stale:
            if (claimed := self._try_claim(actor, incident_id, member)) is not None:
                return claimed
        return None

    def _try_claim(
        self, actor: Actor, incident_id: str, member: StaffMember | None
    ) -> Written | None:
        """Claim one candidate; None if it is no longer claimable or not for this person."""
        for _ in range(CLAIM_RETRIES):
            try:
                # Keyed, so that an append retried after a lost reply is not a lost race.
                keyed = Idempotency.drawn(actor.subject)
                return self.claim(actor, incident_id, idempotency=keyed, member=member)
            except VersionMismatch:
                continue  # it moved between reading and appending: look at it again
            except (Conflict, InvalidTransition, NotFound, NotAllowed):
                return None  # claimed by someone else, or risky work this person may not take
        return None

    def expire_leases(self, partition: str) -> int:
        """Return to their queues the claims whose lease ran out; how many were returned.

        Safe to run twice or from two watchers: the domain refuses to expire a claim that is
        gone, renewed, or not yet due, and the log decides between two that race.
        """
        if self.reads is None:
            raise RuntimeError("expire_leases needs the read models")
        watcher = Actor(subject="system:lease-watch", role=Role.ADMIN, unit=partition)
        expired = 0
        for view in self.reads.due_leases(partition, self.clock()):
            command = ExpireClaim(holder=view.incident.holder)
            try:
                self.execute(watcher, view.incident.id, Action.RELEASE, command)
            except (DomainError, VersionMismatch, NotFound):
                continue
            expired += 1
        return expired

    def load(self, actor: Actor, incident_id: str) -> tuple[Incident, list[StoredEvent]]:
        """The incident as its events fold, if the actor may see it."""
        history = self.store.read_stream(self.partition_of(incident_id), incident_id)
        state = fold(e.event for e in history)
        if not history or not self.jurisdiction.within(state.unit, actor.unit):
            raise NotFound(incident_id)
        return state, history

    def partition_of(self, incident_id: str) -> str:
        district = incident_id.rsplit("-", 2)[0]
        if district not in self.jurisdiction or incident_id.count("-") < 2:
            raise NotFound(incident_id)
        return district

    def _write(
        self,
        partition: str,
        state: Incident,
        history: list[StoredEvent],
        command: Command,
        actor: Actor,
        now: datetime,
        idempotency: Idempotency | None,
    ) -> Written:
        events = decide(state, command, replace(self.ctx, now=now))
        stream_id = getattr(command, "incident_id", state.id)
        recorded = append(
            self.store, self.on_append, partition, stream_id, state.version, events, actor, now,
            idempotency,
        )  # fmt: skip
        if recorded.duplicate:
            return self._replay(partition, idempotency)  # type: ignore[arg-type,return-value]
        history = history + list(recorded.events)
        return Written(fold(e.event for e in history), history, recorded.position)

    def _earlier(self, partition: str, idempotency: Idempotency | None) -> Written | None:
        """The first result under the client's idempotency key, if it sent one that was used."""
        if idempotency is None or idempotency.fresh:
            return None
        return self._replay(partition, idempotency)

    def _replay(self, partition: str, idempotency: Idempotency) -> Written | None:
        if (found := self.store.replay(partition, idempotency)) is None:
            return None
        recorded, history = found
        return Written(fold(e.event for e in history), history, recorded.position, replayed=True)

    def _new_id(self, partition: str, now: datetime) -> str:
        return f"{partition}-{now.astimezone(self.tz):%Y%m%d}-{secrets.token_hex(6)}"


def append(
    store: EventStore,
    on_append: Callable[[str], None] | None,
    partition: str,
    stream_id: str,
    expected_version: int,
    events: list[Any],
    actor: Actor,
    now: datetime,
    idempotency: Idempotency | None,
) -> Recorded:
    """Append a command's events at the version it was decided on, and start a catch-up of
    the partition if none is pending; a lost race is a VersionMismatch."""
    try:
        recorded = store.append(
            partition,
            stream_id,
            expected_version,
            events,
            actor=actor.subject,
            now=now,
            idempotency=idempotency,
        )
    except ConcurrencyConflict as conflict:
        raise VersionMismatch(conflict.expected, conflict.actual) from None
    if recorded.triggered and on_append is not None:
        on_append(partition)
    return recorded
