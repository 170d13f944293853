"""The handlers that read projections to find their work: the deadline watch, lease expiry and
claim-next. Each reads candidates from a projection that may lag, then lets the log decide:
the domain refuses what is no longer due or claimable, so two watchers never act twice."""

from __future__ import annotations

from coordination.domain.access import Actor, Role, authorize_command
from coordination.domain.commands import ClaimIncident, ExpireClaim, RecordBreach
from coordination.domain.errors import Conflict, DomainError, InvalidTransition, NotAllowed
from coordination.domain.staff import StaffMember, check_may_take
from coordination.domain.values import Kind
from coordination.handlers.base import NotFound, VersionMismatch
from coordination.handlers.incidents import IncidentHandler, Written
from coordination.metrics import instruments
from coordination.projections.reads import ReadModels
from coordination.store.eventstore import Idempotency

CLAIM_CANDIDATES = 20  # candidates read per round trip
CLAIM_RETRIES = 3  # a candidate that moved while being claimed is looked at again


class Watchers:
    def __init__(self, incidents: IncidentHandler, reads: ReadModels) -> None:
        self.incidents = incidents
        self.reads = reads

    def watch_deadlines(self, partition: str) -> int:
        """Record each deadline that has passed, and escalate it one level up; how many.

        Safe to run twice or from two watchers: the domain refuses a breach already recorded,
        and the log decides between two that race.
        """
        watcher = Actor(subject="system:deadline-watch", role=Role.ADMIN, unit=partition)
        breached = 0
        now = self.incidents.clock()
        for incident_id, deadline in self.reads.due_deadlines(partition, now):
            try:
                self.incidents.execute(watcher, incident_id, RecordBreach(deadline))
            except (DomainError, VersionMismatch, NotFound):
                continue
            breached += 1
            # Per process: the watch runs in the RQ worker, whose values /metrics cannot see.
            instruments.DEADLINE_BREACHES.labels(partition).inc()
            instruments.ESCALATIONS.labels(partition).inc()  # RecordBreach escalates too
        return breached

    def expire_leases(self, partition: str) -> int:
        """Return to their queues the claims whose lease ran out; how many were returned.

        Safe to run twice or from two watchers: the domain refuses to expire a claim that is
        gone, renewed, or not yet due, and the log decides between two that race.
        """
        watcher = Actor(subject="system:lease-watch", role=Role.ADMIN, unit=partition)
        expired = 0
        for view in self.reads.due_leases(partition, self.incidents.clock()):
            command = ExpireClaim(holder=view.incident.holder)
            try:
                self.incidents.execute(watcher, view.incident.id, command)
            except (DomainError, VersionMismatch, NotFound):
                continue
            expired += 1
        return expired

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
        incidents = self.incidents
        authorize_command(actor, ClaimIncident, unit, incidents.jurisdiction)
        partition = incidents.jurisdiction.district_of(unit)
        member = incidents.staff.member_of(actor)
        check_may_take(member, Kind.WORK_ORDER)  # a registered, active member at all
        gen, _ = self.reads.snapshot(partition, min_position)
        stale: list[str] = []
        cursor: tuple[float, str] | None = None
        while True:
            page, cursor = self.reads.claimable(partition, unit, cursor, CLAIM_CANDIDATES, gen)
            if cursor is None:
                break
            wanted = [v for v in page if kind in (None, v.incident.kind)]
            versions = incidents.store.versions(partition, [v.incident.id for v in wanted])
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
                return self.incidents.claim(actor, incident_id, idempotency=keyed, member=member)
            except VersionMismatch:
                continue  # it moved between reading and appending: look at it again
            except (Conflict, InvalidTransition, NotFound, NotAllowed):
                return None  # claimed by someone else, or risky work this person may not take
        return None
