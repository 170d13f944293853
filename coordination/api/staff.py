"""Staff members and their duty shifts, kept by their unit's handlers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask.views import MethodView

from coordination.api.auth import authenticate, current_actor
from coordination.api.incidents import expected_version, idempotency
from coordination.api.parsing import Blueprint
from coordination.api.reading import services
from coordination.domain.commands import (
    CancelShift,
    DeactivateStaff,
    ScheduleShift,
    StaffCommand,
    UpdateStaff,
)
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


def command(
    staff_id: str, data: dict[str, Any], make: Callable[[dict[str, Any]], StaffCommand]
) -> Any:
    """Carry out the command ``make`` builds from the body (less its expected version)."""
    expected = expected_version(data)
    result = staffing().execute(current_actor(), staff_id, make(data), expected, idempotency())
    follow_tokens(result.member)
    return written(result, 200)


@blp.route("/<staff_id>/profile")
class StaffProfile(MethodView):
    @blp.arguments(ProfileSchema())
    @blp.response(200, StaffWrittenSchema)
    def post(self, data: dict[str, Any], staff_id: str) -> Any:
        """Change a member's profile (name, unit, kind, party, training); field tokens follow a move."""  # noqa: E501
        return command(staff_id, data, lambda d: UpdateStaff(**d))


@blp.route("/<staff_id>/deactivate")
class StaffDeactivate(MethodView):
    @blp.arguments(DeactivateStaffSchema())
    @blp.response(200, StaffWrittenSchema)
    def post(self, data: dict[str, Any], staff_id: str) -> Any:
        """Deactivate a member: off duty, no more claims, and their field tokens revoked."""
        return command(staff_id, data, lambda d: DeactivateStaff(**d))


@blp.route("/<staff_id>/shifts")
class StaffShifts(MethodView):
    @blp.arguments(ScheduleShiftSchema())
    @blp.response(200, StaffWrittenSchema)
    def post(self, data: dict[str, Any], staff_id: str) -> Any:
        """Schedule a duty shift (值班) for the member at their unit."""
        return command(staff_id, data, lambda d: ScheduleShift(**d))


@blp.route("/<staff_id>/shifts/<shift_id>/cancel")
class StaffShiftsShiftIdCancel(MethodView):
    @blp.arguments(CancelShiftSchema())
    @blp.response(200, StaffWrittenSchema)
    def post(self, data: dict[str, Any], staff_id: str, shift_id: str) -> Any:
        """Cancel one of the member's duty shifts."""
        return command(staff_id, data, lambda d: CancelShift(shift_id, **d))
