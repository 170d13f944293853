"""Why the demo refuses a day, or fails one."""

from __future__ import annotations


class DemoRefused(Exception):
    """The demo will not seed this day into this data; the message says why, and what to do."""


class DayNotEmpty(DemoRefused):
    """The day has orders in the log already (or was seeded): seeding it would double it."""


class LiveWatchers(DemoRefused):
    """A past day, while a scheduler's live deadline watch and lease expiry run on the data."""


class LaterHistory(DemoRefused):
    """The demo's streams (its staff) have events after the day's start: it would interleave."""


class SeedFailed(Exception):
    """Some writes of the demo day were refused."""

    def __init__(self, failures: list[str]) -> None:
        super().__init__(f"{len(failures)} writes failed: " + "; ".join(failures[:5]))
        self.failures = failures
