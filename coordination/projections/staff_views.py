"""The staff read models: each member as their events fold, and each unit's members."""

from __future__ import annotations

from dataclasses import replace

from coordination.domain.staff import StaffMember, evolve_staff
from coordination.projections.writes import Writes
from coordination.store import keys
from coordination.store.eventstore import StoredEvent
from coordination.store.mapper import decode_json, encode_json


def apply(member: StaffMember | None, stored: StoredEvent) -> StaffMember:
    return replace(evolve_staff(member or StaffMember(), stored.event), version=stored.version)


def encode(member: StaffMember) -> bytes:
    return encode_json(member)


def decode(raw: bytes | str) -> StaffMember:
    member: StaffMember = decode_json(StaffMember, raw)
    return member


def write(w: Writes, partition: str, gen: int, old: StaffMember | None, new: StaffMember) -> None:
    """The writes that take one member's read models from ``old`` to ``new``."""
    w.set(keys.staff_view(partition, gen, new.id), encode(new))
    if old is not None and old.unit != new.unit:
        w.srem(keys.unit_staff(partition, gen, old.unit), new.id)
    w.sadd(keys.unit_staff(partition, gen, new.unit), new.id)
