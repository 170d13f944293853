"""Who may do what, and where: the role x action matrix and the reach of a subtree."""

from __future__ import annotations

import pytest
from builders import (
    BINJIANG,
    CDC,
    CHENQIAO,
    CHUANWAN,
    DISTRICT,
    HUAQIAO,
    LIDU,
    MARKET,
    WANGHAI,
    XINGANG,
    YONGHE,
)

from coordination.domain import commands
from coordination.domain.access import (
    COMMANDS,
    DRAWN,
    PERMISSIONS,
    Action,
    Actor,
    Forbidden,
    OutOfScope,
    Role,
    authorize,
    authorize_command,
    reaches,
)
from coordination.domain.errors import DomainError
from coordination.domain.units import Jurisdiction

A = Action
Y, N = True, False

# Written out by hand from DOMAIN.md: the district's dispatchers report, dispatch, call back and
# close; handling units sign for, return, hand down and resolve (and may take back a claim);
# field staff claim, release and resolve at the door; handlers keep their unit's staff and
# roster; only the system (admin) records a missed deadline. A handler takes back anyone's claim
# and resolves for the unit; field staff only their own. Only field staff hold assignments. The
# district's dispatchers and viewers read the daily report; viewers see residents masked.
# Handlers keep their unit's supplies books and post its pleas; admins keep the catalogue.
# An Open311 client (a third-party 311 app) only files orders: it reads nothing through our API.
# The city's platform reads its districts (residents masked), their reports and its summary.
MATRIX: dict[Role, dict[Action, bool]] = {
    Role.DISPATCHER: {
        A.READ: Y,
        A.REPORT: Y,
        A.DISPATCH: Y,
        A.SIGN_FOR: N,
        A.RETURN: N,
        A.HAND_DOWN: N,
        A.CLAIM: N,
        A.RELEASE: N,
        A.RESOLVE: N,
        A.RECORD_VISIT: Y,
        A.CLOSE: Y,
        A.MANAGE_STAFF: N,
        A.RECORD_BREACH: N,
        A.RELEASE_ANY: N,
        A.RESOLVE_FOR_UNIT: N,
        A.READ_ASSIGNMENTS: N,
        A.READ_REPORT: Y,
        A.SEE_PERSONAL_DATA: Y,
        A.MANAGE_CATALOGUE: N,
        A.KEEP_BOOKS: N,
        A.POST_NEED: N,
        A.LINK_CALL: Y,
        A.READ_CITY: N,
    },
    Role.HANDLER: {
        A.READ: Y,
        A.REPORT: N,
        A.DISPATCH: N,
        A.SIGN_FOR: Y,
        A.RETURN: Y,
        A.HAND_DOWN: Y,
        A.CLAIM: N,
        A.RELEASE: Y,
        A.RESOLVE: Y,
        A.RECORD_VISIT: N,
        A.CLOSE: N,
        A.MANAGE_STAFF: Y,
        A.RECORD_BREACH: N,
        A.RELEASE_ANY: Y,
        A.RESOLVE_FOR_UNIT: Y,
        A.READ_ASSIGNMENTS: N,
        A.READ_REPORT: N,
        A.SEE_PERSONAL_DATA: Y,
        A.MANAGE_CATALOGUE: N,
        A.KEEP_BOOKS: Y,
        A.POST_NEED: Y,
        A.LINK_CALL: N,
        A.READ_CITY: N,
    },
    Role.FIELD: {
        A.READ: Y,
        A.REPORT: N,
        A.DISPATCH: N,
        A.SIGN_FOR: N,
        A.RETURN: N,
        A.HAND_DOWN: N,
        A.CLAIM: Y,
        A.RELEASE: Y,
        A.RESOLVE: Y,
        A.RECORD_VISIT: N,
        A.CLOSE: N,
        A.MANAGE_STAFF: N,
        A.RECORD_BREACH: N,
        A.RELEASE_ANY: N,
        A.RESOLVE_FOR_UNIT: N,
        A.READ_ASSIGNMENTS: Y,
        A.READ_REPORT: N,
        A.SEE_PERSONAL_DATA: Y,
        A.MANAGE_CATALOGUE: N,
        A.KEEP_BOOKS: N,
        A.POST_NEED: N,
        A.LINK_CALL: N,
        A.READ_CITY: N,
    },
    Role.VIEWER: {
        A.READ: Y,
        A.REPORT: N,
        A.DISPATCH: N,
        A.SIGN_FOR: N,
        A.RETURN: N,
        A.HAND_DOWN: N,
        A.CLAIM: N,
        A.RELEASE: N,
        A.RESOLVE: N,
        A.RECORD_VISIT: N,
        A.CLOSE: N,
        A.MANAGE_STAFF: N,
        A.RECORD_BREACH: N,
        A.RELEASE_ANY: N,
        A.RESOLVE_FOR_UNIT: N,
        A.READ_ASSIGNMENTS: N,
        A.READ_REPORT: Y,
        A.SEE_PERSONAL_DATA: N,
        A.MANAGE_CATALOGUE: N,
        A.KEEP_BOOKS: N,
        A.POST_NEED: N,
        A.LINK_CALL: N,
        A.READ_CITY: N,
    },
    Role.ADMIN: {
        A.READ: Y,
        A.REPORT: Y,
        A.DISPATCH: Y,
        A.SIGN_FOR: Y,
        A.RETURN: Y,
        A.HAND_DOWN: Y,
        A.CLAIM: Y,
        A.RELEASE: Y,
        A.RESOLVE: Y,
        A.RECORD_VISIT: Y,
        A.CLOSE: Y,
        A.MANAGE_STAFF: Y,
        A.RECORD_BREACH: Y,
        A.RELEASE_ANY: Y,
        A.RESOLVE_FOR_UNIT: Y,
        A.READ_ASSIGNMENTS: Y,
        A.READ_REPORT: Y,
        A.SEE_PERSONAL_DATA: Y,
        A.MANAGE_CATALOGUE: Y,
        A.KEEP_BOOKS: Y,
        A.POST_NEED: Y,
        A.LINK_CALL: Y,
        A.READ_CITY: Y,
    },
    Role.OPEN311: {
        A.READ: N,
        A.REPORT: Y,
        A.DISPATCH: N,
        A.SIGN_FOR: N,
        A.RETURN: N,
        A.HAND_DOWN: N,
        A.CLAIM: N,
        A.RELEASE: N,
        A.RESOLVE: N,
        A.RECORD_VISIT: N,
        A.CLOSE: N,
        A.MANAGE_STAFF: N,
        A.RECORD_BREACH: N,
        A.RELEASE_ANY: N,
        A.RESOLVE_FOR_UNIT: N,
        A.READ_ASSIGNMENTS: N,
        A.READ_REPORT: N,
        A.SEE_PERSONAL_DATA: N,
        A.MANAGE_CATALOGUE: N,
        A.KEEP_BOOKS: N,
        A.POST_NEED: N,
        A.LINK_CALL: N,
        A.READ_CITY: N,
    },
    Role.CITY: {
        A.READ: Y,
        A.REPORT: N,
        A.DISPATCH: N,
        A.SIGN_FOR: N,
        A.RETURN: N,
        A.HAND_DOWN: N,
        A.CLAIM: N,
        A.RELEASE: N,
        A.RESOLVE: N,
        A.RECORD_VISIT: N,
        A.CLOSE: N,
        A.MANAGE_STAFF: N,
        A.RECORD_BREACH: N,
        A.RELEASE_ANY: N,
        A.RESOLVE_FOR_UNIT: N,
        A.READ_ASSIGNMENTS: N,
        A.READ_REPORT: Y,
        A.SEE_PERSONAL_DATA: N,
        A.MANAGE_CATALOGUE: N,
        A.KEEP_BOOKS: N,
        A.POST_NEED: N,
        A.LINK_CALL: N,
        A.READ_CITY: Y,
    },
}

