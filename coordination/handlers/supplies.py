"""The supplies handlers: the district's catalogue, and each unit's ledger (donations,
corrections, transfers, pleas, stock-takes), plus what a delivery order's events ask of the
ledgers (``draws``), which the incident handler appends with the order's events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from coordination.domain.access import Actor, Forbidden, OutOfScope, authorize_command
from coordination.domain.commands import AddCatalogueItem, ReceiveTransfer, SupplyCommand
from coordination.domain.events import Event
from coordination.domain.incident import Incident
from coordination.domain.supplies import (
    CATALOGUE_STREAM,
    TRANSFER,
    Catalogue,
    Ledger,
    SupplyContext,
    decide_catalogue,
    decide_ledger,
    draws,
    fold_catalogue,
    fold_ledger,
    ledger_stream,
    receive_transfer,
    unit_of_number,
    unit_of_stream,
)
from coordination.domain.values import CatalogueItem
from coordination.handlers import base
from coordination.handlers.base import Handler, NotFound
from coordination.store.eventstore import Idempotency, StoredEvent, Write


@dataclass(frozen=True)
class LedgerWritten(base.Written[Ledger]):
    """A unit's ledger after a write (each ledger command appends one event to it)."""

    @property
    def ledger(self) -> Ledger:
        return self.state

    @property
    def event(self) -> Any:
        """The event the write appended (the first write's, for a retry with its key)."""
        return self.history[-1].event


@dataclass(frozen=True)
class CatalogueWritten(base.Written[Catalogue]):
    @property
    def catalogue(self) -> Catalogue:
        return self.state


class CatalogueHandler(Handler[Catalogue, CatalogueWritten]):
    """The supplies catalogue of a district: one stream, kept by admins."""

    def fold(self, events: Iterable[Any]) -> Catalogue:
        return fold_catalogue(events)

    def written(
        self, state: Catalogue, history: list[StoredEvent], position: int, replayed: bool = False
    ) -> CatalogueWritten:
        return CatalogueWritten(state, history, position, replayed)

    def fold_onto(self, state: Catalogue, events: Iterable[Any]) -> Catalogue:
        return fold_catalogue(events, state)

    def current(self, district: str) -> Catalogue:
        """The district's catalogue: every delivery order and ledger write consults it."""
        return self.folded(district, CATALOGUE_STREAM, Catalogue())

    def add(
        self,
        actor: Actor,
        district: str,
        item: CatalogueItem,
        idempotency: Idempotency | None = None,
    ) -> CatalogueWritten:
        _authorize(actor, AddCatalogueItem, district, self, "district")

        def attempt() -> CatalogueWritten:
            state = self.current(district)
            events = decide_catalogue(state, item)
            now = self.clock()
            return self.commit(
                district, CATALOGUE_STREAM, state.version, [], events, actor, now,
                idempotency, retry=True, onto=state,
            )  # fmt: skip

        return self.keyed(district, idempotency, attempt)


