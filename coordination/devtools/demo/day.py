"""One demo day driven through the real services: its staff, its orders, each order's script
and the demo's own deadline watch."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any

from coordination.bootstrap import Services, utcnow
from coordination.devtools.demo.data import (
    COMMUNITIES,
    DISTRICT,
    RETURN_REASONS,
    STAFF_PER_COMMUNITY,
    SURNAMES,
    TICK,
    UNCOVERED,
)
from coordination.devtools.demo.draw import DayDraw, Order
from coordination.devtools.demo.errors import (
    DayNotEmpty,
    DemoRefused,
    LaterHistory,
    LiveWatchers,
    SeedFailed,
)
from coordination.devtools.demo.fence import TickFence
from coordination.devtools.demo.summary import Summary
from coordination.devtools.demo.supplies import DemoSupplies
from coordination.domain.access import Actor, Role
from coordination.domain.commands import (
    DispatchIncident,
    HandDown,
    RecordBreach,
    RecordReturnVisit,
    ResolveIncident,
    ReturnIncident,
    ScheduleShift,
    SignFor,
)
from coordination.domain.errors import DomainError
from coordination.domain.events import DeadlineBreached, IncidentEscalated
from coordination.domain.staff import stream_of
from coordination.domain.units import Level
from coordination.domain.values import (
    Kind,
    Satisfaction,
    StaffKind,
)
from coordination.handlers.base import NotFound, VersionMismatch
from coordination.handlers.incidents import Written
from coordination.projections.reads import NotYetVisible
from coordination.store import keys

WATCHER = Actor("system:deadline-watch", Role.ADMIN, DISTRICT)


class DemoClock:
    """The services' clock: only the demo moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class DemoDay(DayDraw, DemoSupplies):
    def __init__(
        self,
        services: Services,
        clock: DemoClock,
        day: date,
        seed: int,
        now: datetime | None = None,
        cutoff: datetime | None = None,
    ) -> None:
        if DISTRICT not in services.partitions:
            raise ValueError(f"the demo day is of the {DISTRICT} district, not configured here")
        self.services = services
        self.clock = clock
        self.day = day
        self.rng = random.Random(seed)
        self.tz = services.calendar.tz
        self.start = datetime.combine(day, time(0), tzinfo=self.tz)
        self.midnight = self.start + timedelta(days=1)
        self.now = now or utcnow().astimezone(self.tz)  # the real clock's, when it began
        self.cutoff = cutoff or self.now
        self.summary = Summary(day, cutoff=self.cutoff)
        self.dispatchers = [
            Actor(f"demo-dispatcher-{n}", Role.DISPATCHER, DISTRICT) for n in (1, 2)
        ]
        self.staff: dict[str, list[tuple[str, bool]]] = {}  # community -> [(staff id, trained)]
        self.on_duty: dict[str, str] = {}  # community -> staff id on night duty
        self.names: set[str] = set()
        self.steps: list[tuple[datetime, int, Callable[[], None], Order | None, str]] = []
        self.seq = itertools.count()
        self.orders: dict[str, Order] = {}  # by incident id: the demo's own

    # --- the run ----------------------------------------------------------------------------

    def run(self) -> Summary:
        self._refuse()
        with TickFence(self.services.rq, self.services.config.queue) as fence:
            self._refuse_if_seeded()
            self._seed_story()
            self._register_staff()
            orders = self._orders()
            self._schedule_supplies(orders)
            for order in orders:
                self._script(order)
            self._schedule_watch()
            while self.steps and self.steps[0][0] <= self.cutoff:
                moment, _, step, _, _ = heapq.heappop(self.steps)
                self.clock.now = max(self.clock.now, moment)
                step()
                fence.renew()
            self._list_open()
            self._settle()
            self._check_books()
        self.services.redis.set(keys.demo_day(DISTRICT, self.day.isoformat()), "seeded")
        if self.summary.failures:
            raise SeedFailed(self.summary.failures)
        return self.summary

    def _refuse(self) -> None:
        """A day not yet begun; a past day while live watchers run on this data, or whose
        staff have later events here: each would put history out of order."""
        if self.day > self.now.date():
            raise DemoRefused(f"{self.day} has not begun")
        if self.day < self.now.date() and self.services.rq.exists(keys.scheduler_heartbeat()):
            raise LiveWatchers(
                f"{self.day} is a past day and live watchers run on this data (a scheduler's "
                "heartbeat: `coordination dev`?): their deadline watch would date today's "
                "events into its orders. Seed it into its own data with --isolated, or seed "
                "today (no --day), or stop the scheduler first"
            )
        for community in COMMUNITIES:
            for n in range(1, STAFF_PER_COMMUNITY.get(community, 3) + 1):
                staff_id = f"demo-{community.rsplit('/', 1)[-1]}-{n}"
                last = self.services.store.read_stream(DISTRICT, stream_of(staff_id))[-1:]
                if last and last[0].time > self.start:
                    raise LaterHistory(
                        f"the demo's staff member {staff_id} has events up to "
                        f"{last[0].time.astimezone(self.tz):%Y-%m-%d %H:%M}, after {self.day} "
                        "began: seed it into its own data with --isolated"
                    )

    def _refuse_if_seeded(self) -> None:
        """A day with orders already, or seeded; then the supplies' plan and its refusals,
        before the day's marker is set (a refused day leaves none)."""
        self._settle()
        if self.day < self.now.date():  # today lives alongside live use: its orders are fine
            counts = self.services.reads.day_counts(DISTRICT, self.day.isoformat())
            reported = sum(n for name, n in counts.items() if name.endswith("|reported"))
            if reported:
                raise DayNotEmpty(f"{self.day} has {reported} orders in the log already")
        marker = keys.demo_day(DISTRICT, self.day.isoformat())
        if self.services.redis.exists(marker):
            raise DayNotEmpty(f"{self.day} has been seeded already (or is being seeded)")
        self._plan_supplies()
        if not self.services.redis.set(marker, "seeding", nx=True):
            raise DayNotEmpty(f"{self.day} has been seeded already (or is being seeded)")

    def _schedule_watch(self) -> None:
        """The deadline watch every five minutes of the day, at 00:01 for the carried-over
        breaches, then every half hour while the next day's work goes on."""
        tick = self.start + TICK
        while tick < self.midnight:
            self._at(tick, self._watch)
            tick += TICK
        tick = self.midnight + timedelta(minutes=1)
        last = max((moment for moment, *_ in self.steps), default=tick)
        while tick <= last:
            self._at(tick, self._watch)
            tick += timedelta(minutes=30)

    def _list_open(self) -> None:
        """The orders whose script goes on after the cutoff: open, and what was next."""
        waiting: dict[str, tuple[datetime, str]] = {}
        for moment, _, _, order, what in sorted(self.steps, key=lambda s: (s[0], s[1])):
            if order is not None and order.id and not order.broken:
                waiting.setdefault(order.id, (moment, what))
        for incident_id, (moment, what) in waiting.items():
            incident = self.orders[incident_id].incident
            assert incident is not None and incident.kind is not None
            self.summary.open.append(
                {
                    "id": incident_id,
                    "kind": incident.kind.value,
                    "status": incident.status.value,
                    "unit": incident.unit,
                    "next": what,
                    "at": moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M"),
                }
            )

    def _settle(self) -> None:
        """Bring the projections to the log's head: the watch and the duty roster read them."""
        for _ in range(10):
            self.services.projector.catch_up(DISTRICT)
            try:
                self.services.reads.snapshot(DISTRICT, self.services.store.head(DISTRICT))
                return
            except NotYetVisible:
                continue  # a worker holds the projector's lock: wait for it once more
        self.services.reads.snapshot(DISTRICT, self.services.store.head(DISTRICT))

    def _watch(self) -> None:
        """The deadline watch on the demo's own orders (a live order is the live watch's)."""
        self._settle()
        for incident_id, deadline in self.services.reads.due_deadlines(DISTRICT, self.clock.now):
            order = self.orders.get(incident_id)
            if order is None or order.broken or order.incident is None:
                continue
            version = order.incident.version
            try:
                written = self.services.incidents.execute(
                    WATCHER, incident_id, RecordBreach(deadline)
                )
            except (DomainError, VersionMismatch, NotFound):
                continue  # recorded already, or no longer due: as the live watch skips it
            self.summary.writes += 1
            order.incident = written.incident
            self._count_breaches(written, version)

    def _count_breaches(self, written: Written, version: int) -> None:
        for stored in written.history[version:]:
            if isinstance(stored.event, DeadlineBreached):
                self.summary.breaches += 1
                self.summary.count("breached", stored.time, self.tz)
            elif isinstance(stored.event, IncidentEscalated):
                self.summary.escalations += 1
                self.summary.count("escalated", stored.time, self.tz)

    def _count(self, metric: str) -> None:
        self.summary.count(metric, self.clock.now, self.tz)

    def _timely(self, what: str, due: datetime | None) -> bool:
        """Count a signing or resolution as the report does; whether it was late."""
        if due is None:
            self._count(f"{what}_no_deadline")
            return False
        late = self.clock.now > due
        self._count(f"{what}_late" if late else f"{what}_on_time")
        return late

    def _at(
        self, moment: datetime, step: Callable[[], None], order: Order | None = None, what: str = ""
    ) -> None:
        heapq.heappush(self.steps, (moment, next(self.seq), step, order, what))

    def _write(self, what: str, order: Order | None, action: Callable[[], Any]) -> Any:
        if order is not None and order.broken:
            return None
        try:
            result = action()
        except Exception as exc:  # every write must succeed: count it, say which, go on
            self.summary.failures.append(
                f"{self.clock.now:%H:%M} {what} {order and order.id}: {exc!r}"
            )
            if order is not None:
                order.broken = True
            return None
        self.summary.writes += 1
        if isinstance(result, Written) and order is not None:
            order.incident = result.incident
        return result

    # --- people -----------------------------------------------------------------------------

    def _handler(self, unit: str) -> Actor:
        return Actor(f"demo-handler-{unit.rsplit('/', 1)[-1]}", Role.HANDLER, unit)

    def _officer(self, unit: str) -> str:
        title = {"community": "书记", "street": "主任", "department": "科长"}
        level = self.services.jurisdiction.get(unit).level.value
        surname = SURNAMES[sum(map(ord, unit)) % len(SURNAMES)]
        return f"{self.services.jurisdiction.get(unit).name} {surname}{title.get(level, '主任')}"

    def _register_staff(self) -> None:
        """A few staff per community, the first trained for quarantine visits (two in the big
        estate), and a night shift (18:00 to 08:00) in every community but the uncovered one."""
        night = self.start.replace(hour=18)
        for community in COMMUNITIES:
            street = self.services.jurisdiction.get(community).parent or community
            handler = self._handler(street)
            slug = community.rsplit("/", 1)[-1]
            members = []
            for n in range(1, STAFF_PER_COMMUNITY.get(community, 3) + 1):
                staff_id = f"demo-{slug}-{n}"
                trained = n == 1 or (n == 2 and community.endswith("yonghe"))
                members.append((staff_id, trained))
                actor = Actor(staff_id, Role.FIELD, community)
                if self.services.staff.member_of(actor) is None:
                    fields = {
                        "staff_id": staff_id,
                        "name": self._name(),
                        "unit": community,
                        "kind": StaffKind.CADRE if n == 1 else StaffKind.VOLUNTEER,
                        "party_member": n == 1 or self.rng.random() < 0.5,
                        "quarantine_trained": trained,
                    }
                    register = partial(self.services.staff.register, handler, fields)
                    if self._write("register", None, register):
                        self.summary.staff += 1
            self.staff[community] = members
            if community == UNCOVERED:
                continue
            duty = members[0][0]
            shift = ScheduleShift(f"night-{self.day}", night, night + timedelta(hours=14))
            schedule = partial(self.services.staff.execute, handler, duty, shift)
            if self._write("schedule", None, schedule):
                self.summary.night_shifts += 1
            self.on_duty[community] = duty

    # --- one order's script ---------------------------------------------------------------

    def _minutes(self, least: int, most: int) -> timedelta:
        return timedelta(minutes=self.rng.randint(least, most))

    def _script(self, order: Order) -> None:
        if order.night:
            self._script_night(order)
            return
        visit = order.fields.pop("_visit")
        t = order.reported_at
        self._at(t, lambda: self._report(order), order, "report")
        if order.returned_by:
            t += self._minutes(10, 40)
            self._at(t, lambda: self._return(order), order, "return")
            t += self._minutes(5, 20)
            self._at(t, lambda: self._redispatch(order), order, "dispatch")
        if order.carried_over:
            t = self.midnight + timedelta(hours=8) + self._minutes(0, 50)
            delays = [(5, 20), (15, 60), (10, 25), (30, 120)]
        else:
            opens = self.start + timedelta(hours=7, minutes=30)
            signed_at = max(t, opens) + self._minutes(10, 150)
            t = max(t + timedelta(minutes=5), min(signed_at, self.midnight - timedelta(minutes=75)))
            delays = [(5, 30), (10, 80), (8, 25), (30, 150)]
            # squeeze the day's work into the day: hand down, claim, resolve before 23:30
            room = self.midnight - timedelta(minutes=30) - t
            need = timedelta(minutes=sum(hi for _, hi in delays[:3]))
            if room < need:
                scale = max(room / need, 0.05)
                delays = [(max(1, int(lo * scale)), max(2, int(hi * scale))) for lo, hi in delays]
        self._at(t, lambda: self._sign(order), order, "sign for")
        if order.community:
            t += self._minutes(*delays[0])
            self._at(t, lambda: self._hand_down(order), order, "hand down")
            if order.in_progress:  # still being worked on: done the next day
                t = self.midnight + timedelta(hours=9) + self._minutes(0, 240)
            else:
                t += self._minutes(*delays[1])
            self._at(t, lambda: self._claim(order), order, "claim")
            t += self._minutes(*delays[2])
            self._at(t, lambda: self._resolve(order), order, "resolve")
        else:
            t += self._minutes(delays[1][0] + delays[0][0], delays[1][1] + delays[2][1])
            self._at(t, lambda: self._resolve(order), order, "resolve")
        t += self._minutes(*delays[3])
        if not order.carried_over and self.midnight - timedelta(minutes=20) < t < self.midnight:
            t = self._next_morning()  # resolved late in the evening: called back the next day
        self._at(t, lambda: self._visit(order, visit), order, "return visit")
        if visit is Satisfaction.UNSATISFIED:
            t += self._minutes(20, 60)
            self._at(t, lambda: self._claim(order), order, "claim")
            t += self._minutes(10, 25)
            self._at(t, lambda: self._resolve(order), order, "resolve")
            t += self._minutes(30, 90)
            revisit = partial(self._visit, order, Satisfaction.BASICALLY_SATISFIED)
            self._at(t, revisit, order, "return visit")

    def _next_morning(self) -> datetime:
        return self.midnight + timedelta(hours=9) + self._minutes(0, 120)

    def _script_night(self, order: Order) -> None:
        """After 22:00, minutes count: the one on duty claims and goes; nobody on duty, the
        street sees to it; at a street, the handler signs (late here) and hands it down. The
        return visit is the next morning."""
        visit = order.fields.pop("_visit")
        t = order.reported_at
        self._at(t, lambda: self._report(order, settle=True), order, "report")
        if order.night == "street":
            t += self._minutes(22, 28)  # the sign deadline is 15 minutes: signed late
            self._at(t, lambda: self._sign(order), order, "sign for")
            t += self._minutes(3, 6)
            self._at(t, lambda: self._hand_down(order), order, "hand down")
        if order.night in ("street", "uncovered"):
            t += self._minutes(20, 35)  # the street's duty officer takes it over
            self._at(t, lambda: self._resolve(order, by_handler=True), order, "resolve")
        else:
            late = order.night == "late_claim"
            t += self._minutes(18, 24) if late else self._minutes(4, 9)
            self._at(t, lambda: self._claim(order), order, "claim")
            t += self._minutes(6, 9)  # within the night lease of ten minutes
            self._at(t, lambda: self._resolve(order), order, "resolve")
        self._at(self._next_morning(), lambda: self._visit(order, visit), order, "return visit")

    # --- the writes -------------------------------------------------------------------------

    def _report(self, order: Order, settle: bool = False) -> None:
        if settle:
            self._settle()  # a night emergency looks up who is on duty in the projections
        dispatcher = self.rng.choice(self.dispatchers)
        fields = {k: v for k, v in order.fields.items() if not k.startswith("_")}
        written = self._write(
            "report", order, lambda: self.services.incidents.report(dispatcher, fields)
        )
        if written is None:
            return
        order.id = written.incident.id
        self.orders[order.id] = order
        self.summary.reported += 1
        self.summary.by_kind[written.incident.kind.value] += 1
        self.summary.epidemic += written.incident.epidemic
        self._count("reported")
        if written.incident.epidemic:
            self._count("epidemic")
        self._count_breaches(written, 0)  # nobody on duty: escalated to the street at once

    def _execute(self, what: str, order: Order, actor: Actor, command: Any) -> Any:
        return self._write(
            what,
            order,
            lambda: self.services.incidents.execute(actor, order.id, command),
        )

    def _return(self, order: Order) -> None:
        reason = RETURN_REASONS[order.handler]
        actor = self._handler(order.returned_by or order.handler)
        if self._execute("return", order, actor, ReturnIncident(reason)):
            self.summary.returned += 1

    def _redispatch(self, order: Order) -> None:
        dispatcher = self.rng.choice(self.dispatchers)
        command = DispatchIncident(order.handler, note="按职责转派")
        self._execute("dispatch", order, dispatcher, command)

    def _sign(self, order: Order) -> None:
        if order.broken or order.incident is None:
            return
        unit = order.incident.unit
        due = order.incident.deadlines.sign_by
        if self._execute("sign for", order, self._handler(unit), SignFor()):
            self.summary.signed += 1
            self.summary.signed_late += self._timely("signed", due)

    def _hand_down(self, order: Order) -> None:
        if order.broken or order.incident is None:
            return
        actor = self._handler(order.incident.unit)
        command = HandDown(order.community, note="请社区落实")
        self._execute("hand down", order, actor, command)

    def _claim(self, order: Order) -> None:
        if order.broken or order.incident is None or order.community is None:
            return
        community = order.community
        if order.night:
            order.holder = self.on_duty[community]
        else:
            trained_only = order.incident.kind is Kind.QUARANTINE_VISIT
            able = [s for s, trained in self.staff[community] if trained or not trained_only]
            order.holder = self.rng.choice(able)
        actor = Actor(order.holder, Role.FIELD, community)
        if self._write("claim", order, lambda: self.services.incidents.claim(actor, order.id)):
            self.summary.claimed += 1

    def _resolve(self, order: Order, by_handler: bool = False) -> None:
        if order.broken or order.incident is None:
            return
        unit = order.incident.unit
        due = order.incident.deadlines.resolve_by
        if order.holder and not by_handler and order.community:
            actor = Actor(order.holder, Role.FIELD, order.community)
            command = ResolveIncident(order.summary, self._officer(unit), by=order.holder)
        else:
            at_community = self.services.jurisdiction.get(unit).level is Level.COMMUNITY
            actor = self._handler(self._street_of(unit) if at_community else unit)
            summary = order.summary
            if by_handler and order.night:
                summary = "社区无人值班，街道值班干部送去体温计，居民体温正常"
            command = ResolveIncident(summary, self._officer(actor.unit))
        if self._execute("resolve", order, actor, command):
            if order.incident.kind is Kind.SUPPLY_DELIVERY:  # its items left the stock
                for line in order.incident.items:
                    self.summary.issued[line.item] += line.quantity
                    self._count_supplies(f"issued|{line.item}", line.quantity)
            self.summary.resolved += 1
            self.summary.resolved_late += self._timely("resolved", due)
            order.holder = ""

    def _visit(self, order: Order, result: Satisfaction) -> None:
        if order.broken or order.incident is None:
            return
        dispatcher = self.rng.choice(self.dispatchers)
        notes = {
            Satisfaction.SATISFIED: "居民表示满意",
            Satisfaction.BASICALLY_SATISFIED: "居民表示基本满意，希望再快一些",
            Satisfaction.UNSATISFIED: "居民表示问题未解决，要求重新处理",
        }
        command = RecordReturnVisit(result, notes[result])
        if self._execute("return visit", order, dispatcher, command):
            self.summary.visits[result.value] += 1
            self._count(f"visit_{result.value}")
            if result is Satisfaction.UNSATISFIED:
                self.summary.reopened += 1
                self._count("reopened")
            else:
                self.summary.closed += 1
