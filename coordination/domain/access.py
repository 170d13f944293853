"""Who may do what: roles, the actions of each level, and the reach of a unit's subtree."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from coordination.domain import commands as c
from coordination.domain.errors import DomainError
from coordination.domain.units import Jurisdiction


class Role(StrEnum):
    DISPATCHER = "dispatcher"
    HANDLER = "handler"
    FIELD = "field"
    VIEWER = "viewer"
    ADMIN = "admin"
    OPEN311 = "open311"  # a third-party Open311 client: files orders in its district, nothing else
    CITY = "city"  # the city's platform (市12345): reads its districts and their summary


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
    RELEASE_ANY = "release_any"  # give back anyone's claim, not only one's own
    RESOLVE_FOR_UNIT = "resolve_for_unit"  # resolve on the unit's behalf, without holding it
    READ_ASSIGNMENTS = "read_assignments"  # what one holds (/me/assignments): staff only
    READ_REPORT = "read_report"  # the district's daily report (日报)
    SEE_PERSONAL_DATA = "see_personal_data"  # residents' names, phones, addresses unmasked
    MANAGE_CATALOGUE = "manage_catalogue"  # the supplies catalogue: admins
    KEEP_BOOKS = "keep_books"  # donations, transfers and stock-takes of the unit's ledger
    POST_NEED = "post_need"  # a plea for supplies (求助), and closing it
    LINK_CALL = "link_call"  # take a repeated call (重复件) onto the open order it repeats
    READ_CITY = "read_city"  # the city's summary over its districts


PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.DISPATCHER: frozenset(
        {
            Action.READ,
            Action.REPORT,
            Action.DISPATCH,
            Action.RECORD_VISIT,
            Action.CLOSE,
            Action.READ_REPORT,
            Action.SEE_PERSONAL_DATA,
            Action.LINK_CALL,
        }
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
            Action.RELEASE_ANY,
            Action.RESOLVE_FOR_UNIT,
            Action.SEE_PERSONAL_DATA,
            Action.KEEP_BOOKS,
            Action.POST_NEED,
        }
    ),
    Role.FIELD: frozenset(
        {
            Action.READ,
            Action.CLAIM,
            Action.RELEASE,
            Action.RESOLVE,
            Action.READ_ASSIGNMENTS,
            Action.SEE_PERSONAL_DATA,
        }
    ),
    Role.VIEWER: frozenset({Action.READ, Action.READ_REPORT}),
    Role.ADMIN: frozenset(Action),
    Role.OPEN311: frozenset({Action.REPORT}),
    Role.CITY: frozenset({Action.READ, Action.READ_REPORT, Action.READ_CITY}),
}

# The action each command needs: a handler authorizes ``execute(actor, id, command)`` by it.
COMMANDS: dict[type, Action] = {
    c.ReportIncident: Action.REPORT,
    c.DispatchIncident: Action.DISPATCH,
    c.SignFor: Action.SIGN_FOR,
    c.ReturnIncident: Action.RETURN,
    c.HandDown: Action.HAND_DOWN,
    c.ClaimIncident: Action.CLAIM,
    c.TakeOverClaim: Action.CLAIM,
    c.ReleaseIncident: Action.RELEASE,
    c.ExpireClaim: Action.RELEASE,
    c.ResolveIncident: Action.RESOLVE,
    c.RecordReturnVisit: Action.RECORD_VISIT,
    c.CloseIncident: Action.CLOSE,
    c.LinkCall: Action.LINK_CALL,
    c.RecordBreach: Action.RECORD_BREACH,
    c.RegisterStaff: Action.MANAGE_STAFF,
    c.UpdateStaff: Action.MANAGE_STAFF,
    c.DeactivateStaff: Action.MANAGE_STAFF,
    c.ScheduleShift: Action.MANAGE_STAFF,
    c.CancelShift: Action.MANAGE_STAFF,
    c.AddCatalogueItem: Action.MANAGE_CATALOGUE,
    c.ReceiveDonation: Action.KEEP_BOOKS,
    c.CorrectDonation: Action.KEEP_BOOKS,
    c.DispatchTransfer: Action.KEEP_BOOKS,
    c.ReceiveTransfer: Action.KEEP_BOOKS,
    c.TakeStock: Action.KEEP_BOOKS,
    c.PostNeed: Action.POST_NEED,
    c.CloseNeed: Action.POST_NEED,
}

# Commands no actor gives: a delivery order's own command (hand down, claim, resolve…) asks them
# of the ledgers, authorized as that command.
DRAWN: frozenset[type] = frozenset({c.ReserveSupplies, c.ReleaseSupplies, c.IssueSupplies})

# How a refusal names an action, where its value does not read well.
_SAID = {
    Action.READ_REPORT: "read the daily report",
    Action.KEEP_BOOKS: "keep a unit's supplies books",
    Action.POST_NEED: "post a plea for supplies",
    Action.LINK_CALL: "link a call to an order",
    Action.READ_CITY: "read a city's summary",
}


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


def may(actor: Actor, action: Action) -> bool:
    """Whether the actor's role may take ``action`` at all (wherever it is)."""
    return action in PERMISSIONS[actor.role]


def check_role(actor: Actor, action: Action) -> None:
    """Raise unless the actor's role may take ``action``."""
    if not may(actor, action):
        said = _SAID.get(action, action.value.replace("_", " "))
        raise Forbidden(f"a {actor.role.value} may not {said}", "role")


def authorize(actor: Actor, action: Action, unit: str, jurisdiction: Jurisdiction) -> None:
    """Raise unless the actor may take ``action`` on something held by ``unit``."""
    if not reaches(actor, unit, jurisdiction):
        raise OutOfScope(f"{unit} is outside {actor.unit}", field="unit")
    check_role(actor, action)


def authorize_command(actor: Actor, command: type, unit: str, jurisdiction: Jurisdiction) -> None:
    """Raise unless the actor may give a command of this type about something held by ``unit``."""
    authorize(actor, COMMANDS[command], unit, jurisdiction)
