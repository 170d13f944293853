"""The periodic tick heals field tokens a crash left behind: a member deactivated or moved by a
staff event whose token change never happened (the process died between the append and it).
The sweep reads each member from the log, not from a projection that may lag, and is
idempotent: a second run changes nothing. Against the session's real server; nothing mocked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis as redis_lib
from clock import Clock
from helpers_projection import ADMIN, LIDU, P, register_volunteer, services

from coordination.bootstrap import Services
from coordination.domain.access import Role
from coordination.domain.commands import DeactivateStaff, UpdateStaff
from coordination.domain.values import StaffKind
from workers import jobs

HUAQIAO = "gangwen/chenqiao/huaqiao"
CHENQIAO = "gangwen/chenqiao"


@pytest.fixture
def svc(
    redis: redis_lib.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Services]:
    """The test's services; the jobs build their own from the environment, on this server."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    for name in [k for k in os.environ if k.startswith("COORDINATION_")]:
        monkeypatch.delenv(name)
    jobs.services.cache_clear()
    try:
        yield services(redis_url, redis, Clock())
    finally:
        jobs.services.cache_clear()


def crash_after_append(svc: Services, staff_id: str, command: object) -> None:
    """The staff event is appended, and the token change that should follow never runs."""
    svc.staff.execute(ADMIN, staff_id, command)  # type: ignore[arg-type]


def moved_to(unit: str) -> UpdateStaff:
    return UpdateStaff("李刚", unit, StaffKind.VOLUNTEER, False, False)


def test_the_tick_revokes_and_moves_the_field_tokens_a_crash_left_behind(svc: Services) -> None:
    for staff_id in ("stays", "leaves", "moves"):
        register_volunteer(svc, staff_id, "李刚")
    secrets = {
        name: svc.tokens.create(Role.FIELD, LIDU, name)[0]
        for name in ("stays", "leaves", "moves", "nobody")  # nobody: registered never
    }
    handler, _ = svc.tokens.create(Role.HANDLER, CHENQIAO, "leaves")  # a name, no staff id
    crash_after_append(svc, "leaves", DeactivateStaff("返乡"))
    crash_after_append(svc, "moves", moved_to(HUAQIAO))
    assert svc.tokens.lookup(secrets["leaves"]) is not None, "the crash left it working"
    assert svc.tokens.lookup(secrets["moves"]).unit == LIDU  # type: ignore[union-attr]

    jobs.tick()

    assert svc.tokens.lookup(secrets["leaves"]) is None
    assert svc.tokens.lookup(secrets["nobody"]) is None
    moved = svc.tokens.lookup(secrets["moves"])
    assert moved is not None and (moved.unit, moved.staff_id) == (HUAQIAO, "moves")
    stays = svc.tokens.lookup(secrets["stays"])
    assert stays is not None and stays.unit == LIDU
    assert svc.tokens.lookup(handler) is not None, "only field tokens follow a member"
    assert {t.name for t in svc.tokens.list()} == {"stays", "moves", "leaves"}

    before = svc.tokens.list()
    assert jobs.sweep_tokens() == {"revoked": 0, "moved": 0}
    jobs.tick()
    assert svc.tokens.list() == before


def test_the_sweep_reads_the_member_from_the_log_not_the_projection(svc: Services) -> None:
    register_volunteer(svc, "leaves", "李刚")
    register_volunteer(svc, "moves", "王芳")
    leaving, _ = svc.tokens.create(Role.FIELD, LIDU, "leaves")
    moving, _ = svc.tokens.create(Role.FIELD, LIDU, "moves")
    svc.projector.catch_up(P)
    crash_after_append(svc, "leaves", DeactivateStaff("返乡"))
    crash_after_append(svc, "moves", moved_to(HUAQIAO))
    # The projection has not caught up: it still shows both active at 丽都.
    lagging = [svc.reads.member(P, s) for s in ("leaves", "moves")]
    assert [(m.active, m.unit) for m in lagging if m] == [(True, LIDU), (True, LIDU)]

    assert jobs.sweep_tokens() == {"revoked": 1, "moved": 1}
    assert svc.tokens.lookup(leaving) is None
    assert svc.tokens.lookup(moving).unit == HUAQIAO  # type: ignore[union-attr]
    assert svc.projector.lag(P).lag > 0, "no catch-up ran: the log alone decided"


def test_a_token_revoked_meanwhile_is_not_brought_back_by_a_move(svc: Services) -> None:
    register_volunteer(svc, "moves", "王芳")
    secret, token = svc.tokens.create(Role.FIELD, LIDU, "moves")
    crash_after_append(svc, "moves", moved_to(HUAQIAO))
    assert svc.tokens.revoke(token.id)
    assert jobs.sweep_tokens() == {"revoked": 0, "moved": 0}
    assert svc.tokens.lookup(secret) is None and svc.tokens.list() == []
    # And a move of a token that went between the listing and the write writes nothing.
    again, token = svc.tokens.create(Role.FIELD, LIDU, "moves")
    svc.tokens.revoke(token.id)
    assert not svc.tokens.move(token, HUAQIAO)
    assert svc.tokens.lookup(again) is None and svc.tokens.list() == []
