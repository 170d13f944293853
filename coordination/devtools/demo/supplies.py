"""The demo's supplies: the catalogue, the district's own record of donations (2月2日 to 2月6日
when the demo day is 2月8日: the days before the demo day), recorded once per data, and each
demo day's morning, when every street is given what its communities' deliveries will draw and
passes it down, so that the day's delivery orders reserve and issue real stock; one community
posts a plea the day does not meet, so that the dashboard shows a shortage."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from coordination.bootstrap import Services
from coordination.devtools.demo.data import (
    ANONYMOUS_GIFT,
    CATALOGUE,
    DAILY_DONORS,
    DISTRICT,
    SHORT,
    SHORT_NOTE,
    SHORT_PLEA,
    STORY_GIFTS,
    STORY_MOVES,
    STORY_PLEA,
    Items,
)
from coordination.devtools.demo.draw import Order
from coordination.devtools.demo.errors import DemoRefused, LaterHistory
from coordination.devtools.demo.summary import Summary
from coordination.domain.access import Actor, Role
from coordination.domain.commands import (
    DispatchTransfer,
    PostNeed,
    ReceiveDonation,
    ReceiveTransfer,
)
from coordination.domain.supplies import CATALOGUE_STREAM, Ledger, ledger_stream
from coordination.domain.units import Level
from coordination.domain.values import Contact, Donor, DonorKind, Kind, Line, Satisfaction

KEEPER = Actor("demo-supplies-admin", Role.ADMIN, DISTRICT)  # the catalogue, the district's books
MORNING = (6, 0)  # the streets are given the day's supplies from here, passed down by 07:30
STEP = 10  # round a street's daily gift up to this many


def lines(items: Iterable[tuple[str, int]]) -> tuple[Line, ...]:
    return tuple(Line(item, n) for item, n in items)


class DemoSupplies:
    """The supplies half of a demo day (mixed into ``DemoDay``)."""

    services: Services
    summary: Summary
    day: date
    start: datetime
    tz: ZoneInfo
    clock: Any  # the DemoClock (day.py): only the demo moves it
    _write: Callable[..., Any]
    _at: Callable[..., None]
    _handler: Callable[[str], Actor]
    steps: list[tuple[datetime, int, Callable[[], None], Order | None, str]]

    # --- before anything is written ---------------------------------------------------------

    def _plan_supplies(self) -> None:
        """What the catalogue lacks, and whether the district's record is in the log yet; refuse
        a catalogue counting a demo item in another unit, and supplies books with events after
        the demo's first write to them (history would go backwards)."""
        catalogue = self.services.supplies.catalogue.current(DISTRICT)
        for item in CATALOGUE:
            found = catalogue.items.get(item.name)
            if found is not None and found.unit != item.unit:
                raise DemoRefused(
                    f"the catalogue counts {item.name} in {found.unit}, the demo in {item.unit}"
                )
        self.missing_items = [i for i in CATALOGUE if i.name not in catalogue.items]
        self.story_needed = not any(
            any(d.donor.name == gift.donor for d in self._ledger(gift.unit).donations.values())
            for gift in STORY_GIFTS
        )
        first = self._story_start() if self.story_needed else self.start
        # The catalogue only if the demo adds to it (`make run` gives the district its items).
        streams = [CATALOGUE_STREAM] if self.missing_items else []
        streams += [ledger_stream(u) for u in self._units()]
        for stream in streams:
            last = self.services.store.read_stream(DISTRICT, stream)[-1:]
            if last and last[0].time > first:
                raise LaterHistory(
                    f"the supplies books {stream} have events up to "
                    f"{last[0].time.astimezone(self.tz):%Y-%m-%d %H:%M}, after the "
                    f"demo's first entry ({first:%Y-%m-%d %H:%M}): seed it into its own data "
                    "with --isolated"
                )

    def _units(self) -> list[str]:
        found, todo = [], [DISTRICT]
        while todo:
            unit = todo.pop(0)
            found.append(unit)
            todo += [u.id for u in self.services.jurisdiction.children(unit)]
        return found

    def _ledger(self, unit: str) -> Ledger:
        return self.services.supplies.ledger(DISTRICT, unit)

    def _story_start(self) -> datetime:
        return self._moment(max(g.days_before for g in STORY_GIFTS), (9, 0))

    def _moment(self, days_before: int, at: tuple[int, int]) -> datetime:
        return (self.start - timedelta(days=days_before)).replace(hour=at[0], minute=at[1])

    # --- the catalogue and the district's own record -----------------------------------------

    def _seed_story(self) -> None:
        """The missing catalogue items, then (once per data) the district's own record, each
        at its moment of the days before the demo day; the clock is left at the day's start."""
        self.clock.now = self._story_start() if self.story_needed else self.start
        add = self.services.supplies.catalogue.add
        for item in self.missing_items:
            if self._write("catalogue", None, partial(add, KEEPER, DISTRICT, item)):
                self.summary.supplies["catalogue_added"] += 1
        if self.story_needed:
            for moment, step in self._story():
                self._at(moment, step)
            while self.steps and self.steps[0][0] < self.start:  # receipts join as they go
                moment, _, step, _, _ = heapq.heappop(self.steps)
                self.clock.now = max(self.clock.now, moment)
                step()
        self.clock.now = self.start

    def _story(self) -> list[tuple[datetime, Callable[[], None]]]:
        steps: list[tuple[datetime, Callable[[], None]]] = []
        for gift in STORY_GIFTS:
            command = ReceiveDonation(
                gift.unit, Donor(gift.kind, gift.donor), gift.received_by, lines(gift.items),
                gift.cash, gift.note,
            )  # fmt: skip
            moment = self._moment(gift.days_before, gift.at)
            steps.append((moment, partial(self._donate, command)))
        days, at, unit, items, note = STORY_PLEA
        steps.append((self._moment(days, at), partial(self._plea, unit, items, note)))
        for days, at, sender, receiver, sent, note, arrives, got, why in STORY_MOVES:
            arrival = self._moment(days, arrives)
            received = lines(got) if got is not None else None
            move = self._move(sender, receiver, lines(sent), note, arrival, received, why)
            steps.append((self._moment(days, at), move))
        return steps

    def _move(
        self,
        sender: str,
        receiver: str,
        items: tuple[Line, ...],
        note: str,
        arrives: datetime,
        got: tuple[Line, ...] | None,
        why: str,
    ) -> Callable[[], None]:
        """A transfer dispatched now and received at ``arrives`` (all of it, or ``got``)."""

        def dispatch() -> None:
            transfer_id = self._transfer(sender, receiver, items, note)
            if transfer_id:
                short = got is not None and got != items
                receive = partial(self._receive, receiver, transfer_id, got, why, short)
                self._at(arrives, receive)

        return dispatch

    # --- the writes -------------------------------------------------------------------------

    def _keeper(self, unit: str) -> Actor:
        """Who keeps a unit's books: its street's (or department's) handler; the district's
        admin for the district."""
        level = self.services.jurisdiction.get(unit).level
        if level is Level.DISTRICT:
            return KEEPER
        if level is Level.COMMUNITY:
            unit = self.services.jurisdiction.get(unit).parent or unit
        return self._handler(unit)

    def _donate(self, command: ReceiveDonation) -> None:
        execute = self.services.supplies.execute
        actor = self._keeper(command.unit)
        written = self._write("donation", None, lambda: execute(actor, command.unit, command))
        if written:
            fen = command.cash.amount_fen if command.cash else 0
            self.summary.supplies["donations"] += 1
            self.summary.supplies["cash_fen"] += fen
            self._count_supplies("donations", 1)
            self._count_supplies("cash_fen", fen)

    def _count_supplies(self, metric: str, n: int) -> None:
        self.summary.count_supplies(metric, n, self.clock.now, self.tz)

    def _plea(self, unit: str, items: Items, note: str) -> None:
        execute = self.services.supplies.execute
        command = PostNeed(lines(items), note)
        if self._write("plea", None, lambda: execute(self._keeper(unit), unit, command)):
            self.summary.supplies["pleas"] += 1

    def _transfer(self, sender: str, receiver: str, items: tuple[Line, ...], note: str) -> str:
        execute = self.services.supplies.execute
        command = DispatchTransfer(receiver, items, note)
        written = self._write(
            "transfer", None, lambda: execute(self._keeper(sender), sender, command)
        )
        if not written:
            return ""
        self.summary.supplies["transfers"] += 1
        return str(written.event.transfer_id)

    def _receive(
        self, receiver: str, transfer_id: str, got: tuple[Line, ...] | None, why: str, short: bool
    ) -> None:
        command = ReceiveTransfer(transfer_id, got, why)
        receive = self.services.supplies.receive
        written = self._write("receipt", None, lambda: receive(self._keeper(receiver), command))
        if written:
            self.summary.supplies["received"] += 1
            self.summary.supplies["received_short"] += short

    # --- each demo day's morning --------------------------------------------------------------

    def _schedule_supplies(self, orders: list[Order]) -> None:
        """What each community's deliveries will draw today (twice for an order reopened and
        done again), given early in the day; then a plea the day leaves unmet, and an
        anonymous resident's masks against it."""
        self.drawn: dict[str, Counter[str]] = {}
        for order in orders:
            if order.fields["kind"] is not Kind.SUPPLY_DELIVERY or order.community is None:
                continue
            times = 2 if order.fields["_visit"] is Satisfaction.UNSATISFIED else 1
            wanted = self.drawn.setdefault(order.community, Counter())
            for item in order.fields["items"]:
                wanted[item.item] += item.quantity * times
        self._at(self.start.replace(hour=MORNING[0], minute=MORNING[1]), self._morning)
        plea = partial(self._plea, SHORT, SHORT_PLEA, SHORT_NOTE)
        self._at(self.start.replace(hour=7, minute=25), plea)
        self._at(self.start.replace(hour=9, minute=30), self._anonymous)

    def _morning(self) -> None:
        """Each street is given what its communities lack for the day (with a margin), then
        passes it down; one receipt finds a little spoilt on the way."""
        plan: dict[str, dict[str, Counter[str]]] = {}  # street -> community -> item -> n
        for community, wanted in sorted(self.drawn.items()):
            have = self._ledger(community)
            send = Counter(
                {item: n + max(2, n // 5) - have.of(item).available for item, n in wanted.items()}
            )
            street = self.services.jurisdiction.get(community).parent or community
            plan.setdefault(street, {})[community] = +send  # the positive ones
        t = self.clock.now
        for k, (street, sends) in enumerate(sorted(plan.items())):
            total = sum(sends.values(), Counter())
            stock = self._ledger(street)
            lacking = {
                item: -(-(n - stock.of(item).available) // STEP) * STEP
                for item, n in sorted(total.items())
                if n > stock.of(item).available
            }
            if lacking:
                kind, name = DAILY_DONORS[(self.day.toordinal() + k) % len(DAILY_DONORS)]
                contact = Contact(name, "13800138000") if kind is DonorKind.INDIVIDUAL else None
                donor = Donor(kind, name, contact=contact)
                received_by = f"{self.services.jurisdiction.get(street).name}物资保障组"
                command = ReceiveDonation(street, donor, received_by, lines(lacking.items()))
                self._at(t + timedelta(minutes=5 * k), partial(self._donate, command))
        at = self.start.replace(hour=6, minute=40)
        lossy = "gangwen/chenqiao/lidu"
        for street, sends in sorted(plan.items()):
            for community, items in sorted(sends.items()):
                if not items:
                    continue
                sent = lines(sorted(items.items()))
                got = None
                why = ""
                if community == lossy:
                    most = max(sent, key=lambda line: line.quantity)
                    got = tuple(
                        Line(line.item, line.quantity - min(2, line.quantity))
                        if line is most
                        else line
                        for line in sent
                    )
                    why = (
                        f"{most.item}包装破损，{min(2, most.quantity)}{self._unit(most.item)}不能用"
                    )
                arrives = at + timedelta(minutes=20)
                self._at(at, self._move(street, community, sent, "当日配送", arrives, got, why))
                at += timedelta(minutes=2)

    def _unit(self, item: str) -> str:
        return next(i.unit for i in CATALOGUE if i.name == item)

    def _anonymous(self) -> None:
        donor = Donor(DonorKind.INDIVIDUAL, anonymous=True, contact=Contact("居民", "13900139000"))
        command = ReceiveDonation(SHORT, donor, "永和佳苑社区 值班室", lines(ANONYMOUS_GIFT),
                                  note="居民放在社区门口，未留姓名")  # fmt: skip
        self._donate(command)

    # --- at the end ---------------------------------------------------------------------------

    def _check_books(self) -> None:
        """The books as the read side has them once it has caught up: whether they balance,
        the stock on hand over the district, and what open pleas lack beyond what is
        available (the shortages the dashboard shows)."""
        reads, head = self.services.reads, self.services.store.head(DISTRICT)
        reconciliation = reads.reconciliation(DISTRICT, min_position=head)
        shortages, _ = reads.shortages(DISTRICT, self._units(), min_position=head)
        books = {
            "units": len({row.unit for row in reconciliation.rows}),
            "balanced": reconciliation.balanced,
            "differences": [d.explanation for d in reconciliation.differences],
            "on_hand": {t.item: t.on_hand for t in reconciliation.totals if t.on_hand},
            "cash_fen": reconciliation.cash_total.cash_fen,
            "shortages": [
                {"unit": r.unit, "item": r.item, "short": r.short, "measure": r.measure}
                for r in shortages
            ],
        }
        self.summary.books.update(books)
