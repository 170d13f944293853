"""The supplies read models: each unit's ledger as its stream folds, the catalogue, the public
list of donations (捐赠公示), transfers, and each local day's donations and issues, as a batch
applies them (``projections/supply_books.py`` makes stock, reconciliation, pleas and shortages
of them). No I/O here but the writes of a batch, which the projector queues in its transaction.

A unit's ledger is ``coordination.domain.supplies``' fold of its ``supplies:<unit>`` stream,
stored whole: a batch reads it once, applies its events and writes it once. A donation's
public entry is rebuilt from the ledger at each correction; its time is the index's score, so
nothing already written is read back.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from coordination.domain.events import (
    CatalogueItemAdded,
    DonationCorrected,
    DonationReceived,
    SuppliesIssued,
    TransferDispatched,
    TransferSettled,
)
from coordination.domain.supplies import (
    CATALOGUE_STREAM,
    Donation,
    Ledger,
    evolve,
    unit_of_stream,
)
from coordination.domain.values import Line
from coordination.projections.writes import Writes
from coordination.store import keys
from coordination.store.eventstore import StoredEvent
from coordination.store.mapper import decode_json, encode_json, from_data, to_data

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

# --- the ledger, stored -------------------------------------------------------------------


def encode(ledger: Ledger) -> bytes:
    """A ledger as JSON; its maps keep their order (pleas are met oldest first), and the
    transfers received are sorted (a set's order differs between processes)."""
    data = {f.name: getattr(ledger, f.name) for f in fields(ledger)}
    return encode_json(data | {"received": sorted(ledger.received)})


def decode(raw: bytes | str) -> Ledger:
    ledger: Ledger = decode_json(Ledger, raw)
    return ledger


def lines_of(data: Iterable[Any]) -> tuple[Line, ...]:
    return tuple(from_data(Line, x) for x in data)


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def score(moment: datetime) -> int:
    """A sorted set's score for a time: microseconds since the epoch (exact in a double)."""
    return (moment - EPOCH) // MICROSECOND


def moment(value: float) -> datetime:
    """The time a ``score`` stands for."""
    return EPOCH + int(value) * MICROSECOND


# --- applying a batch ---------------------------------------------------------------------


def ledger_key(partition: str, gen: int, stream: str) -> str | None:
    """Where a supply stream's ledger is kept (the catalogue's has none to read back)."""
    if stream == CATALOGUE_STREAM:
        return None
    return keys.supply_ledger(partition, gen, unit_of_stream(stream))


def apply(
    w: Writes,
    partition: str,
    gen: int,
    streams: Mapping[str, list[StoredEvent]],
    found: Mapping[str, Ledger | None],
    tz: ZoneInfo,
) -> dict[str, Ledger]:
    """The writes that apply a batch's supply events: per ledger, as it stands (``found``;
    None: none yet) and its events in order. The ledgers they leave, by stream."""
    days: Counter[str] = Counter()
    left: dict[str, Ledger] = {}
    for stream, events in streams.items():
        if stream == CATALOGUE_STREAM:
            for stored in events:
                if isinstance(stored.event, CatalogueItemAdded):
                    item = stored.event.item
                    w.hset(keys.supply_catalogue(partition, gen), {item.name: _json(to_data(item))})
            continue
        unit = unit_of_stream(stream)
        stored_ledger = found.get(stream)
        ledger = stored_ledger if stored_ledger is not None else Ledger(unit=unit)
        for stored in events:
            before = ledger
            ledger = replace(evolve(ledger, stored.event), version=stored.version)
            _index(w, partition, gen, before, ledger, stored, tz, days)
        w.set(keys.supply_ledger(partition, gen, unit), encode(ledger))
        if stored_ledger is None:
            w.sadd(keys.supply_units(partition, gen), unit)
        left[stream] = ledger
    for name, n in days.items():
        day, _, rest = name.partition("|")
        w.count(keys.supply_day(partition, gen, day), rest, n)
    return left


def _index(
    w: Writes,
    partition: str,
    gen: int,
    before: Ledger,
    after: Ledger,
    stored: StoredEvent,
    tz: ZoneInfo,
    days: Counter[str],
) -> None:
    """The indexes and day counters one event of ``after.unit``'s ledger moves."""
    event, unit = stored.event, after.unit
    day = stored.time.astimezone(tz).date().isoformat()
    at = f"{day}|{unit}|"
    match event:
        case DonationReceived(receipt=receipt):
            entry = public_entry(unit, after.donations[receipt])
            w.hset(keys.donation_entries(partition, gen), {receipt: _json(entry)})
            w.zadd(keys.donations_index(partition, gen), {receipt: score(stored.time)})
            days[at + "donations"] += 1
            _count_gift(days, at, after.donations[receipt], 1)
        case DonationCorrected(receipt=receipt):
            entry = public_entry(unit, after.donations[receipt])
            w.hset(keys.donation_entries(partition, gen), {receipt: _json(entry)})
            days[at + "corrections"] += 1
            _count_gift(days, at, before.donations[receipt], -1)
            _count_gift(days, at, after.donations[receipt], 1)
        case TransferDispatched():
            sent = {
                "from_unit": event.from_unit,
                "to_unit": event.to_unit,
                "items": to_data(event.items),
                "note": event.note,
                "dispatched_at": stored.time.isoformat(),
            }
            w.hset(keys.transfers_sent(partition, gen), {event.transfer_id: _json(sent)})
        case TransferSettled():
            got = {
                "received_at": stored.time.isoformat(),
                "received": to_data(event.received),
                "lost": to_data(event.lost),
                "loss_reason": event.loss_reason,
            }
            w.hset(keys.transfers_received(partition, gen), {event.transfer_id: _json(got)})
        case SuppliesIssued():
            for line in event.items:
                days[f"{at}issued|{line.item}"] += line.quantity


def _count_gift(days: Counter[str], at: str, donation: Donation, sign: int) -> None:
    for line in donation.items:
        days[f"{at}donated|{line.item}"] += sign * line.quantity
    if donation.cash is not None:
        days[at + "cash_fen"] += sign * donation.cash.amount_fen


def public_entry(unit: str, donation: Donation) -> dict[str, Any]:
    """What the public list shows of a donation: never its contact, nor an anonymous donor's
    name."""
    donor = donation.donor
    cash = donation.cash
    return {
        "receipt": donation.receipt,
        "unit": unit,
        "donor": "" if donor.anonymous else donor.name,
        "anonymous": donor.anonymous,
        "donor_kind": donor.kind.value,
        "items": to_data(donation.items),
        "cash_fen": cash.amount_fen if cash else 0,
        "earmarks": to_data(cash.earmarks) if cash else [],
        "corrected": donation.corrections > 0,
    }