CELLS = [(role, action, allowed) for role, row in MATRIX.items() for action, allowed in row.items()]


def test_matrix_covers_every_role_and_action() -> None:
    assert set(MATRIX) == set(Role)
    for row in MATRIX.values():
        assert set(row) == set(Action)


@pytest.mark.parametrize(("role", "action", "allowed"), CELLS, ids=str)
def test_permissions_match_the_matrix(role: Role, action: Action, allowed: bool) -> None:
    assert (action in PERMISSIONS[role]) is allowed


@pytest.mark.parametrize(("role", "action", "allowed"), CELLS, ids=str)
def test_authorize_in_own_unit_follows_the_matrix(
    jurisdiction: Jurisdiction, role: Role, action: Action, allowed: bool
) -> None:
    actor = Actor("someone", role, CHENQIAO)
    if allowed:
        authorize(actor, action, LIDU, jurisdiction)
    else:
        with pytest.raises(Forbidden) as raised:
            authorize(actor, action, LIDU, jurisdiction)
        assert raised.value.field == "role"
        assert role.value in raised.value.message


def test_personal_data_is_hidden_from_viewers_only() -> None:
    seeing = {role for role in Role if A.SEE_PERSONAL_DATA in PERMISSIONS[role]}
    assert {Role.DISPATCHER, Role.HANDLER, Role.FIELD, Role.ADMIN} == seeing


