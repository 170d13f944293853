"""The domain's errors: each names what was wrong."""

from __future__ import annotations

from datetime import datetime


class DomainError(Exception):
    """A command that cannot be carried out in the current state."""

    field: str = "state"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field


class UnknownPlace(DomainError):
    def __init__(self, place: str, field: str = "place") -> None:
        super().__init__(f"unknown place or unit: {place!r}", field=field)
        self.place = place


class InvalidTransition(DomainError):
    def __init__(self, command: str, state: str) -> None:
        super().__init__(f"cannot {command} an incident that is {state}")
        self.command = command
        self.state = state


class NotAllowed(DomainError):
    """The actor may not do this to this incident (someone else holds it, say)."""


class Conflict(DomainError):
    """The command lost a race that the log decided: someone else got there first."""


class AlreadyClaimed(Conflict):
    def __init__(self, holder: str) -> None:
        super().__init__(f"already claimed by {holder}", field="holder")
        self.holder = holder


class TimeWentBackwards(Conflict):
    """An event dated before its stream's last event: time only moves forward in a stream.

    A conflict (409), not an invalid request: the stream's state refuses this write's time
    (another clock wrote later), and a retry once the writer's clock has passed it succeeds.
    """

    def __init__(self, stream: str, at: datetime, last: datetime) -> None:
        super().__init__(
            f"{stream} has an event dated {last.isoformat()}, after this write's time "
            f"{at.isoformat()}: time only moves forward in a stream",
            field="time",
        )
        self.stream = stream
        self.at = at
        self.last = last
