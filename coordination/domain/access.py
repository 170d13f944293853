"""Who may do what: roles, the actions of each level, and the reach of a unit's subtree."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from coordination.domain.errors import DomainError
from coordination.domain.units import Jurisdiction


class Role(StrEnum):
    DISPATCHER = "dispatcher"
    HANDLER = "handler"
    FIELD = "field"
    VIEWER = "viewer"
    ADMIN = "admin"


class Action(StrEnum):
    READ = "read"
    REPORT = "report"
    DISPATCH = "dispatch"
    SIGN_FOR = "sign_for"
    RETURN = "return"
    HAND_DOWN = "hand_down"
    CLAIM = "claim"
    RELEASE = "release"
    RESOLVE = "resolve"
    RECORD_VISIT = "record_visit"
    CLOSE = "close"
    MANAGE_STAFF = "manage_staff"  # register, change and deactivate staff; schedule duty
    RECORD_BREACH = "record_breach"  # the deadline watcher's, as the system


PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.DISPATCHER: frozenset(
        {Action.READ, Action.REPORT, Action.DISPATCH, Action.RECORD_VISIT, Action.CLOSE}
    ),
    Role.HANDLER: frozenset(
        {
            Action.READ,
            Action.SIGN_FOR,
            Action.RETURN,
            Action.HAND_DOWN,
            Action.RELEASE,
            Action.RESOLVE,
            Action.MANAGE_STAFF,
        }
    ),
    Role.FIELD: frozenset({Action.READ, Action.CLAIM, Action.RELEASE, Action.RESOLVE}),
    Role.VIEWER: frozenset({Action.READ}),
    Role.ADMIN: frozenset(Action),
}

# Residents' names, phones and quarantine addresses are shown in full only to these roles.
ROLES_SEEING_PERSONAL_DATA = frozenset({Role.DISPATCHER, Role.HANDLER, Role.FIELD, Role.ADMIN})


@dataclass(frozen=True)
class Actor:
    """Who is acting: a token's subject, its role and the unit whose subtree it reaches."""

    subject: str
    role: Role
    unit: str


class OutOfScope(DomainError):
    """The unit lies outside the actor's subtree: to the actor it does not exist."""


class Forbidden(DomainError):
    """The actor's role may not take this action."""


def reaches(actor: Actor, unit: str, jurisdiction: Jurisdiction) -> bool:
    """Whether ``unit`` lies in the actor's subtree."""
    return jurisdiction.within(unit, actor.unit)


def authorize(actor: Actor, action: Action, unit: str, jurisdiction: Jurisdiction) -> None:
    """Raise unless the actor may take ``action`` on something held by ``unit``."""
    if not reaches(actor, unit, jurisdiction):
        raise OutOfScope(f"{unit} is outside {actor.unit}", field="unit")
    if action not in PERMISSIONS[actor.role]:
        raise Forbidden(f"a {actor.role.value} may not {action.value.replace('_', ' ')}", "role")
