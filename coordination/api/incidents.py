"""The incident resource: report, read, and one POST per command of its life."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g, request
from flask.views import MethodView
from flask_smorest import abort

from coordination.api import present
from coordination.api.auth import authenticate, current_actor, current_token
from coordination.api.parsing import Blueprint
from coordination.api.reading import reading, services, within_scope
from coordination.domain.access import Action, Actor, may
from coordination.domain.commands import (
    CloseIncident,
    Command,
    DispatchIncident,
    HandDown,
    LinkCall,
    RecordReturnVisit,
    ReleaseIncident,
    ResolveIncident,
    ReturnIncident,
    SignFor,
)
from coordination.handlers.base import NotFound
from coordination.handlers.incidents import IncidentHandler, Written
from coordination.projections.views import View
from coordination.store.eventstore import Idempotency
from schemas.incidents import (
    DispatchSchema,
    EventSchema,
    ExpectedVersionSchema,
    HandDownSchema,
    IncidentSchema,
    LinkCallSchema,
    NoteSchema,
    ReportIncidentSchema,
    ResolveSchema,
    ReturnSchema,
    ReturnVisitSchema,
    WrittenSchema,
)
from schemas.queries import IncidentQueryArgsSchema, PageSchema, ReadArgsSchema, ReleaseSchema

blp = Blueprint("incidents", __name__, url_prefix="/incidents", description="Incidents")
blp.before_request(authenticate)

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def service() -> IncidentHandler:
    return services().incidents


def idempotency() -> Idempotency:
    """The request's idempotency key: the client's, or one drawn here and returned in the
    ``Idempotency-Key`` header of the answer, so that a write whose outcome the client could
    not learn (a 503, a lost connection) can always be retried without writing twice."""
    asked = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
    key = asked.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        problem = "1 to 128 letters, digits or . _ : -"
        abort(
            422,
            message=f"Idempotency-Key: {problem}.",
            errors={"headers": {"Idempotency-Key": [problem]}},
        )
    digest = hashlib.sha256()
    for part in (asked.method.encode(), asked.path.encode(), asked.get_data()):
        digest.update(len(part).to_bytes(8, "big") + part)
    if key is None:
        found = Idempotency.drawn(current_token().id, digest.hexdigest())
    else:
        found = Idempotency(current_token().id, key, digest.hexdigest())
    g.idempotency_key = found.key
    return found


def expected_version(data: dict[str, Any]) -> int | None:
    """The version the client expects, from the body or an If-Match header."""
    body = data.pop("expected_version", None)
    header = request.headers.get("If-Match")
    if header is None:
        return body
    match = re.fullmatch(r'\s*(?:W/)?"?(\d{1,10})"?\s*', header)
    if match is not None and body is not None and int(match.group(1)) != body:
        problem = "If-Match and expected_version disagree."
        abort(422, message=problem, errors={"headers": {"If-Match": [problem]}})
    if match is None:
        abort(
            422,
            message="If-Match: not a version.",
            errors={"headers": {"If-Match": ["Not a version number."]}},
        )
    return int(match.group(1))


def written(result: Written, status: int) -> tuple[Response, int, dict[str, str]]:
    """A write's answer (``WrittenSchema``), encoded as it is: the presented incident is
    already what the schema would dump (strings, numbers, lists and nulls), so the answer skips
    a second walk through the schema's fields. The end-to-end suite checks every write's
    answer against the schema (``tests/e2e/conftest.py``: ``Http``)."""
    state = result.incident
    body = {
        "id": state.id,
        "version": state.version,
        "position": result.position,
        "incident": present.incident(state, result.history, current_actor()),
    }
    headers = {"ETag": f'"{state.version}"', "Location": f"/incidents/{state.id}"}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return current_app.json.response(body), status, headers


@blp.route("")
class Incidents(MethodView):
    @blp.arguments(ReportIncidentSchema())
    @blp.response(201, WrittenSchema)
    def post(self, fields: dict[str, Any]) -> Any:
        """Report an incident; it is dispatched at once to the unit that owns its place."""
        return written(service().report(current_actor(), fields, idempotency()), 201)

    @blp.arguments(IncidentQueryArgsSchema(), location="query")
    @blp.response(200, PageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Incidents by report time, the latest reported first (ties: by id, descending),
        within the caller's unit (filter by unit, state, kind). Page on with ``next_cursor``:
        orders reported meanwhile come before the cursor and shift no later page."""
        actor = current_actor()
        scope = args.get("unit") or actor.unit
        within_scope(scope)
        jurisdiction = services().jurisdiction

        def keep(view: View) -> bool:
            incident = view.incident
            return (
                jurisdiction.within(incident.unit, scope)
                and args.get("state") in (None, incident.status)
                and args.get("kind") in (None, incident.kind)
            )

        page = reading(
            lambda: services().reads.incidents(
                jurisdiction.district_of(scope),
                keep,
                args.get("cursor"),
                args["limit"],
                args.get("min_position"),
            )
        )
        return present.page(page, actor)


@blp.route("/<incident_id>")
class IncidentById(MethodView):
    @blp.arguments(ReadArgsSchema(), location="query")
    @blp.response(200, IncidentSchema)
    def get(self, args: dict[str, Any], incident_id: str) -> Any:
        """One incident, from the projections (``min_position`` to read your own write)."""
        actor = current_actor()
        partition = service().partition_of(incident_id)
        found = reading(
            lambda: services().reads.incident(partition, incident_id, args.get("min_position"))
        )
        if found is None or not services().jurisdiction.within(found.incident.unit, actor.unit):
            raise NotFound(incident_id)
        return present.view(found, actor), 200, {"ETag": f'"{found.incident.version}"'}


