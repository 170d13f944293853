"""Staff members and their duty shifts, kept by their unit's handlers."""

from __future__ import annotations

import logging
from typing import Any

from flask.views import MethodView

from coordination.api.auth import authenticate, current_actor
from coordination.api.incidents import expected_version, idempotency
from coordination.api.parsing import Blueprint
from coordination.api.reading import services
from coordination.domain.commands import CancelShift, DeactivateStaff, ScheduleShift, UpdateStaff
from coordination.domain.staff import StaffMember
from coordination.handlers.staff import StaffHandler, StaffWritten
from coordination.store.mapper import to_data
from schemas.staff import (
    CancelShiftSchema,
    DeactivateStaffSchema,
    ProfileSchema,
    RegisterStaffSchema,
    ScheduleShiftSchema,
    StaffMemberSchema,
    StaffWrittenSchema,
)

log = logging.getLogger(__name__)
blp = Blueprint("staff", __name__, url_prefix="/staff", description="Staff and duty")
blp.before_request(authenticate)


def staffing() -> StaffHandler:
    return services().staff


def follow_tokens(member: StaffMember) -> None:
    """Revoke or move the member's field tokens now, as the log has the member after the write.

    The write is in the log already: if this fails (or the process dies first), the periodic
    tick's sweep does it within seconds, so the answer stays the write's."""
    svc = services()
    try:
        svc.tokens.sweep(svc.staff.member_of, staff_id=member.id)
    except Exception:
        log.exception("field tokens of %s not brought in line; the tick will", member.id)


def written(result: StaffWritten, status: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    member = result.member
    body = {
        "id": member.id,
        "version": member.version,
        "position": result.position,
        "member": to_data(member),
    }
    headers = {"ETag": f'"{member.version}"', "Location": f"/staff/{member.id}"}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return body, status, headers


@blp.route("")
class StaffMembers(MethodView):
    @blp.arguments(RegisterStaffSchema())
    @blp.response(201, StaffWrittenSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Register a staff member of a unit in your subtree."""
        data.pop("expected_version", None)
        result = staffing().register(current_actor(), data, idempotency())
        follow_tokens(result.member)
        return written(result, 201)


@blp.route("/<staff_id>")
class StaffMemberById(MethodView):
    @blp.response(200, StaffMemberSchema)
    def get(self, staff_id: str) -> Any:
        """A staff member as their events fold (profile, whether active, shifts)."""
        member, _ = staffing().load(current_actor(), staff_id)
        return to_data(member), 200, {"ETag": f'"{member.version}"'}


def _command_route(path: str, schema: type, make: Any, summary: str) -> None:
    @blp.arguments(schema())
    @blp.response(200, StaffWrittenSchema)
    def post(self: Any, data: dict[str, Any], staff_id: str, **view_args: str) -> Any:
        expected = expected_version(data)
        command = make(data, **view_args)
        result = staffing().execute(current_actor(), staff_id, command, expected, idempotency())
        follow_tokens(result.member)
        return written(result, 200)

    post.__doc__ = summary
    name = "Staff" + path.title().replace("/", "").replace("<", "").replace(">", "")
    blp.route(f"/<staff_id>/{path}")(type(name.replace("_", ""), (MethodView,), {"post": post}))


_command_route(
    "profile",
    ProfileSchema,
    lambda d: UpdateStaff(**d),
    "Change a member's profile (name, unit, kind, party, training); field tokens follow a move.",
)
_command_route(
    "deactivate",
    DeactivateStaffSchema,
    lambda d: DeactivateStaff(**d),
    "Deactivate a member: off duty, no more claims, and their field tokens revoked.",
)
_command_route(
    "shifts",
    ScheduleShiftSchema,
    lambda d: ScheduleShift(**d),
    "Schedule a duty shift (值班) for the member at their unit.",
)
_command_route(
    "shifts/<shift_id>/cancel",
    CancelShiftSchema,
    lambda d, shift_id: CancelShift(shift_id, **d),
    "Cancel one of the member's duty shifts.",
)