class SupplyHandler(Handler[Ledger, LedgerWritten]):
    """Each unit's ledger: one stream per unit, whose version decides every race for its
    stock."""

    def __init__(self, catalogue: CatalogueHandler, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.catalogue = catalogue

    def fold(self, events: Iterable[Any]) -> Ledger:
        return fold_ledger("", events)

    def fold_onto(self, state: Ledger, events: Iterable[Any]) -> Ledger:
        return fold_ledger(state.unit, events, state)

    def written(
        self, state: Ledger, history: list[StoredEvent], position: int, replayed: bool = False
    ) -> LedgerWritten:
        if history and not state.unit:
            state = replace(state, unit=unit_of_stream(history[0].stream))
        return LedgerWritten(state, history, position, replayed)

    def ledger(self, partition: str, unit: str) -> Ledger:
        """A unit's ledger as the log has it now (folded on from this process's last look)."""
        return self.folded(partition, ledger_stream(unit), Ledger(unit=unit))

    def load(self, actor: Actor, unit: str) -> Ledger:
        """A unit's ledger, as the log has it, if within the actor's subtree."""
        found = self.jurisdiction.get(unit, "unit")
        if not self.jurisdiction.within(found.id, actor.unit):
            raise NotFound(unit)
        return self.ledger(self.jurisdiction.district_of(found.id), found.id)

    def context(self, partition: str) -> SupplyContext:
        return SupplyContext(self.jurisdiction, self.catalogue.current(partition))

    def execute(
        self,
        actor: Actor,
        unit: str,
        command: SupplyCommand,
        idempotency: Idempotency | None = None,
    ) -> LedgerWritten:
        """Carry out a command on ``unit``'s ledger (a transfer is dispatched by its sender)."""
        unit = self.jurisdiction.get(unit, "unit").id
        _authorize(actor, type(command), unit, self, "unit")
        partition = self.jurisdiction.district_of(unit)

        def attempt() -> LedgerWritten:
            state = self.ledger(partition, unit)
            now = self.clock()
            events = decide_ledger(state, command, self.context(partition))
            return self._commit(partition, unit, state, events, actor, now, idempotency)

        return self.keyed(partition, idempotency, attempt)

    def receive(
        self, actor: Actor, command: ReceiveTransfer, idempotency: Idempotency | None = None
    ) -> LedgerWritten:
        """Receive a transfer at the unit it was sent to: the receiver's ledger gains what
        arrived and the sender's settles, in one append."""
        sender = unit_of_number(command.transfer_id, TRANSFER)
        if sender is None or sender not in self.jurisdiction:
            raise NotFound(command.transfer_id)
        partition = self.jurisdiction.district_of(sender)

        def attempt() -> LedgerWritten:
            sent = self.ledger(partition, sender)
            transfer = sent.transfers.get(command.transfer_id)
            if transfer is None or not self.jurisdiction.within(transfer.to_unit, actor.unit):
                raise NotFound(command.transfer_id)
            _authorize(actor, ReceiveTransfer, transfer.to_unit, self, "transfer_id")
            state = self.ledger(partition, transfer.to_unit)
            now = self.clock()
            mine, theirs = receive_transfer(state, sent, command, self.context(partition))
            settled = Write(ledger_stream(sender), sent.version, theirs)
            return self._commit(
                partition, transfer.to_unit, state, mine, actor, now, idempotency, [settled]
            )

        return self.keyed(partition, idempotency, attempt)

    def _commit(
        self,
        partition: str,
        unit: str,
        state: Ledger,
        events: list[Any],
        actor: Actor,
        now: datetime,
        idempotency: Idempotency | None,
        also: list[Write] | None = None,
    ) -> LedgerWritten:
        """Append to a unit's ledger at the version it was decided on; the answer carries the
        ledger folded on from ``state`` (not from the whole stream again)."""
        return self.commit(
            partition, ledger_stream(unit), state.version, [], events, actor, now, idempotency,
            also or (), retry=True, onto=state,
        )  # fmt: skip

    def draws(
        self, partition: str, before: Incident, after: Incident, events: list[Event]
    ) -> list[Write]:
        """The ledger writes a delivery order's new events ask for, decided on the ledgers as
        they are now: reserve, release, issue. A shortfall raises ``InsufficientStock``."""
        if not after.items:
            return []
        held_here = self.ledger(partition, before.unit) if before.unit else None
        held_at = before.unit if held_here and after.id in held_here.reservations else None
        wanted = draws(after.kind, after.items, after.id, events, held_at)
        if not wanted:
            return []
        ctx = self.context(partition)
        writes = []
        for unit, command in wanted:
            if held_here is not None and unit == before.unit:
                state = held_here
            else:
                state = self.ledger(partition, unit)
            found = decide_ledger(state, command, ctx)
            writes.append(Write(ledger_stream(unit), state.version, found))
        return writes


def _authorize(
    actor: Actor, command: type, unit: str, handler: Handler[Any, Any], field: str
) -> None:
    try:
        authorize_command(actor, command, unit, handler.jurisdiction)
    except OutOfScope:
        raise Forbidden(f"{unit} is outside {actor.unit}", field) from None