@blp.route("/<incident_id>/events")
class IncidentEvents(MethodView):
    @blp.response(200, EventSchema(many=True))
    def get(self, incident_id: str) -> Any:
        """The incident's events in order."""
        _, history = service().load(current_actor(), incident_id)
        return [present.event(e, current_actor()) for e in history]


def command(
    incident_id: str, data: dict[str, Any], make: Callable[[dict[str, Any]], Command]
) -> Any:
    """Carry out the command ``make`` builds from the body (less its expected version)."""
    expected = expected_version(data)
    result = service().execute(current_actor(), incident_id, make(data), expected, idempotency())
    return written(result, 200)


@blp.route("/<incident_id>/dispatch")
class DispatchView(MethodView):
    @blp.arguments(DispatchSchema())
    @blp.response(200, WrittenSchema)
    def post(self, data: dict[str, Any], incident_id: str) -> Any:
        """Dispatch (again) to a street, department or community."""
        return command(incident_id, data, lambda d: DispatchIncident(**d))


@blp.route("/<incident_id>/sign-for")
class SignForView(MethodView):
    @blp.arguments(NoteSchema())
    @blp.response(200, WrittenSchema)
    def post(self, data: dict[str, Any], incident_id: str) -> Any:
        """Sign for the incident as its handling unit."""
        return command(incident_id, data, lambda d: SignFor(**d))


@blp.route("/<incident_id>/return")
class ReturnView(MethodView):
    @blp.arguments(ReturnSchema())
    @blp.response(200, WrittenSchema)
    def post(self, data: dict[str, Any], incident_id: str) -> Any:
        """Return the incident as not ours, with a reason; the district re-dispatches it."""
        return command(incident_id, data, lambda d: ReturnIncident(**d))


@blp.route("/<incident_id>/hand-down")
class HandDownView(MethodView):
    @blp.arguments(HandDownSchema())
    @blp.response(200, WrittenSchema)
    def post(self, data: dict[str, Any], incident_id: str) -> Any:
        """Hand the incident down to a community (by default the place's own)."""
        return command(incident_id, data, lambda d: HandDown(**d))


@blp.route("/<incident_id>/resolve")
class ResolveView(MethodView):
    @blp.arguments(ResolveSchema())
    @blp.response(200, WrittenSchema)
    def post(self, data: dict[str, Any], incident_id: str) -> Any:
        """Resolve with what was done and the responsible officer's sign-off."""
        return command(
            incident_id, data, lambda d: ResolveIncident(**d, by=resolver(current_actor()))
        )


@blp.route("/<incident_id>/return-visit")
class RecordVisitView(MethodView):
    @blp.arguments(ReturnVisitSchema())
    @blp.response(200, WrittenSchema)
    def post(self, data: dict[str, Any], incident_id: str) -> Any:
        """Record the return visit; unsatisfied reopens the incident."""
        return command(incident_id, data, lambda d: RecordReturnVisit(**d))


@blp.route("/<incident_id>/close")
class CloseView(MethodView):
    @blp.arguments(NoteSchema())
    @blp.response(200, WrittenSchema)
    def post(self, data: dict[str, Any], incident_id: str) -> Any:
        """Close a visited incident."""
        return command(incident_id, data, lambda d: CloseIncident(**d))


@blp.route("/<incident_id>/link-call")
class LinkCallView(MethodView):
    @blp.arguments(LinkCallSchema())
    @blp.response(200, WrittenSchema)
    def post(self, data: dict[str, Any], incident_id: str) -> Any:
        """Link a repeated call (重复件) to this open order: it records one more caller, and
        the day's figures count a call, not a new order. Refused for a closed order, and for a
        place in another district."""
        return command(incident_id, data, lambda d: LinkCall(**d))


@blp.route("/<incident_id>/claim")
class Claim(MethodView):
    @blp.arguments(ExpectedVersionSchema())
    @blp.response(200, WrittenSchema)
    def post(self, data: dict[str, Any], incident_id: str) -> Any:
        """Claim a handed-down order as a registered staff member: it is yours until you
        resolve or release it or the lease ends. A quarantine visit needs training for it."""
        result = service().claim(
            current_actor(), incident_id, expected_version(data), idempotency()
        )
        return written(result, 200)


@blp.route("/<incident_id>/take-over")
class TakeOver(MethodView):
    @blp.arguments(ExpectedVersionSchema())
    @blp.response(200, WrittenSchema)
    def post(self, data: dict[str, Any], incident_id: str) -> Any:
        """Take a claimed quarantine visit over from a colleague (trained staff only)."""
        actor = current_actor()
        result = service().claim(
            actor, incident_id, expected_version(data), idempotency(), take_over=True
        )
        return written(result, 200)


@blp.route("/<incident_id>/release")
class ReleaseView(MethodView):
    @blp.arguments(ReleaseSchema())
    @blp.response(200, WrittenSchema)
    def post(self, data: dict[str, Any], incident_id: str) -> Any:
        """Give a claimed order back to its community's queue."""
        actor = current_actor()
        return command(
            incident_id,
            data,
            lambda d: ReleaseIncident(
                by=actor.subject, reason=d["reason"], override=may(actor, Action.RELEASE_ANY)
            ),
        )


def resolver(actor: Actor) -> str:
    """Field staff resolve only what they hold; a handler resolves on the unit's behalf."""
    return "" if may(actor, Action.RESOLVE_FOR_UNIT) else actor.subject
