"""Command handlers for staff members and their duty shifts: the same shape as incidents'."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from coordination.domain.access import Action, Actor, authorize
from coordination.domain.errors import DomainError
from coordination.domain.incident import Context
from coordination.domain.staff import (
    RegisterStaff,
    StaffCommand,
    StaffMember,
    decide_staff,
    fold_staff,
)
from coordination.domain.units import Jurisdiction
from coordination.projections.staff_views import stream_of
from coordination.service import Clock, NotFound, VersionMismatch, append
from coordination.store.eventstore import EventStore, Idempotency, StoredEvent


@dataclass(frozen=True)
class StaffWritten:
    member: StaffMember
    history: list[StoredEvent]
    position: int
    replayed: bool = False


class StaffService:
    def __init__(
        self,
        store: EventStore,
        jurisdiction: Jurisdiction,
        clock: Clock,
        on_append: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.jurisdiction = jurisdiction
        self.clock = clock
        self.on_append = on_append

    def register(
        self, actor: Actor, fields: dict[str, Any], idempotency: Idempotency | None = None
    ) -> StaffWritten:
        """Register a staff member of a unit within the actor's subtree."""
        unit = self.jurisdiction.get(fields["unit"], "unit")
        authorize(actor, Action.MANAGE_STAFF, unit.id, self.jurisdiction)
        command = RegisterStaff(**fields)
        return self._run(actor, command.staff_id, command, None, idempotency, unit.id)

    def execute(
        self,
        actor: Actor,
        staff_id: str,
        command: StaffCommand,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> StaffWritten:
        """Change a member's profile or roster."""
        return self._run(actor, staff_id, command, expected_version, idempotency, None)

    def load(self, actor: Actor, staff_id: str) -> tuple[StaffMember, list[StoredEvent]]:
        """A member as their events fold, if within the actor's subtree."""
        history = self.store.read_stream(self.partition(actor), stream_of(staff_id))
        member = fold_staff(e.event for e in history)
        if not history or not self.jurisdiction.within(member.unit, actor.unit):
            raise NotFound(staff_id)
        return member, history

    def partition(self, actor: Actor) -> str:
        """Staff live in the partition of the district whose handlers manage them."""
        return self.jurisdiction.district_of(actor.unit)

    def _run(
        self,
        actor: Actor,
        staff_id: str,
        command: StaffCommand,
        expected_version: int | None,
        idempotency: Idempotency | None,
        new_unit: str | None,
    ) -> StaffWritten:
        partition = self.partition(actor)
        if (
            idempotency
            and not idempotency.fresh
            and (replay := self._replay(partition, idempotency))
        ):
            return replay
        try:
            if new_unit is None:
                member, history = self.load(actor, staff_id)
                authorize(actor, Action.MANAGE_STAFF, member.unit, self.jurisdiction)
                moving_to = getattr(command, "unit", member.unit)
                authorize(actor, Action.MANAGE_STAFF, moving_to, self.jurisdiction)
            else:
                member, history = StaffMember(), []
            if expected_version is not None and expected_version != member.version:
                raise VersionMismatch(expected_version, member.version)
            now = self.clock()
            events = decide_staff(member, command, Context(self.jurisdiction, now=now))
            if not events:
                return StaffWritten(member, history, history[-1].position if history else 0)
            recorded = append(
                self.store, self.on_append, partition, stream_of(staff_id), member.version,
                events, actor, now, idempotency,
            )  # fmt: skip
        except (DomainError, VersionMismatch):
            if (
                idempotency
                and not idempotency.fresh
                and (replay := self._replay(partition, idempotency))
            ):
                return replay
            raise
        if recorded.duplicate:
            return self._replay(partition, idempotency)  # type: ignore[arg-type,return-value]
        history = history + list(recorded.events)
        return StaffWritten(fold_staff(e.event for e in history), history, recorded.position)

    def _replay(self, partition: str, idempotency: Idempotency) -> StaffWritten | None:
        if (found := self.store.replay(partition, idempotency)) is None:
            return None
        recorded, history = found
        member = fold_staff(e.event for e in history)
        return StaffWritten(member, history, recorded.position, replayed=True)
