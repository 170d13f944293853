"""The seeded demo day: a realistic day of 港闻区 (Gangwen) replayed into the log.

``seed_day`` drives one local day through the real services, as the dispatchers, handlers and
field staff would, with a clock it moves itself from 00:00 to 23:59 (Asia/Shanghai):

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
* the deadline watch every five minutes, as the scheduler's tick runs it; a few evening orders
  are left unsigned at midnight, breached and escalated at 00:01, and signed for (late) and
  resolved the next morning.

Everything is deterministic for a seed (``random.Random``), except the incidents' random ids.
Every write must succeed: failures are counted and raised at the end. A day that has orders
already is refused, so seeding twice does not double it.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from redis import Redis

from coordination.bootstrap import Services, build_services
from coordination.config import Config
from coordination.devtools.demo_data import (
    CARRIED_OVER,
    COMMUNITIES,
    DEFAULT_SEED,
    DEPARTMENTS,
    DISTRICT,
    EPIDEMIC_SUPPLY,
    EPIDEMIC_VISITS,
    EPIDEMIC_WORK,
    EPIDEMIC_WORK_ORDERS,
    GIVEN,
    LEFT_IN_PROGRESS,
    NIGHT_EMERGENCIES,
    ORDINARY_WORK,
    ORDINARY_WORK_ORDERS,
    PHONE_PREFIXES,
    RESOLUTIONS,
    RETURN_REASONS,
    STAFF_PER_COMMUNITY,
    STREET_PLACES,
    SUPPLIES,
    SUPPLY_WHO,
    SURNAMES,
    TICK,
    UNCOVERED,
    WORK_RESOLUTIONS,
)
from coordination.domain.access import Actor, Role
from coordination.domain.commands import (
    DispatchIncident,
    HandDown,
    RecordReturnVisit,
    ResolveIncident,
    ReturnIncident,
    ScheduleShift,
    SignFor,
)
from coordination.domain.incident import Incident
from coordination.domain.units import Level
from coordination.domain.values import (
    Contact,
    Kind,
    Priority,
    Satisfaction,
    StaffKind,
    SupplyItem,
)
from coordination.handlers.incidents import Written
from coordination.projections.reads import NotYetVisible
from coordination.store import keys


class DayNotEmpty(Exception):
    """The day has orders in the log already (or was seeded): seeding it would double it."""


class SeedFailed(Exception):
    """Some writes of the demo day were refused."""

    def __init__(self, failures: list[str]) -> None:
        super().__init__(f"{len(failures)} writes failed: " + "; ".join(failures[:5]))
        self.failures = failures


@dataclass
class Summary:
    """What the seeded day holds."""

    day: date
    district: str = DISTRICT
    reported: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    epidemic: int = 0
    returned: int = 0
    signed: int = 0
    signed_late: int = 0
    resolved: int = 0
    resolved_late: int = 0
    claimed: int = 0
    breaches: int = 0
    escalations: int = 0  # breaches (each escalated) and night emergencies with nobody on duty
    visits: Counter[str] = field(default_factory=Counter)
    reopened: int = 0
    closed: int = 0
    staff: int = 0
    night_shifts: int = 0
    uncovered: str = UNCOVERED
    writes: int = 0
    failures: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.by_kind.items()))
        visits = ", ".join(f"{k} {n}" for k, n in sorted(self.visits.items()))
        return [
            f"demo day {self.day} seeded into {self.district}: {self.reported} orders, "
            f"{self.epidemic} about the epidemic",
            f"  by kind: {kinds}",
            f"  returned and re-dispatched: {self.returned}; signed for: {self.signed} "
            f"({self.signed_late} late); resolved: {self.resolved} ({self.resolved_late} late)",
            f"  breaches: {self.breaches}; escalations: {self.escalations}",
            f"  return visits: {sum(self.visits.values())} ({visits}); reopened: {self.reopened}; "
            f"closed: {self.closed}",
            f"  staff: {self.staff} registered, {self.night_shifts} night shifts "
            f"({self.uncovered} uncovered); writes: {self.writes}, failures: {len(self.failures)}",
        ]


class DemoClock:
    """The services' clock: only the demo moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Order:
    """One order's script: what is reported, and how it goes."""

    fields: dict[str, Any]
    reported_at: datetime
    handler: str  # the unit that signs for it (a street, or a department after a return)
    community: str | None  # handed down there; None: the handler resolves it itself
    returned_by: str | None = None  # the street that returns it as not its own
    summary: str = ""
    carried_over: bool = False  # left unsigned at midnight, signed the next morning
    in_progress: bool = False  # signed (and handed down) but not resolved today
    night: str = ""  # how a night emergency goes
    id: str = ""
    incident: Incident | None = None
    holder: str = ""
    broken: bool = False