def test_every_command_needs_an_action() -> None:
    named = {
        cls
        for name, cls in vars(commands).items()
        if isinstance(cls, type) and cls.__module__ == commands.__name__
    }
    assert named == set(COMMANDS) | DRAWN
    assert not DRAWN & set(COMMANDS)
    assert COMMANDS[commands.SignFor] is A.SIGN_FOR
    assert COMMANDS[commands.ExpireClaim] is A.RELEASE
    assert COMMANDS[commands.ScheduleShift] is A.MANAGE_STAFF


def test_a_command_is_refused_by_its_action(jurisdiction: Jurisdiction) -> None:
    handler = Actor("h", Role.HANDLER, CHENQIAO)
    authorize_command(handler, commands.SignFor, LIDU, jurisdiction)
    with pytest.raises(Forbidden, match="a handler may not report"):
        authorize_command(handler, commands.ReportIncident, LIDU, jurisdiction)
    with pytest.raises(OutOfScope):
        authorize_command(handler, commands.SignFor, WANGHAI, jurisdiction)


# --- scope --------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", [CHENQIAO, LIDU, HUAQIAO, YONGHE])
def test_street_handler_reaches_its_own_subtree(jurisdiction: Jurisdiction, unit: str) -> None:
    actor = Actor("chenqiao-handler", Role.HANDLER, CHENQIAO)
    assert reaches(actor, unit, jurisdiction)
    authorize(actor, Action.SIGN_FOR, unit, jurisdiction)


@pytest.mark.parametrize("unit", [BINJIANG, WANGHAI, CHUANWAN, XINGANG, MARKET, DISTRICT])
def test_street_handler_does_not_reach_outside_its_subtree(
    jurisdiction: Jurisdiction, unit: str
) -> None:
    actor = Actor("chenqiao-handler", Role.HANDLER, CHENQIAO)
    assert not reaches(actor, unit, jurisdiction)
    with pytest.raises(OutOfScope) as raised:
        authorize(actor, Action.READ, unit, jurisdiction)
    assert raised.value.field == "unit"
    assert unit in raised.value.message
    assert isinstance(raised.value, DomainError)


def test_field_worker_of_lidu_does_not_reach_huaqiao(jurisdiction: Jurisdiction) -> None:
    actor = Actor("lidu-volunteer", Role.FIELD, LIDU)
    assert reaches(actor, LIDU, jurisdiction)
    authorize(actor, Action.RESOLVE, LIDU, jurisdiction)
    assert not reaches(actor, HUAQIAO, jurisdiction)
    with pytest.raises(OutOfScope):
        authorize(actor, Action.RESOLVE, HUAQIAO, jurisdiction)


def test_field_worker_does_not_reach_its_own_street(jurisdiction: Jurisdiction) -> None:
    actor = Actor("lidu-volunteer", Role.FIELD, LIDU)
    with pytest.raises(OutOfScope):
        authorize(actor, Action.READ, CHENQIAO, jurisdiction)


def test_district_dispatcher_reaches_every_unit(jurisdiction: Jurisdiction) -> None:
    actor = Actor("platform", Role.DISPATCHER, DISTRICT)
    for unit in jurisdiction.units:
        assert reaches(actor, unit, jurisdiction)
        authorize(actor, Action.DISPATCH, unit, jurisdiction)


def test_department_handler_does_not_reach_a_sibling_department(
    jurisdiction: Jurisdiction,
) -> None:
    actor = Actor("market-handler", Role.HANDLER, MARKET)
    with pytest.raises(OutOfScope):
        authorize(actor, Action.SIGN_FOR, CDC, jurisdiction)


def test_unknown_unit_is_out_of_scope_even_for_the_district(jurisdiction: Jurisdiction) -> None:
    actor = Actor("admin", Role.ADMIN, DISTRICT)
    with pytest.raises(OutOfScope):
        authorize(actor, Action.READ, "gangwen/nowhere", jurisdiction)


def test_scope_is_checked_before_role(jurisdiction: Jurisdiction) -> None:
    """Outside its subtree a unit does not exist to the actor, whatever the action."""
    actor = Actor("lidu-viewer", Role.VIEWER, LIDU)
    with pytest.raises(OutOfScope):
        authorize(actor, Action.CLOSE, HUAQIAO, jurisdiction)
