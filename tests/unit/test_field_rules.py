"""Field staff act on what they hold: given events, when a field worker resolves or releases,
then these events or this refusal. A handler or admin still resolves on the unit's behalf.
And a field token follows its staff member as the log has them: kept, moved or revoked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from builders import (
    LIDU,
    NOW,
    OFFICER,
    SUMMARY,
    VOLUNTEER,
    claimed_at_lidu,
    handed_down_to_lidu,
    night_emergency_at_lidu,
    quarantine_visit,
    reported,
    signed_at_street,
)

from coordination.domain.access import Role
from coordination.domain.commands import ReleaseIncident, ResolveIncident
from coordination.domain.context import Context
from coordination.domain.errors import InvalidTransition, NotAllowed
from coordination.domain.events import (
    ClaimExpired,
    ClaimTakenOver,
    Event,
    IncidentClaimed,
    IncidentDispatched,
    IncidentHandedDown,
    IncidentReleased,
    IncidentResolved,
    IncidentSignedFor,
)
from coordination.domain.incident import decide, fold
from coordination.domain.staff import StaffMember
from coordination.domain.units import Level
from coordination.domain.values import StaffKind, Status
from coordination.store import tokens

COLLEAGUE = "volunteer-2"
CHENQIAO = "gangwen/chenqiao"
HUAQIAO = "gangwen/chenqiao/huaqiao"
LEASE = NOW + timedelta(minutes=20)


def visit_handed_down() -> list[Event]:
    """A quarantine visit at 丽都, handed down to the community and not claimed."""
    return [
        reported(quarantine_visit(), LIDU),
        IncidentDispatched(CHENQIAO, Level.STREET),
        IncidentSignedFor(CHENQIAO),
        IncidentHandedDown(LIDU),
    ]


def taken_over() -> list[Event]:
    return [
        *visit_handed_down(),
        IncidentClaimed(VOLUNTEER, LIDU, LEASE),
        ClaimTakenOver(VOLUNTEER, COLLEAGUE, LEASE),
    ]


HISTORIES = {
    "signed at the street": signed_at_street,
    "handed down, unclaimed": handed_down_to_lidu,
    "quarantine visit, unclaimed": visit_handed_down,
    "night emergency at the community": night_emergency_at_lidu,
    "claimed by volunteer-1": claimed_at_lidu,
    "released": lambda: [*claimed_at_lidu(), IncidentReleased(VOLUNTEER)],
    "claim expired": lambda: [*claimed_at_lidu(), ClaimExpired(VOLUNTEER)],
    "taken over by volunteer-2": taken_over,
}


def resolve(by: str = "") -> ResolveIncident:
    return ResolveIncident(SUMMARY, OFFICER, by=by)


# --- resolve ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "history", [handed_down_to_lidu, visit_handed_down, night_emergency_at_lidu, signed_at_street]
)
def test_field_worker_cannot_resolve_an_order_nobody_claimed(
    ctx: Context, history: Callable[[], list[Event]]
) -> None:
    state = fold(history())
    with pytest.raises(NotAllowed) as refused:
        decide(state, resolve(by=VOLUNTEER), ctx)
    assert refused.value.field == "holder"
    assert "claim" in refused.value.message, refused.value.message


def test_field_worker_cannot_resolve_a_colleagues_claim(ctx: Context) -> None:
    with pytest.raises(NotAllowed, match=VOLUNTEER) as refused:
        decide(fold(claimed_at_lidu()), resolve(by=COLLEAGUE), ctx)
    assert refused.value.field == "holder"


def test_a_claim_given_back_or_run_out_is_no_longer_the_workers_to_resolve(ctx: Context) -> None:
    for name in ("released", "claim expired"):
        with pytest.raises(NotAllowed):
            decide(fold(HISTORIES[name]()), resolve(by=VOLUNTEER), ctx)


def test_a_visit_taken_over_is_resolved_by_the_new_holder_only(ctx: Context) -> None:
    state = fold(taken_over())
    with pytest.raises(NotAllowed, match=COLLEAGUE):
        decide(state, resolve(by=VOLUNTEER), ctx)
    assert decide(state, resolve(by=COLLEAGUE), ctx) == [IncidentResolved(LIDU, SUMMARY, OFFICER)]


def test_the_holder_resolves_their_claim(ctx: Context) -> None:
    events = decide(fold(claimed_at_lidu()), resolve(by=VOLUNTEER), ctx)
    assert events == [IncidentResolved(LIDU, SUMMARY, OFFICER)]
    after = fold([*claimed_at_lidu(), *events])
    assert (after.status, after.holder, after.lease_expires_at) == (Status.RESOLVED, "", None)


@pytest.mark.parametrize(
    "name", ["signed at the street", "handed down, unclaimed", "claimed by volunteer-1"]
)
def test_a_handler_resolves_on_the_units_behalf_claimed_or_not(ctx: Context, name: str) -> None:
    state = fold(HISTORIES[name]())
    assert decide(state, resolve(), ctx) == [IncidentResolved(state.unit, SUMMARY, OFFICER)]


@pytest.mark.parametrize("name", list(HISTORIES))
@pytest.mark.parametrize("by", [VOLUNTEER, COLLEAGUE])
def test_a_field_worker_resolves_exactly_what_they_hold(ctx: Context, name: str, by: str) -> None:
    state = fold(HISTORIES[name]())
    holds = state.status is Status.CLAIMED and state.holder == by
    if holds:
        assert decide(state, resolve(by=by), ctx) == [IncidentResolved(LIDU, SUMMARY, OFFICER)]
    else:
        with pytest.raises(NotAllowed):
            decide(state, resolve(by=by), ctx)


# --- release ------------------------------------------------------------------------------


def test_field_worker_releases_only_their_own_claim(ctx: Context) -> None:
    state = fold(taken_over())
    with pytest.raises(NotAllowed, match=COLLEAGUE):
        decide(state, ReleaseIncident(by=VOLUNTEER, reason="不是我的"), ctx)
    released = decide(state, ReleaseIncident(by=COLLEAGUE, reason="家中有事"), ctx)
    assert released == [IncidentReleased(COLLEAGUE, "家中有事")]


def test_nothing_to_release_before_a_claim(ctx: Context) -> None:
    with pytest.raises(InvalidTransition):
        decide(fold(visit_handed_down()), ReleaseIncident(by=VOLUNTEER), ctx)


# --- a field token follows its staff member -----------------------------------------------


def member(unit: str = LIDU, active: bool = True, staff_id: str = VOLUNTEER) -> StaffMember:
    return StaffMember(
        id=staff_id, name="李刚", unit=unit, kind=StaffKind.CADRE, active=active, version=1
    )


def field_token(unit: str = LIDU, staff_id: str = VOLUNTEER) -> tokens.Token:
    return tokens.Token(
        id="tok_1", role=Role.FIELD, unit=unit, name="李刚的手机", staff_id=staff_id
    )


def test_a_field_token_of_an_active_member_at_their_unit_is_kept() -> None:
    assert tokens.follow(field_token(), member()) is None


def test_a_field_token_of_a_deactivated_member_is_revoked() -> None:
    change = tokens.follow(field_token(), member(active=False))
    assert change is not None
    assert (change.action, change.token.id) == (tokens.REVOKE, "tok_1")
    assert "deactivated" in change.reason


def test_a_field_token_of_nobody_registered_is_revoked() -> None:
    for nobody in (None, StaffMember()):
        change = tokens.follow(field_token(), nobody)
        assert change is not None and change.action == tokens.REVOKE


def test_a_field_token_moves_with_its_member() -> None:
    change = tokens.follow(field_token(), member(unit=HUAQIAO))
    assert change is not None
    assert (change.action, change.unit) == (tokens.MOVE, HUAQIAO)


def test_tokens_of_other_roles_follow_nobody() -> None:
    for role in (Role.HANDLER, Role.DISPATCHER, Role.VIEWER, Role.ADMIN):
        token = tokens.Token(id="tok_2", role=role, unit=CHENQIAO, name=VOLUNTEER)
        assert tokens.follow(token, None) is None
        assert tokens.follow(token, member(active=False)) is None


def test_a_field_tokens_actor_is_its_staff_member_and_other_roles_have_none() -> None:
    assert field_token().actor.subject == VOLUNTEER
    handler = tokens.Token(id="tok_3", role=Role.HANDLER, unit=CHENQIAO, name=VOLUNTEER)
    assert handler.staff_id == ""
