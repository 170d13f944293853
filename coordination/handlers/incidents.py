"""The incident handler: report an order (routed to the unit that owns its place), carry out the
commands of its life, and claim it as a registered staff member."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from coordination.domain.access import Actor, Forbidden, OutOfScope, authorize_command
from coordination.domain.commands import ClaimIncident, Command, ReportIncident, TakeOverClaim
from coordination.domain.context import Context, LeasePolicy
from coordination.domain.deadlines import DeadlinePolicy
from coordination.domain.incident import Incident, decide, fold
from coordination.domain.staff import StaffMember, check_may_work_on, on_duty
from coordination.domain.units import Jurisdiction, Level
from coordination.domain.values import Kind
from coordination.handlers import base
from coordination.handlers.base import Clock, Handler, NotFound, VersionMismatch, check_version
from coordination.handlers.staff import StaffHandler
from coordination.handlers.supplies import SupplyHandler
from coordination.store.eventstore import EventStore, Idempotency, StoredEvent

ID_ATTEMPTS = 3  # a new incident's random id that is taken already is drawn again


@dataclass(frozen=True)
class Written(base.Written[Incident]):
    """An incident after a write, with the version and log position the write reached."""

    @property
    def incident(self) -> Incident:
        return self.state


class Roster(Protocol):
    """The duty roster a night emergency consults: a unit's staff members, as projected."""

    def staff(self, partition: str, unit: str) -> list[StaffMember]: ...


class IncidentHandler(Handler[Incident, Written]):
    def __init__(
        self,
        store: EventStore,
        jurisdiction: Jurisdiction,
        clock: Clock,
        staff: StaffHandler,
        roster: Roster,
        supplies: SupplyHandler,
        timezone: str = "Asia/Shanghai",
        leases: LeasePolicy | None = None,
        deadlines: DeadlinePolicy | None = None,
        on_append: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(store, jurisdiction, clock, on_append)
        self.ctx = Context(jurisdiction, leases=leases or LeasePolicy(), deadlines=deadlines)
        self.staff = staff
        self.roster = roster
        self.supplies = supplies
        self.tz = ZoneInfo(timezone)

    def fold(self, events: Iterable[Any]) -> Incident:
        return fold(events)

    def written(
        self, state: Incident, history: list[StoredEvent], position: int, replayed: bool = False
    ) -> Written:
        return Written(state, history, position, replayed)

    def report(
        self, actor: Actor, fields: dict[str, Any], idempotency: Idempotency | None = None
    ) -> Written:
        """Record a new incident and dispatch it to the unit that owns its place."""
        # Keyed always: an append retried after a lost reply must not draw a second id.
        idempotency = idempotency or Idempotency.drawn(actor.subject)
        place_unit = self.jurisdiction.resolve(fields["place"])
        partition = self.jurisdiction.district_of(place_unit.id, "place")

        def attempt() -> Written:
            try:
                authorize_command(actor, ReportIncident, place_unit.id, self.jurisdiction)
            except OutOfScope:
                raise Forbidden(f"{place_unit.id} is outside {actor.unit}", "place") from None
            now = self.clock()
            found = dict(fields)
            if found.get("items"):
                # Items come from the catalogue, counted in the catalogue's own units.
                catalogue = self.supplies.catalogue.current(partition)
                catalogue.check(found["items"])
                found["items"] = tuple(
                    replace(i, measure=catalogue.unit_of(i.item)) for i in found["items"]
                )
            if found["kind"] is Kind.NIGHT_EMERGENCY and place_unit.level is Level.COMMUNITY:
                members = self.roster.staff(partition, place_unit.id)
                found["on_duty"] = tuple(m.id for m in on_duty(members, place_unit.id, now))
            for attempt in range(ID_ATTEMPTS):
                command = ReportIncident(incident_id=self._new_id(partition, now), **found)
                try:
                    return self._decide(partition, Incident(), [], command, actor, now, idempotency)
                except VersionMismatch:
                    if attempt == ID_ATTEMPTS - 1:
                        raise  # a new id taken again and again: something else is wrong
            raise AssertionError("unreachable")

        return self.keyed(partition, idempotency, attempt)

    def execute(
        self,
        actor: Actor,
        incident_id: str,
        command: Command,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
        check: Callable[[Incident], None] | None = None,
    ) -> Written:
        """Carry out one command on an existing incident (``check`` may refuse it first)."""
        partition = self.partition_of(incident_id)

        def attempt() -> Written:
            state, history = self.load(actor, incident_id)
            authorize_command(actor, type(command), state.unit, self.jurisdiction)
            if check is not None:
                check(state)
            check_version(expected_version, state.version)
            now = self.clock()
            return self._decide(partition, state, history, command, actor, now, idempotency)

        return self.keyed(partition, idempotency, attempt)

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
        member = member or self.staff.member_of(actor)
        command = TakeOverClaim(actor.subject) if take_over else ClaimIncident(actor.subject)
        return self.execute(
            actor,
            incident_id,
            command,
            expected_version,
            idempotency,
            check=lambda state: check_may_work_on(member, state),
        )

    def load(self, actor: Actor, incident_id: str) -> tuple[Incident, list[StoredEvent]]:
        """The incident as its events fold, if the actor may see it."""
        state, history = self.read(self.partition_of(incident_id), incident_id)
        if not history or not self.jurisdiction.within(state.unit, actor.unit):
            raise NotFound(incident_id)
        return state, history

    def partition_of(self, incident_id: str) -> str:
        district = incident_id.rsplit("-", 2)[0]
        if district not in self.jurisdiction or incident_id.count("-") < 2:
            raise NotFound(incident_id)
        return district

    def _decide(
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
        stream = getattr(command, "incident_id", state.id)
        # A delivery order reserves, releases and issues its supplies in the same append.
        also = self.supplies.draws(partition, state, fold(events, state), events)
        return self.commit(
            partition, stream, state.version, history, events, actor, now, idempotency, also
        )

    def _new_id(self, partition: str, now: datetime) -> str:
        return f"{partition}-{now.astimezone(self.tz):%Y%m%d}-{secrets.token_hex(6)}"