def seed_day(
    config: Config, day: date, seed: int = DEFAULT_SEED, redis: Redis | None = None
) -> Summary:
    """Seed ``day`` of the Gangwen district into the log; raise DayNotEmpty if it has orders
    already and SeedFailed if any write was refused."""
    tz = ZoneInfo(config.timezone)
    clock = DemoClock(datetime.combine(day, time(0), tzinfo=tz))
    services = build_services(config, redis, clock=clock)
    return DemoDay(services, clock, day, seed).run()


class DemoDay:
    def __init__(self, services: Services, clock: DemoClock, day: date, seed: int) -> None:
        if DISTRICT not in services.partitions:
            raise ValueError(f"the demo day is of the {DISTRICT} district, not configured here")
        self.services = services
        self.clock = clock
        self.day = day
        self.rng = random.Random(seed)
        self.tz = services.calendar.tz
        self.start = datetime.combine(day, time(0), tzinfo=self.tz)
        self.midnight = self.start + timedelta(days=1)
        self.summary = Summary(day)
        self.dispatchers = [
            Actor(f"demo-dispatcher-{n}", Role.DISPATCHER, DISTRICT) for n in (1, 2)
        ]
        self.staff: dict[str, list[tuple[str, bool]]] = {}  # community -> [(staff id, trained)]
        self.on_duty: dict[str, str] = {}  # community -> staff id on night duty
        self.names: set[str] = set()
        self.steps: list[tuple[datetime, int, Callable[[], None]]] = []
        self.seq = itertools.count()

    # --- the run ----------------------------------------------------------------------------

    def run(self) -> Summary:
        self._refuse_if_seeded()
        self._register_staff()
        for order in self._orders():
            self._script(order)
        tick = self.start + TICK
        while tick < self.midnight:
            self._at(tick, self._watch)
            tick += TICK
        self._at(self.midnight + timedelta(minutes=1), self._watch)  # the carried-over breach
        while self.steps:
            moment, _, step = heapq.heappop(self.steps)
            self.clock.now = max(self.clock.now, moment)
            step()
        self._settle()
        self.services.redis.set(keys.demo_day(DISTRICT, self.day.isoformat()), "seeded")
        if self.summary.failures:
            raise SeedFailed(self.summary.failures)
        return self.summary

    def _refuse_if_seeded(self) -> None:
        self._settle()
        counts = self.services.reads.day_counts(DISTRICT, self.day.isoformat())
        reported = sum(n for name, n in counts.items() if name.endswith("|reported"))
        if reported:
            raise DayNotEmpty(f"{self.day} has {reported} orders in the log already")
        marker = keys.demo_day(DISTRICT, self.day.isoformat())
        if not self.services.redis.set(marker, "seeding", nx=True):
            raise DayNotEmpty(f"{self.day} has been seeded already (or is being seeded)")

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
        self._settle()
        breached = self.services.watchers.watch_deadlines(DISTRICT)
        self.summary.breaches += breached
        self.summary.escalations += breached  # each breach is escalated one level up

    def _at(self, moment: datetime, step: Callable[[], None]) -> None:
        heapq.heappush(self.steps, (moment, next(self.seq), step))

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

    def _name(self) -> str:
        while True:
            name = self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)
            if name not in self.names:
                self.names.add(name)
                return name

    def _phone(self) -> str:
        return self.rng.choice(PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def _resident(self) -> Contact:
        if self.rng.random() < 0.4:
            name = self.rng.choice(SURNAMES) + self.rng.choice(("女士", "先生"))
        else:
            name = self._name()
        return Contact(name, self._phone())

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

    # --- the orders -------------------------------------------------------------------------

    def _when(self) -> datetime:
        """A report time over the day: few at night, most from 8 to 18, some in the evening."""
        weights = [
            1,
            0.5,
            0.3,
            0.3,
            0.3,
            0.5,
            2,
            5,
            9,
            10,
            10,
            9,
            7,
            8,
            9,
            9,
            8,
            7,
            5,
            4,
            3,
            0,
            0,
            0,
        ]
        hour = self.rng.choices(range(24), weights)[0]
        return self.start + timedelta(hours=hour, minutes=self.rng.randrange(60))

    def _place(self) -> tuple[str, str]:
        communities = list(COMMUNITIES)
        weights = [COMMUNITIES[c][1] for c in communities]
        community = self.rng.choices(communities, weights)[0]
        return community, self.rng.choice(COMMUNITIES[community][0])

    def _address(self, place: str) -> str:
        if place.endswith("工业园"):
            return f"{place}{self.rng.randint(1, 12)}号宿舍{self.rng.randint(101, 420)}室"
        building = self.rng.randint(1, 30)
        entrance, floor, door = (
            self.rng.randint(1, 4),
            self.rng.randint(1, 18),
            self.rng.randint(1, 4),
        )
        return f"{place}{building}栋{entrance}单元{floor}0{door}室"

    def _street_of(self, community: str) -> str:
        return self.services.jurisdiction.get(community).parent or community

    def _orders(self) -> list[Order]:
        """The day's orders, drawn in a fixed order so that a seed gives the same day."""
        orders = [*self._supply_orders(), *self._visit_orders(), *self._work_orders()]
        self._leave_some_open(orders)
        orders += self._night_orders()
        self._choose_visits(orders)
        return orders

    def _supply_orders(self) -> list[Order]:
        orders: list[Order] = []
        for _ in range(EPIDEMIC_SUPPLY):
            community, place = self._place()
            picks = self.rng.sample(SUPPLIES, self.rng.choice((1, 1, 2, 3)))
            items = tuple(SupplyItem(i, self.rng.randint(lo, hi), m) for i, m, lo, hi in picks)
            who = self.rng.choice(SUPPLY_WHO)
            names = "、".join(i.item for i in items)
            fields = {
                "kind": Kind.SUPPLY_DELIVERY,
                "title": f"{names}配送 {place}",
                "place": place,
                "reporter": self._resident(),
                "description": f"{who}需要{names}，请社区代购配送上门",
                "address": self._address(place),
                "priority": self.rng.choice((Priority.NORMAL, Priority.NORMAL, Priority.HIGH)),
                "epidemic": True,
                "items": items,
            }
            orders.append(self._order(fields, community, RESOLUTIONS[Kind.SUPPLY_DELIVERY]))
        return orders

    def _visit_orders(self) -> list[Order]:
        orders: list[Order] = []
        for _ in range(EPIDEMIC_VISITS):
            community, place = self._place()
            fields = {
                "kind": Kind.QUARANTINE_VISIT,
                "title": f"居家隔离上门测温 {place}",
                "place": place,
                "reporter": self._resident(),
                "description": f"湖北返回人员居家隔离第{self.rng.randint(1, 13)}天，需上门测温",
                "address": self._address(place),
                "priority": Priority.HIGH,
                "epidemic": True,
                "person": Contact(self._name(), self._phone()),
            }
            orders.append(self._order(fields, community, RESOLUTIONS[Kind.QUARANTINE_VISIT]))
        return orders

    def _work_orders(self) -> list[Order]:
        orders: list[Order] = []
        for n in range(EPIDEMIC_WORK + ORDINARY_WORK):
            epidemic = n < EPIDEMIC_WORK
            catalogue = EPIDEMIC_WORK_ORDERS if epidemic else ORDINARY_WORK_ORDERS
            category, title, description, by = self.rng.choice(catalogue)
            community, place = self._place()
            if by != "community" and self.rng.random() < 0.4:
                place = STREET_PLACES[self._street_of(community)]  # a call about the street
            fields = {
                "kind": Kind.WORK_ORDER,
                "title": f"{title} {place}",
                "place": place,
                "reporter": self._resident(),
                "description": description,
                "address": self._address(place) if by == "community" else "",
                "epidemic": epidemic,
                "category": category,
            }
            order = self._order(fields, community, WORK_RESOLUTIONS[category])
            if by != "community":
                order.community = None
            if by in DEPARTMENTS:
                order.handler = DEPARTMENTS[by]
                if self.rng.random() < 0.4:  # routed by the place, and returned: not ours
                    order.returned_by = self._street_of(community)
                else:  # the dispatcher sends it to the department straight away
                    order.fields.update(place=order.handler, address="")
            orders.append(order)
        return orders

    def _leave_some_open(self, orders: list[Order]) -> None:
        # A few evening epidemic orders nobody signs for before midnight; a few ordinary ones
        # still being worked on at the end of the day (they have five working days).
        evening = [o for o in orders if o.fields["epidemic"] and o.community and not o.returned_by]
        for order in self.rng.sample(evening, CARRIED_OVER):
            order.carried_over = True
            order.reported_at = self.start + timedelta(hours=20, minutes=self.rng.randrange(90))
        ordinary = [o for o in orders if not o.fields["epidemic"] and o.community]
        for order in self.rng.sample(ordinary, LEFT_IN_PROGRESS):
            order.in_progress = True

    def _night_orders(self) -> list[Order]:
        orders: list[Order] = []
        for place, hour, minute, title, description, how in NIGHT_EMERGENCIES:
            unit = self.services.jurisdiction.resolve(place)
            community = UNCOVERED if how in ("street", "uncovered") else unit.id
            fields = {
                "kind": Kind.NIGHT_EMERGENCY,
                "title": f"{title} {place}",
                "place": place,
                "reporter": self._resident(),
                "description": description,
                "address": self._address(place if how != "street" else "新港工业园"),
                "priority": Priority.URGENT,
                "epidemic": True,
            }
            order = self._order(fields, community, RESOLUTIONS[Kind.NIGHT_EMERGENCY])
            order.reported_at = self.start + timedelta(hours=hour, minutes=minute)
            order.night = how
            orders.append(order)
        return orders

    def _order(self, fields: dict[str, Any], community: str, summary: str) -> Order:
        street = self._street_of(community)
        return Order(fields, self._when(), street, community, summary=summary)

    def _choose_visits(self, orders: list[Order]) -> None:
        """Mostly satisfied, about one in ten basically satisfied, two unsatisfied (reopened);
        orders resolved too late in the evening are called back another day."""
        for order in orders:
            roll = self.rng.random()
            order.fields["_visit"] = (
                Satisfaction.BASICALLY_SATISFIED if roll < 0.1 else Satisfaction.SATISFIED
            )
        daytime = [
            o
            for o in orders
            if o.community
            and not (o.carried_over or o.in_progress or o.night)
            and 8 <= o.reported_at.hour < 12
        ]
        for order in self.rng.sample(daytime, 2):
            order.fields["_visit"] = Satisfaction.UNSATISFIED

    # --- one order's script ---------------------------------------------------------------

    def _minutes(self, least: int, most: int) -> timedelta:
        return timedelta(minutes=self.rng.randint(least, most))

    def _script(self, order: Order) -> None:
        if order.night:
            self._script_night(order)
            return
        visit = order.fields.pop("_visit")
        t = order.reported_at
        self._at(t, lambda: self._report(order))
        if order.returned_by:
            t += self._minutes(10, 40)
            self._at(t, lambda: self._return(order))
            t += self._minutes(5, 20)
            self._at(t, lambda: self._redispatch(order))
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
        self._at(t, lambda: self._sign(order))
        if order.community:
            t += self._minutes(*delays[0])
            self._at(t, lambda: self._hand_down(order))
            if order.in_progress:
                return
            t += self._minutes(*delays[1])
            self._at(t, lambda: self._claim(order))
            t += self._minutes(*delays[2])
            self._at(t, lambda: self._resolve(order))
        else:
            if order.in_progress:
                return
            t += self._minutes(delays[1][0] + delays[0][0], delays[1][1] + delays[2][1])
            self._at(t, lambda: self._resolve(order))
        t += self._minutes(*delays[3])
        if not order.carried_over and t > self.midnight - timedelta(minutes=20):
            return  # resolved late in the evening: called back another day
        self._at(t, lambda: self._visit(order, visit))
        if visit is Satisfaction.UNSATISFIED:
            t += self._minutes(20, 60)
            self._at(t, lambda: self._claim(order))
            t += self._minutes(10, 25)
            self._at(t, lambda: self._resolve(order))
            t += self._minutes(30, 90)
            self._at(t, lambda: self._visit(order, Satisfaction.BASICALLY_SATISFIED))

    def _script_night(self, order: Order) -> None:
        """After 22:00, minutes count: the one on duty claims and goes; nobody on duty, the
        street sees to it; at a street, the handler signs (late here) and hands it down."""
        t = order.reported_at
        self._at(t, lambda: self._report(order, settle=True))
        if order.night == "street":
            t += self._minutes(22, 28)  # the sign deadline is 15 minutes: signed late
            self._at(t, lambda: self._sign(order))
            t += self._minutes(3, 6)
            self._at(t, lambda: self._hand_down(order))
        if order.night in ("street", "uncovered"):
            t += self._minutes(20, 35)  # the street's duty officer takes it over
            self._at(t, lambda: self._resolve(order, by_handler=True))
            return
        late = order.night == "late_claim"
        t += self._minutes(18, 24) if late else self._minutes(4, 9)
        self._at(t, lambda: self._claim(order))
        t += self._minutes(6, 9)  # within the night lease of ten minutes
        self._at(t, lambda: self._resolve(order))

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
        self.summary.reported += 1
        self.summary.by_kind[written.incident.kind.value] += 1
        self.summary.epidemic += written.incident.epidemic
        if written.incident.escalated_to:
            self.summary.escalations += 1  # nobody on duty: the street sees to it at once

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
            self.summary.signed_late += due is not None and self.clock.now > due

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
            self.summary.resolved += 1
            self.summary.resolved_late += due is not None and self.clock.now > due
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
            if result is Satisfaction.UNSATISFIED:
                self.summary.reopened += 1
            else:
                self.summary.closed += 1
