"""The deadlines of an order: when it must be signed for, claimed and resolved.

They are computed once, when the order is dispatched (or reopened), and carried in that event,
so that a replay never computes them differently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from coordination.domain.calendar import Due, WorkingCalendar, add_working_days, same_day
from coordination.domain.units import Level


class DeadlineKind(StrEnum):
    SIGN = "sign_by"
    CLAIM = "claim_by"
    RESOLVE = "resolve_by"


@dataclass(frozen=True)
class Deadlines:
    sign_by: datetime | None = None
    claim_by: datetime | None = None
    resolve_by: datetime | None = None
    fallback: bool = False  # computed from weekends alone: the calendar lacks that year

    def get(self, kind: DeadlineKind) -> datetime | None:
        due: datetime | None = getattr(self, kind.value)
        return due


@dataclass(frozen=True)
class DeadlinePolicy:
    """The rules, with the defaults of the 12345 hotline's work during an outbreak."""

    sign_working_days: int = 1  # sign for within one working day of dispatch
    resolve_working_days: int = 5  # ordinary orders: resolved within five working days
    night_claim: timedelta = timedelta(minutes=15)  # night emergencies: claimed in minutes
    night_resolve: timedelta = timedelta(hours=2)
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)

    def on_dispatch(self, now: datetime, level: Level, night: bool, epidemic: bool) -> Deadlines:
        """The deadlines an order gets when it reaches a unit of ``level`` at ``now``."""
        if night:
            quick = None if level is Level.COMMUNITY else now + self.night_claim
            return Deadlines(
                sign_by=quick, claim_by=now + self.night_claim, resolve_by=now + self.night_resolve
            )
        resolve = self._resolve(now, epidemic)
        if level is Level.COMMUNITY:
            return Deadlines(resolve_by=resolve.at, fallback=resolve.fallback)
        sign = add_working_days(self.calendar, now, self.sign_working_days)
        return Deadlines(
            sign_by=min(sign.at, resolve.at),  # an epidemic order is signed for the same day
            resolve_by=resolve.at,
            fallback=sign.fallback or resolve.fallback,
        )

    def on_reopen(self, now: datetime, level: Level, night: bool, epidemic: bool) -> Deadlines:
        """A reopened order is resolved again on a fresh clock (and, back in a community's
        queue, a night emergency is claimed again in minutes)."""
        if night:
            claim = now + self.night_claim if level is Level.COMMUNITY else None
            return Deadlines(claim_by=claim, resolve_by=now + self.night_resolve)
        resolve = self._resolve(now, epidemic)
        return Deadlines(resolve_by=resolve.at, fallback=resolve.fallback)

    def _resolve(self, now: datetime, epidemic: bool) -> Due:
        if epidemic:
            return same_day(self.calendar, now)  # 疫情工单不过夜
        return add_working_days(self.calendar, now, self.resolve_working_days)
