"""The seeded demo day: a realistic day of 港闻区 (Gangwen) replayed into the log.

``seed_day`` drives one local day (today by default) through the real services, as the
dispatchers, handlers and field staff would, with a clock it moves itself from 00:00, never
past the real now (``until``, by default now): what is due later is left open and listed.

* staff registered per community, some trained for quarantine visits, and a night duty shift
  in every community but one (新港, left uncovered);
* about 100 epidemic orders (supply deliveries, quarantine visits, epidemic tips and
  complaints) and about 40 ordinary work orders, spread over the day; a few returned as not
  ours and re-dispatched to a department; most signed for within hours, handed down, claimed
  by field staff (trained ones for quarantine visits) and resolved with a sign-off;
* night emergencies after 22:00, one of them where nobody is on duty, one claimed late, one at
  a street signed for late;
* return visits: mostly satisfied, a few basically satisfied, two unsatisfied (reopened, done
  again, called back again);
* the deadline watch every five minutes on the demo's own orders, as the scheduler's tick runs
  it; a few evening orders are left unsigned at midnight, breached and escalated at 00:01, and
  signed for (late) and resolved the next morning; the day's unfinished work (ordinary orders
  still being worked on, late-evening and night call-backs) is finished the next day, so a past
  day ends with every order closed;
* supplies (``supplies.py``): the catalogue, and once per data the district's own record of
  donations, 陈桥街道's plea and the transfers that passed them on, dated the days before the
  demo day (2月2日 to 2月6日 for 2月8日); then early each demo day every street is given what its
  communities' deliveries will draw and passes it down (one receipt short, with the reason),
  so that each delivery order reserves and issues real stock; 永和佳苑 posts a plea the day
  leaves unmet (a shortage on the dashboard) and an anonymous resident brings masks. The
  summary says whether the books balance, as the read side has them.

Time only moves forward in a stream, and another day's history never interleaves with live
events: while it writes, the demo holds the scheduler's tick slot, so no live deadline watch or
lease expiry runs (its clock is behind the real one); a past day is refused while a scheduler
runs on the same data (``--isolated`` seeds it into a server of its own), and wherever the
demo's streams (its staff's, the supplies books') already have later events. The summary
counts, per local day, what each day's report counts (its supplies too).

Everything is deterministic for a seed (``random.Random``), except the incidents' random ids.
Every write must succeed: failures are counted and raised at the end. A day that has orders
already (for today: that was seeded already) is refused, so seeding twice does not double it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from redis import Redis

from coordination.bootstrap import build_services, utcnow
from coordination.config import Config
from coordination.devtools.demo.data import DEFAULT_SEED, UNCOVERED
from coordination.devtools.demo.day import DemoClock, DemoDay
from coordination.devtools.demo.errors import (
    DayNotEmpty,
    DemoRefused,
    LaterHistory,
    LiveWatchers,
    SeedFailed,
)
from coordination.devtools.demo.fence import TICK_JOB, TickFence
from coordination.devtools.demo.summary import Summary, compare_with_reports, report_figures
from coordination.devtools.embedded import EmbeddedServer
from coordination.handlers.base import Clock

__all__ = [
    "DEFAULT_SEED",
    "TICK_JOB",
    "UNCOVERED",
    "DayNotEmpty",
    "DemoRefused",
    "LaterHistory",
    "LiveWatchers",
    "SeedFailed",
    "Summary",
    "TickFence",
    "compare_with_reports",
    "report_figures",
    "seed_day",
    "seed_isolated",
]


def seed_day(
    config: Config,
    day: date | None = None,
    seed: int = DEFAULT_SEED,
    redis: Redis | None = None,
    until: time | None = None,
    clock: Clock = utcnow,
) -> Summary:
    """Seed ``day`` (today by default) of the Gangwen district into the log, driven up to
    ``until`` on that day (by default, and at most, the real now: later steps are left open);
    raise DemoRefused if it may not be seeded here and SeedFailed if any write was refused."""
    tz = ZoneInfo(config.timezone)
    now = clock().astimezone(tz)
    day = day or now.date()
    cutoff = min(now, datetime.combine(day, until, tzinfo=tz)) if until else now
    demo_clock = DemoClock(datetime.combine(day, time(0), tzinfo=tz))
    services = build_services(config, redis, clock=demo_clock)
    return DemoDay(services, demo_clock, day, seed, now, cutoff).run()


def seed_isolated(
    config: Config,
    day: date | None = None,
    seed: int = DEFAULT_SEED,
    until: time | None = None,
    clock: Clock = utcnow,
) -> tuple[Summary, Config, list[str]]:
    """Seed ``day`` (today by default) into a server of its own, with its data in
    ``<data dir>/demo-<day>/`` (kept: ``coordination dev`` with ``COORDINATION_DATA_DIR`` set to
    it serves it); the summary, the configuration that reaches that data, and how the day's
    reports compare."""
    day = day or clock().astimezone(ZoneInfo(config.timezone)).date()
    folder = config.data_dir / f"demo-{day.isoformat()}"
    server = EmbeddedServer(folder / "redis", appendfsync="everysec").start()
    try:
        own = replace(config, redis_url=server.url, data_dir=folder)
        summary = seed_day(own, day, seed, until=until, clock=clock)
        return summary, own, compare_with_reports(build_services(own), summary, clock())
    finally:
        server.stop()  # SIGTERM: the server writes its AOF out before it exits
