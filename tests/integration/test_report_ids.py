"""A new incident's random id that is already taken is drawn again, never a 409."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_lib

from coordination import service as service_module
from coordination.config import Config
from coordination.domain.access import Actor, Role
from coordination.domain.incident import Contact, Kind
from coordination.services import build_services

DISPATCHER = Actor("wang", Role.DISPATCHER, "gangwen")
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


def test_a_taken_id_is_drawn_again(
    redis: redis_lib.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    incidents = build_services(Config(redis_url=redis_url), redis).incidents
    draws(monkeypatch, ["aaaaaaaaaaaa", "aaaaaaaaaaaa", "bbbbbbbbbbbb"])
    first = incidents.report(DISPATCHER, FIELDS)
    second = incidents.report(DISPATCHER, FIELDS)
    assert first.incident.id.endswith("-aaaaaaaaaaaa")
    assert second.incident.id.endswith("-bbbbbbbbbbbb")
    assert second.incident.version == 2 and first.incident.version == 2


def test_an_id_taken_every_time_is_a_conflict_not_an_overwrite(
    redis: redis_lib.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    incidents = build_services(Config(redis_url=redis_url), redis).incidents
    draws(monkeypatch, ["aaaaaaaaaaaa"] * (1 + service_module.ID_ATTEMPTS))
    first = incidents.report(DISPATCHER, FIELDS)
    with pytest.raises(service_module.VersionMismatch):
        incidents.report(DISPATCHER, FIELDS)
    assert len(incidents.store.read_stream("gangwen", first.incident.id)) == 2
