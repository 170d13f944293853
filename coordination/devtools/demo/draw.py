"""What the day is made of, drawn from the seed: its residents and its orders (the same seed, the
same day: every draw comes from one ``random.Random`` in a fixed order)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from coordination.bootstrap import Services
from coordination.devtools.demo.data import (
    CARRIED_OVER,
    COMMUNITIES,
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
    STREET_PLACES,
    SUPPLIES,
    SUPPLY_WHO,
    SURNAMES,
    UNCOVERED,
    WORK_RESOLUTIONS,
)
from coordination.domain.access import Actor, Role
from coordination.domain.incident import Incident
from coordination.domain.values import (
    Contact,
    Kind,
    Priority,
    Satisfaction,
    SupplyItem,
)

WATCHER = Actor("system:deadline-watch", Role.ADMIN, DISTRICT)


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


class DayDraw:
    """The drawing half of a demo day: who calls, from where, when, and about what."""

    rng: random.Random
    services: Services
    start: datetime
    names: set[str]

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
