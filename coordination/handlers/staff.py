"""The staff handler: register members, change their profile, deactivate them, keep their duty
roster; and find the member an actor is, from the log."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from coordination.domain.access import Actor, authorize_command
from coordination.domain.commands import RegisterStaff, StaffCommand
from coordination.domain.context import Context
from coordination.domain.staff import StaffMember, decide_staff, fold_staff, stream_of
from coordination.handlers import base
from coordination.handlers.base import Handler, NotFound, check_version
from coordination.store.eventstore import Idempotency, StoredEvent


@dataclass(frozen=True)
class StaffWritten(base.Written[StaffMember]):
    """A staff member after a write, with the version and log position the write reached."""

    @property
    def member(self) -> StaffMember:
        return self.state


class StaffHandler(Handler[StaffMember, StaffWritten]):
    def fold(self, events: Iterable[Any]) -> StaffMember:
        return fold_staff(events)

    def written(
        self,
        state: StaffMember,
        history: list[StoredEvent],
        position: int,
        replayed: bool = False,
    ) -> StaffWritten:
        return StaffWritten(state, history, position, replayed)

    def register(
        self, actor: Actor, fields: dict[str, Any], idempotency: Idempotency | None = None
    ) -> StaffWritten:
        """Register a staff member of a unit within the actor's subtree."""
        unit = self.jurisdiction.get(fields["unit"], "unit")
        authorize_command(actor, RegisterStaff, unit.id, self.jurisdiction)
        command = RegisterStaff(**fields)
        return self._run(actor, command.staff_id, command, None, idempotency, new=True)

    def execute(
        self,
        actor: Actor,
        staff_id: str,
        command: StaffCommand,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> StaffWritten:
        """Change a member's profile or roster."""
        return self._run(actor, staff_id, command, expected_version, idempotency, new=False)

    def load(self, actor: Actor, staff_id: str) -> tuple[StaffMember, list[StoredEvent]]:
        """A member as their events fold, if within the actor's subtree."""
        member, history = self.read(self.partition(actor), stream_of(staff_id))
        if not history or not self.jurisdiction.within(member.unit, actor.unit):
            raise NotFound(staff_id)
        return member, history

    def member_of(self, actor: Actor) -> StaffMember | None:
        """The staff member an actor is, from the log (not a projection that may lag)."""
        member, history = self.read(self.partition(actor), stream_of(actor.subject))
        return member if history else None

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
        new: bool,
    ) -> StaffWritten:
        partition = self.partition(actor)

        def attempt() -> StaffWritten:
            if new:
                member, history = StaffMember(), []
            else:
                member, history = self.load(actor, staff_id)
                authorize_command(actor, type(command), member.unit, self.jurisdiction)
                moving_to = getattr(command, "unit", member.unit)
                authorize_command(actor, type(command), moving_to, self.jurisdiction)
            check_version(expected_version, member.version)
            now = self.clock()
            events = decide_staff(member, command, Context(self.jurisdiction, now=now))
            if not events:
                return StaffWritten(member, history, history[-1].position if history else 0)
            return self.commit(
                partition, stream_of(staff_id), member.version, history, events, actor, now,
                idempotency,
            )  # fmt: skip

        return self.keyed(partition, idempotency, attempt)
