"""What a decision may consult besides the state: the unit tree, the time, the policies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from coordination.domain.deadlines import DeadlinePolicy, Deadlines
from coordination.domain.units import Jurisdiction, Level
from coordination.domain.values import Kind


@dataclass(frozen=True)
class LeasePolicy:
    """How long a claim holds before it goes back to the queue unless acted on."""

    default: timedelta = timedelta(minutes=30)
    night_emergency: timedelta = timedelta(minutes=10)

    def for_kind(self, kind: Kind | None) -> timedelta:
        return self.night_emergency if kind is Kind.NIGHT_EMERGENCY else self.default


@dataclass(frozen=True)
class Context:
    """What a decision may consult besides the state: the unit tree, the time, the policies."""

    jurisdiction: Jurisdiction
    now: datetime | None = None
    leases: LeasePolicy = field(default_factory=LeasePolicy)
    deadlines: DeadlinePolicy | None = None  # None: orders get no deadlines

    def deadlines_on_dispatch(self, kind: Kind | None, level: Level, epidemic: bool) -> Deadlines:
        if self.deadlines is None:
            return Deadlines()
        night = kind is Kind.NIGHT_EMERGENCY
        return self.deadlines.on_dispatch(self.clock(), level, night, epidemic)

    def deadlines_on_reopen(self, kind: Kind | None, level: Level, epidemic: bool) -> Deadlines:
        if self.deadlines is None:
            return Deadlines()
        night = kind is Kind.NIGHT_EMERGENCY
        return self.deadlines.on_reopen(self.clock(), level, night, epidemic)

    def clock(self) -> datetime:
        if self.now is None or self.now.tzinfo is None:
            raise ValueError("this decision needs a timezone-aware 'now' in its context")
        return self.now
