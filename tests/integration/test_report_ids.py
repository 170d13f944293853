"""A new incident's random id that is already taken is drawn again, never a 409.

The reports are night emergencies at a community, and nobody is on duty there (no staff are
registered in these tests): each report is three events, the third escalating it to the street
at once. The duty look-up draws no random id, so the drawn ids below are the reports' own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_lib

from coordination.bootstrap import build_services
from coordination.config import Config
from coordination.domain.access import Actor, Role
from coordination.domain.events import IncidentDispatched, IncidentEscalated, IncidentReported
from coordination.domain.values import Contact, Kind
from coordination.handlers import incidents as service_module
from coordination.handlers.incidents import Written

DISPATCHER = Actor("wang", Role.DISPATCHER, "gangwen")
LIDU = "gangwen/chenqiao/lidu"
FIELDS: dict[str, Any] = {
    "kind": Kind.NIGHT_EMERGENCY,
    "title": "体温计碎了",
    "place": "丽都",
    "reporter": Contact("王女士", "13800000000"),
}


def draws(monkeypatch: pytest.MonkeyPatch, values: list[str]) -> Iterator[str]:
    sequence = iter(values)
    monkeypatch.setattr(service_module.secrets, "token_hex", lambda n: next(sequence))
    return sequence


def assert_escalated_at_once(written: Written) -> None:
    """Reported, dispatched to 丽都 naming nobody on duty, and escalated to its street."""
    reported, dispatched, escalated = (e.event for e in written.history)
    assert isinstance(reported, IncidentReported)
    assert reported.incident_id == written.incident.id
    assert isinstance(dispatched, IncidentDispatched)
    assert (dispatched.unit, dispatched.on_duty) == (LIDU, ())
    assert escalated == IncidentEscalated(LIDU, "gangwen/chenqiao", None, "nobody on duty")
    assert written.incident.version == 3


def test_a_taken_id_is_drawn_again(
    redis: redis_lib.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    incidents = build_services(Config(redis_url=redis_url), redis).incidents
    draws(monkeypatch, ["aaaaaaaaaaaa", "aaaaaaaaaaaa", "bbbbbbbbbbbb"])
    first = incidents.report(DISPATCHER, FIELDS)
    second = incidents.report(DISPATCHER, FIELDS)
    assert first.incident.id.endswith("-aaaaaaaaaaaa")
    assert second.incident.id.endswith("-bbbbbbbbbbbb")
    assert_escalated_at_once(first)
    assert_escalated_at_once(second)
    assert incidents.store.read_stream("gangwen", first.incident.id) == first.history


def test_an_id_taken_every_time_is_a_conflict_not_an_overwrite(
    redis: redis_lib.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    incidents = build_services(Config(redis_url=redis_url), redis).incidents
    draws(monkeypatch, ["aaaaaaaaaaaa"] * (1 + service_module.ID_ATTEMPTS))
    first = incidents.report(DISPATCHER, FIELDS)
    assert_escalated_at_once(first)
    with pytest.raises(service_module.VersionMismatch):
        incidents.report(DISPATCHER, FIELDS)
    # The first report's three events, untouched: none of the later attempts wrote over them.
    assert incidents.store.read_stream("gangwen", first.incident.id) == first.history
