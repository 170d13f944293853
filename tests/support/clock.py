"""The one test clock of every tier: an aware time that only the test moves.

A plain module on pytest's ``pythonpath`` (``tests/support``, see pyproject.toml), so that unit,
integration and end-to-end tests all import it by name: ``from clock import Clock``.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Where a clock starts unless told: noon of 2020-02-08, Beijing time.
START = datetime(2020, 2, 8, 12, 0, tzinfo=SHANGHAI)


class Clock:
    """A clock the test moves by hand: set ``now``, or ``advance(minutes=5)``.

    Calling it returns the current time, so the clock itself is what the application is given
    (``create_app(clock=clock)``, ``build_services(..., clock=clock)``). With a ``tick`` each
    call first moves it on by that much (every read a moment of its own, in order); reading
    ``now`` never moves it. Times are timezone-aware, always; the clock is safe to read and
    move from several threads.
    """

    def __init__(self, now: datetime = START, *, tick: timedelta = timedelta(0)) -> None:
        self._lock = threading.Lock()
        self._now = _aware(now)
        self.tick = tick

    @property
    def now(self) -> datetime:
        with self._lock:
            return self._now

    @now.setter
    def now(self, moment: datetime) -> None:
        moment = _aware(moment)
        with self._lock:
            self._now = moment

    def __call__(self) -> datetime:
        with self._lock:
            self._now += self.tick
            return self._now

    def advance(self, **delta: float) -> datetime:
        """Move on by ``timedelta(**delta)``; the new time."""
        step = timedelta(**delta)
        with self._lock:
            self._now += step
            return self._now

    def __repr__(self) -> str:
        tick = f", tick={self.tick!r}" if self.tick else ""
        return f"Clock({self.now.isoformat()}{tick})"


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a test clock keeps aware times only, not {moment!r}")
    return moment
